"""The TUI's state without Textual: hunk results so far, filters, baseline, accepted edits.

Findings are merged by the pipeline's own `merge_findings`, as `run_review` merges them,
over the hunks reviewed so far, so the list grows while the review streams in and
ends equal to what `reviewer review` reports (less the baseline).
"""

from __future__ import annotations

from dataclasses import dataclass

from reviewer.baseline import Baseline
from reviewer.config import Config
from reviewer.grounding import FileFacts, ground_analyzer_flows
from reviewer.merging import merge_findings
from reviewer.pipeline import HunkResult
from reviewer.tui.edits import Edit
from reviewer.types import Category, Finding, Hunk, ModelInfo, ParsedDiff, Review, Severity, SkippedFile, Stats


@dataclass
class Speed:
    """Model throughput this session (every answer the model gave, re-reviews included)."""

    completion_tokens: int = 0
    seconds: float = 0.0  # wall time of hunks the model answered (the model load included)

    @property
    def tokens_per_second(self) -> float | None:
        return self.completion_tokens / self.seconds if self.seconds > 0 and self.completion_tokens else None


class Session:
    """Everything one TUI session knows. Mutated only from the UI thread."""

    def __init__(self, parsed: ParsedDiff, config: Config, model: ModelInfo, baseline: Baseline | None = None) -> None:
        self.parsed = parsed
        self.config = config
        self.model = model
        self.baseline = baseline or Baseline()
        self.hints: tuple[Finding, ...] = ()
        # Whole-file facts for grounding, worked out once per file for the whole session; the review
        # worker fills it too (each entry depends only on `parsed`, so a race only computes one twice).
        self.facts = FileFacts(parsed.sources)
        self.results: dict[int, HunkResult] = {}
        self.speed = Speed()
        self.categories: frozenset[Category] = frozenset(config.categories)
        self.min_severity: Severity = config.min_severity
        self.min_confidence: float = config.min_confidence
        self.edits: list[Edit] = []  # applied suggestions, oldest first (the undo stack)
        self.dismissed: dict[str, tuple[Finding, str]] = {}  # this session's dismissals: fp -> (finding, reason)
        self.files: list[str] = list(dict.fromkeys(h.path for h in parsed.hunks))
        self._order = {path: i for i, path in enumerate(self.files)}
        self._merged: list[Finding] = []

    # -- results -------------------------------------------------------------------

    @property
    def total(self) -> int:
        return len(self.parsed.hunks)

    @property
    def done(self) -> int:
        return len(self.results)

    @property
    def cached(self) -> int:
        return sum(r.cached for r in self.results.values())

    def add_result(self, index: int, result: HunkResult, seconds: float) -> None:
        """Record one hunk's result (a re-review replaces the earlier one)."""
        self.results[index] = result
        if not result.cached and not result.skipped_reason:
            self.speed.seconds += seconds
            self.speed.completion_tokens += result.completion_tokens
        self._remerge()

    def set_hints(self, hints: tuple[Finding, ...]) -> None:
        """Analyzer findings, grounded as `run_review` reports them (bandit's dangerous calls where nothing flows)."""
        self.hints = ground_analyzer_flows(hints, self.facts)
        self._remerge()

    def _remerge(self) -> None:
        model = [f for i in sorted(self.results) for f in self.results[i].findings]
        done = {(self.parsed.hunks[i].path, n) for i in self.results for n in self.parsed.hunks[i].added_line_numbers}
        self._merged = merge_findings(model, [f for f in self.hints if (f.path, f.line) in done], self.config)

    # -- what is shown -------------------------------------------------------------

    def all_findings(self) -> list[Finding]:
        """Every finding so far, baselined ones included."""
        return list(self._merged)

    def baselined(self) -> list[Finding]:
        return [f for f in self._merged if f in self.baseline]

    def visible(self) -> list[Finding]:
        """Findings to show: not baselined, passing the view filter, in diff order."""
        shown = [f for f in self._merged if f not in self.baseline and self.passes_filter(f)]
        return sorted(shown, key=self.sort_key)

    def passes_filter(self, f: Finding) -> bool:
        return (f.category in self.categories and f.severity.rank >= self.min_severity.rank
                and not f.is_unsure(self.min_confidence))

    def sort_key(self, f: Finding) -> tuple[int, int, int, str]:
        return (self._order.get(f.path, len(self._order)), f.line, -f.severity.rank, f.title)

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(self.files, 0)
        for f in self.visible():
            out[f.path] = out.get(f.path, 0) + 1
        return out

    def file_done(self, path: str) -> bool:
        return all(i in self.results for i, h in enumerate(self.parsed.hunks) if h.path == path)

    def hunks_of(self, path: str) -> list[tuple[int, Hunk]]:
        return [(i, h) for i, h in enumerate(self.parsed.hunks) if h.path == path]

    def hunk_index(self, f: Finding) -> int | None:
        """The hunk a finding sits in (its lines are on that hunk's new side)."""
        for i, h in enumerate(self.parsed.hunks):
            if h.path == f.path and f.line in h.new_line_numbers:
                return i
        return None

    @property
    def filter_label(self) -> str:
        cats = "all" if self.categories >= set(self.config.categories) else ",".join(
            c.value for c in Category if c in self.categories) or "none"
        sev = "" if self.min_severity == Severity.LOW else f" ≥{self.min_severity.value}"
        return cats + sev

    # -- accept / undo -------------------------------------------------------------

    @property
    def accepted(self) -> set[str]:
        return {e.fingerprint for e in self.edits}

    def reviewed_lines(self, f: Finding) -> list[str]:
        """The lines line..end_line as the review saw them."""
        index = self.hunk_index(f)
        if index is None:
            return []
        texts = {ln.new_no: ln.text for ln in self.parsed.hunks[index].lines if ln.new_no is not None}
        return [texts.get(n, "") for n in range(f.line, max(f.end_line, f.line) + 1)]

    def line_offset(self, f: Finding) -> int | None:
        """How far earlier accepted edits in the file moved the finding's lines; None if one overlaps them."""
        offset = 0
        end = max(f.end_line, f.line)
        for e in self.edits:
            if e.rel != f.path:
                continue
            if e.reviewed_start <= end and f.line <= e.reviewed_end:
                return None
            if e.reviewed_end < f.line:
                offset += e.delta
        return offset

    # -- export --------------------------------------------------------------------

    def to_review(self) -> Review:
        """The session as a `Review` (the JSON contract): the findings shown now."""
        results = [self.results[i] for i in sorted(self.results)]
        skipped = tuple(SkippedFile(f"{r.hunk.path}:{r.hunk.new_start}", r.skipped_reason)
                        for r in results if r.skipped_reason)
        stats = Stats(hunks=self.total, cached=sum(r.cached for r in results),
                      prompt_tokens=sum(r.prompt_tokens for r in results),
                      completion_tokens=sum(r.completion_tokens for r in results), seconds=self.speed.seconds,
                      files=self.parsed.files, skipped=tuple(self.parsed.skipped) + skipped,
                      dropped_findings=sum(r.dropped for r in results))
        return Review(self.model, tuple(self.visible()), stats=stats, hunks=self.parsed.hunks)


__all__ = ["Session", "Speed"]
