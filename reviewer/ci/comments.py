"""What the CI bots write: comment bodies, escaping, hidden markers, the summary, and the plan.

Everything here is pure (no network): `github.py` and `gitlab.py` fetch what is already
on the pull/merge request, call `make_plan`, and post what it says.

Model text is untrusted (a pull request's author can steer the model). Before it goes
into a comment it is escaped so that it cannot mention people (@name, also spelled as
an HTML entity), link issues (#1), render raw HTML, links or images, start a heading,
list or quote, open a code fence that swallows the rest of the comment, run a GitLab
quick action (/approve), or forge the hidden marker that identifies reviewer's own
comments (markers are only read from the last line of a body). A suggested change is
code and stays exact, inside a fence longer than any backtick run it holds.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from reviewer.ci.dismiss import Dismissal, state_line, summary_lines
from reviewer.sinks.markdown import (
    Flavor,
    clean_text,
    code_span,
    escape_markdown,
    escape_title,
    fence_for,
    indented_block,
    quick_action_exposed,
)
from reviewer.types import Category, Finding, Hunk, HunkNote, Review, Severity

# path -> hunks; each hunk maps a right-side (new-file) line to its old-file line (None: added)
RightSide = Mapping[str, Sequence[Mapping[int, "int | None"]]]

MARKER_PREFIX = "<!-- reviewer:fingerprint="
SUMMARY_PREFIX = "<!-- reviewer:summary"
OUTDATED_PREFIX = "~~outdated~~ ✅ No longer reported by reviewer"
_MARKER_RE = re.compile(r"<!-- reviewer:fingerprint=([0-9a-f]{16}) -->\s*\Z")
_SUMMARY_RE = re.compile(r"<!-- reviewer:summary(?: fingerprints=([0-9a-f,]*))?(?: head=([0-9a-f]{40}))?"
                         r"(?: full=([0-9]{1,20}))? -->\s*\Z")
_FP_RE = re.compile(r"[0-9a-f]{16}")
_SHA_RE = re.compile(r"[0-9a-f]{40}")
MAX_SUGGESTION = 20000
MAX_SUMMARY_ITEMS = 50
MAX_WALKTHROUGH = 30  # files in the walkthrough
MAX_BODY = 60000  # GitHub rejects bodies over 65536 characters
SEVERITY_ICON = {Severity.HIGH: "🔴", Severity.MEDIUM: "🟠", Severity.LOW: "🔵"}


# --------------------------------------------------------------------------- markers


def marker(fingerprint: str) -> str:
    if not _FP_RE.fullmatch(fingerprint):
        raise ValueError(f"not a fingerprint: {fingerprint!r}")
    return f"{MARKER_PREFIX}{fingerprint} -->"


def read_marker(body: str | None) -> str | None:
    """The fingerprint in a body's last-line marker, or None when it is not reviewer's comment."""
    m = _MARKER_RE.search(body or "")
    if m is None or (body or "").rfind("\n", 0, m.start()) + 1 != m.start():
        return None  # only a marker alone on the last line counts
    return m.group(1)


def read_summary(body: str | None) -> frozenset[str] | None:
    """Fingerprints listed by a reviewer summary (findings shown there, not inline), or None."""
    m = _SUMMARY_RE.search(body or "")
    if m is None:
        return None
    line_start = (body or "").rfind("\n", 0, m.start()) + 1
    if line_start != m.start():
        return None
    return frozenset(fp for fp in (m.group(1) or "").split(",") if _FP_RE.fullmatch(fp))


def read_summary_state(body: str | None) -> tuple[str | None, int]:
    """(the head commit that summary's run reviewed, when the last `/reviewer review` comment it
    honoured was written, epoch seconds, 0 when none) from a summary's marker line; (None, 0) for an older summary."""
    m = _SUMMARY_RE.search(body or "")
    if m is None or read_summary(body) is None:
        return None, 0
    return m.group(2), int(m.group(3) or 0)


def is_outdated(body: str | None) -> bool:
    return (body or "").startswith(OUTDATED_PREFIX)


def mark_outdated(body: str) -> str:
    return body if is_outdated(body) else f"{OUTDATED_PREFIX}\n\n{body}"


# --------------------------------------------------------------------------- where comments may go


def parse_patch(patch: str | None) -> list[dict[int, int | None]]:
    """The right-side lines of a unified-diff patch (GitHub `files[].patch`, GitLab `diff`)."""
    hunks: list[dict[int, int | None]] = []
    old = new = 0
    current: dict[int, int | None] | None = None
    for line in (patch or "").split("\n"):
        m = re.match(r"@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@", line)
        if m:
            old, new = int(m.group(1)), int(m.group(2))
            current = {}
            hunks.append(current)
        elif current is None or line.startswith("\\"):
            continue
        elif line.startswith("+"):
            current[new] = None
            new += 1
        elif line.startswith("-"):
            old += 1
        elif line.startswith(" ") or line == "":
            if line == "" and not current:
                continue
            current[new] = old
            old += 1
            new += 1
    return [h for h in hunks if h]


def right_side_from_hunks(hunks: Iterable[Hunk]) -> dict[str, list[dict[int, int | None]]]:
    """Right-side lines from the review's own hunks (when the platform's diff is not at hand)."""
    out: dict[str, list[dict[int, int | None]]] = {}
    for hunk in hunks:
        lines = {ln.new_no: (ln.old_no if ln.kind == " " else None) for ln in hunk.lines if ln.new_no is not None}
        if lines:
            out.setdefault(hunk.path, []).append(lines)
    return out


@dataclass(frozen=True)
class Placement:
    """Where an inline comment goes: lines start..end of `finding.path` on the right side.

    `applicable` is true when start..end is exactly the finding's range, so a suggestion
    block replaces the right lines; `old_line` is the old-file number of `start` when it
    is an unchanged line (GitLab wants both numbers for those).
    """

    finding: Finding
    start: int
    end: int
    applicable: bool
    old_line: int | None = None


def place(finding: Finding, right: RightSide) -> Placement | None:
    """The inline position of a finding, or None when its first line is not on the diff's right side."""
    for hunk in right.get(finding.path, ()):
        if finding.line in hunk:
            end = finding.line
            while end < finding.end_line and end + 1 in hunk:
                end += 1
            return Placement(finding, finding.line, end, end == finding.end_line, hunk[finding.line])
    return None


# --------------------------------------------------------------------------- bodies


def _lines_label(start: int, end: int) -> str:
    return f"line {start}" if start == end else f"lines {start}–{end}"


def comment_body(placement: Placement, flavor: Flavor) -> str:
    """The body of one inline comment, ending with the hidden fingerprint marker."""
    f = placement.finding
    parts = [f"{SEVERITY_ICON[f.severity]} **{f.severity.value} {f.category.value}:** {escape_title(f.title)}"]
    if f.message and f.message.strip() != f.title.strip():
        parts.append(escape_markdown(f.message))
    suggestion = clean_text(f.suggestion or "").rstrip("\n")
    if suggestion.strip() and len(suggestion) <= MAX_SUGGESTION:
        fence = fence_for(suggestion)
        if quick_action_exposed(suggestion, fence, flavor):
            parts.append(f"Suggested replacement for {_lines_label(f.line, f.end_line)}:\n\n{indented_block(suggestion)}")
        elif placement.applicable:
            n = f.end_line - f.line
            info = "suggestion" if flavor == "github" else f"suggestion:-0+{n}"
            parts.append(f"{fence}{info}\n{suggestion}\n{fence}")
        else:  # the range leaves the diff: a suggestion block would replace the wrong lines
            parts.append(f"Suggested replacement for {_lines_label(f.line, f.end_line)}:\n\n{fence}\n{suggestion}\n{fence}")
    parts.append(f"<sub>reviewer · {f.source} · `{f.fingerprint}`</sub>\n{marker(f.fingerprint)}")
    return "\n\n".join(parts)


def _counts_table(findings: Sequence[Finding]) -> str:
    counts = Counter((f.category, f.severity) for f in findings)
    sevs = list(reversed(Severity))
    rows = ["| | " + " | ".join(s.value for s in sevs) + " |", "|---|" + "---:|" * len(sevs)]
    for cat in Category:
        if any(counts[(cat, s)] for s in sevs):
            rows.append(f"| {cat.value} | " + " | ".join(str(counts[(cat, s)]) for s in sevs) + " |")
    return "\n".join(rows)


def _headline(findings: Sequence[Finding]) -> str:
    if not findings:
        return "No issues found"
    by_sev = Counter(f.severity for f in findings)
    parts = ", ".join(f"{by_sev[s]} {s.value}" for s in reversed(Severity) if by_sev[s])
    files = len({f.path for f in findings})
    n = len(findings)
    return f"Found {n} issue{'s' * (n != 1)} ({parts}) in {files} file{'s' * (files != 1)}"


def _finding_item(f: Finding) -> str:
    text = f"- {code_span(f'{f.path}:{f.line}')} {SEVERITY_ICON[f.severity]} **{f.severity.value} {f.category.value}:** "
    text += escape_title(f.title)
    if f.message and f.message.strip() != f.title.strip():
        text += " — " + escape_title(f.message)
    return text


def _new_lines(hunks: Iterable[Hunk]) -> dict[tuple[str, int], str]:
    return {(h.path, ln.new_no): ln.text for h in hunks for ln in h.lines if ln.new_no is not None}


def reindent(finding: Finding, original: str | None) -> Finding:
    """Give a suggestion the indentation of the line it replaces when the model dropped it.

    Small models often answer `return x` for an indented line; committed as-is from the
    suggestion button, that would break Python. Only a suggestion whose first line has no
    indentation at all is changed (every line gets the original's indentation prefixed).
    """
    if not finding.suggestion or original is None:
        return finding
    want = original[: len(original) - len(original.lstrip())]
    lines = finding.suggestion.split("\n")
    if not want or lines[0][:1] in (" ", "\t") or not lines[0].strip():
        return finding
    fixed = "\n".join(want + line if line.strip() else line for line in lines)
    return replace(finding, suggestion=fixed)


@dataclass(frozen=True)
class Plan:
    """What a run will do: post these inline comments, mark those existing ones outdated,
    and whether to post a summary at all (see `make_plan`); `dismissed` is every
    dismissal of this request, which the summary lists and remembers."""

    inline: tuple[Placement, ...]
    off_diff: tuple[Finding, ...]
    kept: int
    outdated: tuple[Existing, ...]
    post_summary: bool
    dismissed: tuple[Dismissal, ...] = ()
    head: str | None = None  # the commit reviewed, remembered in the summary (reviewer.ci.incremental)
    full_request: int = 0  # when the newest `/reviewer review` comment honoured so far was written (epoch s)
    since: str | None = None  # reviewed incrementally: only what changed after this commit


@dataclass(frozen=True)
class Existing:
    """A comment reviewer posted earlier, found on the pull/merge request by its marker."""

    id: str
    fingerprint: str
    body: str
    outdated: bool
    extra: Mapping[str, object] = field(default_factory=dict)
    path: str | None = None  # where it is now (None: the platform no longer places it on the diff)
    line: int | None = None


def make_plan(review: Review, right: RightSide, existing: Sequence[Existing], summaries: Sequence[frozenset[str]],
              dismissed: Sequence[Dismissal] = (), newly_dismissed: bool = False,
              untouched: Callable[[Existing], bool] | None = None) -> Plan:
    """Decide what to post, idempotently.

    - A finding whose fingerprint is already in a live (not outdated) reviewer comment
      is not posted again; one marked outdated earlier that is reported again is re-posted.
    - A live reviewer comment whose fingerprint is no longer reported gets marked outdated.
    - Findings that cannot be placed on the diff's right side go to the summary.
    - A summary is posted on the first run (nothing of reviewer's there yet), and after
      that only when there is something new: an inline comment to post, or an
      off-diff finding no earlier summary listed, or a new dismissal to remember.
      Re-running on an unchanged pull request posts nothing.
    - A dismissed finding is neither posted nor counted; its comment is left alone.
    - A live comment for which `untouched` says yes (it sits in a hunk this incremental run
      did not review again) stays as it is and counts as already posted.
    """
    gone = {d.fingerprint for d in dismissed}
    live = {e.fingerprint for e in existing if not e.outdated}
    source = _new_lines(review.hunks)
    current: dict[str, Finding] = {}
    for f in review.findings:
        if f.fingerprint in gone:
            continue
        current.setdefault(f.fingerprint, reindent(f, source.get((f.path, f.line))))
    inline: list[Placement] = []
    off: list[Finding] = []
    kept = 0
    for fp, f in current.items():
        placed = place(f, right)
        if fp in live:
            kept += 1
        elif placed is None:
            off.append(f)
        else:
            inline.append(placed)
    stale = [e for e in existing if not e.outdated and e.fingerprint not in current and e.fingerprint not in gone]
    outdated = tuple(e for e in stale if untouched is None or not untouched(e))
    kept += len(stale) - len(outdated)
    listed = frozenset().union(*summaries) if summaries else frozenset()
    first_run = not summaries and not existing
    post = first_run or newly_dismissed or bool(inline) or any(f.fingerprint not in listed for f in off)
    return Plan(tuple(inline), tuple(off), kept, outdated, post, tuple(dismissed))


def summary_body(review: Review, plan: Plan, flavor: Flavor) -> str:
    """The review's top-level body: counts, model, time, what was skipped, what is not inline."""
    s = review.stats
    lines = [f"### 🔎 reviewer: {_headline(review.findings)}", ""]
    lines += walkthrough(review)
    if review.findings:
        lines += [_counts_table(review.findings), ""]
    reviewed = s.hunks - len(s.unreviewed) - s.unchanged
    cached = f" ({s.cached} from the cache)" if s.cached else ""
    lines.append(f"Model {code_span(review.model.name)} · {reviewed} hunk{'s' * (reviewed != 1)} reviewed{cached} · "
                 f"{s.seconds:.1f}s")
    if plan.since:
        lines.append(f"Incremental: only what changed since {code_span(plan.since[:12])} went to the model"
                     + (f"; {s.unchanged} unchanged hunk{'s' * (s.unchanged != 1)} not reviewed again, "
                        "their comments kept" if s.unchanged else "") + ". Reply `/reviewer review` for a full review.")
    word = "comment" if flavor == "github" else "thread"
    activity = [f"{len(plan.inline)} new inline {word}{'s' * (len(plan.inline) != 1)}"]
    if plan.kept:
        activity.append(f"{plan.kept} already posted")
    if plan.outdated:
        activity.append(f"{len(plan.outdated)} no longer reported ({'marked outdated' if flavor == 'github' else 'resolved'})")
    request = "pull request" if flavor == "github" else "merge request"
    if plan.dismissed:
        activity.append(f"{len(plan.dismissed)} dismissed in this {request}")
    lines += ["", " · ".join(activity) + "."]
    if plan.off_diff:
        lines += ["", f"**Not on this diff's changed lines** ({len(plan.off_diff)}; cannot be commented inline):", ""]
        lines += [_finding_item(f) for f in plan.off_diff[:MAX_SUMMARY_ITEMS]]
        if len(plan.off_diff) > MAX_SUMMARY_ITEMS:
            lines.append(f"- … and {len(plan.off_diff) - MAX_SUMMARY_ITEMS} more (see the job log)")
    if s.unreviewed:
        n = len(s.unreviewed)
        lines += ["", (f"**Not reviewed: the budget ran out** ({n} hunk{'s' * (n != 1)}; "
                       "raise `max-hunks` / `time-budget` or review them locally):"), ""]
        lines += [f"- {code_span(u.path)}: {escape_title(u.reason)}" for u in s.unreviewed[:MAX_SUMMARY_ITEMS]]
        if len(s.unreviewed) > MAX_SUMMARY_ITEMS:
            lines.append(f"- … and {len(s.unreviewed) - MAX_SUMMARY_ITEMS} more (see the job log)")
    if s.skipped:
        lines += ["", f"<details><summary>Skipped {len(s.skipped)} file(s) or hunk(s)</summary>", ""]
        lines += [f"- {code_span(sk.path)}: {escape_title(sk.reason)}" for sk in s.skipped[:MAX_SUMMARY_ITEMS]]
        if len(s.skipped) > MAX_SUMMARY_ITEMS:
            lines.append(f"- … and {len(s.skipped) - MAX_SUMMARY_ITEMS} more")
        lines += ["", "</details>"]
    if s.dropped_findings:
        lines += ["", f"{s.dropped_findings} model finding(s) were not on an added line of the diff and were dropped."]
    lines += summary_lines(plan.dismissed, request)
    body = "\n".join(lines)
    state = state_line(plan.dismissed)
    limit = MAX_BODY - len(state)
    if len(body) > limit:
        body = body[:limit].rsplit("\n", 1)[0] + "\n\n… (truncated; see the job log)"
    fps = ",".join(f.fingerprint for f in plan.off_diff)
    head = f" head={plan.head}" if plan.head and _SHA_RE.fullmatch(plan.head) else ""
    full = f" full={plan.full_request}" if plan.full_request else ""
    return f"{body}\n\n{state}{chr(10) if state else ''}{SUMMARY_PREFIX} fingerprints={fps}{head}{full} -->"


def walkthrough(review: Review) -> list[str]:
    """Per file, one line of the model's own analysis (escaped: model text): of the hunk with the
    most severe finding, else the file's first hunk. [] when the model wrote none."""
    by_file: dict[str, list[HunkNote]] = {}
    for note in review.notes:
        by_file.setdefault(note.path, []).append(note)
    if not by_file:
        return []

    def weight(note: HunkNote) -> int:
        return max((f.severity.rank for f in review.findings
                    if f.path == note.path and note.start <= f.line <= note.end), default=-1)

    lines = ["**Walkthrough**", ""]
    for path, notes in list(by_file.items())[:MAX_WALKTHROUGH]:
        best = max(notes, key=weight)  # max keeps the first of equals: the file's first hunk
        lines.append(f"- {code_span(path)}: {escape_title(best.text)}")
    if len(by_file) > MAX_WALKTHROUGH:
        lines.append(f"- … and {len(by_file) - MAX_WALKTHROUGH} more files")
    return [*lines, ""]
