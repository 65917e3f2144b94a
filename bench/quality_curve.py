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
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reviewer.evaluate import Score, load_cases, score

THRESHOLDS = (0.0, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)


def filtered(results: list[dict], threshold: float) -> list[dict]:
    def kept(f: dict) -> bool:
        c = f.get("confidence")
        return c is None or c >= threshold

    return [{**r, "findings": [f for f in r["findings"] + r.get("unsure", []) if kept(f)]} for r in results]


def pct(s: Score, which: str) -> str:
    rate = s.detection_rate if which == "det" else s.false_alarm_rate
    return "-" if rate is None else f"{100 * rate:.0f}%"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cases", nargs="+", type=Path)
    ap.add_argument("--results", required=True, type=Path)
    args = ap.parse_args(argv)
    cases = {c["id"]: c for c in load_cases(args.cases)}
    results = [json.loads(line) for line in args.results.read_text().splitlines() if line.strip()]
    results = [r for r in results if r["id"] in cases]
    by_threshold = {t: score(cases, filtered(results, t)) for t in THRESHOLDS}
    sources = sorted(by_threshold[0.0], key=lambda s: (s == "ALL", s))
    print("| min_confidence | " + " | ".join(f"{s} detection / false alarms" for s in sources) + " |")
    print("|---|" + "---|" * len(sources))
    for t, scores in by_threshold.items():
        print(f"| {t:.2f} | " + " | ".join(f"{pct(scores[s], 'det')} / {pct(scores[s], 'fa')}" for s in sources) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
