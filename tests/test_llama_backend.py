"""LlamaCppBackend: unit tests on a fake `llama_cpp` module, and `model` tests on the real GGUF."""

from __future__ import annotations

import json
import os
import sys
import types
from pathlib import Path
from typing import Any, ClassVar

import pytest

from reviewer.backends import Backend, Completion
from reviewer.backends import llama_cpp as backend_mod
from reviewer.backends.chat_formats import CHATML
from reviewer.backends.llama_cpp import LlamaCppBackend, default_threads
from reviewer.config import Config
from reviewer.errors import ReviewerError
from reviewer.models import ResolvedModel, resolve_model

SHA = "ab" * 32
SCHEMA = {
    "type": "object",
    "properties": {
        "reasoning": {"type": "string", "maxLength": 200},
        "verdict": {"type": "string", "enum": ["ok", "bug"]},
    },
    "required": ["reasoning", "verdict"],
}
MESSAGES = [
    {"role": "system", "content": "You are a code reviewer. Answer in JSON."},
    {"role": "user", "content": "def add(a, b):\n    return a - b\n\nIs there a bug in add()?"},
]


class FakeLlama:
    """Records constructor and create_chat_completion arguments. Its file has a plain ChatML
    template, which llama-cpp-python recognises and formats itself (chat_format "chatml")."""

    instances: ClassVar[list[FakeLlama]] = []
    fail_with: ClassVar[BaseException | None] = None
    metadata: ClassVar[dict[str, str]] = {"tokenizer.chat_template": CHATML}
    chat_format = "chatml"

    def __init__(self, **kwargs: Any) -> None:
        if FakeLlama.fail_with is not None:
            raise FakeLlama.fail_with
        self.kwargs = kwargs
        self.calls: list[dict[str, Any]] = []
        self.closed = False
        FakeLlama.instances.append(self)

    def create_chat_completion(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        if kwargs["messages"][-1]["content"] == "too long":
            raise ValueError("Requested tokens (5000) exceed context window of 4096")
        return {
            "choices": [{"message": {"role": "assistant", "content": '{"verdict": "ok"}'}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 42, "completion_tokens": 7, "total_tokens": 49},
        }

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def fake_llama(monkeypatch: pytest.MonkeyPatch) -> type[FakeLlama]:
    FakeLlama.instances = []
    FakeLlama.fail_with = None
    module = types.ModuleType("llama_cpp")
    module.Llama = FakeLlama  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "llama_cpp", module)
    return FakeLlama


@pytest.fixture
def gguf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake model file and a resolve_model that points at it."""
    path = tmp_path / "tiny.gguf"
    path.write_bytes(b"GGUF" + b"\0" * 64)
    seen: list[tuple[str, Path | None]] = []

    def fake_resolve(name: str, cache_dir: Path | None) -> ResolvedModel:
        seen.append((name, cache_dir))
        return ResolvedModel(name="tiny", path=path, sha256=SHA)

    monkeypatch.setattr(backend_mod, "resolve_model", fake_resolve)
    RESOLVE_CALLS[:] = []
    monkeypatch.setattr(sys.modules[__name__], "RESOLVE_CALLS", seen)
    return path


RESOLVE_CALLS: list[tuple[str, Path | None]] = []


def test_constructor_resolves_but_does_not_load(fake_llama: type[FakeLlama], gguf: Path, tmp_path: Path) -> None:
    b = LlamaCppBackend(Config(model="tiny", cache_dir=tmp_path))
    assert RESOLVE_CALLS == [("tiny", tmp_path)]
    assert fake_llama.instances == []
    assert b.info.name == "tiny" and b.info.sha256 == SHA
    assert b.load_seconds is None and not b.loaded
    assert isinstance(b, Backend)
    b.close()  # nothing loaded: fine


def test_first_complete_loads_once_with_expected_arguments(fake_llama: type[FakeLlama], gguf: Path) -> None:
    b = LlamaCppBackend(Config(model="tiny", ctx=2048, threads=3, n_gpu_layers=-1))
    c1 = b.complete(MESSAGES, SCHEMA, 128)
    c2 = b.complete(MESSAGES, None, 64)
    assert len(fake_llama.instances) == 1
    llm = fake_llama.instances[0]
    assert llm.kwargs == {
        "model_path": str(gguf),
        "n_ctx": 2048,
        "n_threads": 3,
        "n_threads_batch": 3,
        "n_gpu_layers": -1,
        "use_mmap": True,
        "verbose": False,
    }
    assert "chat_format" not in llm.kwargs  # the template comes from the GGUF metadata
    assert llm.calls[0] == {
        "messages": MESSAGES,
        "temperature": 0.0,
        "max_tokens": 128,
        "response_format": {"type": "json_object", "schema": SCHEMA},
    }
    assert llm.calls[1] == {"messages": MESSAGES, "temperature": 0.0, "max_tokens": 64}
    assert c1 == c2 == Completion('{"verdict": "ok"}', prompt_tokens=42, completion_tokens=7)
    assert b.loaded and b.load_seconds is not None and b.load_seconds >= 0
    b.close()
    assert llm.closed and not b.loaded
    b.close()


def test_default_threads_chosen_at_load(
    fake_llama: type[FakeLlama], gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert 1 <= default_threads(busy=0.0) <= 8
    monkeypatch.setattr(backend_mod, "default_threads", lambda: 5)
    b = LlamaCppBackend(Config(model="tiny"))
    assert b.threads is None
    b.complete(MESSAGES, None, 8)
    assert b.threads == 5
    assert fake_llama.instances[0].kwargs["n_threads"] == 5


@pytest.mark.parametrize(
    ("cpus", "busy", "expected"), [(2, 0.1, 2), (2, 1.2, 1), (2, 4.0, 1), (16, 0.0, 8), (16, 10.4, 6), (1, 0.0, 1)]
)
def test_default_threads_leaves_busy_cpus_out(
    monkeypatch: pytest.MonkeyPatch, cpus: int, busy: float, expected: int
) -> None:
    monkeypatch.setattr(backend_mod, "usable_cpus", lambda: cpus)
    monkeypatch.setattr(backend_mod, "busy_cpus", lambda: busy)
    assert default_threads() == expected


def test_busy_cpus_is_a_sane_number() -> None:
    assert 0.0 <= backend_mod.busy_cpus(0.05) <= (os.cpu_count() or 1)


def test_missing_llama_cpp(monkeypatch: pytest.MonkeyPatch, gguf: Path) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # makes `import llama_cpp` raise ImportError
    b = LlamaCppBackend(Config(model="tiny"))  # still cheap: constructing needs no llama_cpp
    with pytest.raises(ReviewerError) as info:
        b.complete(MESSAGES, None, 8)
    msg = str(info.value)
    assert msg.startswith("llama-cpp-python is not installed; run `pip install 'reviewer[llama]'`")
    assert "--backend openai --base-url URL" in msg


@pytest.mark.parametrize("exc", [ValueError("Failed to load model from file: x"), RuntimeError("boom")])
def test_load_failure_is_reviewer_error(fake_llama: type[FakeLlama], gguf: Path, exc: Exception) -> None:
    fake_llama.fail_with = exc
    b = LlamaCppBackend(Config(model="tiny"))
    with pytest.raises(ReviewerError) as info:
        b.complete(MESSAGES, None, 8)
    msg = str(info.value)
    assert "\n" not in msg
    assert str(gguf) in msg
    assert "reviewer models verify tiny" in msg
    assert not b.loaded


def test_load_failure_for_a_file_path_suggests_no_pull(fake_llama: type[FakeLlama], gguf: Path) -> None:
    fake_llama.fail_with = ValueError("Failed to load model from file: x")
    with pytest.raises(ReviewerError) as info:
        LlamaCppBackend(Config(model=str(gguf))).complete(MESSAGES, None, 8)
    assert "corrupt or truncated" in str(info.value)
    assert "Failed to load model from file" not in str(info.value)
    assert "models pull" not in str(info.value)


def test_load_failure_not_gguf(fake_llama: type[FakeLlama], gguf: Path) -> None:
    gguf.write_bytes(b"<html>404</html>")
    fake_llama.fail_with = ValueError("Failed to load model from file")
    with pytest.raises(ReviewerError, match="not a GGUF file"):
        LlamaCppBackend(Config(model="tiny")).complete(MESSAGES, None, 8)


def test_model_file_deleted_after_resolve(fake_llama: type[FakeLlama], gguf: Path) -> None:
    b = LlamaCppBackend(Config(model="tiny"))
    gguf.unlink()
    with pytest.raises(ReviewerError, match="the file is missing; run `reviewer models verify tiny`"):
        b.complete(MESSAGES, None, 8)
    assert fake_llama.instances == []


def test_context_overflow_is_reviewer_error(fake_llama: type[FakeLlama], gguf: Path) -> None:
    b = LlamaCppBackend(Config(model="tiny"))
    with pytest.raises(ReviewerError, match=r"does not fit the model context .*raise --ctx \(now 4096\)"):
        b.complete([{"role": "user", "content": "too long"}], None, 8)


# -- the real model -------------------------------------------------------------------

REQUIRE_MODEL = os.environ.get("REVIEWER_REQUIRE_MODEL") == "1"


def _real_model() -> ResolvedModel:
    """The installed 0.5B model (faster), else the 1.5B; skip (or fail) when neither is there."""
    problems = []
    for name in ("qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"):
        try:
            return resolve_model(name, None)
        except ReviewerError as exc:
            problems.append(str(exc))
    reason = "no real model installed: " + " | ".join(problems)
    if REQUIRE_MODEL:
        pytest.fail(reason + " (REVIEWER_REQUIRE_MODEL=1)")
    pytest.skip(reason)


def _require_llama_cpp() -> None:
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        if REQUIRE_MODEL:
            pytest.fail("llama-cpp-python is not installed (REVIEWER_REQUIRE_MODEL=1)")
        pytest.skip("llama-cpp-python is not installed")


@pytest.fixture(scope="module")
def real_backend() -> Any:
    _require_llama_cpp()
    model = _real_model()
    b = LlamaCppBackend(Config(model=model.name, ctx=2048))
    yield b
    b.close()


@pytest.mark.model
def test_real_model_schema_constrained_answer(real_backend: LlamaCppBackend) -> None:
    c = real_backend.complete(MESSAGES, SCHEMA, 120)
    data = json.loads(c.text)
    assert set(data) >= {"reasoning", "verdict"}
    assert data["verdict"] in ("ok", "bug")
    assert isinstance(data["reasoning"], str)
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(data, SCHEMA)
    assert c.prompt_tokens > 20
    assert 0 < c.completion_tokens <= 120
    assert real_backend.load_seconds is not None and real_backend.load_seconds > 0


@pytest.mark.model
def test_real_model_is_deterministic(real_backend: LlamaCppBackend) -> None:
    a = real_backend.complete(MESSAGES, SCHEMA, 60)
    b = real_backend.complete(MESSAGES, SCHEMA, 60)
    assert a.text == b.text


@pytest.mark.model
def test_truncated_gguf_is_reviewer_error(tmp_path: Path) -> None:
    _require_llama_cpp()
    model = _real_model()
    truncated = tmp_path / "truncated.gguf"
    with model.path.open("rb") as fh:
        truncated.write_bytes(fh.read(1 << 20))
    b = LlamaCppBackend(Config(model=str(truncated), cache_dir=tmp_path))
    with pytest.raises(ReviewerError) as info:
        b.complete(MESSAGES, None, 8)
    msg = str(info.value)
    assert "\n" not in msg
    assert str(truncated) in msg and "corrupt or truncated" in msg
