"""One review session: config, result cache and backend opened once; every front end reviews through it.

`reviewer review`, `hook run`, `ci`, `tui`, `tests` and `eval` (and the editor server to
come) differ in where the diff comes from and where the findings go, not in how a diff
is reviewed. They all open a `ReviewSession`:

    with ReviewSession(config) as session:
        parsed = session.parse(source, cwd, stdin)
        review = session.review(parsed, progress)
        return session.exit_status(review.findings)

The backend is made on first use and loads its model lazily on the first hunk that is
not in the result cache, so a fully cached review never loads a model. A second review in
the same session (an eval's next case, a TUI re-review) reuses both.

Failures of the model itself (not installed, fails to load, crashes with a Python
exception, a server that is down or times out) are raised as `ModelUnavailable`: a git
hook decides by `hook_policy` whether it blocks; everywhere else it is exit 2.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from typing_extensions import Self

from reviewer import backends
from reviewer.analyzers import analyze
from reviewer.anchors import anchor_findings
from reviewer.blocking import mark_advisory
from reviewer.cache import ResultCache, open_result_cache
from reviewer.config import Config
from reviewer.diff import DiffSource, parse_diff, read_diff
from reviewer.errors import ModelUnavailable, ReviewerError
from reviewer.grounding import FileFacts
from reviewer.noise import apply_noise
from reviewer.pipeline import HunkResult, NoProgress, Progress, review_hunks, run_review
from reviewer.secrets import drop_placeholder_suggestions, guard, guard_without_redaction
from reviewer.types import Finding, Hunk, ParsedDiff, Review, exit_status

if TYPE_CHECKING:
    from reviewer.testgen.sandbox import TreeSpec

ProgressFactory = Callable[[str], Progress]  # model name -> a Progress (the CLI's bar wants the name)
Say = Callable[[str], None]
FROM_CONFIG = object()  # ReviewSession(cache=...) default: open the cache the config names, on first use


def to_stderr(message: str) -> None:
    print(message, file=sys.stderr)


class ReviewSession:
    """Config, result cache and backend for one run of reviewer; close it (or use `with`).

    `backend` and `cache` may be given (tests, an eval worker; `cache=None`: no cache);
    otherwise they are made from `config` on first use and closed by `close()`. `warn` gets warning
    lines (default: stderr).
    """

    def __init__(self, config: Config, *, backend: backends.Backend | None = None,
                 cache: ResultCache | None | object = FROM_CONFIG, warn: Say = to_stderr) -> None:
        self.config = config
        self.warn = warn
        self._backend = backend
        self._own_backend = backend is None
        self._own_cache = cache is FROM_CONFIG
        self._cache: ResultCache | None = None if cache is FROM_CONFIG else cache  # type: ignore[assignment]
        self._cache_opened = not self._own_cache  # a given cache, or None given: no cache at all

    # -- resources -------------------------------------------------------------------

    @property
    def backend(self) -> backends.Backend:
        """The model backend, made on first use (cheap: the model itself loads on the first uncached hunk)."""
        if self._backend is None:
            try:
                self._backend = backends.make_backend(self.config)
            except ReviewerError as exc:
                raise ModelUnavailable(str(exc)) from exc
        return self._backend

    @property
    def cache(self) -> ResultCache | None:
        """The result cache (None with caching off or an unusable cache file: a warning, never a failure)."""
        if not self._cache_opened:
            self._cache_opened = True
            self._cache = open_result_cache(self.config.cache_dir, self.config.cache)
        return self._cache

    def close(self) -> None:
        """Close what this session opened. Safe to call twice, and when nothing was opened."""
        backend, self._backend = self._backend, None
        if backend is not None and self._own_backend:
            backend.close()
        if self._own_cache:
            cache, self._cache = self._cache, None
            self._cache_opened = False
            if cache is not None:
                cache.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reviewing -------------------------------------------------------------------

    def parse(self, source: DiffSource, cwd: Path, stdin: BinaryIO | None = None, *,
              allow_empty: bool = False) -> ParsedDiff:
        """Read the diff named by `source` and parse it into hunks.

        An empty diff is a ReviewerError (nothing to review), unless `allow_empty`: then it is
        a ParsedDiff without hunks, as a git hook wants for a commit that changes nothing.
        """
        return parse_source(source, cwd, self.config, stdin, allow_empty=allow_empty)

    def check_secrets(self, parsed: ParsedDiff, command: str) -> None:
        """For front ends that cannot redact (tui, tests): warn or block on likely secrets
        bound for a remote model server, by `config.secrets`."""
        guard_without_redaction(parsed, self.config, command, self.warn)

    def analyze(self, parsed: ParsedDiff) -> tuple[Finding, ...]:
        """The analyzers' findings (hints for the model), cached; none with analyzers off."""
        return anchor_findings(analyze(parsed, self.cache), parsed) if self.config.analyzers else ()

    def review(self, parsed: ParsedDiff, progress: ProgressFactory | None = None,
               tree: TreeSpec | None = None, say: Say | None = None,
               ask_only: Callable[[Hunk], bool] | None = None) -> Review:
        """Review parsed hunks: cache first, the model for the rest; analyzers when configured.

        `progress` is called with the model's name once the backend is known (the CLI's bar
        shows it) and returns the Progress to report to. Raises ModelUnavailable when the
        backend cannot be created or fails.

        When the model is a server on another machine, likely secrets in the diff are first
        handled by `config.secrets` (reviewer.secrets: warn, redact, block). A block is a
        plain ReviewerError, never ModelUnavailable, so a fail-open hook does not let it through.

        With `config.run_tests` and a `tree` (where the new-side project comes from), the
        changed functions' generated tests then run in a sandboxed copy of it and ground the
        findings (reviewer.testgen.evidence); `say` gets their progress lines (default:
        stderr unless quiet). `ask_only`: the hunks the model may be asked about, the others
        come from the cache only (`reviewer ci`, incremental; reviewer.pipeline.review_hunks).
        """
        original = parsed  # anchors and `reviewer: ignore` comments are read from the code, not its redaction
        parsed, redacted = guard(parsed, self.config, self.warn)
        backend = self.backend
        shown: Progress = progress(backend.info.name) if progress is not None else NoProgress()
        hints = self.analyze(parsed)
        try:
            review = run_review(parsed, backend, self.config, self.cache, shown, hints, ask_only)
            if self.config.run_tests and tree is not None:
                review = self._with_tests(review, parsed, tree, redacted, say)
        except ModelUnavailable:
            raise
        except ReviewerError as exc:
            raise ModelUnavailable(str(exc)) from exc
        except (MemoryError, RuntimeError, OSError) as exc:  # a native engine failing without a ReviewerError
            raise ModelUnavailable(f"model {backend.info.name} failed: {type(exc).__name__}: {exc}") from exc
        review = drop_placeholder_suggestions(review) if redacted else review
        # less what the baseline, `reviewer: ignore` comments and the budget hide (reviewer.noise)
        review = apply_noise(replace(review, findings=anchor_findings(review.findings, original)), original,
                             self.config, self.warn)
        # Findings at or above fail_on whose evidence does not block are marked advisory (reviewer/blocking.py).
        return replace(review, findings=mark_advisory(review.findings, self.config.fail_on, self.config.block))

    def _with_tests(self, review: Review, parsed: ParsedDiff, tree: TreeSpec, redacted: bool,
                    say: Say | None) -> Review:
        if redacted:  # the model saw masks; the tests need the code
            self.warn("reviewer: warning: tests not run: the code sent to the model server was "
                      "redacted (--secrets redact); use --secrets warn or a local model for --run-tests")
            return review
        from reviewer.testgen.evidence import review_with_tests  # the test machinery: only with --run-tests

        if say is None and not self.config.quiet:
            say = lambda m: self.warn(f"reviewer: {m}")
        return review_with_tests(review, parsed, tree, self.backend, self.config, self.cache, report=say)

    def stream(self, hunks: tuple[Hunk, ...], hints: tuple[Finding, ...], facts: FileFacts, *,
               backend: backends.Backend | None = None, refresh: bool = False) -> Iterator[HunkResult]:
        """One HunkResult per hunk as soon as it is ready, for front ends that show findings as
        they come (the TUI). Runs in the calling thread with a cache connection of its own
        (SQLite connections stay in their thread); `refresh` asks the model again and stores
        the new answer; `backend` wraps the session's (the TUI's load guard)."""
        cache = open_result_cache(self.config.cache_dir, self.config.cache)
        try:
            job_cache = _WriteOnly(cache) if (refresh and cache is not None) else cache
            view = ParsedDiff(hunks, sources=facts.sources)
            # no budget here: a person watches the hunks come in and stops when they like
            unbudgeted = self.config.replace(max_hunks=0, time_budget=0.0)
            for result in review_hunks(hunks, backend or self.backend, unbudgeted, job_cache,  # type: ignore[arg-type]
                                       NoProgress(), hints, facts):
                yield replace(result, findings=anchor_findings(result.findings, view))
        finally:
            if cache is not None:
                cache.close()

    # -- verdict ---------------------------------------------------------------------

    def exit_status(self, findings: Iterable[Finding]) -> int:
        """1 when a finding is at or above `fail_on` and not advisory, else 0 (always 0 with fail_on never)."""
        return exit_status(mark_advisory(findings, self.config.fail_on, self.config.block), self.config.fail_on)


def parse_source(source: DiffSource, cwd: Path, config: Config, stdin: BinaryIO | None = None, *,
                 allow_empty: bool = False) -> ParsedDiff:
    """Read and parse a diff without a session (it opens nothing): see `ReviewSession.parse`."""
    diff_input = read_diff(source, cwd, stdin)
    if allow_empty and not diff_input.text.strip():
        return ParsedDiff(hunks=())
    return parse_diff(diff_input, config)


def review_parsed(parsed: ParsedDiff, config: Config, progress: ProgressFactory | None = None,
                  warn: Say | None = None, tree: TreeSpec | None = None) -> Review:
    """One review in a session of its own, closed at the end (scripts, benchmarks, tests)."""
    with ReviewSession(config, warn=warn or to_stderr) as session:
        return session.review(parsed, progress, tree)


class _WriteOnly:
    """A cache that is never read but still written: re-review one hunk, keep the new answer."""

    def __init__(self, inner: ResultCache) -> None:
        self.inner = inner

    def get(self, key: str) -> None:
        return None

    def put(self, key: str, completion: object) -> None:
        self.inner.put(key, completion)  # type: ignore[arg-type]

    def get_text(self, key: str) -> str | None:  # analyzer results (of the checked suggestions) are no answer
        return self.inner.get_text(key)

    def put_text(self, key: str, text: str) -> None:
        self.inner.put_text(key, text)


__all__ = ["FROM_CONFIG", "ModelUnavailable", "ProgressFactory", "ReviewSession", "parse_source", "review_parsed",
           "to_stderr"]
