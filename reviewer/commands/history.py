"""`reviewer history`: how noisy would the review have been on this repository's last commits?"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from reviewer.errors import ReviewerError
from reviewer.options import add_review_args, emit, hide_options, open_session

EPILOG = """\
each of the last N commits (first parent, no merges) is reviewed as it landed, the way the
pre-commit hook would have seen it; a commit whose subject says it fixes something ("fix",
"bug", "regression") is also reviewed reversed: the change that puts the bug back. The
table says which would have blocked at --fail-on: landed commits should be quiet, reversed
fixes should alarm. Answers go to the result cache, so a second run is instant.

examples:
  reviewer history                     the last 20 commits of this repository
  reviewer history -n 50 --fail-on medium -o noise.md
  reviewer history --repo ../project --model qwen2.5-coder-0.5b
"""

_NOT_HERE = ("staged", "range", "base", "diff", "format")  # the commits are the diff source; the report is a table


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "history", help="replay the last commits (and their fixes reversed) to see how noisy a review would be",
        description="Review this repository's last commits as they landed, and every fix reversed, and print "
        "how many would have been blocked: the noise a team would meet before it turns the hook on.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("-n", "--commits", type=int, default=20, metavar="N", help="how many commits back (default 20)")
    p.add_argument("--repo", metavar="DIR", help="the repository to replay (default: the current one)")
    add_review_args(p)
    hide_options(p, _NOT_HERE)


def run(args: argparse.Namespace, cwd: Path) -> int:
    from reviewer import git
    from reviewer.evaluation.history import Row, format_table, last_commits, replay

    if args.commits < 1:
        raise ReviewerError(f"-n must be 1 or more, not {args.commits}")
    where = (cwd / args.repo) if args.repo else cwd
    root = git.toplevel(where) or git.git_dir(where)  # a bare repository has no work tree: its git dir
    if root is None:
        raise ReviewerError(f"{where} is not in a git repository; pass --repo DIR")
    commits = last_commits(root, args.commits)
    if not commits:
        raise ReviewerError("no commits with a parent to replay")
    with open_session(args, cwd) as session:
        def say(row: Row) -> None:
            if not session.config.quiet:
                kind = "fix reversed" if row.reversed else "landed"
                what = row.error or f"{row.alarms} alarm(s){', would block' if row.blocking else ''}"
                print(f"reviewer: {row.commit.sha[:9]} {kind}: {what} ({row.seconds:.1f}s)", file=sys.stderr)

        rows = replay(session, root, commits, say)
    emit(format_table(rows), args.output)
    return 0
