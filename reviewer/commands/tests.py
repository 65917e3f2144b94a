"""`reviewer tests`: suggest pytest tests for the changed functions, run them in the sandbox, report."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from reviewer.errors import ModelUnavailable, ReviewerError
from reviewer.options import add_review_args, diff_source, open_session


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "tests",
        help="suggest pytest tests for the changed functions and check them by running them",
        description="Ask the model for pytest tests of every added or changed Python function in the diff, run "
        "them in a sandboxed copy of the project on the new code and on the old code, and report each test's "
        "status. A test that passes on the old code and fails on the new one is reported as a possible "
        "regression (a bug finding, severity medium). See docs/tests.md for the sandbox and its limits.",
    )
    add_review_args(p)
    for action in p._actions:
        if action.dest == "format":
            action.choices = ("text", "json")
            action.help = "text (default) or json (the review contract with tests[] filled)"
    g = p.add_argument_group("tests")
    g.add_argument("--write", nargs="?", const="", metavar="PATH",
                   help="write the passing tests into PATH, default the project's layout (tests/test_<module>.py); "
                   "an existing file is extended")
    g.add_argument("--include-regressions", action="store_true",
                   help="with --write, also write the regression-revealing tests, marked xfail(strict=True)")
    g.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS", help="time limit per test (default 10)")
    g.add_argument("--memory", type=int, default=2048, metavar="MB", help="address-space limit for the tests (default 2048)")
    g.add_argument("--python", metavar="PATH", help="interpreter that runs the tests, inside the sandbox (needs pytest), "
                   "e.g. the project's .venv/bin/python; default: the tests_python setting, else reviewer's own. "
                   "A repository's .venv is never used unless named here or in tests_python")
    g.add_argument("--explain-sandbox", action="store_true",
                   help="print the sandbox the tests would run in on this machine (mechanism, limits) and exit")
    g.add_argument("--max-functions", type=int, default=8, metavar="N", help="functions to write tests for (default 8)")
    g.add_argument("--no-run", dest="execute", action="store_false", help="only generate: do not run anything")
    g.add_argument("--no-code", dest="show_code", action="store_false", help="text format: do not print the tests' code")
    g.add_argument("--keep-sandbox", action="store_true", help="keep the sandbox directory (for debugging) and print it")


def _exit_on_sigterm() -> Any:
    """Turn SIGTERM into SystemExit so the sandbox directory is removed on the way out."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def terminate(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    return signal.signal(signal.SIGTERM, terminate)


def run(args: argparse.Namespace, cwd: Path) -> int:
    """ReviewerError propagates (the CLI prints it, exit 2)."""
    from reviewer.sinks.tests import render_json, render_text, to_review
    from reviewer.testgen.origin import tests_python, tree_spec
    from reviewer.testgen.sandbox import Limits
    from reviewer.testgen.suggestions import Options, TestgenSession
    from reviewer.testgen.write import write_file, write_tests

    if args.explain_sandbox:
        from reviewer.testgen.isolation import explain

        print(explain())
        return 0
    if args.include_regressions and args.write is None:
        raise ReviewerError("--include-regressions only applies with --write")
    previous = None
    with open_session(args, cwd) as session:
        config = session.config
        parsed = session.parse(diff_source(args), cwd, sys.stdin.buffer)
        spec = tree_spec(cwd, range=args.range, base=args.base, diff=args.diff)
        limits = Limits(test_timeout=args.timeout, memory_mb=args.memory)
        python = tests_python(args.python, config, spec.root)
        options = Options(limits=limits, python=python, max_functions=args.max_functions, execute=args.execute,
                          unsafe_no_sandbox=config.unsafe_no_sandbox)
        if args.execute:  # no isolation here: refuse before the model is asked
            from reviewer.testgen.sandbox import ensure_runnable

            ensure_runnable(config.unsafe_no_sandbox)
        say = (lambda m: print(f"reviewer: {m}", file=sys.stderr)) if not config.quiet else None
        session.check_secrets(parsed, "tests")
        backend = session.backend
        cache = session.cache
        previous = _exit_on_sigterm()
        try:
            with TestgenSession(spec, options, keep=args.keep_sandbox) as testgen:
                if args.keep_sandbox and say:
                    say(f"sandbox kept in {testgen.dir}")
                try:
                    result = testgen.run(parsed, backend, config, cache, report=say)
                except (MemoryError, RuntimeError) as exc:
                    raise ModelUnavailable(f"model {backend.info.name} failed: {type(exc).__name__}: {exc}") from exc
                written = write_tests(testgen, result, spec.root or cwd, args.write, args.include_regressions) \
                    if args.write is not None else []
            review = to_review(result, parsed, backend.info)
            report = render_json(review, result) if args.format == "json" else \
                render_text(result, written, args.show_code)
            if args.output:
                write_file(Path(args.output), report)
            else:
                sys.stdout.write(report)
                sys.stdout.flush()
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
    return session.exit_status(result.findings)
