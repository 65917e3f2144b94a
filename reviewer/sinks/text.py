"""`--format text` (default): findings grouped by file, with a code excerpt, coloured by severity.

Everything printed comes from the diff or the model, both steered by the change's author,
and goes to a terminal: control characters are shown as `\\x1b`-style escapes, never
sent raw (ESC starts sequences that clear the screen, retitle the window or hide text;
bidi overrides reorder what is shown). Rich markup in that text is never interpreted.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from itertools import groupby

from rich.console import Console
from rich.padding import Padding
from rich.text import Text

from reviewer.types import Finding, Review, Severity

SEVERITY_STYLE = {Severity.HIGH: "bold red", Severity.MEDIUM: "yellow", Severity.LOW: "cyan"}
EXCERPT_AROUND = 1

# C0/C1 controls (tab and newline aside), DEL, line/paragraph separators, bidi controls.
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text: str, *, multiline: bool = False) -> str:
    """`text` safe for a terminal: control characters escaped (`\\x1b`), newlines too unless `multiline`."""
    def show(m: re.Match[str]) -> str:
        code = ord(m.group(0))
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    text = _UNPRINTABLE.sub(show, text)
    return text if multiline else text.replace("\n", "\\n")


def _finding(console: Console, f: Finding, source: dict[tuple[str, int], str]) -> None:
    style = SEVERITY_STYLE[f.severity]
    head = Text.assemble(
        (f"  {printable(f.path)}:{f.line}", "bold"),
        "  ",
        (f"{f.severity.value:<6}", style),
        " ",
        (f"{f.category.value:<11}", "magenta"),
        " ",
        printable(f.title),
    )
    if f.advisory:  # at or above fail-on, but its evidence does not block (reviewer/blocking.py)
        head.append("  (advisory)", style="dim")
    console.print(head)
    numbers = [n for n in range(f.line - EXCERPT_AROUND, f.end_line + EXCERPT_AROUND + 1) if (f.path, n) in source]
    width = len(str(max(numbers))) if numbers else 1
    for n in numbers:
        marker = ">" if f.line <= n <= f.end_line else " "
        code = Text(f"    {marker} {str(n).rjust(width)} │ ", style="dim")
        code.append(printable(source[(f.path, n)].rstrip()), style="bold" if marker == ">" else "")
        console.print(code, overflow="ellipsis", no_wrap=True)
    if f.message and f.message != f.title:
        console.print(Padding(Text(printable(f.message, multiline=True)), (0, 0, 0, 6), expand=False))
    if f.suggestion:
        console.print(Padding(Text("suggestion: ", style="green") + Text(printable(f.suggestion.strip(), multiline=True)), (0, 0, 0, 6), expand=False))
    elif f.fix is not None and f.fix.status == "failed":  # the model's suggestion failed its checks (reviewer/fixes/)
        console.print(Padding(Text(f"no checked fix: {printable(f.fix.reason)}", style="dim"), (0, 0, 0, 6), expand=False))
    console.print()


def noise_lines(review: Review) -> list[str]:
    """What the baseline, inline ignores and the budget hid (reviewer.noise): counted, never silent."""
    s = review.stats
    out = []
    if s.hidden_by_baseline or s.hidden_by_inline:
        out.append(f"{s.hidden_by_baseline} hidden by the baseline, {s.hidden_by_inline} by inline ignores "
                   "(--no-baseline / --no-inline-ignores shows them)")
    if s.over_budget:
        out.append(f"{s.over_budget} more left out by the findings budget (--max-findings, --max-findings-per-file)")
    return out


def summary_line(review: Review) -> str:
    s = review.stats
    by_sev = Counter(f.severity.value for f in review.findings)
    files = len({f.path for f in review.findings})
    if review.findings:
        parts = ", ".join(f"{by_sev[v.value]} {v.value}" for v in reversed(Severity) if by_sev[v.value])
        head = f"Found {len(review.findings)} issue{'s' * (len(review.findings) != 1)} ({parts}) in {files} file{'s' * (files != 1)}"
    else:
        head = "No issues found"
    advisory = sum(f.advisory for f in review.findings)
    if advisory:
        head += f"; {advisory} advisory (at or above fail-on, evidence too weak to block; --block all blocks them)"
    tail = f"{s.hunks} hunk{'s' * (s.hunks != 1)} reviewed"
    if s.cached:
        tail += f" ({s.cached} cached)"
    if s.skipped:
        tail += f", {len(s.skipped)} skipped"
    return f"{head} · {tail} · {printable(review.model.name)} · {s.seconds:.1f}s"


def render(review: Review, color: bool = False, fail_on: Severity | None = None) -> str:
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=color, no_color=not color, width=120, highlight=False, soft_wrap=False)
    source = review.new_side_lines()
    for path, group in groupby(review.findings, key=lambda f: f.path):
        console.print(Text(printable(path), style="bold underline"))
        for f in group:
            _finding(console, f, source)
    for skipped in review.stats.skipped:
        console.print(Text(f"skipped {printable(skipped.path)}: {printable(skipped.reason)}", style="dim"))
    for left in review.stats.unreviewed:  # the budget (--max-hunks, --time-budget): never left out silently
        console.print(Text(f"not reviewed {printable(left.path)}: {printable(left.reason)}", style="yellow"))
    if review.tests:  # --run-tests: the findings above already hold what the tests showed
        counts = Counter(t.status for t in review.tests)
        ran = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        console.print(Text(f"generated tests: {ran} (their code: --format json, or `reviewer tests`)", style="dim"))
    if review.stats.unreadable_answers:
        console.print(Text(f"{review.stats.unreadable_answers} model answer(s) could not be read (not the JSON asked "
                           "for): those hunks have no model findings", style="yellow"))
    if review.stats.dropped_findings:
        console.print(Text(f"dropped {review.stats.dropped_findings} model finding(s) not on an added line of the diff", style="dim"))
    for line in noise_lines(review):
        console.print(Text(line, style="dim"))
    console.print(Text(summary_line(review), style="bold"))
    return re.sub(r"[ \t]+\n", "\n", buf.getvalue())  # rich pads wrapped lines
