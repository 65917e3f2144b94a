"""A backend for any OpenAI-compatible chat-completions server (llama.cpp server, vLLM, Ollama).

Only the user's own server is contacted, at `--base-url`. The API key, when needed,
is read from the environment variable named by `api_key_env` and is never put in
an error message, repr or log line (a server that echoes it back in an error body
gets it masked).

`info.sha256` for a server is not a file digest: it is
sha256("openai:{base url}:{model}"), which identifies the endpoint and model name so
that cached results from one server are not served for another.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from reviewer.config import Config
from reviewer.errors import ReviewerError
from reviewer.types import Completion, Message, ModelInfo

ATTEMPTS = 3
BACKOFF = (0.5, 1.0)  # seconds slept before attempt 2 and 3
_MAX_RETRY_AFTER = 30.0


def normalize_base_url(url: str) -> str:
    """The server root: no trailing slash, no trailing /v1 (both spellings are accepted)."""
    return url.strip().rstrip("/").removesuffix("/v1").rstrip("/")


def _display_url(base: str) -> str:
    """The base URL as shown in messages: with /v1, without any user:password@ part."""
    parts = urlsplit(base)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)) + "/v1"


def _one_line(text: str, limit: int = 200) -> str:
    return " ".join(text[:limit * 4].split())[:limit]


class _FormatRejected(Exception):
    """The server does not accept the `json_schema` response format."""


def _rejects_json_schema(body: str) -> bool:
    return "response_format" in body and "json_schema" in body


class _Retryable(Exception):
    """An attempt failed in a way worth retrying; `error` is what to raise if it was the last."""

    def __init__(self, error: ReviewerError, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


class OpenAIHTTPBackend:
    """Chat completions over HTTP against an OpenAI-compatible server.

    Args:
        config: needs `base_url`; uses `model`, `api_key_env`, `timeout`.
        env: where to read the API key variable (default os.environ).
        sleep: the backoff sleep (tests pass a no-op).
        transport: an httpx transport (tests may inject one).
    """

    def __init__(
        self,
        config: Config,
        *,
        env: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not config.base_url or not config.base_url.strip():
            raise ReviewerError("--backend openai needs --base-url, e.g. http://127.0.0.1:8080/v1")
        base = normalize_base_url(config.base_url)
        if urlsplit(base).scheme not in ("http", "https") or not urlsplit(base).netloc:
            raise ReviewerError(
                f"--base-url {_one_line(base, 100)!r} is not an http(s) URL; e.g. http://127.0.0.1:8080/v1"
            )
        self._config = config
        self._base = base
        self._shown_url = _display_url(base)
        self.url = base + "/v1/chat/completions"
        self._timeout = config.timeout
        self._sleep = sleep
        env = os.environ if env is None else env
        key = env.get(config.api_key_env, "") if config.api_key_env else ""
        self._key = key.strip()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        self._schema_style = "json_schema"  # or "json_object" once the server has refused the former
        self._client = httpx.Client(timeout=httpx.Timeout(config.timeout), headers=headers, transport=transport)
        digest = hashlib.sha256(f"openai:{base}:{config.model}".encode()).hexdigest()
        self._info = ModelInfo(name=config.model, sha256=digest)

    @property
    def info(self) -> ModelInfo:
        return self._info

    @property
    def max_parallel(self) -> int:
        """Requests the pipeline may have in flight at once (`parallel`): a server with
        several slots (llama.cpp `--parallel N`, vLLM) batches them. httpx.Client is
        thread-safe, and its pool keeps that many connections alive."""
        return max(1, self._config.parallel)

    def __repr__(self) -> str:
        auth = "set" if self._key else "none"
        return f"OpenAIHTTPBackend(url={self._shown_url!r}, model={self._config.model!r}, api_key={auth})"

    # -- requests -----------------------------------------------------------------

    def request_body(self, messages: list[Message], schema: dict[str, Any] | None, max_tokens: int) -> dict[str, Any]:
        """The JSON body sent for one completion."""
        body: dict[str, Any] = {
            "model": self._config.model,
            "messages": messages,
            "temperature": 0,
            "max_tokens": max_tokens,
        }
        if schema is not None and self._schema_style == "json_schema":
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "review", "schema": schema, "strict": True},
            }
        elif schema is not None:  # llama-cpp-python's server knows only this older form
            body["response_format"] = {"type": "json_object", "schema": schema}
        return body

    def complete(self, messages: list[Message], schema: dict[str, Any] | None, max_tokens: int) -> Completion:
        """POST once, retrying connection errors, timeouts, 429 and 5xx with backoff.

        A server that rejects OpenAI's `json_schema` response format (llama-cpp-python's
        own server answers a validation error) is asked again, once, with the
        `json_object` + schema form, which it and llama.cpp's server understand; that
        form is then used for the rest of the run.
        """
        body = self.request_body(messages, schema, max_tokens)
        for attempt in range(ATTEMPTS):
            try:
                return self._attempt(body)
            except _FormatRejected:  # (other requests in flight may hit this too: all switch)
                self._schema_style = "json_object"
                return self.complete(messages, schema, max_tokens)
            except _Retryable as failure:
                if attempt == ATTEMPTS - 1:
                    raise failure.error from None
                delay = BACKOFF[min(attempt, len(BACKOFF) - 1)]
                if failure.retry_after is not None:
                    delay = max(delay, min(failure.retry_after, _MAX_RETRY_AFTER))
                self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _attempt(self, body: dict[str, Any]) -> Completion:
        url = self._shown_url
        try:
            response = self._client.post(self.url, json=body)
        except httpx.TimeoutException:
            raise _Retryable(ReviewerError(
                f"model server at {url} timed out after {self._timeout:g}s; check that it is not overloaded, "
                "or raise `timeout` in .reviewer.toml or REVIEWER_TIMEOUT")) from None
        except httpx.ConnectError as exc:
            reason = "connection refused" if "refused" in str(exc).lower() else _one_line(str(exc), 120) or "connect failed"
            raise _Retryable(
                ReviewerError(f"cannot reach model server at {url}: {reason}; start it or fix --base-url")
            ) from None
        except httpx.TransportError as exc:  # dropped connection, protocol error
            reason = _one_line(str(exc), 120) or type(exc).__name__
            raise _Retryable(
                ReviewerError(f"model server at {url} dropped the connection: {reason}; check the server log")
            ) from None
        except httpx.RequestError as exc:
            # The rest of httpx's request errors, e.g. DecodingError for a body that is not the
            # gzip its Content-Encoding claims: not worth a retry, but without this it escaped
            # as an internal error and a fail-open hook blocked the commit.
            reason = _one_line(str(exc), 120) or type(exc).__name__
            raise ReviewerError(
                f"model server at {url} sent a response that cannot be read ({type(exc).__name__}: {reason}); "
                "check the server, or a proxy in between"
            ) from None

        status = response.status_code
        sent_style = (body.get("response_format") or {}).get("type")
        if status >= 400 and sent_style == "json_schema" and _rejects_json_schema(response.text):
            raise _FormatRejected
        if status >= 400:
            error = ReviewerError(self._http_error_message(status, response.text))
            if status == 429 or status >= 500:
                raise _Retryable(error, _retry_after(response.headers.get("retry-after")))
            raise error
        return self._parse(response.content)

    def _http_error_message(self, status: int, body: str) -> str:
        snippet = _one_line(self._mask(body))
        msg = f"model server at {self._shown_url} answered HTTP {status}"
        if snippet:
            msg += f": {snippet}"
        if status in (401, 403):
            msg += f"; check the API key in ${self._config.api_key_env}"
        elif status == 404:
            msg += "; check --base-url and --model"
        elif status in (400, 422):
            msg += "; check --model, the server's context size and its support for JSON-schema response_format"
        elif status >= 500:
            msg += "; check the server's log"
        return msg

    def _mask(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text

    def _not_a_completion(self, content: bytes) -> ReviewerError:
        """What was wrong (the start of the body: an HTML login page says a lot) and what to check."""
        seen = _one_line(self._mask(content[:400].decode("utf-8", "replace")), 80)
        return ReviewerError(
            f"model server at {self._shown_url} returned a response that is not a chat completion"
            f"{f' ({seen!r})' if seen else ' (an empty body)'}; check that --base-url is an OpenAI-compatible "
            "server's /v1 endpoint")

    def _parse(self, content: bytes) -> Completion:
        try:
            data = json.loads(content)
            text = data["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise self._not_a_completion(content) from None
        if text is None:
            text = ""
        if not isinstance(text, str):
            raise self._not_a_completion(content)
        usage = data.get("usage") if isinstance(data, dict) else None
        usage = usage if isinstance(usage, dict) else {}
        return Completion(
            text=text,
            prompt_tokens=_int(usage.get("prompt_tokens")),
            completion_tokens=_int(usage.get("completion_tokens")),
        )

    def close(self) -> None:
        """Close the HTTP connection pool. Safe to call more than once."""
        self._client.close()


def _int(value: Any) -> int:
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date; the regular backoff will do


__all__ = ["OpenAIHTTPBackend", "normalize_base_url"]
