"""`--format json`: the machine contract documented in DESIGN.md (version 1)."""

from __future__ import annotations

import json

from reviewer.types import Review


def render(review: Review, color: bool = False) -> str:
    return json.dumps(review.to_dict(), indent=2, ensure_ascii=False) + "\n"
