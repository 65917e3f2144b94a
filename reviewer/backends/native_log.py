"""llama.cpp's own log while a model loads: collected, not printed, for the one-line error."""

from __future__ import annotations

import contextlib
import ctypes
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

_GGML_LOG_ERROR = 4  # enum ggml_log_level: NONE, DEBUG, INFO, WARN, ERROR, CONT
OUT_OF_MEMORY = ("insufficient memory", "failed to allocate", "out of memory", "cudamalloc failed")


@contextlib.contextmanager
def native_log(llama_cpp: ModuleType) -> Iterator[list[str]]:
    """Collect llama.cpp's own error lines while loading; warnings are dropped, nothing is printed.

    Why: llama-cpp-python's log callback maps ggml's WARN level to logging.ERROR, so with
    verbose=False a load still prints native lines (e.g. "n_ctx_seq > n_ctx_train") to
    stderr next to our one-line error; and the line that says *why* a load failed
    ("insufficient memory (attempted to allocate 585939 MB)", "failed to read key-value
    pairs") only exists in that log, while the exception says "Failed to create
    llama_context". The default callback is put back afterwards.
    """
    lines: list[str] = []
    log_set = getattr(llama_cpp, "llama_log_set", None)
    callback_type = getattr(llama_cpp, "llama_log_callback", None)
    default = getattr(getattr(llama_cpp, "_logger", None), "llama_log_callback", None)
    if log_set is None or callback_type is None or default is None:
        yield lines
        return

    def collect(level: int, text: bytes, _user_data: ctypes.c_void_p) -> None:
        if level == _GGML_LOG_ERROR:
            line = " ".join(text.decode("utf-8", "replace").split())
            if line:
                lines.append(line)

    capture = callback_type(collect)  # kept referenced until llama.cpp stops calling it
    log_set(capture, ctypes.c_void_p(0))
    try:
        yield lines
    finally:
        log_set(default, ctypes.c_void_p(0))


def strip_prefix(line: str) -> str:
    """A llama.cpp log line without its `function_name: ` prefixes."""
    parts = line.split(": ")
    while len(parts) > 1 and parts[0].replace("_", "").isalnum() and " " not in parts[0]:
        parts = parts[1:]
    return ": ".join(parts)


def looks_like_gguf(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(4) == b"GGUF"
    except OSError:
        return False


def load_failure_reason(exc: BaseException, log: list[str], path: Path, ctx: int) -> tuple[str, bool]:
    """Why a model failed to load, in a few words, from the exception and llama.cpp's log;
    and whether it was memory (the fix is then a different one).

    llama-cpp-python raises ValueError("Failed to create llama_context") when the KV
    cache cannot be allocated (a too large --ctx, too little RAM or VRAM): that is
    memory, not a broken file.
    """
    detail = " ".join(str(exc).split())[:160]
    memory_line = next((ln for ln in log if any(m in ln.lower() for m in OUT_OF_MEMORY)), None)
    if memory_line is not None or "llama_context" in detail:
        why = f" ({strip_prefix(memory_line)[:160]})" if memory_line else ""
        return f"not enough memory for the model and a {ctx}-token context{why}", True
    if not looks_like_gguf(path):
        return "not a GGUF file", False
    reason = "the file is corrupt or truncated, or there is not enough memory"
    first_error = next((strip_prefix(ln) for ln in log), "")
    if first_error:
        return f"the file is corrupt or truncated ({first_error[:160]})", False
    if not detail or "failed to load model from file" in detail.lower():  # adds nothing but the path
        return reason, False
    return f"{reason} ({detail})", False
