"""Compare `reviewer eval` results of the same cases: which answers changed (findings by line, category, severity, title).

    python -m bench.instructions_compare BEFORE.jsonl AFTER.jsonl [AFTER2.jsonl ...]

Used for custom instructions (docs/ci.md#custom-instructions): prompt v3 without
instructions vs v4 with empty ones must be identical; one instruction may change answers.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def answers(path: Path) -> dict[str, list[tuple[object, ...]]]:
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        out[row["id"]] = sorted((f["path"], f["line"], f["category"], f["severity"], f["title"]) for f in row["findings"])
    return out


def main() -> None:
    before, *others = (Path(p) for p in sys.argv[1:])
    base = answers(before)
    for other in others:
        now = answers(other)
        same = [i for i in base if now.get(i) == base[i]]
        changed = [i for i in base if i in now and now[i] != base[i]]
        print(f"{before.name} -> {other.name}: {len(same)}/{len(base)} cases identical, {len(changed)} changed")
        for i in changed:
            print(f"  {i}: {base[i]} -> {now[i]}")


if __name__ == "__main__":
    main()
