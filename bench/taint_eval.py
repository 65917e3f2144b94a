"""The taint analysis alone, as a reviewer, on labelled cases: no model run.

Each case is rebuilt as `reviewer eval` does (its repository, the whole new files) and
reviewer/analyzers/taint.py's findings on its added lines are scored as the eval scores a
review: per source, and per OWASP BenchmarkPython category (from the handler's route),
detection and false alarms. It also counts, for buggy cases with known lines, how often
the function around the bug has no flow at all: there the grounding rule would lower an
injection claim of the model's, so a high count for an injection CWE means lost
detections.

    python bench/taint_eval.py ../shared/eval/cases/owasp.jsonl ../shared/eval/cases/securityeval.jsonl
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.grounding_replay import case_inputs
from bench.quality_curve import cell, pooled
from reviewer.analyzers.taint import report_findings
from reviewer.dataflow import analyze_source
from reviewer.evaluation.runner import load_cases, score

_ROUTE = re.compile(r"/benchmark/([a-z]+)-\d+/")


def case_review(case: dict[str, Any]) -> tuple[list[dict[str, Any]], bool | None]:
    """The taint findings on the case's added lines, and whether the function at the
    expected bug line has a flow (None when unknown)."""
    _, parsed = case_inputs(case)
    findings: list[dict[str, Any]] = []
    expected = case.get("expect") or {}
    has_flow = None
    for path, lines in parsed.sources.items():
        report = analyze_source("\n".join(lines) + "\n")
        if report is None:
            continue
        added = {n for h in parsed.hunks if h.path == path for n in h.added_line_numbers}
        findings += [{"path": f.path, "line": f.line, "end_line": f.end_line, "category": f.category.value,
                      "severity": f.severity.value, "title": f.title, "message": f.message, "source": f.source}
                     for f in report_findings(path, report) if f.line in added]
        if path == expected.get("path") and expected.get("lines"):
            scope = report.scope_at(expected["lines"][0])
            if scope is not None and scope.analyzed:
                has_flow = bool(scope.flows)
    return findings, has_flow


def print_tables(cases: dict[str, dict[str, Any]], rows: list[dict[str, Any]], what: str) -> None:
    """Detection / false alarms of `rows` per source, then per OWASP BenchmarkPython category
    (from each handler's route)."""
    print(f"| source | {what}: detection / false alarms |")
    print("|---|---|")
    for name, scores in pooled(score(cases, rows)).items():
        print(f"| {name} | {cell(scores)} |")
    by_category: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        case = cases[row["id"]]
        route = _ROUTE.search(case["diff"])
        if case["source"].startswith("OWASP") and route:
            by_category[route.group(1)].append(row)
    if by_category:
        print("\n| OWASP category | detection / false alarms |")
        print("|---|---|")
        for category, category_rows in sorted(by_category.items()):
            (scores,) = [v for k, v in pooled(score(cases, category_rows)).items() if k != "ALL" and k.startswith("OWASP")]
            print(f"| {category} | {cell(scores)} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cases", nargs="+", type=Path)
    args = ap.parse_args(argv)
    cases = {c["id"]: c for c in load_cases(args.cases)}
    rows = []
    no_flow: Counter[str] = Counter()
    buggy_with_lines: Counter[str] = Counter()
    for case in cases.values():
        findings, has_flow = case_review(case)
        row = {"id": case["id"], "findings": findings, "seconds": 0.0}
        rows.append(row)
        if has_flow is not None:
            key = case.get("cwe") or case["source"]
            buggy_with_lines[key] += 1
            no_flow[key] += not has_flow
    print_tables(cases, rows, "taint findings alone")
    if buggy_with_lines:
        print("\nBuggy cases whose function has no flow at all (an injection claim there would be lowered):")
        for key, total in sorted(buggy_with_lines.items()):
            if no_flow[key]:
                print(f"  {key}: {no_flow[key]}/{total}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
