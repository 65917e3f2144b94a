"""Parse Python source into an `ast` tree, also Python 3.12 f-strings when running on 3.11.

Python 3.12 (PEP 701) lets an f-string reuse its own quote inside a replacement field:
`f'{', '.join(names)}'`. Python 3.11's parser rejects that, and 298 of the 815 OWASP
BenchmarkPython handlers are written so. When `ast.parse` fails, every f-string is
rewritten as a call with the same parts, `__fstring__('a', x, 'b')`, keeping each source
line of the literal on its own line so that line numbers do not move, and the result is
parsed again. The analyses that use the tree (`reviewer/dataflow/`) treat `__fstring__`
as the f-string it stands for.
"""

from __future__ import annotations

import ast
import warnings

FSTRING_CALL = "__fstring__"
_PREFIX_LETTERS = frozenset("rRbBfFuU")


def parse_python(text: str) -> ast.Module | None:
    """The module's tree, or None when it is not Python (even with the f-string rewrite)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid escapes in the code under review are not ours to report
        try:
            return ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            pass  # MemoryError, RecursionError: CPython's answer to very deeply nested code
        try:
            return ast.parse(rewrite_fstrings(text))
        except (SyntaxError, ValueError, RecursionError, MemoryError, _Unterminated):
            return None


class _Unterminated(Exception):
    """A string or replacement field that does not end."""


class _Output:
    """Rewritten source; adjacent literals (`f'a' 'b'`, implicitly joined) become one call."""

    def __init__(self) -> None:
        self.chunks: list[str] = []
        self.last_literal: int | None = None  # chunk index of the last literal while only blanks followed it
        self.last_is_call = False

    def other(self, chunk: str) -> None:
        self.chunks.append(chunk)

    def _follows_literal(self) -> bool:
        """Only blanks, comments and line continuations since the last literal."""
        if self.last_literal is None:
            return False
        between = self.chunks[self.last_literal + 1 :]
        return all(not c.strip() or c.lstrip().startswith("#") or c == "\\" for c in between)

    def literal(self, prefix: str, source: str, call_args: str | None) -> None:
        """A plain literal (`call_args` None) or an f-string's arguments; the prefix letters were copied already."""
        del self.chunks[len(self.chunks) - len(prefix) :]
        arg = source if call_args is None else call_args
        if self._follows_literal() and (call_args is not None or self.last_is_call):
            assert self.last_literal is not None
            previous = self.chunks[self.last_literal]
            if not self.last_is_call:
                previous = f"{FSTRING_CALL}({previous})"
            self.chunks[self.last_literal] = previous[:-1]  # reopen the call: `__fstring__(a` ... `, b)`
            self.chunks.append(f", {arg})")
            self.last_is_call = True
        else:
            self.chunks.append(source if call_args is None else f"{FSTRING_CALL}({arg})")
            self.last_is_call = call_args is not None
        self.last_literal = len(self.chunks) - 1

    def text(self) -> str:
        return "".join(self.chunks)


def rewrite_fstrings(text: str) -> str:
    """`text` with each f-string replaced by `__fstring__(parts...)` on the same lines."""
    out = _Output()
    i = 0
    while i < len(text):
        char = text[i]
        if char == "#":
            end = text.find("\n", i)
            end = len(text) if end < 0 else end
            out.other(text[i:end])
            i = end
        elif char in "'\"":
            i = _string(text, i, _prefix(text, i, start=0), out)
        else:
            out.other(char)
            i += 1
    return out.text()


def _string(text: str, i: int, prefix: str, out: _Output) -> int:
    """Copy (or rewrite, for an f-string) the literal whose quote is at `i`; the index past it."""
    if "f" in prefix.lower():
        args, end = _fstring_args(text, i, raw="r" in prefix.lower())
        out.literal(prefix, "", args)
        return end
    end = _string_end(text, i)
    out.literal(prefix, prefix + text[i:end], None)
    return end


def _prefix(text: str, quote: int, start: int) -> str:
    """The string prefix (`f`, `rb`, `Rf`...) just before the quote at `quote`, if it is one."""
    begin = quote
    while begin > start and quote - begin < 2 and text[begin - 1] in _PREFIX_LETTERS:
        begin -= 1
    if begin > start and (text[begin - 1].isalnum() or text[begin - 1] == "_"):
        return ""  # the end of a name (`if'x'`), not a prefix
    return text[begin:quote]


def _quote_at(text: str, i: int) -> str:
    return text[i] * 3 if text.startswith(text[i] * 3, i) else text[i]


def _string_end(text: str, i: int) -> int:
    """Index just past the plain string literal starting at `i`."""
    quote = _quote_at(text, i)
    j = i + len(quote)
    while j < len(text):
        if text[j] == "\\":
            j += 2
            continue
        if text.startswith(quote, j):
            return j + len(quote)
        if text[j] == "\n" and len(quote) == 1:
            raise _Unterminated
        j += 1
    raise _Unterminated


def _fstring_args(text: str, i: int, raw: bool) -> tuple[str, int]:
    """The call arguments standing for the f-string whose quote starts at `i`, and the index past it."""
    quote = _quote_at(text, i)
    j = i + len(quote)
    parts: list[str] = []
    lines: list[list[str]] = [[]]  # the literal text being read, split where the source breaks the line

    def flush() -> None:
        if any(lines):
            # one argument per source line, so that what follows keeps its line number
            parts.append(",\n".join(repr("".join(line)) for line in lines))
        lines[:] = [[]]

    while j < len(text):
        if text.startswith(quote, j):
            flush()
            return ", ".join(parts) or "''", j + len(quote)
        char = text[j]
        if char == "\\" and not raw:
            if text[j + 1 : j + 2] == "\n":  # a continued line inside the literal
                lines.append([])
            else:
                lines[-1].append(_unescaped(text[j : j + 2]))
            j += 2
        elif text.startswith("{{", j) or text.startswith("}}", j):
            lines[-1].append(char)
            j += 2
        elif char == "{":
            flush()
            expression, j = _replacement_field(text, j + 1)
            parts.append(f"({expression})")
        elif char == "\n":
            if len(quote) == 1:
                raise _Unterminated
            lines[-1].append(char)
            lines.append([])
            j += 1
        else:
            lines[-1].append(char)
            j += 1
    raise _Unterminated


def _unescaped(escape: str) -> str:
    try:
        return str(ast.literal_eval(f'"{escape}"'))
    except (SyntaxError, ValueError):
        return escape


def _replacement_field(text: str, i: int) -> tuple[str, int]:
    """The expression of the field starting at `i` (just past `{`), rewritten, and the index past its `}`."""
    out = _Output()
    depth = 0
    j = i
    while j < len(text):
        char = text[j]
        if char in "'\"":
            j = _string(text, j, _prefix(text, j, start=i), out)
            continue
        if char in "([{":
            depth += 1
        elif char in ")]}":
            if depth == 0:  # the field's closing brace
                return out.text(), j + 1
            depth -= 1
        elif depth == 0 and char == "!" and not text.startswith("!=", j):
            return out.text(), _format_spec_end(text, j + 1)  # `!r` and any spec: the value is what matters
        elif depth == 0 and char == ":":
            return out.text(), _format_spec_end(text, j + 1)
        elif depth == 0 and char == "=" and text[j + 1 : j + 2] in ("}", "!", ":") and text[j - 1 : j] not in "=!<>":
            j += 1  # f"{x=}": the expression is x
            continue
        out.other(char)
        j += 1
    raise _Unterminated


def _format_spec_end(text: str, i: int) -> int:
    """Index past the `}` closing a field whose conversion or format spec starts at `i` (specs may nest fields)."""
    depth = 0
    j = i
    while j < len(text):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            if depth == 0:
                return j + 1
            depth -= 1
        j += 1
    raise _Unterminated
