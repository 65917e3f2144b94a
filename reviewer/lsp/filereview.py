"""One saved file's changed hunks reviewed on a ReviewSession, the unit of work of `reviewer lsp` and `reviewer watch`.

The diff is git's own (`git diff [HEAD] -- path`, reviewer.diffsource.read_file_diff), so
the hunks are the ones the commit hook is shown once the file is staged, and the result
cache the editor fills is the one the hook reads. Bad input is a `FileProblem`: one line
saying what and how to fix, which the server shows once and the watcher prints.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from reviewer import git
from reviewer.config import Config, load_config
from reviewer.diff import parse_diff
from reviewer.diffsource import read_file_diff
from reviewer.errors import ReviewerError
from reviewer.pipeline import Progress
from reviewer.session import ReviewSession
from reviewer.types import ParsedDiff, Review

_SNIFF = 8192  # git's own binary test reads this much for a NUL


class FileProblem(ReviewerError):
    """A file the editor front ends cannot review (said once, the server keeps running)."""


class Target(NamedTuple):
    """A file in a git work tree: its absolute path, the repository root and the repo-relative path."""

    path: Path
    root: Path
    rel: str


def locate(path: Path) -> Target:
    """The repository `path` is in; FileProblem when it is gone or outside any repository."""
    if not path.is_file():
        raise FileProblem(f"reviewer: {path} no longer exists (deleted or moved); nothing to review")
    try:
        root = git.toplevel(path.parent)
    except git.GitNotFound as exc:
        raise FileProblem(f"reviewer: {exc}") from None
    if root is None:
        raise FileProblem(f"reviewer: {path.name} is not in a git repository; reviewer reviews changes "
                          "against git, so open files inside a repository (`git init` one)")
    resolved = path.resolve()
    return Target(resolved, root, resolved.relative_to(root.resolve()).as_posix())


def check_content(target: Target, max_bytes: int) -> None:
    """FileProblem for a file too big to review in an editor, or a binary one."""
    try:
        size = target.path.stat().st_size
        with target.path.open("rb") as fh:
            head = fh.read(_SNIFF)
    except OSError as exc:
        raise FileProblem(f"reviewer: cannot read {target.rel}: {exc.strerror}") from None
    if max_bytes and size > max_bytes:
        raise FileProblem(f"reviewer: {target.rel} is {size:,} bytes, over editor-max-bytes ({max_bytes:,}); "
                          "not reviewed (raise it in .reviewer.toml to review it)")
    if b"\0" in head:
        raise FileProblem(f"reviewer: {target.rel} is a binary file; not reviewed")


def config_for(target: Target, flags: Mapping[str, Any], config_file: Path | None,
               env: Mapping[str, str] | None = None) -> Config:
    """The settings for a file: its repository's config file, REVIEWER_* variables, then the flags."""
    config = load_config(target.root, os.environ if env is None else env, flags, config_file)
    return config.replace(cwd=target.root)


def parse_file(target: Target, config: Config) -> ParsedDiff:
    """The file's changed hunks (none when it has no changes, or is not tracked by git)."""
    diff_input = read_file_diff(target.root, target.rel, config.editor_against)
    if not diff_input.text.strip():
        return ParsedDiff(hunks=())
    return parse_diff(diff_input, config)


def review_file(session: ReviewSession, target: Target, progress: Callable[[str], Progress] | None = None,
                *, tests: bool = False, say: Callable[[str], None] | None = None) -> tuple[ParsedDiff, Review | None]:
    """The file's hunks and their review (None when it has nothing to review: no model is touched).

    `tests` (a session with `run_tests`): the changed functions' generated tests also run, in a
    sandboxed copy of the working tree (the file as saved), as `reviewer review --run-tests` does."""
    check_content(target, session.config.editor_max_bytes)
    parsed = parse_file(target, session.config)
    if not parsed.hunks:
        return parsed, None
    tree = None
    if tests:
        from reviewer.testgen.tree import TreeSpec  # the test machinery: only for the evidence pass

        tree = TreeSpec("worktree", target.root)
    return parsed, session.review(parsed, progress, tree=tree, say=say)


__all__ = ["FileProblem", "Target", "check_content", "config_for", "locate", "parse_file", "review_file"]
