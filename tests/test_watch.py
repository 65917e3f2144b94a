"""`reviewer watch`: saved files reviewed and printed as they come, bad files one line, the same cache filled."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from reviewer.lsp.watch import Watcher

ROOT = Path(__file__).resolve().parent.parent
BEFORE = "def get_user(db, user_id):\n    cur = db.cursor()\n    return cur.fetchone()\n"
AFTER = BEFORE.replace("    return", '    cur.execute(f"SELECT * FROM users WHERE id = {user_id}")\n    return')


def test_a_saved_file_is_reviewed_and_printed_and_bad_files_are_one_line(
        make_repo: Callable[[dict[str, str]], Path], tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("REVIEWER_BACKEND", "fake")
    repo = make_repo({"app.py": BEFORE})
    (repo / "app.py").write_text(AFTER)
    (repo / "blob.py").write_bytes(b"\0\1")
    out: list[str] = []
    warnings: list[str] = []
    watcher = Watcher({}, None, "line", out.append, warnings.append)
    try:
        review = watcher.review_path(repo / "app.py")
        watcher.review_path(repo / "blob.py")
        watcher.review_path(repo / "blob.py")
        again = watcher.review_path(repo / "app.py")
    finally:
        watcher.close()
    assert review is not None and [(f.line, f.category.value) for f in review.findings] == [(3, "security")]
    assert out[0].startswith("app.py:3:") and "security" in out[0]
    assert warnings == ["reviewer: blob.py is a binary file; not reviewed"]
    assert again is not None and again.stats.cached == 1  # the second review came from the cache


def test_reviewer_watch_prints_findings_as_files_are_saved(make_repo: Callable[[dict[str, str]], Path]) -> None:
    repo = make_repo({"app.py": BEFORE})
    env = {**os.environ, "PYTHONPATH": str(ROOT), "REVIEWER_BACKEND": "fake"}
    proc = subprocess.Popen([sys.executable, "-m", "reviewer", "watch", "--format", "line", "--debounce", "0.05"],
                            cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None and proc.stderr is not None
    threading.Thread(target=lambda: [lines.put(ln) for ln in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
    try:
        assert "reviewer: watching" in proc.stderr.readline()
        time.sleep(0.5)  # the watch is set up
        (repo / "app.py").write_text(AFTER)
        line = lines.get(timeout=60)  # an Empty error, not a hung test, if nothing is printed
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert line.startswith("app.py:3:") and "high security" in line, line
