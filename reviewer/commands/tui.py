"""`reviewer tui`: review a diff interactively in the terminal (Textual).

The same diff selection and model flags as `reviewer review`. The window opens at
once; the review runs in a worker thread and findings stream in hunk by hunk. Keys
(n/p, ]/[, a, u, d, r, c, f, e, ?, q) are listed in docs/tui.md and on `?`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from reviewer.errors import ReviewerError
from reviewer.options import add_review_args, diff_source, hide_options, open_session

EPILOG = """\
where the diff comes from (pick one; default --staged), as for `reviewer review`:
  reviewer tui                      staged changes
  reviewer tui --base origin/main   what a pull request shows
  reviewer tui --range HEAD~3..HEAD
  git diff | reviewer tui --diff -  (keys are then read from the terminal)

keys: n/p next/previous finding · ]/[ or tab next/previous file · a accept the suggestion ·
u undo · d dismiss (recorded in .reviewer-baseline.json) · r re-review the hunk · c copy ·
f filter · e export · ? help · q quit
"""

_NOT_HERE = ("format", "output", "fail_on", "block", "quiet")  # report options of `review` that mean nothing here


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "tui", help="review a diff interactively in the terminal",
        description="Review a git diff in a terminal UI: findings stream in as the model works; apply "
        "suggestions, dismiss findings into a baseline, export the session.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_review_args(p)
    hide_options(p, _NOT_HERE)


def _attach_terminal_stdin() -> None:
    """After a diff was read from stdin, read keys from the terminal instead (like fzf does)."""
    try:
        fd = os.open("/dev/tty", os.O_RDONLY)
    except OSError:
        raise ReviewerError("the diff came on stdin and there is no terminal to read keys from; "
                            "use `reviewer review --diff -` in scripts") from None
    os.dup2(fd, 0)
    os.close(fd)


def run(args: argparse.Namespace, cwd: Path) -> int:
    """0 when the user quits; ReviewerError (exit 2) for bad input or a model that cannot run."""
    if not sys.stderr.isatty():
        raise ReviewerError("reviewer tui draws on the terminal (stderr is not one); "
                            "use `reviewer review` in scripts and pipes")
    with open_session(args, cwd) as session:
        source = diff_source(args)
        parsed = session.parse(source, cwd, sys.stdin.buffer)
        if source.kind in ("stdin", "file") and source.value in (None, "-") and not sys.stdin.isatty():
            _attach_terminal_stdin()
        if not parsed.hunks:
            reasons = "; ".join(f"{s.path}: {s.reason}" for s in parsed.skipped[:5]) or "no changed lines"
            print(f"reviewer: nothing to review ({reasons})", file=sys.stderr)
            return 0
        session.check_secrets(parsed, "tui")
        session.backend  # noqa: B018 -- made now: an unknown backend is an error before the window opens
        from reviewer.tui.app import run_app

        return run_app(session, parsed, cwd)
