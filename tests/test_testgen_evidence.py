"""`--run-tests`: generated tests as evidence in a review (fake model, real sandbox and pytest)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from conftest import ROOT, git

from reviewer import backends, cli
from reviewer.backends import Message
from reviewer.backends.fake import FakeBackend
from reviewer.config import Config
from reviewer.evaluation.runner import eval_session, judge, review_case
from reviewer.testgen.evidence import FunctionEvidence, evidence, ground_by_tests
from reviewer.testgen.extract import ChangedFunction
from reviewer.testgen.suggestions import Suggestion, TestgenResult, TestgenStats
from reviewer.types import Category, Finding, Severity

CONTRACT = json.loads((ROOT / "tests" / "data" / "review.schema.json").read_text())

# clamp is fixed by the change (hi - 1 -> hi), double is broken by it (2 * x -> x + x + 1).
OLD = '''\
def clamp(x, lo, hi):
    """x limited to the range lo..hi."""
    return max(lo, min(x, hi - 1))


def double(x):
    return 2 * x
'''

NEW = '''\
def clamp(x, lo, hi):
    """x limited to the range lo..hi."""
    return max(lo, min(x, hi))


def double(x):
    return x + x + 1
'''

TESTS = {
    "clamp": {"plan": "p", "setup": "from mathx.util import clamp",
              "tests": [{"code": "def test_inside():\n    assert clamp(5, 0, 10) == 5"},
                        {"code": "def test_upper_bound():\n    assert clamp(12, 0, 10) == 10"}]},
    "double": {"plan": "p", "setup": "from mathx.util import double",
               "tests": [{"code": "def test_double():\n    assert double(3) == 6"}]},
}

# What the model claims about the change: a bug in each changed function.
REVIEW = {"change": "c", "analysis": "a", "findings": [
    {"line": 3, "category": "bug", "severity": "high", "title": "Off-by-one in clamp", "message": "hi is exclusive.",
     "suggestion": ""},
    {"line": 7, "category": "bug", "severity": "medium", "title": "Wrong doubling", "message": "Adds one.",
     "suggestion": ""},
]}


def scripted(messages: list[Message]) -> dict:
    if "pytest" not in messages[0]["content"]:  # the review prompt
        return REVIEW
    user = messages[1]["content"]
    return next(answer for name, answer in TESTS.items() if f"`{name}`" in user)


@pytest.fixture
def repo(make_repo, monkeypatch: pytest.MonkeyPatch) -> Path:
    repo = make_repo({"mathx/__init__.py": "", "mathx/util.py": OLD})
    (repo / "mathx" / "util.py").write_text(NEW)
    git(repo, "add", "-A")
    monkeypatch.chdir(repo)
    monkeypatch.setattr(backends, "make_backend", lambda config: FakeBackend(answer=scripted))
    return repo


ARGS = ["review", "--backend", "fake", "--no-cache", "--no-analyzers", "-q", "--format", "json"]


def by_title(findings: list[dict]) -> dict[str, dict]:
    return {f["title"]: f for f in findings}


def test_review_run_tests_lowers_claims_on_a_fix_and_reports_the_regression(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main([*ARGS, "--run-tests", "--fail-on", "medium", "--block", "all"])  # advisory by default
    out = json.loads(capsys.readouterr().out)
    jsonschema.validate(out, CONTRACT)
    found = by_title(out["findings"])
    # clamp: test_upper_bound fails on the old code and passes on the new one -> the claim is lowered
    assert found["Off-by-one in clamp"]["severity"] == "low"
    assert "`test_upper_bound`" in found["Off-by-one in clamp"]["message"]
    # double: test_double passes on the old code and fails on the new one -> kept, and a regression finding
    assert found["Wrong doubling"]["severity"] == "medium"
    regression = found["Behaviour change in double: a generated test now fails"]
    assert (regression["line"], regression["source"], regression["severity"]) == (7, "tests", "medium")
    assert sorted(t["code"].count("def test_") for t in out["tests"]) == [1, 1, 1]
    assert code == 1


def test_review_run_tests_says_which_functions_got_no_tests(make_repo, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    repo = make_repo({"mathx/__init__.py": "", "mathx/util.py": "import not_installed_xyz\n\n" + OLD})
    (repo / "mathx" / "util.py").write_text("import not_installed_xyz\n\n" + NEW)
    git(repo, "add", "-A")
    monkeypatch.chdir(repo)
    monkeypatch.setattr(backends, "make_backend", lambda config: FakeBackend(answer=scripted))
    cli.main([*ARGS, "--run-tests"])
    out = json.loads(capsys.readouterr().out)
    skipped = {s["path"]: s["reason"] for s in out["stats"]["skipped"]}
    assert set(skipped) == {"mathx/util.py::clamp", "mathx/util.py::double"}
    assert "No module named 'not_installed_xyz'" in skipped["mathx/util.py::clamp"]
    assert out["tests"] == [] and not any(f["source"] == "tests" or "Lowered" in f["message"] for f in out["findings"])


def test_text_report_counts_the_tests(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cli.main(["review", "--backend", "fake", "--no-cache", "--no-analyzers", "-q", "--run-tests"])
    out = capsys.readouterr().out
    assert "generated tests: 1 failed, 2 passed" in out and "Behaviour change in double" in out


def test_review_without_run_tests_runs_no_tests(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cli.main(ARGS)
    out = json.loads(capsys.readouterr().out)
    assert by_title(out["findings"])["Off-by-one in clamp"]["severity"] == "high"
    assert out["tests"] == []


def test_min_severity_hides_what_the_tests_lowered(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cli.main([*ARGS, "--run-tests", "--min-severity", "medium"])
    titles = set(by_title(json.loads(capsys.readouterr().out)["findings"]))
    assert "Off-by-one in clamp" not in titles and "Wrong doubling" in titles


def test_run_tests_from_the_config_file(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / ".reviewer.toml").write_text("run_tests = true\n")
    cli.main(ARGS)
    assert by_title(json.loads(capsys.readouterr().out)["findings"])["Off-by-one in clamp"]["severity"] == "low"


def test_eval_run_tests_scores_the_grounded_findings(tmp_path: Path) -> None:
    diff = ("diff --git a/mathx/util.py b/mathx/util.py\n--- a/mathx/util.py\n+++ b/mathx/util.py\n"
            "@@ -1,3 +1,3 @@\n def clamp(x, lo, hi):\n     \"\"\"x limited to the range lo..hi.\"\"\"\n"
            "-    return max(lo, min(x, hi - 1))\n+    return max(lo, min(x, hi))\n")
    case = {"id": "fix/1", "label": "clean", "category": "bug", "diff": diff}
    config = Config(backend="fake", cache=False, analyzers=False, cache_dir=tmp_path)
    plain = review_case(case, eval_session(config, FakeBackend(answer=scripted), None), (config).min_confidence)
    grounded = review_case(case, eval_session(config.replace(run_tests=True), FakeBackend(answer=scripted), None), (config.replace(run_tests=True)).min_confidence)
    assert judge(case, plain["findings"])  # a false alarm without the tests
    assert not judge(case, [f for f in grounded["findings"] if f["category"] == "bug"])
    assert by_title(grounded["findings"])["Off-by-one in clamp"]["severity"] == "low"


# -- the rule itself, on hand-made outcomes ------------------------------------------------


def changed(qualname: str, start: int, end: int, path: str = "m.py") -> ChangedFunction:
    return ChangedFunction(path, "m", qualname, qualname, None, start, start, end, start, "", "", None, "", "", True)


def outcome(fn: ChangedFunction, name: str, new: str, old: str | None) -> Suggestion:
    return Suggestion(fn, name, "", "", (), "tests/test_m.py", new, old_status=old)


def claim(line: int, category: Category = Category.BUG, severity: Severity = Severity.HIGH,
          source: str = "model", end_line: int | None = None) -> Finding:
    return Finding("m.py", line, end_line or line, category, severity, f"claim on {line}", "m", source=source)


def result(*suggestions: Suggestion) -> TestgenResult:
    return TestgenResult(suggestions, (), (), TestgenStats())


def test_evidence_counts_only_tests_that_tell_the_versions_apart() -> None:
    f, g = changed("f", 1, 5), changed("g", 7, 9)
    got = evidence([outcome(f, "fixes", "passed", "failed"), outcome(f, "hangs_before", "passed", "timeout"),
                    outcome(f, "both", "passed", "passed"), outcome(f, "wrong", "failed", "failed"),
                    outcome(g, "new_only", "passed", None), outcome(g, "regress", "failed", "passed")])
    assert got == (FunctionEvidence("m.py", 1, 5, "f", ("fixes", "hangs_before"), ()),
                   FunctionEvidence("m.py", 7, 9, "g", (), ("regress",)))
    assert got[0].looks_like_a_fix and not got[1].looks_like_a_fix


@pytest.mark.parametrize(("finding", "lowered"), [
    (claim(3), True),
    (claim(3, severity=Severity.MEDIUM), True),
    (claim(3, category=Category.SECURITY), False),  # tests of behaviour do not clear a security claim
    (claim(3, source="ruff"), False),  # analyzers are not the model
    (claim(3, end_line=6), False),  # reaches past the function
    (claim(6), False),  # outside it
])
def test_ground_by_tests_lowers_model_bug_alarms_inside_a_fixed_function(finding: Finding, lowered: bool) -> None:
    f = changed("f", 1, 5)
    (out,) = ground_by_tests([finding], result(outcome(f, "t", "passed", "failed")))
    assert (out.severity is Severity.LOW) == lowered
    assert ("generated tests of f fail on the code before this change" in out.message) == lowered


def test_a_regression_in_the_same_function_keeps_the_claim() -> None:
    f = changed("f", 1, 5)
    (out,) = ground_by_tests([claim(3)], result(outcome(f, "fix", "passed", "failed"), outcome(f, "reg", "failed", "passed")))
    assert out.severity is Severity.HIGH


def test_tests_that_pass_on_both_versions_are_no_evidence() -> None:
    f = changed("f", 1, 5)
    (out,) = ground_by_tests([claim(3)], result(outcome(f, "t", "passed", "passed"), outcome(f, "u", "passed", None)))
    assert out.severity is Severity.HIGH


@pytest.mark.parametrize(("suggestion", "kept"), [
    ("    return max(lo, min(x, hi - 1))", True),  # keeps clamp(5, 0, 10) == 5
    ("    return max(lo, min(x, hi)) + 1", False),  # breaks test_inside, which passes before and after the change
])
def test_a_suggestion_that_breaks_a_test_both_versions_pass_is_dropped(
        suggestion: str, kept: bool, repo: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    review = {**REVIEW, "findings": [{**REVIEW["findings"][0], "suggestion": suggestion}]}
    answer = lambda messages: review if "pytest" not in messages[0]["content"] else scripted(messages)  # noqa: E731
    monkeypatch.setattr(backends, "make_backend", lambda config: FakeBackend(answer=answer))
    cli.main([*ARGS, "--run-tests", "--fail-on", "never"])
    (f,) = [f for f in json.loads(capsys.readouterr().out)["findings"] if f["title"] == "Off-by-one in clamp"]
    if kept:
        assert f["suggestion"] == suggestion and f["suggestion_check"]["status"] == "checked"
    else:
        assert f["suggestion"] is None and f["suggestion_check"]["check"] == "tests"
        assert "`test_inside`" in f["suggestion_check"]["reason"]
