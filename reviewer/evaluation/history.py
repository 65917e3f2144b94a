"""How noisy would reviewer have been here? Replay a repository's last commits, and its fixes reversed.

Each of the last N first-parent, non-merge commits is reviewed as it landed (`C^..C`,
what the pre-commit hook would have seen). A commit whose subject says it fixes
something is also reviewed reversed (`C..C^`: the change that puts the bug back), which
should alarm. A team sees, on its own code and before turning the hook on, how often a
landed commit would have been blocked (noise) and how often a reversed fix is caught.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from reviewer import git
from reviewer.diffsource import DiffSource
from reviewer.errors import ModelUnavailable, ReviewerError
from reviewer.evaluation.alarms import is_alarm  # an alarm as the eval scorer counts one
from reviewer.session import ReviewSession

# "Fix #12", "fixes the parser", "bug in X", "regression": the commit repairs something.
FIX_SUBJECT = re.compile(r"\b(fix(?:e[sd]|ing)?|bug(?:fix)?|regression|hotfix)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Commit:
    sha: str
    subject: str

    @property
    def is_fix(self) -> bool:
        return FIX_SUBJECT.search(self.subject) is not None


@dataclass(frozen=True)
class Row:
    """One replayed change: a commit as it landed, or a fix reversed."""

    commit: Commit
    reversed: bool
    hunks: int
    alarms: int
    blocking: bool
    seconds: float
    cached: int = 0
    error: str | None = None


def last_commits(root: Path, n: int) -> list[Commit]:
    """The last `n` first-parent commits that are not merges and have a parent, newest first."""
    out = git.text(root, "log", "--first-parent", "--no-merges", f"-n{n}", "--format=%H%x00%P%x00%s")
    commits = []
    for line in out.splitlines():
        sha, parents, subject = (line.split("\0") + ["", ""])[:3]
        if sha and parents.strip():  # a root commit has nothing to diff against
            commits.append(Commit(sha, subject))
    return commits


def replay_one(session: ReviewSession, root: Path, commit: Commit, reverse: bool) -> Row:
    """Review one commit (or its reversal) in `session`; a diff that cannot be reviewed is a row with an error."""
    rng = f"{commit.sha}..{commit.sha}^" if reverse else f"{commit.sha}^..{commit.sha}"
    started = time.perf_counter()
    try:
        parsed = session.parse(DiffSource("range", rng), root, allow_empty=True)
        if not parsed.hunks:
            return Row(commit, reverse, 0, 0, False, round(time.perf_counter() - started, 3), error="nothing to review")
        review = session.review(parsed)
    except ModelUnavailable:
        raise  # the model itself failing is not a property of the commit
    except ReviewerError as exc:
        return Row(commit, reverse, 0, 0, False, round(time.perf_counter() - started, 3), error=str(exc))
    return Row(commit, reverse, len(parsed.hunks), sum(is_alarm(f.to_dict()) for f in review.findings),
               session.exit_status(review.findings) == 1, round(time.perf_counter() - started, 3),
               cached=review.stats.cached)


def replay(session: ReviewSession, root: Path, commits: list[Commit],
           on_row: Callable[[Row], None] | None = None) -> list[Row]:
    """Every commit as it landed, and every fix reversed as well, in order."""
    rows = []
    for commit in commits:
        for reverse in (False, True) if commit.is_fix else (False,):
            row = replay_one(session, root, commit, reverse)
            rows.append(row)
            if on_row:
                on_row(row)
    return rows


def format_table(rows: list[Row]) -> str:
    """A Markdown table, one line per replayed change, then the totals that answer the question."""
    lines = ["| commit | subject | replayed as | hunks | alarms | would block | seconds |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        subject = r.commit.subject.replace("|", "\\|")[:60]
        kind = "fix reversed" if r.reversed else "landed"
        verdict = "-" if r.error else ("**yes**" if r.blocking else "no")
        alarms = r.error or str(r.alarms)
        lines.append(f"| {r.commit.sha[:9]} | {subject} | {kind} | {r.hunks} | {alarms} | {verdict} | {r.seconds:.1f} |")
    landed = [r for r in rows if not r.reversed and not r.error]
    reversed_ = [r for r in rows if r.reversed and not r.error]
    lines.append("")
    lines.append(f"landed commits that would have been blocked: {sum(r.blocking for r in landed)}/{len(landed)}"
                 f" (with an alarm: {sum(r.alarms > 0 for r in landed)})")
    lines.append(f"reversed fixes that would have been blocked: {sum(r.blocking for r in reversed_)}/{len(reversed_)}"
                 f" (with an alarm: {sum(r.alarms > 0 for r in reversed_)})")
    seconds = sorted(r.seconds for r in rows if not r.error)
    if seconds:
        lines.append(f"median seconds per replayed change: {seconds[len(seconds) // 2]:.1f}")
    return "\n".join(lines) + "\n"


__all__ = ["FIX_SUBJECT", "Commit", "Row", "format_table", "last_commits", "replay", "replay_one"]
