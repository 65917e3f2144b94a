"""One review used by every sink's golden test (ruff style: same findings, each format)."""

from __future__ import annotations

from helpers import make_hunk

from reviewer.types import Category, Finding, ModelInfo, Review, Severity, SkippedFile, Stats


def sample_review() -> Review:
    hunk = make_hunk()
    other = make_hunk(path="app/report.py", removed=("    total = sum(xs)",),
                      added=("    total = 0", "    for x in xs:", "        total = total + x"), start=40)
    findings = (
        Finding("app/report.py", 41, 43, Category.PERFORMANCE, Severity.LOW, "Manual sum loop",
                "The loop re-implements sum(); it is slower and longer.", "    total = sum(xs)"),
        Finding("app/users.py", 11, 11, Category.SECURITY, Severity.HIGH, "SQL built with string formatting",
                "user_id is interpolated into the query; use a parameter.",
                '    cur = db.execute("SELECT * FROM users WHERE id = ?", (user_id,))'),
    )
    stats = Stats(hunks=2, cached=1, prompt_tokens=812, completion_tokens=240, seconds=9.4, files=3,
                  skipped=(SkippedFile("static/logo.png", "binary"),))
    model = ModelInfo("qwen2.5-coder-1.5b", "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046")
    return Review(model, findings, stats=stats, hunks=(hunk, other))
