"""`reviewer lsp`: the language server over stdio, reviewing a file's changed hunks on open and save (docs/editors.md)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from reviewer.errors import ReviewerError
from reviewer.options import add_editor_args, flags, hide_options, load_config


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "lsp", help="language server for editors: review a file's changes on save (stdio)",
        usage="reviewer lsp [options]",
        description="A language server (LSP over stdin/stdout) for editors: on open and on save of a file in a git "
        "repository it reviews that file's changed hunks in the background and publishes diagnostics, with code "
        "actions (apply a suggestion, add an inline ignore, dismiss into the baseline) and hover. Settings come "
        "from .reviewer.toml / [tool.reviewer] as for every command. Configs for Neovim, VS Code, Helix and "
        "Emacs: docs/editors.md.",
    )
    add_editor_args(p)
    hide_options(p, ("format",))  # diagnostics are the report
    p.add_argument("--stdio", action="store_true", help=argparse.SUPPRESS)  # what some clients pass; stdio is the only transport


def run(args: argparse.Namespace, cwd: Path) -> int:
    from reviewer.config import Config
    from reviewer.lsp.server import serve

    settings = flags(args)
    config_file = Path(args.config) if args.config else None
    try:  # the debounce is the server's; a bad config file is reported per file, not fatal here
        debounce = load_config(args, cwd).editor_debounce
    except ReviewerError:
        debounce = Config().editor_debounce
    serve(settings, config_file, debounce)
    return 0
