"""The project's new-side tree for the test sandbox: copied from a commit, the index or the working tree."""

from __future__ import annotations

import os
import shutil
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

from reviewer import git
from reviewer.errors import ReviewerError

MAX_TREE_BYTES = 500_000_000
_SKIP_DIRS = frozenset({".git", ".hg", ".svn", ".venv", "venv", "node_modules", "__pycache__", ".tox", ".nox",
                        ".mypy_cache", ".pytest_cache", ".ruff_cache", ".eggs"})


@dataclass(frozen=True)
class TreeSpec:
    """Where the project's new-side files come from.

    kind: "rev" (a commit: `git archive`), "index" (`git checkout-index`), "worktree"
    (tracked + untracked, not ignored files of `root`), or "files" (only `files`).
    `files` are written on top in every case (e.g. new-side texts from the diff).
    """

    kind: str
    root: Path | None = None
    rev: str | None = None
    files: Mapping[str, str] = field(default_factory=dict)


def _git(root: Path, *args: str) -> bytes:
    try:
        return git.run(root, *args, timeout=120,
                       missing="git executable not found; it is needed to copy the project for running tests")
    except git.GitNotFound:
        raise
    except git.GitError as exc:
        raise ReviewerError(f"git {exc.command} failed: {exc.line or exc.returncode}") from None


def _inside(path: Path, base: Path) -> bool:
    try:
        path.resolve().relative_to(base.resolve())
        return True
    except ValueError:
        return False


def _copy_files(root: Path, names: Sequence[str], dest: Path) -> None:
    total = 0
    for name in names:
        src = root / name
        if any(part in _SKIP_DIRS for part in Path(name).parts) or not (src.is_file() or src.is_symlink()):
            continue
        if src.is_symlink() and not _inside(src, root):
            continue  # a link out of the project is not followed into the sandbox
        total += src.stat().st_size if src.exists() else 0
        if total > MAX_TREE_BYTES:
            raise ReviewerError(f"the project is larger than {MAX_TREE_BYTES // 1_000_000} MB; "
                                "cannot copy it into a sandbox to run tests")
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target, follow_symlinks=True)


def _worktree_names(root: Path) -> list[str]:
    if (root / ".git").exists():
        raw = _git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
        return [n for n in raw.decode("utf-8", "surrogateescape").split("\0") if n]
    names = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in _SKIP_DIRS and not (Path(dirpath, d) / "pyvenv.cfg").exists()]
        names.extend(str(Path(dirpath, f).relative_to(root)) for f in filenames)
    return names


def materialize(spec: TreeSpec, dest: Path) -> None:
    """Write the project's new-side tree into `dest` (an empty directory)."""
    if spec.kind == "rev" and spec.root is not None:
        data = _git(spec.root, "archive", "--format=tar", spec.rev or "HEAD")
        with tarfile.open(fileobj=BytesIO(data)) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(dest, filter="data")
            else:  # pragma: no cover - Python without extraction filters
                tar.extractall(dest)
    elif spec.kind == "index" and spec.root is not None:
        _git(spec.root, "checkout-index", "--all", "--force", f"--prefix={dest}{os.sep}")
    elif spec.kind == "worktree" and spec.root is not None:
        _copy_files(spec.root, _worktree_names(spec.root), dest)
    elif spec.kind != "files":
        raise ReviewerError(f"cannot build a sandbox tree of kind {spec.kind!r}")
    write_files(dest, spec.files)


def write_files(dest: Path, files: Mapping[str, str]) -> None:
    """Write repo-relative text files under dest (never outside it)."""
    for name, text in files.items():
        target = dest / name
        if not _inside(target, dest):
            raise ReviewerError(f"refusing to write {name} outside the sandbox")
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink():
            target.unlink()
        target.write_text(text, encoding="utf-8")


__all__ = ["MAX_TREE_BYTES", "TreeSpec", "materialize", "write_files"]
