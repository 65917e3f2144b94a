"""The naive design, scored like `reviewer eval`: one call per file with the raw diff and a bare schema.

What a first attempt at an LLM reviewer looks like, and the baseline the pipeline is
measured against in docs/quality.md: no old-vs-new framing, no context, no reasoning
field, no analyzers, no skipping of behaviour-preserving changes. Same model, same
constrained decoding (the reviewer's llama backend), same cases and scoring.

    python bench/naive_eval.py ../shared/eval/cases/{quixbugs,bugsinpy,securityeval,owasp}.jsonl \\
        --limit 12 --model qwen2.5-coder-1.5b --out naive-1.5b.jsonl
    python3 ../shared/eval/score.py ../shared/eval/cases/*.jsonl --results naive-1.5b.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from unidiff import PatchSet

from reviewer.backends import make_backend
from reviewer.config import Config
from reviewer.evaluation.runner import format_table, load_cases, read_results, score

SYSTEM = "You are an expert code reviewer."
USER = ("Review this diff of `{path}`. List every bug, security vulnerability, performance problem and style "
        "problem in the changed lines, with the new-file line number and a short explanation.\n\n```diff\n{diff}\n```")
SCHEMA = {
    "type": "object",
    "properties": {"findings": {"type": "array", "items": {
        "type": "object",
        "properties": {
            "line": {"type": "integer"},
            "category": {"enum": ["bug", "security", "performance", "style"]},
            "severity": {"enum": ["low", "medium", "high"]},
            "title": {"type": "string"},
            "message": {"type": "string"},
        },
        "required": ["line", "category", "severity", "title", "message"],
    }}},
    "required": ["findings"],
}


def review(case: dict, backend, max_tokens: int) -> dict:
    started = time.perf_counter()
    findings = []
    for patched in PatchSet(case["diff"]):
        if patched.is_binary_file:
            continue
        messages = [{"role": "system", "content": SYSTEM},
                    {"role": "user", "content": USER.format(path=patched.path, diff=str(patched))}]
        text = backend.complete(messages, SCHEMA, max_tokens).text
        try:
            items = json.loads(text).get("findings", [])
        except (ValueError, AttributeError):
            items = []
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("line"), int):
                findings.append({"path": patched.path, "line": item["line"], "end_line": item["line"],
                                 "category": item.get("category"), "severity": item.get("severity"),
                                 "title": item.get("title", ""), "message": item.get("message", ""), "source": "model"})
    return {"id": case["id"], "findings": findings, "seconds": round(time.perf_counter() - started, 3)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cases", nargs="+", type=Path)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--limit", type=int)
    ap.add_argument("--model", default="qwen2.5-coder-1.5b")
    ap.add_argument("--threads", type=int)
    args = ap.parse_args(argv)
    cases = [c for path in args.cases for c in load_cases([path])[: args.limit]]
    done = read_results(args.out)  # resumes as `reviewer eval` does (a half-written last line is redone)
    config = Config(model=args.model, threads=args.threads, cache=False)
    backend = make_backend(config)
    try:
        with args.out.open("a", encoding="utf-8") as fh:
            for i, case in enumerate(c for c in cases if c["id"] not in done):
                result = review(case, backend, config.max_tokens)
                fh.write(json.dumps(result) + "\n")
                fh.flush()
                print(f"[{i + 1}] {case['id']}: {len(result['findings'])} finding(s), {result['seconds']:.1f}s", file=sys.stderr)
    finally:
        backend.close()
    print(format_table(score({c["id"]: c for c in cases}, list(read_results(args.out).values()))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
