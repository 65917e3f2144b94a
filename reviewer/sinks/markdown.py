"""Untrusted text as safe Markdown: what a pull-request comment or a reviewdog message may show.

Model text is untrusted (a change's author can steer the model). Escaped, it cannot mention
people (@name, also spelled as an HTML entity), link issues (#1), render raw HTML, links or
images, start a heading, list or quote, open a code fence that swallows the rest of the
body, or run a GitLab quick action (/approve). Code stays exact inside a fence longer than
any backtick run it holds. Used by the CI bots (reviewer/ci/comments.py) and by rdjson.
"""

from __future__ import annotations

import re
from typing import Literal

Flavor = Literal["github", "gitlab"]
ZWJ = "\u200d"
MAX_MESSAGE = 4000

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")  # C0, C1, bidi controls
_BACKTICKS = re.compile(r"`+")


def strip_control(text: str) -> str:
    """`text` without C0/C1 control characters (tab and newline are kept) or bidi controls."""
    return _CONTROL.sub("", text)


def clean_text(text: str) -> str:
    return strip_control(text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", "    "))


def _escape_plain(text: str) -> str:
    """Escape prose outside code spans: no HTML, mentions, issue links, links, images, fences."""
    text = text.replace("\\", "\\\\")  # first: a backslash must not escape the backtick of a code span
    text = text.replace("&", "&amp;")  # "&#64;name" would render as a live @name
    text = text.replace("<", "&lt;").replace(">", "&gt;")
    text = re.sub(r"@(?=[\w-])", "@" + ZWJ, text)
    text = re.sub(r"([#!])(?=\d)", lambda m: m.group(1) + ZWJ, text)  # #12 issue / !12 MR links
    text = text.replace("[", "\\[")  # no [links](...), ![images](...) or [refs]: ...
    text = re.sub(r"~{3,}", lambda m: "\\~" * len(m.group(0)), text)
    return text


# A line that would open a block: heading, list item, thematic break, setext underline, table.
_BLOCK_MARK = re.compile(r"^(\s*)([#=+*_|-])")
_ORDERED_MARK = re.compile(r"^(\s*\d{1,9})([.)])")


def escape_line(line: str) -> str:
    """One line of untrusted text as safe Markdown; `code spans` on the line are kept."""
    out: list[str] = []
    pos = 0
    while pos < len(line):
        tick = line.find("`", pos)
        if tick < 0:
            out.append(_escape_plain(line[pos:]))
            break
        out.append(_escape_plain(line[pos:tick]))
        run = _BACKTICKS.match(line, tick)
        assert run is not None
        n = len(run.group(0))
        close = next((m for m in _BACKTICKS.finditer(line, run.end()) if len(m.group(0)) == n), None)
        if close is None:  # an unmatched run could pair with later text or open a fence: make it literal
            out.append("\\`" * n)
            pos = run.end()
        else:  # a code span: shown literally by the renderer, so it stays as written
            out.append(line[tick:close.end()])
            pos = close.end()
    text = "".join(out)
    text = _ORDERED_MARK.sub(r"\1\\\2", _BLOCK_MARK.sub(r"\1\\\2", text))
    if text.lstrip().startswith("/"):  # a GitLab quick action (/approve, /merge) runs when posted
        text = ZWJ + text
    return text


def escape_markdown(text: str, limit: int = MAX_MESSAGE) -> str:
    """Untrusted multi-line text as safe Markdown (see the module docstring)."""
    text = clean_text(text).strip("\n")
    if len(text) > limit:
        text = text[:limit].rstrip() + " …"
    return "\n".join(escape_line(line) for line in text.split("\n"))


def escape_title(text: str) -> str:
    return escape_line(" ".join(clean_text(text).split())[:300])


def code_span(text: str) -> str:
    """Text (a path, a model name) as one inline code span, whatever backticks it holds."""
    text = " ".join(clean_text(text).split())
    longest = max((len(m) for m in _BACKTICKS.findall(text)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def fence_for(code: str) -> str:
    """A backtick fence longer than any backtick run inside `code` (at least three)."""
    longest = max((len(m) for m in _BACKTICKS.findall(code)), default=0)
    return "`" * max(3, longest + 1)


def indented_block(code: str) -> str:
    """`code` as an indented code block: nothing inside can end it, and no line of it starts
    at the margin (where GitLab looks for quick actions)."""
    return "\n".join("    " + line if line.strip() else "" for line in code.split("\n"))


def quick_action_exposed(code: str, fence: str, flavor: Flavor) -> bool:
    """Whether GitLab could run a line of `code` as a quick action even inside `fence`.

    GitLab skips quick actions inside a code block only when it ends with a line that is
    exactly three backticks; a longer fence (needed when the code holds ```) is not
    recognised, so a `/approve` line in the suggestion would be executed.
    """
    return flavor == "gitlab" and len(fence) > 3 and any(line.startswith("/") for line in code.split("\n"))
