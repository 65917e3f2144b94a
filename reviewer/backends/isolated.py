"""A backend that runs the real one in a child process, under a deadline: the commit hook's guard.

Today's failure this contains: llama.cpp dying on a signal (a segfault in the native
engine) ended the hook's own process, so not even fail-open let the commit through; and a
hung model server held a commit for its timeout times its retries (~3 x 120 s). Here the
model lives in a child (`python -m reviewer.backends.isolated`); the hook's process only
sends prompts and reads answers, one at a time per request, as they come. When the
deadline passes, or the child dies, `complete` raises `NotAnswered` and the child is
killed: the pipeline keeps (and has cached) every answer that arrived and reports the
other hunks as not reviewed (reviewer/pipeline.py).

The child is started on the first `complete`, so a review answered entirely from the cache
starts none (the cached hook run stays at its ~0.2 s). `info` comes from the real backend
built in this process (construction is cheap and loads nothing). Errors the real backend
raises (a server that is down, a model that fails to load) come back as `ModelUnavailable`
with the same one-line message as in process.

Protocol: pickled tuples over the child's stdin/stdout; the child moves its own stdout to
stderr first, so nothing a library prints can corrupt the stream.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any, BinaryIO

from reviewer.config import Config
from reviewer.errors import ModelUnavailable, NotAnswered, ReviewerError
from reviewer.types import Completion, Message, ModelInfo

_KILL_WAIT_S = 5.0  # after SIGKILL the kernel reaps at once; this only bounds a zombie wait


class IsolatedBackend:
    """The configured backend in a child process; `deadline` is a `time.monotonic()` value or None.

    `deadline_note` names the limit in the NotAnswered message (e.g. "the hook-timeout of 60 s").
    """

    def __init__(self, config: Config, deadline: float | None = None, deadline_note: str = "the deadline") -> None:
        from reviewer.backends import make_backend

        self._config = config
        self._local = make_backend(config)  # for info and max_parallel only; never asked
        self.deadline = deadline
        self._note = deadline_note
        self._proc: subprocess.Popen[bytes] | None = None
        self._send_lock = threading.Lock()
        self._pending: dict[int, Future[Completion]] = {}
        self._next_id = 0
        self._stopped: str | None = None  # why no more answers will come
        self.started = 0  # child processes started (tests: none on a fully cached run)

    @property
    def info(self) -> ModelInfo:
        return self._local.info

    @property
    def max_parallel(self) -> int:
        return max(1, int(getattr(self._local, "max_parallel", 1) or 1))

    def complete(self, messages: list[Message], schema: dict[str, Any] | None, max_tokens: int) -> Completion:
        future: Future[Completion] = Future()
        with self._send_lock:
            if self._stopped is not None:
                raise NotAnswered(self._stopped)
            if self._left() <= 0:
                self._stop(f"{self._note} passed")
                raise NotAnswered(self._stopped or "")
            proc = self._proc or self._start()
            request_id, self._next_id = self._next_id, self._next_id + 1
            self._pending[request_id] = future
            try:
                _send(proc.stdin, ("complete", request_id, messages, schema, max_tokens))  # type: ignore[arg-type]
            except (OSError, ValueError):  # the child is gone; the reader says why
                pass
        try:
            return future.result(timeout=None if self.deadline is None else max(self._left(), 0))
        except FutureTimeout:
            with self._send_lock:
                self._stop(f"{self._note} passed")
            raise NotAnswered(self._stopped or "") from None

    def close(self) -> None:
        with self._send_lock:
            proc = self._proc
            if proc is not None and proc.poll() is None:
                try:
                    _send(proc.stdin, ("exit",))  # type: ignore[arg-type]
                    proc.stdin.close()  # type: ignore[union-attr]
                    proc.wait(timeout=2)
                except (OSError, ValueError, subprocess.TimeoutExpired):
                    pass
            self._stop("the model process was closed")
        self._local.close()

    # -- the child -----------------------------------------------------------------

    def _left(self) -> float:
        return float("inf") if self.deadline is None else self.deadline - time.monotonic()

    def _start(self) -> subprocess.Popen[bytes]:
        package_root = str(Path(__file__).resolve().parents[2])  # the child runs this same reviewer
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        self._proc = subprocess.Popen([sys.executable, "-m", "reviewer.backends.isolated"], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, env=env)
        self.started += 1
        _send(self._proc.stdin, ("config", self._config))  # type: ignore[arg-type]
        threading.Thread(target=self._read, args=(self._proc,), name="reviewer-model-reader", daemon=True).start()
        return self._proc

    def _read(self, proc: subprocess.Popen[bytes]) -> None:
        """Hand each answer to its request; when the stream ends, fail every request still waiting."""
        stream = proc.stdout
        while True:
            try:
                kind, request_id, payload = pickle.load(stream)  # type: ignore[arg-type]
            except Exception:  # noqa: BLE001 -- EOF, a torn frame: the child is gone
                break
            future = self._pending.pop(request_id, None)
            if future is None:
                continue
            if kind == "ok":
                future.set_result(payload)
            else:
                future.set_exception(ModelUnavailable(payload))
        with self._send_lock:
            if self._stopped is None:
                self._stop(_death(proc))

    def _stop(self, reason: str) -> None:
        """No more answers: kill the child, fail whoever waits (call with _send_lock held)."""
        if self._stopped is None:
            self._stopped = reason
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()
            try:
                proc.wait(timeout=_KILL_WAIT_S)
            except subprocess.TimeoutExpired:
                pass
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(NotAnswered(self._stopped))


def _death(proc: subprocess.Popen[bytes]) -> str:
    """Why the child ended, in words: the signal's name, or its exit status."""
    try:
        code = proc.wait(timeout=_KILL_WAIT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        return "the model process stopped answering"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the model process crashed ({name})"
    return f"the model process exited (status {code})"


def _send(stream: BinaryIO, message: tuple[Any, ...]) -> None:
    pickle.dump(message, stream, protocol=pickle.HIGHEST_PROTOCOL)
    stream.flush()


def _serve() -> None:
    """The child: read the config, make the backend, answer requests (in parallel up to its max_parallel)."""
    import resource
    from concurrent.futures import ThreadPoolExecutor

    from reviewer.backends import make_backend

    # Ctrl-C reaches the whole process group: the hook's process handles it (and kills this one),
    # so this one prints no traceback of its own. A crash leaves no core file in the repository.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # whatever the engine prints goes to stderr, never into the answers
    sys.stdout = sys.stderr
    inp = sys.stdin.buffer
    _, config = pickle.load(inp)
    backend = make_backend(config)
    lock = threading.Lock()
    pool = ThreadPoolExecutor(max_workers=max(1, int(getattr(backend, "max_parallel", 1) or 1)))

    def answer(request_id: int, messages: list[Message], schema: dict[str, Any] | None, max_tokens: int) -> None:
        try:
            reply: tuple[Any, ...] = ("ok", request_id, backend.complete(messages, schema, max_tokens))
        except ReviewerError as exc:
            reply = ("error", request_id, str(exc))
        except Exception as exc:  # noqa: BLE001 -- the hook's process words it as a model failure
            reply = ("error", request_id, f"model {backend.info.name} failed: {type(exc).__name__}: {exc}")
        with lock:
            _send(out, reply)

    try:
        while True:
            try:
                message = pickle.load(inp)
            except EOFError:
                break
            if message[0] != "complete":
                break
            pool.submit(answer, *message[1:])
    finally:
        pool.shutdown(wait=True)
        backend.close()


if __name__ == "__main__":
    _serve()
