"""Inline suppression: `reviewer: ignore[category,...]` comments in the reviewed code, like ruff's `# noqa`.

Forms, in a comment of the file's language (by extension, reviewer.context.language_for_path):

    query = f"..."  # reviewer: ignore[security]   on the flagged line: hides that line's findings
    # reviewer: ignore                             a comment line of its own: hides the next line's too
    # reviewer: ignore-file[style]                 in the first 10 lines: the whole file

Without `[...]` every category is hidden. An unknown category is reported (once per
comment) and the others in the list still apply; a list of only unknown ones hides
nothing. Only comments are read: `#` (Python, shell, Ruby, YAML, TOML, ...), `//` and
`/* */` (C family, JS/TS, Go, Rust, Java, ...), `--` (SQL, Lua, Haskell), `<!-- -->`
(HTML, Markdown, XML); a file of unknown type accepts any of them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from reviewer.types import Category, Finding

FILE_LINES = 10  # `ignore-file` counts only in the first lines, like a shebang or a licence header

_HASH = ("#",)
_SLASH = ("//", "/*")
_DASH = ("--",)
_ANGLE = ("<!--",)
_COMMENTS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("python", "shell", "ruby", "yaml", "toml", "perl", "r", "make", "dockerfile", "cmake",
                     "elixir", "julia", "powershell"), _HASH),
    **dict.fromkeys(("javascript", "typescript", "go", "rust", "java", "kotlin", "scala", "groovy", "c", "cpp",
                     "csharp", "swift", "objc", "dart", "zig", "css", "scss", "protobuf"), _SLASH),
    "php": _SLASH + _HASH, "terraform": _HASH + _SLASH,
    **dict.fromkeys(("sql", "lua", "haskell"), _DASH),
    **dict.fromkeys(("html", "markdown", "xml", "vue", "svelte"), _ANGLE + _SLASH),
}
_ANY = _HASH + _SLASH + _DASH + _ANGLE
_DIRECTIVE = re.compile(r"reviewer:\s*ignore(-file)?(?:\[([^\]]*)\])?", re.IGNORECASE)


@dataclass(frozen=True)
class Directive:
    """One `reviewer: ignore` comment: where it is, which lines it covers, which categories it hides."""

    path: str
    line: int
    text: str  # the directive as written, for messages
    file_level: bool
    categories: frozenset[Category] | None  # None: every category
    unknown: tuple[str, ...] = ()
    covers_next: bool = False  # a comment on a line of its own also covers the line below

    def covers(self, finding: Finding) -> bool:
        """Whether the comment is where it would hide `finding` (whatever the categories)."""
        if finding.path != self.path:
            return False
        if self.file_level:
            return True
        lines = range(finding.line, max(finding.end_line, finding.line) + 1)
        return self.line in lines or (self.covers_next and self.line + 1 == finding.line)

    def hides(self, finding: Finding) -> bool:
        return self.covers(finding) and (self.categories is None or finding.category in self.categories)


def comment_prefixes(language: str) -> tuple[str, ...]:
    return _COMMENTS.get(language, _ANY)


def parse_line(path: str, no: int, text: str, prefixes: tuple[str, ...]) -> Directive | None:
    """The directive in one line's comment, or None. `ignore-file` counts only in the first FILE_LINES lines."""
    if "reviewer:" not in text.lower():
        return None
    starts = [i for i in (text.find(p) for p in prefixes) if i >= 0]
    if not starts:
        return None
    start = min(starts)
    m = _DIRECTIVE.search(text, start)
    if m is None:
        return None
    file_level = bool(m.group(1))
    if file_level and no > FILE_LINES:
        return None
    categories: frozenset[Category] | None = None
    unknown: list[str] = []
    if m.group(2) is not None:
        known: set[Category] = set()
        for name in (n.strip().lower() for n in m.group(2).split(",")):
            if not name:
                continue
            try:
                known.add(Category(name))
            except ValueError:
                unknown.append(name)
        categories = frozenset(known)
    own_line = not text[:start].strip()
    return Directive(path, no, m.group(0), file_level, categories, tuple(unknown), own_line)


def directives(path: str, lines: Mapping[int, str], language: str) -> tuple[Directive, ...]:
    """Every directive in the known lines of one file, in line order."""
    prefixes = comment_prefixes(language)
    found = (parse_line(path, no, lines[no], prefixes) for no in sorted(lines))
    return tuple(d for d in found if d is not None)


def unknown_warning(d: Directive) -> str:
    valid = ", ".join(c.value for c in Category)
    names = ", ".join(repr(n) for n in d.unknown)
    rest = "the other categories in it still apply" if d.categories else "it hides nothing"
    return (f"reviewer: warning: {d.path}:{d.line}: unknown categor{'ies' if len(d.unknown) > 1 else 'y'} {names} "
            f"in `{d.text}` ({rest}); choose from {valid}")


__all__ = ["FILE_LINES", "Directive", "comment_prefixes", "directives", "parse_line", "unknown_warning"]
