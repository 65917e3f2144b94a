"""Precision of each kind of evidence behind an alarm, and what blocking by evidence would block.

Replays a `reviewer eval` results file, no model run: each case's repository is rebuilt
as `reviewer eval` builds it (reviewer/evaluation/materialize.py), the analyzers run on its
staged diff (bandit, ruff, taint; seconds per case), and each recorded model finding gets the
evidence the pipeline's merge gives it (`pipeline.merge_analyzer_findings`: an analyzer
finding of the same category on the same line); recorded analyzer and test findings are
their own evidence. Each alarm (bug/security, medium or high: shared/eval/score.py) is then
classified by `reviewer.blocking.evidence_kind` and judged as score.py judges a case: right
when it alone detects its buggy case (the expected lines +-3, or a security alarm in the
expected file), wrong otherwise (every alarm in a clean case is wrong).

The second table applies the code's own rule (`reviewer.blocking.mark_advisory` and
`types.exit_status`) at --fail-on: how many clean cases each policy blocks (wrongful blocks),
how many buggy cases it blocks, and in how many of those a blocking alarm is the detection.

    python bench/evidence_precision.py ../shared/eval/cases/*.jsonl --results bench/results/results-dd0933c-1.5b.jsonl
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.grounding_replay import as_finding, case_inputs
from bench.quality_curve import KINDS as CASE_KINDS
from bench.quality_curve import replay_inputs, replay_parser
from reviewer.blocking import BLOCKING_KINDS, KINDS, evidence_kind, mark_advisory
from reviewer.config import BLOCK_POLICIES, parse_fail_on
from reviewer.evaluation.runner import is_alarm, judge
from reviewer.grounding import FileFacts, ground_analyzer_flows
from reviewer.merging import merge_analyzer_findings
from reviewer.types import Finding, Severity, exit_status


def with_evidence(case: dict[str, Any], recorded: list[dict[str, Any]]) -> list[Finding]:
    """The recorded findings, each model finding with the evidence the pipeline's merge records."""
    findings = [_finding(f) for f in recorded]
    if not any(f.source == "model" and not f.evidence for f in findings):
        return findings
    hints, parsed = case_inputs(case)
    analyzer = ground_analyzer_flows(hints, FileFacts(parsed.sources))
    out = []
    for f in findings:
        if f.source == "model" and not f.evidence:
            merged = merge_analyzer_findings([f], analyzer)[0]
            f = replace(f, evidence=merged.evidence)  # the recorded severity stays
        out.append(f)
    return out


def _finding(f: dict[str, Any]) -> Finding:
    return replace(as_finding(f), evidence=tuple(f.get("evidence", ())))


def _dict(f: Finding) -> dict[str, Any]:
    return {"path": f.path, "line": f.line, "end_line": f.end_line, "category": f.category.value,
            "severity": f.severity.value}


def case_kind(case: dict[str, Any]) -> str:
    return next((k for k, sources in CASE_KINDS.items() if case["source"] in sources), case["source"])


def main(argv: list[str] | None = None) -> int:
    ap = replay_parser(__doc__)
    ap.add_argument("--fail-on", default="high", help="the fail-on to apply (default high)")
    ap.add_argument("--show", action="store_true", help="list every alarm with its kind and verdict")
    args = ap.parse_args(argv)
    fail_on: Severity | None = parse_fail_on(args.fail_on)
    cases, results = replay_inputs(args)
    alarms: Counter[str] = Counter()
    right: Counter[str] = Counter()
    at_bar: Counter[str] = Counter()
    at_bar_right: Counter[str] = Counter()
    clean_blocked: dict[str, set[str]] = {}
    evidence_seen: Counter[str] = Counter()
    verdicts: dict[str, Counter[str]] = {p: Counter() for p in BLOCK_POLICIES}
    totals: Counter[str] = Counter()
    for r in results:
        case = cases[r["id"]]
        findings = with_evidence(case, r["findings"])
        group = case_kind(case)
        totals[f"{group} {case['label']}"] += 1
        for f in findings:
            kind = evidence_kind(f)
            if f.evidence:
                evidence_seen["+".join(f.evidence)] += 1
            if fail_on is not None and f.severity.rank >= fail_on.rank and case["label"] == "clean":
                clean_blocked.setdefault(kind, set()).add(r["id"])
            if not is_alarm(_dict(f)):
                continue
            ok = case["label"] == "buggy" and judge(case, [_dict(f)])
            alarms[kind] += 1
            right[kind] += ok
            if fail_on is not None and f.severity.rank >= fail_on.rank:
                at_bar[kind] += 1
                at_bar_right[kind] += ok
            if args.show:
                print(f"{kind:15} {'right' if ok else 'wrong'} {r['id']} ({case['label']}) {f.severity.value} "
                      f"{f.category.value} {f.title[:60]!r}")
        for policy in BLOCK_POLICIES:
            marked = mark_advisory(findings, fail_on, policy)
            blocked = exit_status(marked, fail_on) == 1
            blocking = [_dict(f) for f in marked if not f.advisory and fail_on is not None
                        and f.severity.rank >= fail_on.rank]
            key = f"{group} {case['label']}"
            verdicts[policy][key + " blocked"] += blocked
            if case["label"] == "buggy":
                verdicts[policy][key + " detected"] += judge(case, blocking)
    print(f"{args.results.name}: {len(results)} cases; fail-on {args.fail_on}; blocking kinds now: "
          f"{', '.join(sorted(BLOCKING_KINDS)) or '(none)'}\n")
    bar = args.fail_on
    print(f"| evidence | alarms | right | precision | {bar} alarms | right | precision | clean cases its {bar} findings block |")
    print("|---|---|---|---|---|---|---|---|")
    for kind in [*KINDS, *sorted(set(alarms) - set(KINDS))]:
        if not alarms[kind] and kind not in clean_blocked:
            continue
        print(f"| {kind} | {alarms[kind]} | {right[kind]} | {_pct(right[kind], alarms[kind])} | {at_bar[kind]} | "
              f"{at_bar_right[kind]} | {_pct(at_bar_right[kind], at_bar[kind])} | {len(clean_blocked.get(kind, ()))} |")
    if evidence_seen:
        print("\nmodel findings with analyzer evidence: " + ", ".join(f"{k} {n}" for k, n in sorted(evidence_seen.items())))
    print("\n| block | clean cases blocked (wrongful) | buggy cases blocked | of which a blocking alarm detects the bug |")
    print("|---|---|---|---|")
    for policy in BLOCK_POLICIES:
        v = verdicts[policy]
        groups = sorted({k.split()[0] for k in totals})
        for g in [*groups, "all"]:
            names = groups if g == "all" else [g]
            clean = sum(totals[f"{n} clean"] for n in names)
            buggy = sum(totals[f"{n} buggy"] for n in names)
            wrong = sum(v[f"{n} clean blocked"] for n in names)
            blocked = sum(v[f"{n} buggy blocked"] for n in names)
            detected = sum(v[f"{n} buggy detected"] for n in names)
            print(f"| {policy} ({g}) | {_frac(wrong, clean)} | {_frac(blocked, buggy)} | {_frac(detected, buggy)} |")
    return 0


def _pct(n: int, d: int) -> str:
    return "-" if not d else f"{100 * n / d:.0f}%"


def _frac(n: int, d: int) -> str:
    return "-" if not d else f"{n}/{d} ({100 * n / d:.0f}%)"


if __name__ == "__main__":
    raise SystemExit(main())
