"""`reviewer tests`: suggest pytest tests for the changed functions, run them, report.

Plugs into the CLI like `reviewer hook`: `add_parser(sub)` and `run(args, cwd)`.
Exit status: 0, or 1 when a regression finding is at or above --fail-on (they are
medium: `--fail-on medium` makes a regression fail the run), 2 on errors.
"""

from __future__ import annotations

import argparse
import ast
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reviewer.errors import ReviewerError
from reviewer.fsutil import atomic_write_text

if TYPE_CHECKING:  # the CLI builds every parser at start-up: keep this module's import light
    from reviewer.testgen.sandbox import TreeSpec
    from reviewer.testgen.suggestions import Suggestion, TestgenResult, TestgenSession
    from reviewer.types import ParsedDiff, Review

STATUS_STYLE = {"passed": "green", "failed": "red", "timeout": "magenta", "error": "yellow", "skipped": "dim",
                "not-run": "dim"}


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `reviewer tests` to the CLI's subparsers."""
    from reviewer.cli import _add_review_args

    p = subparsers.add_parser(
        "tests",
        help="suggest pytest tests for the changed functions and check them by running them",
        description="Ask the model for pytest tests of every added or changed Python function in the diff, run "
        "them in a sandboxed copy of the project on the new code and on the old code, and report each test's "
        "status. A test that passes on the old code and fails on the new one is reported as a possible "
        "regression (a bug finding, severity medium). See docs/tests.md for the sandbox and its limits.",
    )
    _add_review_args(p)
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


def _repo_root(cwd: Path) -> Path | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=cwd, capture_output=True, text=True,
                             timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(out.stdout.strip()) if out.returncode == 0 and out.stdout.strip() else None


def _rev(root: Path, rev: str) -> str:
    out = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], cwd=root,
                         capture_output=True, text=True, timeout=30, check=False)
    if out.returncode != 0:
        raise ReviewerError(f"unknown revision '{rev}'")
    return out.stdout.strip()


def tree_spec(args: argparse.Namespace, cwd: Path) -> TreeSpec:
    """Where the reviewed new-side tree comes from, given the diff-source flags."""
    from reviewer.testgen.sandbox import TreeSpec

    root = _repo_root(cwd)
    if root is None:
        return TreeSpec("files")  # a diff without a repository: only the changed files themselves
    if args.range:
        new = re.split(r"\.\.\.?", args.range, maxsplit=1)[-1] or "HEAD"
        return TreeSpec("rev", root, _rev(root, new))
    if args.base:
        return TreeSpec("rev", root, _rev(root, "HEAD"))
    if args.diff:
        return TreeSpec("worktree", root)
    return TreeSpec("index", root)


def tests_python(flag: str | None, config: Any, root: Path | None) -> str | None:
    """The interpreter named for the tests: --python (relative to the working directory), else the
    tests_python setting (relative to the repository); None: reviewer's own. Never probed on the host:
    it only ever runs inside the sandbox."""
    if flag:
        return str(Path(flag).expanduser().absolute())
    named = getattr(config, "tests_python", None)
    if not named:
        return None
    path = Path(named).expanduser()
    return str(path if path.is_absolute() or root is None else root / path)


def _exit_on_sigterm() -> Any:
    """Turn SIGTERM into SystemExit so the sandbox directory is removed on the way out."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def terminate(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    return signal.signal(signal.SIGTERM, terminate)


def run(args: argparse.Namespace, cwd: Path) -> int:
    """`reviewer tests ...`; ReviewerError propagates (the CLI prints it, exit 2)."""
    from reviewer import backends
    from reviewer.cache import open_result_cache
    from reviewer.cli import _diff_source, _flags
    from reviewer.config import load_config
    from reviewer.session import ModelUnavailable, parse_source
    from reviewer.testgen.sandbox import Limits
    from reviewer.testgen.suggestions import Options, TestgenSession

    if getattr(args, "explain_sandbox", False):
        from reviewer.testgen.isolation import explain

        print(explain())
        return 0
    if args.include_regressions and args.write is None:
        raise ReviewerError("--include-regressions only applies with --write")
    config = load_config(cwd, os.environ, _flags(args), Path(args.config) if args.config else None)
    parsed = parse_source(_diff_source(args), cwd, config, sys.stdin.buffer)
    spec = tree_spec(args, cwd)
    limits = Limits(test_timeout=args.timeout, memory_mb=args.memory)
    python = tests_python(args.python, config, spec.root)
    options = Options(limits=limits, python=python, max_functions=args.max_functions, execute=args.execute,
                      unsafe_no_sandbox=config.unsafe_no_sandbox)
    if args.execute:
        from reviewer.testgen.sandbox import ensure_runnable

        ensure_runnable(config.unsafe_no_sandbox)
    say = (lambda m: print(f"reviewer: {m}", file=sys.stderr)) if not config.quiet else None
    from reviewer.secrets import guard_without_redaction

    guard_without_redaction(parsed, config, "tests", lambda line: print(line, file=sys.stderr))
    try:
        backend = backends.make_backend(config)
    except ReviewerError as exc:
        raise ModelUnavailable(str(exc)) from exc
    cache = open_result_cache(config.cache_dir, config.cache)
    previous = _exit_on_sigterm()
    try:
        with TestgenSession(spec, options, keep=args.keep_sandbox) as session:
            if args.keep_sandbox and say:
                say(f"sandbox kept in {session.dir}")
            try:
                result = session.run(parsed, backend, config, cache, report=say)
            except (MemoryError, RuntimeError) as exc:
                raise ModelUnavailable(f"model {backend.info.name} failed: {type(exc).__name__}: {exc}") from exc
            written = write_tests(session, result, spec.root or cwd, args.write, args.include_regressions) \
                if args.write is not None else []
        review = to_review(result, parsed, backend.info)
        report = render_json(review, result) if args.format == "json" else render_text(result, written, args.show_code)
        if args.output:
            write_file(Path(args.output), report)
        else:
            sys.stdout.write(report)
            sys.stdout.flush()
    finally:
        backend.close()
        if cache is not None:
            cache.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    if config.fail_on is None:
        return 0
    return 1 if any(f.severity.rank >= config.fail_on.rank for f in result.findings) else 0


# --------------------------------------------------------------------------- output


def to_review(result: TestgenResult, parsed: ParsedDiff, model: object) -> Review:
    """The review contract: regressions as findings, suggestions as tests[]."""
    from reviewer.types import Review, SkippedFile, Stats

    skipped = (*parsed.skipped, *(SkippedFile(t, r) for t, r in result.stats.skipped))
    stats = Stats(hunks=len(parsed.hunks), cached=result.stats.cached, prompt_tokens=result.stats.prompt_tokens,
                  completion_tokens=result.stats.completion_tokens, seconds=result.stats.seconds, files=parsed.files,
                  skipped=skipped)
    return Review(model, result.findings, tuple(s.to_contract() for s in result.suggestions), stats)  # type: ignore[arg-type]


def render_json(review: Review, result: TestgenResult) -> str:
    data = review.to_dict()
    data["tests"] = [s.to_dict() for s in result.suggestions]
    stats = data["stats"]
    assert isinstance(stats, dict)
    stats.update({"functions": result.stats.functions, "dropped_tests": sum(d.tests for d in result.dropped),
                  "repairs": result.stats.repairs, "sandbox_seconds": round(result.stats.sandbox_seconds, 3),
                  "isolation": result.stats.isolation})
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def render_text(result: TestgenResult, written: list[tuple[str, int]], show_code: bool = True) -> str:
    from rich.console import Console
    from rich.padding import Padding
    from rich.syntax import Syntax
    from rich.text import Text

    color = sys.stdout.isatty() and "NO_COLOR" not in os.environ
    console = Console(record=True, force_terminal=color, no_color=not color, width=100, file=io.StringIO())
    by_target: dict[str, list[Suggestion]] = defaultdict(list)
    for s in result.suggestions:
        by_target[s.target.target].append(s)
    for target, items in by_target.items():
        console.print(Text(f"{target}  (line {items[0].target.lineno})", style="bold"))
        for s in items:
            line = Text("  ")
            line.append(f"{s.status:<8}", style=STATUS_STYLE.get(s.status, ""))
            line.append(f" {s.name}  {s.runtime:.2f}s")
            if s.regression:
                line.append("  REGRESSION: passed on the old code", style="bold red")
            console.print(line)
            if s.message and s.status != "passed":
                console.print(Text("      ↳ " + s.message.strip().splitlines()[0][:200], style="dim"))
            if show_code:
                code = Syntax(s.unit, "python", theme="ansi_dark", background_color="default", code_width=90)
                console.print(Padding(code, (0, 0, 0, 6), expand=False))
    for d in result.dropped:
        reason = d.reason.strip().splitlines()[-1][:160] if d.reason.strip() else "broken"
        console.print(Text(f"{d.target.target}: generated test code dropped ({reason})", style="yellow"))
    for target, reason in result.stats.skipped:
        console.print(Text(f"{target}: skipped ({reason})", style="dim"))
    counts = defaultdict(int)
    for s in result.suggestions:
        counts[s.status] += 1
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no tests"
    regressions = sum(s.regression for s in result.suggestions)
    console.print(Text(f"\n{summary}; {regressions} regression(s); {len(result.dropped)} dropped · "
                       f"{result.stats.functions} function(s) · sandbox: {result.stats.isolation} · "
                       f"{result.stats.seconds:.1f}s"))
    for path, n in written:
        console.print(Text(f"wrote {n} test(s) to {path}", style="green"))
    return "\n".join(line.rstrip() for line in console.export_text(styles=color).splitlines()) + "\n"


# --------------------------------------------------------------------------- --write


def write_file(path: Path, text: str) -> None:
    """Write `-o` reports and test files atomically (fsutil: never half a file, mode kept)."""
    try:
        atomic_write_text(path, text)
    except OSError as exc:
        raise ReviewerError(f"cannot write {path}: {exc.strerror or exc}") from None


_XFAIL = '@pytest.mark.xfail(reason={reason!r}, strict=True)\n'


def _rename(code: str, old: str, new: str) -> str:
    return re.sub(rf"^(\s*(?:async\s+)?(?:def|class)\s+){re.escape(old)}\b", rf"\g<1>{new}", code, count=1, flags=re.MULTILINE)


def _defined_names(text: str) -> set[str]:
    try:
        return {n.name for n in ast.parse(text).body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    except SyntaxError:
        return set()


def build_file(items: list[Suggestion], existing: str | None) -> tuple[str, dict[str, Suggestion]]:
    """The test file text for `items` (added to `existing` when there is one), and our test names."""
    from reviewer.testgen.generate import merge_modules

    taken = _defined_names(existing or "")
    names: dict[str, Suggestion] = {}
    units: list[str] = []
    preambles = [s.preamble for s in items]
    for s in items:
        name, n = s.name, 2
        while name in taken:
            name, n = f"{s.name}_{n}", n + 1
        taken.add(name)
        unit = _rename(s.unit, s.name, name) if name != s.name else s.unit
        if s.regression:
            unit = _XFAIL.format(reason=f"reviewer: passed before the change to {s.target.qualname}, fails after it") + unit
            preambles.append(("import pytest",))
        units.append(unit)
        names[name] = s
    targets = ", ".join(dict.fromkeys(f"`{s.target.qualname}`" for s in items))
    if existing is None:
        header = f'"""Tests for {targets}, suggested by `reviewer tests` and run before they were written."""'
        return merge_modules(preambles, units, header), names
    new = merge_modules(preambles, units)
    return _append(existing, new), names


def _append(existing: str, new: str) -> str:
    """`new`'s imports after `existing`'s leading imports (if missing), the rest at the end."""
    try:
        new_nodes = ast.parse(new).body
        old_nodes = ast.parse(existing).body
    except SyntaxError:
        return existing.rstrip() + "\n\n\n" + new
    new_lines = new.splitlines()
    imports = [n for n in new_nodes if isinstance(n, (ast.Import, ast.ImportFrom))]
    present = {ast.unparse(n) for n in old_nodes if isinstance(n, (ast.Import, ast.ImportFrom))}
    wanted = [ast.unparse(n) for n in imports if ast.unparse(n) not in present and
              not (isinstance(n, ast.ImportFrom) and n.module == "__future__")]
    body_start = max((n.end_lineno or 0) for n in imports) if imports else 0
    rest = "\n".join(new_lines[body_start:]).strip()
    lines = existing.rstrip().splitlines()
    at = 0
    for n in old_nodes:
        if isinstance(n, (ast.Import, ast.ImportFrom)) or (isinstance(n, ast.Expr) and n is old_nodes[0]):
            at = n.end_lineno or at
        else:
            break
    lines[at:at] = wanted
    return "\n".join(lines) + "\n\n\n" + rest + "\n"


def write_tests(session: TestgenSession, result: TestgenResult, root: Path, dest: str,
                include_regressions: bool) -> list[tuple[str, int]]:
    """Write the passing (and optionally the regression-revealing) tests, after running the final file."""
    chosen = [s for s in result.suggestions if s.status == "passed" or (include_regressions and s.regression)]
    groups: dict[str, list[Suggestion]] = defaultdict(list)
    for s in chosen:
        groups[dest or s.path].append(s)
    written: list[tuple[str, int]] = []
    for rel, items in groups.items():
        target = Path(rel) if Path(rel).is_absolute() else root / rel
        existing = target.read_text(encoding="utf-8") if target.is_file() else None
        text, names = build_file(items, existing)
        in_tree = str(target.relative_to(root)) if target.is_relative_to(root) else rel
        if session.tree is not None:
            verified = False
            for _attempt in range(3):  # run the file as it will be written; drop what does not hold up
                records = session.check_file(in_tree, text)
                good = [s for name, s in names.items()
                        if name in records and records[name].status == ("xfailed" if s.regression else "passed")]
                items = good
                if len(good) == len(names) or not good:
                    verified = bool(good)
                    break
                text, names = build_file(items, existing)
            if not verified:
                items = []
        if not items:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        write_file(target, text)
        written.append((str(target), len(items)))
    return written


__all__ = ["add_parser", "build_file", "render_json", "render_text", "run", "tests_python", "to_review", "tree_spec", "write_tests"]
