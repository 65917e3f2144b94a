"""`reviewer tui`: review a diff interactively in the terminal (Textual).

The same diff selection and model flags as `reviewer review`. The window opens at
once; the review runs in a worker thread and findings stream in hunk by hunk. Keys
(n/p, ]/[, a, u, d, r, c, f, e, ?, q) are listed in docs/tui.md and on `?`.

The CLI wires it in with `add_parser(sub)` and `run(args, cwd)`, like `hook` and `ci`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from reviewer.errors import ReviewerError

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

_NOT_HERE = ("format", "output", "fail_on", "quiet")  # report options of `review` that mean nothing here


def add_parser(subparsers: Any) -> None:
    """Register `reviewer tui` on the CLI's subparsers."""
    from reviewer.cli import _add_review_args

    p = subparsers.add_parser(
        "tui", help="review a diff interactively in the terminal",
        description="Review a git diff in a terminal UI: findings stream in as the model works; apply "
        "suggestions, dismiss findings into a baseline, export the session.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_review_args(p)
    for action in p._actions:
        if action.dest in _NOT_HERE:
            action.help = argparse.SUPPRESS


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
    """`reviewer tui`: 0 when the user quits; ReviewerError (exit 2) for bad input or a model that cannot run."""
    from reviewer import backends
    from reviewer.baseline import find_root
    from reviewer.cli import _diff_source, _flags
    from reviewer.config import load_config
    from reviewer.session import ModelUnavailable, parse_source

    if not sys.stderr.isatty():
        raise ReviewerError("reviewer tui draws on the terminal (stderr is not one); "
                            "use `reviewer review` in scripts and pipes")
    config = load_config(cwd, os.environ, _flags(args), Path(args.config) if args.config else None)
    source = _diff_source(args)
    parsed = parse_source(source, cwd, config, sys.stdin.buffer)
    if source.kind in ("stdin", "file") and source.value in (None, "-") and not sys.stdin.isatty():
        _attach_terminal_stdin()
    if not parsed.hunks:
        reasons = "; ".join(f"{s.path}: {s.reason}" for s in parsed.skipped[:5]) or "no changed lines"
        print(f"reviewer: nothing to review ({reasons})", file=sys.stderr)
        return 0
    from reviewer.secrets import guard_without_redaction

    guard_without_redaction(parsed, config, "tui", lambda line: print(line, file=sys.stderr))
    try:
        backend = backends.make_backend(config)
    except ReviewerError as exc:
        raise ModelUnavailable(str(exc)) from exc

    from reviewer.tui.app import ReviewApp

    app = ReviewApp(parsed, config, backend, root=find_root(cwd), cwd=cwd)
    # Our own loop: asyncio.run() would join the worker thread silently after the window
    # closes; this way the user is told why the process has not ended yet.
    import asyncio  # here, not at the top: the CLI imports this package for its parser on every run

    loop = asyncio.new_event_loop()
    try:
        code = app.run(loop=loop)
    finally:
        if not app.idle.is_set():
            print("reviewer: waiting for the model to finish the current hunk…", file=sys.stderr)
            app.idle.wait()
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()
        backend.close()
    return code or 0


__all__ = ["add_parser", "run"]
