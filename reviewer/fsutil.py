"""Atomic file replacement: a reader (or a crash) never sees half a file.

Every file reviewer writes into the user's tree or reports (`-o FILE`, an accepted
suggestion, `reviewer tests --write`, the baseline) goes through `atomic_write_bytes`:
the bytes go to a new temp file in the same directory (so the rename stays on one
file system), are flushed to disk, and `os.replace` swaps it in. On any failure, an
interrupt included, the temp file is removed and the old file is left as it was.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path


def atomic_write_bytes(path: Path | str, data: bytes, *, fsync: bool = True) -> None:
    """Replace `path` with `data` atomically. Raises OSError (the target is then untouched).

    A symlink is followed (its target is replaced, the link stays). An existing file keeps
    its permission bits (an executable script stays executable); a new file gets the
    usual 0o666 minus the umask. With `fsync`, the data reaches the disk before the
    rename, so a power cut cannot leave an empty file behind the new name.
    """
    target = Path(os.path.realpath(path))
    try:
        mode: int | None = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = None
    tmp, fd = _create_temp(target)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            if mode is not None:
                os.fchmod(fh.fileno(), mode)
            if fsync:
                os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:  # an interrupt too: never leave the temp file behind
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    if fsync:
        _fsync_dir(target.parent)


def atomic_write_text(path: Path | str, text: str, *, encoding: str = "utf-8", fsync: bool = True) -> None:
    """`atomic_write_bytes` for text. The text is encoded before any file is created."""
    atomic_write_bytes(path, text.encode(encoding), fsync=fsync)


def _create_temp(target: Path) -> tuple[Path, int]:
    """A new, exclusively created temp file next to `target`: (path, open fd).

    Created with 0o666 so the umask applies as for any new file (mkstemp would give 0o600).
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
        try:
            return tmp, os.open(tmp, flags, 0o666)
        except FileExistsError:
            continue
    raise FileExistsError(f"cannot create a temp file next to {target}")  # pragma: no cover


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable. Best effort: not every platform can open a directory."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


__all__ = ["atomic_write_bytes", "atomic_write_text"]
