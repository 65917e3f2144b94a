"""`--format rdjsonl`: reviewdog's Diagnostic Format as JSON Lines, one `Diagnostic` per line.

    reviewer review --base origin/main --format rdjsonl | reviewdog -f=rdjsonl -name=reviewer ...
"""

from __future__ import annotations

import json

from reviewer.sinks.rdjson import diagnostic
from reviewer.types import Review, Severity


def render(review: Review, color: bool = False, fail_on: Severity | None = None) -> str:
    return "".join(json.dumps(diagnostic(f), ensure_ascii=False, separators=(",", ":")) + "\n"
                   for f in review.findings)
