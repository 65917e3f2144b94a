"""Detection vs false alarms across `min_confidence` thresholds, from a `reviewer eval` results file.

Each model finding carries the model's confidence that the change has a problem
(backends/greedy.py); `reviewer review --min-confidence T` drops model findings below T.
This replays that filter on saved results (no model run), so one eval gives the whole curve.
Analyzer findings (bandit, ruff) have no confidence and are never dropped. `reviewer eval`
writes the findings its own threshold dropped under "unsure", so thresholds below the one
the eval ran with can be replayed too.

    python bench/quality_curve.py ../shared/eval/cases/*.jsonl --results results.jsonl
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reviewer.evaluation.runner import Score, load_cases, results_for, score

THRESHOLDS = (0.0, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
# The targets are per kind of case, so the table also pools the sources by kind.
KINDS = {"bugs": ("QuixBugs", "BugsInPy"), "security": ("SecurityEval", "OWASP-BenchmarkPython")}


def filtered(results: list[dict], threshold: float) -> list[dict]:
    def kept(f: dict) -> bool:
        c = f.get("confidence")
        return c is None or c >= threshold

    return [{**r, "findings": [f for f in r["findings"] + r.get("unsure", []) if kept(f)]} for r in results]


def pooled(scores: dict[str, Score]) -> dict[str, Score]:
    """Per source and "ALL", plus one row per kind (sources of that kind summed)."""
    out = dict(scores)
    for kind, sources in KINDS.items():
        parts = [scores[s] for s in sources if s in scores]
        if parts:
            out[kind] = Score(sum(p.buggy for p in parts), sum(p.detected for p in parts), sum(p.clean for p in parts),
                              sum(p.false_alarms for p in parts), None)
    return out


def cell(s: Score) -> str:
    """"58% (14/24) / 67% (16/24)": rates with their counts, so small samples show."""
    det = "-" if s.detection_rate is None else f"{pct(s, 'det')} ({s.detected}/{s.buggy})"
    fa = "-" if s.false_alarm_rate is None else f"{pct(s, 'fa')} ({s.false_alarms}/{s.clean})"
    return f"{det} / {fa}"


def replay_parser(doc: str | None) -> argparse.ArgumentParser:
    """The command line every replay of a results file starts from: the case files and --results."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cases", nargs="+", type=Path)
    ap.add_argument("--results", required=True, type=Path)
    return ap


def replay_inputs(args: argparse.Namespace) -> tuple[dict[str, dict], list[dict]]:
    """The cases by id, and the results file's rows for them (read, never repaired)."""
    cases = {c["id"]: c for c in load_cases(args.cases)}
    return cases, results_for(cases, args.results)


def pct(s: Score, which: str) -> str:
    rate = s.detection_rate if which == "det" else s.false_alarm_rate
    return "-" if rate is None else f"{100 * rate:.0f}%"


def main(argv: list[str] | None = None) -> int:
    cases, results = replay_inputs(replay_parser(__doc__).parse_args(argv))
    by_threshold = {t: pooled(score(cases, filtered(results, t))) for t in THRESHOLDS}
    names = list(by_threshold[0.0])
    per_source = sorted((n for n in names if n != "ALL" and n not in KINDS), key=str.lower)
    for columns in (per_source, [*(k for k in KINDS if k in names), "ALL"]):
        print("| min_confidence | " + " | ".join(f"{n} detection / false alarms" for n in columns) + " |")
        print("|---|" + "---|" * len(columns))
        for t, scores in by_threshold.items():
            print(f"| {t:.2f} | " + " | ".join(cell(scores[n]) for n in columns) + " |")
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
