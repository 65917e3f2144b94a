"""Rule 3: a bug or security claim whose lines are all prose (comments, docstrings, blank) is lowered to `low`.

A bug or vulnerability needs code. Dogfooding found it: a *high* "Repeating ruff hint" bug
on a line of grounding's own module docstring, which would have failed the hook. Python
docstrings are found with the tokenizer on the whole new file (when the diff came with
it, facts.prose_lines); otherwise only blank and comment lines count.
"""

from __future__ import annotations

from reviewer.grounding.claims import demoted, is_alarm_claim
from reviewer.grounding.rule import Evidence
from reviewer.types import Finding, Severity

PROSE_NOTE = "(lowered to low: the line is a comment, docstring or blank, not code)"


def ground_prose_claims(findings: tuple[Finding, ...], prose: frozenset[int]) -> tuple[Finding, ...]:
    """The model's findings, with bug and security claims whose every line is in `prose`
    lowered to `low`."""
    out = []
    for f in findings:
        if is_alarm_claim(f) and all(n in prose for n in range(f.line, f.end_line + 1)):
            f = demoted(f, Severity.LOW, PROSE_NOTE)
        out.append(f)
    return tuple(out)


def applies(findings: tuple[Finding, ...]) -> bool:
    """Only with an alarm to lower: finding the prose lines tokenizes the whole file."""
    return any(is_alarm_claim(f) for f in findings)


def apply(findings: tuple[Finding, ...], evidence: Evidence) -> tuple[Finding, ...]:
    return ground_prose_claims(findings, evidence.facts.prose(evidence.hunk))
