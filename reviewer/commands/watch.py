"""`reviewer watch`: review files as they are saved and print the findings, for editors without an LSP client."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from reviewer.errors import ReviewerError
from reviewer.options import add_editor_args, flags, load_config, set_help


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "watch", help="review files of the repository as they are saved, printing findings",
        usage="reviewer watch [options]",
        description="Watch the repository and review each saved file's changed hunks (against the index, or HEAD "
        "with --against head) in the background, printing findings as they come. Fills the same result cache "
        "as `reviewer lsp` and the commit hook, so a commit afterwards is answered from it. "
        "`--format line` suits quickfix lists and VS Code's problem matcher (docs/editors.md).",
    )
    add_editor_args(p)
    set_help(p, "format", "text (default), line (path:line:col: severity category: title), json, ...")


def run(args: argparse.Namespace, cwd: Path) -> int:
    from reviewer import git
    from reviewer.lsp.watch import Watcher, watch

    config = load_config(args, cwd)
    root = git.toplevel(cwd)
    if root is None:
        raise ReviewerError(f"not a git repository: {cwd}; run `reviewer watch` inside the repository to watch")

    def out(report: str) -> None:
        sys.stdout.write(report if report.endswith("\n") else report + "\n")
        sys.stdout.flush()

    watcher = Watcher(flags(args), Path(args.config) if args.config else None, args.format, out)
    try:
        watch(root, watcher, max(1, int(config.editor_debounce * 1000)))
    finally:
        watcher.close()
    return 0
