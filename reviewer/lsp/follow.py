"""Findings kept on their code while the buffer changes: moved with it by content anchor, or withdrawn.

A finding's `anchor` (reviewer.anchors) is the text of its flagged non-blank lines. After
an edit the server looks for that text again: still at the finding's line, it stays; found
elsewhere (lines inserted or deleted above), the finding moves to the nearest match; found
nowhere (the flagged code was edited or deleted), it is withdrawn. A diagnostic is never
left on a line that no longer says what was reviewed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from reviewer.anchors import anchor_findings
from reviewer.types import Finding, ParsedDiff


def anchored(findings: Sequence[Finding], path: str, lines: Sequence[str]) -> tuple[Finding, ...]:
    """`findings` with anchors filled from `lines` (the file they were reviewed on) where they have none."""
    return anchor_findings(findings, ParsedDiff((), sources={path: tuple(lines)}))


def _matches_at(anchor: Sequence[str], lines: Sequence[str], start: int) -> bool:
    """Whether the non-blank lines from index `start` on read `anchor` (the first one at `start` itself)."""
    i = start
    for want in anchor:
        while i < len(lines) and not lines[i].strip():
            if i == start:
                return False
            i += 1
        if i >= len(lines) or lines[i].rstrip() != want.rstrip():
            return False
        i += 1
    return True


def locate(finding: Finding, lines: Sequence[str]) -> int | None:
    """The 1-based line the finding's anchored code now starts at (the nearest match), or None."""
    anchor = finding.anchor.split("\n") if finding.anchor else []
    if not anchor:
        return None
    old = finding.line - 1
    if 0 <= old < len(lines) and _matches_at(anchor, lines, old):
        return finding.line
    first = anchor[0].rstrip()
    starts = [i for i, text in enumerate(lines) if text.rstrip() == first and _matches_at(anchor, lines, i)]
    if not starts:
        return None
    return min(starts, key=lambda i: (abs(i - old), i)) + 1


def follow(findings: Sequence[Finding], lines: Sequence[str]) -> tuple[Finding, ...]:
    """The findings that still point at their code in `lines`, moved to where it is now."""
    out = []
    for f in findings:
        line = locate(f, lines)
        if line is None:
            continue
        out.append(f if line == f.line else replace(f, line=line, end_line=line + max(f.end_line - f.line, 0)))
    return tuple(out)


__all__ = ["anchored", "follow", "locate"]
