"""Noise the developer controls: the baseline, `reviewer: ignore` comments and the findings budget, applied to a Review.

One place for every front end: `ReviewSession.review` ends with `apply_noise`, so
`reviewer review`, `hook run` and `ci` hide the same findings, and the TUI matches its
baseline with the same `Baseline.match`. Nothing is lost silently: what is hidden is
counted in `Stats` (hidden_by_baseline, hidden_by_inline, over_budget) and the reports
say so. Order: the baseline, then inline ignores, then the budget over what is left.

The budget (`max_findings`, `max_findings_per_file`; 0 = no cap) keeps the most severe
findings first, then those with evidence beyond the model's word (an analyzer, the taint
analysis, a generated test: any `source` but "model"), then the more confident; the
findings kept stay in their report order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from reviewer.anchors import new_side
from reviewer.baseline import Baseline, baseline_path, find_root, load_baseline, partition_baselined
from reviewer.config import Config
from reviewer.context import language_for_path
from reviewer.errors import ReviewerError
from reviewer.ignores import Directive, directives, unknown_warning
from reviewer.types import Finding, ParsedDiff, Review

Say = Callable[[str], None]


def read_baseline(config: Config, warn: Say) -> Baseline:
    """The repository's baseline for this run; one warning (and no baseline) when the file is
    unreadable, one warning for entries that cannot be read (the others still apply)."""
    path = baseline_path(find_root(config.cwd or Path.cwd()))
    try:
        baseline = load_baseline(path)
    except ReviewerError as exc:
        warn(f"reviewer: warning: {exc}; reviewing without the baseline")
        return Baseline()
    for problem in baseline.problems:
        warn(f"reviewer: warning: {problem}")
    return baseline


def rank(f: Finding) -> tuple[int, int, float]:
    """Budget order: severity, then evidence (not the model alone), then the model's confidence."""
    confidence = f.confidence if f.confidence is not None else 0.5
    return (-f.severity.rank, 1 if f.source == "model" else 0, -confidence)


def within_budget(findings: Sequence[Finding], max_total: int, max_per_file: int) -> tuple[tuple[Finding, ...], int]:
    """(kept, how many were left out): at most `max_per_file` per file and `max_total` in all (0 = no cap)."""
    if not max_total and not max_per_file:
        return tuple(findings), 0
    keep: set[int] = set()
    per_file: Counter[str] = Counter()
    for i in sorted(range(len(findings)), key=lambda i: (rank(findings[i]), i)):
        f = findings[i]
        if (max_per_file and per_file[f.path] >= max_per_file) or (max_total and len(keep) >= max_total):
            continue
        keep.add(i)
        per_file[f.path] += 1
    return tuple(f for i, f in enumerate(findings) if i in keep), len(findings) - len(keep)


def inline_ignored(findings: Sequence[Finding], parsed: ParsedDiff, config: Config,
                   warn: Say) -> tuple[tuple[Finding, ...], int]:
    """(kept, hidden) by `reviewer: ignore` comments; warns about unknown categories in comments
    near a finding or on a changed line, and (report_unused_ignores) about comments that hide nothing."""
    added = {(h.path, n) for h in parsed.hunks for n in h.added_line_numbers}
    paths = {f.path for f in findings} | ({h.path for h in parsed.hunks} if config.report_unused_ignores else set())
    found: dict[str, tuple[Directive, ...]] = {
        path: directives(path, new_side(parsed, path), language_for_path(path)) for path in sorted(paths)}
    kept: list[Finding] = []
    used: set[Directive] = set()
    near: set[Directive] = set()
    for f in findings:
        hiding = [d for d in found.get(f.path, ()) if d.hides(f)]
        near.update(d for d in found.get(f.path, ()) if d.covers(f))
        used.update(hiding)
        if not (hiding and config.inline_ignores):
            kept.append(f)
    for ds in found.values():
        for d in ds:
            on_change = (d.path, d.line) in added
            if d.unknown and (on_change or d in near):
                warn(unknown_warning(d))
            if config.report_unused_ignores and on_change and d not in used:
                warn(f"reviewer: {d.path}:{d.line}: unused `{d.text}`: it hides no finding in this review")
    return tuple(kept), len(findings) - len(kept)


def apply_noise(review: Review, parsed: ParsedDiff, config: Config, warn: Say) -> Review:
    """`review` less what the baseline, inline ignores and the budget hide, counted in its Stats."""
    findings = review.findings
    by_baseline = 0
    if config.baseline:
        findings, hidden = partition_baselined(findings, read_baseline(config, warn))
        by_baseline = len(hidden)
    by_inline = 0
    if config.inline_ignores or config.report_unused_ignores:
        findings, by_inline = inline_ignored(findings, parsed, config, warn)
    findings, over = within_budget(findings, config.max_findings, config.max_findings_per_file)
    if (by_baseline, by_inline, over) == (0, 0, 0):
        return review
    stats = replace(review.stats, hidden_by_baseline=by_baseline, hidden_by_inline=by_inline, over_budget=over)
    return replace(review, findings=findings, stats=stats)


__all__ = ["apply_noise", "inline_ignored", "rank", "read_baseline", "within_budget"]
