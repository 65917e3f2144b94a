"""The CI walkthrough on the real default model: its per-hunk analysis is kept and shown (one hunk, ~20 s)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SAMPLE_DIFF

from reviewer.ci.comments import Plan, summary_body
from reviewer.config import Config
from reviewer.diff import DiffSource
from reviewer.session import parse_source, review_parsed

pytestmark = pytest.mark.model


def test_the_models_analysis_reaches_the_walkthrough(model_cache: Path) -> None:
    config = Config(cache_dir=model_cache, analyzers=False, quiet=True)
    parsed = parse_source(DiffSource("file", str(SAMPLE_DIFF)), SAMPLE_DIFF.parent, config)
    review = review_parsed(parsed, config)
    (note,) = review.notes
    assert note.path == "app/users.py" and len(note.text.split()) >= 3, note
    body = summary_body(review, Plan((), (), 0, (), True), "github")
    assert "**Walkthrough**" in body and "- `app/users.py`: " in body

