"""Hunk -> chat messages, from the versioned templates in prompts/.

A template is markdown: a `<!-- prompt: NAME, version N -->` header, then `## system`
and `## user` sections with `{{placeholders}}`. The version is part of the cache key,
so editing a template without bumping it would serve stale cached results.

Everything filled into a template (code, path, section, analyzer hints) comes from the
change under review, so its author controls it. It is made inert before it goes in:
text shaped like a chat-template control token is broken up (llama-cpp-python
tokenizes the formatted prompt with special tokens enabled, so `<|im_start|>system`
inside a comment would otherwise open a real system turn), the code cannot close its
fence, and the path and section stay on one line inside their backticks.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from reviewer.types import Category, Finding, Hunk, Message, Severity

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


# Chat-template control tokens: ChatML/Qwen and Llama 3 `<|im_start|>`, `<|eot_id|>`,
# DeepSeek `<｜end▁of▁sentence｜>`, Llama 2/CodeLlama `<s>`, `</s>`, `[INST]`, `<<SYS>>`.
# The `<|` of F#/Elm pipes has spaces and is left alone.
_SPECIAL_TOKEN = re.compile(r"<(?=[|｜][^\s<>|｜]{1,64}[|｜]>)|<(?=/?s>)|\[(?=/?INST\])|<(?=</?SYS>>)")
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def neutralize_special_tokens(text: str) -> str:
    """Break text that a tokenizer would read as a control token: `<|im_end|>` -> `< |im_end|>`."""
    return _SPECIAL_TOKEN.sub(lambda m: m.group(0) + " ", text)


def inline_text(text: str, limit: int = 300) -> str:
    """Untrusted text (a path, a definition line) for a `backtick` span of the prompt:
    one line, no backticks to end the span, no control tokens."""
    text = _UNPRINTABLE.sub(" ", text).strip().replace("`", "'")
    if len(text) > limit:
        text = text[:limit] + " …"
    return neutralize_special_tokens(text)


def _fill(template: str, values: dict[str, str]) -> str:
    return re.sub(r"\{\{(\w+)\}\}", lambda m: values[m.group(1)], template)


_DEFINITION = re.compile(r"^\s*(async\s+def|def|class|func|fn|function)\s+\w")


def enclosing_definition(hunk: Hunk) -> str:
    """The nearest definition line above the first change, else git's @@ section.

    git's section is the last definition *before the hunk starts*, which is wrong when
    the hunk's own context already opens a new function.
    """
    first_change = next((i for i, ln in enumerate(hunk.lines) if ln.kind != " "), len(hunk.lines))
    above = [text for _, text in hunk.context_before] + [ln.text for ln in hunk.lines[:first_change]]
    for text in reversed(above):
        if _DEFINITION.match(text):
            return text.strip()
    return hunk.section.strip()


def render_hints(hints: tuple[Finding, ...]) -> str:
    """Analyzer findings on this hunk, as a paragraph the model is asked to check."""
    if not hints:
        return ""
    # bandit quotes the code in some messages (hard-coded passwords): one line each, inert
    rows = "\n".join(f"- line {f.line}: {inline_text(f.message)}" for f in hints)
    return f"\nA static analyzer flagged these added lines; check whether each is a real problem:\n{rows}\n"


def hunk_instructions(path: str, general: str, by_path: Sequence[tuple[str, str]]) -> str:
    """The custom instructions for a hunk of `path`: the general text, then each matching glob's."""
    from fnmatch import fnmatch

    parts = [general] + [text for glob, text in by_path if fnmatch(path, glob)]
    return "\n".join(p for p in parts if p.strip())


def render_instructions(text: str) -> str:
    """The project's own review instructions, as a paragraph after the code ('' when none: the
    prompt is then the same text as before instructions existed). They come from the repository
    (in CI from the base branch), so they are made inert like the code."""
    if not text.strip():
        return ""
    lines = (_UNPRINTABLE.sub(" ", line).rstrip() for line in text.replace("\r\n", "\n").split("\n"))
    body = neutralize_special_tokens("\n".join(lines)).strip()
    return f"\nThe project's maintainers give these instructions for reviewing its code:\n{body}\n"


def review_messages(
    hunk: Hunk,
    categories: tuple[Category, ...],
    template: PromptTemplate | None = None,
    hints: tuple[Finding, ...] = (),
    instructions: str = "",
) -> list[Message]:
    """The chat messages asking the model to review one hunk (with analyzer hints and the
    project's instructions, if any)."""
    template = template or load_template("review")
    definition = enclosing_definition(hunk)
    section = f", in `{inline_text(definition)}`" if definition else ""
    if hunk.parts > 1:
        section += f" (part {hunk.part} of {hunk.parts} of a large change)"
    focus = ""
    if set(categories) != set(Category):
        focus = "; report only " + ", ".join(c.value for c in categories) + " problems"
    values = {
        "path": inline_text(hunk.path, limit=1000),
        "language": hunk.language,
        "section": section,
        "code": neutralize_special_tokens(render_code(hunk).replace("```", "` ` `")),  # keep the code fence intact
        "focus": focus,
        "hints": render_hints(hints),
        "instructions": render_instructions(instructions),
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
            # A length cap keeps a chatty model from spending the token budget on prose.
            "analysis": {"type": "string", "maxLength": 300},
            "findings": {"type": "array", "items": finding, "maxItems": 4},
        },
        "required": ["analysis", "findings"],
    }


def messages_digest(messages: list[Message]) -> str:
    """sha256 of the chat messages, roles included: what a result-cache key is made from."""
    h = hashlib.sha256()
    for m in messages:
        h.update(f"{m['role']}\0{m['content']}\0".encode())
    return h.hexdigest()


def repair_messages(hunk: Hunk, finding: Finding, suggestion: str, reason: str, flagged: str,
                    show_rejected: bool) -> list[Message]:
    """The chat messages asking the model, once, to correct a suggestion that failed a check
    (reviewer/fixes/). `flagged` is the code of the finding's lines. The rejected suggestion is
    shown only when it was code (`show_rejected`): shown advice in words, the 1.5B repeated it.
    It is the model's own text, steered by the change: made inert like the code."""
    template = load_template("repair")
    several = finding.end_line > finding.line
    lines = f"lines {finding.line}-{finding.end_line}" if several else f"line {finding.line}"
    fence = lambda text: neutralize_special_tokens(text.replace("```", "` ` `"))  # keeps the fence intact
    rejected = (f"This replacement was rejected ({inline_text(reason)}):\n\n```\n{fence(suggestion)}\n```\n\n"
                if show_rejected else f"An earlier answer was rejected: {inline_text(reason)}.\n\n")
    values = {
        "path": inline_text(hunk.path, limit=1000),
        "language": hunk.language,
        "line": str(finding.line),
        "lines": lines,
        "lines_cap": lines.capitalize(),
        "reads": "read" if several else "reads",
        "title": inline_text(finding.title),
        "message": inline_text(finding.message, limit=600),
        "code": fence(render_code(hunk)),
        "flagged": fence(flagged),
        "rejected": rejected,
    }
    return [
        {"role": "system", "content": _fill(template.system, values)},
        {"role": "user", "content": _fill(template.user, values)},
    ]


def repair_schema() -> dict[str, Any]:
    """JSON schema of the repair answer: one replacement."""
    return {"type": "object", "properties": {"suggestion": {"type": "string", "maxLength": 400}},
            "required": ["suggestion"]}
