"""Suggested fixes are checked before anyone sees them (reviewer/fixes/): each check, the repair, the pipeline."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from helpers import make_finding, make_hunk

from reviewer.backends.fake import FakeBackend
from reviewer.cache import ResultCache
from reviewer.fixes import check_findings
from reviewer.fixes.apply import Window, plan, window_for
from reviewer.fixes.checks import check_suggestion
from reviewer.pipeline import run_review
from reviewer.types import Category, ParsedDiff, Severity

FILE = (
    "import sqlite3",
    "",
    "",
    "def get_user(db, user_id):",
    '    cur = db.execute(f"SELECT * FROM users WHERE id = {user_id}")',
    "    return cur.fetchone()",
    "",
)
PARAMETERIZED = '    cur = db.execute("SELECT * FROM users WHERE id = ?", (user_id,))'
# What the TUI offered for the README's example before this check: the injection kept, a parameter added
BROKEN = '    cur = db.execute(f"SELECT * FROM users WHERE id = {user_id}", (user_id,))'


def finding(suggestion: str | None, line: int = 5, category: Category = Category.SECURITY) -> Any:
    return replace(make_finding(line=line, category=category), suggestion=suggestion)


def verdict(suggestion: str, source: tuple[str, ...] = FILE, line: int = 5, category: Category = Category.SECURITY,
            language: str = "python") -> Any:
    return check_suggestion(finding(suggestion, line, category), Window(1, source, True), language, None)


def test_a_parameterized_query_passes_and_carries_its_patch() -> None:
    v = verdict(PARAMETERIZED)
    assert v.passed, v.reason
    assert v.patch.startswith("--- a/app/users.py\n+++ b/app/users.py\n@@ -2,")
    assert "-    cur = db.execute(f\"SELECT" in v.patch and "+" + PARAMETERIZED in v.patch


def test_the_broken_readme_suggestion_fails_on_the_analyzers() -> None:
    v = verdict(BROKEN)
    assert (v.check, v.passed) == ("analyzers", False)
    assert "still flags the fixed line" in v.reason


def test_a_suggestion_without_indentation_gets_the_lines() -> None:
    v = verdict(PARAMETERIZED.strip())
    assert v.passed and v.replacement.new == (PARAMETERIZED,)


@pytest.mark.parametrize(("suggestion", "check"), [
    ('cur = db.execute(f"SELECT * FROM users WHERE id = {user_id}")', "restates"),
    ("    cur = db.execute(f'SELECT * FROM users WHERE id = {user_id}')", "restates"),  # the same tree
    ("Change the query to use a parameter.", "prose"),
    ("Use `db.execute(query, (user_id,))` instead", "prose"),
    ('    cur = db.execute("SELECT * FROM users WHERE id = ?", (user_id,)', "parses"),
    ("    cur = db.execute(query, (user_id,))\n  return cur", "parses"),
])
def test_failing_suggestions_name_their_check(suggestion: str, check: str) -> None:
    v = verdict(suggestion)
    assert (v.passed, v.check) == (False, check), v.reason


def test_a_fix_that_adds_a_vulnerability_fails() -> None:
    source = ("def size(path):", "    return len(open(path).read())", "")
    v = verdict("    return eval(open(path).read())", source, line=2, category=Category.BUG)
    assert (v.check, v.passed) == ("analyzers", False) and "eval" in v.reason.lower()


def test_a_suggestion_restating_the_next_line_replaces_it_instead_of_doubling_it() -> None:
    source = ("def f(xs):", "    for x in xs:", "        print(x)", "")
    f = replace(make_finding(line=2, category=Category.BUG), suggestion="    for x in reversed(xs):\n        print(x)")
    rep = plan(f, Window(1, source, True))
    assert (rep.start, rep.end) == (2, 3)


def test_a_line_outside_the_code_shown_does_not_apply() -> None:
    v = verdict(PARAMETERIZED, line=99)
    assert (v.passed, v.check) == (False, "applies")


def test_without_the_whole_file_the_hunk_is_parsed_at_its_place() -> None:
    hunk = make_hunk()  # def get_user at line 10, the f-string query at 11
    window = window_for(hunk, None)
    assert (window.first, window.whole) == (10, False)
    ok = check_suggestion(finding(PARAMETERIZED, line=11), window, "python", None)
    assert ok.passed, ok.reason
    bad = check_suggestion(finding("    cur = db.execute(", line=11), window, "python", None)
    assert (bad.passed, bad.check) == (False, "parses")


@pytest.mark.parametrize(("suggestion", "passed"), [
    ("  const q = db.query('SELECT * FROM t WHERE id = ?', [id]);", True),
    ("  const q = db.query('SELECT * FROM t WHERE id = ?', [id];", False),
])
def test_other_languages_get_a_bracket_count_over_their_tokens(suggestion: str, passed: bool) -> None:
    source = ("function get(db, id) {", "  const q = db.query(`SELECT * FROM t WHERE id = ${id}`);", "}", "")
    v = verdict(suggestion, source, line=2, language="javascript")
    assert v.passed is passed, v.reason


# -- check_findings: repair once, else drop and say why ------------------------------------------


def test_a_failed_suggestion_is_repaired_once_by_the_model() -> None:
    asked: list[str] = []

    def repair(hunk: Any, f: Any, rejected: str, reason: str, flagged: str, was_code: bool) -> str:
        asked.append(reason)
        return PARAMETERIZED

    (out,) = check_findings([finding(BROKEN)], make_hunk(), FILE, None, repair)
    assert out.suggestion == PARAMETERIZED and out.fix.status == "repaired"
    assert asked and "still flags" in asked[0]


def test_code_in_a_fence_after_a_sentence_is_taken_as_the_suggestion() -> None:
    v = verdict("Use a parameter instead:\n\n```python\n" + PARAMETERIZED + "\n```")
    assert v.passed and v.replacement.new == (PARAMETERIZED,)


def test_a_suggestion_failing_twice_is_dropped_and_the_finding_stays() -> None:
    (out,) = check_findings([finding(BROKEN)], make_hunk(), FILE, None, lambda *a: BROKEN)
    assert out.suggestion is None and out.title == "SQL built with string formatting"
    assert out.fix.status == "failed" and out.fix.check == "analyzers" and "repaired once" in out.fix.reason
    assert out.to_dict()["suggestion"] is None and out.to_dict()["suggestion_check"]["status"] == "failed"


# -- through the pipeline, with the model's own repair answer ----------------------------------


def _answer(suggestion: str) -> dict[str, Any]:
    return {"analysis": "a", "findings": [{"line": 11, "category": "security", "severity": "high",
                                           "title": "SQL injection", "message": "m", "suggestion": suggestion}]}


def test_the_pipeline_asks_for_a_repair_and_caches_it(tmp_path: Any, config: Any) -> None:
    parsed = ParsedDiff((make_hunk(),))
    cache = ResultCache(tmp_path / "r.sqlite3")
    backend = FakeBackend(answer=lambda m: _answer(BROKEN), repair=lambda m: {"suggestion": PARAMETERIZED.strip()})
    (f,) = [f for f in run_review(parsed, backend, config, cache).findings if f.source == "model"]
    assert f.suggestion == PARAMETERIZED and f.fix.status == "repaired" and len(backend.repairs) == 1
    assert "still flags the fixed line" in backend.repairs[0][-1]["content"]
    again = FakeBackend(answer=lambda m: _answer(BROKEN), repair=lambda m: {"suggestion": ""})
    (g,) = [g for g in run_review(parsed, again, config, cache).findings if g.source == "model"]
    assert not again.repairs and not again.loaded and g.suggestion == PARAMETERIZED  # both answers from the cache


def test_repair_off_drops_at_once(config: Any) -> None:
    backend = FakeBackend(answer=lambda m: _answer(BROKEN), repair=lambda m: {"suggestion": PARAMETERIZED})
    review = run_review(ParsedDiff((make_hunk(),)), backend, config.replace(repair_suggestions=False), None)
    (f,) = [f for f in review.findings if f.source == "model"]
    assert f.suggestion is None and not backend.repairs and f.fix.check == "analyzers"
    assert json.dumps(f.to_dict())  # the JSON report carries the reason


def test_findings_without_a_suggestion_are_left_alone(config: Any) -> None:
    backend = FakeBackend(answer=lambda m: _answer(""))
    (f,) = [f for f in run_review(ParsedDiff((make_hunk(),)), backend, config, None).findings if f.source == "model"]
    assert f.fix is None and f.suggestion is None and f.severity == Severity.HIGH


def test_a_repair_waits_for_the_batch_that_holds_the_model(config: Any) -> None:
    """The in-process model holds its context while a batch of hunks decodes (backends/batched.py); a
    repair asked between two answers of that batch deadlocked the real-model test. The pipeline now
    drains the batch first."""

    class Batching(FakeBackend):
        busy = False

        def complete_batch(self, conversations: list, schema: Any, max_tokens: int) -> Any:
            self.busy = True
            try:
                for i, messages in enumerate(conversations):
                    yield i, FakeBackend.complete(self, messages, schema, max_tokens)
            finally:
                self.busy = False

        def complete(self, messages: list, schema: Any, max_tokens: int) -> Any:
            assert not self.busy, "a repair was asked while the batch held the model"
            return super().complete(messages, schema, max_tokens)

    backend = Batching(answer=lambda m: _answer(BROKEN), repair=lambda m: {"suggestion": PARAMETERIZED.strip()})
    hunks = (make_hunk(), make_hunk(path="app/other.py"))
    review = run_review(ParsedDiff(hunks), backend, config, None)
    assert len(backend.repairs) == 2 and all(f.fix.status == "repaired" for f in review.findings if f.source == "model")
