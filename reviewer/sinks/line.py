"""`--format line`: `path:line:col: severity category: title`, what editors' quickfix lists read.

Vim's default errorformat (`%f:%l:%c:%m`), Emacs compilation mode and VS Code problem
matchers all parse this shape. Findings carry no column: it is always 1. No summary line,
so every line of the output is a location.
"""

from __future__ import annotations

from reviewer.types import Review, Severity


def render(review: Review, color: bool = False, fail_on: Severity | None = None) -> str:
    findings = sorted(review.findings, key=lambda f: (f.path, f.line, -f.severity.rank, f.title))
    return "".join(f"{f.path}:{f.line}:1: {f.severity.value} {f.category.value}: {f.title}\n" for f in findings)
