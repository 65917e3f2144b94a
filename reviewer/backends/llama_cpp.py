"""The in-process backend: a GGUF model run by llama-cpp-python.

Construction only resolves the model file (name -> path + sha256, for the cache key);
the weights are loaded on the first `complete()`, so a review answered entirely
from the result cache never pays the load. The chat template comes from the GGUF
metadata (`tokenizer.chat_template`), so Qwen2.5-Coder and CodeLlama files both
work without a `chat_format`.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from reviewer.backends import Completion, Message
from reviewer.config import Config
from reviewer.errors import ReviewerError
from reviewer.models import resolve_model
from reviewer.types import ModelInfo

_INSTALL_HINT = (
    "llama-cpp-python is not installed; run `pip install 'reviewer[llama]'` (compiles, ~5 min) "
    "or use --backend openai --base-url URL"
)


def usable_cpus() -> int:
    """CPUs this process may run on (respects taskset and container CPU sets)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def busy_cpus(window: float = 0.2) -> float:
    """How many CPUs other work keeps busy right now, from two /proc/stat samples.

    0.0 where /proc/stat is unavailable (not Linux). Unlike the load average this
    is current: a build that ended a minute ago does not count.
    """

    def sample() -> tuple[int, int] | None:
        try:
            with open("/proc/stat") as fh:
                fields = [int(x) for x in fh.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return sum(fields[:8]), idle

    first = sample()
    if first is None:
        return 0.0
    time.sleep(window)
    second = sample()
    if second is None or second[0] <= first[0]:
        return 0.0
    total, idle = second[0] - first[0], second[1] - first[1]
    ncpu = os.cpu_count() or 1  # /proc/stat counts every CPU of the machine
    return max(0.0, (1.0 - idle / total) * ncpu)


def default_threads(busy: float | None = None) -> int:
    """Threads for llama.cpp when none are configured: the idle CPUs we may use, 1..8.

    llama.cpp's threads meet at a barrier after every layer, so one thread that loses
    its CPU to another busy process stalls all of them: on a 2-CPU machine with one
    other busy process, 2 threads were measured ~13x slower than 1 (on an idle
    machine 2 are ~2x faster than 1). So CPUs busy right now are left out. Beyond
    ~8 threads generation is bound by memory bandwidth. `threads` in the config
    overrides this.
    """
    cpus = usable_cpus()
    if busy is None:
        busy = busy_cpus()
    return max(1, min(8, cpus - int(busy + 0.5)))


def _import_llama_cpp() -> ModuleType:
    try:
        import llama_cpp
    except ImportError:
        raise ReviewerError(_INSTALL_HINT) from None
    except (OSError, RuntimeError) as exc:  # the package is there but its native library is not loadable
        reason = " ".join(str(exc).split())[:200]
        raise ReviewerError(
            f"llama-cpp-python is installed but its native library failed to load ({reason}); "
            "reinstall it with `pip install --force-reinstall --no-cache-dir 'reviewer[llama]'`"
        ) from None
    return llama_cpp


def _looks_like_gguf(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(4) == b"GGUF"
    except OSError:
        return False


class LlamaCppBackend:
    """A GGUF model in-process. Cheap to construct; loads on the first `complete()`.

    Attributes:
        info: model name and file sha256 (available without loading).
        path: the GGUF file.
        threads: llama.cpp threads; from the config, else chosen at load (`default_threads`).
        load_seconds: wall time the load took, None until loaded.
    """

    def __init__(self, config: Config) -> None:
        resolved = resolve_model(config.model, config.cache_dir)
        self._config = config
        self.path: Path = Path(resolved.path)
        self._info = ModelInfo(name=resolved.name, sha256=resolved.sha256)
        # Decided at load time (measuring idle CPUs takes 0.2 s): None until then unless configured.
        self.threads: int | None = config.threads if config.threads and config.threads > 0 else None
        self.load_seconds: float | None = None
        self._llm: Any = None
        self._lock = threading.Lock()  # a Llama is not safe to call from two threads at once

    @property
    def info(self) -> ModelInfo:
        return self._info

    @property
    def loaded(self) -> bool:
        return self._llm is not None

    def __repr__(self) -> str:
        return f"LlamaCppBackend(model={self._info.name!r}, path={str(self.path)!r}, loaded={self.loaded})"

    # -- loading -------------------------------------------------------------------

    def _load_failure(self, reason: str) -> ReviewerError:
        name = self._info.name
        model = self._config.model
        if os.sep in model or "/" in model or model.endswith(".gguf"):  # a file the user named
            fix = f"check the file with `reviewer models verify {model}` or download it again"
        else:
            fix = f"run `reviewer models verify {name}`, or `reviewer models pull {name}` to fetch it again"
        return ReviewerError(f"cannot load model {name} from {self.path}: {reason}; {fix}")

    def load(self) -> None:
        """Load the weights now (normally done by the first `complete()`). Idempotent."""
        with self._lock:
            self._load_locked()

    def _load_locked(self) -> None:
        if self._llm is not None:
            return
        llama_cpp = _import_llama_cpp()
        if not self.path.is_file():
            raise self._load_failure("the file is missing")
        cfg = self._config
        start = time.perf_counter()
        if self.threads is None:
            self.threads = default_threads()
        try:
            llm = llama_cpp.Llama(
                model_path=str(self.path),
                n_ctx=cfg.ctx,
                n_threads=self.threads,
                n_threads_batch=self.threads,
                n_gpu_layers=cfg.n_gpu_layers,
                use_mmap=True,
                verbose=False,
            )
        except MemoryError:
            raise self._load_failure("out of memory; try the smaller model or a smaller --ctx") from None
        except (ValueError, RuntimeError, OSError) as exc:
            if not _looks_like_gguf(self.path):
                reason = "not a GGUF file"
            else:
                reason = "the file is corrupt or truncated, or there is not enough memory"
            detail = " ".join(str(exc).split())[:160]
            if not detail or "failed to load model from file" in detail.lower():  # adds nothing but the path
                raise self._load_failure(reason) from None
            raise self._load_failure(f"{reason} ({detail})") from None
        self.load_seconds = time.perf_counter() - start
        self._llm = llm

    # -- the Backend protocol ------------------------------------------------------

    def complete(self, messages: list[Message], schema: dict[str, Any] | None, max_tokens: int) -> Completion:
        """Greedy (temperature 0) chat completion; with a schema, decoding is grammar-constrained."""
        with self._lock:
            self._load_locked()
            kwargs: dict[str, Any] = {
                "messages": messages,
                "temperature": 0.0,
                "max_tokens": max_tokens,
            }
            if schema is not None:
                kwargs["response_format"] = {"type": "json_object", "schema": schema}
            try:
                response = self._llm.create_chat_completion(**kwargs)
            except ValueError as exc:
                msg = " ".join(str(exc).split())[:200]
                if "context window" in msg or "exceed" in msg:
                    raise ReviewerError(
                        f"the prompt does not fit the model context ({msg}); raise --ctx (now {self._config.ctx}) "
                        "or lower max_hunk_lines"
                    ) from None
                raise ReviewerError(f"model {self._info.name} failed to answer: {msg}") from None
        try:
            text = response["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError):
            raise ReviewerError(f"model {self._info.name} returned no answer") from None
        usage = response.get("usage") or {}
        return Completion(
            text=text,
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
        )

    def close(self) -> None:
        """Free the model. Safe to call when nothing was loaded, and more than once."""
        with self._lock:
            llm, self._llm = self._llm, None
        if llm is not None:
            closer = getattr(llm, "close", None)
            if callable(closer):
                closer()
            del llm


__all__ = ["LlamaCppBackend", "busy_cpus", "default_threads", "usable_cpus"]
