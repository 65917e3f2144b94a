"""Orchestration: hunks -> (cache | model) -> validated findings -> Review.

`review_hunks` yields one HunkResult per hunk as soon as it is ready (the TUI streams
these); `run_review` collects them, merges duplicates and applies the thresholds.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Protocol

from reviewer.analyzers import HINT_SOURCES
from reviewer.answers import parse_findings
from reviewer.backends import Backend
from reviewer.cache import ResultCache, cache_key
from reviewer.config import Config
from reviewer.dataflow.tables import SOURCE_CHAINS, SOURCE_NAMES
from reviewer.errors import NotAnswered
from reviewer.fixes import check_findings, model_repair
from reviewer.grounding import FileFacts, ground_analyzer_flows, ground_model_findings
from reviewer.merging import keep_finding, merge_findings
from reviewer.prompting import (
    PromptTemplate,
    hunk_instructions,
    load_template,
    messages_digest,
    review_messages,
    review_schema,
)
from reviewer.relative import origin, shift_answer, shift_hints, shift_hunk
from reviewer.trivial import behaviour_preserving
from reviewer.types import (
    NOT_REVIEWED,
    Completion,
    Finding,
    Hunk,
    HunkNote,
    Message,
    ParsedDiff,
    Review,
    SkippedFile,
    Stats,
)

CHARS_PER_TOKEN = 3  # conservative for code; used only to keep prompts inside the context window
UNCHANGED = "unchanged since the last reviewed commit and not in the result cache"
_TAINT_SOURCE = re.compile(r"\b(?:" + "|".join(re.escape(n) for n in (*SOURCE_NAMES, *SOURCE_CHAINS)) + r")\b")


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
    analysis: str = ""
    unreviewed: bool = False  # left by the budget (max_hunks, time_budget)
    unchanged: bool = False  # not asked: unchanged since the last reviewed commit (`ask_only`)


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
    instructions = hunk_instructions(hunk.path, config.instructions, config.path_instructions)
    for candidate in (hunk, replace(hunk, context_before=(), context_after=())):
        messages = review_messages(candidate, config.categories, template, hints, instructions)
        if sum(len(m["content"]) for m in messages) <= budget_chars:
            return candidate, messages
    return None




def result_key(hunk: Hunk, hints: tuple[Finding, ...], config: Config, template: PromptTemplate,
               model_sha256: str) -> tuple[str, int]:
    """The cache key of the prompt for `hunk` (as `fitting_prompt` shaped it), and the `delta`
    its cached answer is moved by.

    Keyed on what the model is shown (hunk, context, hints, template, model, max_tokens)
    with the line numbers counted from the first line shown, not from the top of the file:
    the same code reviewed by the editor and then, ten lines further down, by the commit
    hook is one entry (reviewer/relative.py says why the model still sees real numbers).
    Where the hunk came from (working tree, index, a commit) is not part of it either.
    """
    delta = origin(hunk) - 1
    canonical = review_messages(shift_hunk(hunk, -delta), config.categories, template, shift_hints(hints, -delta))
    return cache_key(model_sha256, template.cache_tag, messages_digest(canonical), str(config.max_tokens)), delta


@dataclass(frozen=True)
class _Ask:
    """A hunk whose answer is not in the cache: the prompt to send and where to store the answer."""

    hunk: Hunk
    messages: list[Message]
    key: str
    hints: tuple[Finding, ...]
    delta: int  # the hunk's first shown line - 1: answers are cached moved by -delta (reviewer/relative.py)

    @property
    def priority(self) -> tuple[int, int]:
        """Budget order (smaller first): hunks an analyzer flagged or that read untrusted input
        (a taint source on an added line), then the larger hunks."""
        added = [ln.text for ln in self.hunk.lines if ln.kind == "+"]
        flagged = bool(self.hints) or any(_TAINT_SOURCE.search(text) for text in added)
        return (0 if flagged else 1, -len(added))


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
    ask_only: Callable[[Hunk], bool] | None = None,
) -> Iterator[HunkResult]:
    """Review each hunk: from the cache when the same model saw the same prompt, else the model.

    Results come in hunk order. With a backend that takes several requests at once (a
    server), up to that many are in flight while earlier results are being yielded.
    `hints` (analyzer findings) on a hunk's lines are shown to the model with that hunk.
    `facts` (the whole new files, where the diff came with them) lets grounding tell
    docstrings from code and follow untrusted input through a function. A hunk for which
    `ask_only` says no is served from the cache only (`reviewer ci`: unchanged since the last
    review). With a budget (`config.max_hunks`, `config.time_budget`) see `_within_budget`.
    """
    template = load_template("review")
    schema = review_schema()
    plan: list[HunkResult | _Ask] = []
    facts = facts or FileFacts(None)
    fixes = _Fixes(backend, cache, facts, config.repair_suggestions)

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
        key, delta = result_key(hunk, hunk_hints, config, template, backend.info.sha256)
        completion = cache.get(key) if cache else None
        if completion is not None:
            completion = replace(completion, text=shift_answer(completion.text, delta))
            plan.append(_result(hunk, completion, True, hunk_hints, facts, fixes))
        elif ask_only is not None and not ask_only(hunk):
            plan.append(HunkResult(hunk, (), skipped_reason=UNCHANGED, unchanged=True))
        else:
            plan.append(_Ask(hunk, messages, key, hunk_hints, delta))

    asks = [step for step in plan if isinstance(step, _Ask)]
    if asks:
        progress.model_loading()
    if asks and (config.max_hunks or config.time_budget):
        yield from _within_budget(plan, asks, backend, schema, config, cache, facts, fixes)
        return
    answers = _answers(asks, backend, schema, config.max_tokens, cache)
    stopped: str | None = None  # why the model gave no more answers (a deadline, its process died)
    try:
        for step in plan:
            if isinstance(step, HunkResult):
                yield step
                continue
            if stopped is None:
                try:
                    completion = next(answers)
                except NotAnswered as exc:
                    stopped = f"{NOT_REVIEWED}: {exc}"
            if stopped is not None:  # this hunk and every later ask: reported, not retried
                yield HunkResult(step.hunk, (), skipped_reason=stopped)
                continue
            yield _result(step.hunk, completion, False, step.hints, facts, fixes)  # cached by _answers
    finally:
        answers.close()


def _within_budget(plan: list[HunkResult | _Ask], asks: list[_Ask], backend: Backend, schema: dict[str, object],
                   config: Config, cache: ResultCache | None, facts: FileFacts, fixes: _Fixes) -> Iterator[HunkResult]:
    """The budgeted review: the model answers the asks in priority order until `max_hunks` are
    done or `time_budget` seconds have passed (checked before each new request; one already
    running finishes); the rest come back as unreviewed results, in hunk order like the others.
    All answers are in before the first result is yielded (the order differs from the hunks')."""
    ordered = sorted(asks, key=lambda a: a.priority)
    allowed = ordered[: config.max_hunks] if config.max_hunks else ordered
    started = time.monotonic()
    done: dict[int, Completion] = {}
    answers = _answers(allowed, backend, schema, config.max_tokens, cache)
    try:
        for ask in allowed:
            if config.time_budget and time.monotonic() - started >= config.time_budget:
                break
            done[id(ask)] = next(answers)
    finally:
        answers.close()
    spent = f"time budget of {config.time_budget:g} s spent" if len(done) < len(allowed) else \
        f"max-hunks {config.max_hunks} reached"
    for step in plan:
        if isinstance(step, HunkResult):
            yield step
        elif id(step) in done:
            yield _result(step.hunk, done[id(step)], False, step.hints, facts, fixes)
        else:
            yield HunkResult(step.hunk, (), skipped_reason=spent, unreviewed=True)


def _answers(asks: list[_Ask], backend: Backend, schema: dict[str, object], max_tokens: int,
             cache: ResultCache | None) -> Iterator[Completion]:
    """The model's answers to `asks`, in order, each cached as soon as it is there; decoded
    together where the backend can (`complete_batch`, the in-process model), concurrent
    where it takes several requests (a server)."""
    batch = getattr(backend, "complete_batch", None)
    if batch is not None and len(asks) > 1:
        # Drained before the first answer is handed on: a failed suggestion's repair (reviewer/fixes/)
        # asks the same model, and a batch holds it until its last answer (it deadlocked in the real-model
        # test). Each answer is still cached the moment it is decoded.
        yield from list(_in_order(batch([ask.messages for ask in asks], schema, max_tokens), asks, cache))
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


class _Fixes:
    """Checks the suggestions of one hunk's findings (reviewer/fixes/), with one repair by the model."""

    def __init__(self, backend: Backend, cache: ResultCache | None, facts: FileFacts, repair: bool) -> None:
        self.cache, self.facts = cache, facts
        self.repair = model_repair(backend, cache) if repair else None

    def __call__(self, findings: tuple[Finding, ...], hunk: Hunk) -> tuple[Finding, ...]:
        if not any(f.suggestion for f in findings):
            return findings
        return check_findings(findings, hunk, self.facts.sources.get(hunk.path), self.cache, self.repair)


def _cached(completion: Completion, ask: _Ask, cache: ResultCache | None) -> Completion:
    if cache:  # stored moved to the hunk's own numbering (reviewer/relative.py)
        cache.put(ask.key, replace(completion, text=shift_answer(completion.text, -ask.delta)))
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
            facts: FileFacts, fixes: _Fixes) -> HunkResult:
    """The hunk's findings from the model's answer, grounded (reviewer/grounding/) in
    its code, its whole new file (`facts`) and the analyzer `hints` it was shown, their
    suggestions checked (`fixes`)."""
    parsed = parse_findings(completion.text, hunk)
    findings = fixes(ground_model_findings(parsed.findings, hunk, hints, facts), hunk)
    if completion.confidence is not None:
        findings = tuple(replace(f, confidence=completion.confidence) for f in findings)
    return HunkResult(
        hunk,
        findings,
        dropped=parsed.dropped,
        cached=cached,
        malformed=parsed.malformed,
        analysis=parsed.analysis,
        prompt_tokens=0 if cached else completion.prompt_tokens,
        completion_tokens=0 if cached else completion.completion_tokens,
    )


def run_review(
    parsed: ParsedDiff,
    backend: Backend,
    config: Config,
    cache: ResultCache | None,
    progress: Progress | None = None,
    hints: tuple[Finding, ...] = (),
    ask_only: Callable[[Hunk], bool] | None = None,
) -> Review:
    """Review every hunk of a parsed diff and assemble the Review.

    `hints` are analyzer findings (see reviewer.analyzers): shown to the model, then
    merged into the result. `ask_only`: see `review_hunks`.
    """
    progress = progress or NoProgress()
    started = time.perf_counter()
    findings: list[Finding] = []
    skipped: list[SkippedFile] = list(parsed.skipped)
    unreviewed: list[SkippedFile] = []
    notes: list[HunkNote] = []
    unchanged = 0
    cached = prompt_tokens = completion_tokens = dropped = unreadable = 0
    progress.start(len(parsed.hunks))
    facts = FileFacts(parsed.sources)
    try:
        for result in review_hunks(parsed.hunks, backend, config, cache, progress, hints, facts, ask_only):
            progress.advance(result)
            place = f"{result.hunk.path}:{result.hunk.new_start}"
            if result.unreviewed or result.unchanged:
                unchanged += result.unchanged
                if result.unreviewed:
                    unreviewed.append(SkippedFile(place, result.skipped_reason or ""))
                continue
            if result.skipped_reason:
                skipped.append(SkippedFile(f"{result.hunk.path}:{result.hunk.new_start}", result.skipped_reason))
                continue
            findings.extend(f for f in result.findings if keep_finding(f, config))
            cached += result.cached
            prompt_tokens += result.prompt_tokens
            completion_tokens += result.completion_tokens
            dropped += result.dropped
            unreadable += result.malformed
            if result.analysis:
                h = result.hunk
                notes.append(HunkNote(h.path, h.new_start, h.new_start + max(h.new_len, 1) - 1, result.analysis))
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
        unreviewed=tuple(unreviewed),
        unchanged=unchanged,
    )
    merged = merge_findings(findings, ground_analyzer_flows(hints, facts), config)
    return Review(backend.info, tuple(merged), stats=stats, hunks=parsed.hunks, notes=tuple(notes))
