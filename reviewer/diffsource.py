"""Reading a diff from git (staged, a range, a base), a file or stdin, with a reader for each file's new side.

`read_diff` does the I/O; parsing the text is `reviewer.diff.parse_diff`, which hands
the reader back the paths it finds. Git runs through `reviewer.git` (a subprocess).
"""

from __future__ import annotations

import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Literal, NamedTuple

from reviewer import git
from reviewer.errors import ReviewerError
from reviewer.patchtext import decode_diff, new_sides

NewFileReader = Callable[[str], "list[str] | None"]  # path -> new-side lines, or None


class DiffSource(NamedTuple):
    """Where the diff comes from: staged changes, a range "A..B"/"A...B", a base REF,
    a diff file PATH, or stdin (kind "stdin", or kind "file" with value "-")."""

    kind: Literal["staged", "range", "base", "file", "stdin"]
    value: str | None = None


class DiffInput(NamedTuple):
    """Raw diff text plus a way to read the new side of a changed file.

    `new_file_reader(path)` returns the lines (no line endings) of the new version of
    a repo-relative path, or None when that version is unknown.
    """

    text: str
    repo_root: Path | None
    new_file_reader: NewFileReader


_NO_GIT = f"{git.NOT_FOUND}, or pass --diff FILE"
_DIFF_OPTIONS = ("--no-color", "--no-ext-diff", "--no-textconv", "-M",
                 "--submodule=short", "--src-prefix=a/", "--dst-prefix=b/")
# -c instead of --no-relative: git before 2.28 knows neither, and ignores unknown config
_DIFF_CONFIG = ("diff.relative=false",)
_MAX_FILE_BYTES = 4_000_000  # larger new-side files get no context


def read_diff(source: DiffSource, cwd: Path, stdin: BinaryIO | None = None) -> DiffInput:
    """Get the diff text for `source` (git runs in the repository containing `cwd`)."""
    if source.kind == "stdin" or (source.kind == "file" and source.value in (None, "-")):
        return _from_bytes((stdin or sys.stdin.buffer).read(), cwd)
    if source.kind == "file":
        path = cwd / str(source.value)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ReviewerError(f"diff file {source.value} not found") from None
        except OSError as exc:
            raise ReviewerError(f"cannot read diff file {source.value}: {exc.strerror}") from None
        return _from_bytes(data, cwd)

    root = _repo_root(cwd)
    if source.kind == "staged":
        args, new_rev = ["--cached"], ""
    elif source.kind == "range":
        old, new, merge_base = git.parse_range(source.value or "")
        old_id, new_rev = _commit(root, old), _commit(root, new)
        args = [_merge_base(root, (old, old_id), (new, new_rev)) if merge_base else old_id, new_rev]
    elif source.kind == "base":
        ref = source.value or ""
        new_rev, ref_id = _commit(root, "HEAD"), _commit(root, ref)
        args = [_merge_base(root, (ref, ref_id), ("HEAD", new_rev)), new_rev]
    else:
        raise ReviewerError(f"unknown diff source {source.kind!r}; use staged, range, base, file or stdin")
    text = decode_diff(git.run(root, "diff", *_DIFF_OPTIONS, *args, "--", config=_DIFF_CONFIG, missing=_NO_GIT))
    return DiffInput(text, root, _git_reader(root, new_rev))


def read_file_diff(root: Path, path: str, against: str) -> DiffInput:
    """The working tree's changes to one repo-relative file, against the index ("index": what
    `git add` would still stage, as the commit hook will see it) or HEAD ("head")."""
    args = ["HEAD"] if against == "head" else []
    text = decode_diff(git.run(root, "diff", *_DIFF_OPTIONS, *args, "--", path, config=_DIFF_CONFIG, missing=_NO_GIT))
    return DiffInput(text, root, _worktree_reader(root, text))


def split_lines(data: bytes) -> list[str]:
    """File bytes as lines the way git counts them: split on \\n only, line endings dropped."""
    lines = data.decode("utf-8", "surrogateescape").split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def lines_agree(lines: list[str], expected: dict[int, str]) -> bool:
    """Whether a file's lines agree with every new-side line the diff shows (line no -> text)."""
    return all(0 < no <= len(lines) and lines[no - 1] == text for no, text in expected.items())


def _repo_root(cwd: Path) -> Path:
    """The work tree git runs in; a bare repository's git directory (ranges and bases work
    there); a ReviewerError outside a repository."""
    root = git.toplevel(cwd, missing=_NO_GIT) or git.git_dir(cwd)
    if root is None:
        raise ReviewerError(f"not a git repository: {cwd}; run inside a repository or pass --diff FILE")
    return root


def _commit(root: Path, rev: str) -> str:
    """The commit id `rev` names, or a ReviewerError saying it is unknown."""
    commit = git.rev_parse_commit(root, rev, missing=_NO_GIT)
    if commit is not None:
        return commit
    if rev == "HEAD":
        raise ReviewerError("unknown revision 'HEAD': the repository has no commits yet; review staged changes instead")
    raise ReviewerError(f"unknown revision '{rev}'; check the name with `git branch -a` or `git log --oneline` "
                        "(in CI, fetch it first, e.g. fetch-depth: 0)")


def _merge_base(root: Path, one: tuple[str, str], two: tuple[str, str]) -> str:
    """The merge base of two (name, commit id) pairs."""
    base = git.merge_base(root, one[1], two[1], missing=_NO_GIT)
    if base is None:
        raise ReviewerError(f"no common ancestor between '{one[0]}' and '{two[0]}'; "
                            "in a shallow clone fetch more history (`git fetch --unshallow`)")
    return base


def _from_bytes(data: bytes, cwd: Path) -> DiffInput:
    """A diff read from a file or stdin: the new side is the working tree, when it agrees."""
    text = decode_diff(data)
    try:
        root = git.toplevel(cwd)
    except git.GitNotFound:  # a diff file needs no git; without it there is no work tree to read
        root = None
    if root is None:  # not in a repository: nothing to read the new side from
        return DiffInput(text, None, lambda path: None)
    return DiffInput(text, root, _worktree_reader(root, text))


def _git_reader(root: Path, rev: str) -> NewFileReader:
    """Read new sides from `rev` (a commit id, or "" for the index)."""
    cache: dict[str, list[str] | None] = {}

    def read(path: str) -> list[str] | None:
        if path not in cache:
            try:
                data = git.show_blob(root, rev, path)  # None for a path with a NUL (git's quoting can smuggle one in)
            except ReviewerError:
                data = None
            cache[path] = split_lines(data) if data is not None and len(data) <= _MAX_FILE_BYTES else None
        return cache[path]

    return read


def _worktree_reader(root: Path, text: str) -> NewFileReader:
    """Read new sides from the working tree, but only files that match the diff's new lines."""
    expected: dict[str, dict[int, str]] | None = None
    cache: dict[str, list[str] | None] = {}
    base = root.resolve()

    def read(path: str) -> list[str] | None:
        nonlocal expected
        if "\0" in path:
            return None
        if path not in cache:
            if expected is None:
                expected = new_sides(text)
            cache[path] = None
            want = expected.get(path)
            try:  # resolve() raises RuntimeError on a symlink loop (Python < 3.13)
                file = (root / path).resolve()
                if want is not None and file.is_relative_to(base):
                    info = file.stat()
                    # a regular file only: reading a FIFO (or a device) would block forever
                    if stat.S_ISREG(info.st_mode) and info.st_size <= _MAX_FILE_BYTES:
                        lines = split_lines(file.read_bytes())
                        cache[path] = lines if lines_agree(lines, want) else None
            except (OSError, RuntimeError):  # missing, a directory, unreadable, a symlink loop: no new side
                pass
        return cache[path]

    return read


__all__ = ["DiffInput", "DiffSource", "NewFileReader", "decode_diff", "lines_agree", "read_diff", "read_file_diff", "split_lines"]
