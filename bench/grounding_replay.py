"""Detection and false alarms with and without grounding the model's claims.

reviewer/grounding.py lowers a model security claim to `low` (no alarm) when the lines it
points at touch nothing security-relevant, and caps a model finding that repeats a ruff
hint at ruff's severity. This replays both rules on a `reviewer eval` results file, no
model run: findings the pipeline already changed are restored first (they carry
grounding.LOWERED_NOTE or ECHO_NOTE; restored as `medium`, the lowest alarm), so files
written with or without grounding, or with an older vocabulary, give the same rows.
With --hints the analyzer hints are recomputed for each case (its temp repository,
ruff and bandit, as `reviewer eval` does; a few minutes for 192 cases) for the echo row.

    python bench/grounding_replay.py ../shared/eval/cases/*.jsonl --results results.jsonl [--hints] [--show]
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
from reviewer.grounding import ECHO_NOTE, LOWERED_NOTE, ground_echoed_hints, lowers
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
    message = finding.get("message", "")
    if LOWERED_NOTE not in message and ECHO_NOTE not in message:
        return finding
    return {**finding, "severity": "medium", "message": message.replace(LOWERED_NOTE, "").replace(ECHO_NOTE, "").strip()}


def case_hints(case: dict[str, Any]) -> tuple[Finding, ...]:
    """The analyzer findings `reviewer eval` showed the model for this case."""
    import tempfile

    from reviewer.analyzers import analyze
    from reviewer.config import Config
    from reviewer.diff import DiffSource
    from reviewer.errors import ReviewerError
    from reviewer.eval_repo import isolated_git_env, materialize
    from reviewer.pipeline import parse_source

    with tempfile.TemporaryDirectory(prefix="reviewer-replay-") as tmp:
        try:
            materialize(case["diff"], Path(tmp))
            with isolated_git_env():
                parsed = parse_source(DiffSource("staged"), Path(tmp), Config())
        except ReviewerError:
            return ()
        return analyze(parsed)


def as_finding(f: dict[str, Any]) -> Finding:
    return Finding(f["path"], f["line"], f.get("end_line", f["line"]), Category(f["category"]), Severity(f["severity"]),
                   f.get("title", ""), f.get("message", ""), source=f.get("source", "model"))


def capped(case_id: str, case: dict[str, Any], findings: list[dict[str, Any]], show: bool) -> list[dict[str, Any]]:
    """`findings` with each echo of a ruff hint at the hint's severity."""
    hints = case_hints(case)
    out = []
    for f in findings:
        (grounded,) = ground_echoed_hints((as_finding(f),), hints)
        if grounded.severity.value != f["severity"]:
            if show:
                print(f"capped: {case_id} ({case['label']}) {f['title']!r} {f['severity']} -> {grounded.severity.value}")
            f = {**f, "severity": grounded.severity.value}
        out.append(f)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cases", nargs="+", type=Path)
    ap.add_argument("--results", required=True, type=Path)
    ap.add_argument("--show", action="store_true", help="list every claim grounding lowers")
    ap.add_argument("--hints", action="store_true", help="recompute analyzer hints and add the lint-echo row")
    args = ap.parse_args(argv)
    cases = {c["id"]: c for c in load_cases(args.cases)}
    results = [json.loads(line) for line in args.results.read_text().splitlines() if line.strip()]
    results = [r for r in results if r["id"] in cases]
    without, with_grounding, with_echoes = [], [], []
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
        if args.hints:
            with_echoes.append({**r, "findings": capped(r["id"], cases[r["id"]], kept, args.show)})
    rows = [("as the model made them", without), ("security claims grounded", with_grounding)]
    if args.hints:
        rows.append(("and lint echoes capped", with_echoes))
    columns = [*KINDS, "ALL"]
    print("| model findings | " + " | ".join(f"{n} detection / false alarms" for n in columns) + " |")
    print("|---|" + "---|" * len(columns))
    for name, rows_ in rows:
        scores = pooled(score(cases, rows_))
        print(f"| {name} | " + " | ".join(cell(scores[n]) if n in scores else "-" for n in columns) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
