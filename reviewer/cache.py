"""SQLite result cache: (model sha256, prompt version, hunk content) -> raw model answer.

Storing the raw answer (not parsed findings) keeps parsing and filtering changes
effective on cached results. WAL mode and a busy timeout let two hooks share it;
every put is its own transaction, so a killed process loses at most the answer it
was writing.

The cache is only a speed-up: a cache file that is corrupt or cannot be opened, or
fails later (a disk error, a lock held past the timeout), never fails a review. It
warns once on stderr and the run goes on without it.
"""

from __future__ import annotations

import hashlib
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path

import platformdirs

from reviewer.types import Completion

SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    key TEXT PRIMARY KEY,
    text TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    created REAL NOT NULL,
    confidence REAL
)
"""


def cache_root(cache_dir: Path | None) -> Path:
    """The directory for reviewer's cached data (models/ and results.sqlite3)."""
    return Path(cache_dir).expanduser() if cache_dir is not None else Path(platformdirs.user_cache_dir("reviewer"))


Warn = Callable[[str], None]


def warn_stderr(message: str) -> None:
    print(f"reviewer: warning: {message}", file=sys.stderr)


def open_result_cache(cache_dir: Path | None, enabled: bool = True, warn: Warn = warn_stderr) -> ResultCache | None:
    """The shared result cache, or None when caching is off or the cache cannot be opened.

    A cache file that is not a database (garbage bytes, a crash of something else) or a
    cache dir that cannot be written used to end the review with an internal error; now
    it is one warning (via `warn`) and the review runs without a cache.
    """
    if not enabled:
        return None
    path = cache_root(cache_dir) / "results.sqlite3"
    try:
        return ResultCache(path, warn)
    except (sqlite3.Error, OSError) as exc:
        warn(f"result cache {path} cannot be used ({_reason(exc)}); reviewing without it; {_fix(exc)}")
        return None


def cache_key(model_sha256: str, prompt_tag: str, hunk_key: str, extra: str = "") -> str:
    return hashlib.sha256(f"{model_sha256}\0{prompt_tag}\0{hunk_key}\0{extra}".encode()).hexdigest()


class ResultCache:
    """A small key-value store of model completions under the user cache dir.

    Opening raises sqlite3.Error or OSError when the file is unusable (`open_result_cache`
    turns that into a warning). After opening, a failing get or put calls `warn` once and
    the cache turns itself off for the rest of the run: a miss instead of a crash.
    """

    def __init__(self, path: Path, warn: Warn | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._warn = warn
        self._failed = False
        # timeout=30 is SQLite's busy timeout: a second process waits for the write lock.
        self._db = sqlite3.connect(str(path), timeout=30, isolation_level=None)
        try:
            _switch_to_wal(self._db)
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(SCHEMA)
            _add_confidence_column(self._db)
        except BaseException:
            self._db.close()
            raise

    def get(self, key: str) -> Completion | None:
        if self._failed:
            return None
        try:
            row = self._db.execute(
                "SELECT text, prompt_tokens, completion_tokens, confidence FROM results WHERE key = ?", (key,)
            ).fetchone()
        except sqlite3.Error as exc:
            self._fail(exc)
            return None
        return Completion(row[0], row[1], row[2], row[3]) if row else None

    def put(self, key: str, completion: Completion) -> None:
        if self._failed:
            return
        try:
            self._db.execute(
                "INSERT OR REPLACE INTO results (key, text, prompt_tokens, completion_tokens, created, confidence) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (key, completion.text, completion.prompt_tokens, completion.completion_tokens, time.time(),
                 completion.confidence),
            )
        except sqlite3.Error as exc:
            self._fail(exc)

    def get_text(self, key: str) -> str | None:
        """A stored text that is not a model answer (an analyzer's findings as JSON)."""
        hit = self.get(key)
        return None if hit is None else hit.text

    def put_text(self, key: str, text: str) -> None:
        self.put(key, Completion(text))

    def _fail(self, exc: sqlite3.Error) -> None:
        if self._warn is None:  # no one to tell: the caller gets the error, as before
            raise exc
        self._failed = True
        self._warn(f"result cache {self.path} failed ({_reason(exc)}); going on without it; {_fix(exc)}")

    def close(self) -> None:
        self._db.close()


def _add_confidence_column(db: sqlite3.Connection) -> None:
    """Caches written before answers carried a confidence lack the column: add it (NULL for old rows)."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(results)")}
    if "confidence" not in columns:
        try:
            db.execute("ALTER TABLE results ADD COLUMN confidence REAL")
        except sqlite3.OperationalError as exc:  # another process added it first
            if "duplicate column" not in str(exc):
                raise


def _switch_to_wal(db: sqlite3.Connection, attempts: int = 100) -> None:
    """`PRAGMA journal_mode=WAL`, retried while another process holds the lock.

    Two processes creating the same new database at once (two hooks on a fresh cache
    dir) can get "database is locked" from this pragma immediately: SQLite does not call
    the busy handler for the journal-mode change. Once one of them has switched, the
    file stays in WAL mode and later opens do not contend.
    """
    for attempt in range(attempts):
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.05)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return " ".join(str(exc).split())[:160] or type(exc).__name__


def _fix(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return "check the permissions of its directory, or set cache_dir"
    if isinstance(exc, sqlite3.OperationalError):  # locked, read-only, disk I/O: not the file's content
        return "check that the disk is writable and not full"
    return "delete that file to start a new cache"

