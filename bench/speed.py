"""Speed benchmark: the reviewer pipeline against what llama-cpp-python itself can do.

    .venv/bin/python bench/speed.py                       # both models, 1/10/50 hunks
    .venv/bin/python bench/speed.py --models qwen2.5-coder-0.5b --sizes 1,10

For every model and diff size it runs, each in a fresh process (so peak RSS and load
time belong to that mode alone), on the same diff:

  raw       llama-cpp-python's own API (`create_chat_completion`) called directly with
            exactly the prompts the pipeline sends (captured from the pipeline itself),
            same schema, same settings; timed from model load to the last answer, no
            process start.
  limit     the same prompts through reviewer's decoding loop alone
            (reviewer/backends/greedy.py: lazy grammar + KV prefix reuse), no pipeline:
            what the pipeline would cost with zero overhead of its own.
  pipeline  `reviewer review --diff FILE` as a user runs it, with an empty cache dir, in-process in
            the child: process start, imports, diff parsing, bandit, prompts, model.
  naive     the design we replaced: one free-form call per file with the file's whole
            diff, no schema, the same max_tokens per call.
  next      the pipeline in a new process on a *different* diff of the same size, with
            the cache dir the cold run left: no cached answers, but the KV state of the
            shared prompt prefix is on disk (what a git hook sees on the next commit).
  warm      `reviewer review` again on the same diff with the result cache filled
            (a separate process; process start included).
  batchN    the pipeline with N hunks decoded together (`--batch N`,
            reviewer/backends/batched.py), from an empty cache dir of its own; `pipeline`
            is `--batch 1`, the sequential path. Its findings are compared with the
            pipeline row's (same diff, same model, same run).

Prompt tokens "evaluated" count what llama.cpp actually decoded: tokens reused from
the KV cache (the shared prompt prefix) are not evaluated again. The table is printed
and, with --json, written as JSON. Run it on an otherwise idle machine: llama.cpp's
threads slow down badly when another process takes a CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root: `bench` and `reviewer`

from bench.speed_batch import compare, fresh_cache, time_decodes

NAIVE_SYSTEM = "You are an expert code reviewer."
NAIVE_USER = (
    "Review this diff of `{path}`. List every bug, security vulnerability, performance problem and style "
    "problem in the changed lines, with the line and a short explanation.\n\n```diff\n{diff}\n```"
)


# --------------------------------------------------------------------------- child side


class TokenMeter:
    """Counts what llama.cpp decodes, by wrapping Llama.eval / create_chat_completion.

    The first eval of each create_chat_completion is the part of the prompt not found
    in the KV cache; the later ones are generated tokens, one at a time. reviewer's own
    decoding loop counts what it decodes itself (`record`).
    """

    def __init__(self) -> None:
        self.calls = 0
        self.evaluated_prompt = 0
        self.per_call_evaluated: list[int] = []
        self.load_seconds = 0.0
        self._first_eval_pending = False

    def record(self, evaluated: int) -> None:
        """Count prompt tokens decoded by code that does not go through create_chat_completion."""
        self.evaluated_prompt += evaluated
        if evaluated:
            self.per_call_evaluated.append(evaluated)

    def install(self) -> None:
        import llama_cpp

        meter = self
        original_eval = llama_cpp.Llama.eval
        original_chat = llama_cpp.Llama.create_chat_completion
        original_init = llama_cpp.Llama.__init__

        def eval_(llm: Any, tokens: Any) -> Any:
            if meter._first_eval_pending:
                meter._first_eval_pending = False
                meter.evaluated_prompt += len(tokens)
                meter.per_call_evaluated.append(len(tokens))
            return original_eval(llm, tokens)

        def chat(llm: Any, *args: Any, **kwargs: Any) -> Any:
            meter.calls += 1
            meter._first_eval_pending = True
            return original_chat(llm, *args, **kwargs)

        def init(llm: Any, *args: Any, **kwargs: Any) -> None:
            start = time.perf_counter()
            original_init(llm, *args, **kwargs)
            meter.load_seconds += time.perf_counter() - start

        llama_cpp.Llama.eval = eval_  # type: ignore[method-assign]
        llama_cpp.Llama.create_chat_completion = chat  # type: ignore[method-assign]
        llama_cpp.Llama.__init__ = init  # type: ignore[method-assign]


def _config(args: argparse.Namespace) -> Any:
    from reviewer.config import Config

    return Config(model=args.model, threads=args.threads, cache_dir=Path(args.cache_dir) if args.cache_dir else None)


def pipeline_prompts(diff_path: Path, config: Any) -> list[list[dict[str, str]]]:
    """The exact messages the pipeline sends for this diff, captured from the pipeline."""
    from reviewer.analyzers import analyze
    from reviewer.backends import Completion
    from reviewer.diff import DiffSource
    from reviewer.pipeline import run_review
    from reviewer.session import parse_source
    from reviewer.types import ModelInfo

    class Recorder:
        info = ModelInfo(name="recorder", sha256="0" * 64)

        def __init__(self) -> None:
            self.sent: list[list[dict[str, str]]] = []

        def complete(self, messages: list[dict[str, str]], schema: Any, max_tokens: int) -> Completion:
            self.sent.append(messages)
            return Completion('{"analysis": "", "findings": []}')

        def close(self) -> None: ...

    parsed = parse_source(DiffSource("file", str(diff_path)), Path.cwd(), config)
    recorder = Recorder()
    run_review(parsed, recorder, config, None, hints=analyze(parsed) if config.analyzers else ())
    return recorder.sent



def bench_diff_prompts(hunks: int, config: Any) -> list[list[dict[str, str]]]:
    """The pipeline's prompts for the `hunks`-hunk bench diff (bench/diffs.py)."""
    from bench.diffs import bench_diff

    with tempfile.TemporaryDirectory() as tmp:
        diff = Path(tmp) / "bench.diff"
        diff.write_text(bench_diff(hunks))
        return pipeline_prompts(diff, config)

def _llama(config: Any) -> Any:
    import llama_cpp

    from reviewer.backends.amx import safe_loading
    from reviewer.backends.llama_cpp import default_threads, gpu_layers
    from reviewer.models import resolve_model

    path = resolve_model(config.model, config.cache_dir).path
    with safe_loading(llama_cpp):  # as the backend loads it: AMX builds crash otherwise
        return llama_cpp.Llama(model_path=str(path), n_ctx=config.ctx, n_threads=config.threads or default_threads(),
                               n_threads_batch=config.threads or default_threads(),
                               n_gpu_layers=gpu_layers(llama_cpp, config.n_gpu_layers), use_mmap=True, verbose=False)


def child_raw(args: argparse.Namespace, meter: TokenMeter) -> dict[str, Any]:
    from reviewer.prompting import review_schema

    config = _config(args)
    prompts = pipeline_prompts(Path(args.diff), config)
    start = time.perf_counter()
    llm = _llama(config)
    prompt_tokens = completion_tokens = 0
    for messages in prompts:
        out = llm.create_chat_completion(messages=messages, temperature=0.0, max_tokens=config.max_tokens,
                                         response_format={"type": "json_object", "schema": review_schema()})
        prompt_tokens += out["usage"]["prompt_tokens"]
        completion_tokens += out["usage"]["completion_tokens"]
    return {"seconds": time.perf_counter() - start, "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens, "requests": len(prompts)}


def child_limit(args: argparse.Namespace, meter: TokenMeter) -> dict[str, Any]:
    from reviewer.backends.greedy import GreedyGenerator
    from reviewer.prompting import review_schema

    config = _config(args)
    prompts = pipeline_prompts(Path(args.diff), config)
    start = time.perf_counter()
    generator = GreedyGenerator(_llama(config))
    prompt_tokens = completion_tokens = 0
    for messages in prompts:
        gen = generator.generate(generator.prompt_tokens(messages), review_schema(), config.max_tokens)
        prompt_tokens += gen.prompt_tokens
        completion_tokens += gen.completion_tokens
        meter.record(gen.evaluated_prompt_tokens)
    return {"seconds": time.perf_counter() - start, "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens, "requests": len(prompts)}


def child_pipeline(args: argparse.Namespace, meter: TokenMeter) -> dict[str, Any]:
    from reviewer.backends.llama_cpp import LlamaCppBackend
    from reviewer.cli import main

    profile: dict[str, float] = {}
    time_decodes(profile)

    complete = LlamaCppBackend.complete

    def complete_and_count(backend: LlamaCppBackend, *a: Any, **kw: Any) -> Any:  # the backend counts what it decoded
        before = backend.evaluated_prompt_tokens
        try:
            return complete(backend, *a, **kw)
        finally:
            meter.record(backend.evaluated_prompt_tokens - before)

    LlamaCppBackend.complete = complete_and_count  # type: ignore[method-assign]
    complete_batch = LlamaCppBackend.complete_batch

    def batch_and_count(backend: LlamaCppBackend, *a: Any, **kw: Any) -> Any:  # one after another: counted above
        before = backend.evaluated_prompt_tokens
        try:
            yield from complete_batch(backend, *a, **kw)
        finally:
            if backend._engine is not None:
                meter.record(backend.evaluated_prompt_tokens - before)

    LlamaCppBackend.complete_batch = batch_and_count  # type: ignore[method-assign]

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "review.json"
        argv = ["review", "--diff", args.diff, "--model", args.model, "--format", "json", "-o", str(out),
                "-q", "--fail-on", "never"]
        argv += ["--threads", str(args.threads)] if args.threads else []
        argv += ["--cache-dir", args.cache_dir] if args.cache_dir else []
        argv += ["--batch", str(args.batch)]
        code = main(argv)
        if code not in (0, 1):
            raise SystemExit(f"reviewer review exited {code}")
        report = json.loads(out.read_text())
        stats = report["stats"]
    findings = sorted([f["path"], f["line"], f["category"], f["severity"], f["title"]] for f in report["findings"])
    return {"prompt_tokens": stats["prompt_tokens"], "completion_tokens": stats["completion_tokens"],
            "requests": stats["hunks"] - stats["cached"], "cached": stats["cached"], "findings": findings,
            "profile": profile}


def child_naive(args: argparse.Namespace, meter: TokenMeter) -> dict[str, Any]:
    from unidiff import PatchSet

    config = _config(args)
    files = [f for f in PatchSet(Path(args.diff).read_text()) if not f.is_binary_file]
    start = time.perf_counter()
    llm = _llama(config)
    prompt_tokens = completion_tokens = 0
    for patched in files:
        messages = [{"role": "system", "content": NAIVE_SYSTEM},
                    {"role": "user", "content": NAIVE_USER.format(path=patched.path, diff=str(patched))}]
        out = llm.create_chat_completion(messages=messages, temperature=0.0, max_tokens=config.max_tokens)
        prompt_tokens += out["usage"]["prompt_tokens"]
        completion_tokens += out["usage"]["completion_tokens"]
    return {"seconds": time.perf_counter() - start, "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens, "requests": len(files)}


CHILDREN = {"raw": child_raw, "limit": child_limit, "pipeline": child_pipeline, "next": child_pipeline,
            "warm": child_pipeline, "naive": child_naive}


def run_child(args: argparse.Namespace) -> None:
    meter = TokenMeter()
    if args.child != "warm":
        meter.install()
    result = CHILDREN[_kind(args.child)](args, meter)
    result.update(load_seconds=meter.load_seconds, evaluated_prompt_tokens=meter.evaluated_prompt,
                  evaluated_per_call=meter.per_call_evaluated)
    Path(args.result).write_text(json.dumps(result))


# --------------------------------------------------------------------------- parent side


def _kind(mode: str) -> str:
    """The child that runs `mode` (batchN modes are the pipeline with --batch N)."""
    return "pipeline" if mode.startswith("batch") else mode


def _batch(mode: str) -> int:
    return int(mode[len("batch"):]) if mode.startswith("batch") else 1


def measure(mode: str, model: str, diff: Path, args: argparse.Namespace, cache_dir: str) -> dict[str, Any]:
    """Run one mode in a fresh process; wall time and peak RSS come from the parent."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        result_path = Path(fh.name)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", mode, "--model", model, "--diff", str(diff),
           "--result", str(result_path), "--cache-dir", cache_dir, "--batch", str(_batch(mode))]
    cmd += ["--threads", str(args.threads)] if args.threads else []
    start = time.perf_counter()
    proc = subprocess.Popen(cmd)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{mode} on {model} failed (exit {os.waitstatus_to_exitcode(status)})")
    result = json.loads(result_path.read_text())
    result_path.unlink()
    result.update(mode=mode, model=model, wall=wall, peak_rss_mb=usage.ru_maxrss / 1024)
    result.setdefault("seconds", wall)
    return result


def row(r: dict[str, Any], hunks: int) -> str:
    gen_tps = r["completion_tokens"] / r["wall"] if r["wall"] else 0.0
    calls = r["evaluated_per_call"]
    first = f"{calls[0]}" if calls else "-"
    rest = f"{sum(calls[1:]) / len(calls[1:]):.0f}" if len(calls) > 1 else "-"
    return (f"| {r['model']} | {hunks} | {r['mode']} | {r['wall']:.2f} | {r['load_seconds']:.2f} | "
            f"{r['requests']} | {r['prompt_tokens']} | {r['evaluated_prompt_tokens']} | {first} | {rest} | "
            f"{r['completion_tokens']} | {gen_tps:.1f} | {r['peak_rss_mb']:.0f} |")


HEADER = ("| model | hunks | mode | wall s | load s | requests | prompt tok | evaluated prompt tok | evaluated, 1st req | "
          "evaluated, later req (mean) | generated tok | generated tok/s (wall) | peak RSS MB |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="qwen2.5-coder-0.5b,qwen2.5-coder-1.5b")
    p.add_argument("--sizes", default="1,10,50", help="hunks per diff, comma separated")
    p.add_argument("--modes", default="raw,limit,pipeline,next,warm,naive")
    p.add_argument("--naive-max-size", type=int, default=10,
                   help="skip the naive mode above this many hunks (it is the slowest; default 10)")
    p.add_argument("--threads", type=int, help="llama.cpp threads (default: the reviewer's own choice)")
    p.add_argument("--json", metavar="FILE", help="also write every measurement as JSON")
    # child-process arguments
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--batch", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--model", help=argparse.SUPPRESS)
    p.add_argument("--diff", help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    p.add_argument("--cache-dir", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        run_child(args)
        return 0

    from bench.diffs import bench_diff
    from reviewer.cache import cache_root

    results: list[dict[str, Any]] = []
    print(HEADER, flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            diff = Path(tmp) / f"bench-{size}.diff"
            diff.write_text(bench_diff(size))
            other = Path(tmp) / f"bench-{size}-next.diff"
            other.write_text(bench_diff(size, offset=200))
            for model in args.models.split(","):
                result_cache = str(Path(tmp) / f"cache-{model}-{size}")  # empty: the first pipeline run is cold
                os.makedirs(result_cache)
                for name in ("models",):  # share the installed models, not the result cache
                    os.symlink(cache_root(None) / name, Path(result_cache) / name)
                for mode in args.modes.split(","):
                    if mode == "naive" and size > args.naive_max_size:
                        continue
                    if mode in ("next", "warm") and "pipeline" not in args.modes.split(","):
                        raise SystemExit(f"mode {mode} needs the pipeline mode before it (it reuses its cache dir)")
                    cache_dir = result_cache if not mode.startswith("batch") else fresh_cache(result_cache, mode)
                    r = measure(mode, model, other if mode == "next" else diff, args, cache_dir)
                    r["hunks"] = size
                    results.append(r)
                    print(row(r, size), flush=True)
                    compare(r, results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
