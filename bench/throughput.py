"""How fast is this machine for the model? Prompt and generation tokens per second.

    .venv/bin/python bench/throughput.py                  # 1.5B, 1 and 2 threads, repacked weights on and off
    .venv/bin/python bench/throughput.py --model qwen2.5-coder-0.5b --threads 2

Review times differ between machines far more than their core counts suggest: a review is
mostly prompt evaluation (an OWASP handler's prompt is ~1,000 tokens, its answer ~150), and
prompt evaluation is compute-bound. Run this before comparing `reviewer eval` medians
measured on different machines. The prompt is a real one: the pipeline's prompt for the
largest hunk of the 10-hunk bench diff (bench/diffs.py), evaluated from an empty KV cache;
generation is one token at a time after it (greedy, no grammar), as the review loop decodes.

"repacked" is llama.cpp's extra weight buffers (weights rearranged at load time for the
CPU's SIMD kernels), what reviewer uses except on AMX builds (reviewer/backends/amx.py).
Each setting loads the model once and reports the median of --runs measurements.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

GENERATED = 48  # tokens decoded one at a time after the prompt


def parse_threads(value: str) -> list[int]:
    """'1,2' -> [1, 2]; each a positive thread count."""
    try:
        counts = [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--threads wants counts like 1,2, not {value!r}") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"--threads wants counts of 1 or more, not {value!r}")
    return counts


def format_row(model: str, threads: int, repacked: bool, prompt_tokens: int, prompt_s: float, gen_s: float) -> str:
    """One markdown table row: tokens per second of prompt evaluation and of generation."""
    return (f"| {model} | {threads} | {'yes' if repacked else 'no'} | {prompt_tokens} | "
            f"{prompt_tokens / prompt_s:.1f} | {GENERATED / gen_s:.1f} |")


def bench_prompt(model: str) -> list[dict[str, str]]:
    """The pipeline's longest prompt for the 10-hunk bench diff."""
    from bench.speed import bench_diff_prompts
    from reviewer.config import Config

    prompts = bench_diff_prompts(10, Config(model=model))
    return max(prompts, key=lambda messages: sum(len(m["content"]) for m in messages))


def measure(model: str, threads: int, repacked: bool, messages: list[dict[str, str]],
            runs: int) -> tuple[int, float, float]:
    """(prompt tokens, median prompt seconds, median seconds for GENERATED tokens)."""
    import llama_cpp

    from reviewer.backends.amx import without_extra_buffers
    from reviewer.backends.greedy import GreedyGenerator
    from reviewer.models import resolve_model

    path = resolve_model(model, None).path
    loading = contextlib.nullcontext() if repacked else without_extra_buffers(llama_cpp)
    with loading:
        llm: Any = llama_cpp.Llama(model_path=str(path), n_ctx=4096, n_threads=threads, n_threads_batch=threads,
                                   n_gpu_layers=0, verbose=False)
    tokens = GreedyGenerator(llm).prompt_tokens(messages)
    llm.eval(tokens[:32])  # warm-up: first-use allocations are not the machine's speed
    prompt_runs, gen_runs = [], []
    for _ in range(runs):
        llm.reset()
        started = time.perf_counter()
        llm.eval(tokens)
        prompt_runs.append(time.perf_counter() - started)
        started = time.perf_counter()
        for token in tokens[:GENERATED]:  # any tokens: the cost of a one-token decode does not depend on which
            llm.eval([token])
        gen_runs.append(time.perf_counter() - started)
    llm.close()
    return len(tokens), statistics.median(prompt_runs), statistics.median(gen_runs)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="qwen2.5-coder-1.5b")
    ap.add_argument("--threads", type=parse_threads, default=[1, 2], help="thread counts to try (default: 1,2)")
    ap.add_argument("--runs", type=int, default=3, help="measurements per setting; the median is reported")
    args = ap.parse_args(argv)
    messages = bench_prompt(args.model)
    print("| model | threads | repacked weights | prompt tok | prompt tok/s | generation tok/s |")
    print("|---|---|---|---|---|---|")
    for threads in args.threads:
        for repacked in (True, False):
            n, prompt_s, gen_s = measure(args.model, threads, repacked, messages, args.runs)
            print(format_row(args.model, threads, repacked, n, prompt_s, gen_s), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
