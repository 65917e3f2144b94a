"""Shaping hunks for the model: a path's language, the code around a hunk, splitting big ones.

Pure functions over diff lines and the lines of the new side of a file; no git, no
unidiff, no I/O. Line numbers are 1-based new-file line numbers unless said otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from reviewer.config import Config
from reviewer.types import DiffLine, Hunk

ContextLines = tuple[tuple[int, str], ...]

HEADER_CAP = 60  # context_before never grows past this many lines to reach a header
_WALK_LIMIT = 3000  # how far up we look for an enclosing function at all

_EXTENSIONS: dict[str, str] = {
    "py": "python", "pyi": "python", "pyw": "python",
    "js": "javascript", "mjs": "javascript", "cjs": "javascript", "jsx": "javascript",
    "ts": "typescript", "tsx": "typescript", "mts": "typescript", "cts": "typescript",
    "go": "go", "rs": "rust", "java": "java", "kt": "kotlin", "kts": "kotlin", "scala": "scala",
    "groovy": "groovy", "c": "c", "h": "c", "cc": "cpp", "cpp": "cpp", "cxx": "cpp", "hpp": "cpp",
    "hh": "cpp", "hxx": "cpp", "cs": "csharp", "rb": "ruby", "php": "php", "swift": "swift",
    "m": "objc", "mm": "objc", "sh": "shell", "bash": "shell", "zsh": "shell", "ps1": "powershell",
    "lua": "lua", "pl": "perl", "pm": "perl", "r": "r", "dart": "dart", "ex": "elixir", "exs": "elixir",
    "erl": "erlang", "hs": "haskell", "ml": "ocaml", "clj": "clojure", "jl": "julia", "zig": "zig",
    "sql": "sql", "html": "html", "htm": "html", "css": "css", "scss": "scss", "vue": "vue",
    "svelte": "svelte", "json": "json", "yaml": "yaml", "yml": "yaml", "toml": "toml", "xml": "xml",
    "md": "markdown", "rst": "rst", "tf": "terraform", "proto": "protobuf",
}
_FILENAMES: dict[str, str] = {
    "Makefile": "make", "GNUmakefile": "make", "makefile": "make", "Rakefile": "ruby",
    "Gemfile": "ruby", "CMakeLists.txt": "cmake", "Jenkinsfile": "groovy",
}


def language_for_path(path: str) -> str:
    """The language name a path's extension (or well-known file name) implies; "text" if unknown."""
    name = path.rsplit("/", 1)[-1]
    if name in _FILENAMES:
        return _FILENAMES[name]
    if name.startswith("Dockerfile") or name.endswith(".dockerfile"):
        return "dockerfile"
    stem, dot, ext = name.rpartition(".")
    return _EXTENSIONS.get(ext.lower(), "text") if dot and stem else "text"


_PY_HEADER = re.compile(r"(?:async\s+def|def|class)\b")
_KEYWORD_HEADER = re.compile(
    r"(?:(?:export|default|public|private|protected|internal|static|final|abstract|async|override|"
    r"virtual|inline|extern|unsafe|open|suspend|sealed|data|pub(?:\([^)]*\))?)\s+)*"
    r"(?:func|function|fn|fun|def|class|struct|enum|interface|trait|impl|mod|module|namespace|"
    r"object|record|sub|proc|union)\b"
)
_JS_ARROW = re.compile(
    r"(?:export\s+)?(?:const|let|var)\s+[\w$]+\s*(?::[^=]+)?=\s*(?:async\s+)?"
    r"(?:function\b|(?:\([^)]*\)|[\w$]+)\s*(?::[^=]+)?=>)"
)
_CONTROL = re.compile(
    r"(?:if|else|elif|for|foreach|while|do|switch|case|default|return|catch|try|finally|with|using|"
    r"throw|new|delete|sizeof|except|match|loop|select|defer|go|await|yield|unless|until|when)\b"
)
_CALL_SHAPED = re.compile(r"[\w$~][\w$:<>,.*&\[\]\s~]*\(")
_COMMENT = ("#", "//", "/*", "*", "--", ";")
_NO_FUNCTIONS = frozenset({"text", "markdown", "rst", "json", "yaml", "toml", "xml", "html", "css", "scss"})


_TEST_FILE = re.compile(r"(^|/)(test_[^/]*|[^/]*_test|conftest)\.py$")


def is_test_file(path: str) -> bool:
    """A pytest test module or conftest (bandit skips assert checks there; no tests are written for it)."""
    return bool(_TEST_FILE.search(path))


def _indent(text: str) -> int:
    expanded = text.expandtabs(8)
    return len(expanded) - len(expanded.lstrip())


def _is_python_header(stripped: str) -> bool:
    return bool(_PY_HEADER.match(stripped))


def _is_brace_header(stripped: str) -> bool:
    """A heuristic for C-family, Go, Rust, JS/TS, Java, Ruby, shell, ... function/class openers."""
    if _KEYWORD_HEADER.match(stripped) or _JS_ARROW.match(stripped):
        return True
    if _CONTROL.match(stripped.lstrip("} ")) or stripped.startswith("}"):
        return False
    if stripped.endswith((";", ",")) or not _CALL_SHAPED.match(stripped):
        return False
    return stripped.endswith(("{", ")")) or stripped.rstrip("{ ").endswith(")")


def _transparent(stripped: str) -> bool:
    """Lines that never decide the enclosing scope: comments, a lone `{`, closing brackets of a signature."""
    return stripped.startswith(_COMMENT) or stripped in ("{", "(") or stripped[0] in ")]"


def find_enclosing_header(lines: Sequence[str], first: int, indent: int, language: str) -> int | None:
    """The line number of the nearest function/class header above line `first` that encloses
    code indented by `indent` columns, or None (top-level code, or nothing recognisable)."""
    if language in _NO_FUNCTIONS:
        return None
    is_header = _is_python_header if language == "python" else _is_brace_header
    threshold = indent
    no = min(first, len(lines) + 1) - 1
    stop = max(1, first - _WALK_LIMIT)
    while no >= stop and threshold > 0:
        text = lines[no - 1]
        stripped = text.strip()
        if stripped and not _transparent(stripped) and _indent(text) < threshold:
            if is_header(stripped):
                return no
            threshold = _indent(text)
        no -= 1
    return None


def _with_decorators(lines: Sequence[str], header: int) -> int:
    """Move a Python/Java/TS header up over the decorators/annotations right above it."""
    indent = _indent(lines[header - 1])
    while header > 1 and lines[header - 2].strip().startswith("@") and _indent(lines[header - 2]) == indent:
        header -= 1
    return header


def min_indent(texts: Sequence[str]) -> int | None:
    """The smallest indentation among the non-blank texts, or None when all are blank."""
    indents = [_indent(t) for t in texts if t.strip()]
    return min(indents) if indents else None


def surrounding_context(
    lines: Sequence[str],
    first: int,
    last: int,
    indent: int | None,
    language: str,
    context_lines: int,
) -> tuple[ContextLines, ContextLines]:
    """(context_before, context_after) for a hunk that shows new lines `first`..`last`.

    `first == last + 1` means the hunk shows no new line (a deletion right after line
    `last`). Before: `context_lines` lines, extended upwards to the enclosing
    function/class header when that is at most HEADER_CAP lines above `first`; when it
    is further away, the header line alone is put in front of the usual window (the line
    numbers show the gap). After: `context_lines` lines.
    """
    total = len(lines)
    n = max(context_lines, 0)
    first = max(1, min(first, total + 1))
    last = max(first - 1, min(last, total))
    start = max(1, first - n)
    before = list(range(start, first))
    header = find_enclosing_header(lines, first, indent, language) if indent else None
    if header is not None and header < start:
        top = _with_decorators(lines, header)
        if first - top <= max(HEADER_CAP, n):
            before = list(range(top, first))
        else:
            before = [header, *before]
    after = range(last + 1, min(total, last + n) + 1)
    return tuple((no, lines[no - 1]) for no in before), tuple((no, lines[no - 1]) for no in after)


def make_hunks(
    path: str,
    old_path: str | None,
    lines: list[DiffLine],
    first_numbers: tuple[int, int],
    section: str,
    new_lines: list[str] | None,
    config: Config,
) -> list[Hunk]:
    """One diff hunk as one Hunk, or as consecutive parts when it has more than
    config.max_hunk_lines lines. `first_numbers` is (old, new): the line numbers the
    hunk's first old-side and new-side lines have (or would have, for an empty side).
    Context comes from `new_lines`, the whole new file, when it is known."""
    language = language_for_path(path)
    cuts = split_points(lines, config.max_hunk_lines)
    old_next, new_next = first_numbers
    out: list[Hunk] = []
    for index, (lo, hi) in enumerate(cuts, 1):
        part = lines[lo:hi]
        old_len = sum(1 for ln in part if ln.kind != "+")
        new_len = sum(1 for ln in part if ln.kind != "-")
        before: ContextLines = ()
        after: ContextLines = ()
        if new_lines is not None:
            indent = min_indent([ln.text for ln in part])
            before, after = surrounding_context(new_lines, new_next, new_next + new_len - 1, indent, language,
                                                config.context_lines)
        out.append(Hunk(  # an empty side starts at the line before, as in unified diff headers
            path=path, old_path=old_path, language=language,
            old_start=old_next if old_len else old_next - 1, old_len=old_len,
            new_start=new_next if new_len else new_next - 1, new_len=new_len,
            lines=tuple(part), section=section,
            context_before=before, context_after=after, part=index, parts=len(cuts),
        ))
        old_next += old_len
        new_next += new_len
    return out


def split_points(lines: Sequence[DiffLine], limit: int) -> list[tuple[int, int]]:
    """[lo, hi) slices covering `lines` in order, each at most `limit` long (limit < 1: no split).

    A cut goes where it splits the fewest changes: between two context lines if possible,
    else next to one, else at the limit; every part but the last is at least half the limit.
    """
    if limit < 1 or len(lines) <= limit:
        return [(0, len(lines))]

    def score(hi: int) -> int:
        return (lines[hi - 1].kind == " ") + (lines[hi].kind == " ")

    cuts: list[tuple[int, int]] = []
    lo = 0
    while len(lines) - lo > limit:
        hi = max(range(lo + limit, lo + limit // 2, -1), key=score)  # ties: the first, i.e. the longest part
        cuts.append((lo, hi))
        lo = hi
    cuts.append((lo, len(lines)))
    return cuts
