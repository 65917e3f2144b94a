"""The analyzers alone (bandit, ruff, the taint analysis), as a reviewer, on labelled cases: no model.

Each case is rebuilt as `reviewer eval` does and `reviewer.analyzers.analyze` runs on it,
then bandit's dangerous-call warnings are grounded as the review reports them
(`ground_analyzer_flows`). The findings on added lines are scored as the eval scores a
review: per source, and per OWASP BenchmarkPython category (from the handler's route).
This is the floor under every review: what reviewer reports with `--backend` unreachable
analyses only, and the hints the model is shown.

    python bench/analyzers_eval.py ../shared/eval/cases/owasp.jsonl ../shared/eval/cases/securityeval.jsonl
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.grounding_replay import case_inputs
from bench.quality_curve import cell, pooled
from reviewer.evaluate import load_cases, score
from reviewer.grounding import FileFacts, ground_analyzer_flows

_ROUTE = re.compile(r"/benchmark/([a-z]+)-\d+/")


def case_findings(case: dict[str, Any]) -> list[dict[str, Any]]:
    """The analyzers' findings on the case's added lines, as a results-file row's findings."""
    found, parsed = case_inputs(case)
    return [f.to_dict() for f in ground_analyzer_flows(found, FileFacts(parsed.sources))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cases", nargs="+", type=Path)
    args = ap.parse_args(argv)
    cases = {c["id"]: c for c in load_cases(args.cases)}
    rows = []
    by_category: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for case in cases.values():
        row = {"id": case["id"], "findings": case_findings(case), "seconds": 0.0}
        rows.append(row)
        route = _ROUTE.search(case["diff"])
        if case["source"].startswith("OWASP") and route:
            by_category[route.group(1)].append(row)
    print("| source | analyzers alone: detection / false alarms |")
    print("|---|---|")
    for name, scores in pooled(score(cases, rows)).items():
        print(f"| {name} | {cell(scores)} |")
    if by_category:
        print("\n| OWASP category | detection / false alarms |")
        print("|---|---|")
        for category, cat_rows in sorted(by_category.items()):
            print(f"| {category} | {cell(pooled(score(cases, cat_rows))['ALL'])} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
