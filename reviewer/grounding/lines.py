"""What a line of a hunk holds: its code without the trailing comment, and the lines a hunk shows."""

from __future__ import annotations

from reviewer.types import Hunk

# Line comments are cut before the check: `# resumes as reviewer eval does` mentions eval
# but runs nothing. Languages not listed are checked whole.
_HASH_COMMENTS = frozenset({"python", "shell", "ruby", "perl", "r", "yaml", "toml", "make", "dockerfile",
                            "elixir", "julia", "cmake", "powershell", "terraform"})
_SLASH_COMMENTS = frozenset({"javascript", "typescript", "go", "rust", "java", "kotlin", "scala", "groovy", "c",
                             "cpp", "csharp", "php", "swift", "objc", "dart", "zig", "vue", "svelte", "protobuf"})


def code_part(line: str, language: str) -> str:
    """The line without its trailing comment (a comment marker inside a string stays)."""
    marker = "#" if language in _HASH_COMMENTS else "//" if language in _SLASH_COMMENTS else None
    if marker is None:
        return line
    quote, i = "", 0
    while i < len(line):
        ch = line[i]
        if quote:
            if ch == "\\":
                i += 1  # the escaped character cannot end the string
            elif ch == quote:
                quote = ""
        elif ch in "'\"`":
            quote = ch
        elif line.startswith(marker, i):
            return line[:i]
        i += 1
    return line


def shown_lines(hunk: Hunk) -> dict[int, str]:
    """New-file line number -> text, for every line the hunk shows on its new side."""
    return {ln.new_no: ln.text for ln in hunk.lines if ln.new_no is not None}
