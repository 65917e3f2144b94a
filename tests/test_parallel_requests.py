"""Concurrent requests to a model server (`parallel`): how many are in flight, and results stay in hunk order."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from helpers import make_hunk

from reviewer.backends.fake import FakeBackend
from reviewer.backends.openai_http import OpenAIHTTPBackend
from reviewer.config import Config
from reviewer.pipeline import parallel_requests, run_review
from reviewer.types import ParsedDiff


class SlowServer:
    """A chat-completions server that holds each request for `delay` seconds, counts how
    many are in flight at once, and answers with a finding on the hunk's added line whose
    title names the file the prompt was about."""

    def __init__(self, delay: float = 0.15) -> None:
        self.in_flight = 0
        self.max_in_flight = 0
        self.requests = 0
        lock = threading.Lock()
        state = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with lock:
                    state.requests += 1
                    state.in_flight += 1
                    state.max_in_flight = max(state.max_in_flight, state.in_flight)
                time.sleep(delay)
                path = re.search(r"Review this change to `([^`]+)`", body["messages"][-1]["content"])[1]
                answer = {"analysis": "", "findings": [{"line": 11, "category": "security", "severity": "high",
                                                        "title": f"about {path}", "message": "m", "suggestion": ""}]}
                raw = json.dumps({"choices": [{"message": {"role": "assistant", "content": json.dumps(answer)}}],
                                  "usage": {"prompt_tokens": 10, "completion_tokens": 5}}).encode()
                with lock:
                    state.in_flight -= 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: object) -> None: ...

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[SlowServer]:
    s = SlowServer()
    yield s
    s.close()


def hunks(n: int) -> ParsedDiff:
    return ParsedDiff(tuple(make_hunk(path=f"app/mod{i}.py") for i in range(n)))


@pytest.mark.parametrize(("parallel", "expected"), [(1, 1), (4, 4)])
def test_requests_in_flight_follow_the_setting(server: SlowServer, parallel: int, expected: int) -> None:
    config = Config(backend="openai", base_url=server.url, parallel=parallel)
    backend = OpenAIHTTPBackend(config)
    try:
        review = run_review(hunks(8), backend, config, cache=None)
    finally:
        backend.close()
    assert server.requests == 8
    assert server.max_in_flight == expected
    # every answer went to its own hunk, and the report keeps the diff's order
    assert [(f.path, f.title) for f in review.findings] == [(f"app/mod{i}.py", f"about app/mod{i}.py") for i in range(8)]


def test_a_failed_request_stops_the_review_with_its_error(server: SlowServer) -> None:
    config = Config(backend="openai", base_url=server.url, parallel=4)
    backend = OpenAIHTTPBackend(config)
    backend._client.close()  # every request now fails at once, from whichever thread sends it
    with pytest.raises(RuntimeError):
        run_review(hunks(6), backend, config, cache=None)


def test_in_process_backends_take_one_request_at_a_time() -> None:
    assert parallel_requests(FakeBackend()) == 1
    assert parallel_requests(OpenAIHTTPBackend(Config(backend="openai", base_url="http://127.0.0.1:9/v1",
                                                      parallel=3))) == 3
