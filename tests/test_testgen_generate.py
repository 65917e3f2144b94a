"""Prompt, answer parsing and module surgery for generated tests (reviewer.testgen.generate)."""

from __future__ import annotations

import ast
import json

from reviewer.backends.fake import FakeBackend
from reviewer.cache import ResultCache
from reviewer.prompting import load_template
from reviewer.testgen.extract import ChangedFunction
from reviewer.testgen.generate import (
    answer_code,
    answer_schema,
    build_messages,
    complete_cached,
    ensure_import,
    find_test_style,
    merge_modules,
    prompt_fits,
    repair_messages,
    split_module,
    trim_to_valid,
)


def make_fn(**changes: object) -> ChangedFunction:
    values: dict[str, object] = {
        "path": "algorithms/gcd.py", "module": "algorithms.gcd", "qualname": "gcd", "name": "gcd", "class_name": None,
        "lineno": 1, "start": 1, "end": 5, "anchor": 5,
        "source": "def gcd(a, b):\n    if b == 0:\n        return a\n    else:\n        return gcd(a % b, b)",
        "signature": "def gcd(a, b)", "docstring": None, "imports": "import math",
        "change": "  def gcd(a, b):\n-         return gcd(b, a % b)\n+         return gcd(a % b, b)", "existed": True,
    }
    values.update(changes)
    return ChangedFunction(**values)  # type: ignore[arg-type]


def test_template_is_versioned_and_has_a_repair_section() -> None:
    template = load_template("tests")
    assert template.name == "tests" and template.version >= 1
    assert "## repair" in template.user and "{{error}}" in template.user


def test_prompt_shows_source_change_import_and_style(tmp_path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_gcd.py").write_text("from algorithms.gcd import gcd\n\ndef test_one():\n    assert gcd(2, 4) == 2\n")
    style = find_test_style(tmp_path, "algorithms/gcd.py")
    assert style is not None and style[0] == "tests/test_gcd.py"
    system, user = build_messages(make_fn(), style)
    assert system["role"] == "system" and user["role"] == "user"
    text = user["content"]
    assert "from algorithms.gcd import gcd" in text and "return gcd(a % b, b)" in text
    assert "-         return gcd(b, a % b)" in text and "import math" in text
    assert "assert gcd(2, 4) == 2" in text and "{{" not in text and "## repair" not in text
    new_fn = build_messages(make_fn(existed=False), None)[1]["content"]
    assert "The function is new in this change." in new_fn and "existing tests" not in new_fn


def test_prompt_sheds_style_then_imports_when_too_long(tmp_path) -> None:
    style = ("tests/test_x.py", "x = 1\n" * 200)
    full = build_messages(make_fn(imports="import os\n" * 50), style, budget_chars=100_000)
    small = build_messages(make_fn(imports="import os\n" * 50), style, budget_chars=100)
    assert "x = 1" in full[1]["content"] and "x = 1" not in small[1]["content"]
    assert "# (trimmed)" in small[1]["content"]
    assert prompt_fits(full, ctx=4096) and not prompt_fits([{"role": "user", "content": "x" * 20_000}], ctx=4096)


def test_repair_continues_the_conversation_with_the_error() -> None:
    messages = build_messages(make_fn(), None)
    out = repair_messages(messages, '{"plan": "", "setup": "", "tests": []}', "E   ModuleNotFoundError: No module named 'gcd'")
    assert [m["role"] for m in out] == ["system", "user", "assistant", "user"]
    assert "No module named 'gcd'" in out[-1]["content"] and "{{error}}" not in out[-1]["content"]


def test_answer_code_accepts_the_schema_the_simple_form_and_truncation() -> None:
    answer = {"plan": "p", "setup": "from m import f",
              "tests": [{"code": "def test_a():\n    assert f(1) == 2"}, {"code": "def test_b():\n    assert f(2) == 3\n    assert f("}]}
    code = answer_code(json.dumps(answer))
    assert code is not None and "def test_a" in code and "assert f(2) == 3" in code and "assert f(\n" not in code
    ast.parse(code)
    cut = json.dumps(answer)[:-60]  # the token limit hit inside the second test
    partial = answer_code(cut)
    assert partial is not None and "def test_a" in partial and "def test_b" not in partial
    assert answer_code(json.dumps({"code": "```python\ndef test_x():\n    pass\n```"})) == "def test_x():\n    pass\n"
    assert answer_code(json.dumps({"plan": "only a plan"})) is None
    assert answer_code("not json and no tests") is None
    schema = answer_schema()
    assert list(schema["properties"]) == ["plan", "setup", "tests"]  # reasoning first


def test_trim_to_valid_drops_a_cut_off_tail() -> None:
    assert trim_to_valid("def test_a():\n    assert 1\ndef test_b(:\n") == "def test_a():\n    assert 1\n"


def test_ensure_import_adds_fixes_and_unpastes() -> None:
    fn = make_fn()
    added = ensure_import("def test_a():\n    assert gcd(2, 4) == 2\n", fn)
    assert added.splitlines()[0] == "from algorithms.gcd import gcd"
    fixed = ensure_import("from gcd import gcd\n\ndef test_a():\n    assert gcd(2, 4) == 2\n", fn)
    assert "from algorithms.gcd import gcd" in fixed and "from gcd import" not in fixed
    pasted = ensure_import("def gcd(a, b):\n    return 1\n\ndef test_a():\n    assert gcd(2, 4) == 2\n", fn)
    assert "def gcd" not in pasted and "from algorithms.gcd import gcd" in pasted
    future = ensure_import("from __future__ import annotations\ndef test_a():\n    pass\n", fn)
    assert future.splitlines()[:2] == ["from __future__ import annotations", "from algorithms.gcd import gcd"]
    method = ensure_import("def test_a():\n    assert Stack().pop() is None\n", make_fn(class_name="Stack", name="pop",
                                                                                   qualname="Stack.pop", module="ds"))
    assert method.startswith("from ds import Stack\n")
    uses_pytest = ensure_import("from algorithms.gcd import gcd\n\ndef test_a():\n    with pytest.raises(TypeError):\n"
                                "        gcd(None, 1)\n", fn)
    assert uses_pytest.startswith("import pytest\nfrom algorithms.gcd import gcd\n")


def test_split_and_merge_modules() -> None:
    code = ("import pytest\nfrom m import f\n\nclass Node:\n    pass\n\n@pytest.mark.slow\ndef test_a():\n    assert f(1)\n\n"
            "class TestGroup:\n    def test_b(self):\n        assert f(2)\n\ndef helper():\n    return 1\n")
    split = split_module(code)
    assert split is not None
    assert [t.name for t in split.tests] == ["test_a", "TestGroup"]
    assert split.tests[0].code.startswith("@pytest.mark.slow")
    assert split.preamble == ("import pytest", "from m import f", "class Node:\n    pass", "def helper():\n    return 1")
    ast.parse(split.standalone(split.tests[1]))
    assert split_module("def broken(:\n") is None
    merged = merge_modules([("import pytest", "class Node:\n    pass"), ("import pytest", "class Node:\n    x = 2", "import os")],
                           ["def test_a():\n    pass", "def test_b():\n    pass"], '"""Header."""')
    tree = ast.parse(merged)
    assert merged.startswith('"""Header."""')
    assert merged.count("import pytest") == 1 and merged.count("class Node") == 1 and "import os" in merged
    assert [n.name for n in tree.body if isinstance(n, ast.FunctionDef)] == ["test_a", "test_b"]


def test_answers_are_cached_per_model_and_prompt(tmp_path) -> None:
    cache = ResultCache(tmp_path / "r.sqlite3")
    backend = FakeBackend(responses=[{"plan": "", "setup": "", "tests": [{"code": "def test_a():\n    pass"}]}])
    messages = build_messages(make_fn(), None)
    first, hit1 = complete_cached(backend, messages, cache)
    second, hit2 = complete_cached(backend, messages, cache)
    assert (hit1, hit2) == (False, True) and first.text == second.text and len(backend.calls) == 1
    other = FakeBackend(responses=[{"plan": "", "setup": "", "tests": []}], name="other-model")
    complete_cached(other, messages, cache)
    assert len(other.calls) == 1  # another model's answer is not reused
    cache.close()


def test_setup_is_made_to_parse() -> None:
    from reviewer.testgen.generate import clean_setup

    assert clean_setup("from m import f, import pytest") == "from m import f\nimport pytest\n"
    assert clean_setup("import pytest\nclass Node:\n    def __init__(self, v):\n        self.v = v\n    def f(self") == \
        "import pytest\nclass Node:\n    def __init__(self, v):\n        self.v = v\n"
    answer = {"plan": "", "setup": "from m import f, import pytest", "tests": [{"code": "def test_a():\n    assert f()"}]}
    code = answer_code(json.dumps(answer))
    assert code is not None
    ast.parse(code)


def test_capped_tests_lose_their_cut_line_and_repeated_names_are_renamed() -> None:
    from reviewer.testgen.generate import TEST_CHARS, dedupe_test_names

    capped = "def test_a():\n    assert f(1) == 1\n    assert find_fi"
    capped += " " * (TEST_CHARS - len(capped))
    code = answer_code(json.dumps({"plan": "", "setup": "from m import f", "tests": [{"code": capped}]}))
    assert code is not None and "find_fi" not in code and "assert f(1) == 1" in code
    twice = "def test_a():\n    assert 1\n\n@mark\ndef test_a():\n    assert 2\n\ndef test_a_2():\n    pass\n"
    renamed = dedupe_test_names(twice)
    assert [n.name for n in ast.parse(renamed).body] == ["test_a", "test_a_2", "test_a_2_2"]


def test_generators_and_coroutines_get_a_hint() -> None:
    plain = build_messages(make_fn(), None)[1]["content"]
    gen_fn = make_fn(name="flatten", qualname="flatten",
                     source="def flatten(arr):\n    for x in arr:\n        def inner():\n            return 1\n        yield x")
    nested_only = make_fn(source="def f():\n    def g():\n        yield 1\n    return list(g())")
    coro = make_fn(source="async def fetch(x):\n    return x", name="fetch", qualname="fetch")
    assert "generator" not in plain and "coroutine" not in plain
    assert "`flatten` is a generator: compare `list(flatten(...))`" in build_messages(gen_fn, None)[1]["content"]
    assert "generator" not in build_messages(nested_only, None)[1]["content"]
    assert "asyncio.run(fetch(...))" in build_messages(coro, None)[1]["content"]
