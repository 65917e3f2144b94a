import json

from helpers import make_hunk

from reviewer.backends.fake import FakeBackend
from reviewer.cache import ResultCache
from reviewer.pipeline import review_hunks, run_review
from reviewer.types import Category, ParsedDiff, Severity, SkippedFile


def reply(*findings):
    return {"change": "c", "analysis": "a", "findings": list(findings)}


def item(line, category="security", severity="high", title="SQL injection"):
    return {"line": line, "category": category, "severity": severity, "title": title, "message": "m", "suggestion": ""}


def test_pattern_fake_finds_the_sql_injection(config):
    review = run_review(ParsedDiff((make_hunk(),), files=1), FakeBackend(), config, cache=None)
    (f,) = review.findings
    assert (f.line, f.category, f.severity) == (11, Category.SECURITY, Severity.HIGH)
    assert review.stats.hunks == 1 and review.stats.cached == 0


def test_one_model_call_per_hunk_and_stats_add_up(config):
    hunks = (make_hunk(path="a.py"), make_hunk(path="b.py", added=("    x = 1",)))
    backend = FakeBackend()
    skipped = (SkippedFile("logo.png", "binary"),)
    review = run_review(ParsedDiff(hunks, skipped, files=3), backend, config, cache=None)
    assert len(backend.calls) == 2
    assert [f.path for f in review.findings] == ["a.py"]
    assert review.stats.skipped == skipped and review.stats.files == 3
    assert review.stats.prompt_tokens > 0 and review.stats.completion_tokens > 0


def test_category_and_severity_filters(config):
    backend = FakeBackend(responses=[reply(item(11), item(11, "style", "low", "naming"), item(11, "bug", "medium", "b"))])
    only_sec = config.replace(categories=(Category.SECURITY, Category.BUG), min_severity=Severity.MEDIUM)
    review = run_review(ParsedDiff((make_hunk(),)), backend, only_sec, cache=None)
    assert sorted(f.title for f in review.findings) == ["SQL injection", "b"]


def test_findings_outside_hunk_are_counted(config):
    backend = FakeBackend(responses=[reply(item(11), item(500))])
    review = run_review(ParsedDiff((make_hunk(),)), backend, config, cache=None)
    assert len(review.findings) == 1 and review.stats.dropped_findings == 1


def test_cache_hit_skips_the_model(tmp_path, config):
    cache = ResultCache(tmp_path / "r.sqlite3")
    parsed = ParsedDiff((make_hunk(),))
    first = FakeBackend()
    r1 = run_review(parsed, first, config, cache)
    second = FakeBackend()
    r2 = run_review(parsed, second, config, cache)
    assert first.calls and not second.calls and not second.loaded
    assert r2.stats.cached == 1 and r2.findings == r1.findings
    assert r2.stats.prompt_tokens == 0


def test_cache_key_depends_on_model_and_hunk(tmp_path, config):
    cache = ResultCache(tmp_path / "r.sqlite3")
    run_review(ParsedDiff((make_hunk(),)), FakeBackend(name="m1"), config, cache)
    other_model = FakeBackend(name="m2")
    run_review(ParsedDiff((make_hunk(),)), other_model, config, cache)
    assert len(other_model.calls) == 1
    changed = FakeBackend(name="m1")
    run_review(ParsedDiff((make_hunk(added=("    pass",)),)), changed, config, cache)
    assert len(changed.calls) == 1


def test_hunk_too_big_for_context_is_skipped_and_reported(config):
    huge = make_hunk(added=tuple(f"    x{i} = '{'y' * 200}'" for i in range(200)))
    backend = FakeBackend()
    review = run_review(ParsedDiff((huge,)), backend, config.replace(ctx=1024), cache=None)
    assert not backend.calls
    assert "context window" in review.stats.skipped[0].reason


def test_context_is_trimmed_before_giving_up(config):
    from dataclasses import replace

    hunk = replace(make_hunk(), context_before=tuple((i, "# " + "c" * 200) for i in range(1, 9)))
    backend = FakeBackend()
    results = list(review_hunks((hunk,), backend, config.replace(ctx=800, max_tokens=100), None, _Progress()))
    assert results[0].skipped_reason is None and len(backend.calls) == 1
    assert "c" * 200 not in backend.calls[0][1]["content"]


def test_malformed_answer_gives_no_findings_and_is_counted(config):
    hunks = (make_hunk(path="a.py"), make_hunk(path="b.py"))
    review = run_review(ParsedDiff(hunks), FakeBackend(responses=['{"findings": [', reply()]), config, cache=None)
    assert review.findings == ()
    assert review.stats.unreadable_answers == 1 and review.stats.to_dict()["unreadable_answers"] == 1


def test_text_report_says_when_answers_could_not_be_read(config):
    from reviewer.sinks.text import render

    review = run_review(ParsedDiff((make_hunk(),)), FakeBackend(responses=["not json"]), config, cache=None)
    assert "1 model answer(s) could not be read" in render(review, color=False)


def test_review_json_matches_contract(config):
    review = run_review(ParsedDiff((make_hunk(),), files=1), FakeBackend(), config, cache=None)
    data = json.loads(json.dumps(review.to_dict()))
    assert data["version"] == 1 and set(data) == {"version", "model", "findings", "tests", "stats"}
    assert set(data["model"]) == {"name", "sha256"}
    f = data["findings"][0]
    assert set(f) == {"path", "line", "end_line", "category", "severity", "title", "message", "suggestion", "source", "fingerprint"}
    assert {"hunks", "cached", "prompt_tokens", "completion_tokens", "seconds"} <= set(data["stats"])


class _Progress:
    def start(self, total): ...
    def model_loading(self): ...
    def advance(self, result): ...
    def finish(self): ...


def test_behaviour_preserving_hunk_is_not_sent_to_the_model(config):
    old = ('    cur = db.execute("SELECT 1")', "    return cur.fetchone()")
    new = ('    cursor = db.execute("SELECT 1")', "    return cursor.fetchone()")
    backend = FakeBackend(responses=[reply(item(11, "bug", "medium", "invented"))])
    review = run_review(ParsedDiff((make_hunk(removed=old, added=new, after=()),)), backend, config, cache=None)
    assert not backend.calls and review.findings == ()
    assert "rename cur → cursor" in review.stats.skipped[0].reason


def test_analyzer_hints_reach_the_prompt_and_merge_with_model_findings(config):
    from reviewer.types import Finding

    hint = Finding("app/users.py", 11, 11, Category.SECURITY, Severity.MEDIUM, "Possible SQL injection (B608)",
                   "bandit B608: Possible SQL injection", source="bandit")
    other = Finding("app/users.py", 11, 11, Category.BUG, Severity.LOW, "unrelated", "m", source="bandit")
    backend = FakeBackend(responses=[reply(item(11, "security", "high", "SQL injection"))])
    review = run_review(ParsedDiff((make_hunk(),)), backend, config, cache=None, hints=(hint, other))
    assert "bandit B608: Possible SQL injection" in backend.calls[0][1]["content"]
    assert [(f.source, f.category, f.severity) for f in review.findings] == [
        ("model", Category.SECURITY, Severity.HIGH), ("bandit", Category.BUG, Severity.LOW)]
    alone = run_review(ParsedDiff((make_hunk(),)), FakeBackend(responses=[reply()]), config, cache=None, hints=(hint,))
    assert [f.source for f in alone.findings] == ["bandit"]
