"""What grounding knows about whole new files: their prose lines, digest writes and taint analysis."""

from __future__ import annotations

import io
import tokenize
from collections.abc import Mapping, Sequence

from reviewer.dataflow import TaintReport, analyze_source
from reviewer.digests import stores_only_digests
from reviewer.grounding.lines import code_part
from reviewer.types import Hunk


def prose_lines(lines: Sequence[str], language: str) -> frozenset[int]:
    """1-based numbers of the lines of a whole file that hold no code: blank, comment-only,
    or (Python) part of a string that is a statement on its own, such as a docstring."""
    prose = {n for n, text in enumerate(lines, 1) if not code_part(text, language).strip()}
    if language == "python":
        prose |= _python_string_statements("\n".join(lines) + "\n")
    return frozenset(prose)


_NOT_CODE = frozenset({tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING})


def _python_string_statements(text: str) -> set[int]:
    """Lines covered by statements made of nothing but string literals; none if the text
    does not tokenize."""
    out: set[int] = set()
    statement: list[tokenize.TokenInfo] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
                if statement and all(t.type == tokenize.STRING for t in statement):
                    out.update(range(statement[0].start[0], statement[-1].end[0] + 1))
                statement = []
            elif tok.type not in _NOT_CODE:
                statement.append(tok)
    except (tokenize.TokenError, SyntaxError, ValueError):
        return set()
    return out


def hunk_prose(hunk: Hunk, file_prose: frozenset[int] | None) -> frozenset[int]:
    """Prose lines among the hunk's added lines: `file_prose` (prose_lines of the whole new
    file) when it is known, else blank and comment lines found in the added lines alone."""
    added = hunk.added_lines
    if file_prose is not None:
        return frozenset(n for n in added if n in file_prose)
    return frozenset(n for n, text in added.items() if not code_part(text, hunk.language).strip())


class FileFacts:
    """What grounding needs from whole new files (`sources`: path -> lines), each worked out
    once per file and only when a finding asks (a cached re-run must stay fast)."""

    def __init__(self, sources: Mapping[str, Sequence[str]] | None) -> None:
        self.sources = sources or {}
        self._prose: dict[str, frozenset[int]] = {}
        self._taint: dict[str, TaintReport | None] = {}

    def prose(self, hunk: Hunk) -> frozenset[int]:
        """The hunk's added lines that hold no code."""
        source = self.sources.get(hunk.path)
        if source is not None and hunk.path not in self._prose:
            self._prose[hunk.path] = prose_lines(source, hunk.language)
        return hunk_prose(hunk, self._prose.get(hunk.path))

    def stores_only_digests(self, path: str, line: int) -> bool:
        """Whether `line` of the whole new Python file at `path` stores or sends only hash digests."""
        source = self.sources.get(path)
        return source is not None and path.endswith((".py", ".pyi")) and stores_only_digests("\n".join(source), line)

    def taint(self, hunk: Hunk) -> TaintReport | None:
        """The taint analysis of the hunk's whole new file; None when there is no file or it is not Python."""
        return self.taint_of(hunk.path) if hunk.language == "python" else None

    def taint_of(self, path: str) -> TaintReport | None:
        """The taint analysis of the whole new Python file at `path`; None when it is not known."""
        source = self.sources.get(path)
        if source is None:
            return None
        if path not in self._taint:
            self._taint[path] = analyze_source("\n".join(source))
        return self._taint[path]
