"""Exporting a TUI session: JSON (the `reviewer review --format json` contract) or Markdown.

JSON holds the findings shown when exporting (baselined and filtered-out ones left
out), so tools that read `reviewer review` output read it too. Markdown is for people:
the same findings grouped by file with their status (open / suggestion applied),
then what was dismissed this session and why.
"""

from __future__ import annotations

from pathlib import Path

from reviewer.sinks.json import render as render_json
from reviewer.tui.state import Session
from reviewer.types import Finding


def export_format(path: Path) -> str:
    """"json" for a .json path, else "markdown"."""
    return "json" if path.suffix.lower() == ".json" else "markdown"


def render_export(session: Session, fmt: str) -> str:
    if fmt == "json":
        return render_json(session.to_review())
    return render_markdown(session)


def _fence(text: str, lang: str = "") -> str:
    ticks = "```"
    while ticks in text:
        ticks += "`"
    return f"{ticks}{lang}\n{text.rstrip()}\n{ticks}"


def _finding_md(f: Finding, accepted: bool) -> list[str]:
    where = f"{f.path}:{f.line}" + (f"-{f.end_line}" if f.end_line > f.line else "")
    status = " — suggestion applied" if accepted else ""
    out = [f"### `{where}` {f.severity.value} {f.category.value}: {f.title}{status}", ""]
    if f.message and f.message != f.title:
        out += [f.message, ""]
    if f.suggestion:
        out += ["Suggested change:", "", _fence(f.suggestion), ""]
    out += [f"<sub>source: {f.source} · fingerprint: {f.fingerprint}</sub>", ""]
    return out


def render_markdown(session: Session) -> str:
    review = session.to_review()
    shown = review.findings
    accepted = session.accepted
    s = review.stats
    lines = ["# reviewer session", "",
             f"- model: {session.model.name}",
             f"- hunks reviewed: {session.done} of {session.total}" + (f" ({s.cached} cached)" if s.cached else ""),
             f"- findings: {len(shown)}" + (f", {len(accepted & {f.fingerprint for f in shown})} with the suggestion "
                                           "applied" if accepted else ""),
             f"- filter: {session.filter_label}"]
    hidden = len(session.baselined())
    if hidden:
        lines.append(f"- hidden by the baseline: {hidden}")
    lines.append("")
    for path in dict.fromkeys(f.path for f in shown):
        lines += [f"## {path}", ""]
        for f in shown:
            if f.path == path:
                lines += _finding_md(f, f.fingerprint in accepted)
    if session.dismissed:
        lines += ["## Dismissed this session", ""]
        for f, reason in session.dismissed.values():
            lines.append(f"- `{f.path}:{f.line}` {f.category.value}: {f.title} — {reason or '(no reason given)'}")
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


__all__ = ["export_format", "render_export", "render_markdown"]
