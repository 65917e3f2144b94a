"""`reviewer tests --write`: the checked tests merged into the project's test files, atomically."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

from reviewer.errors import ReviewerError
from reviewer.fsutil import atomic_write_text

if TYPE_CHECKING:
    from reviewer.testgen.suggestions import Suggestion, TestgenResult, TestgenSession


def write_file(path: Path, text: str) -> None:
    """Write `-o` reports and test files atomically (fsutil: never half a file, mode kept)."""
    try:
        atomic_write_text(path, text)
    except OSError as exc:
        raise ReviewerError(f"cannot write {path}: {exc.strerror or exc}") from None


_XFAIL = '@pytest.mark.xfail(reason={reason!r}, strict=True)\n'


def _rename(code: str, old: str, new: str) -> str:
    return re.sub(rf"^(\s*(?:async\s+)?(?:def|class)\s+){re.escape(old)}\b", rf"\g<1>{new}", code, count=1, flags=re.MULTILINE)


def _defined_names(text: str) -> set[str]:
    try:
        return {n.name for n in ast.parse(text).body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    except SyntaxError:
        return set()


def build_file(items: list[Suggestion], existing: str | None) -> tuple[str, dict[str, Suggestion]]:
    """The test file text for `items` (added to `existing` when there is one), and our test names."""
    from reviewer.testgen.units import merge_modules

    taken = _defined_names(existing or "")
    names: dict[str, Suggestion] = {}
    units: list[str] = []
    preambles = [s.preamble for s in items]
    for s in items:
        name, n = s.name, 2
        while name in taken:
            name, n = f"{s.name}_{n}", n + 1
        taken.add(name)
        unit = _rename(s.unit, s.name, name) if name != s.name else s.unit
        if s.regression:
            unit = _XFAIL.format(reason=f"reviewer: passed before the change to {s.target.qualname}, fails after it") + unit
            preambles.append(("import pytest",))
        units.append(unit)
        names[name] = s
    targets = ", ".join(dict.fromkeys(f"`{s.target.qualname}`" for s in items))
    if existing is None:
        header = f'"""Tests for {targets}, suggested by `reviewer tests` and run before they were written."""'
        return merge_modules(preambles, units, header), names
    new = merge_modules(preambles, units)
    return _append(existing, new), names


def _append(existing: str, new: str) -> str:
    """`new`'s imports after `existing`'s leading imports (if missing), the rest at the end."""
    try:
        new_nodes = ast.parse(new).body
        old_nodes = ast.parse(existing).body
    except SyntaxError:
        return existing.rstrip() + "\n\n\n" + new
    new_lines = new.splitlines()
    imports = [n for n in new_nodes if isinstance(n, (ast.Import, ast.ImportFrom))]
    present = {ast.unparse(n) for n in old_nodes if isinstance(n, (ast.Import, ast.ImportFrom))}
    wanted = [ast.unparse(n) for n in imports if ast.unparse(n) not in present and
              not (isinstance(n, ast.ImportFrom) and n.module == "__future__")]
    body_start = max((n.end_lineno or 0) for n in imports) if imports else 0
    rest = "\n".join(new_lines[body_start:]).strip()
    lines = existing.rstrip().splitlines()
    at = 0
    for n in old_nodes:
        if isinstance(n, (ast.Import, ast.ImportFrom)) or (isinstance(n, ast.Expr) and n is old_nodes[0]):
            at = n.end_lineno or at
        else:
            break
    lines[at:at] = wanted
    return "\n".join(lines) + "\n\n\n" + rest + "\n"


def write_tests(session: TestgenSession, result: TestgenResult, root: Path, dest: str,
                include_regressions: bool) -> list[tuple[str, int]]:
    """Write the passing (and optionally the regression-revealing) tests, after running the final file."""
    chosen = [s for s in result.suggestions if s.status == "passed" or (include_regressions and s.regression)]
    groups: dict[str, list[Suggestion]] = defaultdict(list)
    for s in chosen:
        groups[dest or s.path].append(s)
    written: list[tuple[str, int]] = []
    for rel, items in groups.items():
        target = Path(rel) if Path(rel).is_absolute() else root / rel
        existing = target.read_text(encoding="utf-8") if target.is_file() else None
        text, names = build_file(items, existing)
        in_tree = str(target.relative_to(root)) if target.is_relative_to(root) else rel
        if session.tree is not None:
            verified = False
            for _attempt in range(3):  # run the file as it will be written; drop what does not hold up
                records = session.check_file(in_tree, text)
                good = [s for name, s in names.items()
                        if name in records and records[name].status == ("xfailed" if s.regression else "passed")]
                items = good
                if len(good) == len(names) or not good:
                    verified = bool(good)
                    break
                text, names = build_file(items, existing)
            if not verified:
                items = []
        if not items:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        write_file(target, text)
        written.append((str(target), len(items)))
    return written


__all__ = ["build_file", "write_file", "write_tests"]
