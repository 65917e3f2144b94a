"""What `--run-tests` changed, from one `reviewer eval --run-tests` results file (no model run).

The generated tests act on a review in two ways (reviewer/testgen/evidence.py): a
regression finding (source "tests") is added, and a model bug claim inside a function
whose tests fail on the old code and pass on the new one is lowered to `low` with a note
that says from what. Both are visible in the results, so the same answers can be scored
as they were made and with the tests' effect undone: regression findings removed, lowered
claims back at their severity. Also prints, per case, what the tests did.

    python bench/tests_effect.py ../shared/eval/cases/quixbugs.jsonl --results results-tests.jsonl
"""

from __future__ import annotations

import re
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.quality_curve import replay_inputs, replay_parser
from reviewer.evaluation.runner import format_table, is_alarm, judge, score

LOWERED = re.compile(r"\s*\[Lowered from (\w+): generated tests of .*?\]", re.DOTALL)


def without_tests(finding: dict) -> dict | None:
    """The finding as the review made it before the tests ran; None for the tests' own findings."""
    if finding.get("source") == "tests":
        return None
    match = LOWERED.search(finding.get("message", ""))
    if match is None:
        return finding
    return {**finding, "severity": match.group(1), "message": LOWERED.sub("", finding["message"])}


def undo(results: list[dict]) -> list[dict]:
    return [{**r, "findings": [f for f in map(without_tests, r["findings"]) if f is not None]} for r in results]


def main(argv: list[str] | None = None) -> int:
    cases, results = replay_inputs(replay_parser(__doc__).parse_args(argv))
    before = undo(results)
    print("## Without the tests' effect (regression findings removed, lowered claims restored)\n")
    print(format_table(score(cases, before)))
    print("\n## As made, with --run-tests\n")
    print(format_table(score(cases, results)))
    print("\n## Per case: alarm before -> after (what the tests did)\n")
    changed = 0
    for made, old in zip(results, before):
        case = cases[made["id"]]
        was, now = judge(case, old["findings"]), judge(case, made["findings"])
        added = sum(f.get("source") == "tests" and is_alarm(f) for f in made["findings"])
        lowered = sum(bool(LOWERED.search(f.get("message", ""))) for f in made["findings"])
        what = "detected" if case["label"] == "buggy" else "false alarm"
        mark = "" if was == now else "  <- changed"
        changed += was != now
        print(f"{made['id']}: {what} {was} -> {now}; regression findings {added}, claims lowered {lowered}{mark}")
    seconds = [r["seconds"] for r in results]
    print(f"\n{changed} of {len(results)} cases changed; median {statistics.median(seconds):.1f} s per case "
          f"(review and tests together)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
