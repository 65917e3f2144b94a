"""Which Python functions a diff changed, and what a test writer needs to know about them.

Pure: a ParsedDiff (plus, optionally, the full new text of files) in, ChangedFunction
values out. The new side of a file comes from `ParsedDiff.sources` (git, or a working
tree that agrees with the diff); without it, from the hunks when they show the whole
file (a new file, or a diff made with full context). The old side is rebuilt from the
new side and the hunks, so a diff alone is enough to test "before" and "after".
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from reviewer.context import is_test_file
from reviewer.types import DiffLine, Hunk, ParsedDiff

MAX_FUNCTION_LINES = 150  # longer functions are not sent to the model (they would not fit its window)


@dataclass(frozen=True)
class ChangedFunction:
    """A function or method the diff added or modified, as it is in the new file.

    `start`..`end` span the definition (decorators included); `lineno` is the `def` line;
    `anchor` is the new-file line a finding about it is put on: the first added line
    inside it, else the line above its first removal (both are lines the diff shows);
    `existed` says whether the old file had it.
    """

    path: str
    module: str | None  # dotted import path, None when the path is not importable
    qualname: str  # "func" or "Class.method"
    name: str
    class_name: str | None
    lineno: int
    start: int
    end: int
    anchor: int
    source: str
    signature: str
    docstring: str | None
    imports: str
    change: str  # the diff lines inside the function, "-"/"+"/" " marked
    existed: bool

    @property
    def import_line(self) -> str:
        return f"from {self.module} import {self.class_name or self.name}" if self.module else ""

    @property
    def target(self) -> str:
        return f"{self.path}::{self.qualname}"


def is_python(path: str) -> bool:
    return path.endswith(".py")


def module_name(path: str) -> str | None:
    """The dotted name a repo-relative path imports as (src/ layout understood), or None."""
    parts = list(PurePosixPath(path).with_suffix("").parts)
    if parts and parts[0] == "src" and len(parts) > 1:
        parts = parts[1:]
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    if not parts or not all(p.isidentifier() for p in parts):
        return None
    return ".".join(parts)


def _dedupe(lines: Iterable[DiffLine]) -> list[DiffLine]:
    seen: set[tuple[str, int | None, int | None]] = set()
    out = []
    for ln in lines:
        key = (ln.kind, ln.old_no, ln.new_no)
        if key not in seen:
            seen.add(key)
            out.append(ln)
    return out


def file_hunks(parsed: ParsedDiff, path: str) -> list[Hunk]:
    return [h for h in parsed.hunks if h.path == path]


def new_text_from_hunks(hunks: Sequence[Hunk]) -> list[str] | None:
    """The new file as the hunks show it, when they show it from line 1 without a gap.

    True for a new file and for a diff made with full context (`git diff -U99999`); for
    other diffs the new side is not known and None is returned. (A hunk that starts at
    line 1 of a longer file cannot be told apart: its function is then seen truncated.)
    """
    lines = sorted((ln for ln in _dedupe(ln for h in hunks for ln in h.lines) if ln.kind != "-"),
                   key=lambda ln: ln.new_no or 0)
    numbers = [ln.new_no for ln in lines]
    if not lines or numbers != list(range(1, len(lines) + 1)):
        return None
    return [ln.text for ln in lines]


def old_text(new_lines: Sequence[str], hunks: Sequence[Hunk]) -> list[str] | None:
    """The old file rebuilt from the new one and the diff; None when they disagree."""
    diff_lines = _dedupe(ln for h in hunks for ln in h.lines)
    added = {ln.new_no for ln in diff_lines if ln.kind == "+"}
    removed = {ln.old_no: ln.text for ln in diff_lines if ln.kind == "-" and ln.old_no is not None}
    context = {ln.old_no: ln.text for ln in diff_lines if ln.kind == " " and ln.old_no is not None}
    old_len = len(new_lines) - len(added) + len(removed)
    out: list[str] = []
    o = n = 1
    while o <= old_len:
        if o in removed:
            out.append(removed[o])
            o += 1
        elif n in added:
            n += 1
        else:
            if n > len(new_lines) or (o in context and context[o] != new_lines[n - 1]):
                return None
            out.append(new_lines[n - 1])
            o += 1
            n += 1
    return out


def _positions(hunk: Hunk) -> Iterable[tuple[DiffLine, int]]:
    """Each diff line with its new-file position; a removed line sits on the line above it."""
    previous = hunk.new_start - 1 if hunk.new_len else hunk.new_start  # an empty side starts at the line before
    for ln in hunk.lines:
        if ln.new_no is not None:
            previous = ln.new_no
        yield ln, previous


def touched_lines(hunks: Sequence[Hunk]) -> set[int]:
    """New-file lines the change touches: added lines, and for each removal the line above it."""
    return {pos for h in hunks for ln, pos in _positions(h) if ln.kind != " " and pos > 0}


def _definitions(tree: ast.Module) -> Iterable[tuple[ast.FunctionDef | ast.AsyncFunctionDef, str | None]]:
    """Top-level functions and the methods of top-level classes (nested ones belong to these)."""
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node, None
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    yield item, node.name


def _imports(tree: ast.Module, lines: Sequence[str]) -> str:
    out = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            out.extend(lines[node.lineno - 1:(node.end_lineno or node.lineno)])
    return "\n".join(out)


def _signature(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    prefix = "async def" if isinstance(node, ast.AsyncFunctionDef) else "def"
    returns = f" -> {ast.unparse(node.returns)}" if node.returns else ""
    return f"{prefix} {node.name}({ast.unparse(node.args)}){returns}"


def _change(hunks: Sequence[Hunk], start: int, end: int) -> str:
    """The diff lines inside new lines start..end, marked "-", "+" or " "."""
    return "\n".join(f"{ln.kind if ln.kind in '+-' else ' '} {ln.text}"
                     for h in hunks for ln, pos in _positions(h) if start <= pos <= end)


def _parse(lines: Sequence[str]) -> ast.Module | None:
    try:
        return ast.parse("\n".join(lines) + "\n")
    except (SyntaxError, ValueError):
        return None


def functions_in(
    path: str,
    new_lines: Sequence[str],
    hunks: Sequence[Hunk],
    old_lines: Sequence[str] | None,
) -> list[ChangedFunction]:
    """The functions of one new file that the hunks touch."""
    tree = _parse(new_lines)
    if tree is None:
        return []
    old_names: set[str] = set()
    old_tree = _parse(old_lines) if old_lines is not None else None
    if old_tree is not None:
        old_names = {f"{cls}.{fn.name}" if cls else fn.name for fn, cls in _definitions(old_tree)}
    touched = touched_lines(hunks)
    imports = _imports(tree, new_lines)
    out = []
    for node, cls in _definitions(tree):
        start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        end = node.end_lineno or node.lineno
        inside = sorted(n for n in touched if start <= n <= end)
        if not inside or end - start + 1 > MAX_FUNCTION_LINES:
            continue
        added = {ln.new_no for h in hunks for ln in h.lines if ln.kind == "+"}
        anchor = next((n for n in inside if n in added), inside[0])  # a line the diff shows
        qualname = f"{cls}.{node.name}" if cls else node.name
        out.append(ChangedFunction(
            path=path,
            module=module_name(path),
            qualname=qualname,
            name=node.name,
            class_name=cls,
            lineno=node.lineno,
            start=start,
            end=end,
            anchor=anchor,
            source="\n".join(new_lines[start - 1:end]),
            signature=_signature(node),
            docstring=ast.get_docstring(node),
            imports=imports,
            change=_change(hunks, start, end),
            existed=qualname in old_names,
        ))
    return out


@dataclass(frozen=True)
class FileVersions:
    """A changed Python file: its new text and, when it existed, its old text."""

    path: str
    new: tuple[str, ...]
    old: tuple[str, ...] | None


def changed_files(parsed: ParsedDiff, sources: Mapping[str, Sequence[str]] | None = None) -> list[FileVersions]:
    """The changed non-test Python files whose new text is known (see the module docstring)."""
    out = []
    for path in dict.fromkeys(h.path for h in parsed.hunks):
        if not is_python(path) or is_test_file(path):
            continue
        hunks = file_hunks(parsed, path)
        new = (sources or {}).get(path) or parsed.sources.get(path) or new_text_from_hunks(hunks)
        if new is None:
            continue
        is_new_file = all(h.old_path is None for h in hunks)
        old = None if is_new_file else old_text(new, hunks)
        out.append(FileVersions(path, tuple(new), tuple(old) if old is not None else None))
    return out


def changed_functions(parsed: ParsedDiff, sources: Mapping[str, Sequence[str]] | None = None) -> list[ChangedFunction]:
    """Every added or modified function/method in the diff's Python files, in diff order."""
    out = []
    for f in changed_files(parsed, sources):
        out.extend(functions_in(f.path, f.new, file_hunks(parsed, f.path), f.old))
    return out


__all__ = ["ChangedFunction", "FileVersions", "changed_files", "changed_functions", "functions_in", "is_test_file",
           "module_name", "new_text_from_hunks", "old_text", "touched_lines"]
