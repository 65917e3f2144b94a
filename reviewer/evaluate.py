"""`reviewer eval`: run the real pipeline on labelled cases and score it.

Cases and scoring rules: shared/eval/README.md. Each case's diff is reviewed as
`reviewer review --diff` would (no repository around it); results are appended one
JSON line per case, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reviewer.analyzers import analyze
from reviewer.backends import Backend
from reviewer.cache import ResultCache
from reviewer.config import Config
from reviewer.diff import DiffInput, parse_diff
from reviewer.errors import ReviewerError
from reviewer.review import run_review

ALARM_SEVERITIES = {"medium", "high"}


def load_cases(paths: Iterable[Path]) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    for path in paths:
        try:
            with path.open(encoding="utf-8") as fh:
                cases.extend(json.loads(line) for line in fh if line.strip())
        except (OSError, json.JSONDecodeError) as exc:
            raise ReviewerError(f"cannot read cases from {path}: {exc}") from None
    return cases


def review_case(case: dict[str, Any], backend: Backend, config: Config, cache: ResultCache | None) -> dict[str, Any]:
    """One result line: {"id", "findings", "seconds"} (plus "error" when the diff was rejected)."""
    started = time.perf_counter()
    try:
        parsed = parse_diff(DiffInput(case["diff"], None, lambda _path: None), config)
    except ReviewerError as exc:
        return {"id": case["id"], "findings": [], "seconds": 0.0, "error": str(exc)}
    hints = analyze(parsed) if config.analyzers else ()
    review = run_review(parsed, backend, config, cache, hints=hints)
    return {
        "id": case["id"],
        "findings": [f.to_dict() for f in review.findings],
        "seconds": round(time.perf_counter() - started, 3),
    }


def is_alarm(finding: dict[str, Any]) -> bool:
    return finding.get("category") in ("bug", "security") and str(finding.get("severity", "")).lower() in ALARM_SEVERITIES


def judge(case: dict[str, Any], findings: list[dict[str, Any]]) -> bool:
    """buggy: detected? clean: false alarm? (the rules of shared/eval/README.md)"""
    alarms = [f for f in findings if is_alarm(f)]
    if case["label"] == "clean":
        return bool(alarms)
    expect = case["expect"]
    same_file = [f for f in alarms if f.get("path", "").lstrip("./") == expect["path"]]
    if expect["scope"] == "file":
        return any(f["category"] == "security" for f in same_file)
    lo, hi = min(expect["lines"]) - 3, max(expect["lines"]) + 3
    return any(int(f.get("line", 0)) <= hi and int(f.get("end_line") or f.get("line", 0)) >= lo for f in same_file)


@dataclass(frozen=True)
class Score:
    """Detection and false-alarm rates for one group of cases."""

    buggy: int
    detected: int
    clean: int
    false_alarms: int
    median_seconds: float | None

    @property
    def detection_rate(self) -> float | None:
        return self.detected / self.buggy if self.buggy else None

    @property
    def false_alarm_rate(self) -> float | None:
        return self.false_alarms / self.clean if self.clean else None


def score(cases: dict[str, dict[str, Any]], results: list[dict[str, Any]]) -> dict[str, Score]:
    """Per source, plus "ALL"."""
    groups: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    for r in results:
        case = cases.get(r["id"])
        if case is not None:
            groups.setdefault(case["source"], []).append((case, r))
            groups.setdefault("ALL", []).append((case, r))
    out: dict[str, Score] = {}
    for source, pairs in groups.items():
        buggy = [judge(c, r["findings"]) for c, r in pairs if c["label"] == "buggy"]
        clean = [judge(c, r["findings"]) for c, r in pairs if c["label"] == "clean"]
        secs = [float(r.get("seconds", 0)) for _, r in pairs]
        median = sorted(secs)[len(secs) // 2] if secs else None  # the upper median, as shared/eval/score.py
        out[source] = Score(len(buggy), sum(buggy), len(clean), sum(clean), median)
    return out


def format_table(scores: dict[str, Score]) -> str:
    def pct(x: float | None) -> str:
        return "-" if x is None else f"{100 * x:.0f}%"

    rows = ["| source | buggy | detected | clean | false alarms | median s/case |", "|---|---|---|---|---|---|"]
    for source in sorted(scores, key=lambda s: (s == "ALL", s)):
        s = scores[source]
        med = "-" if s.median_seconds is None else f"{s.median_seconds:.1f}"
        rows.append(f"| {source} | {s.buggy} | {s.detected} ({pct(s.detection_rate)}) | {s.clean} | "
                    f"{s.false_alarms} ({pct(s.false_alarm_rate)}) | {med} |")
    return "\n".join(rows)


def run_eval(
    cases: list[dict[str, Any]],
    backend: Backend,
    config: Config,
    cache: ResultCache | None,
    out: Path,
    on_case: Callable[[int, int, dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Review every case not already in `out`, appending results; returns all results for these cases."""
    done: dict[str, dict[str, Any]] = {}
    if out.exists():
        for line in out.read_text(encoding="utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                done[r["id"]] = r
    todo = [c for c in cases if c["id"] not in done]
    with out.open("a", encoding="utf-8") as fh:
        for i, case in enumerate(todo, 1):
            result = review_case(case, backend, config, cache)
            fh.write(json.dumps(result) + "\n")
            fh.flush()
            done[case["id"]] = result
            if on_case:
                on_case(i, len(todo), result)
    return [done[c["id"]] for c in cases if c["id"] in done]


__all__ = ["format_table", "judge", "load_cases", "run_eval", "score"]
