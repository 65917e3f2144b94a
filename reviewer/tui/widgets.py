"""The TUI's widgets: file list, diff view, finding detail, status bar.

Every piece of text that comes from the diff or the model is put into `rich.text.Text`
(never parsed as markup), so a finding titled "[bold]" or a line holding escape
codes shows as what it is. Colours come from component classes styled in
reviewer.tcss; NO_COLOR is honoured by Textual itself.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import ClassVar

from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound
from rich.style import Style
from rich.syntax import Syntax
from rich.text import Text
from textual.containers import ScrollableContainer, VerticalScroll
from textual.widget import Widget
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from reviewer.tui.edits import suggestion_lines
from reviewer.types import Finding, Hunk, Severity

SEVERITY_GLYPH = {Severity.HIGH: "●", Severity.MEDIUM: "●", Severity.LOW: "○"}


def component_style(widget: Widget, name: str) -> Style:
    """A component class's colours as a Rich style, translucent ones blended onto the widget's
    background (Rich styles have no alpha: `$success 18%` would otherwise paint solid green)."""
    styles = widget.get_component_styles(name)
    base = widget.background_colors[1]
    color = (base + styles.color).rich_color if styles.has_rule("color") else None
    bgcolor = (base + styles.background).rich_color if styles.has_rule("background") else None
    return Style(color=color, bgcolor=bgcolor) + styles.text_style


def _lexer_name(path: str, language: str) -> str:
    try:
        get_lexer_by_name(language)
        return language
    except ClassNotFound:
        return Syntax.guess_lexer(path)


def highlight_lines(lines: Sequence[str], path: str, language: str, theme: str) -> list[Text]:
    """Syntax-highlight lines together (so multi-line strings colour right), one Text per line."""
    if not lines:
        return []
    code = "\n".join(lines)
    text = Syntax(code, _lexer_name(path, language), theme=theme, tab_size=4).highlight(code)
    text.style = Style()  # no theme background: the row's own background shows through
    parts = text.split("\n", allow_blank=True)
    parts = parts[: len(lines)] + [Text(ln) for ln in lines[len(parts):]]
    for part in parts:
        part.expand_tabs(4)
    return parts


class FileList(OptionList):
    """The changed files, each with its count of shown findings."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"sev--high", "sev--medium", "sev--low", "file--pending", "file--skipped"}

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.can_focus = False

    def show(self, files: Sequence[str], counts: dict[str, int], worst: dict[str, Severity], done: Collection[str],
             skipped: Sequence[tuple[str, str]], selected: str | None) -> None:
        width = max(8, (self.size.width or 26) - 6)
        options: list[Option] = []
        for path in files:
            label = Text(no_wrap=True, overflow="ellipsis")
            sev = worst.get(path)
            label.append(SEVERITY_GLYPH[sev] if sev else " ", component_style(self, f"sev--{sev.value}") if sev else Style())
            label.append(" " + _fit(path, width))
            n = counts.get(path, 0)
            tail = f" {n}" if path in done else " …"
            label.append(" " * max(1, width + 2 - len(label.plain) - len(tail) + 1))
            label.append(tail, component_style(self, "file--pending") if path not in done else "")
            options.append(Option(label, id=path))
        for path, reason in skipped:
            label = Text(no_wrap=True, overflow="ellipsis", style=component_style(self, "file--skipped"))
            label.append("  " + _fit(path, width) + f" ({reason})")
            options.append(Option(label, id=f"skipped:{path}", disabled=True))
        self.set_options(options)
        if selected in files:
            self.highlighted = files.index(selected)


def _fit(path: str, width: int) -> str:
    return path if len(path) <= width else "…" + path[-(width - 1):]


class DiffView(ScrollableContainer):
    """The selected file's hunks with new-file line numbers; findings marked on their lines."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"diff--header", "diff--gutter", "diff--added", "diff--removed", "diff--selected",
                         "diff--note", "diff--accepted", "sev--high", "sev--medium", "sev--low"}
    can_focus = True

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._body = Static(id="diff-text", expand=False, shrink=False, markup=False)
        self._args: tuple[object, ...] | None = None
        self.selected_row: int | None = None

    def compose(self):  # type: ignore[no-untyped-def]
        yield self._body

    def on_resize(self) -> None:
        if self._args is not None:
            self.show(*self._args)  # type: ignore[arg-type]

    def show(self, path: str, hunks: Sequence[tuple[Hunk, str | None]], findings: Sequence[Finding],
             selected: Finding | None, accepted: Collection[str], note: str | None = None) -> None:
        """Draw `hunks` (each with a status note: None when reviewed) and mark `findings`."""
        self._args = (path, hunks, findings, selected, accepted, note)
        dark = getattr(getattr(self.app, "current_theme", None), "dark", True)
        theme = "ansi_dark" if dark else "ansi_light"

        def style(name: str) -> Style:
            return component_style(self, name)

        rows: list[Text] = []
        self.selected_row = None
        if note:
            rows.append(Text(note, style=style("diff--note")))
        by_end: dict[int, list[Finding]] = {}
        marked: dict[int, Severity] = {}
        for f in findings:
            by_end.setdefault(max(f.end_line, f.line), []).append(f)
            for n in range(f.line, max(f.end_line, f.line) + 1):
                if n not in marked or f.severity.rank > marked[n].rank:
                    marked[n] = f.severity
        sel_lines = range(selected.line, max(selected.end_line, selected.line) + 1) if selected else range(0)
        for hunk, status in hunks:
            header = f"@@ -{hunk.old_start},{hunk.old_len} +{hunk.new_start},{hunk.new_len} @@ {hunk.section}".rstrip()
            if hunk.parts > 1:
                header += f"  (part {hunk.part}/{hunk.parts})"
            if status:
                header += f"  · {status}"
            rows.append(Text(header, style=style("diff--header"), no_wrap=True))
            new_side = [ln.text for ln in hunk.lines if ln.kind != "-"]
            old_side = [ln.text for ln in hunk.lines if ln.kind == "-"]
            new_hl = iter(highlight_lines(new_side, path, hunk.language, theme))
            old_hl = iter(highlight_lines(old_side, path, hunk.language, theme))
            for ln in hunk.lines:
                code = next(old_hl) if ln.kind == "-" else next(new_hl)
                row = Text(no_wrap=True)
                number = f"{ln.new_no:>5}" if ln.new_no is not None else "     "
                is_sel = ln.new_no is not None and ln.new_no in sel_lines and ln.kind != "-"
                row.append(number, style("diff--selected" if is_sel else "diff--gutter"))
                sev = marked.get(ln.new_no) if ln.new_no is not None and ln.kind != "-" else None
                row.append(SEVERITY_GLYPH[sev] if sev else " ", style(f"sev--{sev.value}") if sev else "")
                row.append(f"{ln.kind} ")
                row.append_text(code)
                if ln.kind in "+-":  # the base style: it covers the padding to the right edge too
                    row.style = style("diff--added" if ln.kind == "+" else "diff--removed")
                if is_sel and self.selected_row is None:
                    self.selected_row = len(rows)
                rows.append(row)
                if ln.new_no is not None and ln.kind != "-":
                    for f in by_end.get(ln.new_no, []):
                        rows.append(self._note(f, f is selected, f.fingerprint in accepted))
        width = max([self.scrollable_content_region.width, *(r.cell_len for r in rows)])
        for r in rows:
            r.pad_right(width - r.cell_len)
        self._body.update(Text("\n", no_wrap=True).join(rows) if rows else Text(""))

    def _note(self, f: Finding, selected: bool, accepted: bool) -> Text:
        def style(name: str) -> Style:
            return component_style(self, name)

        row = Text(no_wrap=True)
        row.append("      └ ", style("diff--gutter"))
        row.append(f"{f.severity.value} {f.category.value}: ", style(f"sev--{f.severity.value}"))
        row.append(f.title)
        if accepted:
            row.append("  ✓ applied", style("diff--accepted"))
        if selected:
            row.style = style("diff--selected")
        return row

    def scroll_to_selection(self) -> None:
        if self.selected_row is not None:
            self.scroll_to(y=max(0, self.selected_row - 3), animate=False)


class DetailPane(VerticalScroll):
    """The selected finding: what, where, why, the suggested change as a diff, its source."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"detail--title", "detail--label", "detail--added", "detail--removed", "detail--dim",
                         "sev--high", "sev--medium", "sev--low"}

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._body = Static(id="detail-text", markup=False)

    def compose(self):  # type: ignore[no-untyped-def]
        yield self._body

    def show(self, finding: Finding | None, reviewed: Sequence[str], accepted: bool, empty: str) -> None:
        def style(name: str) -> Style:
            return component_style(self, name)

        if finding is None:
            self._body.update(Text(empty, style=style("detail--dim")))
            return
        f = finding
        t = Text()
        t.append(f" {f.severity.value.upper()} ", style(f"sev--{f.severity.value}") + Style(reverse=True))
        t.append(f" {f.category.value}  ", style("detail--label"))
        where = f"{f.path}:{f.line}" + (f"-{f.end_line}" if f.end_line > f.line else "")
        t.append(where + "\n")
        t.append(f.title + "\n", style("detail--title"))
        if f.message and f.message != f.title:
            t.append(f.message + "\n")
        if f.suggestion:
            t.append("\nSuggested change" + (" (applied)" if accepted else "") + ":\n",
                     style("detail--label"))
            for n, line in enumerate(reviewed, start=f.line):
                t.append(f"- {n:>4} {line}\n", style("detail--removed"))
            for line in suggestion_lines(f.suggestion, reviewed):
                t.append(f"+      {line}\n", style("detail--added"))
        t.append(f"\nsource: {f.source} · fingerprint {f.fingerprint}", style("detail--dim"))
        self._body.update(t)
        self.scroll_home(animate=False)


class StatusBar(Static):
    """One line: model, progress (hunk i of n), tokens/s, findings shown and hidden, filter."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__("", markup=False, **kwargs)  # type: ignore[arg-type]

    def show(self, parts: Sequence[str]) -> None:
        self.update(Text(" · ".join(p for p in parts if p), no_wrap=True, overflow="ellipsis"))


__all__ = ["DetailPane", "DiffView", "FileList", "StatusBar", "highlight_lines"]
