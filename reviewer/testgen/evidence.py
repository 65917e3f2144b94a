"""What the generated tests say about the change, folded into a review (`--run-tests`).

Each generated test of a changed function ran on the new code and on the old. Two
outcomes say something about the change itself, because they need the test's
expectation to agree with one version and not the other:

- **regression**: passes on the old code, fails (or hangs) on the new one. The new code
  broke what the model expects of the function: a bug finding (`regression_findings`).
- **fix**: fails on the old code, passes on the new one. The model's expectation of
  the function agrees with the new code exactly where it differs from the old. A model
  bug claim inside that function then contradicts the model's own executable
  expectation, so, when no test of the function regressed, the claim is lowered to
  `low` with a note (kept in the report, no alarm).

A test that passes or fails on both versions says nothing about the change and is not
evidence either way. Security claims are left alone: a test of behaviour does not show
that input cannot be abused.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import NamedTuple

from reviewer.backends import Backend
from reviewer.cache import ResultCache
from reviewer.config import Config
from reviewer.grounding import demoted, is_alarm_claim
from reviewer.merging import keep_finding
from reviewer.testgen.fixcheck import check_with_tests
from reviewer.testgen.origin import tests_python
from reviewer.testgen.sandbox import TreeSpec
from reviewer.testgen.suggestions import Options, Suggestion, TestgenResult, TestgenSession
from reviewer.types import Category, Finding, ParsedDiff, Review, Severity, SkippedFile


class FunctionEvidence(NamedTuple):
    """The tests of one changed function that tell the old and the new code apart."""

    path: str
    start: int  # new-file lines of the definition
    end: int
    qualname: str
    fixes: tuple[str, ...]  # names of tests that fail on the old code and pass on the new
    regressions: tuple[str, ...]  # names of tests that pass on the old code and fail on the new

    @property
    def looks_like_a_fix(self) -> bool:
        return bool(self.fixes) and not self.regressions


def evidence(suggestions: Sequence[Suggestion]) -> tuple[FunctionEvidence, ...]:
    """Per changed function with tests that ran on both versions, in first-seen order."""
    by_target: dict[str, list[Suggestion]] = {}
    for s in suggestions:
        if s.old_status is not None:
            by_target.setdefault(s.target.target, []).append(s)
    out = []
    for items in by_target.values():
        fn = items[0].target
        fixes = tuple(s.name for s in items if s.shows_fix)
        regressions = tuple(s.name for s in items if s.regression)
        out.append(FunctionEvidence(fn.path, fn.start, fn.end, fn.qualname, fixes, regressions))
    return tuple(out)


def _inside(finding: Finding, fn: FunctionEvidence) -> bool:
    return finding.path == fn.path and fn.start <= finding.line and finding.end_line <= fn.end


def ground_by_tests(findings: Sequence[Finding], result: TestgenResult) -> tuple[Finding, ...]:
    """`findings` with model bug alarms lowered where the tests say the change is a fix,
    then the regression findings (source "tests") added."""
    fixed = [fn for fn in evidence(result.suggestions) if fn.looks_like_a_fix]
    out = []
    for f in findings:
        fn = next((fn for fn in fixed if _inside(f, fn)), None)
        if fn is not None and is_alarm_claim(f) and f.category is Category.BUG:
            names = ", ".join(f"`{n}`" for n in fn.fixes)
            f = demoted(f, Severity.LOW, f"[Lowered from {f.severity.value}: generated tests of {fn.qualname} fail "
                        f"on the code before this change and pass after it ({names}), and none passes before and "
                        f"fails after: the tests agree with the new behaviour this claim doubts.]")
        out.append(f)
    return (*out, *result.findings)


def review_with_tests(review: Review, parsed: ParsedDiff, tree: TreeSpec, backend: Backend, config: Config,
                      cache: ResultCache | None, report: Callable[[str], None] | None = None) -> Review:
    """`review` after the changed functions' generated tests ran in a sandboxed copy of
    `tree`: findings grounded by them (`ground_by_tests`) and filtered by `config` like the
    review's own, the tests in `review.tests`, functions that got none in `stats.skipped`.
    The tests run in the sandbox with reviewer's Python, or `config.tests_python` when set
    (nothing from the repository runs unless so configured, and then only in the sandbox)."""
    options = Options(python=tests_python(None, config, tree.root), unsafe_no_sandbox=config.unsafe_no_sandbox)
    with TestgenSession(tree, options) as session:
        result = session.run(parsed, backend, config, cache, report=report)
        # suggested fixes must keep what their function's tests agree on (reviewer/testgen/fixcheck.py)
        review = replace(review, findings=check_with_tests(review.findings, session, result))
    skipped = (*review.stats.skipped, *(SkippedFile(target, f"no tests: {why}") for target, why in result.stats.skipped))
    stats = replace(review.stats, skipped=skipped, prompt_tokens=review.stats.prompt_tokens + result.stats.prompt_tokens,
                    completion_tokens=review.stats.completion_tokens + result.stats.completion_tokens,
                    seconds=review.stats.seconds + result.stats.seconds)
    findings = tuple(f for f in ground_by_tests(review.findings, result) if keep_finding(f, config))
    return replace(review, findings=findings,
                   tests=(*review.tests, *(s.to_contract() for s in result.suggestions)), stats=stats)


__all__ = ["FunctionEvidence", "evidence", "ground_by_tests", "review_with_tests"]
