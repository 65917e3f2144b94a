"""The review pipeline as two calls: a diff source -> ParsedDiff -> Review.

`reviewer review` and `reviewer hook run` both go through here, so every entry point
shares one result cache (a second `git commit` on the same staged diff answers from it
without loading the model) and one place where backends are opened and closed.

Failures of the model itself (not installed, fails to load, crashes with a Python
exception, a server that is down or times out) are raised as `ModelUnavailable`, a
`ReviewerError`: `reviewer review` reports it like any other error (exit 2), a git
hook may decide by `hook_policy` whether it blocks the commit.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from reviewer import backends
from reviewer.analyzers import analyze
from reviewer.cache import open_result_cache
from reviewer.config import Config
from reviewer.diff import DiffSource, parse_diff, read_diff
from reviewer.errors import ReviewerError
from reviewer.pipeline import NoProgress, Progress, run_review
from reviewer.secrets import drop_placeholder_suggestions, guard
from reviewer.types import ParsedDiff, Review

if TYPE_CHECKING:
    from reviewer.testgen.sandbox import TreeSpec

ProgressFactory = Callable[[str], Progress]  # model name -> a Progress (the CLI's bar wants the name)


class ModelUnavailable(ReviewerError):
    """The model could not run: missing, failed to load, raised while answering, unreachable, timed out."""


def parse_source(
    source: DiffSource,
    cwd: Path,
    config: Config,
    stdin: BinaryIO | None = None,
    *,
    allow_empty: bool = False,
) -> ParsedDiff:
    """Read the diff named by `source` and parse it into hunks.

    An empty diff is a ReviewerError (nothing to review), unless `allow_empty`: then it is
    a ParsedDiff without hunks, as a git hook wants for a commit that changes nothing.
    """
    diff_input = read_diff(source, cwd, stdin)
    if allow_empty and not diff_input.text.strip():
        return ParsedDiff(hunks=())
    return parse_diff(diff_input, config)


def review_parsed(
    parsed: ParsedDiff,
    config: Config,
    progress: ProgressFactory | None = None,
    warn: Callable[[str], None] | None = None,
    tree: TreeSpec | None = None,
) -> Review:
    """Review parsed hunks: cache first, the model for the rest; analyzers when configured.

    `progress` is called with the model's name once the backend is known (the CLI's bar
    shows it) and returns the Progress to report to. Raises ModelUnavailable when the
    backend cannot be created or fails.

    When the model is a server on another machine, likely secrets in the diff are first
    handled by `config.secrets` (reviewer.secrets: warn, redact, block); `warn` gets each
    warning line (default: stderr). A block is a plain ReviewerError, never ModelUnavailable,
    so a fail-open hook does not let it through.

    With `config.run_tests` and a `tree` (where the new-side project comes from), the
    changed functions' generated tests then run in a sandboxed copy of it and ground the
    findings (reviewer.testgen.evidence); `warn` gets their progress lines unless quiet.
    """
    parsed, redacted = guard(parsed, config, warn or _to_stderr)
    try:
        backend = backends.make_backend(config)
    except ReviewerError as exc:
        raise ModelUnavailable(str(exc)) from exc
    cache = None
    try:
        cache = open_result_cache(config.cache_dir, config.cache)
        shown: Progress = progress(backend.info.name) if progress is not None else NoProgress()
        hints = analyze(parsed, cache) if config.analyzers else ()
        try:
            review = run_review(parsed, backend, config, cache, shown, hints)
            if config.run_tests and tree is not None:
                if redacted:  # the model saw masks; the tests need the code
                    (warn or _to_stderr)("reviewer: warning: tests not run: the code sent to the model server was "
                                         "redacted (--secrets redact); use --secrets warn or a local model for --run-tests")
                else:
                    from reviewer.testgen.evidence import review_with_tests

                    say = None if config.quiet else (lambda m: (warn or _to_stderr)(f"reviewer: {m}"))
                    review = review_with_tests(review, parsed, tree, backend, config, cache, report=say)
        except ModelUnavailable:
            raise
        except ReviewerError as exc:
            raise ModelUnavailable(str(exc)) from exc
        except (MemoryError, RuntimeError, OSError) as exc:  # a native engine failing without a ReviewerError
            raise ModelUnavailable(f"model {backend.info.name} failed: {type(exc).__name__}: {exc}") from exc
        return drop_placeholder_suggestions(review) if redacted else review
    finally:
        backend.close()
        if cache is not None:
            cache.close()


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr)


def review_source(
    source: DiffSource,
    cwd: Path,
    config: Config,
    progress: ProgressFactory | None = None,
    stdin: BinaryIO | None = None,
) -> Review:
    """The whole pipeline: read and parse the diff, then review it (see `review_parsed`)."""
    return review_parsed(parse_source(source, cwd, config, stdin), config, progress)


__all__ = ["ModelUnavailable", "ProgressFactory", "parse_source", "review_parsed", "review_source"]
