"""Rule 2 (reviewer/grounding/lint_echoes.py): a model finding that repeats a ruff hint keeps
ruff's severity."""

from dataclasses import replace

import pytest
from helpers import make_finding, make_hunk, write_jsonl

from reviewer.backends.fake import FakeBackend
from reviewer.grounding import ECHO_NOTE, ground_echoed_hints
from reviewer.grounding import lint_echoes as rule
from reviewer.grounding.facts import FileFacts
from reviewer.grounding.rule import Evidence
from reviewer.pipeline import run_review
from reviewer.types import Category, Finding, ParsedDiff, Severity

PLAIN = make_hunk(removed=("    total = 0",), added=("    total = 1",))  # added line 11 touches nothing


UNUSED = replace(make_finding(line=11, severity=Severity.LOW, category=Category.BUG,
                              title="Local variable `total` is assigned to but never used (F841)"),
                 message="ruff F841: Local variable `total` is assigned to but never used", source="ruff")


def model_bug(title: str, severity: Severity = Severity.HIGH, line: int = 11) -> Finding:
    return replace(make_finding(line=line, severity=severity, category=Category.BUG, title=title), source="model")


@pytest.mark.parametrize("title", [
    "Local variable 'total' is assigned to but never used",
    "Unused local variable 'total'",
    "Variable total never used",
])
def test_a_model_finding_that_repeats_a_ruff_hint_keeps_ruffs_severity(title: str) -> None:
    (f,) = ground_echoed_hints((model_bug(title),), (UNUSED,))
    assert f.severity is Severity.LOW and f.message.endswith(ECHO_NOTE) and f.title == title


def test_findings_that_are_not_echoes_keep_their_severity() -> None:
    other_claim = model_bug("Wrong accumulator returned: total is reset")
    other_line = model_bug("Local variable 'total' is assigned to but never used", line=12)
    other_category = replace(model_bug("Local variable 'total' is assigned to but never used"), category=Category.STYLE)
    bandit_hint = replace(UNUSED, source="bandit")  # bandit's context-free rating is the model's to judge
    already_low = model_bug("Unused local variable 'total'", severity=Severity.LOW)
    for finding in (other_claim, other_line, other_category, already_low):
        assert ground_echoed_hints((finding,), (UNUSED,)) == (finding,)
    assert ground_echoed_hints((model_bug("Unused local variable 'total'"),), (bandit_hint,))[0].severity is Severity.HIGH
    assert ground_echoed_hints((UNUSED,), (UNUSED,)) == (UNUSED,)  # the analyzer's own finding


def test_the_review_reports_the_echo_at_ruffs_severity_so_it_is_no_alarm(config) -> None:
    answer = {"analysis": "", "findings": [{"line": 11, "category": "bug", "severity": "high",
                                            "title": "Local variable 'total' is assigned to but never used",
                                            "message": "m", "suggestion": ""}]}
    backend = FakeBackend(responses=[answer])
    review = run_review(ParsedDiff((PLAIN,)), backend, config, cache=None, hints=(UNUSED,))
    assert "never used" in backend.calls[0][1]["content"]  # the model was shown the hint
    (f,) = review.findings  # merged with its ruff twin: one finding, the model's wording
    assert (f.category, f.severity, f.source) == (Category.BUG, Severity.LOW, "model")
    assert f.message == f"m {ECHO_NOTE}"


def test_bench_replay_recomputes_hints_and_caps_echoes(tmp_path, capsys) -> None:
    """With --hints the replay runs ruff on each case as `reviewer eval` does and caps echoes."""
    from bench import grounding_replay as replay
    diff = ("diff --git a/a.py b/a.py\nnew file mode 100644\n--- /dev/null\n+++ b/a.py\n@@ -0,0 +1,3 @@\n"
            "+def f():\n+    total = 1\n+    return 2\n")
    cases = [{"id": f"c{i}", "source": "QuixBugs", "label": "clean", "category": "bug", "diff": diff} for i in (1, 2)]
    write_jsonl(tmp_path / "cases.jsonl", cases)
    echo = {"path": "a.py", "line": 2, "end_line": 2, "category": "bug", "severity": "high",
            "title": "Local variable 'total' is assigned to but never used", "message": "m", "source": "model"}
    results = [{"id": "c1", "findings": [echo]},  # written before the echo rule existed
               {"id": "c2", "findings": [{**echo, "severity": "low", "message": f"m {ECHO_NOTE}"}]}]
    write_jsonl(tmp_path / "results.jsonl", results)
    assert replay.main([str(tmp_path / "cases.jsonl"), "--results", str(tmp_path / "results.jsonl"), "--hints"]) == 0
    out = capsys.readouterr().out
    assert "| security claims grounded | - / 100% (2/2) | - | - / 100% (2/2) |" in out
    assert "| and lint echoes capped | - / 0% (0/2) | - | - / 0% (0/2) |" in out
    assert "| and claims on prose lowered | - / 0% (0/2) | - | - / 0% (0/2) |" in out


def test_the_rule_caps_echoes_of_the_hints_it_is_given() -> None:
    echo = model_bug("Unused local variable 'total'")
    assert rule.applies((echo,))
    assert rule.apply((echo,), Evidence(PLAIN, (UNUSED,), FileFacts(None)))[0].severity is Severity.LOW
    assert rule.apply((echo,), Evidence(PLAIN, (), FileFacts(None))) == (echo,)
