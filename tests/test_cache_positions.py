"""The result cache does not depend on where a hunk sits, nor on whether it came from the
working tree or the index: the editor's reviews are the commit hook's cache hits.

In-process tests count the fake backend's calls; one test goes through a real `git commit`
with the installed pre-commit hook and reads the hook's own "(N cached)".
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import git
from helpers import make_finding, make_hunk

from reviewer.backends.fake import FakeBackend
from reviewer.cache import ResultCache, cache_key
from reviewer.diff import DiffSource
from reviewer.pipeline import review_hunks, run_review
from reviewer.prompting import load_template, messages_digest, review_messages
from reviewer.relative import origin, shift_answer, shift_hunk
from reviewer.session import ReviewSession
from reviewer.types import ParsedDiff


def reply_at(line: int, title: str = "SQL injection") -> dict[str, object]:
    return {"analysis": "a", "findings": [{"line": line, "category": "security", "severity": "high",
                                           "title": title, "message": "m", "suggestion": ""}]}


# --------------------------------------------------------------------------- a hunk that moved


def test_a_shifted_hunk_is_a_hit_with_its_own_line_numbers(tmp_path, config):
    cache = ResultCache(tmp_path / "r.sqlite3")
    first = FakeBackend()
    r1 = run_review(ParsedDiff((make_hunk(start=10),)), first, config, cache)
    moved = FakeBackend()
    r2 = run_review(ParsedDiff((make_hunk(start=110),)), moved, config, cache)
    assert len(first.calls) == 1 and moved.calls == [] and not moved.loaded
    assert r2.stats.cached == 1
    assert [f.line for f in r1.findings] == [11] and [f.line for f in r2.findings] == [111]
    assert [replace(f, line=f.line - 100, end_line=f.end_line - 100) for f in r2.findings] == list(r1.findings)


def test_the_model_still_sees_real_line_numbers(config):
    backend = FakeBackend()
    run_review(ParsedDiff((make_hunk(start=110),)), backend, config, cache=None)
    assert "+ 111 | " in backend.calls[0][1]["content"]


def test_hits_move_back_both_ways_and_keep_every_field(tmp_path, config):
    cache = ResultCache(tmp_path / "r.sqlite3")
    # first seen far down, with line and end_line (as digits in a string, which the parser accepts)
    answer = {"analysis": "a", "findings": [{"line": "211", "end_line": 211, "category": "bug", "severity": "medium",
                                             "title": "t", "message": "m", "suggestion": "x = 2"}]}
    run_review(ParsedDiff((make_hunk(start=210),)), FakeBackend(responses=[answer]), config, cache)
    up = run_review(ParsedDiff((make_hunk(start=3),)), FakeBackend(responses=[]), config, cache)
    (f,) = up.findings
    assert (f.line, f.end_line, f.title, f.suggestion) == (4, 4, "t", "    x = 2") and up.stats.cached == 1  # re-indented by the checks (reviewer/fixes/)


def test_lines_outside_the_hunk_stay_outside_after_the_move(tmp_path, config):
    cache = ResultCache(tmp_path / "r.sqlite3")
    run_review(ParsedDiff((make_hunk(start=10),)), FakeBackend(responses=[reply_at(500)]), config, cache)
    moved = run_review(ParsedDiff((make_hunk(start=40),)), FakeBackend(responses=[]), config, cache)
    assert moved.findings == () and moved.stats.dropped_findings == 1 and moved.stats.cached == 1


def test_a_malformed_answer_is_stored_as_it_came_and_stays_malformed(tmp_path, config):
    cache = ResultCache(tmp_path / "r.sqlite3")
    run_review(ParsedDiff((make_hunk(start=10),)), FakeBackend(responses=['{"findings": [']), config, cache)
    moved = run_review(ParsedDiff((make_hunk(start=70),)), FakeBackend(responses=[]), config, cache)
    assert moved.stats.cached == 1 and moved.stats.unreadable_answers == 1


def test_hints_move_with_the_hunk(tmp_path, config):
    cache = ResultCache(tmp_path / "r.sqlite3")
    hint = replace(make_finding(line=11), source="bandit")
    run_review(ParsedDiff((make_hunk(start=10),)), FakeBackend(), config, cache, hints=(hint,))
    moved_hint = replace(hint, line=61, end_line=61)
    backend = FakeBackend()
    results = list(review_hunks((make_hunk(start=60),), backend, config, cache, _Quiet(), (moved_hint,)))
    assert backend.calls == [] and results[0].cached
    other = FakeBackend()  # the same hint on another line of the hunk is another prompt
    list(review_hunks((make_hunk(start=60),), other, config, cache, _Quiet(), (replace(hint, line=60, end_line=60),)))
    assert len(other.calls) == 1


def test_different_code_at_the_same_place_still_misses(tmp_path, config):
    cache = ResultCache(tmp_path / "r.sqlite3")
    run_review(ParsedDiff((make_hunk(start=10),)), FakeBackend(), config, cache)
    backend = FakeBackend()
    run_review(ParsedDiff((make_hunk(start=10, after=("    return None",)),)), backend, config, cache)
    assert len(backend.calls) == 1


def test_a_hunk_at_the_top_keeps_the_key_and_answer_an_older_cache_stored(tmp_path, config):
    """Entries written before keys were relative: a hunk shown from line 1 was keyed and stored the same."""
    hunk = make_hunk(start=1)
    assert origin(hunk) == 1 and shift_hunk(hunk, 0) is hunk
    template = load_template("review")
    old_key = cache_key(FakeBackend().info.sha256, template.cache_tag,
                        messages_digest(review_messages(hunk, config.categories, template)), str(config.max_tokens))
    cache = ResultCache(tmp_path / "r.sqlite3")
    from reviewer.types import Completion

    cache.put(old_key, Completion(json.dumps(reply_at(2, "from the old cache"))))
    review = run_review(ParsedDiff((hunk,)), FakeBackend(responses=[]), config, cache)
    assert [(f.line, f.title) for f in review.findings] == [(2, "from the old cache")]


def test_shift_answer_moves_only_finding_lines():
    text = json.dumps({"analysis": "line 12", "findings": [{"line": 12, "end_line": "13", "x": 12}, "junk",
                                                            {"line": True}, {"line": 1.5}]})
    moved = json.loads(shift_answer(text, 5))
    assert moved["analysis"] == "line 12" and moved["findings"][0] == {"line": 17, "end_line": 18, "x": 12}
    assert moved["findings"][1:] == ["junk", {"line": True}, {"line": 1.5}]
    for raw in ("not json", '{"findings": 3}', "[1, 2]", '{"findings": [{"line": 1' + "0" * 5000 + "}]}"):
        assert shift_answer(raw, 5) == raw
    assert shift_answer(text, 0) is text


class _Quiet:
    def start(self, total): ...
    def model_loading(self): ...
    def advance(self, result): ...
    def finish(self): ...


# --------------------------------------------------------------------------- the editor, then the hook

HEAD = "import os\n\n" + "".join(f"X{i} = {i}\n" for i in range(30)) + "\n\ndef get_user(cur, user_id):\n    return None\n"
EDITED = HEAD.replace("    return None\n",
                      '    cur.execute(f"SELECT * FROM users WHERE id = {user_id}")\n    return cur.fetchone()\n')
LIB = "def add(a, b):\n    return a + b\n"
LIB_EDITED = "def add(a, b):\n    total = a + b\n    if total == None:\n        return 0\n    return total\n"


def _repo(make_repo):
    return make_repo({"app.py": HEAD, "lib.py": LIB})


def _worktree_review(session: ReviewSession, repo: Path):
    """What the editor reviews: the working tree against the index (`git diff`), new sides from the files."""
    diff = subprocess.run(["git", "diff"], cwd=repo, check=True, capture_output=True).stdout
    return session.review(session.parse(DiffSource("stdin"), repo, io.BytesIO(diff)))


def _hook_review(session: ReviewSession, repo: Path):
    return session.review(session.parse(DiffSource("staged"), repo))


def test_worktree_review_then_git_add_then_hook_is_all_cached(make_repo, config):
    repo = _repo(make_repo)
    (repo / "app.py").write_text(EDITED)
    (repo / "lib.py").write_text(LIB_EDITED)
    cfg = config.replace(analyzers=False)
    editor = FakeBackend()
    with ReviewSession(cfg, backend=editor) as session:
        before = _worktree_review(session, repo)
        prompts = editor.calls
    git(repo, "add", "-A")
    hook = FakeBackend()
    with ReviewSession(cfg, backend=hook) as session:
        after = _hook_review(session, repo)
    assert len(prompts) == 2 and hook.calls == [] and not hook.loaded
    assert after.stats.cached == after.stats.hunks == 2
    assert after.findings == before.findings and {f.line for f in after.findings} == {36, 3}


def test_worktree_and_index_build_the_same_prompts_from_their_own_side(make_repo, config):
    """The hook's context comes from the index, the editor's from the working tree: after
    `git add` they are the same lines, so the same prompts; an unstaged edit in the
    context changes the editor's prompt only."""
    repo = _repo(make_repo)
    (repo / "app.py").write_text(EDITED)
    git(repo, "add", "-A")
    git(repo, "reset", "-q")  # back to unstaged: the editor's view first
    cfg = config.replace(analyzers=False)
    editor, hook = FakeBackend(), FakeBackend()
    with ReviewSession(cfg, backend=editor, cache=None) as session:
        _worktree_review(session, repo)
    git(repo, "add", "-A")
    with ReviewSession(cfg, backend=hook, cache=None) as session:
        _hook_review(session, repo)
    assert editor.calls == hook.calls and "X29 = 29" in hook.calls[0][1]["content"]
    (repo / "app.py").write_text(EDITED.replace("X29 = 29", "X29 = 'unstaged'"))  # only in the working tree
    again = FakeBackend()
    with ReviewSession(cfg, backend=again, cache=None) as session:
        _hook_review(session, repo)
    assert again.calls == hook.calls  # the index, not the file on disk


def test_an_edit_above_after_the_editor_review_moves_the_hit(make_repo, config):
    repo = _repo(make_repo)
    (repo / "app.py").write_text(EDITED)
    cfg = config.replace(analyzers=False)
    with ReviewSession(cfg, backend=FakeBackend()) as session:
        before = _worktree_review(session, repo)
    (repo / "app.py").write_text("".join(f"import m{i}\n" for i in range(10)) + EDITED)  # ten lines on top
    git(repo, "add", "-A")
    hook = FakeBackend()
    with ReviewSession(cfg, backend=hook) as session:
        after = _hook_review(session, repo)
    assert len(hook.calls) == 1  # the new imports: the moved function is a hit
    assert after.stats.cached == 1 and after.stats.hunks == 2
    (was,) = before.findings
    (now,) = [f for f in after.findings if f.title == was.title]
    assert now.line == was.line + 10
    assert (repo / "app.py").read_text().splitlines()[now.line - 1].strip().startswith("cur.execute(f")


def test_a_real_commit_through_the_installed_hook_answers_from_the_editors_cache(make_repo, tmp_path):
    """The CLI end to end: `git diff | reviewer review --diff -` (the editor's view), `git add`,
    then `git commit` runs the installed pre-commit hook, which says all its hunks were cached."""
    repo = _repo(make_repo)
    (repo / ".reviewer.toml").write_text('backend = "fake"\nfail-on = "never"\nanalyzers = false\n')
    git(repo, "add", ".reviewer.toml")
    git(repo, "commit", "-qm", "config")
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": str(tmp_path / "none"),
           "GIT_AUTHOR_NAME": "T", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "T", "GIT_COMMITTER_EMAIL": "t@e",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    def run(*argv: str, **kw: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(argv), cwd=repo, env=env, capture_output=True, text=True, check=False, **kw)
    assert run(sys.executable, "-m", "reviewer", "hook", "install").returncode == 0
    (repo / "app.py").write_text(EDITED)
    (repo / "lib.py").write_text(LIB_EDITED)
    diff = run("git", "diff").stdout
    editor = run(sys.executable, "-m", "reviewer", "review", "--diff", "-", "--format", "json", input=diff)
    assert editor.returncode == 0, editor.stderr
    assert json.loads(editor.stdout)["stats"]["cached"] == 0
    run("git", "add", "-A")
    commit = run("git", "commit", "-m", "edit")
    assert commit.returncode == 0, commit.stderr
    assert "app.py:36: high security: SQL built with string formatting" in commit.stderr
    assert "2 hunks reviewed (2 cached)" in commit.stderr


@pytest.mark.model
def test_real_model_editor_review_then_the_hook_answers_from_the_cache(make_repo, model_cache):
    """The real model, one hunk: `git diff | reviewer review --diff -`, `git add`, `reviewer hook run`
    (default hook-timeout: the guarded path) answers from the cache with the same findings."""
    repo = make_repo({"app.py": HEAD})
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REVIEWER_", "GIT_"))}
    env.update({"REVIEWER_CACHE_DIR": str(model_cache), "REVIEWER_ANALYZERS": "false"})
    (repo / "app.py").write_text(EDITED)
    diff = subprocess.run(["git", "diff"], cwd=repo, check=True, capture_output=True, text=True).stdout
    editor = subprocess.run([sys.executable, "-m", "reviewer", "review", "--diff", "-", "--format", "json"], cwd=repo,
                            env=env, input=diff, capture_output=True, text=True, timeout=600, check=False)
    assert editor.returncode in (0, 1), editor.stderr
    git(repo, "add", "-A")
    started = time.monotonic()
    hook = subprocess.run([sys.executable, "-m", "reviewer", "hook", "run", "--format", "json"], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    seconds = time.monotonic() - started
    before, after = json.loads(editor.stdout), json.loads(hook.stdout)
    assert before["stats"]["cached"] == 0 and after["stats"]["cached"] == after["stats"]["hunks"] == 1
    assert after["findings"] == before["findings"]
    assert seconds < 10  # no model load: a cached run is ~0.2 s (bench/hook_cache.py)
