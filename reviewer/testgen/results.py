"""What a test-suggestion run produces: its options, each suggested test and its verdict, what was dropped, counters."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from reviewer.testgen import generate as gen
from reviewer.testgen.extract import ChangedFunction
from reviewer.testgen.sandbox import Limits
from reviewer.types import Category, Finding, Severity, TestSuggestion

CONTRACT_STATUS = {"passed": "passed", "failed": "failed", "timeout": "failed", "error": "error"}


@dataclass(frozen=True)
class Options:
    """How tests are generated and run."""

    limits: Limits = field(default_factory=Limits)
    python: str | None = None  # interpreter for the tests (needs pytest), run inside the sandbox; default: reviewer's own
    unsafe_no_sandbox: bool = False  # where no sandbox works, run the tests on the host anyway (else: refused)
    max_functions: int = 8
    max_tokens: int = gen.MAX_TOKENS
    repair: bool = True
    execute: bool = True  # False: generate only (status not-run)


@dataclass(frozen=True)
class Suggestion:
    """One generated test, what happened when it ran on the new code, and on the old."""

    target: ChangedFunction
    name: str
    code: str  # preamble + the test: runs on its own
    unit: str  # the test alone
    preamble: tuple[str, ...]
    path: str  # the project test file it belongs in
    status: str  # passed | failed | error | timeout | skipped | not-run
    message: str = ""
    runtime: float = 0.0
    old_status: str | None = None  # None: not run on the old code (new function, or not runnable)
    repaired: bool = False

    @property
    def regression(self) -> bool:
        return self.status in ("failed", "timeout") and self.old_status == "passed"

    @property
    def shows_fix(self) -> bool:
        """The mirror of a regression: fails (or hangs) on the old code, passes on the new."""
        return self.status == "passed" and self.old_status in ("failed", "timeout")

    def to_contract(self) -> TestSuggestion:
        return TestSuggestion(self.path, self.code, CONTRACT_STATUS.get(self.status, "not-run"))

    def to_dict(self) -> dict[str, object]:
        """The contract's fields plus what the contract has no field for yet."""
        return {**self.to_contract().to_dict(), "target": self.target.target, "name": self.name, "outcome": self.status,
                "message": self.message, "runtime": round(self.runtime, 3), "old_outcome": self.old_status,
                "regression": self.regression, "repaired": self.repaired}


@dataclass(frozen=True)
class Dropped:
    """Generated code that could not be used even after a repair: a whole module that did not
    parse or collect, or one test of a module that errored on its own account."""

    target: ChangedFunction
    code: str
    reason: str

    @property
    def tests(self) -> int:
        """How many tests the dropped code held (at least one)."""
        return max(1, len(re.findall(r"^\s*(?:async\s+)?def\s+test", self.code, re.MULTILINE)))


@dataclass
class TestgenStats:
    """Counters for one run."""

    __test__ = False

    functions: int = 0
    model_calls: int = 0
    cached: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    repairs: int = 0
    seconds: float = 0.0
    sandbox_seconds: float = 0.0
    isolation: str = ""
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (target, reason)


@dataclass(frozen=True)
class TestgenResult:
    """Everything `reviewer tests` reports."""

    __test__ = False

    suggestions: tuple[Suggestion, ...]
    dropped: tuple[Dropped, ...]
    findings: tuple[Finding, ...]
    stats: TestgenStats


def project_test_path(tree: Path | None, source_path: str) -> str:
    """Where tests for `source_path` go in the project's layout: tests/test_<module>.py."""
    p = PurePosixPath(source_path)
    stem = p.parent.name if p.stem == "__init__" and p.parent.name else p.stem
    folder = "test" if tree is not None and (tree / "test").is_dir() and not (tree / "tests").is_dir() else "tests"
    return f"{folder}/test_{stem}.py"


def regression_findings(suggestions: Sequence[Suggestion]) -> tuple[Finding, ...]:
    """One finding per function with regression-revealing tests; the first test is the evidence."""
    by_target: dict[str, list[Suggestion]] = {}
    for s in suggestions:
        if s.regression:
            by_target.setdefault(s.target.target, []).append(s)
    out = []
    for items in by_target.values():
        fn, first = items[0].target, items[0]
        what = "hangs" if all(s.status == "timeout" for s in items) else "fails"
        names = ", ".join(f"`{s.name}`" for s in items)
        detail = first.message.strip().splitlines()[0][:200] if first.message.strip() else first.status
        tests = "test passes" if len(items) == 1 else f"{len(items)} generated tests pass"
        out.append(Finding(
            path=fn.path, line=fn.anchor, end_line=fn.anchor, category=Category.BUG, severity=Severity.MEDIUM,
            title=f"Behaviour change in {fn.qualname}: a generated test now {what}",
            message=f"{'A generated ' if len(items) == 1 else ''}{tests} on the code before this change and "
                    f"{'fail' if len(items) > 1 else what} after it ({names}; {detail}). Unless the change is "
                    f"intended, it is a regression. Evidence:\n{first.unit}",
            source="tests",
        ))
    return tuple(out)
