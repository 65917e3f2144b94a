"""Where a suggestion goes: the new file's lines it replaces, re-indented, and the patch it makes.

A suggestion replaces the whole lines `line..end_line` of the new file (as SARIF fixes, GitHub
suggestion blocks and the TUI's accept do). The code around it is the whole new file when the
diff came with it, else the hunk's new side (`Window`). Two slips of small models are mended
here, once, so every front end shows the same text: a replacement written without the line's
indentation gets it, and a replacement that restates the lines just before or after the
flagged one (the model rewrote the `if` and its body when the finding is on the `if`) covers
those lines instead of doubling them.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from reviewer.types import Finding, Hunk


@dataclass(frozen=True)
class Window:
    """Consecutive new-file lines starting at line `first` (1-based); `whole`: the entire file."""

    first: int
    lines: tuple[str, ...]
    whole: bool

    @property
    def last(self) -> int:
        return self.first + len(self.lines) - 1

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def window_for(hunk: Hunk, source: Sequence[str] | None) -> Window:
    """The whole new file when known, else the hunk's new side (context read from the file included)."""
    if source is not None:
        return Window(1, tuple(source), True)
    rows = dict(hunk.context_before)
    rows.update((ln.new_no, ln.text) for ln in hunk.lines if ln.new_no is not None and ln.kind != "-")
    rows.update(hunk.context_after)
    if not rows:
        return Window(hunk.new_start, (), False)
    first, last = min(rows), max(rows)
    return Window(first, tuple(rows.get(n, "") for n in range(first, last + 1)), False)


@dataclass(frozen=True)
class Replacement:
    """Lines start..end (1-based, inclusive) of the window's file become `new`."""

    start: int
    end: int
    new: tuple[str, ...]
    old: tuple[str, ...]


def normalized(lines: Sequence[str]) -> str:
    return "".join("".join(lines).split())


def _indent(text: str) -> str:
    return text[: len(text) - len(text.lstrip())]


def reindent(suggestion: Sequence[str], original: Sequence[str]) -> tuple[str, ...]:
    """The suggestion with the replaced code's indentation when its first line has none
    (models often drop it; in Python the result would not even parse)."""
    lines = tuple(suggestion)
    if not lines or not original or _indent(lines[0]) or not _indent(original[0]):
        return lines
    pad = _indent(original[0])
    return tuple(pad + line if line.strip() else line for line in lines)


_FENCED = re.compile(r"^[ \t]*(`{3,}|~{3,})[^\n]*\n(.*?)\n[ \t]*\1[ \t]*$", re.MULTILINE | re.DOTALL)


def unfenced(suggestion: str) -> str:
    """The code of the first fenced block when the model wrapped its code in one (often after a
    sentence of advice: "Use a parameter.\n\n```python\ncode\n```"), else the suggestion itself."""
    m = _FENCED.search(suggestion)
    return m.group(2) if m else suggestion


def plan(finding: Finding, window: Window) -> Replacement | None:
    """Where `finding.suggestion` goes in `window`; None when its lines are not in the window."""
    start, end = finding.line, max(finding.end_line, finding.line)
    if not finding.suggestion or start < window.first or end > window.last:
        return None
    at = lambda n: window.lines[n - window.first]
    new = reindent(unfenced(finding.suggestion).strip("\n").split("\n"), [at(start)])
    extra = len(new) - (end - start + 1)
    # the suggestion's last lines restate the lines after the range: take them in
    for k in range(extra, 0, -1):
        after = [at(n) for n in range(end + 1, end + 1 + k) if n <= window.last]
        if len(after) == k and normalized(after) and normalized(after) == normalized(new[-k:]):
            end += k
            extra -= k
            break
    # ... or its first lines restate the lines before it
    for k in range(extra, 0, -1):
        before = [at(n) for n in range(start - k, start) if n >= window.first]
        if len(before) == k and normalized(before) and normalized(before) == normalized(new[:k]):
            start -= k
            break
    return Replacement(start, end, new, tuple(at(n) for n in range(start, end + 1)))


def spliced(lines: Sequence[str], start: int, end: int, new: Sequence[str], first: int = 1) -> tuple[str, ...]:
    """`lines` (numbered from `first`) with lines start..end replaced by `new`."""
    return (*lines[: start - first], *new, *lines[end - first + 1:])


def applied(window: Window, rep: Replacement) -> Window:
    """The window with the replacement made."""
    return Window(window.first, spliced(window.lines, rep.start, rep.end, rep.new, window.first), window.whole)


def unified_patch(path: str, before: Window, after: Window) -> str:
    """The change as a git-style unified diff (line numbers are the file's when the window is whole)."""
    diff = difflib.unified_diff([line + "\n" for line in before.lines], [line + "\n" for line in after.lines],
                                f"a/{path}", f"b/{path}", n=3)
    text = "".join(diff)
    if before.first == 1:
        return text
    # a window that starts inside the file: shift hunk headers to the file's numbering
    shift = before.first - 1

    def renumber(line: str) -> str:
        if not line.startswith("@@"):
            return line
        head, _, tail = line[3:].partition(" @@")
        old, new = head.split(" ")
        return f"@@ {_shift(old, shift)} {_shift(new, shift)} @@{tail}"

    return "".join(renumber(line) for line in text.splitlines(keepends=True))


def _shift(spec: str, by: int) -> str:
    sign, rest = spec[0], spec[1:]
    start, _, count = rest.partition(",")
    return f"{sign}{int(start) + by}" + (f",{count}" if count else "")


__all__ = ["Replacement", "Window", "applied", "normalized", "plan", "reindent", "spliced", "unfenced", "unified_patch", "window_for"]
