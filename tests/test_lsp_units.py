"""The editor server's parts without a client: findings following their code, the worker's debounce and cancellation."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

from helpers import make_finding

from reviewer.lsp.convert import ignore_edit, suggestion_edit
from reviewer.lsp.follow import anchored, follow, locate
from reviewer.lsp.worker import Job, Superseded, Worker

LINES = ["def get_user(db, user_id):", "    cur = db.cursor()", '    cur.execute(f"... {user_id}")', "    return cur"]


def test_a_finding_moves_with_its_code_and_is_withdrawn_with_it() -> None:
    [f] = anchored([make_finding(line=3, path="app.py")], "app.py", LINES)
    assert f.anchor == '    cur.execute(f"... {user_id}")'
    assert locate(f, LINES) == 3
    assert [g.line for g in follow([f], ["import os", "", *LINES])] == [5]  # two lines inserted above
    assert [g.line for g in follow([f], LINES[1:])] == [2]  # one deleted above
    assert follow([f], [*LINES[:2], '    cur.execute("... ?", (user_id,))', LINES[3]]) == ()  # edited: withdrawn
    # the same code twice: the occurrence nearest the old line
    twice = [*LINES[:3], "", "", "", "", LINES[2], LINES[3]]
    assert [g.line for g in follow([f], ["x = 1", *twice])] == [4]


def test_a_multi_line_finding_keeps_its_span_when_it_moves() -> None:
    f = make_finding(line=2, path="app.py")
    [f] = anchored([replace(f, end_line=3)], "app.py", LINES)
    [g] = follow([f], ["# header", *LINES])
    assert (g.line, g.end_line) == (3, 4)


def test_edits_keep_the_indent_and_the_comment_syntax_of_the_file() -> None:
    f = make_finding(line=3, path="app.js")
    f = replace(f, suggestion='cur.execute("... ?", [userId]);')
    fix = suggestion_edit(f, LINES)
    assert fix is not None and fix.new_text == '    cur.execute("... ?", [userId]);\n'
    assert (fix.range.start.line, fix.range.end.line, fix.range.end.character) == (2, 3, 0)
    comment = ignore_edit(f, LINES)
    assert comment is not None and comment.new_text == " // reviewer: ignore[security]"
    html = ignore_edit(make_finding(line=1, path="page.html"), ["<p>x</p>"])
    assert html is not None and html.new_text == " <!-- reviewer: ignore[security] -->"
    last = suggestion_edit(replace(f, line=4, end_line=4), LINES)
    assert last is not None and (last.range.end.line, last.range.end.character, last.new_text) == (
        3, len(LINES[3]), '    cur.execute("... ?", [userId]);')  # the last line: no newline added at the end


def test_the_worker_debounces_saves_and_supersedes_running_work() -> None:
    done: list[tuple[str, object]] = []
    started = threading.Event()
    release = threading.Event()

    def handle(job: Job) -> None:
        if job.payload == "slow":
            started.set()
            release.wait(5)
            job.check()  # between hunks: a newer save stops it here
        done.append((job.key, job.payload))

    errors: list[BaseException] = []
    worker = Worker(handle, lambda job, exc: errors.append(exc), debounce=0.2)
    worker.start()
    try:
        for n in range(5):  # a burst of saves: one review, of the last
            worker.submit("a", n)
            time.sleep(0.01)
        assert worker.idle(5)
        assert done == [("a", 4)]
        worker.submit("b", "slow", debounce=False)
        assert started.wait(5)
        worker.submit("b", "new", debounce=False)
        release.set()
        assert worker.idle(5)
        assert done == [("a", 4), ("b", "new")]  # the slow one was superseded, not published
        assert errors == []
    finally:
        worker.stop()


def test_a_failing_job_is_reported_and_the_worker_goes_on() -> None:
    seen: list[str] = []

    def handle(job: Job) -> None:
        if job.payload == "boom":
            raise RuntimeError("native engine fell over")
        seen.append(job.payload)

    errors: list[str] = []
    worker = Worker(handle, lambda job, exc: errors.append(f"{job.key}: {exc}"), debounce=0)
    worker.start()
    try:
        worker.submit("a", "boom")
        assert worker.idle(5)
        worker.submit("a", "fine")
        assert worker.idle(5)
    finally:
        worker.stop()
    assert errors == ["a: native engine fell over"] and seen == ["fine"]
    assert issubclass(Superseded, Exception)
