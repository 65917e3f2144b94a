"""Anchor findings on content: the flagged line(s) and the enclosing definition, for fingerprints.

`Finding.fingerprint` hashes what a finding says about which code, not where that code
sits, so a dismissed finding stays dismissed when lines are inserted above it. This
module fills the two facts it needs, `anchor` (the text of lines line..end_line) and
`scope` (the name of the nearest enclosing def/class/function), from the new side of
the file: the whole file where the diff came with it (`ParsedDiff.sources`), else the
lines the hunks show (which reach up to the enclosing header, see reviewer.context).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from reviewer.context import find_enclosing_header, language_for_path
from reviewer.types import Finding, ParsedDiff

MAX_ANCHOR_LINES = 20  # a finding spanning more is anchored on its first 20 lines

_NAME = re.compile(
    r"\b(?:def|class|func|function|fn|fun|struct|enum|interface|trait|impl|mod|module|namespace|object|record|"
    r"sub|proc|union)\s+(?:\([^)]*\)\s*)?([\w$.:<>~]+)"
)
_ASSIGNED = re.compile(r"(?:const|let|var)\s+([\w$]+)")
_CALLED = re.compile(r"([\w$~:.]+)\s*\(")


def new_side(parsed: ParsedDiff, path: str) -> dict[int, str]:
    """New-file line number -> text for `path`: the whole file when known, else what the hunks show."""
    source = parsed.sources.get(path)
    if source is not None:
        return dict(enumerate(source, start=1))
    return {no: text for hunk in parsed.hunks if hunk.path == path for no, text in hunk.new_side.items()}


def header_name(header: str) -> str:
    """The defined name in a def/class/function header line (the whole line, normalised, if none is found)."""
    for pattern in (_NAME, _ASSIGNED, _CALLED):
        m = pattern.search(header)
        if m:
            return m.group(1)
    return " ".join(header.split())


def scope_of(lines: Mapping[int, str], line: int, language: str) -> str:
    """The name of the def/class/function enclosing `line` ("" at top level or when none is known)."""
    text = lines.get(line)
    if not text or not text.strip():
        return ""
    expanded = text.expandtabs(8)
    indent = len(expanded) - len(expanded.lstrip())
    if indent == 0:
        return ""
    dense: Sequence[str] = [lines.get(no, "") for no in range(1, line + 1)]
    header = find_enclosing_header(dense, line, indent, language)
    return header_name(lines.get(header, "")) if header is not None else ""


def anchor_findings(findings: Iterable[Finding], parsed: ParsedDiff) -> tuple[Finding, ...]:
    """`findings` with `anchor` and `scope` filled from the new side of their files (findings
    already anchored, or on lines the diff does not show, are kept as they are)."""
    out: list[Finding] = []
    files: dict[str, dict[int, str]] = {}
    for f in findings:
        if f.anchor:
            out.append(f)
            continue
        lines = files.get(f.path)
        if lines is None:
            lines = files[f.path] = new_side(parsed, f.path)
        end = min(max(f.end_line, f.line), f.line + MAX_ANCHOR_LINES - 1)
        texts = [lines[no] for no in range(f.line, end + 1) if no in lines]
        anchor = "\n".join(t for t in texts if t.strip())
        if not anchor:
            out.append(f)
            continue
        out.append(replace(f, anchor=anchor, scope=scope_of(lines, f.line, language_for_path(f.path))))
    return tuple(out)


__all__ = ["MAX_ANCHOR_LINES", "anchor_findings", "header_name", "new_side", "scope_of"]
