"""What the review worker thread hands the UI: messages (post_message is thread-safe),
and the load guard it reviews through (lazy backends load only when the UI holds its output)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from textual.message import Message

from reviewer.backends import Backend
from reviewer.pipeline import HunkResult
from reviewer.types import Completion, Finding
from reviewer.types import Message as ChatMessage

# -- messages from the worker thread (post_message is thread-safe) -------------------


class Phase(Message):
    """The worker is doing something worth showing in the status bar."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class HintsReady(Message):
    def __init__(self, hints: tuple[Finding, ...]) -> None:
        super().__init__()
        self.hints = hints


class HunkReviewed(Message):
    def __init__(self, index: int, result: HunkResult, seconds: float) -> None:
        super().__init__()
        self.index, self.result, self.seconds = index, result, seconds


class ReviewDone(Message):
    def __init__(self, cancelled: bool, error: str | None) -> None:
        super().__init__()
        self.cancelled, self.error = cancelled, error


class HoldOutput(Message):
    """Stop drawing (the model load is about to blank fds 1 and 2); set `ack` once held."""

    def __init__(self, ack: threading.Event) -> None:
        super().__init__()
        self.ack = ack


class ReleaseOutput(Message):
    """Draw again, everything (frames may have been lost)."""


class LoadGuard:
    """A Backend wrapper: before a lazy backend loads its model, hold the UI's output."""

    def __init__(self, inner: Backend, before: Callable[[], None], after: Callable[[], None]) -> None:
        self.inner, self._before, self._after = inner, before, after

    @property
    def info(self) -> Any:
        return self.inner.info

    def complete(self, messages: list[ChatMessage], schema: dict[str, Any] | None, max_tokens: int) -> Completion:
        load = getattr(self.inner, "load", None)
        if callable(load) and not getattr(self.inner, "loaded", True):
            self._before()
            try:
                load()
            finally:
                self._after()
        return self.inner.complete(messages, schema, max_tokens)

    def close(self) -> None:
        self.inner.close()


__all__ = ["HintsReady", "HoldOutput", "HunkReviewed", "LoadGuard", "Phase", "ReleaseOutput",
           "ReviewDone"]
