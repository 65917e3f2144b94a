"""Where the reviewed project comes from for the generated tests: the tree, and the interpreter that runs them."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from reviewer import git
from reviewer.errors import ReviewerError
from reviewer.testgen.sandbox import TreeSpec


def _repo_root(cwd: Path) -> Path | None:
    try:
        return git.toplevel(cwd)
    except git.GitNotFound:
        return None


def _rev(root: Path, rev: str) -> str:
    commit = git.rev_parse_commit(root, rev)
    if commit is None:
        raise ReviewerError(f"unknown revision '{rev}'")
    return commit


def tree_spec(cwd: Path, *, range: str | None = None, base: str | None = None, diff: str | None = None) -> TreeSpec:
    """Where the reviewed new-side tree comes from, given the diff-source flags (none: the index)."""
    root = _repo_root(cwd)
    if root is None:
        return TreeSpec("files")  # a diff without a repository: only the changed files themselves
    if range:
        return TreeSpec("rev", root, _rev(root, git.parse_range(range).new))
    if base:
        return TreeSpec("rev", root, _rev(root, "HEAD"))
    if diff:
        return TreeSpec("worktree", root)
    return TreeSpec("index", root)


def project_python(root: Path | None) -> str | None:
    """The project's own virtualenv interpreter (.venv/ or venv/), when it has pytest; else None."""
    if root is None:
        return None
    for venv in (".venv", "venv"):
        python = root / venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
        if python.is_file():
            try:
                probe = subprocess.run([str(python), "-c", "import pytest"], capture_output=True, timeout=30,
                                       env={"PATH": os.environ.get("PATH", os.defpath)}, check=False)
            except (OSError, subprocess.SubprocessError):
                continue
            if probe.returncode == 0:
                return str(python)
    return None


__all__ = ["project_python", "tree_spec"]
