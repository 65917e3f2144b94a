"""Static analyzers that ground the review: high-precision findings on changed lines.

An analyzer takes one Python source text (the new side of a file) and returns
findings (source = the tool's name). `analyze` runs them on every reviewed Python
file — the whole file when the diff came with it, else each hunk's new side on its
own when that parses — and keeps findings on added lines only. The review shows them
to the model as hints and reports them beside the model's findings.
"""

from __future__ import annotations

import ast
import textwrap

from reviewer.analyzers.bandit import bandit_findings
from reviewer.types import Finding, Hunk, ParsedDiff


def hunk_snippet(hunk: Hunk) -> str | None:
    """The hunk's new side placed at its real line numbers, dedented; None if it does not parse."""
    rows = sorted({*hunk.context_before, *((ln.new_no, ln.text) for ln in hunk.lines if ln.new_no is not None),
                   *hunk.context_after})
    if not rows:
        return None
    by_number = dict(rows)
    numbers = range(rows[0][0], rows[-1][0] + 1)
    body = textwrap.dedent("\n".join(by_number.get(n, "") for n in numbers))
    source = "\n" * (rows[0][0] - 1) + body + "\n"
    try:
        ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    return source


def python_sources(parsed: ParsedDiff) -> list[tuple[str, str]]:
    """(path, source) pairs to analyze."""
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for hunk in parsed.hunks:
        if hunk.language != "python" or hunk.path in seen:
            continue
        whole = parsed.sources.get(hunk.path)
        if whole is not None:
            seen.add(hunk.path)
            out.append((hunk.path, "\n".join(whole) + "\n"))
            continue
        snippet = hunk_snippet(hunk)
        if snippet is not None:
            out.append((hunk.path, snippet))
    return out


def analyze(parsed: ParsedDiff) -> tuple[Finding, ...]:
    """Analyzer findings that sit on added lines of the diff, one per (path, line, title)."""
    added = {(h.path, n) for h in parsed.hunks for n in h.added_line_numbers}
    found: dict[tuple[str, int, str], Finding] = {}
    for path, source in python_sources(parsed):
        for finding in bandit_findings(path, source):
            if (path, finding.line) in added:
                found.setdefault((path, finding.line, finding.title), finding)
    return tuple(sorted(found.values(), key=lambda f: (f.path, f.line)))
