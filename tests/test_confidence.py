"""The model's confidence (P(the findings list is not empty), backends/greedy.py) and the
`min_confidence` threshold built on it: carried to findings, cached, filtered, reported."""

import sqlite3
from dataclasses import replace

import pytest
from helpers import make_finding, make_hunk

from reviewer.backends import Completion
from reviewer.backends.fake import FakeBackend
from reviewer.backends.greedy import _FindingsMeter
from reviewer.cache import ResultCache
from reviewer.config import Config, load_config
from reviewer.errors import ReviewerError
from reviewer.pipeline import run_review
from reviewer.types import ParsedDiff


def test_findings_carry_the_answers_confidence_and_json_shows_it(config):
    review = run_review(ParsedDiff((make_hunk(),)), FakeBackend(confidence=0.8125), config, cache=None)
    (f,) = review.findings
    assert f.confidence == 0.8125
    assert f.to_dict()["confidence"] == 0.8125


def test_backends_that_cannot_tell_add_no_confidence_key(config):
    (f,) = run_review(ParsedDiff((make_hunk(),)), FakeBackend(), config, cache=None).findings
    assert f.confidence is None and "confidence" not in f.to_dict()


@pytest.mark.parametrize(("confidence", "kept"), [(0.59, 0), (0.6, 1), (0.95, 1), (None, 1)])
def test_min_confidence_drops_only_less_sure_model_findings(config, confidence, kept):
    strict = config.replace(min_confidence=0.6)
    review = run_review(ParsedDiff((make_hunk(),)), FakeBackend(confidence=confidence), strict, cache=None)
    assert len(review.findings) == kept


def test_analyzer_findings_are_never_dropped_by_the_model_threshold(config):
    strict = config.replace(min_confidence=0.99)
    bandit = replace(make_finding(line=11), source="bandit", title="bandit says")
    review = run_review(ParsedDiff((make_hunk(),)), FakeBackend(confidence=0.1), strict, cache=None, hints=(bandit,))
    assert [f.source for f in review.findings] == ["bandit"]


def test_cache_keeps_the_confidence(tmp_path, config):
    cache = ResultCache(tmp_path / "c.sqlite")
    hunk = ParsedDiff((make_hunk(),))
    first = run_review(hunk, FakeBackend(confidence=0.7), config, cache)
    second = run_review(hunk, FakeBackend(confidence=None), config, cache)  # answered from the cache
    assert second.stats.cached == 1
    assert [f.confidence for f in second.findings] == [f.confidence for f in first.findings] == [0.7]


def test_a_cache_from_before_confidence_is_upgraded_in_place(tmp_path):
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE results (key TEXT PRIMARY KEY, text TEXT NOT NULL, prompt_tokens INTEGER NOT NULL, "
               "completion_tokens INTEGER NOT NULL, created REAL NOT NULL)")
    db.execute("INSERT INTO results VALUES ('k', 'old answer', 3, 4, 0)")
    db.commit()
    db.close()
    cache = ResultCache(path)
    assert cache.get("k") == Completion("old answer", 3, 4, None)
    cache.put("n", Completion("new", 1, 2, 0.25))
    assert cache.get("n") == Completion("new", 1, 2, 0.25)
    cache.close()
    ResultCache(path).close()  # opening an upgraded cache again is fine


@pytest.mark.parametrize("value", ["-0.1", "1.5", "high"])
def test_min_confidence_must_be_a_fraction(tmp_path, value):
    with pytest.raises(ReviewerError, match="min_confidence"):
        load_config(tmp_path, {"REVIEWER_MIN_CONFIDENCE": value}, {})


# -- reading the confidence from token probabilities ------------------------------------

BEFORE = b'{"analysis": "x", "findings":'


def test_meter_direct_tokens():
    meter = _FindingsMeter()
    assert meter.wants(BEFORE)
    meter.observe(BEFORE, [(b' [{"', 0.6), (b" []", 0.2), (b"\n", 0.2)])
    assert not meter.wants(BEFORE + b' [{"')  # the list opened with an item: nothing more to read
    assert meter.confidence() == pytest.approx(0.75)


def test_meter_bare_bracket_is_decided_by_the_next_token():
    meter = _FindingsMeter()
    meter.observe(BEFORE, [(b" [", 0.5), (b' [{"', 0.3), (b" []", 0.1)])
    assert meter.wants(BEFORE + b" [")
    meter.observe(BEFORE + b" [", [(b"{", 0.2), (b"]", 0.8)])
    # (0.3 + 0.5 * 0.2) / 0.9
    assert meter.confidence() == pytest.approx(0.4 / 0.9)


def test_meter_bare_bracket_not_followed_uses_the_direct_ratio():
    meter = _FindingsMeter()
    meter.observe(BEFORE, [(b" [", 0.5), (b' [{"', 0.3), (b" []", 0.1)])
    assert meter.confidence() == pytest.approx((0.3 + 0.5 * 0.75) / 0.9)


def test_meter_without_a_findings_list_reports_nothing():
    meter = _FindingsMeter()
    assert not meter.wants(b'{"analysis": "the findings": are')
    assert meter.confidence() is None


@pytest.mark.model
def test_real_model_reports_how_sure_it_is_about_the_sample_sql_injection():
    """On the real model the confidence is read where the findings list opens: a
    probability, high for the sample's obvious SQL injection, and carried to the findings."""
    import json

    from test_speed_paths import _messages, _small_model

    from reviewer.backends.llama_cpp import LlamaCppBackend
    from reviewer.prompting import review_schema

    _small_model()
    backend = LlamaCppBackend(Config(model="qwen2.5-coder-0.5b", cache=False, cache_dir=None))
    try:
        answer = backend.complete(_messages("app/users.py"), review_schema(), 200)
    finally:
        backend.close()
    assert answer.confidence is not None and 0.5 < answer.confidence < 1.0
    assert json.loads(answer.text)["findings"], "a confident answer names the problem"
