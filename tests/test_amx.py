"""llama.cpp's AMX kernels kept out of model loading (reviewer/backends/amx.py)."""

from types import SimpleNamespace

import pytest

from reviewer.backends.amx import built_with_amx, safe_loading, without_extra_buffers


def fake_llama_cpp(system_info: bytes) -> SimpleNamespace:
    low_level = SimpleNamespace(llama_model_default_params=lambda: SimpleNamespace(use_extra_bufts=True))
    return SimpleNamespace(llama_cpp=low_level, llama_print_system_info=lambda: system_info)


AMX_INFO = b"CPU : AVX2 = 1 | AVX512 = 1 | AMX_INT8 = 1 | REPACK = 1 | "
PLAIN_INFO = b"CPU : AVX2 = 1 | AVX512 = 1 | REPACK = 1 | "


def test_an_amx_build_is_recognised_from_the_system_info() -> None:
    assert built_with_amx(fake_llama_cpp(AMX_INFO))
    assert not built_with_amx(fake_llama_cpp(PLAIN_INFO))
    assert not built_with_amx(SimpleNamespace())  # an old build without the call


def test_extra_buffers_are_off_only_inside_the_block_and_restored_after_an_error() -> None:
    module = fake_llama_cpp(AMX_INFO)
    original = module.llama_cpp.llama_model_default_params
    with pytest.raises(RuntimeError), without_extra_buffers(module):
        assert module.llama_cpp.llama_model_default_params().use_extra_bufts is False
        raise RuntimeError("load failed")
    assert module.llama_cpp.llama_model_default_params is original
    assert module.llama_cpp.llama_model_default_params().use_extra_bufts is True


def test_safe_loading_changes_nothing_on_a_build_without_amx() -> None:
    module = fake_llama_cpp(PLAIN_INFO)
    with safe_loading(module):
        assert module.llama_cpp.llama_model_default_params().use_extra_bufts is True
    amx = fake_llama_cpp(AMX_INFO)
    with safe_loading(amx):
        assert amx.llama_cpp.llama_model_default_params().use_extra_bufts is False


def test_the_real_library_has_the_parameter_the_guard_sets() -> None:
    llama_cpp = pytest.importorskip("llama_cpp")
    assert hasattr(llama_cpp.llama_cpp.llama_model_default_params(), "use_extra_bufts")
