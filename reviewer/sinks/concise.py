"""The git hook's report: one `path:line: severity category: title` line per finding, then a summary.

Like flake8 or ruff in a pre-commit run; nothing at all when there is no finding, so a
clean commit prints nothing.
"""

from __future__ import annotations

from reviewer.types import NOT_REVIEWED, Review, Severity


def render(review: Review, color: bool = False, fail_on: Severity | None = None) -> str:
    findings = sorted(review.findings, key=lambda f: (f.path, f.line, -f.severity.rank, f.title))
    stats = review.stats
    hidden = []
    if stats.hidden_by_baseline or stats.hidden_by_inline:
        hidden.append(f"{stats.hidden_by_baseline} hidden by the baseline, {stats.hidden_by_inline} by inline ignores")
    if stats.over_budget:
        hidden.append(f"{stats.over_budget} left out by the findings budget")
    if not findings:
        return "".join(f"reviewer: {h}\n" for h in hidden)
    lines = [f"{f.path}:{f.line}: {f.severity.value} {f.category.value}: {f.title}" + (" (advisory)" if f.advisory else "")
             for f in findings]
    counts = {sev: sum(f.severity.value == sev for f in findings) for sev in ("high", "medium", "low")}
    detail = ", ".join(f"{n} {sev}" for sev, n in counts.items() if n)
    noun = "issue" if len(findings) == 1 else "issues"
    summary = f"Found {len(findings)} {noun} ({detail})"
    if fail_on is not None:
        at_bar = sum(f.severity.rank >= fail_on.rank for f in findings)
        summary += f"; {at_bar} at or above fail-on {fail_on.value}"
        if advisory := sum(f.advisory for f in findings):  # reviewer/blocking.py
            summary += f" ({advisory} advisory, not blocking)"
    unanswered = sum(s.reason.startswith(NOT_REVIEWED) for s in stats.skipped)  # past hook-timeout, a crash
    shown = f"{stats.hunks - unanswered} of {stats.hunks}" if unanswered else str(stats.hunks)
    summary += f" · {shown} hunk{'s' if stats.hunks != 1 else ''} reviewed"
    if stats.cached:
        summary += f" ({stats.cached} cached)"
    return "\n".join(lines) + "\n" + summary + "".join(f"; {h}" for h in hidden) + "\n"
