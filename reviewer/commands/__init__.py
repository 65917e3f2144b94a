"""The subcommands: a registry of plain modules, each with `add_parser(subparsers)` and `run(args, cwd) -> int`.

pre-commit style: `reviewer.cli` builds its parser from `COMMANDS` and dispatches; nothing
imports `reviewer.cli`. A command module imports only argparse and `options` at the top,
so building the parser for `reviewer --version` or `--help` costs no review machinery;
each `run` imports what that command needs (downward: session, sinks, ...).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from reviewer.commands import baseline, ci, evaluate, history, hook, lsp, models, review, tests, tui, watch


class Command(Protocol):
    """What a module in `COMMANDS` provides."""

    def add_parser(self, subparsers: Any) -> None: ...
    def run(self, args: argparse.Namespace, cwd: Path) -> int: ...


# Order is the order of `reviewer --help`.
COMMANDS: dict[str, ModuleType] = {
    "review": review,
    "baseline": baseline,
    "models": models,
    "eval": evaluate,
    "history": history,
    "tests": tests,
    "tui": tui,
    "ci": ci,
    "hook": hook,
    "lsp": lsp,
    "watch": watch,
}

__all__ = ["COMMANDS", "Command"]
