"""A deterministic backend for tests: no model, instant answers.

By default it "reviews" by pattern: added lines (`+ N | code` in the prompt) that
match a few well-known smells get a finding. Tests can instead script answers with
`FakeBackend(responses=[...])` or `FakeBackend(answer=callable)`.

Faults for the tests of the hook's guard (reviewer/backends/isolated.py), set off by the code
under review so one hunk of a change can fail while the others are answered: a prompt that
contains `reviewer-fake: hang` never gets an answer (a hung model server), one with
`reviewer-fake: segfault` gets SIGSEGV (its process dies) (llama.cpp crashing), and one with
`reviewer-fake: exit` ends it with os._exit(3).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import threading
from collections.abc import Callable, Iterable
from typing import Any

from reviewer.types import Completion, Message, ModelInfo

_ADDED = re.compile(r"^\+ +(\d+) \| (.*)$", re.MULTILINE)

# (pattern, category, severity, title, message)
RULES: tuple[tuple[re.Pattern[str], str, str, str, str], ...] = (
    (re.compile(r"execute\(\s*f?[\"'].*(\{|%s|\" *\+|' *\+)|execute\(.*%\s*\w"), "security", "high",
     "SQL built with string formatting", "User input is interpolated into the query; use a parameter."),
    (re.compile(r"\beval\("), "security", "high", "eval on dynamic input", "eval runs arbitrary code."),
    (re.compile(r"shell\s*=\s*True"), "security", "medium", "subprocess with shell=True", "Command injection risk."),
    (re.compile(r"except\s*:"), "bug", "medium", "Bare except", "Swallows every exception, including KeyboardInterrupt."),
    (re.compile(r"==\s*None"), "style", "low", "Comparison to None", "Use `is None`."),
)


def pattern_answer(messages: list[Message]) -> dict[str, Any]:
    """The default fake review: findings for added lines matching RULES."""
    findings = []
    for number, code in _ADDED.findall(messages[-1]["content"]):
        for pattern, category, severity, title, message in RULES:
            if pattern.search(code):
                findings.append({"line": int(number), "category": category, "severity": severity,
                                 "title": title, "message": message, "suggestion": ""})
    return {"change": "fake review", "analysis": f"{len(findings)} pattern match(es)", "findings": findings}


def _fault(prompt: str) -> None:
    """The faults the code under review asks for (see the module docstring)."""
    if "reviewer-fake: hang" in prompt:
        threading.Event().wait()
    if "reviewer-fake: segfault" in prompt:
        # to this thread: a process-wide os.kill may land on another thread while this one
        # goes on to send its answer before the process is torn down (seen: 2 runs in 5)
        signal.pthread_kill(threading.get_ident(), signal.SIGSEGV)
        threading.Event().wait()
    if "reviewer-fake: exit" in prompt:
        os._exit(3)


class FakeBackend:
    """Scripted stand-in for a model. Counts calls so tests can assert on cache hits."""

    def __init__(
        self,
        responses: Iterable[dict[str, Any] | str] | None = None,
        answer: Callable[[list[Message]], dict[str, Any] | str] | None = None,
        name: str = "fake",
        confidence: float | None = None,
        repair: Callable[[list[Message]], dict[str, Any] | str] | None = None,
    ) -> None:
        self._responses = list(responses) if responses is not None else None
        self._answer = answer or pattern_answer
        self.calls: list[list[Message]] = []
        # Requests to correct a failed suggestion (reviewer/fixes/) are answered by `repair`
        # (default: no correction) and kept apart, so scripted review answers stay in step.
        self._repair = repair or (lambda _messages: {"suggestion": ""})
        self.repairs: list[list[Message]] = []
        self.loaded = False
        self.confidence = confidence  # reported with every answer, as the llama backend reports its own
        self.info = ModelInfo(name, hashlib.sha256(name.encode()).hexdigest())

    def complete(self, messages: list[Message], schema: dict[str, Any] | None, max_tokens: int) -> Completion:
        self.loaded = True
        if schema is not None and set(schema.get("properties", {})) == {"suggestion"}:
            self.repairs.append(messages)
            reply = self._repair(messages)
            text = reply if isinstance(reply, str) else json.dumps(reply)
            return Completion(text, sum(len(m["content"].split()) for m in messages), len(text.split()), None)
        self.calls.append(messages)
        _fault(messages[-1]["content"])
        if self._responses is not None:
            reply = self._responses.pop(0) if self._responses else {"change": "", "analysis": "", "findings": []}
        else:
            reply = self._answer(messages)
        text = reply if isinstance(reply, str) else json.dumps(reply)
        prompt_tokens = sum(len(m["content"].split()) for m in messages)
        return Completion(text, prompt_tokens, len(text.split()), self.confidence)

    def close(self) -> None:
        pass
