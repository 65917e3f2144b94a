"""Faults end to end, through the CLI: a broken or missing model, a misbehaving model server,
a shared or broken result cache, and writes that fail half-way.

Every model fault is run three ways: `reviewer review -o FILE` (exit 2, one stderr line that
says what and how to fix, no traceback, FILE untouched) and `reviewer hook run` under both
policies (fail-open: exit 0 and one warning line; fail-closed: exit 2). Servers are real
sockets on 127.0.0.1; the backoff sleeps are recorded instead of slept.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import threading
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT
from test_openai_backend import Reply, ScriptedServer, chat_reply

from reviewer import cli, fsutil
from reviewer.backends import Completion
from reviewer.backends.openai_http import OpenAIHTTPBackend
from reviewer.baseline import Baseline, load_baseline, save_baseline
from reviewer.cache import ResultCache, open_result_cache
from reviewer.errors import ReviewerError
from reviewer.models import DEFAULT_MODEL, REGISTRY, models_dir
from reviewer.tui.edits import EditError, apply_edit, plan_edit

REAL_GGUF = models_dir(None) / REGISTRY[DEFAULT_MODEL].filename  # the user's copy (install.sh pulls it); only its first 1 MiB is read

DIFF = """\
diff --git a/app/db.py b/app/db.py
--- a/app/db.py
+++ b/app/db.py
@@ -1,2 +1,3 @@
 def get_user(cur, user_id):
+    cur.execute(f"SELECT * FROM users WHERE id = {user_id}")
     return cur.fetchone()
diff --git a/app/calc.py b/app/calc.py
--- a/app/calc.py
+++ b/app/calc.py
@@ -1,2 +1,3 @@
 def total(xs):
+    xs = [x for x in xs if x != None]
     return sum(xs)
"""
SQL_FINDING = {"line": 2, "category": "security", "severity": "high", "title": "SQL injection",
               "message": "user_id is formatted into the query", "suggestion": ""}


def _has_llama_cpp() -> bool:
    try:
        import llama_cpp  # noqa: F401
    except Exception:  # noqa: BLE001 -- not installed, or its native library does not load
        return False
    return True


needs_llama = pytest.mark.skipif(not _has_llama_cpp(), reason="llama-cpp-python is not installed")


@pytest.fixture
def diff_file(tmp_path: Path) -> Path:
    path = tmp_path / "change.diff"
    path.write_text(DIFF)
    return path


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The openai backend's backoff sleeps, recorded instead of slept (the CLI builds the
    backend itself, so the default of its keyword-only `sleep` argument is swapped)."""
    slept: list[float] = []
    defaults = OpenAIHTTPBackend.__init__.__kwdefaults__
    assert defaults is not None and "sleep" in defaults
    monkeypatch.setitem(defaults, "sleep", slept.append)
    return slept


def run_cli(capfd: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """cli.main in-process; stdout and stderr captured at the file-descriptor level, so a
    native library writing to fd 2 would show up too."""
    code = cli.main(list(argv))
    out, err = capfd.readouterr()
    return code, out, err


def no_temp_files(directory: Path) -> bool:
    return not [p.name for p in directory.iterdir() if p.name.endswith((".tmp", ".part"))]


# --------------------------------------------------------------------------- fake servers


class RawServer:
    """A TCP server on 127.0.0.1 that hands every connection to `handle` in a thread, and counts them."""

    def __init__(self, handle: Callable[[socket.socket, threading.Event], None]) -> None:
        self.connections = 0
        self.stop = threading.Event()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.05)
        self.port = self._sock.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._handle = handle
        self._accepter = threading.Thread(target=self._accept, daemon=True)
        self._accepter.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            t.start()
            self._threads.append(t)

    def _serve(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            self._handle(conn, self.stop)

    def close(self) -> None:
        self.stop.set()
        self._accepter.join(2)
        for t in self._threads:
            t.join(2)
        self._sock.close()


def read_request(conn: socket.socket) -> None:
    """Read one HTTP request (headers and Content-Length body) so the client is done sending."""
    conn.settimeout(5)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return
        body += chunk


def never_answers(conn: socket.socket, stop: threading.Event) -> None:
    read_request(conn)
    stop.wait(10)


def closes_mid_response(conn: socket.socket, stop: threading.Event) -> None:
    read_request(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n"
                 b'{"id": "chatcmpl-1", "choices": [{"message": {"content": "{\\"find')


def bad_gzip(conn: socket.socket, stop: threading.Event) -> None:
    read_request(conn)
    body = b"this is not gzip at all" * 4
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
                 b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


# --------------------------------------------------------------------------- the fault matrix


@dataclass
class Fault:
    """One way the model cannot run: the CLI arguments that provoke it and what the error says."""

    argv: list[str]
    what: str  # names the problem
    fix: str  # tells how to fix it
    requests: int | None = None  # requests the server should have seen (None: not a server, or not counted)
    backoff: list[float] | None = None  # sleeps between attempts
    server: Any = None


def _scripted(replies: list[Reply]) -> ScriptedServer:
    server = ScriptedServer()
    server.script = replies
    return server


LLAMA_FAULTS = ["missing-path", "missing-registry-file", "truncated-gguf", "random-bytes", "gguf-header-garbage",
                "oom-memoryerror", "oom-context-alloc"]
SERVER_FAULTS = ["connection-refused", "timeout", "garbage-200", "html-200", "malformed-json-200", "bad-gzip-200",
                 "500-three-times", "400-not-retried", "closed-mid-response"]


def _fake_llama_module(error: BaseException) -> types.ModuleType:
    """A `llama_cpp` module whose Llama fails to load the way a failed allocation does."""

    class Llama:
        def __init__(self, **kwargs: Any) -> None:
            raise error

    module = types.ModuleType("llama_cpp")
    module.Llama = Llama  # type: ignore[attr-defined]
    return module


@pytest.fixture
def fault(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Fault]:
    name: str = request.param
    models = tmp_path / "models-in"
    models.mkdir()
    gguf_garbage = models / "header-garbage.gguf"
    gguf_garbage.write_bytes(b"GGUF" + os.urandom(64 * 1024))
    llama = ["--backend", "llama"]
    # --parallel 1: one request at a time, so the retry schedule below is that of one request
    openai = ["--backend", "openai", "--model", "qwen2.5-coder-1.5b-instruct", "--parallel", "1"]
    file_fix = "download it again, or point --model at a complete GGUF file"

    if name == "missing-path":
        f = Fault([*llama, "--model", str(tmp_path / "nope.gguf")], "nope.gguf not found", "check the path")
    elif name == "missing-registry-file":  # a model with no chunk packages: nothing to assemble, never downloads here
        f = Fault([*llama, "--model", "qwen2.5-coder-7b", "--cache-dir", str(tmp_path / "empty-cache")],
                  "model qwen2.5-coder-7b is not installed", "run `reviewer models pull qwen2.5-coder-7b`")
    elif name == "truncated-gguf":
        if not REAL_GGUF.is_file() or not _has_llama_cpp():
            pytest.skip(f"needs llama-cpp-python and {REAL_GGUF}")
        truncated = models / "truncated.gguf"
        with REAL_GGUF.open("rb") as src:
            truncated.write_bytes(src.read(1 << 20))
        f = Fault([*llama, "--model", str(truncated)], "the file is corrupt or truncated", file_fix)
    elif name == "random-bytes":
        noise = models / "noise.gguf"
        noise.write_bytes(os.urandom(64 * 1024).replace(b"GGUF", b"FUGG"))
        f = Fault([*llama, "--model", str(noise)], "noise.gguf is not a GGUF file",
                  "pass a .gguf model file or a registry name")
    elif name == "gguf-header-garbage":
        if not _has_llama_cpp():
            pytest.skip("needs llama-cpp-python")
        f = Fault([*llama, "--model", str(gguf_garbage)], "the file is corrupt or truncated", file_fix)
    elif name == "oom-memoryerror":
        monkeypatch.setitem(sys.modules, "llama_cpp", _fake_llama_module(MemoryError()))
        f = Fault([*llama, "--model", str(gguf_garbage)], "out of memory", "lower --ctx (now 4096)")
    elif name == "oom-context-alloc":  # what llama-cpp-python 0.3 raises when the KV cache cannot be allocated
        monkeypatch.setitem(sys.modules, "llama_cpp", _fake_llama_module(ValueError("Failed to create llama_context")))
        f = Fault([*llama, "--model", str(gguf_garbage)], "not enough memory for the model and a 4096-token context",
                  "lower --ctx (now 4096)")
    elif name == "connection-refused":
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]  # closed again: nothing listens there
        f = Fault([*openai, "--base-url", f"http://127.0.0.1:{port}/v1"], "connection refused",
                  "start it or fix --base-url", backoff=[0.5, 1.0])
    elif name == "timeout":
        monkeypatch.setenv("REVIEWER_TIMEOUT", "0.3")  # there is no --timeout flag; env and config file set it
        server = RawServer(never_answers)
        f = Fault([*openai, "--base-url", server.url], "timed out after 0.3s", "REVIEWER_TIMEOUT",
                  requests=3, backoff=[0.5, 1.0], server=server)
    elif name == "closed-mid-response":
        server = RawServer(closes_mid_response)
        f = Fault([*openai, "--base-url", server.url], "dropped the connection", "check the server log",
                  requests=3, backoff=[0.5, 1.0], server=server)
    elif name == "bad-gzip-200":
        server = RawServer(bad_gzip)
        f = Fault([*openai, "--base-url", server.url], "sent a response that cannot be read",
                  "check the server, or a proxy in between", requests=1, backoff=[], server=server)
    else:
        replies, what, fix, requests, backoff = {
            "garbage-200": ([Reply(200, b"\x00\xffgarbage\x13\x37")], "not a chat completion",
                            "check that --base-url", 1, []),
            "html-200": ([Reply(200, "<html><body>Please log in</body></html>")],
                         "not a chat completion ('<html><body>Please log in</body></html>')",
                         "check that --base-url", 1, []),
            "malformed-json-200": ([Reply(200, '{"choices": [{"message": {"content": "{}"')],
                                   "not a chat completion", "check that --base-url", 1, []),
            "500-three-times": ([Reply(500, "CUDA error: out of memory")],
                                "answered HTTP 500: CUDA error: out of memory", "check the server's log",
                                3, [0.5, 1.0]),
            "400-not-retried": ([Reply(400, '{"error": {"message": "response_format not supported"}}')],
                                "answered HTTP 400", "check --model", 1, []),
        }[name]
        server = _scripted(replies)
        f = Fault([*openai, "--base-url", server.url + "/v1"], what, fix, requests=requests, backoff=backoff,
                  server=server)
    try:
        yield f
    finally:
        if f.server is not None:
            f.server.close()


def _requests_seen(f: Fault) -> int | None:
    if f.server is None:
        return None
    return f.server.connections if isinstance(f.server, RawServer) else len(f.server.requests)


def _check_retries(f: Fault, sleeps: list[float]) -> None:
    if f.requests is not None:
        assert _requests_seen(f) == f.requests
    if f.backoff is not None:
        assert sleeps == f.backoff


ALL_FAULTS = LLAMA_FAULTS + SERVER_FAULTS


@pytest.mark.parametrize("fault", ALL_FAULTS, indirect=True)
def test_review_reports_the_fault_in_one_line_and_writes_nothing(
        fault: Fault, diff_file: Path, tmp_path: Path, sleeps: list[float], capfd: pytest.CaptureFixture[str]) -> None:
    out_file = tmp_path / "report.json"
    out_file.write_text("the previous report\n")
    code, out, err = run_cli(capfd, "review", "--diff", str(diff_file), "--no-cache", "--no-analyzers",
                             "--format", "json", "-o", str(out_file), *fault.argv)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert err.startswith("reviewer: error: ") and "Traceback" not in err and "internal error" not in err
    assert fault.what in err and fault.fix in err
    assert err.index(fault.what) < err.index(fault.fix)  # what went wrong first, then what to do
    assert out_file.read_text() == "the previous report\n"
    assert no_temp_files(tmp_path)
    _check_retries(fault, sleeps)


@pytest.mark.parametrize("policy", ["fail-open", "fail-closed"])
@pytest.mark.parametrize("fault", ALL_FAULTS, indirect=True)
def test_hook_follows_its_policy(fault: Fault, policy: str, diff_file: Path, sleeps: list[float],
                                 capfd: pytest.CaptureFixture[str]) -> None:
    # --hook-timeout 0: the model in the hook's own process, where the faults above are staged
    # (monkeypatched llama_cpp, recorded sleeps); the child process is test_hook_in_a_child_...
    code, out, err = run_cli(capfd, "hook", "run", "--diff", str(diff_file), "--no-cache", "--no-analyzers",
                             "--hook-policy", policy, "--hook-timeout", "0", *fault.argv)
    assert out == ""
    assert err.count("\n") == 1 and "Traceback" not in err and "internal error" not in err, err
    assert fault.what in err and fault.fix in err
    if policy == "fail-open":
        assert code == 0
        assert err.startswith("reviewer: warning: not reviewed, the model could not run: ")
        assert err.rstrip().endswith("(hook_policy is fail-open; set it to fail-closed to block instead)")
    else:
        assert code == 2
        assert err.startswith("reviewer: error: ") and err.rstrip().endswith("(hook_policy is fail-closed)")
    _check_retries(fault, sleeps)


@pytest.mark.parametrize("fault", ["missing-path", "truncated-gguf", "garbage-200", "400-not-retried"], indirect=True)
def test_hook_in_a_child_process_reports_faults_in_the_same_line(fault: Fault, diff_file: Path, sleeps: list[float],
                                                                  capfd: pytest.CaptureFixture[str]) -> None:
    """The default hook runs the model in a child process (reviewer/backends/isolated.py):
    the faults that need no patching of this process come back worded as in process."""
    code, out, err = run_cli(capfd, "hook", "run", "--diff", str(diff_file), "--no-cache", "--no-analyzers",
                             *fault.argv)
    assert (code, out) == (0, "")
    assert err.count("\n") == 1 and "Traceback" not in err and fault.what in err and fault.fix in err, err
    assert err.startswith("reviewer: warning: not reviewed, the model could not run: ")


def test_hook_on_staged_changes_fails_open_when_the_server_is_down(
        make_repo: Callable[[dict[str, str]], Path], monkeypatch: pytest.MonkeyPatch, sleeps: list[float],
        capfd: pytest.CaptureFixture[str]) -> None:
    """The hook as git runs it: no diff flag, the staged change, settings from the repository's config."""
    repo = make_repo({"app.py": "def ping():\n    return 'pong'\n"})
    (repo / "app.py").write_text("def ping():\n    return eval('pong')\n")
    subprocess.run(["git", "add", "app.py"], cwd=repo, check=True)
    # hook-timeout 0: the model in this process, so the backoff sleeps are recorded, not slept
    (repo / ".reviewer.toml").write_text('backend = "openai"\nbase-url = "http://127.0.0.1:9/v1"\nhook-timeout = 0\n')
    monkeypatch.chdir(repo)
    code, out, err = run_cli(capfd, "hook", "run", "--no-cache")
    assert (code, out) == (0, "")
    assert err.startswith("reviewer: warning: not reviewed") and "cannot reach model server" in err
    assert err.count("\n") == 1 and sleeps == [0.5, 1.0]
    (repo / ".reviewer.toml").write_text('backend = "openai"\nbase-url = "http://127.0.0.1:9/v1"\n'
                                         'hook-policy = "fail-closed"\nhook-timeout = 0\n')
    code, out, err = run_cli(capfd, "hook", "run", "--no-cache")
    assert (code, out) == (2, "") and err.rstrip().endswith("(hook_policy is fail-closed)")


@pytest.mark.parametrize("which", ["truncated", "header-garbage"])
def test_native_load_failure_in_a_real_process_is_one_line(which: str, diff_file: Path, tmp_path: Path) -> None:
    """The real llama.cpp in a real process: nothing it logs natively reaches stderr, no core dump."""
    if not _has_llama_cpp() or (which == "truncated" and not REAL_GGUF.is_file()):
        pytest.skip(f"needs llama-cpp-python (and {REAL_GGUF} for the truncated copy)")
    model = tmp_path / f"{which}.gguf"
    if which == "truncated":
        with REAL_GGUF.open("rb") as src:
            model.write_bytes(src.read(1 << 20))
    else:
        model.write_bytes(b"GGUF" + os.urandom(64 * 1024))
    done = subprocess.run([sys.executable, "-m", "reviewer", "review", "--diff", str(diff_file), "--no-cache",
                           "--no-analyzers", "--model", str(model), "-o", str(tmp_path / "out.txt")],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False,
                          env={**os.environ, "REVIEWER_BACKEND": "llama"})
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"reviewer: error: cannot load model {which} from {model}: the file is corrupt "
                                  "or truncated (")  # with llama.cpp's own reason in the parentheses
    assert not (tmp_path / "out.txt").exists()


def test_context_allocation_failure_names_memory_and_the_native_reason(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """llama.cpp says why in its log ("insufficient memory ..."); the exception only "Failed to create
    llama_context". The error must name memory and --ctx, not blame the file."""
    from reviewer.backends.llama_cpp import LlamaCppBackend
    from reviewer.config import Config

    messages: list[bytes] = []

    class Llama:
        def __init__(self, **kwargs: Any) -> None:
            for level, text in ((3, b"llama_context: n_ctx_seq (9000000) > n_ctx_train (32768)\n"),
                                (4, b"ggml_aligned_malloc: insufficient memory (attempted to allocate 585939.00 MB)\n"),
                                (4, b"llama_init_from_model: failed to initialize the context\n")):
                module.current(level, text, None)
            raise ValueError("Failed to create llama_context")

    def log_set(callback: Any, user_data: Any) -> None:
        module.current = callback

    def default(level: int, text: bytes, user_data: Any) -> None:
        messages.append(text)  # what the default callback would have printed

    module = types.ModuleType("llama_cpp")
    module.Llama = Llama  # type: ignore[attr-defined]
    module.llama_log_set = log_set  # type: ignore[attr-defined]
    module.llama_log_callback = lambda f: f  # type: ignore[attr-defined]
    module._logger = types.SimpleNamespace(llama_log_callback=default)  # type: ignore[attr-defined]
    module.current = default  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "llama_cpp", module)
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF" + bytes(100))
    backend = LlamaCppBackend(Config(model=str(model), ctx=9_000_000, n_gpu_layers=-1, cache_dir=tmp_path))
    with pytest.raises(ReviewerError) as info:
        backend.complete([{"role": "user", "content": "x"}], None, 8)
    msg = str(info.value)
    assert "not enough memory for the model and a 9000000-token context (insufficient memory (attempted " in msg
    assert "lower --ctx (now 9000000) or --n-gpu-layers (now -1)" in msg
    assert "corrupt" not in msg and "\n" not in msg
    assert messages == []  # nothing went to the default (printing) callback during the load
    assert module.current is default  # and it is back afterwards


# --------------------------------------------------------------------------- model text that is not a review


def _json_review(capfd: pytest.CaptureFixture[str], diff_file: Path, tmp_path: Path, server: ScriptedServer,
                 *extra: str) -> tuple[int, dict[str, Any], str]:
    out_file = tmp_path / "review.json"
    # --parallel 1: the scripted server answers in arrival order, so requests must arrive in hunk order;
    # --block all: exit 1 on the model's own findings, which say the run went on (reviewer/blocking.py)
    code, out, err = run_cli(capfd, "review", "--diff", str(diff_file), "--no-analyzers", "--format", "json",
                             "-o", str(out_file), "--backend", "openai", "--base-url", server.url, "--parallel", "1",
                             "--block", "all", *extra)
    assert out == ""
    return code, json.loads(out_file.read_text()), err


@pytest.mark.parametrize("answer", [
    "Sure! This code looks fine to me.",  # prose, not JSON
    '{"findings": [{"line": 2, "category": "securi',  # cut off mid-answer
    '{"findings": "none"}',  # JSON, wrong shape
    "",
])
def test_garbage_model_text_skips_that_hunk_and_the_run_goes_on(
        answer: str, diff_file: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    server = _scripted([Reply(body=chat_reply(json.dumps({"findings": [SQL_FINDING]}))),
                        Reply(body=chat_reply(answer))])
    try:
        code, report, err = _json_review(capfd, diff_file, tmp_path, server, "--no-cache")
    finally:
        server.close()
    assert code == 1 and err == ""  # the first hunk's high finding still fails the run
    assert [(f["path"], f["line"], f["title"]) for f in report["findings"]] == [("app/db.py", 2, "SQL injection")]
    assert report["stats"]["hunks"] == 2 and len(server.requests) == 2


def test_garbage_model_text_is_marked_malformed_per_hunk(diff_file: Path, tmp_path: Path) -> None:
    from reviewer.config import Config
    from reviewer.diff import DiffSource
    from reviewer.pipeline import NoProgress, review_hunks
    from reviewer.session import parse_source

    server = _scripted([Reply(body=chat_reply("no JSON here")), Reply(body=chat_reply('{"findings": []}'))])
    # parallel=1: the scripted server answers in arrival order, so requests must arrive in hunk order
    # (with 4 in flight the garbage reply went to either hunk: a flaky test)
    config = Config(backend="openai", base_url=server.url, model="m", cache=False, analyzers=False, parallel=1)
    backend = OpenAIHTTPBackend(config, env={}, sleep=lambda s: None)
    try:
        parsed = parse_source(DiffSource("file", str(diff_file)), tmp_path, config)
        results = list(review_hunks(parsed.hunks, backend, config, None, NoProgress()))
    finally:
        backend.close()
        server.close()
    assert [(r.hunk.path, r.malformed, r.findings) for r in results] == [("app/db.py", True, ()),
                                                                         ("app/calc.py", False, ())]


def test_findings_that_do_not_fit_the_schema_are_dropped_and_counted(
        diff_file: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    invalid = {"findings": [
        {**SQL_FINDING, "line": 99},  # not a line of the hunk
        {**SQL_FINDING, "category": "vibes"},  # not a category
        {**SQL_FINDING, "severity": "catastrophic"},
        {**SQL_FINDING, "line": "two"},
        "just a string",
    ]}
    server = _scripted([Reply(body=chat_reply(json.dumps(invalid))), Reply(body=chat_reply('{"findings": []}'))])
    try:
        code, report, err = _json_review(capfd, diff_file, tmp_path, server, "--no-cache")
    finally:
        server.close()
    assert (code, err) == (0, "")
    assert report["findings"] == [] and report["stats"]["dropped_findings"] == 5


def test_garbage_model_text_in_the_hook_passes(diff_file: Path, capfd: pytest.CaptureFixture[str]) -> None:
    server = _scripted([Reply(body=chat_reply("I cannot review this."))])
    try:
        code, out, err = run_cli(capfd, "hook", "run", "--diff", str(diff_file), "--no-cache", "--no-analyzers",
                                 "--hook-policy", "fail-closed", "--backend", "openai", "--base-url", server.url)
    finally:
        server.close()
    assert (code, out, err) == (0, "", "")


# --------------------------------------------------------------------------- the result cache


def _cache_worker(path: str, name: str, start: Any) -> None:
    """One process: 200 puts and gets, its own keys and keys shared with the other process."""
    start.wait(60)  # both processes open the cache at the same moment
    cache = ResultCache(Path(path))
    for i in range(200):
        own = f"{name}-{i}"
        cache.put(own, Completion(f"{name}:{i}", i, 2 * i))
        cache.put(f"shared-{i % 50}", Completion(f"shared {i % 50} by {name}", i, i))
        assert cache.get(own) == Completion(f"{name}:{i}", i, 2 * i)
        cache.get(f"shared-{(i * 7) % 50}")
        cache.get(f"{'b' if name == 'a' else 'a'}-{i}")  # the other's key: there or not, never an error
    cache.close()


def test_two_processes_share_a_fresh_cache(tmp_path: Path) -> None:
    path = tmp_path / "fresh" / "results.sqlite3"  # not created beforehand: both race to create it
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(2)
    procs = [ctx.Process(target=_cache_worker, args=(str(path), name, start)) for name in ("a", "b")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    cache = ResultCache(path)
    for name in ("a", "b"):
        for i in range(200):
            assert cache.get(f"{name}-{i}") == Completion(f"{name}:{i}", i, 2 * i)
    for k in range(50):
        got = cache.get(f"shared-{k}")
        assert got is not None and got.text in (f"shared {k} by a", f"shared {k} by b")
    cache.close()
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone() == ("ok",)


def _many_files_diff(n: int) -> str:
    return "".join(
        f"diff --git a/m{i}.py b/m{i}.py\n--- a/m{i}.py\n+++ b/m{i}.py\n@@ -1,1 +1,2 @@\n"
        f" def f{i}(x):\n+    return eval(x + '{i}')\n" for i in range(n))


def test_two_reviews_at_once_share_one_cache_dir(tmp_path: Path) -> None:
    diff = tmp_path / "many.diff"
    diff.write_text(_many_files_diff(40))
    argv = [sys.executable, "-m", "reviewer", "review", "--backend", "fake", "--diff", str(diff), "--no-analyzers",
            "--format", "json", "--cache-dir", str(tmp_path / "shared-cache"), "-q", "--block", "all"]
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
             for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [1, 1], outs
    assert [err for _, err in outs] == ["", ""]
    reports = [json.loads(out) for out, _ in outs]
    assert reports[0]["findings"] == reports[1]["findings"] and len(reports[0]["findings"]) == 40
    again = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False)
    assert again.returncode == 1 and json.loads(again.stdout)["stats"]["cached"] == 40


WRITER = """
import sys
from pathlib import Path
from reviewer.backends import Completion
from reviewer.cache import ResultCache
cache = ResultCache(Path(sys.argv[1]))
i = 0
while True:
    cache.put(f"k{i}", Completion("x" * 3000 + f"|{i}", i, i))
    print(i, flush=True)
    i += 1
"""


def test_a_killed_writer_leaves_a_sound_cache(tmp_path: Path) -> None:
    path = tmp_path / "results.sqlite3"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True,
                            cwd=ROOT)
    assert proc.stdout is not None
    last = -1
    for line in proc.stdout:
        last = int(line)
        if last >= 300:
            break
    proc.send_signal(signal.SIGKILL)  # mid-write: it is still putting as fast as it can
    proc.wait(30)
    assert proc.returncode == -signal.SIGKILL and last >= 300
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    db.close()
    cache = ResultCache(path)
    for i in range(last + 1):  # everything it reported as written is there, whole
        assert cache.get(f"k{i}") == Completion("x" * 3000 + f"|{i}", i, i)
    cache.put("after", Completion("ok"))  # and the cache is writable again
    assert cache.get("after") == Completion("ok")
    cache.close()


def _fake_review(capfd: pytest.CaptureFixture[str], diff_file: Path, cache_dir: Path) -> tuple[int, str, str]:
    return run_cli(capfd, "review", "--backend", "fake", "--diff", str(diff_file), "--no-analyzers",
                   "--cache-dir", str(cache_dir), "--block", "all")  # exit 1: the model's finding (no analyzers)


def test_a_cache_file_of_garbage_warns_once_and_the_review_runs(
        diff_file: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    (cache_dir / "results.sqlite3").write_bytes(os.urandom(8192))
    code, out, err = _fake_review(capfd, diff_file, cache_dir)
    assert code == 1 and "SQL built with string formatting" in out
    assert err.count("\n") == 1 and err.startswith("reviewer: warning: result cache ")
    assert "file is not a database" in err and "reviewing without it" in err
    assert "delete that file to start a new cache" in err
    code, _, err = run_cli(capfd, "hook", "run", "--backend", "fake", "--diff", str(diff_file), "--no-analyzers",
                           "--cache-dir", str(cache_dir), "--hook-policy", "fail-closed", "--block", "all")
    assert code == 1 and err.count("\n") == 1 and "result cache" in err  # a broken cache is not a broken model


def test_a_cache_with_corrupt_pages_warns_once_and_the_review_runs(
        diff_file: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    cache_dir = tmp_path / "cache"
    cache = ResultCache(cache_dir / "results.sqlite3")
    for i in range(200):
        cache.put(f"k{i}", Completion("y" * 500))
    cache.close()  # the last connection checkpoints the WAL into the main file
    path = cache_dir / "results.sqlite3"
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 4 * page
    data[page:] = os.urandom(len(data) - page)  # keep the header page, ruin the table's pages
    path.write_bytes(bytes(data))
    code, out, err = _fake_review(capfd, diff_file, cache_dir)
    assert code == 1 and "SQL built with string formatting" in out
    assert err.count("\n") == 1 and err.startswith("reviewer: warning: result cache ") and "going on without it" in err


def test_a_cache_dir_that_cannot_be_created_warns(diff_file: Path, tmp_path: Path,
                                                  capfd: pytest.CaptureFixture[str]) -> None:
    not_a_dir = tmp_path / "cache-is-a-file"
    not_a_dir.write_text("")
    code, out, err = _fake_review(capfd, diff_file, not_a_dir)
    assert code == 1 and "SQL built with string formatting" in out
    assert err.count("\n") == 1 and "cannot be used" in err and "set cache_dir" in err


def test_a_failing_cache_turns_itself_off_after_one_warning(tmp_path: Path) -> None:
    warnings: list[str] = []
    cache = open_result_cache(tmp_path, warn=warnings.append)
    assert cache is not None
    cache.put("k", Completion("v"))
    cache._db.close()  # any sqlite3.Error from here on: a closed handle stands in for a disk error
    assert cache.get("k") is None
    cache.put("k2", Completion("v2"))
    assert cache.get("k2") is None
    assert len(warnings) == 1 and "failed" in warnings[0]


# --------------------------------------------------------------------------- writes that fail half-way


class Interrupted(KeyboardInterrupt):
    """Ctrl-C in the middle of a write."""


def _interrupt_fsync(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first fsync (after the data went to the temp file, before the rename) is interrupted."""

    def fsync(fd: int) -> None:
        raise Interrupted

    monkeypatch.setattr(fsutil.os, "fsync", fsync)


def _fail_replace(monkeypatch: pytest.MonkeyPatch) -> None:
    def replace(src: Any, dst: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", replace)


def test_atomic_write_keeps_the_old_file_when_the_rename_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "f.txt"
    target.write_text("old")
    _fail_replace(monkeypatch)
    with pytest.raises(OSError, match="No space left"):
        fsutil.atomic_write_text(target, "new")
    assert target.read_text() == "old" and no_temp_files(tmp_path)


def test_atomic_write_cleans_up_after_an_interrupt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "f.txt"
    target.write_text("old")
    _interrupt_fsync(monkeypatch)
    with pytest.raises(Interrupted):
        fsutil.atomic_write_text(target, "new " * 10000)
    assert target.read_text() == "old" and no_temp_files(tmp_path)


def test_atomic_write_syncs_keeps_the_mode_and_follows_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(fsutil.os, "fsync", fsync)
    script = tmp_path / "run.sh"
    script.write_text("#!/bin/sh\necho old\n")
    script.chmod(0o750)
    link = tmp_path / "link.sh"
    link.symlink_to(script.name)
    fsutil.atomic_write_text(link, "#!/bin/sh\necho new\n")
    assert link.is_symlink() and script.read_text() == "#!/bin/sh\necho new\n"
    assert stat.S_IMODE(script.stat().st_mode) == 0o750
    assert len(synced) >= 1  # the data, before the rename (the directory after it, where possible)
    old_umask = os.umask(0o027)
    try:
        fsutil.atomic_write_bytes(tmp_path / "new.bin", b"\x00")
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE((tmp_path / "new.bin").stat().st_mode) == 0o640  # 0o666 less the umask, like open()
    assert no_temp_files(tmp_path)


def test_review_output_is_not_replaced_when_the_write_fails(
        diff_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    out_file = tmp_path / "report.txt"
    out_file.write_text("previous\n")
    _fail_replace(monkeypatch)
    code, out, err = run_cli(capfd, "review", "--backend", "fake", "--diff", str(diff_file), "--no-cache",
                             "--no-analyzers", "-o", str(out_file))
    assert (code, out) == (2, "")
    assert err == f"reviewer: error: cannot write {out_file}: No space left on device\n"
    assert out_file.read_text() == "previous\n" and no_temp_files(tmp_path)


def test_review_output_leaves_no_temp_file_after_an_interrupt(
        diff_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    out_file = tmp_path / "report.txt"
    out_file.write_text("previous\n")
    real_replace = os.replace

    def replace(src: Any, dst: Any) -> None:
        if Path(dst) == out_file:
            raise Interrupted
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    code, _, _ = run_cli(capfd, "review", "--backend", "fake", "--diff", str(diff_file), "--no-cache",
                         "--no-analyzers", "-o", str(out_file))
    assert code == 130 and out_file.read_text() == "previous\n"
    assert no_temp_files(tmp_path)


def _script_and_finding(tmp_path: Path) -> tuple[Path, Any, list[str]]:
    from reviewer.types import Category, Finding, Severity

    repo = tmp_path / "repo"
    repo.mkdir()
    script = repo / "deploy.sh"
    script.write_text("#!/bin/sh\nrm -rf $TARGET/\necho done\n")
    script.chmod(0o755)
    finding = Finding("deploy.sh", 2, 2, Category.BUG, Severity.HIGH, "Unquoted variable",
                      "An empty TARGET removes /.", 'rm -rf "${TARGET:?}/"')
    return script, finding, ["rm -rf $TARGET/"]


def test_accept_keeps_an_executable_script_executable(tmp_path: Path) -> None:
    script, finding, reviewed = _script_and_finding(tmp_path)
    apply_edit(plan_edit(script.parent, finding, reviewed))
    assert script.read_text() == '#!/bin/sh\nrm -rf "${TARGET:?}/"\necho done\n'
    assert os.access(script, os.X_OK) and stat.S_IMODE(script.stat().st_mode) == 0o755
    assert no_temp_files(script.parent)


@pytest.mark.parametrize("failure", ["no-space", "interrupt"])
def test_accept_that_fails_half_way_leaves_the_file_as_it_was(
        failure: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script, finding, reviewed = _script_and_finding(tmp_path)
    before = script.read_bytes()
    edit = plan_edit(script.parent, finding, reviewed)
    if failure == "no-space":
        _fail_replace(monkeypatch)
        with pytest.raises(EditError, match="cannot write .*No space left on device"):
            apply_edit(edit)
    else:
        _interrupt_fsync(monkeypatch)
        with pytest.raises(Interrupted):
            apply_edit(edit)
    assert script.read_bytes() == before and no_temp_files(script.parent)


@pytest.mark.parametrize("failure", ["no-space", "interrupt"])
def test_baseline_write_that_fails_half_way_keeps_the_old_baseline(
        failure: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from helpers import make_finding

    path = tmp_path / ".reviewer-baseline.json"
    save_baseline(path, Baseline().with_finding(make_finding(), "checked"))
    before = path.read_bytes()
    bigger = Baseline().with_finding(make_finding(), "checked").with_finding(make_finding(line=12), "also")
    if failure == "no-space":
        _fail_replace(monkeypatch)
        with pytest.raises(ReviewerError, match="cannot write baseline .*No space left on device"):
            save_baseline(path, bigger)
    else:
        _interrupt_fsync(monkeypatch)
        with pytest.raises(Interrupted):
            save_baseline(path, bigger)
    assert path.read_bytes() == before and len(load_baseline(path)) == 1
    assert no_temp_files(tmp_path)


def _suggestion(name: str, path: str) -> Any:
    return types.SimpleNamespace(
        name=name, path=path, status="passed", regression=False, preamble=("from mathx import double",),
        unit=f"def {name}():\n    assert double(2) == 4\n", target=types.SimpleNamespace(qualname="double"))


@pytest.mark.parametrize("failure", [None, "no-space", "interrupt"])
def test_tests_write_is_atomic_and_keeps_the_mode(
        failure: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from reviewer.testgen.write import write_tests

    tests_dir = tmp_path / "tests"
    tests_dir.mkdir()
    existing = tests_dir / "test_mathx.py"
    existing.write_text('"""Old tests."""\n\n\ndef test_old():\n    assert True\n')
    existing.chmod(0o640)
    before = existing.read_bytes()
    session = types.SimpleNamespace(tree=None)  # no sandbox: write what was given
    result = types.SimpleNamespace(suggestions=(_suggestion("test_double", "tests/test_mathx.py"),))
    if failure is None:
        written = write_tests(session, result, tmp_path, "", False)  # type: ignore[arg-type]
        assert written == [(str(existing), 1)]
        assert "def test_old" in existing.read_text() and "def test_double" in existing.read_text()
        assert stat.S_IMODE(existing.stat().st_mode) == 0o640
    elif failure == "no-space":
        _fail_replace(monkeypatch)
        with pytest.raises(ReviewerError, match="cannot write .*No space left on device"):
            write_tests(session, result, tmp_path, "", False)  # type: ignore[arg-type]
        assert existing.read_bytes() == before
    else:
        _interrupt_fsync(monkeypatch)
        with pytest.raises(Interrupted):
            write_tests(session, result, tmp_path, "", False)  # type: ignore[arg-type]
        assert existing.read_bytes() == before
    assert no_temp_files(tests_dir)


@pytest.mark.parametrize("failure", ["no-space", "interrupt"])
def test_model_assembly_that_fails_leaves_no_partial_model(
        failure: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hashlib

    from reviewer import models

    parts = []
    for n in range(3):
        part = tmp_path / f"part{n}.bin"
        part.write_bytes(bytes([n]) * 100_000)
        parts.append(part)
    data = b"".join(p.read_bytes() for p in parts)
    spec = models.ModelSpec("tiny", "tiny.gguf", len(data), hashlib.sha256(data).hexdigest(), None, None, None, "t")
    mdir = tmp_path / "models"
    mdir.mkdir()
    final = mdir / "tiny.gguf"
    def progress(done: int, total: int) -> None:
        if done > total // 2:
            raise Interrupted

    with monkeypatch.context() as patch:
        if failure == "no-space":
            _fail_replace(patch)
            with pytest.raises(ReviewerError, match="cannot write .*No space left on device"):
                models._assemble(parts, spec, final, None)
        else:
            with pytest.raises(Interrupted):
                models._assemble(parts, spec, final, progress)
    assert not final.exists() and list(mdir.iterdir()) == []
    models._assemble(parts, spec, final, None)  # and the next try works
    assert final.read_bytes() == data
