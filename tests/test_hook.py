"""Git hooks: `reviewer hook run/install/uninstall`, the pre-commit manifest, and real commits
and pushes through the real pre-commit framework and through plain git hook scripts.

Everything runs on the fake backend (REVIEWER_BACKEND=fake), in throwaway repositories,
with git's global config, pre-commit's cache and reviewer's cache all kept in tmp dirs.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, git

from reviewer import hook
from reviewer.commands import hook as hook_command
from reviewer.errors import ReviewerError

BIN = Path(sys.executable).parent  # the venv's bin: reviewer and pre-commit live here
SQL = 'def get_user(cur, user_id):\n    cur.execute(f"SELECT * FROM users WHERE id = {user_id}")\n    return cur.fetchone()\n'
CLEAN = "def add(a, b):\n    return a + b\n"
FINDING = "app.py:2: high security: SQL built with string formatting"


def _cli_has_hook() -> bool:
    from reviewer.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return "hook" in sub.choices


needs_cli = pytest.mark.skipif(
    not _cli_has_hook(), reason="reviewer/cli.py does not register `reviewer hook` yet (hook.add_parser / hook.run)")


@pytest.fixture(autouse=True)
def _hook_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake model; no developer git config, git hook variables or pre-commit cache leak in or out."""
    monkeypatch.setenv("REVIEWER_BACKEND", "fake")
    monkeypatch.setenv("PATH", f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("PRE_COMMIT_HOME", str(tmp_path / "pre-commit-home"))
    gitconfig = tmp_path / "gitconfig"
    gitconfig.write_text("[init]\n\tdefaultBranch = main\n[protocol \"file\"]\n\tallow = always\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for who in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{who}_NAME", "Test")
        monkeypatch.setenv(f"GIT_{who}_EMAIL", "test@example.com")
    for key in list(os.environ):
        if key.startswith("PRE_COMMIT") and key != "PRE_COMMIT_HOME" or key in (
                "GIT_DIR", "GIT_INDEX_FILE", "GIT_WORK_TREE", "SKIP"):
            monkeypatch.delenv(key)


@pytest.fixture
def repo(make_repo: Callable[[dict[str, str]], Path]) -> Path:
    return make_repo({"README.md": "demo\n", "app.py": "def ping():\n    return 'pong'\n"})


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="reviewer")
    hook_command.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["hook", *argv])


def run_hook(repo: Path, capsys: pytest.CaptureFixture[str], *argv: str, stdin: bytes = b"",
             env: dict[str, str] | None = None) -> tuple[int, str, str]:
    code = hook_command.run_hook(parse("run", *argv), repo, {**os.environ, **(env or {})}, io.BytesIO(stdin))
    out, err = capsys.readouterr()
    return code, out, err


def stage(repo: Path, name: str, text: str) -> None:
    (repo / name).parent.mkdir(parents=True, exist_ok=True)
    (repo / name).write_text(text)
    git(repo, "add", name)


def sh(repo: Path, *argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command; `.stdout` is stdout and stderr together (git sends a hook's stdout to stderr)."""
    return subprocess.run(list(argv), cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          input=stdin, check=False)


# --------------------------------------------------------------------------- the manifest and scripts


def test_manifest_is_valid_for_pre_commit():
    done = sh(ROOT, str(BIN / "pre-commit"), "validate-manifest", str(ROOT / ".pre-commit-hooks.yaml"))
    assert done.returncode == 0, done.stdout
    hooks = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert set(hooks) == {"reviewer", "reviewer-push", "reviewer-system", "reviewer-push-system"}
    for h in hooks.values():  # once per commit, never split into several runs that each load the model
        assert h["pass_filenames"] is False and h["require_serial"] is True
        assert h["entry"].startswith("reviewer hook run")
        assert ("--push" in h["entry"]) == (h["stages"] == ["pre-push"])
    assert hooks["reviewer"]["language"] == "python" and hooks["reviewer"]["stages"] == ["pre-commit"]
    assert ".[llama]" in hooks["reviewer"]["additional_dependencies"]  # pip runs in the hook repo's clone
    assert hooks["reviewer-system"]["language"] == "system"


def test_repo_scripts_are_the_installed_scripts():
    for name, text in hook.SCRIPTS.items():
        path = ROOT / "hooks" / name
        assert path.read_text() == text, f"hooks/{name} differs from reviewer.hook.SCRIPTS; regenerate it"
        assert os.access(path, os.X_OK)
        assert sh(ROOT, "sh", "-n", str(path)).returncode == 0


# --------------------------------------------------------------------------- hook run


def test_staged_finding_blocks_in_linter_format(repo, capsys):
    stage(repo, "app.py", SQL)
    code, out, err = run_hook(repo, capsys)
    assert code == 1
    assert out.splitlines()[0] == FINDING
    assert "Found 1 issue (1 high); 1 at or above fail-on high" in out
    assert err == ""


def test_clean_commit_passes_silently(repo, capsys):
    stage(repo, "app.py", CLEAN)
    assert run_hook(repo, capsys) == (0, "", "")


@pytest.mark.parametrize("what", ["nothing staged", "binary only", "lock file only", "deletion only"])
def test_nothing_reviewable_passes_silently(repo, capsys, what):
    if what == "binary only":
        (repo / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0binary")
        git(repo, "add", "logo.png")
    elif what == "lock file only":
        stage(repo, "poetry.lock", "[[package]]\nname = 'x'\n")
    elif what == "deletion only":
        git(repo, "rm", "-q", "app.py")
    assert run_hook(repo, capsys) == (0, "", "")


def test_fail_on_comes_from_the_config(repo, capsys):
    stage(repo, ".reviewer.toml", 'fail-on = "never"\n')
    stage(repo, "app.py", SQL)
    code, out, _ = run_hook(repo, capsys)
    assert code == 0 and FINDING in out  # still shown (pre-commit shows it with verbose: true), not blocking
    code, out, _ = run_hook(repo, capsys, "--fail-on", "high")
    assert code == 1


def test_full_formats_still_available(repo, capsys):
    import json

    stage(repo, "app.py", SQL)
    code, out, _ = run_hook(repo, capsys, "--format", "json")
    assert code == 1 and json.loads(out)["findings"][0]["line"] == 2


def test_second_run_answers_from_the_cache_without_loading_the_model(repo, capsys, monkeypatch):
    """The model runs in a child process (reviewer/backends/isolated.py): the first run starts
    one and asks it for both hunks; the retried commit starts none."""
    from reviewer.backends.isolated import IsolatedBackend

    started: list[IsolatedBackend] = []
    real_start = IsolatedBackend._start

    def start(self):
        started.append(self)
        return real_start(self)

    monkeypatch.setattr(IsolatedBackend, "_start", start)
    stage(repo, "app.py", SQL)
    stage(repo, "lib/util.py", CLEAN)
    first = run_hook(repo, capsys)
    assert len(started) == 1 and started[0]._next_id == 2  # two requests, one process
    second = run_hook(repo, capsys)  # a retried `git commit` on the same staged diff
    assert len(started) == 1
    assert first[0] == second[0] == 1
    assert first[1].splitlines()[0] == second[1].splitlines()[0] == FINDING
    assert "(2 cached)" in second[1]


OFFLINE = {"REVIEWER_BACKEND": "openai", "REVIEWER_BASE_URL": "http://127.0.0.1:9/v1", "REVIEWER_CACHE": "false"}


def test_model_down_fails_open_by_default(repo, capsys):
    stage(repo, "app.py", SQL)
    code, out, err = run_hook(repo, capsys, env=OFFLINE)
    assert code == 0 and out == ""
    assert err.startswith("reviewer: warning: not reviewed") and err.count("\n") == 1
    assert "cannot reach" in err and "fail-open" in err


@pytest.mark.parametrize("how", ["env", "config", "flag"])
def test_model_down_fails_closed_when_configured(repo, capsys, how):
    stage(repo, "app.py", SQL)
    env, argv = dict(OFFLINE), []
    if how == "env":
        env["REVIEWER_HOOK_POLICY"] = "fail-closed"
    elif how == "config":
        (repo / ".reviewer.toml").write_text('hook-policy = "fail-closed"\n')
    else:
        argv = ["--hook-policy", "fail-closed"]
    code, out, err = run_hook(repo, capsys, *argv, env=env)
    assert code == 2 and out == ""
    assert err.startswith("reviewer: error: ") and "cannot reach" in err and err.count("\n") == 1


def test_missing_model_fails_open(repo, capsys, tmp_path):
    stage(repo, "app.py", SQL)
    code, _, err = run_hook(repo, capsys, env={"REVIEWER_BACKEND": "llama", "REVIEWER_MODEL": str(tmp_path / "no.gguf")})
    assert code == 0 and "not found" in err


def test_usage_errors_are_not_covered_by_fail_open(repo, capsys):
    (repo / ".reviewer.toml").write_text('hook-policy = "sometimes"\n')
    with pytest.raises(ReviewerError, match="hook-policy"):
        run_hook(repo, capsys)
    (repo / ".reviewer.toml").write_text('fail-on = "often"\n')
    with pytest.raises(ReviewerError, match="fail-on"):
        run_hook(repo, capsys)


def test_not_a_repository(tmp_path, capsys):
    with pytest.raises(ReviewerError, match="not a git repository"):
        run_hook(tmp_path, capsys)


def _two_commits(repo: Path) -> tuple[str, str, str]:
    base = git(repo, "rev-parse", "HEAD").strip()
    stage(repo, "lib.py", CLEAN)
    git(repo, "commit", "-qm", "clean")
    clean = git(repo, "rev-parse", "HEAD").strip()
    stage(repo, "app.py", SQL)
    git(repo, "commit", "-qm", "sql")
    return base, clean, git(repo, "rev-parse", "HEAD").strip()


def test_push_range_from_pre_commit_env(repo, capsys):
    base, clean, sql = _two_commits(repo)
    env = {"PRE_COMMIT": "1", "PRE_COMMIT_FROM_REF": base, "PRE_COMMIT_TO_REF": sql}
    code, out, _ = run_hook(repo, capsys, "--push", env=env)
    assert code == 1 and FINDING in out
    env.update(PRE_COMMIT_TO_REF=clean)
    assert run_hook(repo, capsys, "--push", env=env)[0] == 0
    env.update(PRE_COMMIT_FROM_REF=clean, PRE_COMMIT_TO_REF=clean)
    assert run_hook(repo, capsys, "--push", env=env) == (0, "", "")  # nothing new: silent


def test_pre_commit_run_with_refs_reviews_the_range_not_the_index(repo, capsys):
    base, _, sql = _two_commits(repo)  # nothing staged now: `pre-commit run --from-ref --to-ref` in CI
    code, out, _ = run_hook(repo, capsys, env={"PRE_COMMIT_FROM_REF": base, "PRE_COMMIT_TO_REF": sql})
    assert code == 1 and FINDING in out


def test_pre_commit_push_without_range_passes(repo, capsys):
    # pre-commit sets no range when a push starts a new history (it checks all files instead)
    assert run_hook(repo, capsys, "--push", env={"PRE_COMMIT": "1"}) == (0, "", "")


def test_push_lines_from_git_on_stdin(repo, capsys):
    base, clean, sql = _two_commits(repo)
    zero = "0" * 40
    update = f"refs/heads/main {sql} refs/heads/main {base}\n"
    code, out, _ = run_hook(repo, capsys, "--push", stdin=update.encode())
    assert code == 1 and FINDING in out
    assert run_hook(repo, capsys, "--push", stdin=f"refs/heads/main {clean} refs/heads/main {base}\n".encode())[0] == 0
    deletion = f"(delete) {zero} refs/heads/old {base}\n"
    assert run_hook(repo, capsys, "--push", stdin=deletion.encode()) == (0, "", "")
    # a new branch with no remote: the whole history from the root commit, which pre-commit skips too
    assert run_hook(repo, capsys, "--push", "--remote", "origin",
                    stdin=f"refs/heads/main {sql} refs/heads/main {zero}\n".encode()) == (0, "", "")
    assert run_hook(repo, capsys, "--push", stdin=b"") == (0, "", "")


def test_push_ranges_for_a_new_branch(repo):
    base, clean, sql = _two_commits(repo)
    git(repo, "update-ref", "refs/remotes/origin/main", base)  # the remote has only the first commit
    zero = "0" * 40
    ranges = hook.push_ranges(f"refs/heads/feature {sql} refs/heads/feature {zero}\n", repo, "origin")
    assert ranges == [f"{clean}^...{sql}"]
    git(repo, "update-ref", "refs/remotes/origin/feature", sql)
    assert hook.push_ranges(f"refs/heads/feature {sql} refs/heads/feature {zero}\n", repo, "origin") == []


def test_push_conflicts_with_an_explicit_source(repo, capsys):
    with pytest.raises(ReviewerError, match="--push"):
        run_hook(repo, capsys, "--push", "--range", "HEAD~1..HEAD")


def test_provision_model_only_from_installed_chunks(monkeypatch, tmp_path):
    from importlib import metadata

    from reviewer import models
    from reviewer.config import Config

    pulled: list[str] = []
    monkeypatch.setattr(models, "pull", lambda name, cache_dir, progress=None: pulled.append(name))
    config = Config(backend="llama", cache_dir=tmp_path)
    assert not hook.provision_model(config.replace(backend="fake"))

    def missing(name: str) -> object:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "distribution", missing)
    assert not hook.provision_model(config)  # chunk packages not installed: never downloads
    assert pulled == []
    monkeypatch.setattr(metadata, "distribution", lambda name: object())
    assert hook.provision_model(config) and pulled == ["qwen2.5-coder-1.5b"]
    assert not hook.provision_model(config.replace(model="qwen2.5-coder-7b"))  # no chunks for it


# --------------------------------------------------------------------------- install / uninstall


def test_install_writes_an_executable_signed_script(repo, capsys):
    assert hook_command.run(parse("install"), repo) == 0
    target = repo / ".git" / "hooks" / "pre-commit"
    text = target.read_text()
    assert hook.SIGNATURE in text and os.access(target, os.X_OK)
    assert f"INSTALL_PYTHON={sys.executable}" in text or f"INSTALL_PYTHON='{sys.executable}'" in text
    assert "installed the pre-commit hook" in capsys.readouterr().out
    assert hook_command.run(parse("install"), repo) == 0  # ours: updated in place
    assert hook_command.run(parse("install", "--push"), repo) == 0
    assert "--push" in (repo / ".git" / "hooks" / "pre-push").read_text()
    assert hook_command.run(parse("uninstall"), repo) == 0
    assert not target.exists() and (repo / ".git" / "hooks" / "pre-push").exists()
    assert hook_command.run(parse("uninstall", "--push"), repo) == 0
    assert not (repo / ".git" / "hooks" / "pre-push").exists()
    assert "nothing to do" in hook.uninstall(repo)


def test_never_clobbers_a_foreign_hook(repo):
    target = repo / ".git" / "hooks" / "pre-commit"
    target.write_text("#!/bin/sh\necho mine\n")
    with pytest.raises(ReviewerError, match="--force") as info:
        hook_command.run(parse("install"), repo)
    assert "reviewer hook run" in str(info.value)  # the chaining alternative
    assert target.read_text() == "#!/bin/sh\necho mine\n"
    assert "left it alone" in hook.uninstall(repo)
    assert target.read_text() == "#!/bin/sh\necho mine\n"


def test_pre_commit_framework_hook_gets_a_pointer_to_the_config(repo):
    target = repo / ".git" / "hooks" / "pre-commit"
    target.write_text("#!/usr/bin/env bash\n# File generated by pre-commit: https://pre-commit.com\n")
    with pytest.raises(ReviewerError, match=r"\.pre-commit-config\.yaml"):
        hook.install(repo)


def test_force_keeps_the_foreign_hook_and_uninstall_restores_it(repo):
    hooks = repo / ".git" / "hooks"
    (hooks / "pre-commit").write_text("#!/bin/sh\necho mine\n")
    message = hook.install(repo, force=True)
    assert "pre-commit.before-reviewer" in message
    assert hook.is_ours(hooks / "pre-commit")
    assert (hooks / "pre-commit.before-reviewer").read_text() == "#!/bin/sh\necho mine\n"
    (hooks / "pre-commit").write_text(hook.script_text("pre-commit"))  # a second install --force is harmless
    hook.install(repo, force=True)
    assert "restored" in hook.uninstall(repo)
    assert (hooks / "pre-commit").read_text() == "#!/bin/sh\necho mine\n"
    assert not (hooks / "pre-commit.before-reviewer").exists()


def test_core_hooks_path_is_respected(repo):
    git(repo, "config", "core.hooksPath", ".githooks")
    hook.install(repo)
    assert hook.is_ours(repo / ".githooks" / "pre-commit")
    assert not (repo / ".git" / "hooks" / "pre-commit").exists()
    sub = repo / "lib"
    sub.mkdir()
    assert hook.hooks_dir(sub) == (repo / ".githooks").resolve()  # from a subdirectory too
    hook.uninstall(sub)
    assert not (repo / ".githooks" / "pre-commit").exists()


# --------------------------------------------------------------------------- real commits: plain git hooks


@needs_cli
def test_plain_git_hooks_block_and_allow(repo, tmp_path):
    assert sh(repo, "reviewer", "hook", "install").returncode == 0
    assert sh(repo, "reviewer", "hook", "install", "--push").returncode == 0
    stage(repo, "app.py", SQL)
    blocked = sh(repo, "git", "commit", "-m", "sql")
    assert blocked.returncode != 0 and FINDING in blocked.stdout
    git(repo, "reset", "-q", "--hard")
    stage(repo, "lib.py", CLEAN)
    allowed = sh(repo, "git", "commit", "-m", "clean")
    assert allowed.returncode == 0, allowed.stdout

    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "--no-verify", "origin", "main")
    (repo / "app.py").write_text(SQL)
    git(repo, "commit", "-qam", "sql", "--no-verify")
    pushed = sh(repo, "git", "push", "origin", "main")
    assert pushed.returncode != 0 and FINDING in pushed.stdout


@needs_cli
def test_plain_hook_runs_the_kept_hook_first(repo):
    hooks = repo / ".git" / "hooks"
    (hooks / "pre-commit").write_text("#!/bin/sh\necho legacy-ran >&2\nexit 3\n")
    (hooks / "pre-commit").chmod(0o755)
    refused = sh(repo, "reviewer", "hook", "install")
    assert refused.returncode == 2 and "--force" in refused.stdout and refused.stdout.count("\n") == 1
    assert sh(repo, "reviewer", "hook", "install", "--force").returncode == 0
    stage(repo, "lib.py", CLEAN)
    done = sh(repo, "git", "commit", "-m", "clean")
    assert done.returncode != 0 and "legacy-ran" in done.stdout  # the kept hook ran, and its veto holds
    (hooks / "pre-commit.before-reviewer").write_text("#!/bin/sh\necho legacy-ran >&2\n")
    stage(repo, "app.py", SQL)
    done = sh(repo, "git", "commit", "-m", "sql")
    assert done.returncode != 0 and "legacy-ran" in done.stdout and FINDING in done.stdout  # then reviewer
    assert "restored" in sh(repo, "reviewer", "hook", "uninstall").stdout
    assert "legacy-ran" in (hooks / "pre-commit").read_text()


@needs_cli
def test_plain_hook_with_core_hooks_path_and_commit_a(repo):
    git(repo, "config", "core.hooksPath", "hooks-dir")
    assert sh(repo, "reviewer", "hook", "install").returncode == 0
    (repo / "app.py").write_text(SQL)
    blocked = sh(repo, "git", "commit", "-am", "sql")  # a temporary index (GIT_INDEX_FILE)
    assert blocked.returncode != 0 and FINDING in blocked.stdout


# --------------------------------------------------------------------------- real commits: the pre-commit framework

LOCAL_CONFIG = """\
repos:
  - repo: local
    hooks:
      - id: reviewer
        name: reviewer
        entry: reviewer hook run
        language: system
        pass_filenames: false
        require_serial: true
        types: [text]
        stages: [pre-commit]
      - id: reviewer-push
        name: reviewer (push)
        entry: reviewer hook run --push
        language: system
        pass_filenames: false
        require_serial: true
        types: [text]
        stages: [pre-push]
"""


@needs_cli
def test_pre_commit_framework_blocks_and_allows(repo, tmp_path):
    (repo / ".pre-commit-config.yaml").write_text(LOCAL_CONFIG)
    git(repo, "add", ".pre-commit-config.yaml")
    git(repo, "commit", "-qm", "pre-commit config")
    installed = sh(repo, str(BIN / "pre-commit"), "install", "-t", "pre-commit", "-t", "pre-push")
    assert installed.returncode == 0, installed.stdout

    stage(repo, "app.py", SQL)
    blocked = sh(repo, "git", "commit", "-m", "sql")
    assert blocked.returncode != 0
    assert "reviewer" in blocked.stdout and "Failed" in blocked.stdout and FINDING in blocked.stdout
    again = sh(repo, "git", "commit", "-m", "sql")  # the retry answers from the cache
    assert again.returncode != 0 and "(1 cached)" in again.stdout

    git(repo, "reset", "-q", "--hard")
    stage(repo, "lib.py", CLEAN)
    allowed = sh(repo, "git", "commit", "-m", "clean")
    assert allowed.returncode == 0, allowed.stdout
    assert "reviewer" in allowed.stdout and "Passed" in allowed.stdout

    (repo / "app.py").write_text(SQL)
    unstaged = sh(repo, "git", "commit", "--allow-empty", "-m", "empty")  # the SQL is not staged: not reviewed
    assert unstaged.returncode == 0, unstaged.stdout

    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    assert sh(repo, "git", "push", "origin", "main").returncode == 0
    git(repo, "commit", "-qam", "sql", "--no-verify")
    pushed = sh(repo, "git", "push", "origin", "main")
    assert pushed.returncode != 0 and FINDING in pushed.stdout


def _working_tree_clone(tmp_path: Path) -> Path:
    """This repository as it is on disk (uncommitted work included), committed in a tmp repo."""
    src = tmp_path / "reviewer-src"
    files = sh(ROOT, "git", "ls-files", "-z", "--cached", "--others", "--exclude-standard").stdout.split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    git(src, "init", "-q")
    git(src, "add", "-A")
    git(src, "commit", "-qm", "snapshot")
    return src


@needs_cli
def test_try_repo_runs_the_manifest_hook(repo, tmp_path, capsys):
    src = _working_tree_clone(tmp_path)
    stage(repo, "app.py", SQL)
    done = sh(repo, str(BIN / "pre-commit"), "try-repo", str(src), "reviewer-system", "--verbose")
    assert done.returncode == 1, done.stdout
    assert FINDING in done.stdout
    git(repo, "reset", "-q", "--hard")
    stage(repo, "lib.py", CLEAN)
    done = sh(repo, str(BIN / "pre-commit"), "try-repo", str(src), "reviewer-system")
    assert done.returncode == 0, done.stdout


@needs_cli
def test_remote_repo_python_hook_installs_and_runs(repo, tmp_path):
    """The `reviewer` hook as a user gets it (language: python): pre-commit clones the repo,
    builds a virtualenv and pip-installs it there (~40 s; needs the package index). The
    llama extra is overridden away: compiling llama-cpp-python takes minutes."""
    src = _working_tree_clone(tmp_path)
    rev = git(src, "rev-parse", "HEAD").strip()
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {src}\n    rev: {rev}\n    hooks:\n      - id: reviewer\n"
        "        additional_dependencies: []\n")
    git(repo, "add", ".pre-commit-config.yaml")
    git(repo, "commit", "-qm", "pre-commit config")
    built = sh(repo, str(BIN / "pre-commit"), "install-hooks")
    if built.returncode != 0:
        log = Path(os.environ["PRE_COMMIT_HOME"], "pre-commit.log")
        text = built.stdout + (log.read_text() if log.exists() else "")
        offline = ("NewConnectionError", "Network is unreachable", "Temporary failure in name resolution",
                   "Could not find a version that satisfies")
        if any(needle in text for needle in offline):
            pytest.skip("the package index is not reachable: cannot build the hook's virtualenv")
        pytest.fail(text)
    stage(repo, "app.py", SQL)
    assert sh(repo, str(BIN / "pre-commit"), "install").returncode == 0
    blocked = sh(repo, "git", "commit", "-m", "sql")
    assert blocked.returncode != 0 and FINDING in blocked.stdout
    git(repo, "reset", "-q", "--hard")
    stage(repo, "lib.py", CLEAN)
    allowed = sh(repo, "git", "commit", "-m", "clean")
    assert allowed.returncode == 0, allowed.stdout
