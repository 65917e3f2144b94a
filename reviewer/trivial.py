"""Recognise hunks that cannot change behaviour, so the model is not asked about them.

A small model asked "what is wrong here?" about a pure rename will sometimes invent an
answer; a token comparison knows better and costs nothing. Recognised: whitespace-only,
comment-only, and consistent identifier renames (old and new names map one-to-one,
and no old name is still used by the unchanged lines around the change).
"""

from __future__ import annotations

import keyword
import re

from reviewer.types import Hunk

# An unterminated string runs to the end of the line (the closing quote is optional): a
# string that had to close would rescan the rest of the line from every quote, quadratic
# on a long line such as '"\\' * 100_000.
_TOKEN = re.compile(r'"(?:\\.|[^"\\])*"?|\'(?:\\.|[^\'\\])*\'?|[A-Za-z_]\w*|\d[\w.]*|\S')
_IDENT = re.compile(r"[A-Za-z_]\w*\Z")
_HASH_COMMENT = {"python", "shell", "ruby", "perl", "r", "yaml", "toml"}
_KEYWORDS = set(keyword.kwlist) | set(keyword.softkwlist) | {
    "if", "else", "for", "while", "return", "function", "func", "fn", "var", "let", "const", "new",
    "class", "struct", "public", "private", "static", "void", "int", "true", "false", "null", "nil", "this", "self",
}

Line = tuple[int, tuple[str, ...]]  # (indent width, tokens)


def _tokens(text: str, language: str) -> Line | None:
    """Indent and tokens of one line with comments removed; None for blank/comment-only lines."""
    tokens: list[str] = []
    for match in _TOKEN.finditer(text):
        tok = match.group()
        if (tok == "#" and language in _HASH_COMMENT) or text.startswith("//", match.start()):
            break
        tokens.append(tok)
    if not tokens:
        return None
    indent = len(text) - len(text.lstrip())
    return indent, tuple(tokens)


def _code(texts: list[str], language: str) -> list[Line]:
    return [t for t in (_tokens(x, language) for x in texts) if t is not None]


def behaviour_preserving(hunk: Hunk) -> str | None:
    """Why this hunk cannot change behaviour, or None if it might (then the model reviews it)."""
    removed = [ln.text for ln in hunk.lines if ln.kind == "-"]
    added = [ln.text for ln in hunk.lines if ln.kind == "+"]
    if not removed or not added or hunk.language == "text":
        return None
    old, new = _code(removed, hunk.language), _code(added, hunk.language)
    if len(old) != len(new):
        return None
    renames: dict[str, str] = {}
    for (old_indent, old_toks), (new_indent, new_toks) in zip(old, new):
        if old_indent != new_indent and hunk.language == "python":
            return None  # indentation is syntax there
        if len(old_toks) != len(new_toks):
            return None
        for a, b in zip(old_toks, new_toks):
            if a == b:
                continue
            if not (_IDENT.match(a) and _IDENT.match(b)) or a in _KEYWORDS or b in _KEYWORDS:
                return None
            if renames.setdefault(a, b) != b:
                return None
    if len(set(renames.values())) != len(renames):
        return None  # two names merged into one
    if renames:
        unchanged = {tok for ln in hunk.lines if ln.kind == " " for tok in _TOKEN.findall(ln.text)}
        unchanged |= {tok for _, text in (*hunk.context_before, *hunk.context_after) for tok in _TOKEN.findall(text)}
        old_tokens = {tok for _, toks in old for tok in toks}
        if unchanged & set(renames) or set(renames.values()) & (unchanged | old_tokens):
            return None  # an old name still in use nearby, or a new name that already meant something
        pairs = ", ".join(f"{a} → {b}" for a, b in sorted(renames.items()))
        return f"behaviour-preserving change (rename {pairs})"
    return "behaviour-preserving change (whitespace or comments only)"
