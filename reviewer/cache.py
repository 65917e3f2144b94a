"""SQLite result cache: (model sha256, prompt version, hunk content) -> raw model answer.

Storing the raw answer (not parsed findings) keeps parsing and filtering changes
effective on cached results. WAL mode and a busy timeout let two hooks share it.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from pathlib import Path

import platformdirs

from reviewer.backends import Completion

SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    key TEXT PRIMARY KEY,
    text TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    created REAL NOT NULL
)
"""


def cache_root(cache_dir: Path | None) -> Path:
    """The directory for reviewer's cached data (models/ and results.sqlite3)."""
    return Path(cache_dir).expanduser() if cache_dir is not None else Path(platformdirs.user_cache_dir("reviewer"))


def open_result_cache(cache_dir: Path | None, enabled: bool = True) -> ResultCache | None:
    """The shared result cache, or None when caching is off."""
    return ResultCache(cache_root(cache_dir) / "results.sqlite3") if enabled else None


def cache_key(model_sha256: str, prompt_tag: str, hunk_key: str, extra: str = "") -> str:
    return hashlib.sha256(f"{model_sha256}\0{prompt_tag}\0{hunk_key}\0{extra}".encode()).hexdigest()


class ResultCache:
    """A small key-value store of model completions under the user cache dir."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(str(path), timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(SCHEMA)

    def get(self, key: str) -> Completion | None:
        row = self._db.execute(
            "SELECT text, prompt_tokens, completion_tokens FROM results WHERE key = ?", (key,)
        ).fetchone()
        return Completion(row[0], row[1], row[2]) if row else None

    def put(self, key: str, completion: Completion) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?)",
            (key, completion.text, completion.prompt_tokens, completion.completion_tokens, time.time()),
        )

    def close(self) -> None:
        self._db.close()

