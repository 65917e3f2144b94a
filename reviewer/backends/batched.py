"""Several prompts decoded together in one llama.cpp context: continuous batching on the CPU.

At batch size one, generating a token reads every weight of the model from memory for
one row of arithmetic; a batch of several sequences reads them once for all the rows.
That pays where a step is bound by memory bandwidth, not where it is bound by arithmetic:
on this project's 2-core machine a step of k tokens of the 1.5B model costs k times one
(docs/speed.md#batched-generation), hence `default_batch`. `run_batched` keeps up to
`slots` answers in flight in one context:

- the prompts' shared beginning (system prompt and template, ~135 tokens) is decoded
  once, into sequence 0, and copied to each answer's sequence (`llama_memory_seq_cp`;
  with a unified KV cache the copy shares the cells, it costs no memory);
- each step decodes one batch: the next token of every answer being generated, then
  as many prompt tokens of newly admitted answers as fit in `n_batch`;
- one greedy/grammar state per answer (`TokenPicker`, greedy.py), the same
  check-the-picked-token loop as the sequential path;
- an answer that finishes frees its sequence, and the next prompt takes the slot at
  once (continuous batching); answers are reported as they finish, with their index.

The scheduling talks to llama.cpp only through `Engine` (a fake one in the tests).
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # numpy comes with greedy.py at load time; a cached review imports neither
    import numpy as np

    from reviewer.backends.greedy import Generation

PREFIX_SEQ = 0  # the sequence that holds the shared prompt prefix; answers use 1..slots
MIN_SHARED = 64  # shorter shared beginnings are decoded with each prompt (as prefix_store.py)


class Picker(Protocol):
    """One answer's decoding state (greedy.TokenPicker)."""

    def pick(self, logits: np.ndarray) -> int | None: ...
    def generation(self, prompt_tokens: int, evaluated: int) -> Generation: ...
    def close(self) -> None: ...


class Engine(Protocol):
    """What the scheduler needs from a llama.cpp context."""

    n_batch: int

    def decode(self, entries: Sequence[tuple[int, int, int, bool]]) -> None:
        """Decode one batch of (token, position, sequence, wants logits)."""
        ...

    def logits(self, row: int) -> np.ndarray:
        """The logits of batch row `row` of the last decode (one that wanted them)."""
        ...

    def copy(self, src: int, dst: int, n: int) -> None:
        """Let sequence `dst` see the first `n` positions of sequence `src`."""
        ...

    def drop(self, seq: int) -> None:
        """Forget everything of sequence `seq`."""
        ...


@dataclass
class Request:
    tokens: list[int]
    make_picker: Callable[[], Picker]


@dataclass
class _Slot:
    index: int
    seq: int
    tokens: list[int]
    picker: Picker
    pos: int  # next position to decode in this sequence
    pending: list[int] = field(default_factory=list)  # prompt tokens not decoded yet
    next_token: int | None = None  # the picked token to feed in the next step
    evaluated: int = 0


def shared_prefix(prompts: Sequence[Sequence[int]]) -> int:
    """How many leading tokens every prompt shares, at most all but the last token of
    the shortest (a prompt's last token is decoded with its own sequence, for its logits);
    0 when that is fewer than MIN_SHARED."""
    from reviewer.backends.greedy import common_prefix

    if not prompts:
        return 0
    first = prompts[0]
    n = min(len(p) for p in prompts) - 1
    for other in prompts[1:]:
        n = min(n, common_prefix(first, other))
    return n if n >= MIN_SHARED else 0


def run_batched(requests: Sequence[Request], engine: Engine, slots: int,
                prefix: int = 0) -> Iterator[tuple[int, Generation]]:
    """Decode every request's answer, up to `slots` at a time; yield (index, Generation)
    as each finishes. Sequence PREFIX_SEQ must hold the first `prefix` tokens shared by
    all prompts (see `shared_prefix`). Sequences 1..slots are used and left empty."""
    queue = deque(enumerate(requests))
    free = list(range(slots, 0, -1))  # popped from the end: sequence 1 first
    active: list[_Slot] = []
    try:
        while queue or active:
            while queue and free:
                index, request = queue.popleft()
                active.append(_admit(index, request, free.pop(), engine, prefix))
            entries, owners = _next_batch(active, engine.n_batch)
            engine.decode(entries)
            for row, slot in owners:
                slot.next_token = slot.picker.pick(engine.logits(row))
                if slot.next_token is None:
                    active.remove(slot)
                    result = slot.picker.generation(len(slot.tokens), slot.evaluated)
                    _release(slot, engine, free)
                    yield slot.index, result
    finally:
        for slot in active:
            _release(slot, engine, free)


def _admit(index: int, request: Request, seq: int, engine: Engine, prefix: int) -> _Slot:
    tokens = request.tokens
    if prefix:
        engine.copy(PREFIX_SEQ, seq, prefix)
    slot = _Slot(index, seq, tokens, request.make_picker(), pos=prefix, pending=list(tokens[prefix:]))
    slot.evaluated = len(slot.pending)
    return slot


def _release(slot: _Slot, engine: Engine, free: list[int]) -> None:
    slot.picker.close()
    engine.drop(slot.seq)
    free.append(slot.seq)


def _next_batch(active: list[_Slot], n_batch: int) -> tuple[list[tuple[int, int, int, bool]], list[tuple[int, _Slot]]]:
    """One step: every generating sequence's next token first (generation never waits for
    a prompt), then prompt tokens in admission order while they fit in `n_batch`."""
    entries: list[tuple[int, int, int, bool]] = []
    owners: list[tuple[int, _Slot]] = []
    for slot in active:
        if slot.next_token is not None:
            owners.append((len(entries), slot))
            entries.append((slot.next_token, slot.pos, slot.seq, True))
            slot.pos += 1
            slot.next_token = None
    for slot in active:
        room = n_batch - len(entries)
        if room <= 0:
            break
        if not slot.pending:
            continue
        take, slot.pending = slot.pending[:room], slot.pending[room:]
        for i, token in enumerate(take):
            last = not slot.pending and i == len(take) - 1  # the prompt's last token: its logits start the answer
            if last:
                owners.append((len(entries), slot))
            entries.append((token, slot.pos, slot.seq, last))
            slot.pos += 1
    return entries, owners


# -- llama.cpp ---------------------------------------------------------------------


class LlamaEngine:
    """`Engine` over a llama-cpp-python `Llama` whose context has room for several sequences."""

    def __init__(self, llm: Any, sequences: int) -> None:
        import llama_cpp

        self._lib = llama_cpp
        self._ctx = llm._ctx.ctx
        self._memory = llama_cpp.llama_get_memory(self._ctx)
        self._n_vocab = llm.n_vocab()
        self.n_batch = int(llm.n_batch)
        self._batch = llama_cpp.llama_batch_init(self.n_batch, 0, 1)
        self.sequences = sequences

    def decode(self, entries: Sequence[tuple[int, int, int, bool]]) -> None:
        batch = self._batch
        for i, (token, pos, seq, wants) in enumerate(entries):
            batch.token[i] = token
            batch.pos[i] = pos
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = seq
            batch.logits[i] = wants
        batch.n_tokens = len(entries)
        status = self._lib.llama_decode(self._ctx, batch)
        if status != 0:
            raise RuntimeError(f"llama_decode returned {status} for a batch of {len(entries)} tokens")

    def logits(self, row: int) -> np.ndarray:
        import numpy as np

        pointer = self._lib.llama_get_logits_ith(self._ctx, row)
        return np.ctypeslib.as_array(pointer, shape=(self._n_vocab,))

    def copy(self, src: int, dst: int, n: int) -> None:
        self._lib.llama_memory_seq_cp(self._memory, src, dst, 0, n)

    def drop(self, seq: int) -> None:
        self._lib.llama_memory_seq_rm(self._memory, seq, -1, -1)

    def close(self) -> None:
        if self._batch is not None:
            self._lib.llama_batch_free(self._batch)
            self._batch = None


# -- sizing the context ---------------------------------------------------------------

_SWAP_LOCK = threading.Lock()  # the swap is process-wide: one construction at a time
KV_MEMORY_SHARE = 0.25
# Where batching pays: measured on this project's 2-core AVX2 machine (bench/batch_steps.py,
# docs/speed.md#batched-generation), one step of k tokens costs k times one token (1.5B: 37 ms
# alone, 160 ms for 4 sequences' tokens): generation there is compute-bound, batching saves
# nothing and its bigger KV cache costs, so up to 2 usable CPUs the default is one at a time.
# With more cores a step is bound by memory bandwidth and several sequences share the weight
# reads (llama.cpp's server defaults to 4 slots); not measured on such a machine yet.
FEW_CPUS = 2
DEFAULT_BATCH = 4


def default_batch(cpus: int) -> int:
    """Answers decoded together when `batch` is not set: 1 on FEW_CPUS or fewer, else
    DEFAULT_BATCH (lowered at load to what the memory holds, `fitting_sequences`)."""
    return 1 if cpus <= FEW_CPUS else DEFAULT_BATCH


def available_memory() -> int | None:
    """MemAvailable from /proc/meminfo in bytes; None where it cannot be read (not Linux)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def kv_bytes_per_token(llama_cpp: ModuleType, model: Any) -> int:
    """f16 K and V of every layer for one token: 2 * layers * kv heads * head size * 2 bytes."""
    layers = llama_cpp.llama_model_n_layer(model)
    heads = max(1, llama_cpp.llama_model_n_head(model))
    head_size = llama_cpp.llama_model_n_embd(model) // heads
    return 2 * layers * llama_cpp.llama_model_n_head_kv(model) * head_size * 2


def fitting_sequences(wanted: int, ctx: int, per_token: int, available: int | None) -> int:
    """`wanted`, lowered until the KV cache of that many `ctx`-token sequences takes at
    most KV_MEMORY_SHARE of the `available` memory (at least 1)."""
    n = max(1, wanted)
    if available is None:
        return n
    while n > 1 and n * ctx * per_token > available * KV_MEMORY_SHARE:
        n -= 1
    return n


@contextlib.contextmanager
def context_for_sequences(llama_cpp: ModuleType, wanted: int, ctx: int,
                          available: int | None) -> Iterator[list[int]]:
    """While the block constructs a `Llama`, its context gets room for several sequences.

    Yields a list that holds, once the context is made, the number of answer sequences
    it has room for (`fitting_sequences`: the model's KV size is known only once its
    file is loaded, which is why this wraps `llama_init_from_model` rather than passing
    parameters `Llama()` does not take). The context is then `slots * ctx` tokens, one
    unified KV cache (the shared prefix is stored once), `slots + 1` sequences (the
    prefix's own). With one slot the context is left as `Llama()` makes it.
    """
    chosen: list[int] = []
    low_level = getattr(llama_cpp, "llama_cpp", None)
    if wanted <= 1 or low_level is None:  # one sequence: the context exactly as before batching existed
        yield chosen
        return
    original = low_level.llama_init_from_model

    def init(model: Any, params: Any) -> Any:
        slots = fitting_sequences(wanted, ctx, kv_bytes_per_token(low_level, model), available)
        chosen.append(slots)
        if slots > 1:
            params.n_ctx = max(int(params.n_ctx), slots * ctx)
            params.n_seq_max = slots + 1
            # Unified: the copied prefix shares its cells. Per-sequence KV buffers would keep each
            # answer's attention to its own cells, but llama.cpp 0.3.36 aborts the process on
            # seq_cp between them (GGML_ASSERT "seq_cp() is only supported for full KV buffers").
            params.kv_unified = True
        return original(model, params)

    with _SWAP_LOCK:
        low_level.llama_init_from_model = init
        try:
            yield chosen
        finally:
            low_level.llama_init_from_model = original


__all__ = ["Engine", "LlamaEngine", "Picker", "Request", "available_memory", "context_for_sequences", "default_batch",
           "fitting_sequences", "run_batched", "shared_prefix"]
