"""`reviewer review`: review a diff and print the findings in one of the report formats."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from reviewer.options import add_review_args, diff_source, emit, open_session, terminal_progress, wants_color

EPILOG = """\
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


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "review",
        help="review a diff and report findings",
        description="Review a git diff with a local code model and report bug, security, performance and style findings.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_review_args(p)
    p.add_argument_group("tests").add_argument(
        "--run-tests", action="store_true", default=None,
        help="also write pytest tests for each changed Python function and run them in a sandboxed copy of the "
        "project, on the new code and on the old: a test that passed before and fails now is a bug finding; "
        "tests that fail before and pass now lower the model's bug claims in that function (takes minutes; "
        "see `reviewer tests` and docs/tests.md)")


def run(args: argparse.Namespace, cwd: Path) -> int:
    from reviewer.sinks import get_renderer

    with open_session(args, cwd) as session:
        config = session.config
        parsed = session.parse(diff_source(args), cwd, sys.stdin.buffer)
        if not parsed.hunks and not config.quiet:
            reasons = "; ".join(f"{s.path}: {s.reason}" for s in parsed.skipped[:5]) or "no changed lines"
            print(f"reviewer: nothing to review ({reasons})", file=sys.stderr)
        tree = None
        if config.run_tests:
            from reviewer.testgen.origin import tree_spec

            tree = tree_spec(cwd, range=args.range, base=args.base, diff=args.diff)
        review = session.review(parsed, terminal_progress(config, bool(parsed.hunks)), tree=tree)
    emit(get_renderer(args.format)(review, wants_color(args), config.fail_on), args.output)
    return session.exit_status(review.findings)
