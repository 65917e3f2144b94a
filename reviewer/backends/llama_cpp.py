"""The in-process backend: a GGUF model run by llama-cpp-python.

Construction only resolves the model file (name -> path + sha256, for the cache key);
the weights are loaded on the first `complete()`, so a review answered entirely
from the result cache never pays the load. The prompt layout is the GGUF's own chat
template (`tokenizer.chat_template`) unless the `chat_format` setting names one; a
file without a template needs that setting (see chat_formats.py).
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from reviewer.backends.amx import safe_loading
from reviewer.backends.batched import LlamaEngine, available_memory, context_for_sequences, default_batch
from reviewer.backends.chat_formats import ChatTemplate, choose_template
from reviewer.backends.native_log import load_failure_reason, native_log
from reviewer.cache import cache_root
from reviewer.config import Config
from reviewer.errors import ReviewerError
from reviewer.models import resolve_model
from reviewer.types import Completion, Message, ModelInfo

if TYPE_CHECKING:  # imported at load time: they pull in numpy, which a cached review never needs
    from reviewer.backends.greedy import GreedyGenerator
    from reviewer.backends.prefix_store import PrefixStore

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


def gpu_layers(llama_cpp: ModuleType, configured: int | None) -> int:
    """Layers to offload: as configured, else all of them when this llama-cpp-python build
    has a GPU backend (CUDA, Metal, Vulkan...) and none on a CPU-only build."""
    if configured is not None:
        return configured
    try:
        return -1 if llama_cpp.llama_supports_gpu_offload() else 0
    except (AttributeError, OSError):
        return 0


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
        sha256 = resolved.sha256
        if config.chat_format:
            # A chosen layout changes every prompt of this file, and the result cache is keyed on
            # info.sha256: answers cached under another layout must not be served for this one.
            sha256 = hashlib.sha256(f"{sha256}\0chat_format={config.chat_format}".encode()).hexdigest()
        self._info = ModelInfo(name=resolved.name, sha256=sha256)
        self._known_format = resolved.chat_format  # the registry's layout for a file without a template
        self.chat_template: ChatTemplate | None = None  # what prompts are rendered with; None until loaded
        # Decided at load time (measuring idle CPUs takes 0.2 s): None until then unless configured.
        self.threads: int | None = config.threads if config.threads and config.threads > 0 else None
        self.load_seconds: float | None = None
        self.n_gpu_layers: int | None = config.n_gpu_layers  # resolved at load ("auto" = None until then)
        self.evaluated_prompt_tokens = 0  # prompt tokens actually decoded (prefix reuse skips the rest)
        self._llm: Any = None
        self._greedy: GreedyGenerator | None = None  # set at load when the GGUF has a chat template
        self._prefixes: PrefixStore | None = None  # prompt-prefix KV states shared between processes
        self._engine: LlamaEngine | None = None  # several answers at once (batched.py), when slots > 1
        self.slots: int | None = None  # answers decoded together; from `batch` and the memory, at load
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

    def _load_failure(self, reason: str, fix: str | None = None) -> ReviewerError:
        name = self._info.name
        model = self._config.model
        if fix is None and (os.sep in model or "/" in model or model.endswith(".gguf")):  # a file the user named
            # Not `reviewer models verify`: for a file outside the registry it only compares
            # the file with its own earlier hash, so it calls a truncated file OK.
            fix = "download it again, or point --model at a complete GGUF file"
        elif fix is None:
            fix = f"run `reviewer models verify {name}`, or `reviewer models pull {name}` to fetch it again"
        return ReviewerError(f"cannot load model {name} from {self.path}: {reason}; {fix}")

    def _memory_fix(self) -> str:
        fix = f"lower --ctx (now {self._config.ctx})"
        if self.n_gpu_layers:
            fix += f" or --n-gpu-layers (now {self.n_gpu_layers})"
        fix += f" or --batch (now {self._config.batch or 'auto'})"
        return fix + ", close other programs, or use a smaller model"

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
        self.n_gpu_layers = gpu_layers(llama_cpp, cfg.n_gpu_layers)
        log: list[str] = []
        wanted = cfg.batch if cfg.batch is not None else default_batch(usable_cpus())
        try:
            with native_log(llama_cpp) as log, safe_loading(llama_cpp), \
                    context_for_sequences(llama_cpp, wanted, cfg.ctx, available_memory()) as chosen:
                llm = llama_cpp.Llama(
                    model_path=str(self.path),
                    n_ctx=cfg.ctx,
                    n_threads=self.threads,
                    n_threads_batch=self.threads,
                    n_gpu_layers=self.n_gpu_layers,
                    use_mmap=True,
                    verbose=False,
                )
        except MemoryError:
            raise self._load_failure("out of memory", self._memory_fix()) from None
        except (ValueError, RuntimeError, OSError) as exc:
            raise self._classify_load_error(exc, log) from None
        try:
            template = choose_template(getattr(llm, "metadata", None), cfg.chat_format, self._known_format,
                                       self._info.name, self.path)
        except ReviewerError:
            _close(llm)
            raise
        self.load_seconds = time.perf_counter() - start
        self._llm = llm
        self.slots = chosen[0] if chosen else 1
        self.chat_template = template
        # llama-cpp-python formats the few file templates it recognises (plain ChatML, Llama 3,
        # Mistral) with code of its own, kept as it was; every other template, the file's or
        # a chosen one, is rendered by greedy.py, which is also the fast path.
        recognised = template.from_file and getattr(llm, "chat_format", None) != "chat_template.default"
        if not recognised:
            from reviewer.backends.greedy import GreedyGenerator
            from reviewer.backends.prefix_store import PrefixStore

            self._greedy = GreedyGenerator(llm, template.text)
            if self.slots > 1:
                self._engine = LlamaEngine(llm, self.slots)
            if cfg.cache:  # a context shaped for several sequences saves states of its own shape
                self._prefixes = PrefixStore.for_model(cache_root(cfg.cache_dir), self._info.sha256, self.slots)

    def _classify_load_error(self, exc: BaseException, log: list[str]) -> ReviewerError:
        """A one-line ReviewerError for a failed load (native_log.load_failure_reason)."""
        reason, memory = load_failure_reason(exc, log, self.path, self._config.ctx)
        return self._load_failure(reason, self._memory_fix() if memory else None)

    # -- the Backend protocol ------------------------------------------------------

    def complete(self, messages: list[Message], schema: dict[str, Any] | None, max_tokens: int) -> Completion:
        """Greedy (temperature 0) chat completion; with a schema, decoding is grammar-constrained."""
        with self._lock:
            self._load_locked()
            if self._greedy is not None:
                return self._complete_greedy(self._greedy, messages, schema, max_tokens)
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

    def _complete_greedy(self, greedy: GreedyGenerator, messages: list[Message], schema: dict[str, Any] | None,
                         max_tokens: int) -> Completion:
        """The fast path (see greedy.py): same answer as create_chat_completion, less work."""
        tokens = greedy.prompt_tokens(messages)
        room = self._check_room(tokens, max_tokens)
        try:
            self._restore_prefix(greedy, tokens)
            gen = greedy.generate(tokens, schema, min(max_tokens, room))
        except (ValueError, RuntimeError) as exc:  # llama.cpp decode or grammar failures, as create_chat_completion
            msg = " ".join(str(exc).split())[:200]
            raise ReviewerError(f"model {self._info.name} failed to answer: {msg}") from None
        self.evaluated_prompt_tokens += gen.evaluated_prompt_tokens
        return Completion(text=gen.text, prompt_tokens=gen.prompt_tokens, completion_tokens=gen.completion_tokens,
                          confidence=gen.confidence)

    def _check_room(self, tokens: list[int], max_tokens: int) -> int:
        """Room left in one sequence's context after the prompt `tokens`; a ReviewerError when too little."""
        room = self._config.ctx - len(tokens)
        if room < min(max_tokens, 64):
            raise ReviewerError(
                f"the prompt does not fit the model context ({len(tokens)} prompt tokens, context {self._config.ctx}); "
                "raise --ctx or lower max_hunk_lines"
            )
        return room

    def _restore_prefix(self, greedy: GreedyGenerator, tokens: list[int]) -> None:
        """Put the longest known shared prefix of `tokens` into the KV cache: from the
        previous request in this process, else from a state saved by an earlier one;
        and save a newly seen shared prefix for the processes after this one."""
        from reviewer.backends.prefix_store import MIN_PREFIX_TOKENS

        store = self._prefixes
        if store is None:
            return
        saved = store.best(tokens)
        if saved is not None and saved.tokens > greedy.cached_prefix(tokens):
            store.load(self._llm, saved)  # on failure the state is dropped and the prompt simply evaluated
        shared = store.remember(tokens)
        if shared >= MIN_PREFIX_TOKENS and shared < len(tokens) and not store.has(tokens[:shared]):
            self.evaluated_prompt_tokens += greedy.evaluate(tokens[:shared])
            store.save(self._llm, tokens[:shared])

    def complete_batch(self, conversations: list[list[Message]], schema: dict[str, Any] | None,
                       max_tokens: int) -> Iterator[tuple[int, Completion]]:
        """Answers to several conversations, (index, completion) each as soon as it is ready:
        decoded together, `slots` at a time (batched.py), where the model allows it; else one
        after another, in order. Each answer is the greedy one, as `complete` gives it."""
        with self._lock:
            self._load_locked()
            batched = self._engine is not None and self._greedy is not None and len(conversations) > 1
        if not batched:
            for i, messages in enumerate(conversations):
                yield i, self.complete(messages, schema, max_tokens)
            return
        with self._lock:  # held while the caller consumes: the context is in use until the last answer
            yield from self._complete_batched(conversations, schema, max_tokens)

    def _complete_batched(self, conversations: list[list[Message]], schema: dict[str, Any] | None,
                          max_tokens: int) -> Iterator[tuple[int, Completion]]:
        from reviewer.backends.batched import Request, run_batched, shared_prefix

        greedy, engine = self._greedy, self._engine
        assert greedy is not None and engine is not None
        prompts = [greedy.prompt_tokens(messages) for messages in conversations]
        for tokens in prompts:
            self._check_room(tokens, max_tokens)
        requests = [Request(tokens, lambda t=tokens: greedy.picker(schema, min(max_tokens, self._config.ctx - len(t))))
                    for tokens in prompts]
        try:
            prefix = shared_prefix(prompts)
            self._restore_prefix(greedy, prompts[0])
            if prefix:  # the shared beginning, decoded once into sequence 0 (or found there / on disk)
                self.evaluated_prompt_tokens += greedy.evaluate(prompts[0][:prefix])
            else:
                self._llm.reset()
                self._llm._ctx.kv_cache_clear()
            for index, gen in run_batched(requests, engine, engine.sequences, prefix):
                self.evaluated_prompt_tokens += gen.evaluated_prompt_tokens
                yield index, Completion(text=gen.text, prompt_tokens=gen.prompt_tokens,
                                        completion_tokens=gen.completion_tokens, confidence=gen.confidence)
        except (ValueError, RuntimeError) as exc:  # llama.cpp decode or grammar failures, as `complete`
            msg = " ".join(str(exc).split())[:200]
            raise ReviewerError(f"model {self._info.name} failed to answer: {msg}") from None

    def close(self) -> None:
        """Free the model. Safe to call when nothing was loaded, and more than once."""
        with self._lock:
            llm, self._llm = self._llm, None
            self._greedy = None  # it holds the model too
            engine, self._engine = self._engine, None
        if engine is not None:
            engine.close()
        if llm is not None:
            _close(llm)


def _close(llm: Any) -> None:
    closer = getattr(llm, "close", None)
    if callable(closer):
        closer()


__all__ = ["LlamaCppBackend", "busy_cpus", "default_threads", "gpu_layers", "usable_cpus"]
