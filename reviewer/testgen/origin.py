"""Where the reviewed project comes from for the generated tests, and which interpreter runs them (in the sandbox)."""

from __future__ import annotations

from pathlib import Path

from reviewer import git
from reviewer.config import Config
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


def tests_python(flag: str | None, config: Config, root: Path | None) -> str | None:
    """The interpreter named for the tests: --python (relative to the working directory), else the
    tests_python setting (relative to the repository); None: reviewer's own. Never probed on the host:
    it only ever runs inside the sandbox (a repository's own .venv is code from the repository)."""
    if flag:
        return str(Path(flag).expanduser().absolute())
    if not config.tests_python:
        return None
    path = Path(config.tests_python).expanduser()
    return str(path if path.is_absolute() or root is None else root / path)


__all__ = ["tests_python", "tree_spec"]
