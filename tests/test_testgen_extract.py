"""Which functions a diff changed (reviewer.testgen.extract): pure, no model, no sandbox."""

from __future__ import annotations

import difflib

from conftest import git
from hypothesis import given, settings
from hypothesis import strategies as st

from reviewer.config import Config
from reviewer.diff import DiffInput, DiffSource, parse_diff
from reviewer.session import parse_source
from reviewer.testgen.extract import changed_files, changed_functions, module_name, new_text_from_hunks, old_text

OLD = '''\
import math
from collections import deque


def area(r):
    """Area of a circle of radius r."""
    return math.pi * r * r


class Stack:
    def __init__(self):
        self.items = []

    def push(self, x):
        self.items.append(x)

    def pop(self):
        return self.items.pop()


def untouched(x):
    return x
'''

NEW = '''\
import math
from collections import deque


def area(r):
    """Area of a circle of radius r."""
    return 2 * math.pi * r


class Stack:
    def __init__(self):
        self.items = []

    def push(self, x):
        self.items.append(x)

    def pop(self):
        if not self.items:
            return None
        return self.items.pop()


def untouched(x):
    return x


def added(a: int, b: int = 2) -> int:
    return a * b
'''


def udiff(old: str, new: str, path: str = "geo/shapes.py", context: int = 3) -> str:
    lines = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                 f"a/{path}", f"b/{path}", n=context)
    return f"diff --git a/{path} b/{path}\n" + "".join(lines)


def parse(text: str, sources: dict | None = None):
    reader = (lambda p: (sources or {}).get(p))
    return parse_diff(DiffInput(text, None, reader), Config())


def test_changed_functions_from_staged_git_diff(make_repo) -> None:
    repo = make_repo({"geo/shapes.py": OLD, "README.md": "x\n"})
    (repo / "geo" / "shapes.py").write_text(NEW)
    git(repo, "add", "-A")
    parsed = parse_source(DiffSource("staged"), repo, Config())
    assert "geo/shapes.py" in parsed.sources  # git gave the whole new file
    fns = {f.qualname: f for f in changed_functions(parsed)}
    assert set(fns) == {"area", "Stack.pop", "added"}
    area, pop, added = fns["area"], fns["Stack.pop"], fns["added"]
    assert area.existed and pop.existed and not added.existed
    assert area.module == "geo.shapes" and area.import_line == "from geo.shapes import area"
    assert pop.import_line == "from geo.shapes import Stack" and pop.class_name == "Stack"
    assert area.docstring == "Area of a circle of radius r."
    assert added.signature == "def added(a: int, b: int=2) -> int"
    assert "import math" in area.imports and "from collections import deque" in area.imports
    assert area.lineno == 5 and area.anchor == 7  # the added line
    assert "- " + "    return math.pi * r * r" in area.change and "+ " + "    return 2 * math.pi * r" in area.change
    assert pop.source.startswith("    def pop(self):") and pop.end == pop.lineno + 3
    assert area.target == "geo/shapes.py::area"


def test_removal_only_change_is_anchored_on_the_line_above() -> None:
    old = "def f(x):\n    y = x + 1\n    y = y * 2\n    return y\n"
    new = "def f(x):\n    y = x + 1\n    return y\n"
    parsed = parse(udiff(old, new, "f.py"), {"f.py": new.splitlines()})
    (fn,) = changed_functions(parsed)
    assert fn.qualname == "f" and fn.anchor == 2  # `y = x + 1`, a line the diff shows
    assert fn.anchor in {ln.new_no for h in parsed.hunks for ln in h.lines}


def test_test_files_non_python_and_unknown_new_sides_are_left_out() -> None:
    text = (udiff("def test_a():\n    pass\n", "def test_a():\n    assert 1\n", "tests/test_a.py")
            + udiff("a\n", "b\n", "notes.txt")
            + udiff("def g():\n    return 1\n" + "\n" * 20 + "x = 1\n", "def g():\n    return 1\n" + "\n" * 20 + "x = 2\n", "pkg/mod.py"))
    parsed = parse(text)  # no sources: pkg/mod.py's hunk does not start at line 1
    assert changed_files(parsed) == []


def test_full_context_diff_without_sources_gives_both_versions() -> None:
    parsed = parse(udiff(OLD, NEW, context=10_000))
    (f,) = changed_files(parsed)
    assert "\n".join(f.new) + "\n" == NEW and "\n".join(f.old or ()) + "\n" == OLD
    assert {fn.qualname for fn in changed_functions(parsed)} == {"area", "Stack.pop", "added"}


def test_new_file_has_no_old_side() -> None:
    text = ("diff --git a/pkg/fresh.py b/pkg/fresh.py\nnew file mode 100644\nindex 0000000..1111111\n"
            "--- /dev/null\n+++ b/pkg/fresh.py\n@@ -0,0 +1,2 @@\n+def fresh():\n+    return 1\n")
    parsed = parse(text)
    (f,) = changed_files(parsed)
    assert f.old is None and new_text_from_hunks(parsed.hunks) == ["def fresh():", "    return 1"]
    (fn,) = changed_functions(parsed)
    assert not fn.existed


def test_module_names() -> None:
    assert module_name("src/pkg/mod.py") == "pkg.mod"
    assert module_name("pkg/__init__.py") == "pkg"
    assert module_name("algorithms/gcd.py") == "algorithms.gcd"
    assert module_name("my-scripts/run.py") is None
    assert module_name("setup.py") == "setup"


lines_st = st.lists(st.sampled_from(["a", "b", "c", "def f():", "    return 1", ""]), max_size=30)


@settings(max_examples=150, deadline=None)
@given(old=lines_st, new=lines_st, context=st.integers(0, 4))
def test_old_text_is_rebuilt_exactly_from_new_text_and_hunks(old: list[str], new: list[str], context: int) -> None:
    old_text_, new_text_ = "".join(f"{ln}\n" for ln in old), "".join(f"{ln}\n" for ln in new)
    if old_text_ == new_text_ or not old or not new:
        return
    parsed = parse(udiff(old_text_, new_text_, "m.py", context))
    assert old_text(new, parsed.hunks) == old
