"""Cache entries that do not depend on where a hunk sits in its file: hunk, hints and answer moved to line 1 and back.

The result cache is keyed on what the model was shown. The prompt numbers every line
with its new-file line number (prompting.render_code), so the same change moved down by
ten lines (an edit above it, a hunk staged after the editor reviewed it) used to miss.

The choice made here: the model keeps seeing the real line numbers, and only the cache
is relative. The key is the digest of the prompt rendered for the hunk moved so that
the first line it shows is line 1 (hints moved with it), and the stored answer has its
`line`/`end_line` fields moved the same way; a hit is moved back to where the hunk is
now, then parsed as any fresh answer (the cache still stores raw answers: parsing and
grounding changes keep applying). Rendering relative numbers for the model instead
would change every prompt, so the measured quality tables (docs/quality.md, 48 eval
cases) and the stored answers the bench scripts replay would need re-running, and the
model's prose would cite lines the developer cannot find.

What this costs: a shifted hit serves prose written for the old position (a message that
says "line 12" keeps saying it; the fields that place findings are moved), and the one
difference the model saw between the two positions, the width the numbers are padded
to (99 -> 100), is treated as no difference. A hunk that starts at line 1 renders the
same key as before this change, and its answer is stored unmoved, so those entries of an
older cache stay valid; entries of hunks further down simply miss once.
"""

from __future__ import annotations

import json
from dataclasses import replace

from reviewer.types import DiffLine, Finding, Hunk


def origin(hunk: Hunk) -> int:
    """The first new-file line number the prompt shows for `hunk` (its context, else the hunk)."""
    shown = [no for no, _ in hunk.context_before] + [ln.new_no for ln in hunk.lines if ln.new_no is not None]
    return min(shown, default=max(hunk.new_start, 1))


def shift_hunk(hunk: Hunk, delta: int) -> Hunk:
    """`hunk` with every new-file line number moved by `delta` (old numbers are never shown)."""
    if delta == 0:
        return hunk

    def line(ln: DiffLine) -> DiffLine:
        return ln if ln.new_no is None else replace(ln, new_no=ln.new_no + delta)

    return replace(
        hunk,
        new_start=hunk.new_start + delta,
        lines=tuple(line(ln) for ln in hunk.lines),
        context_before=tuple((no + delta, text) for no, text in hunk.context_before),
        context_after=tuple((no + delta, text) for no, text in hunk.context_after),
    )


def shift_hints(hints: tuple[Finding, ...], delta: int) -> tuple[Finding, ...]:
    """Analyzer hints moved with their hunk (the prompt names their lines)."""
    if delta == 0:
        return hints
    return tuple(replace(f, line=f.line + delta, end_line=f.end_line + delta) for f in hints)


def shift_answer(text: str, delta: int) -> str:
    """A raw model answer with the `line`/`end_line` of each finding moved by `delta`.

    Text that is not the answer's JSON shape is returned as it is: it has no line to
    move, and parsing reads it as malformed either way. Values that are not whole
    numbers (the model's mistakes) are left for the parser to reject, as before.
    """
    if delta == 0:
        return text
    try:
        data = json.loads(text)
    except (ValueError, TypeError, RecursionError):
        return text
    findings = data.get("findings") if isinstance(data, dict) else None
    if not isinstance(findings, list):
        return text
    for item in findings:
        if not isinstance(item, dict):
            continue
        for field in ("line", "end_line"):
            value = item.get(field)
            if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() and len(value.strip()) <= 9:
                value = int(value.strip())  # answers.py accepts digit strings: move them too
            if isinstance(value, int) and not isinstance(value, bool):
                item[field] = value + delta
    return json.dumps(data, ensure_ascii=False)


__all__ = ["origin", "shift_answer", "shift_hints", "shift_hunk"]
