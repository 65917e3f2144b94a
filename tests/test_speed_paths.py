"""The speed work (issue "Speed"): lazy-grammar greedy decoding, prompt-prefix KV states on
disk, cached analyzer results, GPU-layer auto choice, a light CLI import.

Unit tests run without the model; the `model` tests check on the real GGUF that the
fast paths give the same answers as the slow ones.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from conftest import SAMPLE_DIFF, installed_model_path

from reviewer.analyzers import analyze
from reviewer.backends.llama_cpp import LlamaCppBackend, gpu_layers
from reviewer.backends.prefix_store import KEEP_STATES, PrefixStore
from reviewer.cache import open_result_cache
from reviewer.config import Config
from reviewer.diff import DiffSource
from reviewer.prompting import review_messages, review_schema
from reviewer.session import parse_source
from reviewer.types import Category

# -- without the model -------------------------------------------------------------


def test_gpu_layers_auto_follows_the_build() -> None:
    gpu = SimpleNamespace(llama_supports_gpu_offload=lambda: True)
    cpu = SimpleNamespace(llama_supports_gpu_offload=lambda: False)
    assert gpu_layers(gpu, None) == -1  # type: ignore[arg-type]
    assert gpu_layers(cpu, None) == 0  # type: ignore[arg-type]
    assert gpu_layers(gpu, 0) == 0 and gpu_layers(cpu, 12) == 12  # type: ignore[arg-type]  # configured wins
    assert gpu_layers(SimpleNamespace(), None) == 0  # type: ignore[arg-type]  # an old build without the call


def test_n_gpu_layers_setting_accepts_auto(tmp_path: Path) -> None:
    from reviewer.config import load_config

    assert load_config(tmp_path, {}, {}).n_gpu_layers is None
    assert load_config(tmp_path, {"REVIEWER_N_GPU_LAYERS": "auto"}, {}).n_gpu_layers is None
    assert load_config(tmp_path, {}, {"n_gpu_layers": "-1"}).n_gpu_layers == -1


def test_prefix_store_remembers_the_shared_beginning(tmp_path: Path) -> None:
    store = PrefixStore(tmp_path / "kv")
    assert store.remember([1, 2, 3, 4]) == 0  # nothing before it
    assert store.remember([1, 2, 3, 9, 9]) == 3
    assert store.remember([7]) == 0
    assert store.remember([7, 8]) == 1


def test_prefix_store_offers_the_longest_saved_prefix_that_matches(tmp_path: Path) -> None:
    store = PrefixStore(tmp_path)
    for tokens in ([1, 2], [1, 2, 3], [1, 2, 4, 5], [9, 9, 9, 9, 9]):
        name = f"s{len(tokens)}-{tokens[-1]}"
        (tmp_path / f"{name}.kv").write_bytes(b"state")
        np.asarray(tokens, dtype=np.int32).tofile(tmp_path / f"{name}.tokens")
    np.asarray([1, 2, 3, 4, 5, 6], dtype=np.int32).tofile(tmp_path / "orphan.tokens")  # no .kv: never offered
    best = store.best([1, 2, 3, 4, 5, 6, 7])
    assert best is not None and best.tokens == 3 and best.path.name == "s3-3.kv"
    assert store.best([1, 2, 4]) is not None and store.best([1, 2, 4]).tokens == 2  # a prefix must be shorter
    assert store.best([5, 5]) is None


def test_prefix_store_keeps_only_the_recent_states(tmp_path: Path) -> None:
    store = PrefixStore(tmp_path)
    for i in range(KEEP_STATES + 3):
        state = tmp_path / f"s{i}.kv"
        state.write_bytes(b"x")
        os.utime(state, (1000 + i, 1000 + i))
        np.asarray([i], dtype=np.int32).tofile(tmp_path / f"s{i}.tokens")
    store._prune()
    left = sorted(p.name for p in tmp_path.glob("*.kv"))
    assert left == sorted(f"s{i}.kv" for i in range(3, KEEP_STATES + 3))
    assert not (tmp_path / "s0.tokens").exists()


def test_analyzer_results_come_from_the_cache_on_a_rerun(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from reviewer import analyzers

    parsed = parse_source(DiffSource("file", str(SAMPLE_DIFF)), SAMPLE_DIFF.parent, Config())
    cache = open_result_cache(tmp_path)
    first = analyze(parsed, cache)
    assert any(f.source == "bandit" and f.line == 11 for f in first)

    def no_bandit(path: str, source: str) -> list[Any]:
        raise AssertionError("bandit ran although its result was cached")

    monkeypatch.setattr(analyzers, "bandit_findings", no_bandit)
    assert analyze(parsed, cache) == first
    with pytest.raises(AssertionError):  # and a different source is analyzed again
        analyze(parse_source(DiffSource("file", str(SAMPLE_DIFF)), SAMPLE_DIFF.parent, Config()), None)


def test_a_warm_review_imports_neither_bandit_nor_the_model(tmp_path: Path) -> None:
    """What keeps a fully cached re-run fast: nothing heavy is imported."""
    argv = ["review", "--diff", str(SAMPLE_DIFF), "--backend", "fake", "--format", "json", "-q", "--fail-on", "never",
            "--cache-dir", str(tmp_path)]
    # heavy libraries, and the front ends a review does not use (each command imports only what it needs)
    probe = ("import sys, json; from reviewer.cli import main; main(%r); main(%r); "
             "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
             "('bandit', 'llama_cpp', 'numpy', 'textual', 'detect_secrets', 'git', 'github', 'gitlab', 'httpx', "
             "'huggingface_hub', 'importlinter') or m.startswith(('reviewer.tui', 'reviewer.ci.', 'reviewer.testgen', "
             "'reviewer.evaluation', 'reviewer.hook', 'reviewer.backends.llama_cpp')))))")
    # the first run fills the cache (and imports bandit); only the second, in a new process, is checked
    subprocess.run([sys.executable, "-c", probe % (argv, argv)], check=True, capture_output=True)
    out = subprocess.run([sys.executable, "-c", probe % (argv, argv)], check=True, capture_output=True, text=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


# -- on the real model --------------------------------------------------------------


def _small_model() -> Path:
    pytest.importorskip("llama_cpp")
    path = installed_model_path("qwen2.5-coder-0.5b")
    if path is None:
        pytest.skip("qwen2.5-coder-0.5b is not installed")
    return path


def _messages(path: str) -> list[dict[str, str]]:
    parsed = parse_source(DiffSource("file", str(SAMPLE_DIFF)), SAMPLE_DIFF.parent, Config())
    from dataclasses import replace

    return review_messages(replace(parsed.hunks[0], path=path), tuple(Category))


@pytest.mark.model
def test_greedy_decoding_gives_create_chat_completion_s_answer(tmp_path: Path) -> None:
    _small_model()
    backend = LlamaCppBackend(Config(model="qwen2.5-coder-0.5b", cache=False, cache_dir=None))
    try:
        messages = _messages("app/users.py")
        fast = backend.complete(messages, review_schema(), 160)
        assert backend._greedy is not None, "the Qwen GGUF should take the fast path"
        # Evaluate the prompt from scratch again, in the same batches: reusing the KV cache
        # would decode the last prompt token alone, and a different batch shape can flip
        # a near-tie between two tokens (llama.cpp is deterministic per batch layout only).
        backend._llm.reset()
        backend._llm._ctx.kv_cache_clear()
        reference = backend._llm.create_chat_completion(
            messages=messages, temperature=0.0, max_tokens=160,
            response_format={"type": "json_object", "schema": review_schema()})
    finally:
        backend.close()
    assert fast.text == reference["choices"][0]["message"]["content"]
    assert fast.completion_tokens == reference["usage"]["completion_tokens"]
    assert fast.prompt_tokens == reference["usage"]["prompt_tokens"]


@pytest.mark.model
def test_a_new_process_reuses_the_saved_prompt_prefix(tmp_path: Path) -> None:
    _small_model()
    os.symlink(installed_model_path("qwen2.5-coder-0.5b").parent, tmp_path / "models")  # type: ignore[union-attr]
    config = Config(model="qwen2.5-coder-0.5b", cache_dir=tmp_path)

    first = LlamaCppBackend(config)  # like one `git commit`: two hunks
    try:
        first.complete(_messages("a.py"), review_schema(), 24)
        first.complete(_messages("b.py"), review_schema(), 24)
    finally:
        first.close()
    [saved] = [p for p in (tmp_path / "kv").glob("*/*.tokens") if p.name != "last-prompt.tokens"]
    prefix_tokens = saved.stat().st_size // 4  # int32 token ids
    assert prefix_tokens >= 64 and saved.with_suffix(".kv").is_file(), "the shared prefix was not saved"

    later = LlamaCppBackend(config)  # the next commit: a new process
    cold = LlamaCppBackend(config.replace(cache=False))  # no prefix store at all
    try:
        warm_answer = later.complete(_messages("c.py"), review_schema(), 24)
        cold_answer = cold.complete(_messages("c.py"), review_schema(), 24)
    finally:
        later.close()
        cold.close()
    assert warm_answer.text == cold_answer.text  # the restored state is the state
    assert cold.evaluated_prompt_tokens == cold_answer.prompt_tokens
    assert later.evaluated_prompt_tokens == cold.evaluated_prompt_tokens - prefix_tokens  # only its own tokens


# -- bench/lookup_decoding.py: the replay that decided against prompt-lookup decoding --

def test_lookup_drafts_copy_what_followed_the_latest_match() -> None:
    from bench import lookup_decoding as lookup
    assert lookup.draft([1, 2, 3, 9, 1, 2, 4, 5, 1, 2], n=2, k=3) == [4, 5, 1]  # the later match wins
    assert lookup.draft([1, 2, 3], n=2, k=3) == []  # no earlier occurrence
    assert lookup.batch_cost({1: 1.0, 4: 2.5}, 2) == 1.5  # interpolated between measured sizes


def test_lookup_replay_counts_accepted_drafts_and_batch_costs() -> None:
    from bench import lookup_decoding as lookup
    costs = {1: 1.0, 2: 1.5, 4: 2.0}
    # The answer copies the prompt: after its first token, each step drafts the rest.
    seconds, accepted = lookup.replay([([7, 8, 9, 10], [7, 8, 9, 10])], costs, n=1, k=3)
    assert (seconds, accepted) == (2.0, 3)  # one step: token 7 plus a draft of 3, all right
    # A draft the answer does not follow is paid for and not accepted.
    seconds, accepted = lookup.replay([([5, 6], [5, 1])], costs, n=1, k=1)
    assert (seconds, accepted) == (1.5 + 1.0, 0)


# -- bench/throughput.py: how fast a machine is for the model, to compare eval medians --

def test_throughput_thread_counts_are_parsed_and_checked() -> None:
    import argparse

    from bench import throughput
    assert throughput.parse_threads("1,2") == [1, 2]
    assert throughput.parse_threads("4") == [4]
    for bad in ("", "0", "two", "1,-2"):
        with pytest.raises(argparse.ArgumentTypeError):
            throughput.parse_threads(bad)


def test_throughput_row_is_tokens_per_second() -> None:
    from bench import throughput
    row = throughput.format_row("m", 2, False, prompt_tokens=900, prompt_s=20.0, gen_s=throughput.GENERATED / 16)
    assert row == "| m | 2 | no | 900 | 45.0 | 16.0 |"
