"""Batched generation (reviewer/backends/batched.py): the scheduler on a fake engine, the pipeline's
order and cache, the tiny GGUF files through real llama.cpp, and one `model` test on the real model."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reviewer.backends.batched import PREFIX_SEQ, Request, default_batch, fitting_sequences, run_batched, shared_prefix
from reviewer.backends.fake import FakeBackend
from reviewer.backends.greedy import Generation
from reviewer.cache import ResultCache
from reviewer.config import Config, load_config
from reviewer.errors import ReviewerError
from reviewer.pipeline import NoProgress, review_hunks, run_review
from reviewer.types import Completion, Message

VOCAB = 50
END = 0  # the fake model's end-of-answer token


class FakeEngine:
    """A KV cache per sequence, checked like llama.cpp would use it: positions follow on, a
    copied prefix is really there. The logits depend on everything the sequence holds, so a
    token decoded into the wrong sequence, or a row read for the wrong one, changes answers."""

    def __init__(self, n_batch: int = 16) -> None:
        self.n_batch = n_batch
        self.kv: dict[int, list[int]] = {}
        self.batches: list[list[tuple[int, int, int, bool]]] = []
        self._rows: dict[int, np.ndarray] = {}

    def decode(self, entries: Sequence[tuple[int, int, int, bool]]) -> None:
        assert 0 < len(entries) <= self.n_batch
        self.batches.append(list(entries))
        self._rows = {}
        for row, (token, pos, seq, wants) in enumerate(entries):
            held = self.kv.setdefault(seq, [])
            assert pos == len(held), f"sequence {seq}: position {pos} after {len(held)} tokens"
            held.append(token)
            if wants:
                self._rows[row] = _logits(held)

    def logits(self, row: int) -> np.ndarray:
        return self._rows[row]

    def copy(self, src: int, dst: int, n: int) -> None:
        assert not self.kv.get(dst), "copied into a sequence in use"
        self.kv[dst] = list(self.kv[src][:n])

    def drop(self, seq: int) -> None:
        self.kv[seq] = []


def _logits(tokens: list[int]) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(np.asarray(tokens, dtype=np.int32).tobytes()).digest()[:4], "little")
    return np.random.default_rng(seed).standard_normal(VOCAB)


class FakePicker:
    """Greedy over the fake logits; the answer ends at END or after `limit` tokens."""

    closed = 0
    made = 0

    def __init__(self, limit: int) -> None:
        FakePicker.made += 1
        self.limit = limit
        self.tokens: list[int] = []

    def pick(self, logits: np.ndarray) -> int | None:
        token = int(np.argmax(logits))
        if token == END or len(self.tokens) >= self.limit:
            return None
        self.tokens.append(token)
        return token

    def generation(self, prompt_tokens: int, evaluated: int) -> Generation:
        return Generation(" ".join(map(str, self.tokens)), prompt_tokens, len(self.tokens), evaluated)

    def close(self) -> None:
        FakePicker.closed += 1


PREFIX = list(range(1, 70))  # 69 tokens every prompt starts with (MIN_SHARED is 64)


def _requests(lengths: Sequence[int]) -> list[Request]:
    """Prompts of different lengths after the shared prefix, answers of different lengths."""
    return [Request(PREFIX + [7 + i] * (3 + 5 * i), lambda n=n: FakePicker(n)) for i, n in enumerate(lengths)]


def _sequential(requests: list[Request]) -> list[str]:
    """Each answer decoded alone, from an empty cache: what batching must reproduce."""
    out = []
    for request in requests:
        engine = FakeEngine()
        [(_, gen)] = list(run_batched([request], engine, 1))
        out.append(gen.text)
    return out


def _batched(requests: list[Request], slots: int, engine: FakeEngine) -> list[tuple[int, Generation]]:
    prefix = shared_prefix([r.tokens for r in requests])
    engine.decode([(t, i, PREFIX_SEQ, False) for i, t in enumerate(requests[0].tokens[:prefix])][:engine.n_batch])
    for start in range(engine.n_batch, prefix, engine.n_batch):
        engine.decode([(t, i, PREFIX_SEQ, False) for i, t in enumerate(requests[0].tokens[:prefix])][start:start + engine.n_batch])
    return list(run_batched(requests, engine, slots, prefix))


def test_batched_answers_equal_the_sequential_ones() -> None:
    requests = _requests([9, 2, 14, 5, 1, 11, 7])
    engine = FakeEngine()
    done = _batched(requests, 3, engine)
    assert sorted(i for i, _ in done) == list(range(7))
    by_index = dict(done)
    assert [by_index[i].text for i in range(7)] == _sequential(requests)
    assert all(by_index[i].text for i in (0, 2, 5))  # answers are not empty: the check can fail


def test_at_most_slots_sequences_per_step_and_slots_are_refilled() -> None:
    requests = _requests([12, 1, 12, 12, 12])
    engine = FakeEngine(n_batch=64)
    done = _batched(requests, 2, engine)
    answer_seqs = [{seq for _, _, seq, _ in batch} - {PREFIX_SEQ} for batch in engine.batches]
    assert max(len(s) for s in answer_seqs) == 2
    assert set().union(*answer_seqs) == {1, 2}
    # continuous: request 1 ends after one token, request 2 takes its slot while request 0 still runs
    order = [i for i, _ in done]
    assert order.index(1) < order.index(0)
    started_2 = next(n for n, b in enumerate(engine.batches) if any(t == 9 for t, _, _, _ in b))
    assert started_2 < len(engine.batches) - 12


def test_generation_never_waits_behind_a_long_prompt() -> None:
    """Every step carries the next token of every answer being generated; prompts fill the rest."""
    requests = [Request(PREFIX + [3] * 4, lambda: FakePicker(30)), Request(PREFIX + [4] * 60, lambda: FakePicker(3))]
    engine = FakeEngine(n_batch=8)
    _batched(requests, 2, engine)
    mixed = [b for b in engine.batches if any(s == 1 for _, _, s, _ in b) and any(s == 2 for _, _, s, _ in b)]
    assert len(mixed) >= 5
    assert all(len(b) <= 8 for b in engine.batches)


def test_the_shared_prefix_is_decoded_once_and_every_sequence_is_left_empty() -> None:
    requests = _requests([4, 4, 4, 4])
    engine = FakeEngine(n_batch=128)
    FakePicker.closed = 0
    done = _batched(requests, 2, engine)
    decoded = sum(len(b) for b in engine.batches)
    generated = sum(g.completion_tokens for _, g in done)
    prompt_rest = sum(len(r.tokens) - len(PREFIX) for r in requests)
    assert decoded == len(PREFIX) + prompt_rest + generated  # the prefix once, not once per answer
    assert all(g.evaluated_prompt_tokens == len(r.tokens) - len(PREFIX) for r, (_, g) in zip(requests, sorted(done)))
    assert engine.kv[PREFIX_SEQ] == PREFIX and engine.kv[1] == [] and engine.kv[2] == []
    assert FakePicker.closed == 4


def test_an_interrupted_run_frees_its_sequences() -> None:
    engine = FakeEngine()
    FakePicker.closed = FakePicker.made = 0
    run = run_batched(_requests([20, 20, 20]), engine, 2)
    next(run, None)
    run.close()
    assert engine.kv.get(1, []) == [] and engine.kv.get(2, []) == []
    assert FakePicker.made >= 2 and FakePicker.closed == FakePicker.made  # every grammar freed


def test_shared_prefix() -> None:
    assert shared_prefix([PREFIX + [1, 2], PREFIX + [1, 3], PREFIX + [5]]) == len(PREFIX)
    assert shared_prefix([PREFIX + [1], PREFIX + [1]]) == len(PREFIX)  # the last token stays with each prompt
    assert shared_prefix([[1] * 10 + [2], [1] * 10 + [3]]) == 0  # too short to be worth a copy
    assert shared_prefix([]) == 0


def test_fitting_sequences_follows_the_memory() -> None:
    per_token = 28 * 1024  # the 1.5B model's f16 KV, per token
    assert fitting_sequences(4, 4096, per_token, None) == 4
    assert fitting_sequences(4, 4096, per_token, 8 << 30) == 4
    assert fitting_sequences(4, 4096, per_token, 1 << 30) == 2  # a quarter of 1 GiB holds two 4096-token sequences
    assert fitting_sequences(4, 4096, per_token, 100 << 20) == 1
    assert fitting_sequences(0, 4096, per_token, None) == 1


def test_default_batch_follows_the_cores() -> None:
    """Measured on 2 cores: a step of k tokens costs k times one, so no batching there (docs/speed.md)."""
    assert default_batch(1) == 1 and default_batch(2) == 1
    assert default_batch(4) == 4 and default_batch(16) == 4


def test_batch_setting(tmp_path: Path) -> None:
    assert Config().batch is None
    assert load_config(tmp_path, {"REVIEWER_BATCH": "2"}, {}).batch == 2
    assert load_config(tmp_path, {}, {"batch": "auto"}).batch is None
    for bad in ("0", "65", "many"):
        with pytest.raises(ReviewerError, match="batch"):
            load_config(tmp_path, {}, {"batch": bad})


# -- the pipeline -------------------------------------------------------------------------


class BatchingFake(FakeBackend):
    """Answers like FakeBackend, but through `complete_batch`, finishing in reverse order."""

    def __init__(self, fail_after: int | None = None) -> None:
        super().__init__()
        self.batches: list[int] = []
        self.fail_after = fail_after

    def complete_batch(self, conversations: list[list[Message]], schema: dict[str, Any] | None,
                       max_tokens: int) -> Iterator[tuple[int, Completion]]:
        self.batches.append(len(conversations))
        for n, i in enumerate(reversed(range(len(conversations)))):
            if self.fail_after is not None and n == self.fail_after:
                raise ReviewerError("model failed")
            yield i, self.complete(conversations[i], schema, max_tokens)


DIFF_HUNKS = 4


def _parsed(make_repo: Any) -> Any:
    from reviewer.diff import DiffSource
    from reviewer.session import parse_source

    repo = make_repo({f"m{i}.py": "x = 1\n" for i in range(DIFF_HUNKS)})
    for i in range(DIFF_HUNKS):
        (repo / f"m{i}.py").write_text(f"x = 1\ntry:\n    f{i}()\nexcept:\n    pass\n")
    from conftest import git

    git(repo, "add", "-A")
    return parse_source(DiffSource("staged"), repo, Config(analyzers=False))


def test_pipeline_keeps_diff_order_and_caches_each_answer(make_repo: Any, tmp_path: Path) -> None:
    parsed = _parsed(make_repo)
    config = Config(analyzers=False)
    backend = BatchingFake()
    cache = ResultCache(tmp_path / "results")
    results = list(review_hunks(parsed.hunks, backend, config, cache, NoProgress()))
    assert backend.batches == [DIFF_HUNKS]
    assert [r.hunk.path for r in results] == [h.path for h in parsed.hunks]
    assert all(r.findings and r.findings[0].path == r.hunk.path for r in results)
    again = FakeBackend()
    review = run_review(parsed, again, config, cache)
    assert again.calls == [] and review.stats.cached == DIFF_HUNKS


def test_answers_finished_before_a_failure_are_cached(make_repo: Any, tmp_path: Path) -> None:
    parsed = _parsed(make_repo)
    config = Config(analyzers=False)
    cache = ResultCache(tmp_path / "results")
    with pytest.raises(ReviewerError):
        run_review(parsed, BatchingFake(fail_after=2), config, cache)
    again = FakeBackend()
    review = run_review(parsed, again, config, cache)
    assert review.stats.cached == 2 and len(again.calls) == DIFF_HUNKS - 2


# -- real llama.cpp, tiny random-weight GGUF ---------------------------------------------------


def _tiny_backend(tmp_path: Path, batch: int) -> Any:
    pytest.importorskip("gguf")
    pytest.importorskip("llama_cpp")
    from gguf_fixtures import write_qwen

    from reviewer.backends.llama_cpp import LlamaCppBackend

    model = tmp_path / "tiny.gguf"
    if not model.exists():
        write_qwen(model)
    return LlamaCppBackend(Config(model=str(model), cache=False, threads=1, batch=batch))


def test_tiny_model_batched_equals_one_at_a_time(tmp_path: Path) -> None:
    """6 prompts, 3 at a time through llama.cpp: each answer as the sequential path gives it."""
    system = "You review code. Answer in JSON. " * 30  # a shared prefix longer than MIN_SHARED
    conversations = [[{"role": "system", "content": system},
                      {"role": "user", "content": f"Review change {i}: +    return a - {i}*b" + " x" * (7 * i)}]
                     for i in range(6)]
    batched = _tiny_backend(tmp_path, 3)
    try:
        together = dict(batched.complete_batch(conversations, None, 40))
        assert batched.slots == 3 and batched._engine is not None
    finally:
        batched.close()
    alone = _tiny_backend(tmp_path, 1)
    try:
        one_by_one = [alone.complete(c, None, 40) for c in conversations]
        assert alone.slots == 1 and alone._engine is None
    finally:
        alone.close()
    assert len({c.text for c in one_by_one}) == 6  # different prompts, different answers: the check can fail
    assert [together[i].text for i in range(6)] == [c.text for c in one_by_one]
    assert [together[i].completion_tokens for i in range(6)] == [c.completion_tokens for c in one_by_one]


# -- the real model ---------------------------------------------------------------------------


@pytest.mark.model
def test_real_model_batched_findings_equal_sequential(model_cache: Path, make_repo: Any) -> None:
    """Three hunks of the default model, decoded together and one at a time: the same places
    flagged (path, line). Category and wording are left out: decoded beside other hunks the
    arithmetic is not bit-for-bit the same (other matrix shapes, attention over a larger
    masked KV cache), and near-ties flip. Measured on these hunks: a title ("Division by
    zero" / "Incorrect mean calculation") and a category (security / bug on the SQL line)
    flipped between runs; docs/speed.md#batched-generation has the eval comparison."""
    from reviewer.session import ReviewSession

    repo = make_repo({"app/db.py": "import sqlite3\n", "app/calc.py": "def mean(xs):\n    return 0\n",
                      "app/run.py": "import subprocess\n"})
    (repo / "app/db.py").write_text("import sqlite3\n\n\ndef find(conn, name):\n"
                                    "    return conn.execute(f\"SELECT * FROM users WHERE name = '{name}'\")\n")
    (repo / "app/calc.py").write_text("def mean(xs):\n    return sum(xs) / (len(xs) - 1)\n")
    (repo / "app/run.py").write_text("import subprocess\n\n\ndef run(cmd):\n"
                                     "    return subprocess.call(cmd, shell=True)\n")
    from conftest import git

    git(repo, "add", "-A")
    from reviewer.diff import DiffSource

    found = {}
    for batch in (1, 3):
        config = Config(cache=False, cache_dir=model_cache, analyzers=False, batch=batch, cwd=repo)
        with ReviewSession(config) as session:
            review = session.review(session.parse(DiffSource("staged"), repo))
            found[batch] = sorted({(f.path, f.line) for f in review.findings})
            assert session.backend.slots == batch
    assert found[1], "the model should find something in these hunks"
    assert found[3] == found[1]
