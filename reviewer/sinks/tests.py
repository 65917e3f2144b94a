"""The `reviewer tests` report, text or JSON: its input is a TestgenResult, not only a Review.

The JSON is the review contract (`--format json`) with `tests[]` filled and the test
statistics added to `stats`; the text lists each test's status under its function.
"""

from __future__ import annotations

import io
import json
import os
import sys
from collections import defaultdict
from typing import TYPE_CHECKING

from reviewer.types import Review, SkippedFile, Stats

if TYPE_CHECKING:
    from reviewer.testgen.suggestions import Suggestion, TestgenResult
    from reviewer.types import ParsedDiff

STATUS_STYLE = {"passed": "green", "failed": "red", "timeout": "magenta", "error": "yellow", "skipped": "dim",
                "not-run": "dim"}


def to_review(result: TestgenResult, parsed: ParsedDiff, model: object) -> Review:
    """The review contract: regressions as findings, suggestions as tests[]."""
    skipped = (*parsed.skipped, *(SkippedFile(t, r) for t, r in result.stats.skipped))
    stats = Stats(hunks=len(parsed.hunks), cached=result.stats.cached, prompt_tokens=result.stats.prompt_tokens,
                  completion_tokens=result.stats.completion_tokens, seconds=result.stats.seconds, files=parsed.files,
                  skipped=skipped)
    return Review(model, result.findings, tuple(s.to_contract() for s in result.suggestions), stats)  # type: ignore[arg-type]


def render_json(review: Review, result: TestgenResult) -> str:
    data = review.to_dict()
    data["tests"] = [s.to_dict() for s in result.suggestions]
    stats = data["stats"]
    assert isinstance(stats, dict)
    stats.update({"functions": result.stats.functions, "dropped_tests": sum(d.tests for d in result.dropped),
                  "repairs": result.stats.repairs, "sandbox_seconds": round(result.stats.sandbox_seconds, 3),
                  "isolation": result.stats.isolation})
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def render_text(result: TestgenResult, written: list[tuple[str, int]], show_code: bool = True) -> str:
    from rich.console import Console
    from rich.padding import Padding
    from rich.syntax import Syntax
    from rich.text import Text

    color = sys.stdout.isatty() and "NO_COLOR" not in os.environ
    console = Console(record=True, force_terminal=color, no_color=not color, width=100, file=io.StringIO())
    by_target: dict[str, list[Suggestion]] = defaultdict(list)
    for s in result.suggestions:
        by_target[s.target.target].append(s)
    for target, items in by_target.items():
        console.print(Text(f"{target}  (line {items[0].target.lineno})", style="bold"))
        for s in items:
            line = Text("  ")
            line.append(f"{s.status:<8}", style=STATUS_STYLE.get(s.status, ""))
            line.append(f" {s.name}  {s.runtime:.2f}s")
            if s.regression:
                line.append("  REGRESSION: passed on the old code", style="bold red")
            console.print(line)
            if s.message and s.status != "passed":
                console.print(Text("      ↳ " + s.message.strip().splitlines()[0][:200], style="dim"))
            if show_code:
                code = Syntax(s.unit, "python", theme="ansi_dark", background_color="default", code_width=90)
                console.print(Padding(code, (0, 0, 0, 6), expand=False))
    for d in result.dropped:
        reason = d.reason.strip().splitlines()[-1][:160] if d.reason.strip() else "broken"
        console.print(Text(f"{d.target.target}: generated test code dropped ({reason})", style="yellow"))
    for target, reason in result.stats.skipped:
        console.print(Text(f"{target}: skipped ({reason})", style="dim"))
    counts = defaultdict(int)
    for s in result.suggestions:
        counts[s.status] += 1
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no tests"
    regressions = sum(s.regression for s in result.suggestions)
    console.print(Text(f"\n{summary}; {regressions} regression(s); {len(result.dropped)} dropped · "
                       f"{result.stats.functions} function(s) · sandbox: {result.stats.isolation} · "
                       f"{result.stats.seconds:.1f}s"))
    for path, n in written:
        console.print(Text(f"wrote {n} test(s) to {path}", style="green"))
    return "\n".join(line.rstrip() for line in console.export_text(styles=color).splitlines()) + "\n"


__all__ = ["render_json", "render_text", "to_review"]
