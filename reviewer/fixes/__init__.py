"""Suggested fixes checked before anyone sees them: a suggestion that fails is repaired once or dropped.

Every front end shows, posts or applies `Finding.suggestion` (text, JSON, SARIF fixes, rdjson,
GitHub/GitLab suggestion blocks, the TUI's accept, the editor's code action), so the one rule
is kept here, where findings are made: after `check_findings`, a suggestion that is not None
has passed the checks of reviewer/fixes/checks.py and is re-indented as it will be applied.
One that failed is sent back to the model once with the reason (prompts/repair.md; the answer
is cached like a review answer) and checked again; failing twice, it is dropped and the
finding stays, its `fix` saying which check failed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from reviewer.answers import parse_repair
from reviewer.backends import Backend
from reviewer.cache import ResultCache, cache_key
from reviewer.errors import NotAnswered
from reviewer.fixes.apply import window_for
from reviewer.fixes.checks import Verdict, check_suggestion
from reviewer.prompting import load_template, messages_digest, repair_messages, repair_schema
from reviewer.types import Finding, FixCheck, Hunk, Message

REPAIR_TOKENS = 200  # a replacement of a few lines; measured answers are 20-80 tokens
# (hunk, finding, rejected suggestion, why, the flagged code, whether the rejected one was code) -> a new suggestion
Repair = Callable[[Hunk, Finding, str, str, str, bool], "str | None"]


def check_findings(findings: Sequence[Finding], hunk: Hunk, source: Sequence[str] | None,
                   cache: ResultCache | None, repair: Repair | None = None) -> tuple[Finding, ...]:
    """`findings` of one hunk with every suggestion checked (`source`: the whole new file, if known).
    `repair` asks the model for a corrected suggestion (None: no second chance, as for analyzers)."""
    window = window_for(hunk, source)
    out: list[Finding] = []
    for finding in findings:
        if not finding.suggestion:
            out.append(finding)
            continue
        verdict = check_suggestion(finding, window, hunk.language, cache)
        status = "checked"
        if not verdict.passed and repair is not None:
            flagged = "\n".join(window.lines[n - window.first] for n in range(finding.line, finding.end_line + 1)
                                if window.first <= n <= window.last)
            fixed = repair(hunk, finding, finding.suggestion, verdict.reason, flagged, verdict.check != "prose")
            if fixed:
                second = check_suggestion(replace(finding, suggestion=fixed), window, hunk.language, cache)
                if second.passed:
                    verdict, status = second, "repaired"
                else:
                    verdict = Verdict(second.check, f"{verdict.reason}; repaired once: {second.reason}")
        out.append(_outcome(finding, verdict, status))
    return tuple(out)


def _outcome(finding: Finding, verdict: Verdict, status: str) -> Finding:
    if not verdict.passed or verdict.replacement is None:
        return replace(finding, suggestion=None, fix=FixCheck("failed", verdict.check, verdict.reason))
    rep = verdict.replacement
    # the finding now covers what the suggestion replaces, so every front end replaces the same lines
    line, end = min(finding.line, rep.start), max(finding.end_line, rep.end)
    return replace(finding, line=line, end_line=end, suggestion="\n".join(rep.new),
                   fix=FixCheck(status, patch=verdict.patch))


def model_repair(backend: Backend, cache: ResultCache | None) -> Repair:
    """A `Repair` that asks `backend` (answers cached by prompt, like review answers)."""
    template = load_template("repair")

    def ask(hunk: Hunk, finding: Finding, rejected: str, reason: str, flagged: str, was_code: bool) -> str | None:
        messages: list[Message] = repair_messages(hunk, finding, rejected, reason, flagged, was_code)
        key = cache_key(backend.info.sha256, template.cache_tag, messages_digest(messages), str(REPAIR_TOKENS))
        completion = cache.get(key) if cache else None
        if completion is None:
            try:
                completion = backend.complete(messages, repair_schema(), REPAIR_TOKENS)
            except NotAnswered:  # the hook's deadline passed or its model process died: no second chance
                return None
            if cache:
                cache.put(key, completion)
        return parse_repair(completion.text)

    return ask


__all__ = ["Repair", "check_findings", "model_repair"]
