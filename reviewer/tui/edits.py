"""Applying a finding's suggestion to the working tree, and undoing it.

A suggestion replaces the whole lines `line..end_line` of the new file (as in SARIF
fixes and GitHub suggestion blocks). `plan_edit` reads the file, checks that those
lines still say what was reviewed, and returns an `Edit` holding the exact bytes
before and after; nothing is written until `apply_edit`. Writes go through a temp
file in the same directory and `os.replace`, keeping the file's mode and its line
endings. `undo_edit` puts the old bytes back, but only if nobody changed the file since.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reviewer.errors import ReviewerError
from reviewer.fsutil import atomic_write_bytes
from reviewer.suggested_fix import suggestion_lines  # shared with the editor server
from reviewer.types import Finding


class EditError(ReviewerError):
    """The suggestion cannot be applied or undone safely (file changed, missing, outside the repository)."""


@dataclass(frozen=True)
class Edit:
    """One suggestion applied (or about to be): where, what it replaces, and the whole file before/after.

    `reviewed_start`/`reviewed_end` are in the reviewed diff's line numbers; `delta` is how
    many lines the edit adds (negative: removes), so later findings in the file can be mapped.
    """

    path: Path
    rel: str
    fingerprint: str
    reviewed_start: int
    reviewed_end: int
    old_lines: tuple[str, ...]
    new_lines: tuple[str, ...]
    before: bytes
    after: bytes

    @property
    def delta(self) -> int:
        return len(self.new_lines) - len(self.old_lines)

    def diff(self) -> str:
        """The change as a unified diff (what the confirmation shows)."""
        before = self.before.decode("utf-8").splitlines(keepends=True)
        after = self.after.decode("utf-8").splitlines(keepends=True)
        lines = difflib.unified_diff(before, after, f"a/{self.rel}", f"b/{self.rel}", n=2)
        return "".join(ln if ln.endswith("\n") else ln + "\n\\ No newline at end of file\n" for ln in lines)


def resolve_in_root(root: Path, rel: str) -> Path:
    """`root/rel`, refusing anything that resolves outside the repository (a hostile diff's `../x`)."""
    base = root.resolve()
    target = (base / rel).resolve()
    if target != base and base not in target.parents:
        raise EditError(f"{rel} is outside the repository; not touching it")
    return target


def _eol(line: str) -> str:
    if line.endswith("\r\n"):
        return "\r\n"
    if line.endswith("\n"):
        return "\n"
    return ""


def plan_edit(root: Path, finding: Finding, reviewed: Sequence[str], offset: int = 0) -> Edit:
    """The edit that puts `finding.suggestion` in place of lines line..end_line.

    `reviewed` are those lines as the review saw them; `offset` shifts them for earlier
    accepted edits in the same file. Raises EditError when there is no suggestion, the
    file is unreadable or not UTF-8, or the lines no longer match.
    """
    if not finding.suggestion or not finding.suggestion.strip():
        raise EditError("this finding has no suggested change")
    path = resolve_in_root(root, finding.path)
    try:
        before = path.read_bytes()
    except FileNotFoundError:
        raise EditError(f"{finding.path} does not exist in the working tree") from None
    except OSError as exc:
        raise EditError(f"cannot read {finding.path}: {exc.strerror}") from None
    try:
        text = before.decode("utf-8")
    except UnicodeDecodeError:
        raise EditError(f"{finding.path} is not UTF-8 text; edit it by hand") from None
    lines = text.splitlines(keepends=True)
    start, end = finding.line + offset, max(finding.end_line, finding.line) + offset
    current = [ln.rstrip("\r\n") for ln in lines[start - 1:end]]
    wanted = [ln.rstrip("\r") for ln in reviewed]
    if start < 1 or len(current) != end - start + 1 or current != wanted:
        raise EditError(f"{finding.path}:{start} no longer matches the reviewed code (the file changed since "
                        "the review); re-run the review before applying suggestions")
    new = suggestion_lines(finding.suggestion, current)
    if not new:
        raise EditError("the suggested change is empty")
    eol = _eol(lines[end - 1]) if end - 1 < len(lines) else "\n"
    inner = _eol(lines[start - 1]) or "\n"
    body = "".join(ln + inner for ln in new[:-1]) + new[-1] + eol
    after = ("".join(lines[: start - 1]) + body + "".join(lines[end:])).encode("utf-8")
    return Edit(path, finding.path, finding.fingerprint, finding.line, max(finding.end_line, finding.line),
                tuple(current), new, before, after)


def write_bytes_atomically(path: Path, data: bytes) -> None:
    """Replace `path` with `data` via a temp file in the same directory; the file mode is kept.

    Through `fsutil`: the temp file is fsynced before the rename and removed on any failure
    (an interrupt included), so an accepted suggestion never leaves half a source file.
    """
    try:
        atomic_write_bytes(path, data)
    except OSError as exc:
        raise EditError(f"cannot write {path}: {exc.strerror or exc}") from None


def _current(edit: Edit) -> bytes | None:
    try:
        return edit.path.read_bytes()
    except OSError:
        return None


def apply_edit(edit: Edit) -> None:
    """Write the edit, if the file still holds exactly the bytes it was planned on."""
    if _current(edit) != edit.before:
        raise EditError(f"{edit.rel} changed after the change was planned; nothing written")
    write_bytes_atomically(edit.path, edit.after)


def undo_edit(edit: Edit) -> None:
    """Restore the bytes from before the edit, if the file still holds exactly what the edit wrote."""
    if _current(edit) != edit.after:
        raise EditError(f"{edit.rel} changed after the suggestion was applied; not undoing (use git to restore it)")
    write_bytes_atomically(edit.path, edit.before)


__all__ = ["Edit", "EditError", "apply_edit", "plan_edit", "resolve_in_root", "suggestion_lines", "undo_edit",
           "write_bytes_atomically"]
