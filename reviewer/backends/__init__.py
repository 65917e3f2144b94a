"""Model backends: the one seam between the pipeline and a language model.

A backend turns chat messages into text. Three implementations:

- `llama`  (`llama_cpp.py`): a GGUF model in-process through llama-cpp-python.
- `openai` (`openai_http.py`): any OpenAI-compatible server (llama.cpp server, vLLM, Ollama).
- `fake`   (`fake.py`): deterministic, scripted; for tests.

Backends load lazily: constructing one must be cheap and must not touch the model,
so a review answered entirely from the cache never loads it.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from reviewer.config import Config
from reviewer.types import Completion, Message, ModelInfo  # re-exported: backends answer with them


@runtime_checkable
class Backend(Protocol):
    """A chat model the reviewer can ask.

    `info` must be available without loading the model: its sha256 is part of the
    result-cache key.
    """

    @property
    def info(self) -> ModelInfo: ...

    def complete(self, messages: list[Message], schema: dict[str, Any] | None, max_tokens: int) -> Completion:
        """Answer the conversation. With a JSON schema, the text must be JSON matching it
        (constrained decoding where the backend supports it). Raises ReviewerError on
        failures the user can fix (missing model, unreachable server)."""
        ...

    def close(self) -> None:
        """Release the model / connections. Safe to call when nothing was loaded."""
        ...


def make_backend(config: Config) -> Backend:
    """The backend named by config.backend."""
    if config.backend == "llama":
        from reviewer.backends.llama_cpp import LlamaCppBackend

        return LlamaCppBackend(config)
    if config.backend == "openai":
        from reviewer.backends.openai_http import OpenAIHTTPBackend

        return OpenAIHTTPBackend(config)
    if config.backend == "fake":
        from reviewer.backends.fake import FakeBackend

        return FakeBackend()
    from reviewer.errors import ReviewerError

    raise ReviewerError(f"unknown backend {config.backend!r}; choose llama or openai")
