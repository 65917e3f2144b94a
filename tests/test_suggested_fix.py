"""Bug claims whose suggested fix the code already reads as (reviewer/suggested_fix.py, grounding rule 6)."""

from dataclasses import replace

import pytest
from helpers import make_hunk, write_jsonl

from reviewer.backends.fake import FakeBackend
from reviewer.grounding import FIX_PRESENT_NOTE, ground_present_fixes
from reviewer.pipeline import run_review
from reviewer.suggested_fix import Proposal, already_applied, proposals, reads_as
from reviewer.types import Category, Finding, ParsedDiff, Severity


@pytest.mark.parametrize("text, expected", [
    ("Change `x > pivot` to `x >= pivot`.", (Proposal("x > pivot", "x >= pivot"),)),
    ("Replace `{0}` with `galaxy_type` in the string.", (Proposal("{0}", "galaxy_type"),)),
    ("Change the line to `return end - start`.", (Proposal(None, "return end - start"),)),
    ("The range should be `range(0, r + 1)`.", (Proposal(None, "range(0, r + 1)"),)),
    ("Add a check for the queue being empty.", ()),
    ("Use `hmac.compare_digest(a, b)`.", ()),  # "use" names an API, not the code the line should read
])
def test_proposals_are_the_backticked_code_after_a_verb_of_change(text: str, expected: tuple[Proposal, ...]) -> None:
    assert proposals(text) == expected


@pytest.mark.parametrize("line, code, expected", [
    ("    greater = quicksort([x for x in arr[1:] if x >= pivot])", "x >= pivot", True),
    ("    for c in range(0, r + 1):", "for c in range(0, r + 1):", True),
    ("    return end-start", "return end - start", True),  # whitespace does not matter, tokens do
    ("    if x >= pivot + 1:", "x >= pivot", False),  # the suggestion drops the `+ 1`: a real change
    ("    out = foo(y)[0]", "out = foo(y)", False),  # and here the `[0]`
    ("    out = self.foo(y)", "foo(y)", False),  # a method of another object
    ("    total = 0", "total", False),  # one token says nothing
    ("    x > pivot", "x >= pivot", False),
])
def test_reads_as_needs_the_code_as_a_whole_expression_or_statement(line: str, code: str, expected: bool) -> None:
    assert reads_as(line, code) is expected


def test_already_applied_needs_the_replaced_code_gone() -> None:
    line = "    if x >= pivot:"
    assert already_applied("Change `x > pivot` to `x >= pivot`.", [line]) == "x >= pivot"
    # Both in the flagged lines: the model may mean another occurrence, so no contradiction.
    assert already_applied("Change `a = 1` to `a = 1, 2`.", ["    a = 1, 2  # a = 1"]) is None
    assert already_applied("Change `x >= pivot` to `x > pivot`.", [line]) is None
    assert already_applied(None, [line]) is None and already_applied("", [line]) is None


QUICKSORT = make_hunk(path="quicksort.py", before=("    lesser = quicksort([x for x in arr[1:] if x < pivot])",),
                      removed=("    greater = quicksort([x for x in arr[1:] if x > pivot])",),
                      added=("    greater = quicksort([x for x in arr[1:] if x >= pivot])",), after=())


def claim(suggestion: str, category: Category = Category.BUG, line: int = 11) -> Finding:
    return Finding("quicksort.py", line, line, category, Severity.HIGH, "Incorrect comparison",
                   "The comparison `x > pivot` should be `x >= pivot`.", suggestion)


def test_a_bug_claim_whose_fix_is_the_flagged_code_is_lowered_with_a_note() -> None:
    (f,) = ground_present_fixes((claim("Change `x > pivot` to `x >= pivot`."),), QUICKSORT)
    assert f.severity is Severity.LOW
    assert f.message.endswith(FIX_PRESENT_NOTE.format(code="x >= pivot"))


def test_claims_the_rule_leaves_alone() -> None:
    real = claim("Change `x >= pivot` to `x > pivot`.")  # proposes a different line: a real claim
    security = claim("Change `x > pivot` to `x >= pivot`.", category=Category.SECURITY)
    elsewhere = claim("Change `x > pivot` to `x >= pivot`.", line=10)  # line 10 is `lesser`, a context line
    analyzer = replace(claim("Change `x > pivot` to `x >= pivot`."), source="ruff")
    kept = (real, security, elsewhere, analyzer)
    assert ground_present_fixes(kept, QUICKSORT) == kept


def test_the_review_reports_the_self_contradicting_claim_as_no_alarm(config) -> None:
    answer = {"analysis": "", "findings": [{"line": 11, "category": "bug", "severity": "high",
                                            "title": "Incorrect comparison", "message": "m",
                                            "suggestion": "Change `x > pivot` to `x >= pivot`."}]}
    (f,) = run_review(ParsedDiff((QUICKSORT,)), FakeBackend(responses=[answer]), config, cache=None).findings
    assert (f.category, f.severity) == (Category.BUG, Severity.LOW)


def test_bench_replay_restores_and_regrounds_the_claim(tmp_path, capsys) -> None:
    from bench import grounding_replay as replay
    diff = ("diff --git a/q.py b/q.py\n--- a/q.py\n+++ b/q.py\n@@ -1,2 +1,2 @@\n def f(x, pivot):\n"
            "-    return x > pivot\n+    return x >= pivot\n")
    cases = [{"id": f"c{i}", "source": "QuixBugs", "label": "clean", "category": "bug", "diff": diff} for i in (1, 2)]
    write_jsonl(tmp_path / "cases.jsonl", cases)
    made = {"path": "q.py", "line": 2, "end_line": 2, "category": "bug", "severity": "high", "title": "Wrong",
            "message": "m", "suggestion": "Change `x > pivot` to `x >= pivot`", "source": "model"}
    lowered = {**made, "severity": "low", "message": "m " + FIX_PRESENT_NOTE.format(code="x >= pivot")}
    write_jsonl(tmp_path / "results.jsonl", [{"id": "c1", "findings": [made]}, {"id": "c2", "findings": [lowered]}])
    assert replay.main([str(tmp_path / "cases.jsonl"), "--results", str(tmp_path / "results.jsonl"), "--hints"]) == 0
    out = capsys.readouterr().out
    assert "| as the model made them | - / 100% (2/2) | - | - / 100% (2/2) |" in out
    assert "| and hardcoded-path / stored-digest claims lowered | - / 100% (2/2) | - | - / 100% (2/2) |" in out
    assert "| and bug claims whose fix is already there lowered | - / 0% (0/2) | - | - / 0% (0/2) |" in out
