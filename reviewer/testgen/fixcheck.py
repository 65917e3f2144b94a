"""Generated tests as one more check of suggested fixes (`--run-tests`): a fix must keep what its function's tests agree on.

A generated test that passes on the code before the change and after it states behaviour the
change kept and nobody disputes; a suggested replacement inside that function that makes such a
test fail breaks working code, so it is dropped (check "tests", like the checks of reviewer/fixes/).
Tests that tell the two versions apart are not used: they are the question, not the answer. A
function with no such test leaves its suggestions as they are. No repair is asked for here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from reviewer.fixes.apply import spliced
from reviewer.testgen.suggestions import Suggestion, TestgenResult, TestgenSession
from reviewer.types import Finding, FixCheck


def agreed_tests(finding: Finding, suggestions: Sequence[Suggestion]) -> list[Suggestion]:
    """The generated tests of the function holding `finding` that passed on the old and the new code."""
    return [s for s in suggestions if s.status == "passed" and s.old_status == "passed" and s.target.path == finding.path
            and s.target.start <= finding.line and finding.end_line <= s.target.end]


def check_with_tests(findings: Sequence[Finding], session: TestgenSession, result: TestgenResult) -> tuple[Finding, ...]:
    """`findings` with each checked suggestion run against its function's agreed tests; one that breaks any is dropped."""
    out = []
    for f in findings:
        tests = agreed_tests(f, result.suggestions) if f.suggestion else []
        source = session.new_source(f.path) if tests else None
        if not tests or source is None or session.tree is None:
            out.append(f)
            continue
        fixed = spliced(source, f.line, f.end_line, str(f.suggestion).split("\n"))
        files = {f"test__reviewer_fixcheck_{i}.py": s.code for i, s in enumerate(tests)}
        run = session.pytest_with(f.path, "\n".join(fixed) + "\n", files)
        failed = [name for name in files if name in run.collect_errors] + \
                 [r.nodeid for r in run.records.values() if r.status != "passed"]
        if failed or not run.records:
            names = ", ".join(f"`{t.name}`" for t in tests)
            reason = f"a generated test that passes before and after the change fails with it ({names})"
            f = replace(f, suggestion=None, fix=FixCheck("failed", "tests", reason))
        out.append(f)
    return tuple(out)


__all__ = ["agreed_tests", "check_with_tests"]
