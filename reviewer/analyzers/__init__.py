"""Static analyzers that ground the review: high-precision findings on changed lines.

An analyzer takes one Python source text (the new side of a file) and returns
findings (source = the tool's name). `analyze` runs them on every reviewed Python
file — the whole file when the diff came with it, else each hunk's new side on its
own when that parses — and keeps findings on added lines only. The review shows them
to the model as hints and reports them beside the model's findings.

Analyzer results are cached like model answers (keyed by the tool's version, the path
and the exact source text), so a re-run on an unchanged diff does not even import
bandit: a warm review must cost well under a second.
"""

from __future__ import annotations

import ast
import hashlib
import json
import textwrap
from importlib import metadata

from reviewer.analyzers.bandit import bandit_findings
from reviewer.backends import Completion
from reviewer.cache import ResultCache, cache_key
from reviewer.types import Category, Finding, Hunk, ParsedDiff, Severity

# Snippets are padded with blank lines to their real line numbers, and bandit's time grows
# with them (about 1 s per 100k lines): a hunk header claiming line 99,999,999 took minutes.
# Hunks further down than this get no snippet (the whole file is used when it is known).
MAX_SNIPPET_LINE = 20_000


def hunk_snippet(hunk: Hunk) -> str | None:
    """The hunk's new side placed at its real line numbers, dedented; None if it does not parse
    or starts past MAX_SNIPPET_LINE."""
    rows = sorted({*hunk.context_before, *((ln.new_no, ln.text) for ln in hunk.lines if ln.new_no is not None),
                   *hunk.context_after})
    if not rows or rows[0][0] > MAX_SNIPPET_LINE:
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


def _tool_version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "absent"


def _to_json(findings: list[Finding]) -> str:
    return json.dumps([[f.path, f.line, f.end_line, f.category.value, f.severity.value, f.title, f.message,
                        f.suggestion, f.source] for f in findings])


def _from_json(text: str) -> list[Finding]:
    return [Finding(path, line, end, Category(cat), Severity(sev), title, message, suggestion, source)
            for path, line, end, cat, sev, title, message, suggestion, source in json.loads(text)]


def cached_bandit_findings(path: str, source: str, cache: ResultCache | None) -> list[Finding]:
    """`bandit_findings`, answered from the result cache when this exact source was seen."""
    if cache is None:
        return bandit_findings(path, source)
    digest = hashlib.sha256(f"{path}\0{source}".encode()).hexdigest()
    key = cache_key(f"bandit-{_tool_version('bandit')}", "analyzer-v1", digest)
    hit = cache.get(key)
    if hit is not None:
        try:
            return _from_json(hit.text)
        except (ValueError, TypeError):
            pass  # an entry from an incompatible version: recompute
    findings = bandit_findings(path, source)
    cache.put(key, Completion(_to_json(findings)))
    return findings


def analyze(parsed: ParsedDiff, cache: ResultCache | None = None) -> tuple[Finding, ...]:
    """Analyzer findings that sit on added lines of the diff, one per (path, line, title)."""
    added = {(h.path, n) for h in parsed.hunks for n in h.added_line_numbers}
    found: dict[tuple[str, int, str], Finding] = {}
    for path, source in python_sources(parsed):
        for finding in cached_bandit_findings(path, source, cache):
            if (path, finding.line) in added:
                found.setdefault((path, finding.line, finding.title), finding)
    return tuple(sorted(found.values(), key=lambda f: (f.path, f.line)))
