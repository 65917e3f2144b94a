"""Static analyzers that ground the review: high-precision findings on changed lines.

An analyzer takes one Python source text (the new side of a file) and returns
findings (source = the tool's name): bandit for security (reviewer.analyzers.bandit),
ruff for a hand-picked set of bug rules (reviewer.analyzers.ruff), and reviewer's own
taint analysis (reviewer.analyzers.taint: untrusted input reaching a dangerous call;
whole files only, also Python 3.12 files that Python 3.11's parser rejects). `analyze` runs
bandit and ruff on every reviewed Python file — the whole file when the diff came with it, else
each hunk's new side on its own when that parses — and keeps findings on added lines
only. ruff is told which of the two it got: rules that need the whole module (unused
names, `return` outside a function, ...) run on whole files only. The review shows
bandit's and ruff's findings to the model as hints (HINT_SOURCES) and reports all of
them beside the model's findings.

Analyzer results are cached like model answers (keyed by the tool, its version, the
path, whether the text is the whole file, and the exact text), so a re-run on an
unchanged diff neither imports bandit nor starts ruff: a warm review must cost well
under a second. A tool that could not run (ruff missing, timed out) is not cached.
"""

from __future__ import annotations

import hashlib
import json
import textwrap
from collections.abc import Callable
from dataclasses import replace
from importlib import metadata
from typing import NamedTuple

from reviewer.analyzers import ruff
from reviewer.analyzers import taint as taint_analyzer
from reviewer.analyzers.bandit import READER_TAG as BANDIT_READER_TAG
from reviewer.analyzers.bandit import bandit_findings
from reviewer.cache import ResultCache, cache_key
from reviewer.pysource import parse_python
from reviewer.types import Category, Finding, Hunk, ParsedDiff, Severity

# Snippets are padded with blank lines to their real line numbers, and bandit's time grows
# with them (about 1 s per 100k lines): a hunk header claiming line 99,999,999 took minutes.
# Hunks further down than this get no snippet (the whole file is used when it is known).
MAX_SNIPPET_LINE = 20_000
# Analyzers whose findings the prompt shows the model. Taint findings are not shown: the
# model's claims are checked against the same analysis afterwards (reviewer/grounding/).
HINT_SOURCES = frozenset({"bandit", "ruff"})


def hunk_snippet(hunk: Hunk) -> str | None:
    """The hunk's new side placed at its real line numbers, dedented; None if it does not parse
    (Python 3.12 f-strings count as parsing: reviewer/pysource.py) or starts past MAX_SNIPPET_LINE."""
    rows = sorted({*hunk.context_before, *((ln.new_no, ln.text) for ln in hunk.lines if ln.new_no is not None),
                   *hunk.context_after})
    if not rows or rows[0][0] > MAX_SNIPPET_LINE:
        return None
    by_number = dict(rows)
    numbers = range(rows[0][0], rows[-1][0] + 1)
    body = textwrap.dedent("\n".join(by_number.get(n, "") for n in numbers))
    source = "\n" * (rows[0][0] - 1) + body + "\n"
    return source if parse_python(source) is not None else None


class Source(NamedTuple):
    """One text to analyze: the whole new file, or one hunk's snippet."""

    path: str
    text: str
    whole_file: bool


def python_sources(parsed: ParsedDiff) -> list[Source]:
    """The texts to analyze: each Python file whole when its new side is known and parses,
    else its hunks' snippets.

    A whole file that does not parse is analyzed hunk by hunk: its "syntax errors" are
    mostly not the change's (the eval harness rebuilds files with the regions no hunk
    shows left blank, so a hunk inside a method follows blank lines: "unexpected indent";
    measured on shared/eval it put a high "finding" on 51 of 764 clean cases), and the
    rules that need the whole module would judge ruff's error-recovered tree.
    """
    out: list[Source] = []
    whole_files: dict[str, str | None] = {}
    for hunk in parsed.hunks:
        if hunk.language != "python":
            continue
        if hunk.path not in whole_files:
            text = whole_files[hunk.path] = _parsing_text(parsed.sources.get(hunk.path))
            if text is not None:
                out.append(Source(hunk.path, text, True))
        if whole_files[hunk.path] is None and (snippet := hunk_snippet(hunk)) is not None:
            out.append(Source(hunk.path, snippet, False))
    return out


def _parsing_text(lines: tuple[str, ...] | None) -> str | None:
    """The whole file's text, or None when it is unknown or does not parse. A file written for
    Python 3.12 (an f-string reusing its quote) parses: ruff reads it as it is, bandit through
    the f-string rewrite (analyzers/bandit.py); rejecting it here kept both off 298 of OWASP
    BenchmarkPython's 815 handlers."""
    if lines is None:
        return None
    text = "\n".join(lines) + "\n"
    return text if parse_python(text) is not None else None


def _tool_version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "absent"


def tool_tags() -> tuple[str, str]:
    """The cache tags of bandit and ruff: the installed version plus what reviewer adds to each
    (bandit's f-string reader, ruff's rule table), which are part of their answers too."""
    return f"{_tool_version('bandit')}-{BANDIT_READER_TAG}", f"{_tool_version('ruff')}-{ruff.RULESET_TAG}"


def _to_json(findings: list[Finding]) -> str:
    return json.dumps([[f.path, f.line, f.end_line, f.category.value, f.severity.value, f.title, f.message,
                        f.suggestion, f.source] for f in findings])


def _from_json(text: str) -> list[Finding]:
    return [Finding(path, line, end, Category(cat), Severity(sev), title, message, suggestion, source)
            for path, line, end, cat, sev, title, message, suggestion, source in json.loads(text)]


Analyzer = Callable[[str, str, bool], list[Finding] | None]  # (path, text, whole_file) -> findings; None: did not run


def cached_findings(tool: str, version: str, fn: Analyzer, path: str, source: str, cache: ResultCache | None,
                    whole_file: bool = False) -> list[Finding]:
    """`fn(path, source, whole_file)`, answered from the result cache when `tool` at `version`
    has seen this exact text; an answer of None (the tool did not run) is [] and not cached."""
    if cache is None:
        return fn(path, source, whole_file) or []
    digest = hashlib.sha256(f"{path}\0{int(whole_file)}\0{source}".encode()).hexdigest()
    key = cache_key(f"{tool}-{version}", "analyzer-v1", digest)
    hit = cache.get_text(key)
    if hit is not None:
        try:
            return _from_json(hit)
        except (ValueError, TypeError):
            pass  # an entry from an incompatible version: recompute
    findings = fn(path, source, whole_file)
    if findings is None:
        return []
    cache.put_text(key, _to_json(findings))
    return findings


def _reindent(finding: Finding, snippet: str, added: dict[tuple[str, int], str]) -> Finding:
    """A suggestion computed on a dedented snippet, given back the line's real indentation."""
    if not finding.suggestion:
        return finding
    lines = snippet.split("\n")
    shown = lines[finding.line - 1] if 0 < finding.line <= len(lines) else ""
    real = added.get((finding.path, finding.line), "")
    if not shown.strip() or not real.endswith(shown):
        return replace(finding, suggestion=None)
    return replace(finding, suggestion=real[: len(real) - len(shown)] + finding.suggestion)


def analyze(parsed: ParsedDiff, cache: ResultCache | None = None) -> tuple[Finding, ...]:
    """Analyzer findings that sit on added lines of the diff, one per (path, line, title)."""
    added = {(h.path, ln.new_no): ln.text for h in parsed.hunks for ln in h.lines
             if ln.kind == "+" and ln.new_no is not None}
    found: dict[tuple[str, int, str], Finding] = {}
    bandit_version, ruff_version = tool_tags()
    python_paths = sorted({h.path for h in parsed.hunks if h.language == "python"})
    for path in python_paths:
        lines = parsed.sources.get(path)
        if lines is None:
            continue
        text = "\n".join(lines) + "\n"
        for finding in cached_findings("taint", taint_analyzer.VERSION, taint_analyzer.taint_findings, path, text,
                                       cache, whole_file=True):
            if (path, finding.line) in added:
                found.setdefault((path, finding.line, finding.title), finding)
    for path, source, whole_file in python_sources(parsed):
        results = [
            *cached_findings("bandit", bandit_version, lambda p, s, _whole: bandit_findings(p, s),
                             path, source, cache, whole_file),
            *cached_findings("ruff", ruff_version, ruff.run_ruff, path, source, cache, whole_file),
        ]
        for finding in results:
            if (path, finding.line) in added:
                if not whole_file:
                    finding = _reindent(finding, source, added)
                found.setdefault((path, finding.line, finding.title), finding)
    return tuple(sorted(found.values(), key=lambda f: (f.path, f.line)))
