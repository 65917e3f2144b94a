"""OpenAIHTTPBackend against a real HTTP server on 127.0.0.1 that replies from a script."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from reviewer.backends import Backend
from reviewer.backends.openai_http import OpenAIHTTPBackend, normalize_base_url
from reviewer.config import Config
from reviewer.errors import ReviewerError

SECRET = "sk-test-9f8e7d6c5b4a-do-not-leak"
SCHEMA = {"type": "object", "properties": {"findings": {"type": "array"}}, "required": ["findings"]}
MESSAGES = [{"role": "system", "content": "You review code."}, {"role": "user", "content": "def f(): pass"}]


def chat_reply(text: str, prompt_tokens: int = 12, completion_tokens: int = 5) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": 17},
    }


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict -> JSON, str/bytes -> raw
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class ScriptedServer:
    """Answers requests in order from `script` (the last reply repeats) and records them."""

    def __init__(self) -> None:
        self.script: list[Reply] = []
        self.requests: list[Recorded] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length)
                server.requests.append(
                    Recorded("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, data)
                )
                idx = min(len(server.requests) - 1, len(server.script) - 1)
                reply = server.script[idx] if server.script else Reply(body=chat_reply("{}"))
                if reply.delay:
                    time.sleep(reply.delay)
                body = reply.body
                if isinstance(body, (dict, list)):
                    raw = json.dumps(body).encode()
                elif isinstance(body, str):
                    raw = body.encode()
                else:
                    raw = body or b""
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(raw)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    s = ScriptedServer()
    yield s
    s.close()


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make(
    base_url: str | None, env: dict[str, str] | None = None, timeout: float = 5.0, **kw: Any
) -> tuple[OpenAIHTTPBackend, Sleeps]:
    sleeps = Sleeps()
    config = Config(backend="openai", base_url=base_url, model="qwen2.5-coder-1.5b-instruct", timeout=timeout, **kw)
    return OpenAIHTTPBackend(config, env=env or {}, sleep=sleeps), sleeps


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- requests -------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", "/", "/v1", "/v1/"])
def test_request_path_and_body(server: ScriptedServer, suffix: str) -> None:
    server.script = [Reply(body=chat_reply('{"findings": []}'))]
    backend, _ = make(server.url + suffix)
    backend.complete(MESSAGES, SCHEMA, 256)
    backend.close()
    [req] = server.requests
    assert req.path == "/v1/chat/completions"
    assert req.headers["content-type"] == "application/json"
    assert req.json() == {
        "model": "qwen2.5-coder-1.5b-instruct",
        "messages": MESSAGES,
        "temperature": 0,
        "max_tokens": 256,
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "review", "schema": SCHEMA, "strict": True},
        },
    }


def test_server_without_json_schema_support_gets_the_json_object_form(server: ScriptedServer) -> None:
    # What llama-cpp-python's own server (llama_cpp.server 0.3.x) answers to OpenAI's json_schema form.
    rejected = {"error": {"message": "1 validation error: {'type': 'literal_error', 'loc': ('body', "
                          "'response_format', 'type'), 'msg': \"Input should be 'text' or 'json_object'\", "
                          "'input': 'json_schema'}"}}
    server.script = [Reply(status=500, body=rejected), Reply(body=chat_reply('{"findings": []}'))]
    backend, sleeps = make(server.url)
    assert backend.complete(MESSAGES, SCHEMA, 256).text == '{"findings": []}'
    backend.complete(MESSAGES, SCHEMA, 256)
    backend.close()
    first, second, third = (r.json()["response_format"] for r in server.requests)
    assert first["type"] == "json_schema"
    assert second == third == {"type": "json_object", "schema": SCHEMA}  # switched once, for good
    assert sleeps == []  # not a retry with backoff: a different request


def test_concurrent_requests_all_switch_to_the_json_object_form() -> None:
    """With --parallel, several requests are rejected before the first switch is made:
    each must be re-sent in the other form, not retried as it was."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    barrier = threading.Barrier(3, timeout=5)
    styles: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            style = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["response_format"]["type"]
            styles.append(style)
            if style == "json_schema":
                barrier.wait()  # all three are rejected together
                raw = b'{"detail": "response_format: json_schema is not supported"}'
                self.send_response(500)
            else:
                raw = json.dumps(chat_reply('{"findings": []}')).encode()
                self.send_response(200)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args: object) -> None: ...

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    backend, sleeps = make(f"http://127.0.0.1:{httpd.server_address[1]}/v1")
    results: list[str] = []
    workers = [threading.Thread(target=lambda: results.append(backend.complete(MESSAGES, SCHEMA, 64).text))
               for _ in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(10)
    backend.close()
    httpd.shutdown()
    httpd.server_close()
    assert results == ['{"findings": []}'] * 3
    assert sorted(styles) == ["json_object"] * 3 + ["json_schema"] * 3 and sleeps == []


def test_other_500s_do_not_switch_the_format(server: ScriptedServer) -> None:
    server.script = [Reply(status=500, body="out of slots"), Reply(body=chat_reply('{"findings": []}'))]
    backend, _ = make(server.url)
    backend.complete(MESSAGES, SCHEMA, 256)
    backend.close()
    assert [r.json()["response_format"]["type"] for r in server.requests] == ["json_schema", "json_schema"]


def test_no_schema_no_response_format(server: ScriptedServer) -> None:
    server.script = [Reply(body=chat_reply("plain text"))]
    backend, _ = make(server.url)
    assert backend.complete(MESSAGES, None, 10).text == "plain text"
    assert "response_format" not in server.requests[0].json()


def test_auth_header_when_env_var_set(server: ScriptedServer) -> None:
    backend, _ = make(server.url, env={"MY_KEY": SECRET}, api_key_env="MY_KEY")
    backend.complete(MESSAGES, None, 10)
    assert server.requests[0].headers["authorization"] == f"Bearer {SECRET}"
    assert SECRET not in repr(backend)


def test_no_auth_header_without_env_var(server: ScriptedServer) -> None:
    backend, _ = make(server.url, env={"OTHER": "x"})
    backend.complete(MESSAGES, None, 10)
    assert "authorization" not in server.requests[0].headers


def test_success_parses_text_and_usage(server: ScriptedServer) -> None:
    server.script = [Reply(body=chat_reply('{"findings": [1]}', prompt_tokens=812, completion_tokens=240))]
    backend, sleeps = make(server.url)
    c = backend.complete(MESSAGES, SCHEMA, 100)
    assert (c.text, c.prompt_tokens, c.completion_tokens) == ('{"findings": [1]}', 812, 240)
    assert sleeps == []


def test_missing_usage_is_zero(server: ScriptedServer) -> None:
    reply = chat_reply("x")
    del reply["usage"]
    server.script = [Reply(body=reply)]
    backend, _ = make(server.url)
    c = backend.complete(MESSAGES, None, 10)
    assert (c.prompt_tokens, c.completion_tokens) == (0, 0)


def test_one_client_reused(server: ScriptedServer) -> None:
    backend, _ = make(server.url)
    for _ in range(3):
        backend.complete(MESSAGES, None, 10)
    assert len(server.requests) == 3
    backend.close()
    backend.close()  # idempotent


# -- info ---------------------------------------------------------------------------


def test_info_identifies_endpoint_and_model() -> None:
    a, _ = make("http://127.0.0.1:8080/v1")
    b, _ = make("http://127.0.0.1:8080/")
    c, _ = make("http://127.0.0.1:9090")
    assert isinstance(a, Backend)
    assert a.info.name == "qwen2.5-coder-1.5b-instruct"
    assert a.info.sha256 == b.info.sha256 != c.info.sha256
    assert len(a.info.sha256) == 64


def test_normalize_base_url() -> None:
    assert normalize_base_url("http://h:1/v1/") == "http://h:1"
    assert normalize_base_url("http://h:1") == "http://h:1"
    assert normalize_base_url("http://h/api/v1") == "http://h/api"


def test_base_url_required() -> None:
    with pytest.raises(ReviewerError, match="--backend openai needs --base-url"):
        make(None)


# -- retries and failures --------------------------------------------------------------


def test_500_then_200_succeeds_after_retry(server: ScriptedServer) -> None:
    server.script = [Reply(500, "boom"), Reply(body=chat_reply("ok"))]
    backend, sleeps = make(server.url)
    assert backend.complete(MESSAGES, None, 10).text == "ok"
    assert len(server.requests) == 2
    assert sleeps == [0.5]


def test_429_is_retried(server: ScriptedServer) -> None:
    server.script = [Reply(429, "slow down"), Reply(body=chat_reply("ok"))]
    backend, sleeps = make(server.url)
    assert backend.complete(MESSAGES, None, 10).text == "ok"
    assert len(sleeps) == 1


def test_500_three_times_gives_one_line_error(server: ScriptedServer) -> None:
    server.script = [Reply(500, "internal\nerror:\n" + "x" * 500)]
    backend, sleeps = make(server.url + "/v1")
    with pytest.raises(ReviewerError) as info:
        backend.complete(MESSAGES, None, 10)
    msg = str(info.value)
    assert len(server.requests) == 3
    assert sleeps == [0.5, 1.0]
    assert "\n" not in msg
    assert msg.startswith(f"model server at {server.url}/v1 answered HTTP 500: internal error: xxx")
    assert len(msg) < 300


def test_400_is_not_retried(server: ScriptedServer) -> None:
    server.script = [Reply(400, '{"error": {"message": "bad schema"}}')]
    backend, sleeps = make(server.url)
    with pytest.raises(ReviewerError, match="answered HTTP 400: .*bad schema"):
        backend.complete(MESSAGES, SCHEMA, 10)
    assert len(server.requests) == 1
    assert sleeps == []


@pytest.mark.parametrize(
    "body",
    ["<html>not json</html>", "{}", '{"choices": []}', '{"choices": [{"message": {"content": 5}}]}', "[1, 2]"],
)
def test_garbage_body(server: ScriptedServer, body: str) -> None:
    server.script = [Reply(200, body)]
    backend, _ = make(server.url)
    with pytest.raises(ReviewerError, match="returned a response that is not a chat completion"):
        backend.complete(MESSAGES, None, 10)
    assert len(server.requests) == 1


def test_connection_refused() -> None:
    port = free_port()
    backend, sleeps = make(f"http://127.0.0.1:{port}/v1")
    with pytest.raises(ReviewerError) as info:
        backend.complete(MESSAGES, None, 10)
    assert str(info.value) == (
        f"cannot reach model server at http://127.0.0.1:{port}/v1: connection refused; start it or fix --base-url"
    )
    assert sleeps == [0.5, 1.0]


def test_timeout(server: ScriptedServer) -> None:
    server.script = [Reply(body=chat_reply("late"), delay=0.6)]
    backend, sleeps = make(server.url, timeout=0.2)
    with pytest.raises(ReviewerError, match=r"model server at .* timed out after 0\.2s"):
        backend.complete(MESSAGES, None, 10)
    assert len(server.requests) == 3
    assert sleeps == [0.5, 1.0]


def test_api_key_never_in_messages(server: ScriptedServer) -> None:
    env = {"REVIEWER_API_KEY": SECRET}
    errors: list[ReviewerError] = []
    # A server that echoes the Authorization header back in its error body.
    for status in (401, 500):
        server.requests.clear()
        server.script = [Reply(status, f"bad credentials: Bearer {SECRET}")]
        backend, _ = make(server.url, env=env)
        with pytest.raises(ReviewerError) as info:
            backend.complete(MESSAGES, None, 10)
        assert server.requests[0].headers["authorization"] == f"Bearer {SECRET}"
        errors.append(info.value)
    server.script = [Reply(200, "garbage")]
    backend, _ = make(server.url, env=env)
    with pytest.raises(ReviewerError) as info:
        backend.complete(MESSAGES, None, 10)
    errors.append(info.value)
    backend, _ = make(f"http://127.0.0.1:{free_port()}", env=env)
    with pytest.raises(ReviewerError) as info:
        backend.complete(MESSAGES, None, 10)
    errors.append(info.value)
    backend, _ = make(server.url, env=env, timeout=0.05)
    server.script = [Reply(body=chat_reply("late"), delay=0.3)]
    with pytest.raises(ReviewerError) as info:
        backend.complete(MESSAGES, None, 10)
    errors.append(info.value)

    assert "REVIEWER_API_KEY" in str(errors[0])  # 401 names the variable, not its value
    for err in errors:
        seen = [str(err), repr(err)]
        cause = err.__cause__ or err.__context__
        while cause is not None:
            seen += [str(cause), repr(cause)]
            cause = cause.__cause__ or cause.__context__
        assert all(SECRET not in s for s in seen), seen
    assert SECRET not in repr(backend)
