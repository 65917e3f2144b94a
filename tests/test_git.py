"""reviewer.git: the subprocess wrapper against real temporary git repositories."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import git as sh_git

from reviewer import git
from reviewer.errors import ReviewerError


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with two commits on main: a.txt ("one"), then a.txt ("two") and sub/b.bin."""
    root = tmp_path / "repo"
    (root / "sub").mkdir(parents=True)
    sh_git(root, "init", "-q", "-b", "main")
    (root / "a.txt").write_text("one\n")
    sh_git(root, "add", "-A")
    sh_git(root, "commit", "-qm", "first")
    (root / "a.txt").write_text("two\n")
    (root / "sub" / "b.bin").write_bytes(b"\x00\xff\r\n")
    sh_git(root, "add", "-A")
    sh_git(root, "commit", "-qm", "second")
    return root


def test_run_returns_bytes_and_text_strips(repo: Path) -> None:
    assert git.run(repo, "cat-file", "blob", "HEAD:sub/b.bin") == b"\x00\xff\r\n"
    head = git.text(repo, "rev-parse", "HEAD")
    assert len(head) == 40 and head == sh_git(repo, "rev-parse", "HEAD").strip()


def test_stdin_input_and_config(repo: Path) -> None:
    blob = git.text(repo, "hash-object", "--stdin", input=b"hello\n")
    assert blob == "ce013625030ba8dba906f756967f9e9ca394464a"
    assert git.text(repo, "config", "--get", "x.y", config=("x.y=z",)) == "z"


def test_failure_is_one_line_reviewer_error(repo: Path) -> None:
    with pytest.raises(git.GitError) as info:
        git.run(repo, "diff", "no-such-rev")
    exc = info.value
    assert isinstance(exc, ReviewerError)
    assert exc.command == "diff" and exc.returncode == 128 and exc.line.startswith("fatal: ")
    message = str(exc)
    assert message.startswith("git diff failed: ") and "fatal:" not in message and "\n" not in message
    assert "no-such-rev" in message


def test_failure_without_stderr_names_the_exit_status(repo: Path) -> None:
    with pytest.raises(git.GitError, match=r"^git diff failed: exit status 1$"):
        git.run(repo, "diff", "--quiet", "HEAD~1", "HEAD")


def test_missing_binary_is_one_clear_line(repo: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(git.EXECUTABLE_VAR, str(tmp_path / "no" / "git"))
    with pytest.raises(git.GitNotFound) as info:
        git.run(repo, "status")
    assert str(info.value) == git.NOT_FOUND and isinstance(info.value, ReviewerError)
    with pytest.raises(git.GitNotFound, match="^custom line$"):
        git.ok(repo, "status", missing="custom line")
    with pytest.raises(git.GitNotFound):  # "not in a repository" would be a wrong answer
        git.toplevel(repo)


def test_executable_variable_is_honoured(repo: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    wrapper = tmp_path / "mygit"
    wrapper.write_text('#!/bin/sh\necho "wrapped $1"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv(git.EXECUTABLE_VAR, str(wrapper))
    assert git.text(repo, "status") == "wrapped status"


def test_missing_directory_is_not_a_missing_git(tmp_path: Path) -> None:
    with pytest.raises(git.GitError, match="cannot change to"):
        git.run(tmp_path / "gone", "status")
    assert git.toplevel(tmp_path / "gone") is None


def test_ok(repo: Path) -> None:
    assert git.ok(repo, "cat-file", "-e", "HEAD^{commit}")
    assert not git.ok(repo, "cat-file", "-e", "0" * 40 + "^{commit}")


def test_toplevel_inside_and_outside(repo: Path, tmp_path: Path) -> None:
    assert git.toplevel(repo) == repo.resolve()
    assert git.toplevel(repo / "sub") == repo.resolve()
    outside = tmp_path / "outside"
    outside.mkdir()
    assert git.toplevel(outside) is None
    bare = tmp_path / "bare.git"
    sh_git(tmp_path, "init", "-q", "--bare", str(bare))
    assert git.toplevel(bare) is None and git.git_dir(bare) == bare.resolve()
    assert git.git_dir(outside) is None


def test_git_path_is_absolute_and_honours_hooks_path(repo: Path) -> None:
    assert git.git_path(repo / "sub", "hooks") == (repo / ".git" / "hooks").resolve()
    sh_git(repo, "config", "core.hooksPath", ".githooks")
    assert git.git_path(repo / "sub", "hooks") == (repo / ".githooks").resolve()


def test_rev_parse_commit(repo: Path) -> None:
    head = git.rev_parse_commit(repo, "HEAD")
    assert head is not None and len(head) == 40
    assert git.rev_parse_commit(repo, "main") == head
    assert git.rev_parse_commit(repo, "HEAD:a.txt") is None  # a blob, not a commit
    assert git.rev_parse_commit(repo, "nope") is None
    assert git.rev_parse_commit(repo, "--all") is None  # never passed on as an option
    assert git.rev_parse_commit(repo, "") is None


def test_merge_base(repo: Path, tmp_path: Path) -> None:
    first = git.text(repo, "rev-parse", "HEAD~1")
    sh_git(repo, "checkout", "-q", "-b", "side", "HEAD~1")
    (repo / "c.txt").write_text("c\n")
    sh_git(repo, "add", "-A")
    sh_git(repo, "commit", "-qm", "side")
    assert git.merge_base(repo, "main", "side") == first
    sh_git(repo, "checkout", "-q", "--orphan", "lonely")
    sh_git(repo, "commit", "-qm", "root")
    assert git.merge_base(repo, "main", "lonely") is None


def test_show_blob(repo: Path) -> None:
    assert git.show_blob(repo, "HEAD", "a.txt") == b"two\n"
    assert git.show_blob(repo, "HEAD~1", "a.txt") == b"one\n"
    assert git.show_blob(repo, "HEAD", "sub/b.bin") == b"\x00\xff\r\n"
    assert git.show_blob(repo, "HEAD", "missing.txt") is None
    assert git.show_blob(repo, "HEAD", "nul\0byte") is None
    (repo / "a.txt").write_text("three\n")
    sh_git(repo, "add", "a.txt")
    assert git.show_blob(repo, "", "a.txt") == b"three\n"  # "" is the index


@pytest.mark.parametrize(("value", "expected"), [
    ("main..HEAD", ("main", "HEAD", False)),
    ("main...feature", ("main", "feature", True)),
    ("..feature", ("HEAD", "feature", False)),
    ("main...", ("main", "HEAD", True)),
    ("a....b", ("a", ".b", True)),
])
def test_parse_range(value: str, expected: tuple[str, str, bool]) -> None:
    assert git.parse_range(value) == git.Range(*expected)


def test_parse_range_rejects_a_plain_rev() -> None:
    with pytest.raises(ReviewerError, match=r"^bad range 'main'; expected A\.\.B or A\.\.\.B"):
        git.parse_range("main")


def test_isolated_env(monkeypatch: pytest.MonkeyPatch, repo: Path) -> None:
    monkeypatch.setenv("GIT_DIR", "/elsewhere")
    monkeypatch.setenv("GIT_INDEX_FILE", "/elsewhere/index")
    monkeypatch.setenv("GIT_PYTHON_GIT_EXECUTABLE", "git")
    env = git.isolated_env({"GIT_AUTHOR_NAME": "x"})
    assert "GIT_DIR" not in env and "GIT_INDEX_FILE" not in env
    assert env["GIT_PYTHON_GIT_EXECUTABLE"] == "git" and env["GIT_AUTHOR_NAME"] == "x"
    assert env["GIT_CONFIG_NOSYSTEM"] == "1"
    assert git.text(repo, "rev-parse", "--show-toplevel", env=env) == str(repo.resolve())


def test_timeout_is_a_git_error(repo: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    slow = tmp_path / "slowgit"
    slow.write_text("#!/bin/sh\nexec sleep 5\n")
    slow.chmod(0o755)
    monkeypatch.setenv(git.EXECUTABLE_VAR, str(slow))
    with pytest.raises(git.GitError, match=r"^git archive failed: timed out after 0\.2 s$"):
        git.run(repo, "archive", timeout=0.2)
