"""The command line: builds the parser from the command registry and dispatches; nothing imports it.

`main(argv) -> int` in the pre-commit style: 0 clean, 1 findings at or above --fail-on,
2 usage or input error (one line on stderr, no traceback, no half-written output).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from reviewer import __version__
from reviewer.commands import COMMANDS
from reviewer.errors import ReviewerError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reviewer",
        description="Local-first code review: a code model reviews your git diff on this machine.",
    )
    parser.add_argument("--version", action="version", version=f"reviewer {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS.values():
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(COMMANDS[args.command].run(args, Path.cwd()))
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
