"""unidiff's view of a diff text: git's header quirks undone, clean paths, each file's lines.

Shared by the parser (reviewer/diff.py) and the readers of new sides
(reviewer/diffsource.py: a working-tree file is used only where it agrees with the diff)
and by the eval's case repositories (reviewer/evaluation/materialize.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from unidiff.errors import UnidiffParseError
from unidiff.patch import PatchedFile, PatchSet

_DEV_NULL = "/dev/null"


def decode_diff(data: bytes) -> str:
    """Diff bytes as text: UTF-8 (bad bytes kept as surrogates), or UTF-16 when it has a BOM."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    return data.removeprefix(b"\xef\xbb\xbf").decode("utf-8", "surrogateescape")


def strip_eol(text: str) -> str:
    return text.removesuffix("\n").removesuffix("\r")


def normalize(text: str | bytes) -> str:
    """CRLF -> LF, and a final newline so unidiff sees complete lines."""
    if isinstance(text, bytes):
        text = decode_diff(text)
    text = text.replace("\r\n", "\n")
    text = text if text.endswith("\n") or not text else text + "\n"
    return _split_git_headers(text) if "diff --git " in text and " b/" in text else text


def _split_git_headers(text: str) -> str:
    """Rewrite `diff --git` lines whose names contain " b/" so that unidiff splits them right.

    unidiff ends the old name at the last " b/" of the line, so for the file `x b/y.py` it
    reads `diff --git a/x b/y.py b/x b/y.py` as a/x b/y.py -> b/y.py and then rejects the
    diff (the `+++` line does not match). Like git apply, take the split that agrees with
    the `+++` line, else with `rename to`/`copy to`, else the one with equal names; write
    both names C-quoted with spaces as \\040 (which _unquote reads back), and the `+++`
    line to match.
    """
    lines = text.split("\n")
    changed = False
    for i, line in enumerate(lines):
        if not line.startswith("diff --git ") or line.count(" b/") + line.count(' "b/') < 2:
            continue
        plus: tuple[int, str] | None = None
        renamed_to = None
        for j in range(i + 1, len(lines)):
            if lines[j].startswith(("diff --git ", "@@ ")):
                break
            if lines[j].startswith("+++ ") and plus is None:
                plus = (j, lines[j][4:].split("\t")[0])
            elif lines[j].startswith(("rename to ", "copy to ")):
                renamed_to = _unquote(lines[j].split(" to ", 1)[1])
        rest = line[len("diff --git "):]
        splits = [(rest[:p], rest[p + 1:]) for p in range(len(rest)) if rest.startswith((" b/", ' "b/'), p)]
        splits = [(a, b) for a, b in splits if _is_name(a, "a/") and _is_name(b, "b/")]
        if plus is not None and any(b == plus[1] for _, b in splits):
            chosen = [(a, b) for a, b in splits if b == plus[1]]
        elif renamed_to is not None:
            chosen = [(a, b) for a, b in splits if _unquote(b)[2:] == renamed_to]
        else:
            chosen = [(a, b) for a, b in splits if _unquote(a)[2:] == _unquote(b)[2:]]
        if len(chosen) != 1:
            continue  # no way to tell: leave it to unidiff (which may reject the diff)
        old, new = (_quote(_unquote(name)) for name in chosen[0])
        lines[i] = f"diff --git {old} {new}"
        if plus is not None and plus[1] == chosen[0][1]:
            lines[plus[0]] = f"+++ {new}"
        changed = True
    return "\n".join(lines) if changed else text


def _is_name(name: str, prefix: str) -> bool:
    """Whether `name` is a whole file name of a `diff --git` line: prefix/..., or quoted."""
    if name.startswith('"'):
        return name.startswith('"' + prefix) and re.fullmatch(r'"(?:[^"\\]|\\.)*"', name) is not None
    return name.startswith(prefix) and '"' not in name


def _quote(name: str) -> str:
    """git's C-style quoting, with spaces (and all non-ASCII) as octal escapes too."""
    try:
        data = name.encode("utf-8", "surrogateescape")  # undecodable bytes go back as they came
    except UnicodeEncodeError:  # a lone surrogate that did not come from a byte
        data = name.encode("utf-8", "surrogatepass")
    out = []
    for byte in data:
        ch = chr(byte)
        out.append(("\\" + ch) if ch in '"\\' else ch if 0x20 < byte < 0x7F else f"\\{byte:03o}")
    return '"' + "".join(out) + '"'


def _unquote(name: str) -> str:
    """Undo git's C-style quoting of unusual paths: "a/\\303\\244 x.py" -> a/ä x.py."""
    if len(name) < 2 or not (name.startswith('"') and name.endswith('"')):
        return name
    escapes = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}
    out, body, i = bytearray(), name[1:-1], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if re.fullmatch(r"[0-3][0-7]{2}", body[i + 1:i + 4]):
                out.append(int(body[i + 1:i + 4], 8))
                i += 4
                continue
            if nxt in escapes:
                out.append(escapes[nxt])
                i += 2
                continue
        out += ch.encode("utf-8", "surrogateescape")
        i += 1
    return out.decode("utf-8", "surrogateescape")


def clean_path(name: str | None) -> str | None:
    """A header file name as a repo-relative path; None for /dev/null."""
    name = _unquote((name or "").strip())
    if name == _DEV_NULL:
        return None
    return name[2:] if re.match(r"[abciow12]/", name) else name


def file_paths(pf: PatchedFile) -> tuple[str, str | None]:
    """(path, old_path): the new path (the old one for a deletion), and the old path or None."""
    old, new = clean_path(pf.source_file), clean_path(pf.target_file)
    return (new if new is not None else old or ""), old


def diff_lines(pf: PatchedFile) -> Iterator[tuple[str, str, int | None]]:
    """(kind, text, new line no) of every -, + and context line of the file's hunks."""
    for uh in pf:
        for line in uh:
            if line.line_type in ("+", "-", " "):
                yield line.line_type, strip_eol(line.value), line.target_line_no


def new_side(pf: PatchedFile) -> dict[int, str]:
    return {no: text for kind, text, no in diff_lines(pf) if kind != "-" and no is not None}


def new_sides(text: str) -> dict[str, dict[int, str]]:
    """Path -> {line no: text} of the new-side lines the diff shows for each file; {} for a
    diff that does not parse (parse_diff reports that)."""
    try:
        return {file_paths(pf)[0]: new_side(pf) for pf in PatchSet(normalize(text))}
    except (UnidiffParseError, ValueError):
        return {}
