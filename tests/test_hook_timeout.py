"""The hook never holds a commit hostage: `hook-timeout`, and a model that hangs or kills its process.

Real processes throughout: `reviewer hook run` as a command and `git commit` with the installed
pre-commit hook, on the fake backend, whose faults are set off by the staged code
(`reviewer-fake: hang|segfault|exit`, reviewer/backends/fake.py). The model runs in a child
process (reviewer/backends/isolated.py); the hook reports the hunks answered before the
fault, lists the rest, and follows hook-policy.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import git

from reviewer.backends.isolated import IsolatedBackend
from reviewer.config import Config
from reviewer.errors import NotAnswered

APP = "def check(x):\n    if x == None:\n        return 0\n    return x\n"  # the fake answers: low style, line 2
LOW = "app.py:2: low style: Comparison to None"
TIMEOUT_S = 5  # long enough for the child to start and answer app.py on 2 busy cores, short for a test


def lib(fault: str) -> str:
    return f"def helper():\n    # reviewer-fake: {fault}\n    return 1\n"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    gitconfig = tmp_path / "gitconfig"
    gitconfig.write_text("[init]\n\tdefaultBranch = main\n")
    out = {k: v for k, v in os.environ.items()
           if not k.startswith(("GIT_", "PRE_COMMIT")) and k != "SKIP"}
    out.update({"GIT_CONFIG_GLOBAL": str(gitconfig), "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "T",
                "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "T", "GIT_COMMITTER_EMAIL": "t@e",
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"})
    return out


@pytest.fixture
def repo(make_repo, env) -> Path:
    repo = make_repo({"README.md": "demo\n", ".reviewer.toml":
                      f'backend = "fake"\nanalyzers = false\nhook-timeout = {TIMEOUT_S}\n'})
    return repo


def run(repo: Path, env: dict[str, str], *argv: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = subprocess.run(list(argv), cwd=repo, env=env, capture_output=True, text=True, timeout=120, check=False)
    return done, time.monotonic() - started


def stage_change(repo: Path, fault: str) -> None:
    (repo / "app.py").write_text(APP)
    (repo / "lib.py").write_text(lib(fault))
    git(repo, "add", "app.py", "lib.py")


def test_a_hung_model_lets_the_commit_through_after_the_timeout(repo, env):
    assert run(repo, env, sys.executable, "-m", "reviewer", "hook", "install")[0].returncode == 0
    stage_change(repo, "hang")
    commit, seconds = run(repo, env, "git", "commit", "-m", "change")
    assert commit.returncode == 0, commit.stderr
    assert git(repo, "log", "-1", "--format=%s").strip() == "change"
    # what was reviewed is reported, what was not is listed, with why and the policy
    assert LOW in commit.stderr and "· 1 of 2 hunks reviewed\n" in commit.stderr
    assert (f"reviewer: warning: the hook-timeout of {TIMEOUT_S} s passed: 1 of 2 hunks reviewed; "
            "not reviewed: lib.py:1 (hook_policy is fail-open: the commit goes on;") in commit.stderr
    assert "Traceback" not in commit.stderr
    assert TIMEOUT_S <= seconds < TIMEOUT_S + 20  # the deadline, plus git and start-up on busy cores


def test_the_answer_that_came_is_cached_and_fail_closed_blocks(repo, env):
    stage_change(repo, "hang")
    first, _ = run(repo, env, sys.executable, "-m", "reviewer", "hook", "run", "--hook-policy", "fail-closed")
    assert first.returncode == 2 and first.stdout.startswith(LOW)
    assert first.stderr.strip().endswith("not reviewed: lib.py:1 (hook_policy is fail-closed)")
    assert first.stderr.startswith(f"reviewer: error: the hook-timeout of {TIMEOUT_S} s passed")
    # the flag wins over the file; app.py comes from the cache, lib.py still hangs
    second, seconds = run(repo, env, sys.executable, "-m", "reviewer", "hook", "run", "--hook-timeout", "2")
    assert second.returncode == 0 and "1 of 2 hunks reviewed (1 cached)" in second.stdout
    assert "the hook-timeout of 2 s passed: 1 of 2 hunks reviewed" in second.stderr
    assert seconds < TIMEOUT_S + 15


@pytest.mark.parametrize(("fault", "why"), [("segfault", "the model process crashed (SIGSEGV)"),
                                            ("exit", "the model process exited (status 3)")])
def test_a_model_that_kills_its_process_is_contained(repo, env, fault, why):
    assert run(repo, env, sys.executable, "-m", "reviewer", "hook", "install")[0].returncode == 0
    stage_change(repo, fault)
    commit, _ = run(repo, env, "git", "commit", "-m", "change")
    assert commit.returncode == 0, commit.stderr
    assert LOW in commit.stderr
    assert f"reviewer: warning: {why}: 1 of 2 hunks reviewed; not reviewed: lib.py:1" in commit.stderr
    git(repo, "reset", "-q", "--soft", "HEAD~1")
    closed, _ = run(repo, env, sys.executable, "-m", "reviewer", "hook", "run", "--hook-policy", "fail-closed")
    assert closed.returncode == 2 and f"reviewer: error: {why}" in closed.stderr
    assert "1 of 2 hunks reviewed (1 cached)" in closed.stdout  # app.py's answer survived the crash


def test_hunks_after_a_crash_are_not_asked(repo, env):
    (repo / "a.py").write_text(lib("exit"))
    (repo / "b.py").write_text(APP)
    git(repo, "add", "a.py", "b.py")
    done, _ = run(repo, env, sys.executable, "-m", "reviewer", "hook", "run")
    assert done.returncode == 0 and done.stdout == ""
    assert "0 of 2 hunks reviewed; not reviewed: a.py:1, b.py:1" in done.stderr


def test_a_bad_hook_timeout_is_one_line(repo, env):
    stage_change(repo, "hang")
    for value in ("-1", "soon", "nan"):
        done, _ = run(repo, env, sys.executable, "-m", "reviewer", "hook", "run", "--hook-timeout", value)
        assert done.returncode == 2 and done.stderr.count("\n") == 1 and "hook" in done.stderr, done.stderr


def test_the_deadline_is_counted_from_the_start_and_no_child_starts_after_it(tmp_path):
    backend = IsolatedBackend(Config(backend="fake", cache_dir=tmp_path), deadline=time.monotonic() - 1,
                              deadline_note="the test's limit")
    with pytest.raises(NotAnswered, match="the test's limit passed"):
        backend.complete([{"role": "user", "content": "x"}], None, 10)
    assert backend.started == 0
    backend.close()


def test_a_child_answers_like_the_backend_in_process(tmp_path):
    backend = IsolatedBackend(Config(backend="fake", cache_dir=tmp_path), deadline=None)
    try:
        messages = [{"role": "user", "content": "+ 3 | x = eval(y)"}]
        completion = backend.complete(messages, None, 10)
        again = backend.complete(messages, None, 10)
    finally:
        backend.close()
    assert backend.started == 1 and completion == again and '"line": 3' in completion.text


def test_hook_timeout_default_and_environment(tmp_path):
    from reviewer.config import load_config

    assert load_config(tmp_path, {}, {}).hook_timeout == 60.0
    assert load_config(tmp_path, {"REVIEWER_HOOK_TIMEOUT": "7.5"}, {}).hook_timeout == 7.5
    assert load_config(tmp_path, {"REVIEWER_HOOK_TIMEOUT": "7.5"}, {"hook_timeout": "0"}).hook_timeout == 0.0


def test_a_model_server_that_never_answers_is_cut_at_the_timeout(repo, env):
    """The openai backend against a server that reads the request and says nothing: before, its
    timeout and retries could hold the commit ~3 x 120 s; now the hook's deadline ends it."""
    from test_faults import RawServer, never_answers

    server = RawServer(never_answers)
    try:
        stage_change(repo, "nothing")
        done, seconds = run(repo, env, sys.executable, "-m", "reviewer", "hook", "run", "--backend", "openai",
                            "--base-url", server.url, "--server-timeout", "120", "--hook-timeout", "3")
    finally:
        server.close()
    assert done.returncode == 0 and done.stdout == ""
    assert "the hook-timeout of 3 s passed: 0 of 2 hunks reviewed; not reviewed: app.py:1, lib.py:1" in done.stderr
    assert server.connections >= 1 and seconds < 3 + 15
