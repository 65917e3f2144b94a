"""Predicates on the model's findings and the one way every rule lowers one, shared by the rules."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from reviewer.grounding.lines import shown_lines
from reviewer.types import Category, Finding, Hunk, Severity


def is_alarm_claim(finding: Finding) -> bool:
    """A model bug or security finding above `low`: what the prose rule checks."""
    return (finding.source == "model" and finding.category in (Category.BUG, Category.SECURITY)
            and finding.severity is not Severity.LOW)


def demoted(finding: Finding, severity: Severity, note: str) -> Finding:
    """`finding` at `severity`, its message ending with the note that says why."""
    return replace(finding, severity=severity, message=f"{finding.message} {note}".strip())


def ground_security_claims_on(findings: tuple[Finding, ...], hunk: Hunk, line_refutes: Callable[[str], bool],
                              note: str) -> tuple[Finding, ...]:
    """The model's findings, with security claims whose every line satisfies `line_refutes`
    lowered to `low` with `note`."""
    shown = shown_lines(hunk)
    out = []
    for f in findings:
        if (is_alarm_claim(f) and f.category is Category.SECURITY
                and all(line_refutes(shown.get(n, "")) for n in range(f.line, f.end_line + 1))):
            f = demoted(f, Severity.LOW, note)
        out.append(f)
    return tuple(out)
