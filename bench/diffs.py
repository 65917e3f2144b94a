"""Benchmark diffs of a given number of hunks, built from the labelled eval cases.

Cases are taken round-robin from the sources in ../shared/eval/cases (a mix of small
algorithm fixes, web handlers and real project patches) and concatenated; each case's
paths get a `caseN/` prefix so that files never collide. Deterministic: the same
size always gives the same diff.
"""

from __future__ import annotations

import json
import re
from itertools import chain, zip_longest
from pathlib import Path

from reviewer.config import Config
from reviewer.diff import DiffInput, parse_diff
from reviewer.errors import ReviewerError

DEFAULT_CASES = Path(__file__).resolve().parents[2] / "shared" / "eval" / "cases"


def _prefixed(diff: str, prefix: str) -> str:
    """Put every path of a diff under `prefix/`."""
    diff = re.sub(r"^diff --git a/(\S+) b/(\S+)", lambda m: f"diff --git a/{prefix}/{m[1]} b/{prefix}/{m[2]}", diff, flags=re.MULTILINE)
    diff = re.sub(r"^--- a/", f"--- a/{prefix}/", diff, flags=re.MULTILINE)
    return re.sub(r"^\+\+\+ b/", f"+++ b/{prefix}/", diff, flags=re.MULTILINE)


def _cases(cases_dir: Path) -> list[dict]:
    per_file = []
    for path in sorted(cases_dir.glob("*.jsonl")):
        with path.open() as fh:
            per_file.append([json.loads(line) for line in fh if line.strip()])
    # round-robin over the sources so every size mixes them
    return [c for c in chain.from_iterable(zip_longest(*per_file)) if c is not None]


def bench_diff(hunks: int, cases_dir: Path = DEFAULT_CASES, offset: int = 0) -> str:
    """A diff with exactly `hunks` reviewable hunks (as the reviewer splits them), from
    the cases after the first `offset` ones (a different diff of the same size)."""
    config = Config()
    parts: list[str] = []
    count = 0
    for i, case in enumerate(_cases(cases_dir)[offset:], start=offset):
        part = _prefixed(case["diff"], f"case{i}")
        try:
            n = len(parse_diff(DiffInput(part, None, lambda _p: None), config).hunks)
        except ReviewerError:  # a case the reviewer rejects is simply not used
            n = 0
        if n == 0 or count + n > hunks:
            continue
        parts.append(part if part.endswith("\n") else part + "\n")
        count += n
        if count == hunks:
            return "".join(parts)
    raise ValueError(f"not enough cases for {hunks} hunks (got {count})")
