"""`--format github`: GitHub Actions workflow commands, one annotation per finding.

    ::error file=app/users.py,line=11,endLine=11,title=security%3A SQL ...::user_id is ...

Model text is untrusted: everything is escaped as the Actions toolkit does
(data: % CR LF; properties also : and ,), so a finding can never end its line and
start a second workflow command (`::add-mask::`, `::stop-commands::`, ...). Other
control characters (terminal escapes the log viewer would act on, NUL, bidi
overrides) are dropped.
GitHub shows at most 10 annotations of each level per step (50 per job).
"""

from __future__ import annotations

import re

from reviewer.types import Finding, Review, Severity

COMMAND = {Severity.HIGH: "error", Severity.MEDIUM: "warning", Severity.LOW: "notice"}
# Control characters other than tab, CR and LF (those two are escaped), DEL, C1, bidi controls.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def escape_data(s: str) -> str:
    return _CONTROL.sub("", s).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(s: str) -> str:
    return escape_data(s).replace(":", "%3A").replace(",", "%2C")


def annotation(f: Finding) -> str:
    """One workflow-command line (no newline inside, whatever the finding says)."""
    props = {
        "file": f.path,
        "line": str(f.line),
        "endLine": str(max(f.end_line, f.line)),
        "title": f"{f.category.value}: {f.title.strip()}",
    }
    message = f.message.strip() or f.title.strip()
    if f.suggestion:
        message += "\n\nSuggested change:\n" + f.suggestion.rstrip("\n")
    head = ",".join(f"{k}={escape_property(v)}" for k, v in props.items())
    return f"::{COMMAND[f.severity]} {head}::{escape_data(message)}"


def render(review: Review, color: bool = False, fail_on: Severity | None = None) -> str:
    return "".join(annotation(f) + "\n" for f in review.findings)
