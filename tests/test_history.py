"""`reviewer history`: the last commits replayed as they landed, and fixes reversed, in a real repository."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import git

from reviewer.cli import main
from reviewer.evaluation.history import FIX_SUBJECT

VULNERABLE = "import subprocess\n\n\ndef run(cmd):\n    return subprocess.run(cmd, shell=True)\n"
FIXED = "import subprocess\n\n\ndef run(cmd):\n    return subprocess.run(cmd)\n"


@pytest.fixture
def repo(make_repo) -> Path:
    repo = make_repo({"tool.py": VULNERABLE})
    (repo / "tool.py").write_text(FIXED)
    git(repo, "commit", "-qam", "Fix command injection in run()")
    (repo / "tool.py").write_text(FIXED + "\n\ndef ok():\n    return True\n")
    git(repo, "commit", "-qam", "Add ok()")
    return repo


def test_landed_commits_are_replayed_and_a_fix_reversed_alarms(repo: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(repo)
    code = main(["history", "-n", "5", "--backend", "fake", "--cache-dir", str(tmp_path / "c"), "--fail-on", "medium"])
    out, err = capsys.readouterr()
    assert code == 0
    rows = [line for line in out.splitlines() if line.startswith("| ") and "commit" not in line]
    assert [r.split(" | ")[2] for r in rows] == ["landed", "landed", "fix reversed"]  # the root commit is skipped
    assert "| Fix command injection in run() | fix reversed | 1 | 1 | **yes** |" in out
    assert "landed commits that would have been blocked: 0/2" in out
    assert "reversed fixes that would have been blocked: 1/1" in out
    assert err.count("reviewer: ") == 3  # one progress line per replayed change


def test_the_table_goes_to_a_file_atomically(repo: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(repo)
    out_file = tmp_path / "noise.md"
    assert main(["history", "-n", "1", "-q", "--backend", "fake", "--cache-dir", str(tmp_path / "c"),
                 "-o", str(out_file)]) == 0
    assert capsys.readouterr().out == ""
    assert out_file.read_text().startswith("| commit | subject |")


def test_outside_a_repository_is_one_line_and_exit_2(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["history", "--backend", "fake"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not in a git repository" in err


@pytest.mark.parametrize(("subject", "fix"), [
    ("Fix #12: crash on empty input", True), ("fixes the parser", True), ("bugfix for lists", True),
    ("Prefix the names", False), ("Add a feature", False), ("Debug logging", False),
])
def test_which_subjects_count_as_fixes(subject: str, fix: bool) -> None:
    assert (FIX_SUBJECT.search(subject) is not None) is fix
