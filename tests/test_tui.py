"""`reviewer tui`: Pilot tests on a scripted fake model, snapshots, and one run on the real model."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import re
import stat
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import ROOT, SAMPLE_DIFF, git
from helpers import make_finding

from reviewer.backends import Completion
from reviewer.backends.fake import FakeBackend
from reviewer.baseline import BASELINE_NAME, load_baseline
from reviewer.commands.tui import add_parser, run
from reviewer.config import Config
from reviewer.diff import DiffSource
from reviewer.errors import ReviewerError
from reviewer.session import parse_source
from reviewer.tui.app import ReviewApp
from reviewer.tui.edits import EditError, apply_edit, plan_edit, suggestion_lines, undo_edit
from reviewer.tui.screens import ConfirmScreen, DismissScreen, ExportScreen, FilterScreen, HelpScreen, ReviewScreen
from reviewer.types import Category, Severity

SIZE = (100, 30)
CONTRACT = json.loads((ROOT / "tests" / "data" / "review.schema.json").read_text())

USERS = """\
import sqlite3
import subprocess


def connect(path: str) -> sqlite3.Connection:
    return sqlite3.connect(path)


def get_user(db: sqlite3.Connection, user_id: str) -> tuple | None:
    cur = db.execute("SELECT id, name, email FROM users WHERE id = ?", (user_id,))
    return cur.fetchone()


def count(db: sqlite3.Connection) -> int:
    return db.execute("SELECT count(*) FROM users").fetchone()[0]


def names(db: sqlite3.Connection) -> list[str]:
    return [row[0] for row in db.execute("SELECT name FROM users")]


def run(cmd: str) -> int:
    return subprocess.run(cmd).returncode
"""
UTIL = """\
def check(x):
    if x is None:
        return 0
    return x
"""
SAFE_SQL = 'cur = db.execute("SELECT id, name, email FROM users WHERE id = ?", (user_id,))'
_ADDED = re.compile(r"^\+ +(\d+) \| (.*)$", re.MULTILINE)


def scripted(messages: list[dict[str, str]]) -> dict[str, Any]:
    """The fake model's answer: one finding per known smell on an added line, with a suggestion."""
    findings = []
    for number, code in _ADDED.findall(messages[-1]["content"]):
        line = int(number)
        if "f\"SELECT" in code:
            findings.append({"line": line, "category": "security", "severity": "high", "title": "SQL injection",
                             "message": "user_id is interpolated into the query.", "suggestion": SAFE_SQL})
        if "shell=True" in code:
            findings.append({"line": line, "category": "security", "severity": "medium", "title": "shell=True",
                             "message": "Command injection risk.", "suggestion": "return subprocess.run(cmd).returncode"})
            findings.append({"line": line, "category": "performance", "severity": "low", "title": "Spawns a shell",
                             "message": "An extra process per call.", "suggestion": ""})
        if "== None" in code:
            findings.append({"line": line, "category": "style", "severity": "low", "title": "Comparison to None [E711]",
                             "message": "Use `is None`.", "suggestion": "if x is None:"})
    return {"change": "scripted", "analysis": "", "findings": findings}


@pytest.fixture
def repo(make_repo: Callable[[dict[str, str]], Path]) -> Path:
    """A repository with three staged hunks: SQL injection, shell=True (app/users.py), `== None` (app/util.py)."""
    path = make_repo({"app/users.py": USERS, "app/util.py": UTIL})
    users = USERS.replace('db.execute("SELECT id, name, email FROM users WHERE id = ?", (user_id,))',
                          "db.execute(f\"SELECT id, name, email FROM users WHERE id = '{user_id}'\")")
    (path / "app" / "users.py").write_text(users.replace("subprocess.run(cmd)", "subprocess.run(cmd, shell=True)"))
    (path / "app" / "util.py").write_text(UTIL.replace("x is None", "x == None"))
    git(path, "add", "-A")
    return path


def ticking_clock() -> Callable[[], float]:
    """A clock that advances one second per reading: stable tokens/s in snapshots."""
    now = [0.0]

    def clock() -> float:
        now[0] += 1.0
        return now[0]

    return clock


def make_app(repo: Path, backend: Any = None, *, cache: bool = False, analyzers: bool = False, **kw: Any) -> ReviewApp:
    config = Config(backend="fake", cache_dir=repo.parent / "cache", cache=cache, analyzers=analyzers)
    parsed = parse_source(DiffSource("staged"), repo, config)
    return ReviewApp(parsed, config, backend or FakeBackend(answer=scripted), root=repo, cwd=repo, **kw)


async def wait_until(pilot: Any, condition: Callable[[], bool], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(0.02)
    await pilot.pause()


async def reviewed(pilot: Any) -> None:
    app = pilot.app
    await wait_until(pilot, lambda: app.idle.is_set() and app.phase in ("done", "stopped", "failed"))


def drive(app: ReviewApp, scenario: Callable[[Any], Awaitable[None]], size: tuple[int, int] = SIZE) -> None:
    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await scenario(pilot)

    asyncio.run(main())


def titles(app: ReviewApp) -> list[str]:
    return [f.title for f in app.visible()]


# -- streaming, navigation, quitting -------------------------------------------------------


def test_findings_stream_in_while_the_model_works(repo: Path) -> None:
    gate = threading.Event()

    def slow_last(messages: list[dict[str, str]]) -> dict[str, Any]:
        if "== None" in messages[-1]["content"]:
            gate.wait(10)
        return scripted(messages)

    app = make_app(repo, FakeBackend(answer=slow_last))

    async def scenario(pilot: Any) -> None:
        assert isinstance(app.screen, ReviewScreen)  # the window is up before any result
        await wait_until(pilot, lambda: app.session.done == 2)
        assert app.running
        assert titles(app) == ["SQL injection", "shell=True", "Spawns a shell"]
        assert "hunk 3 of 3" in " · ".join(app.status_parts())
        assert app.selected().title == "SQL injection"  # the first finding is selected as it arrives
        await pilot.press("n")  # the UI answers keys while the worker waits on the model
        assert app.selected().title == "shell=True"
        gate.set()
        await reviewed(pilot)
        assert titles(app)[-1] == "Comparison to None [E711]"  # brackets shown as text, not markup
        assert app.selected().title == "shell=True"  # new results do not move the selection
        assert app.phase == "done"

    drive(app, scenario)


def test_streamed_findings_end_equal_to_reviewer_review(repo: Path) -> None:
    """Analyzer hints and merging as in run_review: the TUI ends with the same findings."""
    from reviewer.analyzers import analyze
    from reviewer.pipeline import run_review

    app = make_app(repo, analyzers=True)

    async def scenario(pilot: Any) -> None:
        await reviewed(pilot)

    drive(app, scenario)
    parsed, config = app.session.parsed, app.config
    expected = run_review(parsed, FakeBackend(answer=scripted), config, None, hints=analyze(parsed)).findings
    assert sorted(app.visible(), key=lambda f: (f.path, f.line, f.title)) == sorted(
        expected, key=lambda f: (f.path, f.line, f.title))
    shell = next(f for f in app.visible() if f.title == "shell=True")
    assert shell.severity == Severity.HIGH  # bandit's B602 (high) raised the model's medium


def test_navigation_keys_move_between_findings_and_files(repo: Path) -> None:
    app = make_app(repo)

    async def scenario(pilot: Any) -> None:
        await reviewed(pilot)
        assert app.current_file == "app/users.py" and app.selected().title == "SQL injection"
        await pilot.press("n", "n")
        assert app.selected().title == "Spawns a shell"
        await pilot.press("n")
        assert app.current_file == "app/util.py" and app.selected().line == 2
        await pilot.press("n")  # wraps around
        assert app.selected().title == "SQL injection"
        await pilot.press("p")
        assert app.current_file == "app/util.py"
        await pilot.press("left_square_bracket")
        assert app.current_file == "app/users.py" and app.selected().title == "SQL injection"
        await pilot.press("right_square_bracket")
        assert app.current_file == "app/util.py"
        await pilot.press("tab")
        assert app.current_file == "app/users.py"
        await pilot.press("shift+tab")
        assert app.current_file == "app/util.py"

    drive(app, scenario)


def test_q_exits(repo: Path) -> None:
    app = make_app(repo)

    async def scenario(pilot: Any) -> None:
        await reviewed(pilot)
        await pilot.press("q")

    drive(app, scenario)
    assert app.return_value == 0 and not app.is_running


def test_q_during_a_review_stops_after_the_current_hunk(repo: Path) -> None:
    gate = threading.Event()
    backend = FakeBackend(answer=lambda m: (gate.wait(10), scripted(m))[1])
    app = make_app(repo, backend)

    async def scenario(pilot: Any) -> None:
        await wait_until(pilot, lambda: len(backend.calls) == 1)
        await pilot.press("q")
        assert app.is_running and "stopping after the current hunk" in app.phase
        gate.set()
        await wait_until(pilot, lambda: not app.is_running)

    drive(app, scenario)
    assert len(backend.calls) == 1  # the hunk under review finished; no new one started
    assert app.idle.is_set() and app.return_value == 0


def test_model_failure_is_shown_and_the_ui_stays(repo: Path) -> None:
    def broken(messages: list[dict[str, str]]) -> dict[str, Any]:
        raise ReviewerError("model exploded")

    app = make_app(repo, FakeBackend(answer=broken))

    async def scenario(pilot: Any) -> None:
        await reviewed(pilot)
        assert app.phase == "failed" and app.error == "model exploded"
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)

    drive(app, scenario)


# -- accept / undo --------------------------------------------------------------------------


def test_accept_confirms_then_writes_and_undo_restores(repo: Path) -> None:
    target = repo / "app" / "users.py"
    target.chmod(0o755)
    git(repo, "add", "app/users.py")
    app = make_app(repo)
    before = target.read_bytes()

    async def scenario(pilot: Any) -> None:
        await reviewed(pilot)
        assert app.selected().title == "SQL injection"
        await pilot.press("a")
        assert isinstance(app.screen, ConfirmScreen)
        shown = str(app.screen.query_one(".dialog-body Static").render())
        assert "-    cur = db.execute(f\"SELECT" in shown
        assert f"+    {SAFE_SQL}" in shown  # re-indented like the line it replaces
        assert target.read_bytes() == before  # nothing written before the answer
        await pilot.press("y")
        assert isinstance(app.screen, ReviewScreen)
        lines = target.read_text().splitlines()
        assert lines[9] == f"    {SAFE_SQL}"
        assert lines[:9] == before.decode().splitlines()[:9] and lines[10:] == before.decode().splitlines()[10:]
        assert git(repo, "status", "--porcelain", "app/users.py") == "MM app/users.py\n"
        assert stat.S_IMODE(target.stat().st_mode) == 0o755  # the temp file + rename kept the mode
        assert "SQL injection" in {f.title for f in app.visible() if f.fingerprint in app.session.accepted}
        await pilot.press("u")
        assert target.read_bytes() == before
        assert git(repo, "status", "--porcelain", "app/users.py") == "M  app/users.py\n"
        assert not app.session.edits

    drive(app, scenario)


def test_accept_cancelled_changes_nothing(repo: Path) -> None:
    app = make_app(repo)
    before = (repo / "app" / "users.py").read_bytes()

    async def scenario(pilot: Any) -> None:
        await reviewed(pilot)
        await pilot.press("a")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, ReviewScreen)
        await pilot.press("u")  # nothing to undo

    drive(app, scenario)
    assert (repo / "app" / "users.py").read_bytes() == before
    assert not list((repo / "app").glob(".*.tmp"))


def test_accept_refuses_when_the_file_changed_since_the_review(repo: Path) -> None:
    app = make_app(repo)
    target = repo / "app" / "users.py"

    async def scenario(pilot: Any) -> None:
        await reviewed(pilot)
        target.write_text(target.read_text().replace("cur = db.execute(f", "cur = db.run(f"))
        changed = target.read_bytes()
        await pilot.press("a")
        assert isinstance(app.screen, ReviewScreen)  # no confirmation offered
        assert target.read_bytes() == changed

    drive(app, scenario)


def test_two_accepts_in_one_file_and_undo_in_order(repo: Path) -> None:
    app = make_app(repo)
    target = repo / "app" / "users.py"
    before = target.read_bytes()

    async def scenario(pilot: Any) -> None:
        await reviewed(pilot)
        await pilot.press("a", "y", "n", "a", "y")
        text = target.read_text()
        assert SAFE_SQL in text and "return subprocess.run(cmd).returncode" in text and "shell=True" not in text
        await pilot.press("u")
        assert "shell=True" in target.read_text() and SAFE_SQL in target.read_text()
        await pilot.press("u")
        assert target.read_bytes() == before

    drive(app, scenario)


def test_undo_refuses_when_the_file_changed_after_accepting(repo: Path) -> None:
    app = make_app(repo)
    target = repo / "app" / "users.py"

    async def scenario(pilot: Any) -> None:
        await reviewed(pilot)
        await pilot.press("a", "y")
        target.write_text(target.read_text() + "# edited by hand\n")
        edited = target.read_bytes()
        await pilot.press("u")
        assert target.read_bytes() == edited
        assert len(app.session.edits) == 1

    drive(app, scenario)


# -- dismiss / baseline, filter, export, copy, re-review --------------------------------------


def test_dismiss_writes_the_baseline_and_a_new_session_hides_it(repo: Path) -> None:
    app = make_app(repo)

    async def scenario(pilot: Any) -> None:
        await reviewed(pilot)
        await pilot.press("d")
        assert isinstance(app.screen, DismissScreen)
        await pilot.press(*"ok", "space", *"here")
        await pilot.press("enter")
        assert isinstance(app.screen, ReviewScreen)
        assert "SQL injection" not in titles(app)
        assert app.selected().title == "shell=True"  # the next finding is selected

    drive(app, scenario)
    baseline = json.loads((repo / BASELINE_NAME).read_text())
    assert [(e["path"], e["line"], e["title"], e["reason"]) for e in baseline["findings"]] == [
        ("app/users.py", 10, "SQL injection", "ok here")]

    again = make_app(repo)

    async def second(pilot: Any) -> None:
        await reviewed(pilot)
        assert "SQL injection" not in titles(again)
        assert len(again.session.baselined()) == 1
        assert "1 baselined" in " · ".join(again.status_parts())

    drive(again, second)


def test_dismiss_cancelled_writes_nothing(repo: Path) -> None:
    app = make_app(repo)

    async def scenario(pilot: Any) -> None:
        await reviewed(pilot)
        await pilot.press("d", "escape")
        assert "SQL injection" in titles(app)

    drive(app, scenario)
    assert not (repo / BASELINE_NAME).exists()


def test_filter_hides_categories_and_severities(repo: Path) -> None:
    app = make_app(repo)

    async def scenario(pilot: Any) -> None:
        await reviewed(pilot)
        await pilot.press("f")
        assert isinstance(app.screen, FilterScreen)
        await pilot.press("2", "enter")  # 2 = security off
        assert {f.category for f in app.visible()} == {Category.PERFORMANCE, Category.STYLE}
        assert "filter bug,performance,style" in " · ".join(app.status_parts())
        assert app.selected() is not None and app.selected().category != Category.SECURITY
        await pilot.press("f", "2", "m", "enter")  # security back, medium and up
        assert {(f.category, f.severity) for f in app.visible()} == {
            (Category.SECURITY, Severity.HIGH), (Category.SECURITY, Severity.MEDIUM)}
        await pilot.press("f", "escape")  # cancel keeps the filter
        assert len(app.visible()) == 2

    drive(app, scenario)


def test_export_markdown_and_json(repo: Path) -> None:
    app = make_app(repo)

    async def export(pilot: Any, name: str) -> None:
        await pilot.press("e")
        assert isinstance(app.screen, ExportScreen)
        app.screen.query_one("#path").value = name
        await pilot.press("enter")

    async def scenario(pilot: Any) -> None:
        await reviewed(pilot)
        await pilot.press("a", "y")
        await export(pilot, "session.md")
        await export(pilot, "out/../session.json")
        md = (repo / "session.md").read_text()
        await export(pilot, "session.md")  # exists: asks first
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert (repo / "session.md").read_text() == md
        assert isinstance(app.screen, ReviewScreen)

    (repo / "out").mkdir()
    drive(app, scenario)
    md = (repo / "session.md").read_text()
    assert md.startswith("# reviewer session")
    assert "## app/users.py" in md and "SQL injection — suggestion applied" in md and "Comparison to None" in md
    data = json.loads((repo / "session.json").read_text())
    jsonschema.validate(data, CONTRACT)
    assert [f["title"] for f in data["findings"]][:1] == ["SQL injection"]
    assert data["stats"]["hunks"] == 3


def test_copy_puts_the_finding_on_the_clipboard(repo: Path) -> None:
    app = make_app(repo)

    async def scenario(pilot: Any) -> None:
        await reviewed(pilot)
        await pilot.press("c")
        assert app.clipboard.startswith("app/users.py:10: high security: SQL injection\n")
        assert SAFE_SQL in app.clipboard

    drive(app, scenario)


def test_rereview_bypasses_the_cache_for_the_current_hunk(repo: Path) -> None:
    answers = {"n": 0}

    def changing(messages: list[dict[str, str]]) -> dict[str, Any]:
        answers["n"] += 1
        out = scripted(messages)
        if answers["n"] > 3:
            for f in out["findings"]:
                f["title"] += " (again)"
        return out

    backend = FakeBackend(answer=changing)
    app = make_app(repo, backend, cache=True)

    async def scenario(pilot: Any) -> None:
        await reviewed(pilot)
        assert len(backend.calls) == 3
        await pilot.press("r")
        await reviewed(pilot)
        assert len(backend.calls) == 4  # the cache was not read for that hunk
        assert titles(app)[0] == "SQL injection (again)" and "shell=True" in titles(app)

    drive(app, scenario)
    # ... and the new answer was stored: a fresh session reads it from the cache without the model
    fresh = FakeBackend(answer=scripted)
    again = make_app(repo, fresh, cache=True)

    async def second(pilot: Any) -> None:
        await reviewed(pilot)
        assert titles(again)[0] == "SQL injection (again)" and not fresh.calls
        assert again.session.cached == 3

    drive(again, second)


class LazyBackend(FakeBackend):
    """A fake with llama's lazy-load shape: `loaded` and `load()`."""

    def __init__(self, app_box: list[ReviewApp]) -> None:
        super().__init__(answer=scripted)
        self.app_box = app_box
        self.loads: list[int] = []

    def load(self) -> None:
        self.loads.append(self.app_box[0]._batch_count)  # output held while the model loads
        self.loaded = True

    def complete(self, messages: list[Any], schema: Any, max_tokens: int) -> Completion:
        assert self.loaded, "load() must run before the first completion"
        return super().complete(messages, schema, max_tokens)


def test_model_load_holds_the_screen_and_redraws_after(repo: Path) -> None:
    box: list[ReviewApp] = []
    backend = LazyBackend(box)
    box.append(make_app(repo, backend, cache=True))
    app = box[0]

    async def scenario(pilot: Any) -> None:
        await reviewed(pilot)
        assert len(backend.loads) == 1 and backend.loads[0] >= 1  # loaded once, with output held
        assert app._batch_count == 0  # and released afterwards
        assert len(app.visible()) == 4

    drive(app, scenario)

    box[0] = make_app(repo, cached := LazyBackend(box), cache=True)

    async def second(pilot: Any) -> None:
        await reviewed(pilot)
        assert cached.loads == [] and len(box[0].visible()) == 4  # all from the cache: never loaded

    drive(box[0], second)


def test_small_terminal_and_wide_terminal_layouts(repo: Path) -> None:
    for size, wide in (((80, 24), False), ((160, 50), True)):
        app = make_app(repo)

        async def scenario(pilot: Any, app: ReviewApp = app, wide: bool = wide) -> None:
            await reviewed(pilot)
            assert app.screen.has_class("-wide") is wide
            detail = app.screen.query_one("#detail")
            diff = app.screen.query_one("#diff")
            assert (detail.region.x > diff.region.x) is wide  # beside the diff, or below it
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
            await pilot.press("escape")

        drive(app, scenario, size)


# -- the command line wiring ------------------------------------------------------------------


def test_add_parser_takes_the_review_flags() -> None:
    parser = argparse.ArgumentParser(prog="reviewer")
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["tui", "--base", "main", "--model", "qwen2.5-coder-0.5b", "--no-cache"])
    assert (args.command, args.base, args.model, args.cache) == ("tui", "main", "qwen2.5-coder-0.5b", False)


def test_run_refuses_without_a_terminal(repo: Path) -> None:
    parser = argparse.ArgumentParser(prog="reviewer")
    add_parser(parser.add_subparsers(dest="command"))
    with pytest.raises(ReviewerError, match="terminal"):
        run(parser.parse_args(["tui"]), repo)  # pytest's stderr is not a terminal


# -- applying suggestions (unit) ----------------------------------------------------------------


def test_suggestion_is_reindented_and_unfenced() -> None:
    assert suggestion_lines("x = 1", ["    y = 2"]) == ("    x = 1",)
    assert suggestion_lines("    x = 1", ["    y = 2"]) == ("    x = 1",)
    assert suggestion_lines("if a:\n    b()", ["  z"]) == ("  if a:", "      b()")
    assert suggestion_lines("```python\nx = 1\n```", ["x"]) == ("x = 1",)


def test_plan_edit_keeps_crlf_and_a_missing_final_newline(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    target = tmp_path / "app" / "users.py"
    target.write_bytes(b"a = 1\r\nb = 2\r\nc = 3")
    finding = dataclasses.replace(make_finding(line=3, path="app/users.py"), suggestion="c = 4")
    edit = plan_edit(tmp_path, finding, ["c = 3"])
    assert edit.after == b"a = 1\r\nb = 2\r\nc = 4"
    apply_edit(edit)
    assert target.read_bytes() == b"a = 1\r\nb = 2\r\nc = 4"
    undo_edit(edit)
    assert target.read_bytes() == b"a = 1\r\nb = 2\r\nc = 3"


def test_plan_edit_refuses_paths_outside_the_repository_and_stale_lines(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (tmp_path / "secret.py").write_text("x = 1\n")
    f = make_finding(line=1, path="../secret.py")
    with pytest.raises(EditError, match="outside the repository"):
        plan_edit(repo, f, ["x = 1"])
    (repo / "a.py").write_text("x = 2\n")
    with pytest.raises(EditError, match="no longer matches"):
        plan_edit(repo, make_finding(line=1, path="a.py"), ["x = 1"])
    with pytest.raises(EditError, match="no longer matches"):
        plan_edit(repo, make_finding(line=5, path="a.py"), ["x = 2"])
    with pytest.raises(EditError, match="does not exist"):
        plan_edit(repo, make_finding(line=1, path="gone.py"), ["x = 1"])


# -- snapshots (80x24) -----------------------------------------------------------------------------


def test_snapshot_main_screen(repo: Path, snap_compare: Any) -> None:
    app = make_app(repo, clock=ticking_clock())
    assert snap_compare(app, terminal_size=(80, 24), run_before=reviewed)


def test_snapshot_help_screen(repo: Path, snap_compare: Any) -> None:
    app = make_app(repo, clock=ticking_clock())

    async def before(pilot: Any) -> None:
        await reviewed(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=before)


def test_snapshot_wide_screen_with_an_accepted_suggestion(repo: Path, snap_compare: Any,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR")  # the others are taken under NO_COLOR (conftest); this one shows the theme
    app = make_app(repo, clock=ticking_clock())

    async def before(pilot: Any) -> None:
        await reviewed(pilot)
        await pilot.press("a", "y")
        app.clear_notifications()
        await pilot.pause()

    assert snap_compare(app, terminal_size=(140, 32), run_before=before)


# -- the real model -------------------------------------------------------------------------------



@pytest.mark.model
def test_real_model_finding_streams_into_the_tui(model_cache: Path, tmp_path: Path) -> None:
    from reviewer.backends import make_backend

    config = Config(cache_dir=model_cache)
    parsed = parse_source(DiffSource("file", str(SAMPLE_DIFF)), ROOT, config)
    backend = make_backend(config)
    app = ReviewApp(parsed, config, backend, root=tmp_path, cwd=tmp_path)

    async def scenario(pilot: Any) -> None:
        await wait_until(pilot, lambda: app.idle.is_set() and app.phase in ("done", "failed"), timeout=900)
        assert app.phase == "done", app.error
        security = [f for f in app.visible() if f.category == Category.SECURITY and f.line == 11]
        assert security, app.visible()
        assert security[0].path == "app/users.py"
        assert app.selected() is not None and app.session.speed.tokens_per_second

    try:
        drive(app, scenario)
    finally:
        backend.close()
    assert not load_baseline(tmp_path / BASELINE_NAME).entries
