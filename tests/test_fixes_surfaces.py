"""No suggestion that failed its checks reaches any front end: every output format, both CI bots, the TUI.

The fake model answers the README's SQL-injection example (examples/sample.diff) with the suggestion
the TUI used to offer (the injection kept, a parameter added); its repair answer is scripted.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import git
from test_ci_github import ci as github_ci
from test_ci_github import posted_reviews, server  # noqa: F401 - `server` is a fixture used below

from reviewer import backends
from reviewer.backends.fake import FakeBackend
from reviewer.cli import main
from reviewer.config import Config
from reviewer.diff import DiffSource
from reviewer.session import parse_source

SAMPLE = Path(__file__).resolve().parent.parent / "examples" / "sample.diff"
OLD_LINE = '    cur = db.execute("SELECT id, name, email FROM users WHERE id = ?", (user_id,))'
NEW_LINE = "    cur = db.execute(f\"SELECT id, name, email FROM users WHERE id = '{user_id}'\")"
BROKEN = "cur = db.execute(f\"SELECT id, name, email FROM users WHERE id = '{user_id}'\", (user_id,))"
FIXED = 'cur = db.execute("SELECT id, name, email FROM users WHERE id = ?", (user_id,))'
BROKEN_MARK = "'{user_id}'\", (user_id,)"  # in no output that holds only checked suggestions
FORMATS = ("text", "json", "sarif", "rdjson", "rdjsonl", "github", "line")


def model(repair: str = "") -> FakeBackend:
    def answer(messages: list[dict[str, str]]) -> dict[str, Any]:
        line = next(int(row.split("|")[0].strip("+ ")) for row in messages[-1]["content"].splitlines()
                    if row.startswith("+") and "SELECT" in row)
        return {"analysis": "a", "findings": [{"line": line, "category": "security", "severity": "high",
                                               "title": "SQL injection", "message": "user_id is interpolated.",
                                               "suggestion": BROKEN}]}
    return FakeBackend(answer=answer, repair=lambda _m: {"suggestion": repair})


@pytest.fixture
def backend(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> FakeBackend:
    made = model(getattr(request, "param", ""))
    monkeypatch.setattr(backends, "make_backend", lambda config: made)
    return made


def review(fmt: str, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    code = main(["review", "--diff", str(SAMPLE), "--format", fmt, "--fail-on", "never", "--no-cache", *extra])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_failed_suggestion_reaches_no_format(fmt: str, backend: FakeBackend, capsys: pytest.CaptureFixture[str]) -> None:
    out = review(fmt, capsys)
    assert "SQL injection" in out and BROKEN_MARK not in out
    assert backend.repairs  # it was given its one chance


def test_json_says_which_check_failed(backend: FakeBackend, capsys: pytest.CaptureFixture[str]) -> None:
    (f,) = [f for f in json.loads(review("json", capsys))["findings"] if f["source"] == "model"]
    assert f["suggestion"] is None
    assert f["suggestion_check"]["status"] == "failed" and f["suggestion_check"]["check"] == "analyzers"


def test_text_says_there_is_no_checked_fix(backend: FakeBackend, capsys: pytest.CaptureFixture[str]) -> None:
    assert "no checked fix: bandit still flags the fixed line" in review("text", capsys)


@pytest.mark.parametrize("backend", [FIXED], indirect=True)
@pytest.mark.parametrize("fmt", ("json", "sarif", "rdjson"))
def test_a_repaired_suggestion_is_shown_as_a_fix(fmt: str, backend: FakeBackend, capsys: pytest.CaptureFixture[str]) -> None:
    out = review(fmt, capsys)
    assert BROKEN_MARK not in out
    assert json.dumps(FIXED)[1:-1] in out  # JSON-escaped, as each of these formats writes it
    if fmt == "sarif":
        assert "insertedContent" in out
    if fmt == "json":
        (f,) = [f for f in json.loads(out)["findings"] if f["source"] == "model"]
        assert f["suggestion_check"]["status"] == "repaired" and f["suggestion_check"]["patch"].startswith("--- a/")


# -- the CI bots -------------------------------------------------------------------------------


def _pr_repo(make_repo: Any) -> tuple[Path, str, str]:
    users = SAMPLE_FILE.replace(NEW_LINE, OLD_LINE)
    repo = make_repo({"app/users.py": users})
    base = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "checkout", "-qb", "feature")
    (repo / "app/users.py").write_text(SAMPLE_FILE)
    git(repo, "commit", "-qam", "feature")
    head = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "checkout", "-q", "main")
    return repo, base, head


SAMPLE_FILE = (
    "import sqlite3\n\n\ndef connect(path: str) -> sqlite3.Connection:\n    return sqlite3.connect(path)\n\n\n"
    "def get_user(db: sqlite3.Connection, user_id: str) -> tuple | None:\n" + NEW_LINE + "\n    return cur.fetchone()\n"
)


@pytest.mark.parametrize("repaired", [False, True])
def test_github_posts_no_failed_suggestion_block(repaired: bool, server: Any, make_repo: Any, tmp_path: Path,  # noqa: F811
                                                 monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    repo, base, head = _pr_repo(make_repo)
    event = tmp_path / "pr-e2e.json"
    event.write_text(json.dumps({"number": 7, "pull_request": {"number": 7, "base": {"sha": base}, "head": {"sha": head}}}))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    monkeypatch.setattr(backends, "make_backend", lambda config: model(FIXED if repaired else ""))
    server.files = {"app/users.py": git(repo, "diff", base, head, "--", "app/users.py").split("\n", 4)[4].rstrip("\n")}
    code, _, err = github_ci(["ci", "github", "--no-cache", "--fail-on", "never"], repo, capsys)
    assert code == 0, err
    (posted,) = posted_reviews(server)
    bodies = "\n".join(c["body"] for c in posted["comments"])
    assert "SQL injection" in bodies and BROKEN_MARK not in bodies
    assert ("```suggestion\n    " + FIXED in bodies) is repaired


@pytest.mark.parametrize("repaired", [False, True])
def test_gitlab_posts_no_failed_suggestion(repaired: bool, make_repo: Any, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    repo, base, head = _pr_repo(make_repo)
    monkeypatch.setenv("CI_MERGE_REQUEST_DIFF_BASE_SHA", base)
    monkeypatch.setenv("CI_COMMIT_SHA", head)
    monkeypatch.chdir(repo)
    monkeypatch.setattr(backends, "make_backend", lambda config: model(FIXED if repaired else ""))
    code = main(["ci", "gitlab", "--dry-run", "--project", "1", "--mr", "1", "--no-cache", "--fail-on", "never"])
    out, err = capsys.readouterr()
    assert code == 0, err
    bodies = "\n".join(d["body"] for d in json.loads(out)["discussions"])  # what the bot would post
    assert "SQL injection" in bodies and BROKEN_MARK not in bodies
    assert ("```suggestion:-0+0\n    " + FIXED in bodies) is repaired


# -- the TUI's accept --------------------------------------------------------------------------


def test_tui_accept_offers_no_failed_suggestion(make_repo: Any) -> None:
    from reviewer.tui.app import ReviewApp

    repo, _base, head = _pr_repo(make_repo)
    git(repo, "checkout", "-q", head, "--", "app/users.py")  # the change, staged
    before = (repo / "app/users.py").read_text()
    config = Config(backend="fake", cache=False, analyzers=False, cache_dir=repo.parent / "cache")
    app = ReviewApp(parse_source(DiffSource("staged"), repo, config), config, model(""), root=repo, cwd=repo)
    notes: list[str] = []

    async def scenario() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            app.notify = lambda message, **kw: notes.append(str(message))  # type: ignore[method-assign]
            while not (app.idle.is_set() and app.phase in ("done", "stopped", "failed")):
                await pilot.pause(0.05)
            assert [f.title for f in app.visible()] == ["SQL injection"]
            await pilot.press("a")
            await pilot.pause(0.1)

    asyncio.run(scenario())
    assert any(n.startswith("no checked fix for this finding: bandit still flags") for n in notes), notes
    assert (repo / "app/users.py").read_text() == before
