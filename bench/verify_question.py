"""Experiment (not in the pipeline): after the review answer, ask "which version is correct?".

For each eval case, the reviewer's own review runs as `reviewer eval` does; after each
hunk's answer the same conversation gets one more user turn (KV cache reused, so it
costs ~50 prompt tokens) asking whether the OLD or the NEW code is correct, in two
phrasings (old-first and new-first, against position bias). The score is
P(old) + P(old') read from the logits of the first answer token; a bug-introducing
change should score higher than its fix. Prints one JSON line per case and, at the end,
the ROC AUC of this score and of the answer's own `confidence` over the bug cases.

    python bench/verify_question.py --out verify.jsonl --limit 12 \\
        ../shared/eval/cases/quixbugs.jsonl ../shared/eval/cases/bugsinpy.jsonl

Measured (1.5B, first 12 QuixBugs + 12 BugsInPy cases): see docs/quality.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from reviewer.backends import make_backend
from reviewer.config import Config
from reviewer.evaluation.runner import judge, load_cases, review_case

QUESTIONS = (
    ("Now judge the change as a whole. Which version of the code is correct: the OLD one (with the removed lines) "
    "or the NEW one (with the added lines)? Answer with one word: old or new."),
    ("Now judge the change as a whole. Which version of the code is correct: the NEW one (with the added lines) "
    "or the OLD one (with the removed lines)? Answer with one word: new or old."),
)


def auc(pos: list[float], neg: list[float]) -> float:
    return sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / (len(pos) * len(neg))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cases", nargs="+", type=Path)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--limit", type=int)
    ap.add_argument("--offset", type=int, default=0, help="skip the first N cases of each file")
    ap.add_argument("--model", default="qwen2.5-coder-1.5b")
    args = ap.parse_args(argv)
    import llama_cpp

    config = Config(model=args.model, threads=2, cache=False)
    backend = make_backend(config)
    scores: list[tuple[float | None, float]] = []
    answer = backend.complete

    def complete(messages, schema, max_tokens):  # the review's answer, then the two questions
        completion = answer(messages, schema, max_tokens)
        llm, gen = backend._llm, backend._greedy  # experiment: reaches into the llama backend
        words = {w: llm.tokenize(w.encode(), add_bos=False, special=False)[0] for w in ("old", "Old", "OLD", "new", "New", "NEW")}
        p_old = 0.0
        for question in QUESTIONS:
            gen.evaluate(gen.prompt_tokens([*messages, {"role": "assistant", "content": completion.text},
                                            {"role": "user", "content": question}]))
            logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1), shape=(llm.n_vocab(),))
            p = np.exp(logits.astype(np.float64) - float(logits.max()))
            old, new = (sum(p[words[w]] for w in ws) for ws in (("old", "Old", "OLD"), ("new", "New", "NEW")))
            p_old += float(old / (old + new))
        scores.append((completion.confidence, p_old))
        return completion

    backend.complete = complete
    rows = []
    with args.out.open("w", encoding="utf-8") as fh:
        for case in [c for path in args.cases for c in load_cases([path])[args.offset:][: args.limit]]:
            scores.clear()
            result = review_case(case, backend, config, None)
            row = {"id": case["id"], "label": case["label"], "detected_or_false_alarm": judge(case, result["findings"]),
                   "confidence": max((c for c, _ in scores if c is not None), default=None),
                   "old_is_correct": max((s for _, s in scores), default=None)}
            rows.append(row)
            fh.write(json.dumps(row) + "\n")
            fh.flush()
            print(json.dumps(row), file=sys.stderr)
    backend.close()
    for key in ("confidence", "old_is_correct"):
        pos = [r[key] for r in rows if r["label"] == "buggy" and r[key] is not None]
        neg = [r[key] for r in rows if r["label"] == "clean" and r[key] is not None]
        if pos and neg:
            print(f"{key}: ROC AUC {auc(pos, neg):.3f} ({len(pos)} buggy, {len(neg)} clean)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
