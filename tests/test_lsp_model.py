"""`reviewer lsp` on the real default model: a saved f-string SQL query gets a security diagnostic on its line."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from lsp_client import fresh_diagnostics, lsp_client, open_file, save_file

pytestmark = [pytest.mark.model, pytest.mark.asyncio]

BEFORE = "import sqlite3\n\n\ndef get_user(db: sqlite3.Connection, user_id: str):\n    cur = db.cursor()\n    return cur.fetchone()\n"
QUERY = '    cur.execute(f"SELECT * FROM users WHERE id = {user_id}")'
AFTER = BEFORE.replace("    return", QUERY + "\n    return")


async def test_saving_an_fstring_query_gets_a_security_diagnostic_on_that_line(
        make_repo: Callable[[dict[str, str]], Path], model_cache: Path) -> None:
    repo = make_repo({"users.py": BEFORE})
    env = {"REVIEWER_BACKEND": "llama", "REVIEWER_CACHE_DIR": str(model_cache), "REVIEWER_EDITOR_DEBOUNCE": "0"}
    async with lsp_client(env, repo, command=[sys.executable, "-m", "reviewer", "lsp"]) as client:
        uri = open_file(client, repo / "users.py")
        assert await fresh_diagnostics(client, uri) == []  # nothing changed yet
        save_file(client, repo / "users.py", AFTER, 2)
        diagnostics = await fresh_diagnostics(client, uri, timeout=300)
    line = AFTER.splitlines().index(QUERY)
    assert any(d.code == "security" and d.range.start.line == line for d in diagnostics), diagnostics
    assert not client.messages, [m.message for m in client.messages]
