"""`reviewer eval`: review labelled cases with the real pipeline and print detection and false-alarm rates."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from reviewer.errors import ReviewerError
from reviewer.options import load_config

EPILOG = """\
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


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "eval",
        help="score the review pipeline on labelled cases",
        description="Review labelled cases (shared/eval format) with the real pipeline and print detection "
        "and false-alarm rates per source.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("cases", nargs="+", metavar="CASES.jsonl")
    p.add_argument("--out", required=True, metavar="FILE", help="results JSONL (appended; existing ids are skipped)")
    p.add_argument("--limit", type=int, metavar="N", help="only the first N cases of each file (after --skip)")
    p.add_argument("--skip", type=int, default=0, metavar="N",
                   help="leave out the first N cases of each file: report on a slice you did not tune on")
    p.add_argument("--fix-tests", metavar="DIR",
                   help="QuixBugs input/output tests that judge suggested fixes (default: quixbugs_tests/ "
                        "beside the cases' folder, when there is one)")
    p.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="review N cases at once in N worker processes, each loading its own model (default 1; "
                   "an in-process model then gets cores/N threads unless --threads is given)")
    p.add_argument("--model", metavar="NAME|PATH")
    p.add_argument("--backend", metavar="NAME", help="llama (in-process, default), openai or fake (tests)")
    p.add_argument("--base-url", metavar="URL")
    p.add_argument("--threads", type=int, metavar="N", help="CPU threads for the model (per worker with --jobs)")
    p.add_argument("--n-gpu-layers", type=int, metavar="N")
    p.add_argument("--ctx", type=int, metavar="N")
    p.add_argument("--no-cache", dest="cache", action="store_false", default=None)
    p.add_argument("--no-analyzers", dest="analyzers", action="store_false", default=None)
    p.add_argument("--min-confidence", metavar="P", help="score at this threshold (default: as `review`); the "
                   "findings it drops go to each line's \"unsure\" for bench/quality_curve.py")
    p.add_argument("--cache-dir", metavar="DIR")
    p.add_argument("--run-tests", action="store_true", default=None,
                   help="also generate and run tests of the changed functions, as `reviewer review --run-tests`")
    p.add_argument("-q", "--quiet", action="store_true", default=None)


def run(args: argparse.Namespace, cwd: Path) -> int:
    from reviewer.evaluation.runner import format_table, load_cases, run_eval, score

    if args.jobs < 1:
        raise ReviewerError(f"--jobs must be 1 or more, not {args.jobs}")
    if args.limit is not None and args.limit < 1:
        raise ReviewerError(f"--limit must be 1 or more, not {args.limit}")
    if args.skip < 0:
        raise ReviewerError(f"--skip must be 0 or more, not {args.skip}")
    out = cwd / args.out
    if not out.parent.is_dir():
        raise ReviewerError(f"cannot write --out {args.out}: directory {out.parent} does not exist")
    if out.is_dir():
        raise ReviewerError(f"--out {args.out} is a directory; name a results file")
    config = load_config(args, cwd)
    cases: list[dict[str, Any]] = []
    for path in args.cases:
        loaded = load_cases([cwd / path])[args.skip:]
        cases.extend(loaded[: args.limit] if args.limit else loaded)
    fix_tests = _fix_tests(args, cwd)

    def report(i: int, n: int, result: dict[str, Any]) -> None:
        if not config.quiet:
            note = f" (error: {result['error']})" if result.get("error") else ""
            print(f"[{i}/{n}] {result['id']}: {len(result['findings'])} finding(s), {result['seconds']:.1f}s{note}",
                  file=sys.stderr)

    results = run_eval(cases, config, out, report, jobs=args.jobs, fix_tests=fix_tests)
    print(format_table(score({c["id"]: c for c in cases}, results)))
    return 0


def _fix_tests(args: argparse.Namespace, cwd: Path) -> Path | None:
    """--fix-tests, else shared/eval's layout: cases/*.jsonl beside quixbugs_tests/."""
    if args.fix_tests:
        path = cwd / args.fix_tests
        if not path.is_dir():
            raise ReviewerError(f"--fix-tests {args.fix_tests}: no such directory")
        return path
    guess = (cwd / args.cases[0]).resolve().parent.parent / "quixbugs_tests"
    return guess if guess.is_dir() else None
