"""The editor server's background thread: one job at a time, saves debounced, superseded versions cancelled.

The language server's event loop only calls `submit` (a dict write under a lock), so the
editor is never blocked by a review. A newer `submit` for the same file supersedes the
queued job at once and the running one at its next check (`Job.check`, called between
hunks: a hunk already at the model finishes, and its answer still lands in the cache).
Saves within `debounce` seconds of each other become one review of the last.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class Superseded(Exception):
    """Raised inside a job whose file has been saved again since; the worker drops it quietly."""


@dataclass
class Job:
    """A review of one file (`key`) as it was at one request (`generation`)."""

    key: str
    generation: int
    due: float
    payload: Any
    worker: Worker = field(repr=False)
    idle: bool = False  # runs only when no other job is due (the evidence pass)

    def current(self) -> bool:
        return self.worker.is_current(self)

    def check(self) -> None:
        """Raise Superseded when a newer request for the same file came in."""
        if not self.current():
            raise Superseded(self.key)


Handler = Callable[[Job], None]
OnError = Callable[[Job, BaseException], None]


class Worker:
    """Runs `handle(job)` on a thread of its own, earliest due first; `on_error` gets what a job raises."""

    def __init__(self, handle: Handler, on_error: OnError, debounce: float,
                 on_exit: Callable[[], None] | None = None) -> None:
        self.handle = handle
        self.on_exit = on_exit  # run on the worker thread when it stops: what it opened is closed there
        self.on_error = on_error
        self.debounce = debounce
        self._cond = threading.Condition()
        self._pending: dict[str, Job] = {}
        self._latest: dict[str, int] = {}
        self._numbers = itertools.count(1)
        self._stopped = False
        self._busy = False
        self._thread = threading.Thread(target=self._run, name="reviewer-lsp-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, key: str, payload: Any, debounce: bool = True, idle: bool = False) -> Job:
        """Queue a review of `key`, superseding any earlier one (queued or running); an `idle` job waits
        until no other job is queued."""
        with self._cond:
            job = Job(key, next(self._numbers), time.monotonic() + (self.debounce if debounce else 0.0), payload, self,
                      idle)
            self._latest[key] = job.generation
            self._pending[key] = job
            self._cond.notify_all()
            return job

    def forget(self, key: str) -> None:
        """Drop queued work for `key` and cancel its running job (the file was closed)."""
        with self._cond:
            self._pending.pop(key, None)
            self._latest[key] = next(self._numbers)

    def is_current(self, job: Job) -> bool:
        with self._cond:
            return self._latest.get(job.key) == job.generation

    def idle(self, timeout: float) -> bool:
        """Wait until nothing is queued or running (tests, `reviewer watch --once`); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    @property
    def started(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)

    def _next(self) -> Job | None:
        with self._cond:
            while not self._stopped:
                if self._pending:
                    job = min(self._pending.values(), key=lambda j: (j.idle, j.due))
                    wait = job.due - time.monotonic()
                    if wait <= 0:
                        del self._pending[job.key]
                        self._busy = True
                        return job
                    self._cond.wait(wait)
                else:
                    self._cond.wait()
            return None

    def _run(self) -> None:
        while True:
            job = self._next()
            if job is None:
                if self.on_exit is not None:
                    self.on_exit()
                return
            try:
                job.check()
                self.handle(job)
            except Superseded:
                pass
            except Exception as exc:  # noqa: BLE001 - one failed file never stops the worker
                self.on_error(job, exc)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()


__all__ = ["Job", "Superseded", "Worker"]
