"""Rule 6: a bug claim whose suggested code the flagged lines already read as is lowered to `low`.

The model often reads a change backwards: on a diff that turns `x > pivot` into
`x >= pivot` it reports "Incorrect comparison" on the new line and suggests "Change
`x > pivot` to `x >= pivot`". A bug claim whose suggested code the flagged lines already
read as (reviewer/suggested_fix.py) contradicts itself and is lowered to `low` with a
note. Security claims are left alone: their suggestion often keeps the call and adds a
check around it ("use `urlopen(url)` after validating `url`").
"""

from __future__ import annotations

from reviewer.grounding.claims import demoted, is_alarm_claim
from reviewer.grounding.lines import shown_lines
from reviewer.grounding.rule import Evidence
from reviewer.suggested_fix import already_applied
from reviewer.types import Category, Finding, Hunk, Severity

FIX_PRESENT_NOTE = "(lowered to low: the code already reads as the suggested fix `{code}`)"


def ground_present_fixes(findings: tuple[Finding, ...], hunk: Hunk) -> tuple[Finding, ...]:
    """The model's findings, with bug claims whose suggested code the flagged lines already
    read as lowered to `low`."""
    shown = shown_lines(hunk)
    out = []
    for f in findings:
        if is_alarm_claim(f) and f.category is Category.BUG:
            code = already_applied(f.suggestion, (shown.get(n, "") for n in range(f.line, f.end_line + 1)))
            if code is not None:
                f = demoted(f, Severity.LOW, FIX_PRESENT_NOTE.format(code=code))
        out.append(f)
    return tuple(out)


def applies(findings: tuple[Finding, ...]) -> bool:
    """Always: the suggestion and the hunk's lines are at hand."""
    return True


def apply(findings: tuple[Finding, ...], evidence: Evidence) -> tuple[Finding, ...]:
    return ground_present_fixes(findings, evidence.hunk)
