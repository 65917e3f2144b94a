"""The command line end to end on the fake backend: exit codes, formats, bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import ROOT, SAMPLE_DIFF, git

from reviewer.cli import main

DIFFS = ROOT / "tests" / "data" / "diffs"


@pytest.fixture(autouse=True)
def _fake(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVIEWER_BACKEND", "fake")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_exit_status_follows_fail_on(capsys):
    assert run(capsys, "review", "--diff", str(SAMPLE_DIFF))[0] == 1  # high finding, default fail-on high
    assert run(capsys, "review", "--diff", str(SAMPLE_DIFF), "--fail-on", "never")[0] == 0
    assert run(capsys, "review", "--diff", str(SAMPLE_DIFF), "--categories", "style")[0] == 0
    assert run(capsys, "review", "--diff", str(SAMPLE_DIFF), "--min-severity", "high", "--fail-on", "low")[0] == 1


def test_json_output_is_the_only_thing_on_stdout(capsys):
    code, out, err = run(capsys, "review", "--diff", str(SAMPLE_DIFF), "--format", "json")
    data = json.loads(out)
    assert code == 1 and data["version"] == 1 and data["findings"][0]["line"] == 11
    assert err == ""


def test_output_file_is_written_whole(tmp_path, capsys):
    target = tmp_path / "review.json"
    code, out, _ = run(capsys, "review", "--diff", str(SAMPLE_DIFF), "--format", "json", "-o", str(target))
    assert code == 1 and out == ""
    assert json.loads(target.read_text())["findings"]
    assert [p.name for p in tmp_path.iterdir()] == ["review.json"]  # no temp file left behind


def test_failed_run_leaves_existing_output_untouched(tmp_path, capsys):
    target = tmp_path / "review.json"
    target.write_text("previous")
    code, _, err = run(capsys, "review", "--diff", str(tmp_path / "missing.diff"), "-o", str(target))
    assert code == 2 and target.read_text() == "previous"
    assert err.count("\n") == 1


def test_stdin(monkeypatch, capsys):
    import io

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(SAMPLE_DIFF.read_bytes())))
    code, out, _ = run(capsys, "review", "--diff", "-", "--format", "json")
    assert code == 1 and json.loads(out)["stats"]["hunks"] == 1


@pytest.mark.parametrize(
    "args, needle",
    [
        (["review", "--diff", "DIFFS/not_a_diff.txt"], "malformed diff"),
        (["review", "--diff", "DIFFS/malformed_truncated.diff"], "malformed diff"),
        (["review", "--diff", "DIFFS/malformed_counts.diff"], "malformed diff"),
        (["review", "--diff", "DIFFS/missing.diff"], "not found"),
        (["review", "--diff", "SAMPLE", "--fail-on", "sometimes"], "fail-on"),
        (["review", "--diff", "SAMPLE", "--categories", "bugs"], "unknown category"),
        (["review", "--diff", "SAMPLE", "--backend", "llama", "--model", "no-such-model"], "unknown model"),
        (["review", "--diff", "SAMPLE", "--backend", "llama", "--model", "/nope/x.gguf"], "not found"),
        (["review", "--diff", "SAMPLE", "--backend", "openai"], "--base-url"),
        (["review", "--diff", "SAMPLE", "--backend", "openai", "--base-url", "http://127.0.0.1:9", "--no-cache"],
         "cannot reach"),
    ],
)
def test_bad_input_is_one_line_exit_2(capsys, args, needle):
    args = [a.replace("DIFFS", str(DIFFS)).replace("SAMPLE", str(SAMPLE_DIFF)) for a in args]
    code, out, err = run(capsys, *args)
    assert code == 2 and out == ""
    assert err.startswith("reviewer: error: ") and err.count("\n") == 1 and needle in err
    assert "Traceback" not in err


def test_corrupt_model_file(tmp_path, capsys):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"not a gguf at all")
    code, _, err = run(capsys, "review", "--diff", str(SAMPLE_DIFF), "--backend", "llama", "--model", str(bad))
    assert code == 2 and "not a GGUF file" in err


@pytest.mark.parametrize(
    "name, skipped",
    [("binary.diff", "binary"), ("binary_patch.diff", "binary"), ("deleted.diff", "deleted"),
     ("rename_pure.diff", "renamed"), ("submodule.diff", "submodule"), ("invalid_utf8.diff", "UTF-8"),
     ("lockfile.diff", "excluded")],
)
def test_skipped_files_are_reported_not_errors(capsys, name, skipped):
    code, out, _ = run(capsys, "review", "--diff", str(DIFFS / name), "--format", "json")
    assert code in (0, 1)
    reasons = [s["reason"] for s in json.loads(out)["stats"]["skipped"]]
    assert any(skipped in r for r in reasons), reasons


def test_crlf_and_renamed_file_are_reviewed(capsys):
    for name in ("crlf.diff", "rename_modify.diff"):
        code, out, _ = run(capsys, "review", "--diff", str(DIFFS / name), "--format", "json")
        assert code in (0, 1) and json.loads(out)["stats"]["hunks"] >= 1


def test_huge_diff_is_split_not_dropped(tmp_path, capsys):
    body = "".join(f"+x{i} = {i}\n" for i in range(1000))
    diff = tmp_path / "huge.diff"
    diff.write_text(f"diff --git a/big.py b/big.py\nnew file mode 100644\n--- /dev/null\n+++ b/big.py\n@@ -0,0 +1,1000 @@\n{body}")
    code, out, _ = run(capsys, "review", "--diff", str(diff), "--format", "json")
    assert code == 0 and json.loads(out)["stats"]["hunks"] >= 1000 // 120


def test_staged_range_and_base_in_a_real_repo(make_repo, capsys, monkeypatch):
    repo = make_repo({"app/users.py": (ROOT / "tests" / "data" / "real" / "users_before.py").read_text()})
    monkeypatch.chdir(repo)
    code, _, err = run(capsys, "review")
    assert code == 2 and "nothing to review" in err  # nothing staged
    text = (repo / "app" / "users.py").read_text().replace('"SELECT id, name, email FROM users WHERE id = ?", (user_id,)',
                                                            "f\"SELECT id, name, email FROM users WHERE id = '{user_id}'\"")
    git(repo, "checkout", "-qb", "feature")
    (repo / "app" / "users.py").write_text(text)
    git(repo, "add", "-A")
    staged = json.loads(run(capsys, "review", "--format", "json")[1])
    assert [f["line"] for f in staged["findings"]] == [11]
    git(repo, "commit", "-qm", "inject")
    for flags in (["--range", "main..feature"], ["--base", "main"]):
        data = json.loads(run(capsys, "review", "--format", "json", *flags)[1])
        assert [f["line"] for f in data["findings"]] == [11], flags
    code, _, err = run(capsys, "review", "--base", "no-such-branch")
    assert code == 2 and "no-such-branch" in err


def test_not_a_git_repo(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "review")
    assert code == 2 and "not a git repository" in err


def test_config_file_in_repo_is_used(make_repo, monkeypatch, capsys):
    repo = make_repo({"pyproject.toml": '[tool.reviewer]\nfail-on = "never"\n'})
    monkeypatch.chdir(repo)
    assert run(capsys, "review", "--diff", str(SAMPLE_DIFF))[0] == 0
    monkeypatch.setenv("REVIEWER_FAIL_ON", "high")
    assert run(capsys, "review", "--diff", str(SAMPLE_DIFF))[0] == 1
    assert run(capsys, "review", "--diff", str(SAMPLE_DIFF), "--fail-on", "never")[0] == 0


def test_second_run_is_cached(capsys):
    first = json.loads(run(capsys, "review", "--diff", str(SAMPLE_DIFF), "--format", "json")[1])
    second = json.loads(run(capsys, "review", "--diff", str(SAMPLE_DIFF), "--format", "json")[1])
    assert first["stats"]["cached"] == 0 and second["stats"]["cached"] == 1
    assert first["findings"] == second["findings"]


def test_help_teaches():
    out = subprocess.run([sys.executable, "-m", "reviewer", "review", "--help"], capture_output=True, text=True,
                         check=True).stdout
    for needle in ("--base", "--range", "--diff", "--fail-on", "exit status", "REVIEWER_", "pyproject.toml"):
        assert needle in out


def test_no_command_prints_help(capsys):
    code, out, _ = run(capsys)
    assert code == 2 and "review" in out


def test_models_list_and_path(tmp_path, capsys):
    code, out, _ = run(capsys, "models", "--cache-dir", str(tmp_path), "list")
    assert code == 0 and "qwen2.5-coder-1.5b (default)" in out and "qwen2.5-coder-0.5b" in out
    code, _, err = run(capsys, "models", "--cache-dir", str(tmp_path), "path", "qwen2.5-coder-1.5b")
    assert code == 2 and "models pull" in err
