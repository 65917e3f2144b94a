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
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.grounding_replay import case_inputs
from bench.taint_eval import print_tables
from reviewer.evaluation.runner import load_cases
from reviewer.grounding import FileFacts, ground_analyzer_flows


def case_findings(case: dict[str, Any]) -> list[dict[str, Any]]:
    """The analyzers' findings on the case's added lines, as a results-file row's findings."""
    found, parsed = case_inputs(case)
    return [f.to_dict() for f in ground_analyzer_flows(found, FileFacts(parsed.sources))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cases", nargs="+", type=Path)
    args = ap.parse_args(argv)
    cases = {c["id"]: c for c in load_cases(args.cases)}
    rows = [{"id": case["id"], "findings": case_findings(case), "seconds": 0.0} for case in cases.values()]
    print_tables(cases, rows, "analyzers alone")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
