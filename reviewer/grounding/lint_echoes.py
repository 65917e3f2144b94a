"""Rule 2: a model finding that repeats a ruff hint on its line keeps ruff's severity.

The prompt shows ruff's findings on the hunk as hints, and the model often repeats one in
its own words at a higher severity: "Local variable 'bar' is assigned to but never used"
as a *high* bug, which would fail the hook over an unused variable (11 of the 192 cases
in docs/quality.md, all of them OWASP handlers). A ruff rule states a fact whose
consequence reviewer rates per rule (analyzers/ruff.py), and restating it adds no
evidence, so a model finding that repeats a ruff hint on the same line (same category,
its title's words mostly the hint's) keeps ruff's severity, with a note. A different claim
on that line keeps the model's severity. bandit's hints are not capped: bandit rates a
pattern without context (`random.random()` is low whatever it is for), and judging it in
context (a session cookie's value) is what the model is asked to do.
"""

from __future__ import annotations

import re

from reviewer.grounding.claims import demoted
from reviewer.grounding.rule import Evidence
from reviewer.types import Finding

ECHO_NOTE = "(kept at the analyzer's severity: the model repeated its hint)"
ECHO_SOURCES = frozenset({"ruff"})  # see the module docstring for why bandit is not one

_WORD = re.compile(r"[a-z0-9_]+")
_FILLER = frozenset({"a", "an", "the", "is", "are", "to", "of", "in", "on", "but", "and", "or", "not", "be", "this",
                     "that", "it", "its", "with", "for", "as", "at", "by", "from"})
ECHO_OVERLAP = 0.6  # share of the title's words found in the hint; "Unused local variable 'x'" has 3 of 4


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _FILLER}


def echoes(finding: Finding, hint: Finding) -> bool:
    """Whether a model finding repeats an analyzer hint: same line and category, and most
    words of its title are the hint's."""
    if finding.source != "model" or hint.source not in ECHO_SOURCES:
        return False
    if (finding.path, finding.line, finding.category) != (hint.path, hint.line, hint.category):
        return False
    title = _words(finding.title)
    return bool(title) and len(title & _words(f"{hint.title} {hint.message}")) >= ECHO_OVERLAP * len(title)


def ground_echoed_hints(findings: tuple[Finding, ...], hints: tuple[Finding, ...]) -> tuple[Finding, ...]:
    """The model's findings, each echo of a ruff hint capped at the hint's severity."""
    out = []
    for f in findings:
        cap = min((h.severity for h in hints if echoes(f, h)), key=lambda s: s.rank, default=None)
        if cap is not None and cap.rank < f.severity.rank:
            f = demoted(f, cap, ECHO_NOTE)
        out.append(f)
    return tuple(out)


def applies(findings: tuple[Finding, ...]) -> bool:
    """Always: the hints are at hand."""
    return True


def apply(findings: tuple[Finding, ...], evidence: Evidence) -> tuple[Finding, ...]:
    return ground_echoed_hints(findings, evidence.hints)
