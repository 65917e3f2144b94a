"""Model JSON -> validated Findings for one hunk.

The model is untrusted: its answer may be truncated, mis-typed, hostile (the code
under review can steer it) or point at lines outside the hunk. A finding must sit on
an added line of the hunk, the problems the change introduces; anything else is
dropped and counted, never guessed. Control characters (terminal escapes, NUL, bidi
overrides) are removed from the model's text here, before any output sees it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from reviewer.types import Category, Finding, Hunk, Severity

MAX_TITLE = 120
MAX_MESSAGE = 1000
MAX_ANALYSIS = 300  # the schema's maxLength for "analysis"
MAX_SUGGESTION = 4000  # a longer "replacement" is no suggestion for a hunk's line; dropped, not cut

# C0 and C1 controls, DEL, and the bidi embeddings/overrides/isolates of "trojan source".
# Tab and newline are whitespace, handled by each field's own rule.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True)
class ParseResult:
    """Findings kept, how many were dropped, and whether the answer was unreadable."""

    findings: tuple[Finding, ...]
    dropped: int = 0
    malformed: bool = False
    analysis: str = ""  # the model's own one- or two-sentence reading of the hunk (the CI walkthrough)


def _text(value: object, limit: int) -> str:
    s = " ".join(CONTROL.sub("", str(value)).split()) if value is not None else ""
    return s[: limit - 1] + "…" if len(s) > limit else s


def code_text(value: object) -> str | None:
    """A suggested replacement: lines kept, control characters removed; None if empty or too long."""
    if not isinstance(value, str):
        return None
    code = CONTROL.sub("", value.replace("\r\n", "\n").replace("\r", "\n")).rstrip()
    return code if code.strip() and len(code) <= MAX_SUGGESTION else None


def _as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        digits = value.strip()
        # ASCII only: "²".isdigit() is true but int("²") raises; and no 4300-digit strings
        if digits.isascii() and digits.isdigit() and len(digits) <= 9:
            return int(digits)
    return None


def parse_findings(text: str, hunk: Hunk, source: str = "model") -> ParseResult:
    """Read the model's JSON answer for `hunk` into validated findings."""
    try:
        data = json.loads(text)
    except (ValueError, TypeError, RecursionError):  # ValueError: also a number over Python's digit limit
        return ParseResult((), malformed=True)
    raw = data.get("findings") if isinstance(data, dict) else None
    if not isinstance(raw, list):
        return ParseResult((), malformed=True)

    valid_lines = hunk.added_line_numbers
    kept: list[Finding] = []
    dropped = 0
    for item in raw:
        finding = _to_finding(item, hunk, valid_lines, source)
        if finding is None:
            dropped += 1
        else:
            kept.append(finding)
    return ParseResult(tuple(kept), dropped, analysis=_text(data.get("analysis"), MAX_ANALYSIS)
                       if isinstance(data.get("analysis"), str) else "")


def _to_finding(item: object, hunk: Hunk, valid_lines: frozenset[int], source: str) -> Finding | None:
    if not isinstance(item, dict):
        return None
    line = _as_int(item.get("line"))
    if line is None or line not in valid_lines:
        return None
    end_line = _as_int(item.get("end_line"))
    if end_line is None or end_line < line or end_line not in valid_lines:
        end_line = line
    try:
        category = Category(str(item.get("category", "")).lower())
        severity = Severity(str(item.get("severity", "")).lower())
    except ValueError:
        return None
    message = _text(item.get("message"), MAX_MESSAGE)
    title = _text(item.get("title"), MAX_TITLE) or _text(message, 60)
    if not title:
        return None
    suggestion = code_text(item.get("suggestion"))
    if suggestion is not None and _same_code(suggestion, _line_text(hunk, line)):
        suggestion = None  # "replace the line with itself" is no suggestion
    return Finding(hunk.path, line, end_line, category, severity, title, message or title, suggestion, source)


def _line_text(hunk: Hunk, line: int) -> str:
    for ln in hunk.lines:
        if ln.new_no == line and ln.kind != "-":
            return ln.text
    return ""


def _same_code(a: str, b: str) -> bool:
    return "".join(a.split()) == "".join(b.split())


def parse_repair(text: str) -> str | None:
    """The replacement in a repair answer ({"suggestion": "..."}); None when there is none."""
    try:
        data = json.loads(text)
    except (ValueError, TypeError, RecursionError):
        return None
    return code_text(data.get("suggestion")) if isinstance(data, dict) else None


def merge_duplicates(findings: list[Finding]) -> list[Finding]:
    """One finding per position (path, category, title, line: `position_fingerprint`), keeping
    the most severe; order by path, line. Not the content fingerprint: two findings on two
    identical lines stay two."""
    best: dict[str, Finding] = {}
    for f in findings:
        prev = best.get(f.position_fingerprint)
        if prev is None or f.severity.rank > prev.severity.rank:
            best[f.position_fingerprint] = f
    return sorted(best.values(), key=lambda f: (f.path, f.line, -f.severity.rank, f.title))
