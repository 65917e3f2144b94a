"""End to end on the real default model (Qwen2.5-Coder-1.5B Q4_K_M, in-process).

Slow (tens of seconds per hunk on 2 CPU cores): a handful of cases only. These run
in CI (REVIEWER_REQUIRE_MODEL=1 turns "model missing" into a failure).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from conftest import ROOT, SAMPLE_DIFF, git

from reviewer.cli import main

pytestmark = pytest.mark.model
CONTRACT = json.loads((ROOT / "tests" / "data" / "review.schema.json").read_text())
RENAME_DIFF = ROOT / "tests" / "data" / "real" / "clean_rename.diff"



def run_cli(args: list[str], cache: Path, cwd: Path = ROOT, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REVIEWER_")}
    env["REVIEWER_CACHE_DIR"] = str(cache)
    return subprocess.run([sys.executable, "-m", "reviewer", *args], check=False, cwd=cwd, env=env, input=stdin,
                          capture_output=True, timeout=600)


def parameterized(code: str) -> bool:
    """A query with a placeholder and its value passed apart, nothing formatted into the SQL text."""
    return bool(re.search(r"execute\(\s*[\"'][^\"']*(\?|%s|:\w+)[^\"']*[\"']\s*,\s*[(\[{]?\s*user_id", code)) \
        and "{user_id}" not in code and not re.search(r"\bf[\"']", code)


def alarms(review: dict) -> list[dict]:
    return [f for f in review["findings"] if f["category"] in ("bug", "security") and f["severity"] in ("medium", "high")]


def test_sample_sql_injection_is_found_and_json_follows_the_contract(model_cache: Path) -> None:
    proc = run_cli(["review", "--diff", str(SAMPLE_DIFF), "--format", "json"], model_cache)
    assert proc.returncode in (0, 1), proc.stderr
    review = json.loads(proc.stdout)
    jsonschema.validate(review, CONTRACT)
    assert review["model"]["sha256"] == "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
    security = [f for f in review["findings"] if f["category"] == "security" and f["line"] == 11]
    assert security, review["findings"]
    assert security[0]["path"] == "app/users.py"
    # the README's example: a parameterized query as the suggestion, or none -- never the f-string kept
    # with a parameter added (what the TUI offered before reviewer/fixes/)
    for f in security:
        assert f["suggestion"] is None or parameterized(f["suggestion"]), f
        assert f["suggestion"] is not None or f.get("suggestion_check", {"status": "failed"})["status"] == "failed"
    assert review["stats"]["hunks"] == 1 and review["stats"]["cached"] == 0
    assert review["stats"]["prompt_tokens"] > 0
    # exit status follows --fail-on (default high)
    assert proc.returncode == (1 if any(f["severity"] == "high" for f in review["findings"]) else 0)


def test_second_identical_run_comes_from_cache_without_loading_the_model(
    model_cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    first = run_cli(["review", "--diff", str(SAMPLE_DIFF), "--format", "json"], model_cache)
    assert first.returncode in (0, 1), first.stderr

    from reviewer.backends import llama_cpp

    def no_load(self: object) -> None:
        raise AssertionError("the model was loaded on a fully cached run")

    monkeypatch.setenv("REVIEWER_CACHE_DIR", str(model_cache))
    monkeypatch.setattr(llama_cpp.LlamaCppBackend, "_load_locked", no_load)
    code = main(["review", "--diff", str(SAMPLE_DIFF), "--format", "json"])
    second = json.loads(capsys.readouterr().out)
    assert code == first.returncode
    assert second["stats"]["cached"] == second["stats"]["hunks"] == 1
    assert second["findings"] == json.loads(first.stdout)["findings"]


def test_clean_rename_raises_no_alarm(model_cache: Path) -> None:
    proc = run_cli(["review", "--diff", str(RENAME_DIFF), "--format", "json"], model_cache)
    assert proc.returncode == 0, proc.stderr
    review = json.loads(proc.stdout)
    jsonschema.validate(review, CONTRACT)
    assert alarms(review) == []


def test_staged_change_in_a_real_repository(model_cache: Path, make_repo) -> None:
    original = (ROOT / "tests" / "data" / "real" / "users_before.py").read_text()
    repo = make_repo({"app/users.py": original})
    (repo / "app" / "users.py").write_text(original.replace(
        'db.execute("SELECT id, name, email FROM users WHERE id = ?", (user_id,))',
        "db.execute(f\"SELECT id, name, email FROM users WHERE id = '{user_id}'\")"))
    git(repo, "add", "app/users.py")
    proc = run_cli(["review", "--format", "json"], model_cache, cwd=repo)
    review = json.loads(proc.stdout)
    assert [f for f in alarms(review) if f["category"] == "security" and f["line"] == 11], review
    assert git(repo, "status", "--porcelain") == "M  app/users.py\n"  # the review changed nothing
