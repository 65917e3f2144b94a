"""How good are the generated tests? QuixBugs pairs, the real model, the real sandbox.

Each QuixBugs program comes as a pair of diffs: one introduces a one-line bug into the
correct program, the other fixes it. Both are full-file diffs, so the old and the new
file are known exactly and `reviewer tests` can run its suggestions on both.

- **fix** (tests are written for the correct code, the usual case): a test should pass on
  the new (correct) code; one that also fails on the old (buggy) code would have caught
  the bug. A "regression" finding here is a false alarm.
- **introduce** (tests are written for the buggy code, what a reviewer sees when a bug
  is being committed): a test that passes on the old (correct) code and fails on the new
  one reveals the bug and becomes a finding.

Usage (2 CPU cores: ~1-3 minutes per program and direction with the 1.5B model):

    python bench/testgen.py --limit 8 --out docs/testgen.md

BugsInPy is not measured: its cases are diffs of single files from 17 projects, and running
a test needs each project at that commit with its dependencies, which are not here (every
suggestion would fail to import). The model's answers are cached under --cache-dir, so a
re-run with the same prompt only re-runs the sandbox.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from reviewer.backends import make_backend
from reviewer.cache import open_result_cache
from reviewer.config import Config
from reviewer.diff import DiffInput, parse_diff
from reviewer.prompting import load_template
from reviewer.testgen import Options, TestgenSession
from reviewer.testgen.sandbox import Limits, TreeSpec

CASES = ROOT.parent / "shared" / "eval" / "cases" / "quixbugs.jsonl"
BAD = ("failed", "timeout")


def load_pairs(path: Path) -> dict[str, dict[str, dict]]:
    pairs: dict[str, dict[str, dict]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            case = json.loads(line)
            program, direction = case["id"].split("/")[1:3]
            program = program.removesuffix(".py")
            pairs.setdefault(program, {})[direction] = case
    return {p: d for p, d in pairs.items() if {"introduce", "fix"} <= d.keys()}


def run_case(case: dict, direction: str, backend, config: Config, cache, limits: Limits) -> dict:
    parsed = parse_diff(DiffInput(case["diff"], None, lambda p: None), config)
    started = time.perf_counter()
    with TestgenSession(TreeSpec("files"), Options(limits=limits)) as session:
        result = session.run(parsed, backend, config, cache)
    seconds = time.perf_counter() - started
    tests = []
    for s in result.suggestions:
        correct, buggy = (s.status, s.old_status) if direction == "fix" else (s.old_status, s.status)
        tests.append({"name": s.name, "new": s.status, "old": s.old_status, "correct": correct, "buggy": buggy,
                      "message": s.message[:200], "code": s.unit})
    dropped_tests = sum(d.tests for d in result.dropped)
    return {"id": case["id"], "direction": direction, "functions": result.stats.functions, "tests": tests,
            "dropped_tests": dropped_tests, "repairs": result.stats.repairs, "findings": len(result.findings),
            "seconds": seconds, "cached": result.stats.cached, "model_calls": result.stats.model_calls,
            "completion_tokens": result.stats.completion_tokens}


def summarize(rows: list[dict], direction: str) -> dict:
    rows = [r for r in rows if r["direction"] == direction]
    tests = [t for r in rows for t in r["tests"]]
    generated = len(tests) + sum(r["dropped_tests"] for r in rows)
    collected = [t for t in tests if t["new"] != "error"]
    on_correct = [t for t in tests if t["correct"] == "passed"]
    revealing = [t for t in on_correct if t["buggy"] in BAD]
    fresh = [r["seconds"] for r in rows if not r["cached"]]  # answered by the model, not the cache
    return {
        "direction": direction, "cases": len(rows), "generated": generated, "collected": len(collected),
        "pass_correct": len(on_correct), "revealing": len(revealing),
        "cases_revealed": sum(any(t["correct"] == "passed" and t["buggy"] in BAD for t in r["tests"]) for r in rows),
        "cases_finding": sum(r["findings"] > 0 for r in rows), "repairs": sum(r["repairs"] for r in rows),
        "median_s": statistics.median(fresh) if fresh else None, "uncached": len(fresh),
    }


def pct(n: int, d: int) -> str:
    return f"{n}/{d} ({100 * n / d:.0f}%)" if d else "0/0"


def table(rows: list[dict]) -> str:
    head = ("| tests written for | programs | tests generated | collect | pass on correct code | "
            "fail on buggy code (of those) | programs with a bug-revealing test | programs with a regression finding | "
            "repairs | median s / program (uncached) |\n|---|---|---|---|---|---|---|---|---|---|\n")
    out = []
    for direction, label in (("fix", "correct code (fix diff)"), ("introduce", "buggy code (introduce diff)")):
        s = summarize(rows, direction)
        if not s["cases"]:
            continue
        finding = pct(s["cases_finding"], s["cases"]) + (" (false alarms)" if direction == "fix" else "")
        seconds = f"{s['median_s']:.0f} ({s['uncached']} of {s['cases']})" if s["median_s"] is not None else "all cached"
        out.append(f"| {label} | {s['cases']} | {s['generated']} | {pct(s['collected'], s['generated'])} | "
                   f"{pct(s['pass_correct'], s['generated'])} | {pct(s['revealing'], s['pass_correct'])} | "
                   f"{pct(s['cases_revealed'], s['cases'])} | {finding} | {s['repairs']} | {seconds} |")
    return head + "\n".join(out) + "\n"


def details(rows: list[dict]) -> str:
    lines = ["| case | tests: status on new / old code | regression findings | s |", "|---|---|---|---|"]
    for r in rows:
        states = ", ".join(f"{t['new']}/{t['old'] or '-'}" for t in r["tests"]) or "none"
        if r["dropped_tests"]:
            states += f"; {r['dropped_tests']} dropped"
        lines.append(f"| {r['id']} | {states} | {r['findings']} | {r['seconds']:.0f} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=Path, default=CASES)
    ap.add_argument("--limit", type=int, default=8, help="QuixBugs programs (each is two diffs)")
    ap.add_argument("--programs", help="comma list of program names instead of the first --limit")
    ap.add_argument("--directions", default="fix,introduce")
    ap.add_argument("--model", default="qwen2.5-coder-1.5b")
    ap.add_argument("--backend", default="llama")
    ap.add_argument("--threads", type=int)
    ap.add_argument("--cache-dir", type=Path, help="result cache (default: a temp dir; models from ~/.cache/reviewer)")
    ap.add_argument("--timeout", type=float, default=5.0, help="seconds per test")
    ap.add_argument("--out", type=Path, help="write the tables (markdown) here")
    ap.add_argument("--jsonl", type=Path, help="append per-case results here")
    args = ap.parse_args()

    pairs = load_pairs(args.cases)
    names = args.programs.split(",") if args.programs else sorted(pairs)[: args.limit]
    cache_dir = args.cache_dir or Path(tempfile.mkdtemp(prefix="reviewer-bench-"))
    cache_dir.mkdir(parents=True, exist_ok=True)
    models = Path.home() / ".cache" / "reviewer" / "models"
    if not (cache_dir / "models").exists() and models.is_dir():
        (cache_dir / "models").symlink_to(models, target_is_directory=True)
    config = Config(model=args.model, backend=args.backend, cache_dir=cache_dir, threads=args.threads)
    backend = make_backend(config)
    cache = open_result_cache(cache_dir)
    limits = Limits(test_timeout=args.timeout, run_timeout=120.0)
    rows: list[dict] = []
    try:
        for name in names:
            for direction in args.directions.split(","):
                row = run_case(pairs[name][direction], direction, backend, config, cache, limits)
                rows.append(row)
                states = ", ".join(f"{t['new']}/{t['old'] or '-'}" for t in row["tests"])
                print(f"{row['id']}: {states or 'no tests'} (dropped {row['dropped_tests']}, "
                      f"findings {row['findings']}, {row['seconds']:.0f}s)", file=sys.stderr, flush=True)
                if args.jsonl:
                    with args.jsonl.open("a", encoding="utf-8") as fh:
                        fh.write(json.dumps(row) + "\n")
    finally:
        backend.close()
        if cache:
            cache.close()
    text = table(rows)
    print(text)
    if args.out:
        template = load_template("tests")
        args.out.write_text(
            f"# Generated tests on QuixBugs ({backend.info.name}, prompt {template.cache_tag})\n\n"
            f"`python bench/testgen.py {' '.join(sys.argv[1:])}` on {time.strftime('%Y-%m-%d')}; "
            f"programs: {', '.join(names)}.\n\n{text}\n## Per case\n\n{details(rows)}",
            encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
