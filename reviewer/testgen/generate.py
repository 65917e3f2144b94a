"""ChangedFunction -> prompt -> model (cached) -> a test module, split into single tests.

The model answers `{"plan": ..., "code": ...}` under a JSON schema (the plan first: a
small model asked for code alone writes less thought-through tests). The code is
cleaned (fences, a missing import of the function under test) and split into its
preamble (imports, helpers, fixtures) and its test functions/classes, so each test
can be judged, kept or dropped on its own and written back as one tidy file.
"""

from __future__ import annotations

import ast
import json
import re
import textwrap
from pathlib import Path
from typing import Any

from reviewer.backends import Backend
from reviewer.cache import ResultCache, cache_key
from reviewer.pipeline import CHARS_PER_TOKEN
from reviewer.prompting import PromptTemplate, load_template, messages_digest
from reviewer.testgen.extract import ChangedFunction
from reviewer.testgen.units import SplitModule, TestUnit, dedupe_test_names, merge_modules, split_module  # re-exported
from reviewer.types import Completion, Message

MAX_TOKENS = 640  # a module of 4 short tests is ~250-450 tokens; ~45 s at 14 tok/s on 2 CPU cores
TEST_CHARS = 240  # the cap on one test's code in the answer schema
STYLE_LINES = 30
STYLE_CHARS = 1500
_FENCE = re.compile(r"^\s*```[\w-]*\s*\n(.*?)\n\s*```\s*$", re.DOTALL)


def answer_schema() -> dict[str, Any]:
    """The answer's shape. Each test is its own length-capped string: greedy decoding of a
    small model sometimes falls into a loop of near-identical asserts, and the cap ends
    that loop inside one test instead of spending the whole token budget on it."""
    test = {"type": "object", "properties": {"code": {"type": "string", "maxLength": TEST_CHARS}}, "required": ["code"]}
    return {
        "type": "object",
        "properties": {
            "plan": {"type": "string", "maxLength": 160},
            "setup": {"type": "string", "maxLength": 800},
            "tests": {"type": "array", "items": test, "minItems": 1, "maxItems": 5},
        },
        "required": ["plan", "setup", "tests"],
    }


def _fill(text: str, values: dict[str, str]) -> str:
    return re.sub(r"\{\{(\w+)\}\}", lambda m: values.get(m.group(1), m.group(0)), text)


def _sections(template: PromptTemplate) -> tuple[str, str]:
    """(user, repair): tests.md keeps its repair message under `## repair` in the user section."""
    user, _, repair = template.user.partition("\n## repair\n")
    return user.strip(), repair.strip()


def find_test_style(tree: Path | None, path: str) -> tuple[str, str] | None:
    """(repo-relative path, trimmed text) of an existing test file near `path`, if any."""
    if tree is None:
        return None
    stem = Path(path).stem
    candidates: list[Path] = []
    for tests in (tree / "tests", tree / "test", tree / Path(path).parent / "tests"):
        if tests.is_dir():
            exact = tests / f"test_{stem}.py"
            if exact.is_file():
                candidates.insert(0, exact)
            candidates.extend(sorted(p for p in tests.glob("test_*.py") if p.is_file() and "__reviewer" not in p.name))
    for candidate in candidates:
        try:
            text = candidate.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if "def test" not in text:
            continue
        lines = text.splitlines()[:STYLE_LINES]
        trimmed = "\n".join(lines)[:STYLE_CHARS]
        return str(candidate.relative_to(tree)), trimmed
    return None


def _notes(fn: ChangedFunction) -> str:
    """Hints for kinds of function a small model tends to call wrongly (empty for plain ones)."""
    try:
        node = ast.parse(textwrap.dedent(fn.source)).body[0]
    except (SyntaxError, IndexError):
        return ""
    call = f"{fn.name}(...)" if fn.class_name is None else f"obj.{fn.name}(...)"
    if isinstance(node, ast.AsyncFunctionDef):
        return f"`{fn.name}` is a coroutine function: call it as `asyncio.run({call})` (import asyncio).\n"
    stack = list(ast.iter_child_nodes(node))
    while stack:
        child = stack.pop()
        if isinstance(child, (ast.Yield, ast.YieldFrom)):
            return f"`{fn.name}` is a generator: compare `list({call})` with a list, not the call itself.\n"
        if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            stack.extend(ast.iter_child_nodes(child))
    return ""


def build_messages(fn: ChangedFunction, style: tuple[str, str] | None, template: PromptTemplate | None = None,
                   budget_chars: int = 9000) -> list[Message]:
    """The chat messages asking for tests of one function (trimmed to `budget_chars`)."""
    template = template or load_template("tests")
    user, _ = _sections(template)
    if fn.existed:
        change = f"What the change did (`-` removed, `+` added, others unchanged):\n```diff\n{fn.change}\n```\n"
    else:
        change = "The function is new in this change.\n"
    style_text = ""
    if style is not None:
        style_text = (f"The project's existing tests look like this (`{style[0]}`, trimmed); follow their style:\n"
                      f"```python\n{style[1]}\n```\n")
    values = {
        "qualname": fn.qualname,
        "name": fn.qualname if fn.class_name is None else f"{fn.class_name}(...).{fn.name}",
        "path": fn.path,
        "import_line": fn.import_line or f"(not importable: put the tests next to `{fn.path}`)",
        "imports": fn.imports or "# (none)",
        "source": fn.source.replace("```", "` ` `"),
        "change": change.replace("````", "` ` ` `"),
        "style": style_text,
        "notes": _notes(fn),
    }

    def render() -> list[Message]:
        return [{"role": "system", "content": _fill(template.system, values)},
                {"role": "user", "content": _fill(user, values)}]

    messages = render()
    for key in ("style", "imports"):  # shed the optional parts first
        if sum(len(m["content"]) for m in messages) <= budget_chars:
            break
        values[key] = "" if key == "style" else "# (trimmed)"
        messages = render()
    return messages


def repair_messages(messages: list[Message], answer: str, error: str, template: PromptTemplate | None = None) -> list[Message]:
    """The conversation continued with pytest's error, asking for a fixed module."""
    template = template or load_template("tests")
    _, repair = _sections(template)
    error = "\n".join(error.strip().splitlines()[-15:])[:1500]
    return [*messages, {"role": "assistant", "content": answer}, {"role": "user", "content": _fill(repair, {"error": error})}]


def complete_cached(backend: Backend, messages: list[Message], cache: ResultCache | None,
                    max_tokens: int = MAX_TOKENS) -> tuple[Completion, bool]:
    """The model's answer, from the cache when this model already answered this exact prompt."""
    template = load_template("tests")
    key = cache_key(backend.info.sha256, template.cache_tag, messages_digest(messages), str(max_tokens))
    hit = cache.get(key) if cache else None
    if hit is not None:
        return hit, True
    completion = backend.complete(messages, answer_schema(), max_tokens)
    if cache:
        cache.put(key, completion)
    return completion, False


def prompt_fits(messages: list[Message], ctx: int, max_tokens: int = MAX_TOKENS) -> bool:
    return sum(len(m["content"]) for m in messages) <= (ctx - max_tokens) * CHARS_PER_TOKEN


_JSON_STRING = r'"((?:[^"\\]|\\.)*)"'


def _strings(text: str, key: str) -> list[str]:
    """Every complete string value of `key` in (possibly truncated) JSON text."""
    out = []
    for match in re.finditer(rf'"{key}"\s*:\s*{_JSON_STRING}', text):
        try:
            out.append(json.loads(f'"{match.group(1)}"', strict=False))
        except ValueError:
            continue
    return out


def _module(setup: str, tests: list[str]) -> str:
    units = [trim_to_valid(_uncapped(_unfence(t))).strip() for t in tests if t.strip()]
    return "\n\n\n".join(p for p in [clean_setup(_unfence(setup)).strip(), *units] if p) + "\n"


def clean_setup(setup: str) -> str:
    """The setup part made to parse: a small model writes `from m import f, import pytest` on one
    line, or is cut off by the length cap; such lines are split, and a broken tail is dropped."""
    try:
        ast.parse(setup)
        return setup
    except SyntaxError:
        pass
    fixed = re.sub(r",\s*(import |from )", r"\n\1", setup)
    fixed = "\n".join(re.sub(r";\s*$", "", line) for line in fixed.splitlines())
    return trim_to_valid(fixed)


def _uncapped(code: str) -> str:
    """A test that reached the length cap ends in a cut line, which may still parse (`assert find_fi`):
    drop it. "Reached" allows for a token's length: near the cap the grammar refuses a token that
    would cross it, and the model closes the string a few characters early instead."""
    return code.rsplit("\n", 1)[0] if len(code) >= TEST_CHARS - 16 and "\n" in code else code


def _unfence(code: str) -> str:
    fenced = _FENCE.match(code)
    return fenced.group(1) if fenced else code


def answer_code(text: str) -> str | None:
    """The test module in a model answer: {"setup", "tests": [{"code"}]} or {"code"}; an answer
    cut off by the token limit keeps its complete parts; bare code is taken as it is."""
    try:
        data = json.loads(text, strict=False)
    except ValueError:
        data = None
    if isinstance(data, dict):
        tests = data.get("tests")
        if isinstance(tests, list):
            codes = [t.get("code") if isinstance(t, dict) else t for t in tests]
            setup = data.get("setup") if isinstance(data.get("setup"), str) else ""
            return _module(setup, [c for c in codes if isinstance(c, str)])
        code = data.get("code")
        return _unfence(code).strip() + "\n" if isinstance(code, str) else None
    if data is None and text.lstrip().startswith("{"):  # truncated JSON
        setup, codes = _strings(text, "setup"), _strings(text, "code")
        if codes:
            return _module(setup[0] if setup else "", codes)
        return None
    return _unfence(text).strip() + "\n" if "def test" in text else None


def trim_to_valid(code: str) -> str:
    """Drop trailing lines until the code parses (an answer cut off mid-test)."""
    lines = code.splitlines()
    while lines:
        candidate = "\n".join(lines) + "\n"
        try:
            ast.parse(candidate)
            return candidate
        except SyntaxError:
            lines.pop()
    return code


def ensure_import(code: str, fn: ChangedFunction) -> str:
    """Make the tests use the real function: import it from its module (and pytest, when used).

    A small model often imports from a shortened module name (`from gcd import gcd` for
    `algorithms/gcd.py`) or pastes the function into the test module, where its tests
    would test the copy and never see a regression; both are corrected here.
    """
    if not fn.module:
        return code
    wanted = fn.class_name or fn.name
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code
    lines = code.splitlines()
    imported = False
    drop: list[tuple[int, int]] = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and any((a.asname or a.name) == wanted for a in node.names):
            imported = True
            last = fn.module.rsplit(".", 1)[-1]
            if node.module != fn.module and node.level == 0 and node.lineno == node.end_lineno and \
                    (node.module == last or fn.module.endswith(f".{node.module}")):
                line = lines[node.lineno - 1]
                lines[node.lineno - 1] = line.replace(f"from {node.module} import", f"from {fn.module} import", 1)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == wanted:
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            drop.append((start, node.end_lineno or node.lineno))
    for start, end in reversed(drop):
        del lines[start - 1:end]
    future = [n for n in tree.body if isinstance(n, ast.ImportFrom) and n.module == "__future__"]
    at = (future[-1].end_lineno or 0) if future else 0
    if not imported:
        lines.insert(at, fn.import_line)
    uses_pytest = any(isinstance(n, ast.Name) and n.id == "pytest" for n in ast.walk(tree))
    has_pytest = any(isinstance(n, ast.Import) and any((a.asname or a.name) == "pytest" for a in n.names)
                     for n in ast.walk(tree))
    if uses_pytest and not has_pytest:
        lines.insert(at, "import pytest")
    return "\n".join(lines) + "\n"


__all__ = [
    "MAX_TOKENS",
    "TEST_CHARS",
    "SplitModule",
    "TestUnit",
    "answer_code",
    "answer_schema",
    "build_messages",
    "clean_setup",
    "complete_cached",
    "dedupe_test_names",
    "ensure_import",
    "find_test_style",
    "merge_modules",
    "prompt_fits",
    "repair_messages",
    "split_module",
    "trim_to_valid",
]
