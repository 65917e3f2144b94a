"""Where the reviewed project comes from for the generated tests: the tree, and the interpreter that runs them."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from reviewer.errors import ReviewerError
from reviewer.testgen.sandbox import TreeSpec


def _repo_root(cwd: Path) -> Path | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=cwd, capture_output=True, text=True,
                             timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(out.stdout.strip()) if out.returncode == 0 and out.stdout.strip() else None


def _rev(root: Path, rev: str) -> str:
    out = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], cwd=root,
                         capture_output=True, text=True, timeout=30, check=False)
    if out.returncode != 0:
        raise ReviewerError(f"unknown revision '{rev}'")
    return out.stdout.strip()


def tree_spec(cwd: Path, *, range: str | None = None, base: str | None = None, diff: str | None = None) -> TreeSpec:
    """Where the reviewed new-side tree comes from, given the diff-source flags (none: the index)."""
    root = _repo_root(cwd)
    if root is None:
        return TreeSpec("files")  # a diff without a repository: only the changed files themselves
    if range:
        new = re.split(r"\.\.\.?", range, maxsplit=1)[-1] or "HEAD"
        return TreeSpec("rev", root, _rev(root, new))
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
