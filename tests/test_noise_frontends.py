"""The baseline and inline ignores in every front end, in real git repositories with the fake backend:
`review`, `hook run`, `ci github --dry-run`, the TUI, and `reviewer baseline add|list|remove|prune`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import git
from test_ci_github import PR, ci, server  # noqa: F401  (server: the fake GitHub API fixture)

from reviewer.baseline import BASELINE_NAME, load_baseline
from reviewer.cli import main

FAKE = ["--backend", "fake", "--no-analyzers", "--no-cache", "--block", "all"]  # the fake model's claims are model-only: make them block to see them hidden
SQL = '    cur = db.execute(f"SELECT * FROM users WHERE id = {user_id}")\n'


def users(pad: int = 0, comment: str = "") -> str:
    """app/users.py with the SQL finding; `pad` lines inserted above it."""
    return ("import sqlite3\n" + "".join(f"X{i} = {i}\n" for i in range(pad)) + "\n\ndef get_user(db, user_id):\n"
            + comment + SQL + "    return cur.fetchone()\n")


@pytest.fixture
def repo(make_repo: Callable[[dict[str, str]], Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    """The SQL line staged; `reviewer baseline add` dismissed it; then 10 lines inserted above and staged."""
    path = make_repo({"app/users.py": "import sqlite3\n\n\ndef get_user(db, user_id):\n    return None\n"})
    monkeypatch.chdir(path)
    (path / "app/users.py").write_text(users())
    git(path, "add", "-A")
    assert main(["baseline", "add", "--reason", "user_id is an int from the router", *FAKE]) == 0
    (path / "app/users.py").write_text(users(pad=10))
    git(path, "add", "app/users.py")
    return path


def review_json(capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, Any]:
    capsys.readouterr()
    main(["review", "--format", "json", *FAKE, *extra])
    return json.loads(capsys.readouterr().out)


def test_review_keeps_a_dismissed_finding_dismissed_after_lines_above(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (entry,) = load_baseline(repo / BASELINE_NAME).entries.values()
    assert entry.reason == "user_id is an int from the router" and entry.line == 5 and entry.dismissed
    data = review_json(capsys)
    assert data["findings"] == [] and data["stats"]["hidden_by_baseline"] == 1
    shown = review_json(capsys, "--no-baseline")
    (finding,) = shown["findings"]
    assert finding["line"] == 15 and finding["fingerprint"] == entry.fingerprint
    capsys.readouterr()
    assert main(["review", *FAKE, "--fail-on", "high"]) == 0  # hidden findings do not fail the run
    assert "1 hidden by the baseline, 0 by inline ignores" in capsys.readouterr().out


def test_hook_run_keeps_it_dismissed(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from reviewer.commands import hook

    assert main(["hook", "run", *FAKE]) == 0
    out, err = capsys.readouterr()
    assert "SQL" not in out + err and "1 hidden by the baseline" in out
    assert main(["hook", "run", *FAKE, "--no-baseline"]) == 1
    assert "app/users.py:15: high security: SQL built with string formatting" in capsys.readouterr().out
    assert hook  # the module `main` dispatched to


def test_inline_ignore_in_review_and_hook(make_repo: Callable[[dict[str, str]], Path], monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    path = make_repo({"app/users.py": "import sqlite3\n"})
    monkeypatch.chdir(path)
    (path / "app/users.py").write_text(users(comment="    # reviewer: ignore[security, secruity]\n"))
    git(path, "add", "-A")
    data = review_json(capsys)
    assert data["findings"] == [] and data["stats"]["hidden_by_inline"] == 1
    capsys.readouterr()
    assert main(["hook", "run", *FAKE]) == 0
    out, err = capsys.readouterr()
    assert "1 by inline ignores" in out
    assert err.count("unknown category 'secruity'") == 1 and "app/users.py:5" in err
    assert len(review_json(capsys, "--no-inline-ignores")["findings"]) == 1


def test_corrupt_baseline_is_one_warning_and_the_review_runs(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / BASELINE_NAME).write_text('{"version": 1, "findings": [')
    capsys.readouterr()
    assert main(["review", *FAKE, "--fail-on", "never"]) == 0
    out, err = capsys.readouterr()
    assert "SQL built with string formatting" in out
    (warning,) = err.strip().splitlines()
    assert "not valid JSON" in warning and "reviewing without the baseline" in warning
    assert main(["baseline", "add", "--reason", "x", *FAKE]) == 2  # never rewrites what it could not read
    assert (repo / BASELINE_NAME).read_text() == '{"version": 1, "findings": ['
    assert capsys.readouterr().err.count("\n") == 1


def test_ci_github_dry_run_keeps_it_dismissed(server: Any, repo: Path, tmp_path: Path,  # noqa: F811
                                              monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    base = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "commit", "-qm", "feature")
    head = git(repo, "rev-parse", "HEAD").strip()
    event = tmp_path / "pr.json"
    event.write_text(json.dumps({"number": PR, "pull_request": {"number": PR, "base": {"sha": base}, "head": {"sha": head}}}))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    monkeypatch.setenv("REVIEWER_BACKEND", "fake")
    monkeypatch.setenv("REVIEWER_BLOCK", "all")  # the fake model's claims are model-only
    server.files = {"app/users.py": "@@ -1,5 +1,16 @@\n import sqlite3\n" + "".join(f"+X{i} = {i}\n" for i in range(10))
                    + " \n \n def get_user(db, user_id):\n-    return None\n+" + SQL + "+    return cur.fetchone()"}
    code, out, err = ci(["ci", "github", "--dry-run", "--no-analyzers", "--fail-on", "high"], repo, capsys)
    assert code == 0, err
    assert "SQL built" not in out and server.writes() == []
    code, out, err = ci(["ci", "github", "--dry-run", "--no-analyzers", "--no-baseline", "--fail-on", "high"], repo, capsys)
    assert code == 1 and "SQL built with string formatting" in out


def test_ci_inline_ignore(server: Any, make_repo: Callable[[dict[str, str]], Path], tmp_path: Path,  # noqa: F811
                          monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    path = make_repo({"app/users.py": "import sqlite3\n"})
    base = git(path, "rev-parse", "HEAD").strip()
    (path / "app/users.py").write_text(users(comment="    # reviewer: ignore\n"))
    git(path, "commit", "-qam", "feature")
    head = git(path, "rev-parse", "HEAD").strip()
    event = tmp_path / "pr.json"
    event.write_text(json.dumps({"number": PR, "pull_request": {"number": PR, "base": {"sha": base}, "head": {"sha": head}}}))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    monkeypatch.setenv("REVIEWER_BACKEND", "fake")
    monkeypatch.setenv("REVIEWER_BLOCK", "all")  # the fake model's claims are model-only
    code, out, err = ci(["ci", "github", "--dry-run", "--no-analyzers", "--fail-on", "high"], path, capsys)
    assert code == 0, err
    assert "SQL built" not in out


def test_tui_keeps_it_dismissed(repo: Path) -> None:
    from reviewer.backends.fake import FakeBackend
    from reviewer.config import Config
    from reviewer.diff import DiffSource
    from reviewer.session import parse_source
    from reviewer.tui.app import ReviewApp

    config = Config(backend="fake", cache=False, analyzers=False)
    parsed = parse_source(DiffSource("staged"), repo, config)
    app = ReviewApp(parsed, config, FakeBackend(), root=repo, cwd=repo)

    async def scenario() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            for _ in range(500):
                if app.idle.is_set() and app.phase in ("done", "stopped", "failed"):
                    break
                await pilot.pause(0.02)
            await pilot.pause()

    asyncio.run(scenario())
    assert app.phase == "done"
    assert app.visible() == [] and [f.line for f in app.session.baselined()] == [15]


def test_baseline_command_list_remove_prune(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (entry,) = load_baseline(repo / BASELINE_NAME).entries.values()
    capsys.readouterr()
    assert main(["baseline", "list"]) == 0
    assert f"{entry.fingerprint}  app/users.py:5  high security" in capsys.readouterr().out
    assert main(["baseline", "remove", "0123456789abcdef"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert main(["baseline", "prune"]) == 0  # the code is still there (10 lines lower)
    assert len(load_baseline(repo / BASELINE_NAME)) == 1
    (repo / "app/users.py").write_text(users(pad=10).replace("{user_id}", "?"))
    assert main(["baseline", "prune", "--dry-run"]) == 0
    assert "would prune" in capsys.readouterr().out and len(load_baseline(repo / BASELINE_NAME)) == 1
    assert main(["baseline", "prune"]) == 0
    assert len(load_baseline(repo / BASELINE_NAME)) == 0
    assert main(["baseline"]) == 2


def test_baseline_add_by_fingerprint_and_remove(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (entry,) = load_baseline(repo / BASELINE_NAME).entries.values()
    assert main(["baseline", "remove", entry.fingerprint]) == 0
    assert len(load_baseline(repo / BASELINE_NAME)) == 0
    assert main(["baseline", "add", "--fingerprint", "0123456789abcdef", "--reason", "x", *FAKE]) == 2
    assert main(["baseline", "add", "--fingerprint", entry.fingerprint, "--reason", "again", *FAKE]) == 0
    (again,) = load_baseline(repo / BASELINE_NAME).entries.values()
    assert again.fingerprint == entry.fingerprint and again.reason == "again" and again.line == 15


def test_baseline_help_teaches(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["baseline", "--help"])
    out = capsys.readouterr().out
    assert "examples:" in out and "reviewer baseline add --fingerprint" in out and "prune --dry-run" in out
