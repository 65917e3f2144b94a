"""What a CI run reviews: the settings from the base commit, and only the hunks changed since the last reviewed head.

`reviewer ci` reads `.reviewer.toml` / `[tool.reviewer]` and `.reviewer/instructions.md`
from the request's base commit, not from the checkout: the author of a pull request
cannot exclude their change, switch `fail-on` off or send the code to a server of their
choosing; a change to the settings takes effect once merged.

The last head reviewed is remembered in reviewer's own summary (`head=` in its marker
line). On the next push only the hunks of the request's diff that the commits since then
touched go to the model; the others come from the result cache when it has them, and are
otherwise left as they were (their comments stay). A full re-review happens when asked
for (`--full-review`, or a `/reviewer review` comment from someone with write access), when
the last head is not an ancestor of the new one (a force-push, a rebase), or on the first run.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from reviewer import git
from reviewer.ci.comments import Existing
from reviewer.ci.dismiss import Reply, parse_command
from reviewer.config import INSTRUCTIONS_FILE
from reviewer.errors import ReviewerError
from reviewer.types import Hunk, Review

CONFIG_FILES = (".reviewer.toml", "pyproject.toml", INSTRUCTIONS_FILE)
_HUNK_HEADER = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@", re.MULTILINE)
_SHA = re.compile(r"[0-9a-f]{40}")

Spans = Mapping[str, list[tuple[int, int]]]  # path -> new-side line ranges (inclusive)


def base_files(cwd: Path, base: str) -> dict[str, str | None]:
    """The settings files as the base commit has them (None: not there)."""
    if git.rev_parse_commit(cwd, base) is None:
        raise ReviewerError(f"the base commit {base[:40]} is not in this checkout, so its settings cannot be read; "
                            "fetch the history (actions/checkout fetch-depth: 0, GitLab GIT_DEPTH: 0)")
    out: dict[str, str | None] = {}
    for name in CONFIG_FILES:
        blob = git.show_blob(cwd, base, name)
        out[name] = None if blob is None else blob.decode("utf-8", "replace")
    return out


def base_of(range_text: str | None) -> str | None:
    """The base side of "BASE...HEAD" / "A..B" (None for anything else)."""
    if not range_text:
        return None
    left = range_text.split("...", 1)[0] if "..." in range_text else range_text.split("..", 1)[0]
    return left if left and left != range_text else None


def changed_since(cwd: Path, last_head: str, head: str) -> dict[str, list[tuple[int, int]]] | None:
    """New-side lines (in `head`) that commits last_head..head changed, per path; None when
    that cannot be told (last_head unknown here, or not an ancestor of head: a force-push)."""
    if not _SHA.fullmatch(last_head) or git.rev_parse_commit(cwd, last_head) is None:
        return None
    if not git.ok(cwd, "merge-base", "--is-ancestor", last_head, head):
        return None
    diff = git.text(cwd, "diff", "--no-color", "--no-ext-diff", "--no-renames", "-U0", last_head, head, "--")
    spans: dict[str, list[tuple[int, int]]] = {}
    path = None
    for line in diff.split("\n"):
        if line.startswith("+++ "):
            path = None if line[4:] == "/dev/null" else line[4:].removeprefix("b/")
        m = _HUNK_HEADER.match(line)
        if m and path is not None:
            start, length = int(m.group(1)), int(m.group(2) or 1)
            # a pure deletion (length 0) sits between lines start and start+1
            spans.setdefault(path, []).append((start, start + max(length, 1) - 1) if length else (start, start + 1))
    return spans


def touches(hunk: Hunk, spans: Spans) -> bool:
    """Whether the commits since the last review changed any line of `hunk` (or next to it)."""
    first, last = hunk.new_start, hunk.new_start + max(hunk.new_len, 1) - 1
    return any(a <= last and b >= first for a, b in spans.get(hunk.path, ()))


def in_spans(path: str | None, line: int | None, spans: Spans) -> bool:
    return path is not None and line is not None and any(a <= line <= b for a, b in spans.get(path, ()))


@dataclass(frozen=True)
class Scope:
    """What this run reviews: `ask_only` (None = every hunk) and why, for the summary."""

    ask_only: Callable[[Hunk], bool] | None
    since: str | None = None  # the last reviewed head, when reviewing incrementally
    full_request: int = 0  # when the `/reviewer review` comment honoured was written


def scope(cwd: Path, last_head: str | None, head: str | None, full: bool, full_request: int) -> Scope:
    """Incremental when a last reviewed head is known and nothing asks for a full review."""
    if full or full_request or not last_head or not head:
        return Scope(None, None, full_request)
    spans = changed_since(cwd, last_head, head)
    if spans is None:
        return Scope(None, None, 0)
    return Scope(lambda hunk: touches(hunk, spans), last_head, 0)


def stamp(at: str) -> int:
    """Seconds since the epoch of an ISO time from the platform ("2025-05-01T10:00:00Z"); 0 when unreadable."""
    try:
        when = datetime.fromisoformat(at.strip().replace("Z", "+00:00"))
    except ValueError:
        return 0
    return int((when if when.tzinfo else when.replace(tzinfo=timezone.utc)).timestamp())


def full_review_request(replies: Iterable[Reply], handled: int, can_write: Callable[[Reply], bool | None]) -> int:
    """When (epoch seconds) the newest `/reviewer review` comment after `handled` from someone with
    write access was written; 0 when there is none. Times, not ids: GitHub numbers review comments
    and pull request comments in separate sequences."""
    for reply in sorted(replies, key=lambda r: stamp(r.at), reverse=True):
        command = parse_command(reply.body)
        if command is None or command[0] != "review" or stamp(reply.at) <= handled:
            continue
        if can_write(reply):
            return stamp(reply.at)
    return 0


def untouched(review: Review, sc: Scope) -> Callable[[Existing], bool] | None:
    """For an incremental run: whether an existing comment sits in a hunk not reviewed again
    (it is kept as it is); None for a full run."""
    if sc.ask_only is None:
        return None
    spans: dict[str, list[tuple[int, int]]] = {}
    for h in review.hunks:
        if not sc.ask_only(h):
            spans.setdefault(h.path, []).append((h.new_start, h.new_start + max(h.new_len, 1) - 1))
    return lambda e: in_spans(e.path, e.line, spans)
