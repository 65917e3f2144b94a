"""What the review worker thread hands the UI: messages (post_message is thread-safe),
and two wrappers it reviews through (a load guard for lazy backends, a write-only cache)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from textual.message import Message

from reviewer.backends import Backend, Completion
from reviewer.backends import Message as ChatMessage
from reviewer.cache import ResultCache
from reviewer.pipeline import HunkResult
from reviewer.types import Finding

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


class RefreshCache:
    """A cache that is never read but still written: re-review one hunk, keep the new answer."""

    def __init__(self, inner: ResultCache) -> None:
        self.inner = inner

    def get(self, key: str) -> Completion | None:
        return None

    def put(self, key: str, completion: Completion) -> None:
        self.inner.put(key, completion)


__all__ = ["HintsReady", "HoldOutput", "HunkReviewed", "LoadGuard", "Phase", "RefreshCache", "ReleaseOutput",
           "ReviewDone"]
