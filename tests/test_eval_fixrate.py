"""`reviewer eval`'s fix rate: a checked suggestion on a detected QuixBugs case is run against the program's
input/output tests in the sandbox; security cases are judged by the analyzers (evaluation/fixrate.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reviewer.backends.fake import FakeBackend
from reviewer.config import Config
from reviewer.evaluation.runner import format_table, run_eval, score

GCD = {
    "id": "quixbugs/gcd.py/introduce", "source": "QuixBugs", "label": "buggy", "category": "bug",
    "expect": {"path": "algorithms/gcd.py", "lines": [5], "scope": "line"},
    "diff": ("diff --git a/algorithms/gcd.py b/algorithms/gcd.py\n--- a/algorithms/gcd.py\n+++ b/algorithms/gcd.py\n"
             "@@ -1,5 +1,5 @@\n def gcd(a, b):\n     if b == 0:\n         return a\n     else:\n"
             "-        return gcd(b, a % b)\n+        return gcd(a % b, b)\n"),
}
IO_CASES = "[[17, 0], 17]\n[[13, 13], 13]\n[[37, 600], 1]\n[[20, 100], 20]\n[[624129, 2061517], 18913]\n[[3, 12], 3]\n"
SQL = {
    "id": "sec/sql", "source": "securityeval", "label": "buggy", "category": "security",
    "expect": {"path": "app.py", "lines": [6], "scope": "line"},
    "diff": ("diff --git a/app.py b/app.py\n--- a/app.py\n+++ b/app.py\n@@ -1,7 +1,7 @@\n import sqlite3\n\n\n"
             " def get_user(db, user_id):\n     \"\"\"Look the user up.\"\"\"\n"
             "-    cur = db.execute(\"SELECT * FROM users WHERE id = ?\", (user_id,))\n"
             "+    cur = db.execute(\"SELECT * FROM users WHERE id = '%s'\" % user_id)\n     return cur.fetchone()\n"),
}


def answering(line: int, suggestion: str, category: str = "bug") -> FakeBackend:
    return FakeBackend(answer=lambda m: {"analysis": "a", "findings": [
        {"line": line, "category": category, "severity": "high", "title": "t", "message": "m", "suggestion": suggestion}]})


@pytest.fixture
def tests_dir(tmp_path: Path) -> Path:
    d = tmp_path / "quixbugs_tests"
    d.mkdir()
    (d / "gcd.json").write_text(IO_CASES)
    return d


@pytest.mark.parametrize(("suggestion", "status"), [
    ("        return gcd(b, a % b)", "fixed"),
    ("        return gcd(a % b, a)", "not-fixed"),  # checked (it parses, nothing flags it), but wrong
    ("return gcd(b, a % b", None),  # fails its checks: no checked suggestion to judge
])
def test_quixbugs_suggestions_are_run_against_the_programs_tests(suggestion: str, status: str | None, tmp_path: Path,
                                                                  tests_dir: Path) -> None:
    out = tmp_path / "results.jsonl"
    (result,) = run_eval([GCD], Config(cache=False), out, backend=answering(5, suggestion), fix_tests=tests_dir)
    fix = result["fix"]
    assert fix["shown"] == 1
    if status is None:
        assert fix == {"shown": 1, "checked": 0, "status": "none"}
        return
    assert fix["status"] == status and fix["oracle"] == "quixbugs-io", fix
    (finding,) = [f for f in result["findings"] if f["source"] == "model"]
    assert finding["suggestion_check"]["patch"].startswith("--- a/algorithms/gcd.py")  # anyone can re-run it
    s = score({GCD["id"]: GCD}, [result])["QuixBugs"]
    assert (s.detected, s.checked, s.fixed) == (1, 1, int(status == "fixed"))
    assert "| fixed (of detected) |" in format_table({"QuixBugs": s})


def test_without_the_programs_tests_the_fix_is_unverified(tmp_path: Path) -> None:
    (result,) = run_eval([GCD], Config(cache=False), tmp_path / "r.jsonl", backend=answering(5, "        return gcd(b, a % b)"))
    assert result["fix"]["status"] == "unverified"


@pytest.mark.parametrize(("suggestion", "status"), [
    ('    cur = db.execute("SELECT * FROM users WHERE id = ?", (user_id,))', "fixed"),
])
def test_security_fixes_are_judged_by_the_analyzers(suggestion: str, status: str, tmp_path: Path) -> None:
    (result,) = run_eval([SQL], Config(cache=False), tmp_path / "r.jsonl", backend=answering(6, suggestion, "security"))
    assert result["fix"]["status"] == status and result["fix"]["oracle"] == "analyzers", result["fix"]
    assert "bandit" in result["fix"]["detail"]


def test_eval_prints_the_fix_columns(tmp_path: Path, tests_dir: Path, capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from reviewer import backends
    from reviewer.cli import main

    cases = tmp_path / "cases" / "q.jsonl"
    cases.parent.mkdir()
    cases.write_text(json.dumps(GCD) + "\n")
    monkeypatch.setattr(backends, "make_backend", lambda config: answering(5, "        return gcd(b, a % b)"))
    code = main(["eval", str(cases), "--out", str(tmp_path / "r.jsonl"), "--no-cache", "-q"])  # tests found beside cases/
    out = capsys.readouterr().out
    assert code == 0 and "| QuixBugs | 1 | 1 (100%) | 0 | 0 (-) |" in out and "| 1 | 1 | 1 (100%) | 0 |" in out


def test_sqrt_is_judged_within_its_epsilon_as_quixbugs_does(tmp_path: Path, tests_dir: Path) -> None:
    """The correct sqrt returns 5.196176 for sqrt(27, 0.01) where the recorded output is 5.196165: right
    within epsilon, as QuixBugs' own test_sqrt accepts; exact comparison called the correct program wrong."""
    (tests_dir / "sqrt.json").write_text("[[2, 0.01], 1.4166666666666665]\n[[27, 0.01], 5.196164639727311]\n")
    case = {"id": "quixbugs/sqrt.py/introduce", "source": "QuixBugs", "label": "buggy", "category": "bug",
            "expect": {"path": "algorithms/sqrt.py", "lines": [3], "scope": "line"},
            "diff": ("diff --git a/algorithms/sqrt.py b/algorithms/sqrt.py\n--- a/algorithms/sqrt.py\n"
                     "+++ b/algorithms/sqrt.py\n@@ -1,5 +1,5 @@\n def sqrt(x, epsilon):\n     approx = x / 2\n"
                     "-    while abs(x - approx ** 2) > epsilon:\n+    while abs(x - approx) > epsilon:\n"
                     "         approx = 0.5 * (approx + x / approx)\n     return approx\n")}
    fix = "    while abs(x - approx ** 2) > epsilon:"
    (result,) = run_eval([case], Config(cache=False), tmp_path / "r.jsonl", backend=answering(3, fix), fix_tests=tests_dir)
    assert result["fix"]["status"] == "fixed", result["fix"]
