"""The code a finding's suggestion proposes, and whether the flagged lines already read that way.

The 1.5B model often describes a change backwards: on a diff that turns `x > pivot` into
`x >= pivot` it reports "Incorrect comparison" on the new line with the suggestion "Change
`x > pivot` to `x >= pivot`" — the fix it proposes is the code it flags. Such a claim
contradicts itself; grounding (reviewer/grounding/present_fixes.py, rule 6) lowers it.

Only code in backticks after a verb of change counts ("change/replace/modify/update ...
to/with `B`", "should be `B`"), and `B` must appear in a flagged line as a whole
expression or statement: `x >= pivot` inside `if x >= pivot]` does, inside
`x >= pivot + 1` it does not (the suggestion drops the `+ 1`), nor `foo(y)` inside `foo(y)[0]`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import NamedTuple

_PROPOSALS = re.compile(
    r"\b(?:change|replace|modify|update)\b[^`]{0,40}`(?P<old>[^`]+)`\s*(?:to|with|by|into)\s*`(?P<new>[^`]+)`"
    r"|\b(?:change|replace|modify|update)\b[^`]{0,60}?\b(?:to|with|into)\s*`(?P<new_only>[^`]+)`"
    r"|\bshould (?:be|read)\s*`(?P<should>[^`]+)`",
    re.IGNORECASE)

# A rough tokenizer for code in any C-like or Python-like language: names, numbers,
# string literals, two-character operators, then any other single character.
_TOKEN = re.compile(r"""[A-Za-z_]\w*|\d[\w.]*|"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|==|!=|>=|<=|\*\*|//|->|:=|\+=|-=|\S""")
# What may stand right before / after a whole expression or statement inside a line.
_MAY_PRECEDE = frozenset({"(", "[", "{", ",", "=", ":", "+=", "-=", ":=", "return", "if", "elif", "while", "and",
                          "or", "not", "in", "yield", "else", "lambda", "assert"})
_MAY_FOLLOW = frozenset({")", "]", "}", ",", ":", ";", "#", "if", "else", "for", "and", "or", "in"})
MIN_TOKENS = 2  # a lone name ("`total`") says nothing about what the fix is


class Proposal(NamedTuple):
    """One change a suggestion proposes: `old` (None when it names only the result) becomes `new`."""

    old: str | None
    new: str


def proposals(suggestion: str) -> tuple[Proposal, ...]:
    """The code changes written in backticks in `suggestion`, in order."""
    out = []
    for m in _PROPOSALS.finditer(suggestion):
        new = m.group("new") or m.group("new_only") or m.group("should")
        out.append(Proposal(m.group("old"), new))
    return tuple(out)


def _tokens(code: str) -> list[str]:
    return _TOKEN.findall(code)


def reads_as(line: str, code: str) -> bool:
    """Whether `line` holds `code` (a trailing `:` or `;` aside) as a whole expression or statement."""
    have, want = _tokens(line), _tokens(code)
    while want and want[-1] in (":", ";"):
        want.pop()
    if len(want) < MIN_TOKENS:
        return False
    for i in range(len(have) - len(want) + 1):
        if have[i:i + len(want)] == want:
            before = have[i - 1] if i else None
            after = have[i + len(want)] if i + len(want) < len(have) else None
            if (before is None or before in _MAY_PRECEDE) and (after is None or after in _MAY_FOLLOW):
                return True
    return False


def already_applied(suggestion: str | None, lines: Iterable[str]) -> str | None:
    """The proposed code that `lines` already read as (its text), or None.

    A proposal "change `A` to `B`" counts only when `A` is not in the lines as well (then
    the model may mean another occurrence, and the claim is not self-contradictory)."""
    if not suggestion:
        return None
    lines = list(lines)
    for old, new in proposals(suggestion):
        if not any(reads_as(line, new) for line in lines):
            continue
        if old is not None and any(old.strip() in line or reads_as(line, old) for line in lines):
            continue
        return new
    return None


def suggestion_lines(suggestion: str, current: Sequence[str]) -> tuple[str, ...]:
    """A suggestion as the lines that replace `current` (lines line..end_line): a fenced block's inside,
    indented like the code it replaces when the model dropped the indent."""
    lines = suggestion.strip("\n").split("\n")
    if lines and lines[0].lstrip().startswith("```"):  # a fenced block: keep what is inside
        lines = lines[1:]
        if lines and lines[-1].strip().startswith("```"):
            lines = lines[:-1]
    lines = [ln.rstrip("\r").rstrip() for ln in lines]
    indent = _indent(current[0]) if current else ""
    present = [_indent(ln) for ln in lines if ln.strip()]
    if indent and present and min(len(p) for p in present) == 0:
        lines = [indent + ln if ln.strip() else ln for ln in lines]
    return tuple(lines)


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


__all__ = ["Proposal", "already_applied", "proposals", "reads_as", "suggestion_lines"]
