"""The README is the front door: short, and every link in it and in docs/ leads somewhere real."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lowercased, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)
    return {slug(m.group(1)) for m in re.finditer(r"^#+ (.*)$", text, re.MULTILINE)}


def test_every_relative_link_and_anchor_resolves() -> None:
    bad = []
    for doc in DOCS:
        text = re.sub(r"```.*?```", "", doc.read_text(encoding="utf-8"), flags=re.DOTALL)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, fragment = target.partition("#")
            file = (doc.parent / path).resolve() if path else doc
            if not file.exists():
                bad.append(f"{doc.relative_to(ROOT)}: {target} does not exist")
            elif fragment and file.suffix == ".md" and fragment not in anchors(file):
                bad.append(f"{doc.relative_to(ROOT)}: {target} has no such heading")
    assert bad == []


def test_the_readme_is_a_front_page() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.encode()) <= 10 * 1024, "move detail into docs/ and link it"
    for doc in ("docs/architecture.md", "docs/quality.md", "docs/speed.md", "docs/review.md", "docs/tests.md",
                "docs/noise.md", "docs/ci.md", "docs/tui.md", "docs/pre-commit.md", "docs/models.md"):
        assert f"({doc}" in text, f"{doc} is not reachable from the README"


def test_nothing_cites_the_external_design_sketch() -> None:
    offenders = [str(p.relative_to(ROOT)) for p in [*DOCS, *(ROOT / "reviewer").rglob("*.py")]
                 if "DESIGN.md" in p.read_text(encoding="utf-8")]
    assert offenders == []
