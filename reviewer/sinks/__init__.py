"""Output formats: a registry of one module per format, each `render(review, color, fail_on) -> str`.

Rendering to a string (rather than streaming to stdout) lets the CLI write files
atomically: a crash never leaves half a report behind. Modules are imported when their
format is asked for, so a run pays only for the format it prints.
"""

from __future__ import annotations

import importlib
from typing import Protocol

from reviewer.types import Review, Severity


class Renderer(Protocol):
    def __call__(self, review: Review, color: bool = False, fail_on: Severity | None = None) -> str: ...


# --format name -> module under reviewer.sinks. "concise" is the git hook's default (`reviewer hook run`).
SINKS: dict[str, str] = {
    "text": "text",
    "json": "json",
    "sarif": "sarif",
    "rdjson": "rdjson",
    "rdjsonl": "rdjsonl",
    "github": "annotations",
    "line": "line",
    "concise": "concise",
    "codeclimate": "codeclimate",
}

# What `reviewer review --format` offers (concise is the hook's own).
FORMATS = ("text", "json", "sarif", "rdjson", "rdjsonl", "github", "line", "codeclimate")


def get_renderer(name: str) -> Renderer:
    """The render function of format `name`; KeyError for an unknown one."""
    module = importlib.import_module(f"reviewer.sinks.{SINKS[name]}")
    render: Renderer = module.render
    return render


__all__ = ["FORMATS", "SINKS", "Renderer", "get_renderer"]
