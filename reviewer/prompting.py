"""Hunk -> chat messages, from the versioned templates in prompts/.

A template is markdown: a `<!-- prompt: NAME, version N -->` header, then `## system`
and `## user` sections with `{{placeholders}}`. The version is part of the cache key,
so editing a template without bumping it would serve stale cached results.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from reviewer.backends import Message
from reviewer.types import Category, Hunk, Severity

MAX_LINE_CHARS = 240  # longer lines are cut in the prompt; the model gains nothing from minified blobs

_HEADER = re.compile(r"<!--\s*prompt:\s*(?P<name>[\w-]+),\s*version\s+(?P<version>\d+)")
_SECTION = re.compile(r"^## (system|user)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class PromptTemplate:
    """A parsed prompt file: its name, version and the two message templates."""

    name: str
    version: int
    system: str
    user: str

    @property
    def cache_tag(self) -> str:
        return f"{self.name}-v{self.version}"


@cache
def load_template(name: str) -> PromptTemplate:
    """Read prompts/NAME.md from the installed package."""
    text = resources.files("reviewer.prompts").joinpath(f"{name}.md").read_text(encoding="utf-8")
    header = _HEADER.search(text)
    if header is None:
        raise ValueError(f"prompts/{name}.md has no '<!-- prompt: NAME, version N -->' header")
    parts = _SECTION.split(text)
    sections = {parts[i]: parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}
    return PromptTemplate(header["name"], int(header["version"]), sections["system"], sections["user"])


def render_code(hunk: Hunk) -> str:
    """The hunk as numbered lines: context read from the file, then the diff lines."""
    width = max([len(str(n)) for n, _ in (*hunk.context_before, *hunk.context_after)] + [len(str(hunk.new_start + hunk.new_len)), 2])
    out: list[str] = []

    def row(mark: str, number: int | None, text: str) -> str:
        text = text.rstrip("\r\n")
        if len(text) > MAX_LINE_CHARS:
            text = text[:MAX_LINE_CHARS] + " …"
        num = str(number).rjust(width) if number is not None else " " * width
        return f"{mark} {num} | {text}".rstrip()

    for number, text in hunk.context_before:
        out.append(row(" ", number, text))
    for line in hunk.lines:
        out.append(row(line.kind if line.kind in "+-" else " ", line.new_no if line.kind != "-" else None, line.text))
    for number, text in hunk.context_after:
        out.append(row(" ", number, text))
    return "\n".join(out)


def _fill(template: str, values: dict[str, str]) -> str:
    return re.sub(r"\{\{(\w+)\}\}", lambda m: values[m.group(1)], template)


def review_messages(hunk: Hunk, categories: tuple[Category, ...], template: PromptTemplate | None = None) -> list[Message]:
    """The chat messages asking the model to review one hunk."""
    template = template or load_template("review")
    section = f", in `{hunk.section.strip()}`" if hunk.section.strip() else ""
    if hunk.parts > 1:
        section += f" (part {hunk.part} of {hunk.parts} of a large change)"
    focus = ""
    if set(categories) != set(Category):
        focus = "; report only " + ", ".join(c.value for c in categories) + " problems"
    values = {
        "path": hunk.path,
        "language": hunk.language,
        "section": section,
        "code": render_code(hunk).replace("```", "` ` `"),  # keep the code fence intact
        "focus": focus,
    }
    return [
        {"role": "system", "content": _fill(template.system, values)},
        {"role": "user", "content": _fill(template.user, values)},
    ]


def review_schema() -> dict[str, Any]:
    """JSON schema for the model's answer; reasoning fields come before the findings
    because a small model under a bare findings schema answers an empty list."""
    finding = {
        "type": "object",
        "properties": {
            "line": {"type": "integer"},
            "category": {"type": "string", "enum": [c.value for c in Category]},
            "severity": {"type": "string", "enum": [s.value for s in Severity]},
            "title": {"type": "string", "maxLength": 80},
            "message": {"type": "string", "maxLength": 300},
            "suggestion": {"type": "string", "maxLength": 240},
        },
        "required": ["line", "category", "severity", "title", "message", "suggestion"],
    }
    return {
        "type": "object",
        "properties": {
            # Length caps keep a chatty model from spending the token budget on prose.
            "change": {"type": "string", "maxLength": 160},
            "analysis": {"type": "string", "maxLength": 300},
            "findings": {"type": "array", "items": finding, "maxItems": 4},
        },
        "required": ["change", "analysis", "findings"],
    }
