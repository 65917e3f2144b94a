"""sha256 of model files, remembered beside them, so a verified GGUF is not hashed again.

Hashing a 1 GB model takes seconds; a `<file>.verified` marker (and, for files the
registry does not know, `hashes.json` in the models dir) records the sha256 with the
file's size and mtime, and is trusted only while both still match.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

Progress = Callable[[int, int], None]
BUF = 8 * 1024 * 1024  # read size for hashing and assembling: large reads, few syscalls


def hash_file(path: Path, progress: Progress | None = None) -> str:
    digest, done, buf = hashlib.sha256(), 0, bytearray(BUF)
    total = path.stat().st_size
    with path.open("rb") as fh:
        while n := fh.readinto(buf):
            digest.update(memoryview(buf)[:n])
            done += n
            if progress:
                progress(done, total)
    return digest.hexdigest()


def marker_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _stat_key(path: Path) -> dict[str, int]:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def write_marker(path: Path, sha: str) -> None:
    write_json(marker_path(path), {**_stat_key(path), "sha256": sha})


def _fresh_sha(entry: Any, path: Path) -> str | None:
    """The sha256 in a marker or memo entry, if the file's size and mtime still match it."""
    if isinstance(entry, dict) and all(entry.get(k) == v for k, v in _stat_key(path).items()):
        sha = entry.get("sha256")
        return sha if isinstance(sha, str) and sha else None
    return None


def marker_sha(path: Path) -> str | None:
    return _fresh_sha(read_json(marker_path(path)), path)


def memo_lookup(path: Path, mdir: Path) -> str | None:
    return _fresh_sha((read_json(mdir / "hashes.json") or {}).get(str(path)), path)


def memo_store(path: Path, mdir: Path, sha: str) -> None:
    memo = read_json(mdir / "hashes.json") or {}
    memo[str(path)] = {**_stat_key(path), "sha256": sha}
    write_json(mdir / "hashes.json", memo)


def memo_sha(path: Path, mdir: Path) -> str:
    """sha256 of a file, memoized in hashes.json by absolute path, size and mtime."""
    sha = memo_lookup(path, mdir)
    if sha is None:
        sha = hash_file(path)
        memo_store(path, mdir, sha)
    return sha


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Best effort, atomic: a cache that cannot be written just is not cached."""
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except OSError:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


__all__ = ["BUF", "Progress", "hash_file", "marker_path", "marker_sha", "memo_lookup", "memo_sha", "memo_store", "read_json", "write_json", "write_marker"]
