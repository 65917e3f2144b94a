"""Would prompt-lookup decoding speed up the review's generation on this machine?

Prompt-lookup decoding drafts the next tokens by finding the answer's last `n` tokens
earlier in the prompt or the answer and copying what followed; the model checks a draft
of `k` tokens in one batch and keeps the prefix it agrees with (greedy: the same answer).
It pays when a batch of 1 + k tokens costs little more than one token (memory-bound
hardware: GPUs) and drafts are often right.

This script measures both halves instead of building it: it captures the pipeline's
prompts for a bench diff (bench/diffs.py), generates the real greedy answers with
reviewer's own decoding loop, times one decode of a batch of 1, 2, 4, 8 and 16 tokens
at the end of a prompt, then replays every (n, k) on the real answers and prints the
generation time it would take relative to one token at a time.

    python bench/lookup_decoding.py [--model qwen2.5-coder-1.5b] [--hunks 10]

Results on the 2-core CPU box are in docs/speed.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BATCHES = (1, 2, 4, 8, 16)


def draft(history: Sequence[int], n: int, k: int) -> list[int]:
    """Up to `k` tokens that followed the latest earlier occurrence of the last `n` tokens."""
    if len(history) <= n:
        return []
    key = list(history[-n:])
    for start in range(len(history) - n - 1, -1, -1):
        if list(history[start:start + n]) == key:
            return list(history[start + n:start + n + k])
    return []


def batch_cost(costs: dict[int, float], size: int) -> float:
    """Seconds for one decode of `size` tokens, interpolated between the measured sizes."""
    sizes = sorted(costs)
    if size in costs:
        return costs[size]
    above = next((s for s in sizes if s > size), sizes[-1])
    below = max(s for s in sizes if s < size)
    if above == below:
        return costs[below] * size / below
    return costs[below] + (costs[above] - costs[below]) * (size - below) / (above - below)


def replay(pairs: Sequence[tuple[Sequence[int], Sequence[int]]], costs: dict[int, float], n: int,
           k: int) -> tuple[float, int]:
    """(seconds of decoding with lookup drafts, tokens accepted from drafts) for these
    (prompt, answer) pairs; each step decodes the token just picked plus its draft."""
    seconds, accepted = 0.0, 0
    for prompt, answer in pairs:
        pos = 0
        while pos < len(answer):
            guess = draft([*prompt, *answer[:pos + 1]], n, k)
            good = 0
            for i, token in enumerate(guess):
                if pos + 1 + i >= len(answer) or answer[pos + 1 + i] != token:
                    break
                good += 1
            seconds += batch_cost(costs, 1 + len(guess))
            accepted += good
            pos += 1 + good
    return seconds, accepted


def measure(model: str, hunks: int) -> tuple[list[tuple[list[int], list[int]]], dict[int, float]]:
    """The pipeline's prompts and greedy answers as tokens, and the decode time per batch size."""
    from bench.speed import _llama, bench_diff_prompts
    from reviewer.backends.greedy import GreedyGenerator
    from reviewer.config import Config
    from reviewer.prompting import review_schema

    config = Config(model=model)
    prompts = bench_diff_prompts(hunks, config)
    llm: Any = _llama(config)
    generator = GreedyGenerator(llm)
    pairs = []
    for i, messages in enumerate(prompts, 1):
        tokens = generator.prompt_tokens(messages)
        answer = generator.generate(tokens, review_schema(), config.max_tokens).text
        pairs.append((tokens, list(llm.tokenize(answer.encode("utf-8"), add_bos=False, special=False))))
        print(f"answered {i}/{len(prompts)}", file=sys.stderr, flush=True)
    tokens = pairs[-1][0]
    generator.evaluate(tokens)
    end = llm.n_tokens
    costs = {}
    for size in BATCHES:
        runs = []
        for _ in range(5):
            llm._ctx.kv_cache_seq_rm(-1, end, -1)
            started = time.perf_counter()
            llm._batch.set_batch(batch=tokens[:size], n_past=end, logits_all=True)  # logits for every drafted position
            llm._ctx.decode(llm._batch)
            runs.append(time.perf_counter() - started)
        costs[size] = statistics.median(runs)
    llm._ctx.kv_cache_seq_rm(-1, end, -1)
    return pairs, costs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="qwen2.5-coder-1.5b")
    ap.add_argument("--hunks", type=int, default=10)
    args = ap.parse_args(argv)
    pairs, costs = measure(args.model, args.hunks)
    total = sum(len(answer) for _, answer in pairs)
    print(f"{args.model}, {len(pairs)} prompts, {total} answer tokens")
    print("| batch | " + " | ".join(str(b) for b in BATCHES) + " |")
    print("|---|" + "---|" * len(BATCHES))
    print("| ms per decode | " + " | ".join(f"{1000 * costs[b]:.1f}" for b in BATCHES) + " |")
    print()
    plain = total * costs[1]
    print("| match n | draft k | accepted | decode s | one at a time s | speed-up |")
    print("|---|---|---|---|---|---|")
    for n in (1, 2, 3, 4):
        for k in (1, 2, 3, 4, 8):
            seconds, accepted = replay(pairs, costs, n, k)
            print(f"| {n} | {k} | {accepted}/{total} | {seconds:.1f} | {plain:.1f} | {plain / seconds:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
