"""Turn an eval case's diff into a throwaway git repository with the change staged.

`reviewer eval` reviews each case the way `reviewer review` would see it in real use:
in a repository whose staged diff is the case's diff, so the reviewer reads whole new
files (and the enclosing functions) from the index, not just the diff's lines.

`materialize(diff_text, root)`:

1. rebuilds the OLD side of every changed file from the diff alone: each hunk's old-side
   lines (context and removed) at their old line numbers, every region the diff does not
   show as an empty line (so line numbers stay right), the file ending after the last
   line shown; a file created by the diff (`--- /dev/null`) has no old side. One
   exception to the empty filler: a hunk's section header (`@@ -8,6 +8,7 @@ def f(x):`)
   goes on the unshown line just above the hunk, so that git finds it again and the
   review still names the enclosing function (only that line's position is made up);
2. commits that (fixed author and dates, no signing, no hooks, no user or system git
   config);
3. applies the diff with `git apply --index`, i.e. staged, which is what `reviewer review`
   reviews by default (`DiffSource("staged")`, `git diff --cached`).

When `git apply` refuses the diff (hunks whose numbers or contents disagree with each
other, a -U0 diff, ...), the new side is rebuilt the same way instead: each file's hunks
replace the old lines they cover, and every new-side line of the diff is then written at
its new line number, so the new file agrees with the diff wherever the diff shows it;
deleted files are removed, renamed ones moved, and everything is staged with `git add -A`.
Binary patches cannot be rebuilt: they are a ReviewerError, as is a diff unidiff cannot
parse, a path that would leave the repository, or text that is not encodable.

Git runs through `reviewer.git` (a subprocess), never reading ~/.gitconfig or
/etc/gitconfig and ignoring GIT_* variables of the caller (a git hook sets GIT_DIR and
GIT_INDEX_FILE) but GIT_PYTHON_* (GIT_PYTHON_GIT_EXECUTABLE names the git to run).
`isolated_git_env()` gives the git calls of `reviewer.session.parse_source`, which take
the process environment, the same isolation.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Literal

from unidiff.errors import UnidiffParseError
from unidiff.patch import LINE_TYPE_NO_NEWLINE, PatchedFile, PatchSet

from reviewer import git
from reviewer.errors import ReviewerError
from reviewer.patchtext import clean_path, normalize

Method = Literal["git apply", "fallback"]

_IDENTITY = {
    "GIT_AUTHOR_NAME": "reviewer eval",
    "GIT_AUTHOR_EMAIL": "eval@reviewer.invalid",
    "GIT_COMMITTER_NAME": "reviewer eval",
    "GIT_COMMITTER_EMAIL": "eval@reviewer.invalid",
    "GIT_AUTHOR_DATE": "2000-01-01T00:00:00+0000",
    "GIT_COMMITTER_DATE": "2000-01-01T00:00:00+0000",
}
_CONFIG = ("commit.gpgsign=false", f"core.hooksPath={os.devnull}", "init.defaultBranch=main",
           "core.autocrlf=false", "core.safecrlf=false")
_NO_GIT = "git executable not found; `reviewer eval` needs git to build each case's repository"


def materialize(diff_text: str, root: Path) -> Method:
    """Build a git repository in `root` (an empty or missing directory) whose staged
    change is `diff_text`. Returns how the new side got there: "git apply", or
    "fallback" when git apply refused the diff and the new side was rebuilt from it."""
    text = normalize(diff_text)
    try:
        patch = PatchSet(text)
    except (UnidiffParseError, ValueError) as exc:
        raise ReviewerError(f"malformed diff: {str(exc).strip().splitlines()[0] if str(exc).strip() else 'cannot parse'}") \
            from None
    if not patch:
        raise ReviewerError("malformed diff: no file header (`--- a/...` / `+++ b/...`) found")
    data = _encode(text)

    old_files: dict[str, tuple[list[str], bool]] = {}  # path -> (lines, ends with a newline)
    shown: dict[str, set[int]] = {}
    for pf in patch:
        old = _path(pf.source_file)
        if old is not None:
            lines, eol = old_files.get(old, ([], True))
            side = _side(pf, "old")
            shown.setdefault(old, set()).update(side)
            old_files[old] = _overlay(lines, side), eol and not _no_newline(pf, "old")
    for pf in patch:
        old = _path(pf.source_file)
        if old is not None:
            _place_headers(pf, old_files[old][0], shown[old])

    root.mkdir(parents=True, exist_ok=True)
    _git(root, "init", "-q", "--template=")  # no sample hooks to write and delete again
    for path, (lines, eol) in old_files.items():
        _write(root, path, lines, eol)
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "--allow-empty", "--no-verify", "-m", "old side")
    try:
        _git(root, "apply", "--index", "--whitespace=nowarn", stdin=data)
        return "git apply"
    except ReviewerError:
        pass
    _fallback(root, patch, old_files)
    return "fallback"


@contextmanager
def isolated_git_env() -> Iterator[None]:
    """os.environ as `_env()` while inside: for git run by code that takes the process
    environment (reviewer.diffsource's). Not thread-safe; eval reads each case on one thread."""
    saved = dict(os.environ)
    try:
        os.environ.clear()
        os.environ.update(_env())
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


# --------------------------------------------------------------------------- helpers


def _env() -> dict[str, str]:
    return git.isolated_env(_IDENTITY)


def _git(root: Path, *args: str, stdin: bytes | None = None) -> None:
    try:
        git.run(root, *args, input=stdin, env=_env(), config=_CONFIG, missing=_NO_GIT)
    except git.GitError as exc:  # git's line as written ("fatal: ..." included), as this message always had
        raise ReviewerError(f"git {exc.command} failed: {exc.line or f'exit status {exc.returncode}'}") from None


def _encode(text: str) -> bytes:
    try:
        return text.encode("utf-8", "surrogateescape")  # bytes that were undecodable go back as they came
    except UnicodeEncodeError:
        raise ReviewerError("the diff has text that cannot be encoded (a lone surrogate)") from None


def _path(name: str | None) -> str | None:
    """A header name as a safe repo-relative path; None for /dev/null."""
    path = clean_path(name)
    if path is None:
        return None
    parts = PurePosixPath(path).parts
    if not parts or path.startswith("/") or ".." in parts or parts[0] == ".git" or "\0" in path:
        raise ReviewerError(f"unsafe path in diff: {path!r}")
    return path


def _side(pf: PatchedFile, side: Literal["old", "new"]) -> dict[int, str]:
    """Line number -> text of the lines the diff shows on one side of a file."""
    out: dict[int, str] = {}
    for hunk in pf:
        for line in hunk:
            if line.line_type == " " or line.line_type == ("-" if side == "old" else "+"):
                no = line.source_line_no if side == "old" else line.target_line_no
                if no is not None:
                    out[no] = line.value.removesuffix("\n")
    return out


def _place_headers(pf: PatchedFile, lines: list[str], shown: set[int]) -> None:
    """Put each hunk's section header (`@@ ... @@ def f(x):`, a line git found above the
    hunk) on the line just above the hunk when the diff does not show that line, so that
    git finds it again: the review keeps the enclosing function's name it would otherwise
    lose to the empty filler. Only that one line's position is made up."""
    for hunk in pf:
        header = hunk.section_header.strip()
        above = (hunk.source_start if hunk.source_length else hunk.source_start + 1) - 2  # 0-based
        if header and 0 <= above < len(lines) and above + 1 not in shown and not lines[above]:
            lines[above] = header


def _no_newline(pf: PatchedFile, side: Literal["old", "new"]) -> bool:
    """Whether the diff says this side of the file ends without a newline."""
    kinds = (" ", "-") if side == "old" else (" ", "+")
    for hunk in pf:
        lines = list(hunk)
        for before, line in itertools.pairwise(lines):
            if line.line_type == LINE_TYPE_NO_NEWLINE and before.line_type in kinds:
                return True
    return False


def _overlay(lines: list[str], shown: dict[int, str]) -> list[str]:
    """`lines` with each shown line at its number; gaps are empty lines."""
    out = list(lines)
    if shown:
        out.extend([""] * (max(shown) - len(out)))
    for no, value in shown.items():
        out[no - 1] = value
    return out


def _write(root: Path, path: str, lines: list[str], eol: bool) -> None:
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(lines) + ("\n" if lines and eol else "")
    target.write_bytes(_encode(text))


def _fallback(root: Path, patch: PatchSet, old_files: dict[str, tuple[list[str], bool]]) -> None:
    """Write the new side of every file from the diff by line numbers, then stage it all."""
    for pf in patch:
        if pf.is_binary_file:
            raise ReviewerError(f"binary file {pf.path} cannot be rebuilt from the diff")
    for pf in patch:
        old, new = _path(pf.source_file), _path(pf.target_file)
        if new is None:
            if old is not None:
                (root / old).unlink(missing_ok=True)
            continue
        base, eol = old_files.get(old, ([], True)) if old is not None else ([], True)
        lines = _overlay(_replace_hunks(base, pf), _side(pf, "new"))
        copied = any(str(info).startswith("copy from ") for info in pf.patch_info or ())
        if old is not None and old != new and not copied and all(_path(p.target_file) != old for p in patch):
            (root / old).unlink(missing_ok=True)  # renamed
        _write(root, new, lines, not _no_newline(pf, "new") if len(pf) else eol)
    _git(root, "add", "-A")


def _replace_hunks(old: list[str], pf: PatchedFile) -> list[str]:
    """Old lines with each hunk's old range replaced by its new-side lines, by number."""
    out: list[str] = []
    pos = 0
    for hunk in pf:
        start = hunk.source_start - 1 if hunk.source_length else hunk.source_start  # 0-based first old line
        start = max(start, pos)
        out.extend(old[pos:start])
        out.extend(line.value.removesuffix("\n") for line in hunk if line.line_type in (" ", "+"))
        pos = min(len(old), start + hunk.source_length)
    out.extend(old[pos:])
    return out


__all__ = ["Method", "isolated_git_env", "materialize"]
