"""`--format json`: the machine contract, version 1 (docs/review.md, "What you get")."""

from __future__ import annotations

import json

from reviewer.types import Review, Severity


def render(review: Review, color: bool = False, fail_on: Severity | None = None) -> str:
    return json.dumps(review.to_dict(), indent=2, ensure_ascii=False) + "\n"
