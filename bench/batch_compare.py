"""Findings of two `reviewer eval` results files, case by case: the same answers at --batch 1 and --batch N?

    python -m bench.batch_compare bench/results/batch-eval48-n1.jsonl bench/results/batch-eval48-n4.jsonl

Prints each case whose findings differ (path, line, category, severity, title, suggestion) and a table:
cases compared, identical, differing. Only a case with more than one hunk to ask the model about is
decoded beside another hunk; a one-hunk case takes the sequential path at any N.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

FIELDS = ("path", "line", "end_line", "category", "severity", "title", "suggestion")


def load(path: Path) -> dict[str, dict]:
    return {r["id"]: r for r in (json.loads(line) for line in path.read_text().splitlines() if line.strip())}


def key(finding: dict) -> tuple:
    return tuple(finding.get(f) for f in FIELDS)


def main(argv: list[str]) -> int:
    one, other = (load(Path(p)) for p in argv[:2])
    same = differ = 0
    for case in sorted(set(one) & set(other)):
        a = sorted(map(key, one[case]["findings"]))
        b = sorted(map(key, other[case]["findings"]))
        if a == b:
            same += 1
            continue
        differ += 1
        print(f"DIFF {case}")
        for f in a:
            if f not in b:
                print(f"   only in {argv[0]}: {dict(zip(FIELDS, f))}")
        for f in b:
            if f not in a:
                print(f"   only in {argv[1]}: {dict(zip(FIELDS, f))}")
    print(f"\n| cases | identical | differing |\n|---|---|---|\n| {same + differ} | {same} | {differ} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
