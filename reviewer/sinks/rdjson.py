"""`--format rdjson`: reviewdog's Diagnostic Format, the `DiagnosticResult` message as JSON.

Field names follow reviewdog/proto/rdf/reviewdog.proto (proto field names, which
protojson accepts). Ranges carry lines only: reviewdog then treats them as linewise
with the end line included, which is what `line`/`end_line` mean here, and a
suggestion on such a range replaces those whole lines (a GitHub suggestion block).

    reviewer review --base origin/main --format rdjson \
      | reviewdog -f=rdjson -name=reviewer -reporter=github-pr-review

reviewdog posts `message` verbatim as Markdown in pull/merge-request comments, so it is
escaped like reviewer's own CI comments (reviewer.ci.comments: no @mentions, HTML,
links or fences). A suggestion is code and stays exact; reviewdog sizes its fence from
backtick runs at the start of lines only, so a suggestion holding an indented fence
(which would end reviewdog's block early) is left out.
"""

from __future__ import annotations

import json
import re

from reviewer.sinks.markdown import escape_line, strip_control
from reviewer.sinks.sarif import PROJECT_URL, finding_text, rule_help_uri, rule_id
from reviewer.types import Finding, Review, Severity

SEVERITY = {Severity.HIGH: "ERROR", Severity.MEDIUM: "WARNING", Severity.LOW: "INFO"}
SOURCE = {"name": "reviewer", "url": PROJECT_URL}
_LINE_END = re.compile(r"(\r\n|\n)")
_INDENTED_FENCE = re.compile(r"^ {1,3}`{3,}", re.MULTILINE)  # closes a ``` block; reviewdog does not count it


def markdown_text(text: str) -> str:
    """Untrusted text escaped line by line for reviewdog's Markdown comments (line endings kept)."""
    return "".join(part if _LINE_END.fullmatch(part) else escape_line(strip_control(part))
                   for part in _LINE_END.split(text))


def _range(f: Finding) -> dict[str, object]:
    return {"start": {"line": f.line}, "end": {"line": max(f.end_line, f.line)}}


def diagnostic(f: Finding) -> dict[str, object]:
    """One reviewdog `Diagnostic`, self-contained (rdjsonl needs each line to stand alone)."""
    code: dict[str, str] = {"value": rule_id(f)}
    url = rule_help_uri(f)
    if url:
        code["url"] = url
    d: dict[str, object] = {
        "message": f"[{f.category.value}] {markdown_text(finding_text(f))}",
        "location": {"path": f.path, "range": _range(f)},
        "severity": SEVERITY[f.severity],
        "source": dict(SOURCE),
        "code": code,
    }
    if f.suggestion and not _INDENTED_FENCE.search(f.suggestion):
        d["suggestions"] = [{"range": _range(f), "text": f.suggestion.rstrip("\n")}]
    d["original_output"] = json.dumps(f.to_dict(), ensure_ascii=False, separators=(",", ":"))
    return d


def to_rdjson(review: Review) -> dict[str, object]:
    """The `DiagnosticResult` as a plain dict; `severity` is the worst finding's (absent when none)."""
    result: dict[str, object] = {"source": dict(SOURCE)}
    if review.findings:
        result["severity"] = SEVERITY[max((f.severity for f in review.findings), key=lambda s: s.rank)]
    result["diagnostics"] = [diagnostic(f) for f in review.findings]
    return result


def render(review: Review, color: bool = False, fail_on: Severity | None = None) -> str:
    return json.dumps(to_rdjson(review), indent=2, ensure_ascii=False) + "\n"
