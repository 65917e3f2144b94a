"""Dismissing a finding from its CI thread: the reply command, the bot's remembered state, who may dismiss.

A reply `/reviewer dismiss <reason>` (GitLab: `reviewer dismiss <reason>`, since GitLab
reads `/reviewer` as its own quick action) on one of reviewer's inline comments asks to
hide that finding for the rest of the pull/merge request. `github.py` / `gitlab.py` find
the replies and ask the platform whether their author has write access; `decide` here
says which replies become dismissals and which get the one-time answer "only
maintainers can dismiss". Dismissals are remembered in reviewer's own summary, on the
line just above its last-line marker:

    <!-- reviewer:dismissed [{"fp":"…","reason":"…","by":"login","at":"2025-…"}] -->

That line is only read from summaries by reviewer's own account (the same trust as the
fingerprint markers), and `<`/`>` in it are JSON-escaped so a reason cannot close the
HTML comment. Everything here is pure except `warn`.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

from reviewer.sinks.markdown import clean_text, code_span, escape_title
from reviewer.types import Review

STATE_PREFIX = "<!-- reviewer:dismissed "
DISMISSED_PREFIX = "~~dismissed~~"
REFUSED_PREFIX = "<!-- reviewer:refused="
NO_REASON = "(no reason given)"
MAX_REASON = 100
MAX_STATE = 100  # dismissals remembered per request (the newest); keeps the summary under GitHub's body limit
_FP_RE = re.compile(r"[0-9a-f]{16}")
_COMMAND_RE = re.compile(r"(/?)reviewer(?:\s+(\S+))?(.*)", re.IGNORECASE | re.DOTALL)
_REFUSED_RE = re.compile(r"<!-- reviewer:refused=([0-9]{1,20}) -->\s*\Z")
REFUSAL = "Only maintainers (people with write access to the repository) can dismiss reviewer's findings; this one stays."


def warn(message: str) -> None:
    print(f"reviewer: warning: {message}", file=sys.stderr)


@dataclass(frozen=True)
class Dismissal:
    """A finding (by fingerprint) hidden for this pull/merge request: why, by whom, when."""

    fingerprint: str
    reason: str
    by: str
    at: str


@dataclass(frozen=True)
class Reply:
    """A reply in the thread of one of reviewer's inline comments; `parent` is that comment's id."""

    id: str
    parent: str
    fingerprint: str
    body: str
    login: str
    user_id: int | None
    at: str


# --------------------------------------------------------------------------- the command


def parse_command(body: str | None) -> tuple[str, str] | None:
    """(verb, rest) when the reply's first line addresses reviewer, else None.

    `/reviewer VERB …` always counts; without the slash only `reviewer dismiss …` and
    `reviewer review` do (so prose starting with "Reviewer is …" is not a command; on GitLab,
    where `/reviewer` is a quick action, these are the only spellings that reach reviewer).
    """
    first = next((ln.strip() for ln in clean_text(body or "").split("\n") if ln.strip()), "")
    m = _COMMAND_RE.fullmatch(first)
    if m is None or (m.group(3) and not m.group(3)[:1].isspace() and m.group(2) is None):
        return None
    verb = (m.group(2) or "").lower()
    if not m.group(1) and verb not in ("dismiss", "review"):
        return None
    return verb, (m.group(3) or "").strip()


def clean_reason(text: str) -> str:
    reason = " ".join(clean_text(text).split())
    if len(reason) > MAX_REASON:
        reason = reason[: MAX_REASON - 1].rstrip() + "…"
    return reason or NO_REASON


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Outcome:
    """What this run does about dismissals: `new` to apply (resolve the thread whose comment id
    `parents` gives, remember), `refuse` to answer once."""

    new: tuple[Dismissal, ...]
    refuse: tuple[Reply, ...]
    parents: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Threads:
    """What a platform found around reviewer's comments: replies in their threads, the reply
    ids reviewer already refused, and the dismissals its own summaries remember (`unsure`:
    fingerprints remembered by summaries it cannot prove are its own, e.g. under a GitLab
    job token; they only spare a repeated summary, they dismiss nothing)."""

    replies: list[Reply] = field(default_factory=list)
    answered: set[str] = field(default_factory=set)
    state: dict[str, Dismissal] = field(default_factory=dict)
    unsure: set[str] = field(default_factory=set)
    # the last head reviewed and `/reviewer review` comment honoured, from the newest own summary
    # (reviewer.ci.incremental), and top-level comments that may ask for a full review
    last_head: str | None = None
    full_handled: int = 0
    requests: list[Reply] = field(default_factory=list)

    def news(self, outcome: Outcome) -> bool:
        """Whether this run dismissed something no summary remembers yet (a new summary then)."""
        return any(d.fingerprint not in self.state and d.fingerprint not in self.unsure for d in outcome.new)


def decide(replies: Iterable[Reply], state: Mapping[str, Dismissal], answered: frozenset[str],
           can_write: Callable[[Reply], bool | None]) -> Outcome:
    """Which dismiss replies are honoured: only from people with write access, once per finding.

    `can_write` answers True/False, or None when the platform could not say (it warned):
    that reply is then neither honoured nor answered, and is looked at again next run.
    """
    new: dict[str, Dismissal] = {}
    parents: dict[str, str] = {}
    refuse: list[Reply] = []
    for reply in replies:
        command = parse_command(reply.body)
        if command is None:
            continue
        verb, rest = command
        if verb == "review":
            continue  # a full re-review: reviewer.ci.incremental
        if verb != "dismiss":
            warn(f"ignoring reply {reply.id}: unknown command '/reviewer {verb[:30]}' (try '/reviewer dismiss REASON')")
            continue
        if reply.fingerprint in state or reply.fingerprint in new or reply.id in answered:
            continue
        allowed = can_write(reply)
        if allowed:
            new[reply.fingerprint] = Dismissal(reply.fingerprint, clean_reason(rest), reply.login, reply.at or now())
            parents[reply.fingerprint] = reply.parent
        elif allowed is False:
            refuse.append(reply)
    return Outcome(tuple(new.values()), tuple(refuse), parents)


def without(review: Review, dismissed: Sequence[Dismissal], request: str) -> Review:
    """The review less its dismissed findings (for the comments, the report and the exit status)."""
    gone = {d.fingerprint for d in dismissed}
    kept = tuple(f for f in review.findings if f.fingerprint not in gone)
    if len(kept) == len(review.findings):
        return review
    n = len(review.findings) - len(kept)
    print(f"reviewer: {n} finding(s) dismissed in this {request}: not reported, not counted for --fail-on",
          file=sys.stderr)
    return replace(review, findings=kept)


def refusal_body(reply: Reply) -> str:
    return f"{REFUSAL}\n{REFUSED_PREFIX}{int(reply.id)} -->"


def read_refused(body: str | None) -> str | None:
    """The id of the reply a refusal answered (reviewer's own replies only; last line)."""
    m = _REFUSED_RE.search(body or "")
    if m is None or (body or "").rfind("\n", 0, m.start()) + 1 != m.start():
        return None
    return m.group(1)


def mark_dismissed(body: str, d: Dismissal) -> str:
    """reviewer's inline comment, once dismissed: a first line saying by whom and why."""
    if body.startswith(DISMISSED_PREFIX):
        return body
    return f"{DISMISSED_PREFIX} by {code_span(d.by)}: {escape_title(d.reason)}\n\n{body}"


# --------------------------------------------------------------------------- the state in the summary


def state_line(dismissals: Sequence[Dismissal]) -> str:
    """The hidden line that remembers the dismissals (the newest MAX_STATE); '' when there are none."""
    if not dismissals:
        return ""
    items = [{"fp": d.fingerprint, "reason": d.reason, "by": d.by, "at": d.at} for d in dismissals[-MAX_STATE:]]
    text = json.dumps(items, ensure_ascii=False, separators=(",", ":"))
    return STATE_PREFIX + text.replace("<", "\\u003c").replace(">", "\\u003e") + " -->"


def read_state(body: str | None) -> list[Dismissal]:
    """The dismissals remembered in a summary body (the line above its last line); [] when none.

    Raises ValueError when the line is there but malformed. Call it only on summaries by
    reviewer's own account.
    """
    lines = (body or "").rstrip().split("\n")
    if len(lines) < 2 or not lines[-2].startswith(STATE_PREFIX):
        return []
    line = lines[-2].rstrip()
    if not line.endswith(" -->"):
        raise ValueError("the dismissed-findings line is cut short")
    try:
        items = json.loads(line[len(STATE_PREFIX):-4])
    except ValueError:
        raise ValueError("the dismissed-findings line is not JSON") from None
    out = []
    for item in items if isinstance(items, list) else [None]:
        fields = [item.get(k) if isinstance(item, dict) else None for k in ("fp", "reason", "by", "at")]
        if not all(isinstance(v, str) for v in fields) or not _FP_RE.fullmatch(fields[0] or ""):
            raise ValueError("a dismissed-findings entry is malformed")
        out.append(Dismissal(fields[0], clean_reason(fields[1]), fields[2][:100], fields[3][:40]))  # type: ignore[index]
    return out


def merge_state(bodies: Iterable[tuple[str, str]]) -> dict[str, Dismissal]:
    """Every dismissal remembered by reviewer's summaries, given as (id, body); the earliest wins."""
    state: dict[str, Dismissal] = {}
    for ident, body in bodies:
        try:
            found = read_state(body)
        except ValueError as exc:
            warn(f"ignoring the dismissed findings in summary {ident}: {exc}")
            continue
        for d in found:
            state.setdefault(d.fingerprint, d)
    return state


def summary_lines(dismissals: Sequence[Dismissal], request: str) -> list[str]:
    """The visible part of the summary: which findings were dismissed, by whom, why."""
    if not dismissals:
        return []
    lines = ["", f"<details><summary>Dismissed in this {request} ({len(dismissals)})</summary>", ""]
    lines += [f"- {code_span(d.fingerprint)} by {code_span(d.by)}: {escape_title(d.reason)}" for d in dismissals[-MAX_STATE:]]
    return [*lines, "", "</details>"]
