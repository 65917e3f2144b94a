"""What one generation step costs with k answers in flight: the ceiling of batched generation.

    .venv/bin/python bench/batch_steps.py --model qwen2.5-coder-1.5b --slots 4 --context 700

Loads the model as `--batch SLOTS` does (one unified KV cache, reviewer/backends/batched.py),
fills each of SLOTS sequences with CONTEXT tokens (a review prompt plus its answer is
~600-1,000), then times steps that decode one token in each of k sequences, k = 1..SLOTS,
median of --repeat; and the same with only one sequence in the cache (what the sequential
path pays). With --flash-attn the context uses llama.cpp's flash attention, which skips
the cells of other sequences instead of multiplying them by zero.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="qwen2.5-coder-1.5b")
    p.add_argument("--slots", type=int, default=4)
    p.add_argument("--context", type=int, default=700)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--flash-attn", action="store_true")
    args = p.parse_args(argv)

    import llama_cpp

    from reviewer.backends.amx import safe_loading
    from reviewer.backends.batched import LlamaEngine, context_for_sequences
    from reviewer.models import resolve_model

    path = resolve_model(args.model, None).path
    with safe_loading(llama_cpp), context_for_sequences(llama_cpp, args.slots, 4096, None) as chosen:
        llm = llama_cpp.Llama(model_path=str(path), n_ctx=4096, n_threads=args.threads, n_threads_batch=args.threads,
                              use_mmap=True, verbose=False, flash_attn=args.flash_attn)
    engine = LlamaEngine(llm, chosen[0])
    vocab = llm.n_vocab()
    filler = [(t * 7919) % (vocab - 200) + 100 for t in range(args.context)]

    def fill(seqs: range) -> None:
        for seq in seqs:
            for start in range(0, args.context, engine.n_batch):
                chunk = filler[start:start + engine.n_batch]
                engine.decode([(tok, start + i, seq, False) for i, tok in enumerate(chunk)])

    def step_ms(k: int) -> float:
        times = []
        for r in range(args.repeat):
            entries = [(100 + r, args.context + r, seq, True) for seq in range(1, k + 1)]
            start = time.perf_counter()
            engine.decode(entries)
            times.append((time.perf_counter() - start) * 1000)
        for seq in range(1, k + 1):  # back to CONTEXT tokens for the next k
            llama_cpp.llama_memory_seq_rm(llama_cpp.llama_get_memory(llm._ctx.ctx), seq, args.context, -1)
        return statistics.median(times)

    fill(range(1, 2))
    alone = step_ms(1)
    print(f"| {args.model} | fa={args.flash_attn} | 1 sequence in the cache | 1 | {alone:.0f} | {alone:.0f} |", flush=True)
    fill(range(2, args.slots + 1))
    for k in range(1, args.slots + 1):
        ms = step_ms(k)
        print(f"| {args.model} | fa={args.flash_attn} | {args.slots} sequences in the cache | {k} | {ms:.0f} | "
              f"{ms / k:.0f} |", flush=True)
    engine.close()
    llm.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
