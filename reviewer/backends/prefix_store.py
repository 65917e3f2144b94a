"""KV-cache states of shared prompt prefixes, kept on disk between processes.

Every review prompt starts with the same system prompt and instructions. Inside one
process the KV cache already holds them after the first hunk; a git hook, though, is
a new process per commit and used to pay for those few hundred tokens every time
(~5 s for the 1.5B model on a 2-core CPU). This store saves the KV state of a shared
prefix once (llama.cpp's own state file format, `llama_state_save_file`) and restores
it in later processes in milliseconds.

How a prefix is found without knowing the prompt's structure: the tokens of the last
prompt are remembered; when a new prompt shares a long enough beginning with it, that
beginning is the shared prefix, evaluated on its own and saved. States are keyed by
the model's sha256 and the llama-cpp-python version (the file format follows
llama.cpp). Writes are atomic (temp file + rename), so concurrent hooks are safe; a
state that fails to load is deleted and the prompt is simply evaluated.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from reviewer.backends.greedy import common_prefix
from reviewer.fsutil import atomic_write_bytes

MIN_PREFIX_TOKENS = 64  # shorter shared beginnings are not worth a file
KEEP_STATES = 6  # per model directory; the least recently used go first


class StoredPrefix(NamedTuple):
    path: Path
    tokens: int


def _digest(tokens: list[int]) -> str:
    return hashlib.sha256(np.asarray(tokens, dtype=np.int32).tobytes()).hexdigest()[:24]


class PrefixStore:
    """Saved prefix states for one model, under `directory`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @classmethod
    def for_model(cls, cache_root: Path, model_sha256: str, sequences: int = 1) -> PrefixStore:
        """The store of one model; a context with room for several sequences (batched.py) is
        shaped differently and keeps states of its own."""
        import llama_cpp

        shape = f"-seq{sequences}" if sequences > 1 else ""
        return cls(cache_root / "kv" / f"{model_sha256[:16]}-llama-cpp-{llama_cpp.__version__}{shape}")

    # -- lookup --------------------------------------------------------------------

    def _stored(self) -> list[tuple[Path, np.ndarray]]:
        out = []
        try:
            entries = list(self.directory.glob("*.tokens"))
        except OSError:
            return []
        for entry in entries:
            try:
                out.append((entry.with_suffix(".kv"), np.fromfile(entry, dtype=np.int32)))
            except (OSError, ValueError):
                continue
        return out

    def best(self, tokens: list[int]) -> StoredPrefix | None:
        """The longest saved prefix of `tokens` (all of its tokens must match)."""
        want = np.asarray(tokens, dtype=np.int32)
        best: StoredPrefix | None = None
        for state, saved in self._stored():
            n = len(saved)
            longer = 0 < n < len(want) and (best is None or n > best.tokens)
            if longer and np.array_equal(saved, want[:n]) and state.is_file():
                best = StoredPrefix(state, n)
        return best

    def remember(self, tokens: list[int]) -> int:
        """Record `tokens` as the latest prompt; return how many leading tokens it shares
        with the previous one (0 when there was none)."""
        last = self.directory / "last-prompt.tokens"
        try:
            previous = np.fromfile(last, dtype=np.int32)
        except (OSError, ValueError):
            previous = np.zeros(0, dtype=np.int32)
        self._atomic_write(last, np.asarray(tokens, dtype=np.int32).tobytes())
        return common_prefix(previous.tolist(), tokens)

    def has(self, tokens: list[int]) -> bool:
        return (self.directory / f"{_digest(tokens)}.kv").is_file()

    # -- load / save ---------------------------------------------------------------

    def load(self, llm: Any, stored: StoredPrefix) -> int:
        """Restore `stored` into `llm`'s context; returns the tokens now cached (0 on failure)."""
        import llama_cpp

        capacity = llm.n_ctx()
        tokens = (llama_cpp.llama_token * capacity)()
        count = ctypes.c_size_t(0)
        ok = llama_cpp.llama_state_load_file(llm._ctx.ctx, str(stored.path).encode(), tokens, capacity,
                                             ctypes.byref(count))
        n = int(count.value)
        if not ok or n != stored.tokens:
            self._forget(stored.path)
            llm.reset()
            llm._ctx.kv_cache_clear()
            return 0
        llm.input_ids[:n] = np.ctypeslib.as_array(tokens)[:n]
        llm.n_tokens = n
        os.utime(stored.path)  # recently used: kept by the pruning
        return n

    def save(self, llm: Any, tokens: list[int]) -> None:
        """Save `llm`'s current state, which must hold exactly `tokens`, as a prefix state."""
        import llama_cpp

        assert llm.n_tokens == len(tokens)
        self.directory.mkdir(parents=True, exist_ok=True)
        name = _digest(tokens)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".kv")
        os.close(fd)
        try:
            array = (llama_cpp.llama_token * len(tokens))(*tokens)
            if not llama_cpp.llama_state_save_file(llm._ctx.ctx, tmp.encode(), array, len(tokens)):
                return
            os.replace(tmp, self.directory / f"{name}.kv")
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        # the token list goes last: a .tokens file without its .kv is never offered
        self._atomic_write(self.directory / f"{name}.tokens", np.asarray(tokens, dtype=np.int32).tobytes())
        self._prune()

    # -- housekeeping ----------------------------------------------------------------

    def _atomic_write(self, path: Path, data: bytes) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, data, fsync=False)  # a lost file only costs speed: no fsync
        except OSError:
            pass  # an unwritable cache dir costs speed, never the review

    def _forget(self, state: Path) -> None:
        for path in (state, state.with_suffix(".tokens")):
            try:
                path.unlink()
            except OSError:
                pass

    def _prune(self) -> None:
        def age(path: Path) -> float:
            try:
                return path.stat().st_mtime
            except OSError:  # pruned by another process a moment ago
                return 0.0

        states = sorted(self.directory.glob("*.kv"), key=age, reverse=True)
        for old in states[KEEP_STATES:]:
            self._forget(old)
