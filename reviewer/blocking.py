"""Which findings block (exit 1): those whose kind of evidence was measured precise enough.

Every finding has an evidence kind (`evidence_kind`): what backs the alarm.

| kind | what backs it |
|---|---|
| `model-bug` | the model alone, a bug claim |
| `model-security` | the model alone, a security claim |
| `model-other` | the model alone, a performance or style claim (no alarm in the evals) |
| `model+analyzer` | the model's claim on a line where bandit, ruff or the taint analysis reported the same category (`Finding.evidence`) |
| `taint` | reviewer's taint analysis (reviewer/analyzers/taint.py), no model claim on its line |
| `bandit` | bandit alone |
| `ruff` | ruff alone |
| `test-regression` | a generated test that passes on the old code and fails on the new (reviewer/testgen/evidence.py) |

With `block = "evidence"` (the default; the setting is `Config.block`, `config.BLOCK_POLICIES`) a finding at or above fail-on blocks only when its
kind is in BLOCKING_KINDS; the others are still reported, marked advisory. With
`block = "all"` every finding at or above fail-on blocks, as before.

MEASURED holds each kind's alarms (bug/security, medium or high) and how many were right,
replayed on the 192 dev cases without a model (bench/evidence_precision.py; the numbers and
the choice are in docs/quality.md, "Blocking follows evidence"):

    python bench/evidence_precision.py ../shared/eval/cases/*.jsonl --results bench/results/results-dd0933c-1.5b.jsonl

A model kind blocks when its measured precision is at least BAR on at least MIN_ALARMS alarms;
an analyzer kind (deterministic: a change cannot argue it away) blocks unless measured below BAR.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from reviewer.types import Category, Finding, Severity

KINDS = ("model-bug", "model-security", "model-other", "model+analyzer", "taint", "bandit", "ruff",
         "test-regression")

# kind -> (alarms, right) on the 192 dev cases (results-dd0933c-1.5b.jsonl; test-regression from
# tests-1.5b.jsonl, 60 of the same cases and the only run with generated tests).
MEASURED: dict[str, tuple[int, int]] = {
    "model-bug": (57, 33),  # 58%: on the diagonal (bug detection 54%, false alarms 56%)
    "model-security": (21, 17),  # 81%: its 4 wrong ones were on bug-fix changes, 3 of them high
    "model+analyzer": (29, 28),  # 97%: 27 with bandit, 18 with ruff, 9 with taint (some with two)
    "taint": (15, 15),  # 100%
    "bandit": (1, 1),  # too few to measure: bandit alone seldom alarms (its claims mostly sit under the model's)
    "test-regression": (12, 10),  # 83%, all medium
}
# A block that is wrong one time in ten is the most a commit hook should cost: model security
# claims (81%) would add 3 wrongful blocks on the 48 clean bug-fix changes (6%).
BAR = 0.9
MIN_ALARMS = 5  # fewer measured alarms than this: not known to be precise

# The analyzers are deterministic: the code under review can dictate the model's verdict (a
# prompt injection, docs/security.md) but cannot talk bandit or the taint analysis out of a
# finding, and they are what keeps the gate shut when the model obeys (tests/test_injection.py).
# So an analyzer kind blocks unless it was measured below the bar; a model kind blocks only once
# it is measured at or above it (on at least MIN_ALARMS alarms).
DETERMINISTIC = frozenset({"taint", "bandit", "ruff"})


def _blocking(kind: str) -> bool:
    alarms, correct = MEASURED.get(kind, (0, 0))
    precise = correct >= BAR * alarms
    if kind in DETERMINISTIC:
        return alarms < MIN_ALARMS or precise
    return alarms >= MIN_ALARMS and precise


BLOCKING_KINDS = frozenset(kind for kind in KINDS if _blocking(kind))

_ANALYZERS = {"taint": "taint", "bandit": "bandit", "ruff": "ruff", "tests": "test-regression"}


def evidence_kind(finding: Finding) -> str:
    """What backs `finding`: one of KINDS (an unknown source is its own kind, which never blocks)."""
    sources = finding.evidence or (finding.source,)
    if "tests" in sources:
        return "test-regression"
    if "model" in sources and len(sources) > 1:
        return "model+analyzer"
    if sources == ("model",):
        if finding.category is Category.BUG:
            return "model-bug"
        return "model-security" if finding.category is Category.SECURITY else "model-other"
    return _ANALYZERS.get(sources[0], sources[0])  # an analyzer's finding another analyzer's joined: its own kind


def blocks(finding: Finding, fail_on: Severity | None, block: str = "evidence") -> bool:
    """Whether `finding` makes the exit status 1: at or above `fail_on` and, with
    `block = "evidence"`, of a kind in BLOCKING_KINDS."""
    if fail_on is None or finding.severity.rank < fail_on.rank:
        return False
    return block == "all" or evidence_kind(finding) in BLOCKING_KINDS


def mark_advisory(findings: Iterable[Finding], fail_on: Severity | None, block: str = "evidence"
                  ) -> tuple[Finding, ...]:
    """`findings`, those at or above `fail_on` that do not block marked advisory (reported, exit 0)."""
    out = []
    for f in findings:
        at_bar = fail_on is not None and f.severity.rank >= fail_on.rank
        advisory = at_bar and not blocks(f, fail_on, block)
        out.append(f if f.advisory == advisory else replace(f, advisory=advisory))
    return tuple(out)


__all__ = ["BAR", "BLOCKING_KINDS", "DETERMINISTIC", "KINDS", "MEASURED", "MIN_ALARMS", "blocks", "evidence_kind",
           "mark_advisory"]
