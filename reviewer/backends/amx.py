"""Keep llama.cpp off its AMX kernels, which crash on Q4_K_M models.

On Intel CPUs with AMX (Sapphire Rapids and later; this project's development machine among
them), a llama.cpp built for the machine it is on (`-march=native`, what `pip install
llama-cpp-python` does) repacks the weights into an "AMX buffer" and then dies with a
segfault in `ggml_backend_amx_mul_mat` on the first batch of prompt tokens: the whole
process goes, with no Python error to catch (llama.cpp issue 20824; dspy's CI dropped
the AMX build for the same crash). Measured here with the 1.5B Q4_K_M model and
llama-cpp-python 0.3.36: every review segfaulted.

The cure at load time is llama.cpp's model parameter `use_extra_bufts = false` (no
repacked weight buffers, AMX's included), which llama-cpp-python's `Llama()` does not
expose: `without_extra_buffers()` swaps in a default-parameters function with it off
while one model is constructed. Only when the library says it was built with AMX, so
other machines keep their repacked (faster) weights. Measured on the AMX machine with
the buffers off: prompt 133-137 tok/s, generation 11.6 tok/s on 2 threads, the same as
the earlier (non-AMX) machines. Building llama.cpp without AMX instead
(`CMAKE_ARGS="-DCMAKE_CXX_FLAGS=-mno-amx-tile"`) does not compile: its AMX sources are
built whenever `-march=native` finds AMX (tried with 0.3.36).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from types import ModuleType

_SWAP_LOCK = threading.Lock()  # the swap is process-wide: one construction at a time


def built_with_amx(llama_cpp: ModuleType) -> bool:
    """Whether this llama.cpp build will use AMX kernels (it reports `AMX_INT8 = 1` only
    when compiled with them and running on a CPU that has them)."""
    try:
        info = llama_cpp.llama_print_system_info()
    except (AttributeError, OSError):
        return False
    text = info.decode(errors="replace") if isinstance(info, bytes) else str(info)
    return "AMX_INT8 = 1" in text


@contextlib.contextmanager
def without_extra_buffers(llama_cpp: ModuleType) -> Iterator[None]:
    """While the block runs, `llama_cpp.Llama(...)` loads models with `use_extra_bufts` off."""
    low_level = llama_cpp.llama_cpp  # the module llama.py calls llama_model_default_params on
    original = low_level.llama_model_default_params

    def defaults():  # type: ignore[no-untyped-def]
        params = original()
        params.use_extra_bufts = False
        return params

    with _SWAP_LOCK:
        low_level.llama_model_default_params = defaults
        try:
            yield
        finally:
            low_level.llama_model_default_params = original


def safe_loading(llama_cpp: ModuleType) -> contextlib.AbstractContextManager[None]:
    """The context to construct a `Llama` in: without extra buffers on an AMX build, else nothing."""
    return without_extra_buffers(llama_cpp) if built_with_amx(llama_cpp) else contextlib.nullcontext()
