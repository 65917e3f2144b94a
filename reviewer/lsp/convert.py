"""Findings as LSP values: diagnostics, hover text, and the edits of the code actions (apply suggestion, inline ignore).

Positions are LSP's: 0-based lines, columns in UTF-16 code units (what every client
accepts; a line of ASCII counts the same either way).
"""

from __future__ import annotations

from collections.abc import Sequence

from lsprotocol import types as lsp

from reviewer.context import language_for_path
from reviewer.ignores import comment_prefixes
from reviewer.suggested_fix import suggestion_lines
from reviewer.types import Finding, Severity

SOURCE = "reviewer"
DISMISS = "reviewer.dismiss"  # workspace/executeCommand: [uri, fingerprint, reason]
# Reasons offered as code actions (an LSP client cannot be asked for text); any other
# reason can be passed by calling the command (docs/editors.md).
REASONS = ("false positive", "accepted risk", "not applicable here")

_SEVERITY = {Severity.HIGH: lsp.DiagnosticSeverity.Error, Severity.MEDIUM: lsp.DiagnosticSeverity.Warning,
             Severity.LOW: lsp.DiagnosticSeverity.Information}
_CLOSERS = {"/*": " */", "<!--": " -->"}


def width(text: str) -> int:
    """A line's length in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def span(f: Finding, lines: Sequence[str]) -> lsp.Range:
    """The whole flagged lines line..end_line (clamped to the buffer)."""
    last = max(len(lines), 1)
    start = min(max(f.line, 1), last) - 1
    end = min(max(f.end_line, f.line), last) - 1
    return lsp.Range(lsp.Position(start, 0), lsp.Position(end, width(lines[end]) if end < len(lines) else 0))


def diagnostic(f: Finding, uri: str, lines: Sequence[str]) -> lsp.Diagnostic:
    """The finding as a diagnostic: severity, `source: reviewer`, the category as code, title and message;
    the evidence beyond the model's word (an analyzer, the taint analysis, a test) as related information."""
    where = span(f, lines)
    message = f.title if f.message.strip() in ("", f.title) else f"{f.title}: {f.message}"
    if f.advisory:
        message += " (advisory: its kind of evidence does not block a commit)"
    related = [lsp.DiagnosticRelatedInformation(lsp.Location(uri, where), f"evidence: {e}")
               for e in f.evidence or ((f.source,) if f.source != "model" else ())]
    return lsp.Diagnostic(where, message, severity=_SEVERITY[f.severity], code=f.category.value, source=SOURCE,
                          related_information=related or None, data={"fingerprint": f.fingerprint})


def hover_text(f: Finding) -> str:
    """Markdown: what the finding says, its suggestion, its evidence."""
    parts = [f"**{f.title}** ({f.severity.value} {f.category.value}, {SOURCE})", f.message]
    if f.suggestion:
        parts.append(f"Suggestion:\n```{language_for_path(f.path)}\n{f.suggestion.strip(chr(10))}\n```")
    if f.evidence:
        parts.append("Evidence: " + ", ".join(f.evidence))
    return "\n\n".join(p for p in parts if p.strip())


def suggestion_edit(f: Finding, lines: Sequence[str]) -> lsp.TextEdit | None:
    """The suggestion in place of lines line..end_line (reviewer.suggested_fix.suggestion_lines: indented like
    them); None without a suggestion or when the lines are not in the buffer."""
    if not f.suggestion or not f.suggestion.strip() or not 1 <= f.line <= len(lines):
        return None
    end = min(max(f.end_line, f.line), len(lines))
    new = suggestion_lines(f.suggestion, lines[f.line - 1:end])
    if end < len(lines):  # whole lines, up to the start of the next one
        return lsp.TextEdit(lsp.Range(lsp.Position(f.line - 1, 0), lsp.Position(end, 0)), "".join(ln + "\n" for ln in new))
    return lsp.TextEdit(lsp.Range(lsp.Position(f.line - 1, 0), lsp.Position(end - 1, width(lines[end - 1]))),
                        "\n".join(new))


def ignore_edit(f: Finding, lines: Sequence[str]) -> lsp.TextEdit | None:
    """A `reviewer: ignore[category]` comment at the end of the flagged line (reviewer.ignores reads it)."""
    if not 1 <= f.line <= len(lines):
        return None
    language = language_for_path(f.path)
    opener = "/*" if language == "css" else comment_prefixes(language)[0]
    text = lines[f.line - 1]
    gap = "  " if language == "python" else " "
    comment = f"{gap}{opener} reviewer: ignore[{f.category.value}]{_CLOSERS.get(opener, '')}"
    end = lsp.Position(f.line - 1, width(text))
    return lsp.TextEdit(lsp.Range(end, end), comment)


def actions(f: Finding, uri: str, lines: Sequence[str]) -> list[lsp.CodeAction | lsp.Command]:
    """The code actions for one finding: apply its suggestion (when it has one), add an inline ignore, dismiss."""
    diag = [diagnostic(f, uri, lines)]
    out: list[lsp.CodeAction | lsp.Command] = []
    fix = suggestion_edit(f, lines)
    if fix is not None:
        out.append(lsp.CodeAction(f"reviewer: apply suggestion ({f.title})", kind=lsp.CodeActionKind.QuickFix,
                                  diagnostics=diag, is_preferred=True,
                                  edit=lsp.WorkspaceEdit(changes={uri: [fix]})))
    ignore = ignore_edit(f, lines)
    if ignore is not None:
        out.append(lsp.CodeAction(f"reviewer: ignore {f.category.value} on this line (inline comment)",
                                  kind=lsp.CodeActionKind.QuickFix, diagnostics=diag,
                                  edit=lsp.WorkspaceEdit(changes={uri: [ignore]})))
    for reason in REASONS:  # plain Commands: a CodeAction holding only a command reads as a Command to some clients
        out.append(lsp.Command(title=f"reviewer: dismiss ({reason}) into .reviewer-baseline.json", command=DISMISS,
                               arguments=[uri, f.fingerprint, reason]))
    return out


__all__ = ["DISMISS", "REASONS", "SOURCE", "actions", "diagnostic", "hover_text", "ignore_edit", "span",
           "suggestion_edit", "width"]
