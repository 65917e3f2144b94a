"""Output formats: one module per format, each `render(review, color) -> str`.

Rendering to a string (rather than streaming to stdout) lets the CLI write files
atomically: a crash never leaves half a report behind.
"""

from __future__ import annotations

from collections.abc import Callable

from reviewer.types import Review

Renderer = Callable[[Review, bool], str]


def get_renderer(name: str) -> Renderer:
    if name == "text":
        from reviewer.sinks.text import render
    elif name == "json":
        from reviewer.sinks.json import render
    elif name == "sarif":
        from reviewer.sinks.sarif import render
    elif name == "rdjson":
        from reviewer.sinks.rdjson import render
    elif name == "rdjsonl":
        from reviewer.sinks.rdjsonl import render
    elif name == "github":
        from reviewer.sinks.annotations import render
    else:
        raise KeyError(name)
    return render


FORMATS = ("text", "json", "sarif", "rdjson", "rdjsonl", "github")
