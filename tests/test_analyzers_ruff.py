"""ruff as the second analyzer (reviewer.analyzers.ruff): the real ruff binary, no model."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import SAMPLE_DIFF
from helpers import make_hunk

from reviewer import analyzers
from reviewer.analyzers import analyze
from reviewer.analyzers import ruff as ruff_analyzer
from reviewer.analyzers.ruff import RULES, WHOLE_FILE_ONLY, find_ruff, ruff_findings, selected_rules
from reviewer.cache import open_result_cache
from reviewer.config import Config
from reviewer.diff import DiffInput, parse_diff
from reviewer.prompting import render_hints
from reviewer.session import review_parsed
from reviewer.types import Category, Finding, ParsedDiff, Severity

RENAME = Path(__file__).parent / "data" / "real" / "clean_rename.diff"

pytestmark = pytest.mark.skipif(find_ruff() is None, reason="the ruff binary is not installed")


def ruff_only(parsed: ParsedDiff, cache: Any = None) -> list[Finding]:
    return [f for f in analyze(parsed, cache) if f.source == "ruff"]


def diff_parsed(text: str, reader: Any = lambda _p: None) -> ParsedDiff:
    return parse_diff(DiffInput(text, None, reader), Config())


def codes(findings: list[Finding]) -> list[str]:
    return [f.title.rsplit("(", 1)[1].rstrip(")") for f in findings]


def test_every_selected_rule_exists_and_the_selection_runs() -> None:
    for whole_file in (False, True):
        done = subprocess.run(
            [str(find_ruff()), "check", "--isolated", "--no-cache", "--output-format", "json", "--exit-zero",
             "--stdin-filename=x.py", f"--select={','.join(selected_rules(whole_file))}", "-"],
            input=b"x = 1\n", capture_output=True, check=False)
        assert (done.returncode, done.stdout.strip(), done.stderr) == (0, b"[]", b"")  # unknown codes are errors
    assert WHOLE_FILE_ONLY <= set(RULES)
    assert "F821" not in RULES and not any(code.startswith("S") for code in RULES)  # see the module docstring


def test_a_mutable_default_argument_is_flagged_on_its_line() -> None:
    hunk = make_hunk(before=("import json", ""), removed=("def load(path, seen=None):",),
                     added=("def load(path, seen=[]):",), after=("    return json.load(path)",), start=1)
    (f,) = ruff_only(ParsedDiff((hunk,)))
    assert (f.path, f.line, f.category, f.severity, f.source) == ("app/users.py", 3, Category.BUG, Severity.MEDIUM,
                                                                 "ruff")
    assert f.title.endswith("(B006)") and f.message.startswith("ruff B006: ")


def test_is_with_a_literal_is_flagged_with_the_fixed_line_as_suggestion() -> None:
    hunk = make_hunk(before=("class Form:", "    def valid(self, kind):"), removed=('        return kind == "a"',),
                     added=('        return kind is "a"',), after=(), start=20)
    (f,) = ruff_only(ParsedDiff((hunk,)))
    assert (f.line, f.severity, codes([f])) == (22, Severity.HIGH, ["F632"])
    assert f.suggestion == '        return kind == "a"'  # the real indentation, though ruff saw the snippet dedented


def test_findings_on_unchanged_lines_are_not_reported() -> None:
    hunk = make_hunk(before=("def add(item, into=[]):",), removed=("    into.append(item)",),
                     added=("    into.append(item)  # keep",), after=("    return into",), start=1)
    assert ruff_only(ParsedDiff((hunk,))) == []


def test_a_hunk_inside_a_method_gets_no_out_of_scope_findings() -> None:
    # dedented, the snippet has `return`, `yield`, `await`, a bare `raise` and `nonlocal` at module level
    added = ("        nonlocal total", "        total += await step()", "        yield total", "        raise",
             "        return total")
    hunk = make_hunk(before=("        total = 0",), removed=(), added=added, after=(), start=40)
    assert ruff_only(ParsedDiff((hunk,))) == []
    assert {"F706", "F704", "PLE0704", "PLE1142", "PLE0117"} <= WHOLE_FILE_ONLY


def test_a_hunk_inside_a_bracketed_list_is_no_useless_expression() -> None:
    # `is_int64_dtype,` dedented is a tuple statement: B018 runs on whole files only
    hunk = make_hunk(before=("    is_float_dtype,",), removed=(), added=("    is_int64_dtype,",),
                     after=("    is_integer,",), start=30)
    assert ruff_only(ParsedDiff((hunk,))) == []


def test_clean_diffs_give_no_ruff_finding() -> None:
    assert ruff_only(diff_parsed(RENAME.read_text())) == []
    assert [f.source for f in analyze(diff_parsed(SAMPLE_DIFF.read_text()))] == ["bandit"]  # the SQL injection only


def test_whole_file_rules_run_only_on_whole_files() -> None:
    new = ["def total(items):", "    count = 0", "    for item in items:", "        count += item", "    return 0"]
    diff = ("--- a/calc.py\n+++ b/calc.py\n@@ -1,5 +1,5 @@\n def total(items):\n     count = 0\n"
            "     for item in items:\n         count += item\n-    return count\n+    return 0\n")
    assert ruff_only(diff_parsed(diff)) == []  # the hunk alone: F841 needs every use of `count`
    diff2 = diff.replace("-    return count\n+    return 0\n", "-    return count\n+    unused = count\n+    return 0\n")
    diff2 = diff2.replace("@@ -1,5 +1,5 @@", "@@ -1,5 +1,6 @@")
    new2 = [*new[:4], "    unused = count", "    return 0"]
    (f,) = ruff_only(diff_parsed(diff2, reader=lambda p: new2 if p == "calc.py" else None))
    assert (f.line, codes([f]), f.severity) == (5, ["F841"], Severity.LOW)
    assert ruff_only(diff_parsed(diff2)) == []


def test_syntax_errors() -> None:
    # a repeated keyword argument parses (the compiler rejects it): flagged, from the hunk alone too
    hunk = make_hunk(before=("def call(f):",), removed=("    return f(k=1)",), added=("    return f(k=1, k=2)",),
                     after=(), start=1)
    (f,) = ruff_only(ParsedDiff((hunk,)))
    assert (f.line, f.severity, f.title) == (2, Severity.HIGH, "Duplicate keyword argument `k` (syntax error)")
    # a hunk that does not parse is not analyzed; neither is a whole file that does not parse
    # (analyzed hunk by hunk instead: the eval harness blanks what the diff does not show)
    broken = make_hunk(before=("def call(f):",), removed=("    return f(1)",), added=("    return f(1",), after=(),
                       start=1)
    assert ruff_only(ParsedDiff((broken,))) == []
    lines = ("def call(f):", "    return f(1", "", "def other(x=[]):", "    return x")
    mutable = make_hunk(before=("",), removed=("def other(x=None):",), added=("def other(x=[]):",),
                        after=("    return x",), start=3)
    parsed = ParsedDiff((broken, mutable), sources={"app/users.py": lines})
    assert codes(ruff_only(parsed)) == ["B006"]  # from the second hunk's snippet, no syntax error


def test_no_ruff_binary_gives_no_findings_and_the_review_still_works(monkeypatch: pytest.MonkeyPatch,
                                                                    tmp_path: Path) -> None:
    monkeypatch.setattr(ruff_analyzer, "find_ruff", lambda: None)
    assert ruff_findings("a.py", "def f(x=[]):\n    return x\n", whole_file=True) == []
    parsed = diff_parsed(SAMPLE_DIFF.read_text())
    assert [f.source for f in analyze(parsed)] == ["bandit"]
    review = review_parsed(parsed, Config(backend="fake", cache_dir=tmp_path / "cache"))
    assert [(f.line, f.category) for f in review.findings] == [(11, Category.SECURITY)]


def test_garbage_output_crashes_and_timeouts_give_no_findings(monkeypatch: pytest.MonkeyPatch) -> None:
    source = "def f(x=[]):\n    return x\n"
    answers: list[Any] = [
        subprocess.CompletedProcess([], 0, b"not json", b""),
        subprocess.CompletedProcess([], 0, b'{"a": 1}', b""),
        subprocess.CompletedProcess([], 0, b'[{"code": "B006"}]', b""),  # no location
        subprocess.CompletedProcess([], 2, b"", b"ruff failed"),
        subprocess.TimeoutExpired("ruff", 20),
        OSError("exec format error"),
    ]

    def fake_run(*_args: Any, **_kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        answer = answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer  # type: ignore[no-any-return]

    monkeypatch.setattr(ruff_analyzer.subprocess, "run", fake_run)
    while answers:
        assert ruff_findings("a.py", source, whole_file=False) == []


def test_ruff_results_come_from_the_cache_on_a_rerun(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    hunk = make_hunk(before=("import json",), removed=("def load(path, seen=None):",),
                     added=("def load(path, seen=[]):",), after=("    return json.load(path)",), start=1)
    cache = open_result_cache(tmp_path)
    runs: list[Any] = []
    real_run = subprocess.run

    def counting_run(*args: Any, **kwargs: Any) -> Any:
        runs.append(args)
        return real_run(*args, **kwargs)

    monkeypatch.setattr(ruff_analyzer.subprocess, "run", counting_run)
    first = analyze(ParsedDiff((hunk,)), cache)
    assert codes([f for f in first if f.source == "ruff"]) == ["B006"] and len(runs) == 1
    assert analyze(ParsedDiff((hunk,)), cache) == first and len(runs) == 1
    # a run that failed is not cached: the next review tries again
    monkeypatch.setattr(ruff_analyzer, "find_ruff", lambda: None)
    other = make_hunk(before=("import json",), removed=(), added=("def f(x={}):", "    return x"), after=(), start=1)
    assert ruff_only(ParsedDiff((other,)), cache) == []
    monkeypatch.undo()
    monkeypatch.setattr(ruff_analyzer.subprocess, "run", counting_run)
    assert codes(ruff_only(ParsedDiff((other,)), cache)) == ["B006"] and len(runs) == 2


def test_bandit_is_still_cached_under_the_shared_helper(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    parsed = diff_parsed(SAMPLE_DIFF.read_text())
    cache = open_result_cache(tmp_path)
    first = analyze(parsed, cache)

    def no_tool(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("an analyzer ran although its result was cached")

    monkeypatch.setattr(analyzers, "bandit_findings", no_tool)
    monkeypatch.setattr(ruff_analyzer.subprocess, "run", no_tool)
    assert analyze(parsed, cache) == first


def test_a_ruff_hint_renders_as_one_line_for_the_model() -> None:
    hunk = make_hunk(before=("import json",), removed=(), added=("def load(path, seen=[]):", "    return seen"),
                     after=(), start=1)
    hints = tuple(ruff_only(ParsedDiff((hunk,))))
    text = render_hints(hints)
    assert "- line 2: ruff B006: Do not use mutable data structures for argument defaults" in text
    assert "`" not in text
