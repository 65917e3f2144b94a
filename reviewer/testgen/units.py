"""A generated test module as single tests and back: split into preamble and tests, merged into one file."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class TestUnit:
    """One top-level test (function or Test class) of a generated module."""

    __test__ = False

    name: str
    code: str
    lineno: int


@dataclass(frozen=True)
class SplitModule:
    """A test module as its shared preamble (imports, helpers, fixtures) and its tests."""

    preamble: tuple[str, ...]
    tests: tuple[TestUnit, ...]

    def standalone(self, unit: TestUnit) -> str:
        """The preamble plus one test: code that runs on its own."""
        return "\n\n".join([*self.preamble, unit.code]).strip() + "\n"


def dedupe_test_names(code: str) -> str:
    """Rename a repeated top-level test name (`test_x` -> `test_x_2`): Python keeps only the last
    definition, so the earlier test would silently never run."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code
    lines = code.splitlines()
    seen: set[str] = set()
    for node in tree.body:
        if not is_test_node(node):
            continue
        name = node.name  # type: ignore[attr-defined]
        new, n = name, 2
        while new in seen:
            new, n = f"{name}_{n}", n + 1
        seen.add(new)
        if new != name:
            lines[node.lineno - 1] = re.sub(rf"\b{re.escape(name)}\b", new, lines[node.lineno - 1], count=1)
    return "\n".join(lines) + "\n"


def is_test_node(node: ast.stmt) -> bool:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return node.name.startswith("test")
    return isinstance(node, ast.ClassDef) and node.name.startswith("Test")


def split_module(code: str) -> SplitModule | None:
    """Split a module into preamble and tests; None when it does not parse."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    lines = code.splitlines()
    preamble: list[str] = []
    tests: list[TestUnit] = []
    for node in tree.body:
        start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        text = "\n".join(lines[start - 1:node.end_lineno or node.lineno])
        if is_test_node(node):
            tests.append(TestUnit(node.name, text, start))  # type: ignore[attr-defined]
        elif text.strip():
            preamble.append(text)
    return SplitModule(tuple(preamble), tuple(tests))


def merge_modules(preambles: list[tuple[str, ...]], units: list[str], header: str = "") -> str:
    """One test file from several generated modules: imports first (deduplicated), then
    helpers (the first definition of a name wins), then the tests."""
    future: list[str] = []
    imports: list[str] = []
    helpers: list[str] = []
    defined: set[str] = set()
    for preamble in preambles:
        for block in preamble:
            try:
                nodes = ast.parse(block).body
            except SyntaxError:
                continue
            node = nodes[0] if len(nodes) == 1 else None
            if isinstance(node, ast.ImportFrom) and node.module == "__future__":
                target = future
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                target = imports
            else:
                names = {n.name for n in nodes if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
                names |= {t.id for n in nodes if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
                if names & defined:
                    continue
                defined |= names
                target = helpers
            if block not in target:
                target.append(block)
    parts = [header.rstrip()] if header else []
    if future or imports:
        parts.append("\n".join([*future, *imports]))
    parts.extend(helpers)
    parts.extend(units)
    return "\n\n\n".join(p for p in parts if p.strip()) + "\n"
