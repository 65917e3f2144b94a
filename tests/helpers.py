"""Builders for hand-made hunks and findings used across unit tests."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from reviewer.types import Category, DiffLine, Finding, Hunk, Severity


def make_hunk(
    path: str = "app/users.py",
    removed: tuple[str, ...] = ('    cur = db.execute("SELECT * FROM users WHERE id = ?", (user_id,))',),
    added: tuple[str, ...] = ('    cur = db.execute(f"SELECT * FROM users WHERE id = {user_id}")',),
    before: tuple[str, ...] = ("def get_user(db, user_id):",),
    after: tuple[str, ...] = ("    return cur.fetchone()",),
    start: int = 10,
) -> Hunk:
    """A hunk whose first context line is new-file line `start`."""
    lines: list[DiffLine] = []
    old = new = start
    for text in before:
        lines.append(DiffLine(" ", text, old, new)); old += 1; new += 1
    for text in removed:
        lines.append(DiffLine("-", text, old, None)); old += 1
    for text in added:
        lines.append(DiffLine("+", text, None, new)); new += 1
    for text in after:
        lines.append(DiffLine(" ", text, old, new)); old += 1; new += 1
    return Hunk(
        path=path, old_path=path, language="python",
        old_start=start, old_len=old - start, new_start=start, new_len=new - start,
        lines=tuple(lines), section="def get_user(db, user_id):",
    )


def make_finding(line: int = 11, severity: Severity = Severity.HIGH, category: Category = Category.SECURITY,
                 title: str = "SQL built with string formatting", path: str = "app/users.py") -> Finding:
    return Finding(path, line, line, category, severity, title,
                   "user_id is interpolated into the query; use a parameter.",
                   'cur = db.execute("SELECT * FROM users WHERE id = ?", (user_id,))')


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> Path:
    """Write `rows` one JSON object per line (a cases or results file) and return `path`."""
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path

