"""Rule 3 (reviewer/grounding/prose.py): claims on comments, docstrings and blank lines are
lowered; which lines are prose (reviewer/grounding/facts.py)."""

from dataclasses import replace

import pytest
from helpers import make_finding, make_hunk, write_jsonl

from reviewer.backends.fake import FakeBackend
from reviewer.grounding import PROSE_NOTE, ground_prose_claims, hunk_prose, prose_lines
from reviewer.grounding import prose as rule
from reviewer.grounding.facts import FileFacts
from reviewer.grounding.rule import Evidence
from reviewer.pipeline import run_review
from reviewer.types import Category, Finding, Hunk, ParsedDiff, Severity


def model_bug(title: str, severity: Severity = Severity.HIGH, line: int = 11) -> Finding:
    return replace(make_finding(line=line, severity=severity, category=Category.BUG, title=title), source="model")


MODULE = (
    '"""Module docstring.',            # 1
    "",                                 # 2
    "**Echoes of a lint.** prose",      # 3: inside the docstring
    '"""',                              # 4
    "",                                 # 5
    "import os  # a comment",           # 6
    "# only a comment",                 # 7
    "def f(x):",                        # 8
    '    """One line."""',              # 9
    '    q = """',                      # 10: a string that is assigned: code
    "    SELECT 1",                     # 11
    '    """',                          # 12
    "    return x",                     # 13
)


def test_prose_lines_are_blank_comment_and_docstring_lines() -> None:
    assert prose_lines(MODULE, "python") == {1, 2, 3, 4, 5, 7, 9}


def test_prose_lines_of_a_file_that_does_not_tokenize_are_blank_and_comment_lines() -> None:
    assert prose_lines(('"""never closed', "x = 1", "# c", ""), "python") == {3, 4}
    assert prose_lines(("int x; // c", "// only", "  "), "c") == {2, 3}


def _module_hunk() -> Hunk:
    return make_hunk(path="m.py", removed=(), added=MODULE, before=(), after=(), start=1)


@pytest.mark.parametrize("line, lowered", [(3, True), (7, True), (9, True), (11, False), (13, False), (6, False)])
def test_a_bug_claim_on_prose_is_lowered(line: int, lowered: bool) -> None:
    hunk = _module_hunk()
    claim = model_bug("Repeating ruff hint", line=line)
    (f,) = ground_prose_claims((claim,), hunk_prose(hunk, prose_lines(MODULE, "python")))
    assert (f.severity is Severity.LOW) is lowered
    assert f.message.endswith(PROSE_NOTE) is lowered


def test_without_the_whole_file_only_blank_and_comment_lines_are_prose() -> None:
    assert hunk_prose(_module_hunk(), None) == {2, 5, 7}


def test_the_review_lowers_a_claim_on_a_docstring_line_when_it_has_the_file(config) -> None:
    answer = {"analysis": "", "findings": [{"line": 3, "category": "bug", "severity": "high",
                                            "title": "Repeating ruff hint", "message": "m", "suggestion": ""}]}
    parsed = ParsedDiff((_module_hunk(),), sources={"m.py": MODULE})
    (f,) = run_review(parsed, FakeBackend(responses=[answer]), config, cache=None).findings
    assert f.severity is Severity.LOW
    (f,) = run_review(ParsedDiff((_module_hunk(),)), FakeBackend(responses=[answer]), config, cache=None).findings
    assert f.severity is Severity.HIGH  # without the file, line 3 could be code


def test_bench_replay_lowers_claims_on_docstrings(tmp_path, capsys) -> None:
    from bench import grounding_replay as replay
    diff = ("diff --git a/a.py b/a.py\nnew file mode 100644\n--- /dev/null\n+++ b/a.py\n@@ -0,0 +1,4 @@\n"
            '+def f():\n+    """Returns two:\n+    the answer."""\n+    return 2\n')
    case = {"id": "c1", "source": "QuixBugs", "label": "clean", "category": "bug", "diff": diff}
    write_jsonl(tmp_path / "cases.jsonl", [case])
    claim = {"path": "a.py", "line": 3, "end_line": 3, "category": "bug", "severity": "high",
             "title": "Wrong answer", "message": "m", "source": "model"}
    write_jsonl(tmp_path / "results.jsonl", [{"id": "c1", "findings": [claim]}])
    assert replay.main([str(tmp_path / "cases.jsonl"), "--results", str(tmp_path / "results.jsonl"), "--hints"]) == 0
    out = capsys.readouterr().out
    assert "| and lint echoes capped | - / 100% (1/1) | - | - / 100% (1/1) |" in out
    assert "| and claims on prose lowered | - / 0% (0/1) | - | - / 0% (0/1) |" in out


def test_the_rule_runs_only_with_an_alarm_and_reads_prose_from_the_whole_file() -> None:
    claim = model_bug("Repeating ruff hint", line=3)
    assert not rule.applies((replace(claim, severity=Severity.LOW),)) and rule.applies((claim,))
    (f,) = rule.apply((claim,), Evidence(_module_hunk(), (), FileFacts({"m.py": MODULE})))
    assert f.severity is Severity.LOW and f.message.endswith(PROSE_NOTE)
    assert rule.apply((claim,), Evidence(_module_hunk(), (), FileFacts(None))) == (claim,)
