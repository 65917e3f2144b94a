"""The grounding rules, in the order they run on the model's findings for one hunk."""

from __future__ import annotations

from reviewer.grounding import (
    imports,
    lint_echoes,
    non_vulnerabilities,
    plain_lines,
    present_fixes,
    prose,
    protections,
    untainted,
)
from reviewer.grounding.facts import FileFacts
from reviewer.grounding.rule import Evidence, Rule
from reviewer.types import Finding, Hunk

# Each rule lowers only claims still above `low`, so the order decides which note a claim
# lowered by two rules carries (the first's) and, for the echo cap, which severity it ends
# at. This is the order the rules were added and measured in (docs/quality.md).
RULES: tuple[Rule, ...] = (
    plain_lines,
    lint_echoes,
    prose,
    untainted,
    non_vulnerabilities,
    present_fixes,
    protections,
    imports,
)


def ground_model_findings(findings: tuple[Finding, ...], hunk: Hunk, hints: tuple[Finding, ...],
                          facts: FileFacts) -> tuple[Finding, ...]:
    """All the rules, in order, on the model's findings for `hunk` (shown analyzer `hints`)."""
    evidence = Evidence(hunk, hints, facts)
    for rule in RULES:
        if rule.applies(findings):
            findings = rule.apply(findings, evidence)
    return findings
