"""Detection and false alarms with and without grounding the model's security claims.

reviewer/grounding.py lowers a model security claim to `low` (no alarm) when the lines it
points at touch nothing security-relevant. This replays that rule on a `reviewer eval`
results file, no model run: claims the pipeline already lowered are restored first (they
carry grounding.LOWERED_NOTE), so files written with or without grounding, or with an
older vocabulary, give the same "without" and "with" columns.

    python bench/grounding_replay.py ../shared/eval/cases/*.jsonl --results results.jsonl [--show]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from unidiff import PatchSet

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.quality_curve import KINDS, cell, pooled
from reviewer.context import language_for_path
from reviewer.evaluate import load_cases, score
from reviewer.grounding import LOWERED_NOTE, lowers
from reviewer.types import Category, Finding, Severity


def added_lines(diff: str) -> dict[str, dict[int, str]]:
    """path -> new line number -> text, for each added line of a case's diff."""
    out: dict[str, dict[int, str]] = {}
    for pf in PatchSet(diff):
        for hunk in pf:
            for ln in hunk:
                if ln.is_added:
                    out.setdefault(pf.path, {})[ln.target_line_no] = ln.value.rstrip("\n")
    return out


def restored(finding: dict[str, Any]) -> dict[str, Any]:
    """A claim as the model made it (any lowered claim was an alarm: medium or high)."""
    if LOWERED_NOTE not in finding.get("message", ""):
        return finding
    return {**finding, "severity": "medium", "message": finding["message"].replace(LOWERED_NOTE, "").strip()}


def as_finding(f: dict[str, Any]) -> Finding:
    return Finding(f["path"], f["line"], f.get("end_line", f["line"]), Category(f["category"]), Severity(f["severity"]),
                   f.get("title", ""), f.get("message", ""), source=f.get("source", "model"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cases", nargs="+", type=Path)
    ap.add_argument("--results", required=True, type=Path)
    ap.add_argument("--show", action="store_true", help="list every claim grounding lowers")
    args = ap.parse_args(argv)
    cases = {c["id"]: c for c in load_cases(args.cases)}
    results = [json.loads(line) for line in args.results.read_text().splitlines() if line.strip()]
    results = [r for r in results if r["id"] in cases]
    without, with_grounding = [], []
    for r in results:
        added = added_lines(cases[r["id"]]["diff"])
        findings = [restored(f) for f in r["findings"]]
        kept = []
        for f in findings:
            if lowers(as_finding(f), added.get(f["path"], {}), language_for_path(f["path"])):
                if args.show:
                    code = added.get(f["path"], {}).get(f["line"], "").strip()
                    print(f"lowered: {r['id']} ({cases[r['id']]['label']}) {f['title']!r} on {code[:70]!r}")
                f = {**f, "severity": "low"}
            kept.append(f)
        without.append({**r, "findings": findings})
        with_grounding.append({**r, "findings": kept})
    columns = [*KINDS, "ALL"]
    print("| security claims | " + " | ".join(f"{n} detection / false alarms" for n in columns) + " |")
    print("|---|" + "---|" * len(columns))
    for name, rows in (("as the model made them", without), ("grounded (default)", with_grounding)):
        scores = pooled(score(cases, rows))
        print(f"| {name} | " + " | ".join(cell(scores[n]) if n in scores else "-" for n in columns) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
