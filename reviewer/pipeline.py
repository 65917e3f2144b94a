"""Orchestration: hunks -> (cache | model) -> validated findings -> Review.

`review_hunks` yields one HunkResult per hunk as soon as it is ready (the TUI streams
these); `run_review` collects them, merges duplicates and applies the thresholds.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Protocol

from reviewer.analyzers import HINT_SOURCES
from reviewer.answers import merge_duplicates, parse_findings
from reviewer.backends import Backend
from reviewer.cache import ResultCache, cache_key
from reviewer.config import Config
from reviewer.grounding import FileFacts, ground_analyzer_flows, ground_model_findings
from reviewer.prompting import PromptTemplate, load_template, review_messages, review_schema
from reviewer.trivial import behaviour_preserving
from reviewer.types import Completion, Finding, Hunk, Message, ParsedDiff, Review, SkippedFile, Stats

CHARS_PER_TOKEN = 3  # conservative for code; used only to keep prompts inside the context window


@dataclass(frozen=True)
class HunkResult:
    """What reviewing one hunk produced."""

    hunk: Hunk
    findings: tuple[Finding, ...]
    dropped: int = 0
    cached: bool = False
    malformed: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    skipped_reason: str | None = None


class Progress(Protocol):
    """Receives progress events; the CLI draws a bar, the TUI a status line."""

    def start(self, total: int) -> None: ...
    def model_loading(self) -> None: ...
    def advance(self, result: HunkResult) -> None: ...
    def finish(self) -> None: ...


class NoProgress:
    """Progress that shows nothing (quiet mode, pipes, tests)."""

    def start(self, total: int) -> None: ...
    def model_loading(self) -> None: ...
    def advance(self, result: HunkResult) -> None: ...
    def finish(self) -> None: ...


def fitting_prompt(
    hunk: Hunk, config: Config, template: PromptTemplate, hints: tuple[Finding, ...]
) -> tuple[Hunk, list[Message]] | None:
    """The prompt for `hunk`, without the extra context if that is what it takes to fit
    the context window; None when even the bare hunk does not fit."""
    budget_chars = (config.ctx - config.max_tokens) * CHARS_PER_TOKEN
    for candidate in (hunk, replace(hunk, context_before=(), context_after=())):
        messages = review_messages(candidate, config.categories, template, hints)
        if sum(len(m["content"]) for m in messages) <= budget_chars:
            return candidate, messages
    return None


def messages_digest(messages: list[Message]) -> str:
    h = hashlib.sha256()
    for m in messages:
        h.update(f"{m['role']}\0{m['content']}\0".encode())
    return h.hexdigest()


@dataclass(frozen=True)
class _Ask:
    """A hunk whose answer is not in the cache: the prompt to send and where to store the answer."""

    hunk: Hunk
    messages: list[Message]
    key: str
    hints: tuple[Finding, ...]


def parallel_requests(backend: Backend) -> int:
    """How many requests `backend` takes at once: a server batches concurrent requests
    (`max_parallel`, from the `parallel` setting); the in-process model does one at a time."""
    return max(1, int(getattr(backend, "max_parallel", 1) or 1))


def review_hunks(
    hunks: tuple[Hunk, ...],
    backend: Backend,
    config: Config,
    cache: ResultCache | None,
    progress: Progress,
    hints: tuple[Finding, ...] = (),
    facts: FileFacts | None = None,
) -> Iterator[HunkResult]:
    """Review each hunk: from the cache when the same model saw the same prompt, else the model.

    Results come in hunk order. With a backend that takes several requests at once (a
    server), up to that many are in flight while earlier results are being yielded.
    `hints` (analyzer findings) on a hunk's lines are shown to the model with that hunk.
    `facts` (the whole new files, where the diff came with them) lets grounding tell
    docstrings from code and follow untrusted input through a function.
    """
    template = load_template("review")
    schema = review_schema()
    plan: list[HunkResult | _Ask] = []
    facts = facts or FileFacts(None)

    for hunk in hunks:
        preserved = behaviour_preserving(hunk)
        if preserved is not None:
            plan.append(HunkResult(hunk, (), skipped_reason=preserved))
            continue
        hunk_hints = tuple(f for f in hints if f.source in HINT_SOURCES and f.path == hunk.path
                           and f.line in hunk.added_line_numbers)
        prompt = fitting_prompt(hunk, config, template, hunk_hints)
        if prompt is None:
            plan.append(HunkResult(hunk, (), skipped_reason="too large for the model's context window (raise --ctx)"))
            continue
        hunk, messages = prompt
        # Keyed on the exact prompt: hunk, context, hints and template text all count.
        key = cache_key(backend.info.sha256, template.cache_tag, messages_digest(messages), str(config.max_tokens))
        completion = cache.get(key) if cache else None
        plan.append(_result(hunk, completion, True, hunk_hints, facts) if completion is not None
                    else _Ask(hunk, messages, key, hunk_hints))

    asks = [step for step in plan if isinstance(step, _Ask)]
    if asks:
        progress.model_loading()
    answers = _answers(asks, backend, schema, config.max_tokens, cache)
    try:
        for step in plan:
            if isinstance(step, HunkResult):
                yield step
                continue
            yield _result(step.hunk, next(answers), False, step.hints, facts)
    finally:
        answers.close()


def _answers(asks: list[_Ask], backend: Backend, schema: dict[str, object], max_tokens: int,
             cache: ResultCache | None) -> Iterator[Completion]:
    """The model's answers to `asks`, in order, each cached as soon as it is there; decoded
    together where the backend can (`complete_batch`, the in-process model), concurrent
    where it takes several requests (a server)."""
    batch = getattr(backend, "complete_batch", None)
    if batch is not None and len(asks) > 1:
        yield from _in_order(batch([ask.messages for ask in asks], schema, max_tokens), asks, cache)
        return
    workers = min(parallel_requests(backend), len(asks))
    if workers <= 1:
        for ask in asks:
            yield _cached(backend.complete(ask.messages, schema, max_tokens), ask, cache)
        return
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="reviewer-request")
    try:
        futures = [pool.submit(backend.complete, ask.messages, schema, max_tokens) for ask in asks]
        for ask, future in zip(asks, futures):
            yield _cached(future.result(), ask, cache)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # a failure or an early stop sends nothing more


def _cached(completion: Completion, ask: _Ask, cache: ResultCache | None) -> Completion:
    if cache:
        cache.put(ask.key, completion)
    return completion


def _in_order(finished: Iterator[tuple[int, Completion]], asks: list[_Ask],
              cache: ResultCache | None) -> Iterator[Completion]:
    """Answers that finish in any order, cached as they come (an interrupted review keeps
    them), yielded in the order of `asks`."""
    ready: dict[int, Completion] = {}
    nxt = 0
    try:
        for index, completion in finished:
            ready[index] = _cached(completion, asks[index], cache)
            while nxt in ready:
                yield ready.pop(nxt)
                nxt += 1
    finally:
        close = getattr(finished, "close", None)
        if close is not None:
            close()


def _result(hunk: Hunk, completion: Completion, cached: bool, hints: tuple[Finding, ...],
            facts: FileFacts) -> HunkResult:
    """The hunk's findings from the model's answer, grounded (reviewer/grounding/) in
    its code, its whole new file (`facts`) and the analyzer `hints` it was shown."""
    parsed = parse_findings(completion.text, hunk)
    findings = ground_model_findings(parsed.findings, hunk, hints, facts)
    if completion.confidence is not None:
        findings = tuple(replace(f, confidence=completion.confidence) for f in findings)
    return HunkResult(
        hunk,
        findings,
        dropped=parsed.dropped,
        cached=cached,
        malformed=parsed.malformed,
        prompt_tokens=0 if cached else completion.prompt_tokens,
        completion_tokens=0 if cached else completion.completion_tokens,
    )


def keep_finding(finding: Finding, config: Config) -> bool:
    return (finding.category in config.categories and finding.severity.rank >= config.min_severity.rank
            and not finding.is_unsure(config.min_confidence))


def merge_analyzer_findings(model: list[Finding], analyzer: tuple[Finding, ...]) -> list[Finding]:
    """Analyzer findings join the model's unless the model already reported the same
    category on the same line (its wording is the more helpful); severity is the higher,
    and the analyzer is recorded in the model finding's `evidence` (reviewer/blocking.py)."""
    out = list(model)
    for a in analyzer:
        twin = next((i for i, m in enumerate(out) if m.path == a.path and m.line == a.line and m.category == a.category), None)
        if twin is None:
            out.append(a)
            continue
        m = out[twin]
        evidence = tuple(dict.fromkeys((*(m.evidence or (m.source,)), *(a.evidence or (a.source,)))))
        out[twin] = replace(m, severity=max(m.severity, a.severity, key=lambda s: s.rank), evidence=evidence)
    return out


def merge_findings(model: Iterable[Finding], analyzer: Iterable[Finding], config: Config) -> list[Finding]:
    """What a review reports: the model's and the (grounded) analyzers' findings that pass the
    thresholds, an analyzer finding joined in unless the model reported that category on that
    line, duplicates merged. `run_review` ends with it; the TUI applies it to the hunks so far. An
    analyzer finding below the thresholds is not reported but still backs the model's claim on its
    line (`evidence`)."""
    kept = [f for f in model if keep_finding(f, config)]
    return merge_duplicates([f for f in merge_analyzer_findings(kept, tuple(analyzer)) if keep_finding(f, config)])


def run_review(
    parsed: ParsedDiff,
    backend: Backend,
    config: Config,
    cache: ResultCache | None,
    progress: Progress | None = None,
    hints: tuple[Finding, ...] = (),
) -> Review:
    """Review every hunk of a parsed diff and assemble the Review.

    `hints` are analyzer findings (see reviewer.analyzers): shown to the model, then
    merged into the result.
    """
    progress = progress or NoProgress()
    started = time.perf_counter()
    findings: list[Finding] = []
    skipped: list[SkippedFile] = list(parsed.skipped)
    cached = prompt_tokens = completion_tokens = dropped = unreadable = 0
    progress.start(len(parsed.hunks))
    facts = FileFacts(parsed.sources)
    try:
        for result in review_hunks(parsed.hunks, backend, config, cache, progress, hints, facts):
            progress.advance(result)
            if result.skipped_reason:
                skipped.append(SkippedFile(f"{result.hunk.path}:{result.hunk.new_start}", result.skipped_reason))
                continue
            findings.extend(f for f in result.findings if keep_finding(f, config))
            cached += result.cached
            prompt_tokens += result.prompt_tokens
            completion_tokens += result.completion_tokens
            dropped += result.dropped
            unreadable += result.malformed
    finally:
        progress.finish()
    stats = Stats(
        hunks=len(parsed.hunks),
        cached=cached,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        seconds=time.perf_counter() - started,
        files=parsed.files,
        skipped=tuple(skipped),
        dropped_findings=dropped,
        unreadable_answers=unreadable,
    )
    merged = merge_findings(findings, ground_analyzer_flows(hints, facts), config)
    return Review(backend.info, tuple(merged), stats=stats, hunks=parsed.hunks)
