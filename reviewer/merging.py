"""What a review reports of its findings: the thresholds, and the model's and the analyzers' findings merged."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from reviewer.answers import merge_duplicates
from reviewer.config import Config
from reviewer.types import Finding


def keep_finding(finding: Finding, config: Config) -> bool:
    return (finding.category in config.categories and finding.severity.rank >= config.min_severity.rank
            and not finding.is_unsure(config.min_confidence))


def merge_analyzer_findings(model: list[Finding], analyzer: tuple[Finding, ...]) -> list[Finding]:
    """Analyzer findings join the model's unless the model already reported the same
    category on the same line (its wording is the more helpful); severity is the higher,
    and the analyzer is recorded in the model finding's `evidence` (reviewer/blocking.py)."""
    out = list(model)
    for a in analyzer:
        twin = next((i for i, m in enumerate(out) if m.path == a.path and m.line == a.line and m.category == a.category), None)
        if twin is None:
            out.append(a)
            continue
        m = out[twin]
        evidence = tuple(dict.fromkeys((*(m.evidence or (m.source,)), *(a.evidence or (a.source,)))))
        out[twin] = replace(m, severity=max(m.severity, a.severity, key=lambda s: s.rank), evidence=evidence)
    return out


def merge_findings(model: Iterable[Finding], analyzer: Iterable[Finding], config: Config) -> list[Finding]:
    """What a review reports: the model's and the (grounded) analyzers' findings that pass the
    thresholds, an analyzer finding joined in unless the model reported that category on that
    line, duplicates merged. `run_review` ends with it; the TUI applies it to the hunks so far. An
    analyzer finding below the thresholds is not reported but still backs the model's claim on its
    line (`evidence`)."""
    kept = [f for f in model if keep_finding(f, config)]
    return merge_duplicates([f for f in merge_analyzer_findings(kept, tuple(analyzer)) if keep_finding(f, config)])


__all__ = ["keep_finding", "merge_analyzer_findings", "merge_findings"]
