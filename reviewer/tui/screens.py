"""Screens: the main review screen and the modals (confirm, dismiss, filter, export, help)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.table import Table
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Checkbox, Footer, Input, Label, OptionList, RadioButton, RadioSet, Static

from reviewer.tui.widgets import DetailPane, DiffView, FileList, StatusBar
from reviewer.types import Category, Finding, Severity

if TYPE_CHECKING:
    from reviewer.tui.app import ReviewApp

WIDE = 120  # columns from which the detail pane sits right of the diff instead of below it

KEYS: tuple[tuple[str, str], ...] = (
    ("n / p", "next / previous finding"),
    ("] / [   tab / shift+tab", "next / previous file"),
    ("a", "apply the suggestion (confirms first)"),
    ("u", "undo the last applied suggestion"),
    ("d", "dismiss into .reviewer-baseline.json"),
    ("r", "re-review this hunk, skipping the cache"),
    ("c", "copy the finding to the clipboard"),
    ("f", "filter by category and severity"),
    ("e", "export the session (.md or .json)"),
    ("arrows  pgup / pgdn", "scroll the diff"),
    ("ctrl+l", "redraw the screen"),
    ("?", "this help"),
    ("q / ctrl+c", "quit (stops after the current hunk)"),
)


def diff_text(diff: str) -> Text:
    """A unified diff as coloured Text (colours dropped under NO_COLOR by Textual)."""
    out = Text(no_wrap=True)
    for line in diff.splitlines():
        style = ""
        if line.startswith(("+++", "---")):
            style = "bold"
        elif line.startswith("+"):
            style = "green"
        elif line.startswith("-"):
            style = "red"
        elif line.startswith("@@"):
            style = "cyan"
        out.append(line + "\n", style=style)
    out.rstrip()
    return out


class ReviewScreen(Screen[None]):
    """Files on the left, the selected file's diff in the centre, the finding's detail beside or below."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "next_finding", "Next"),
        Binding("p", "prev_finding", "Prev", show=False),
        Binding("right_square_bracket", "next_file", "File"),
        Binding("left_square_bracket", "prev_file", "Prev file", show=False),
        Binding("tab", "next_file", "Next file", show=False, priority=True),
        Binding("shift+tab", "prev_file", "Previous file", show=False, priority=True),
        Binding("a", "accept", "Accept"),
        Binding("u", "undo", "Undo", show=False),
        Binding("d", "dismiss_finding", "Dismiss"),
        Binding("r", "rereview", "Re-review", show=False),
        Binding("c", "copy", "Copy", show=False),
        Binding("f", "filter", "Filter"),
        Binding("e", "export", "Export"),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
        Binding("ctrl+l", "redraw", "Redraw", show=False),
    ]

    @property
    def review(self) -> ReviewApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield FileList(id="files")
            with Container(id="right"):
                yield DiffView(id="diff")
                yield DetailPane(id="detail")
        yield StatusBar(id="status")
        yield Footer()

    _ready = False

    def on_mount(self) -> None:
        self._ready = True
        self.query_one(DiffView).focus()
        self.redraw(scroll=True)

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.width >= WIDE, "-wide")

    def redraw(self, status_only: bool = False, scroll: bool = False) -> None:
        if not self._ready:
            return
        app = self.review
        s = app.session
        self.query_one(StatusBar).show(app.status_parts())
        if status_only:
            return
        shown = app.visible()
        worst: dict[str, Severity] = {}
        for f in shown:
            if f.path not in worst or f.severity.rank > worst[f.path].rank:
                worst[f.path] = f.severity
        done = {p for p in s.files if s.file_done(p)}
        skipped = [(k.path, k.reason) for k in s.parsed.skipped]
        self.query_one(FileList).show(s.files, s.counts(), worst, done, skipped, app.current_file)
        selected = app.selected()
        diff = self.query_one(DiffView)
        path = app.current_file
        if path is None:
            diff.show("", [], [], None, (), note="nothing to review")
        else:
            hunks = []
            for i, h in s.hunks_of(path):
                r = s.results.get(i)
                if r is None:
                    status: str | None = "reviewing…" if app.running else "not reviewed"
                elif r.skipped_reason:
                    status = f"not reviewed: {r.skipped_reason}"
                elif r.malformed:
                    status = "the model's answer was unreadable"
                else:
                    status = None
                hunks.append((h, status))
            diff.show(path, hunks, [f for f in shown if f.path == path], selected, s.accepted)
        empty = "no finding selected"
        if not shown:
            empty = "reviewing… findings appear here as they are found" if app.running else "no findings"
        reviewed = s.reviewed_lines(selected) if selected else []
        self.query_one(DetailPane).show(selected, reviewed, bool(selected and selected.fingerprint in s.accepted), empty)
        if scroll:
            self.call_after_refresh(diff.scroll_to_selection)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        option_id = event.option.id or ""
        if not option_id.startswith("skipped:"):
            self.review.show_file(option_id)

    def action_next_finding(self) -> None:
        self.review.step_finding(1)

    def action_prev_finding(self) -> None:
        self.review.step_finding(-1)

    def action_next_file(self) -> None:
        self.review.step_file(1)

    def action_prev_file(self) -> None:
        self.review.step_file(-1)

    def action_accept(self) -> None:
        self.review.accept()

    def action_undo(self) -> None:
        self.review.undo()

    def action_dismiss_finding(self) -> None:
        self.review.dismiss_selected()

    def action_rereview(self) -> None:
        self.review.rereview()

    def action_copy(self) -> None:
        self.review.copy_selected()

    def action_filter(self) -> None:
        self.review.open_filter()

    def action_export(self) -> None:
        self.review.open_export()

    def action_help(self) -> None:
        self.review.open_help()

    def action_quit(self) -> None:
        self.review.action_quit()

    def action_redraw(self) -> None:
        self.review.action_redraw()


class ConfirmScreen(ModalScreen[bool]):
    """Yes or no, with the exact change shown. y / enter on the yes button confirms; n / escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("y", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "No")]

    def __init__(self, question: str, body: Text | None, yes: str = "Yes") -> None:
        super().__init__()
        self._question, self._body, self._yes = question, body, yes

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self._question), classes="dialog-title")
            if self._body is not None:
                with VerticalScroll(classes="dialog-body"):
                    yield Static(self._body, markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self._yes} (y)", variant="primary", id="yes")
                yield Button("Cancel (n)", id="no")

    def on_mount(self) -> None:
        self.query_one("#yes", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class DismissScreen(ModalScreen["str | None"]):
    """Ask why a finding is not a problem; enter records it, escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, finding: Finding) -> None:
        super().__init__()
        self._finding = finding

    def compose(self) -> ComposeResult:
        f = self._finding
        with Vertical(classes="dialog"):
            yield Static(Text(f"Dismiss {f.path}:{f.line} {f.category.value}: {f.title}?"), classes="dialog-title")
            yield Static("It is recorded in .reviewer-baseline.json and not raised again. Why is it not a problem?")
            yield Input(placeholder="reason (e.g. input is validated upstream)", id="reason")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Dismiss (enter)", variant="warning", id="ok")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip())

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(self.query_one(Input).value.strip() if event.button.id == "ok" else None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class FilterScreen(ModalScreen["tuple[frozenset[Category], Severity] | None"]):
    """Which categories to show and the lowest severity. 1-4 toggle categories, l/m/h pick the severity."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("enter", "apply", "Apply", priority=True),
        Binding("1", "toggle(0)", show=False), Binding("2", "toggle(1)", show=False),
        Binding("3", "toggle(2)", show=False), Binding("4", "toggle(3)", show=False),
        Binding("l", "severity('low')", show=False), Binding("m", "severity('medium')", show=False),
        Binding("h", "severity('high')", show=False),
    ]

    def __init__(self, categories: frozenset[Category], min_severity: Severity, available: tuple[Category, ...]) -> None:
        super().__init__()
        self._categories, self._min, self._available = categories, min_severity, available

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Show findings of these categories (1-4 toggle):", classes="dialog-title")
            for n, cat in enumerate(self._available, start=1):
                yield Checkbox(f"{n} {cat.value}", cat in self._categories, id=f"cat-{cat.value}")
            yield Label("At or above severity (l / m / h):")
            with RadioSet(id="severity"):
                for sev in Severity:
                    yield RadioButton(sev.value, sev == self._min, id=f"sev-{sev.value}")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Apply (enter)", variant="primary", id="apply")
                yield Button("Cancel (esc)", id="cancel")

    def action_toggle(self, index: int) -> None:
        if index < len(self._available):
            box = self.query_one(f"#cat-{self._available[index].value}", Checkbox)
            box.value = not box.value

    def action_severity(self, name: str) -> None:
        self.query_one(f"#sev-{name}", RadioButton).value = True

    def _choice(self) -> tuple[frozenset[Category], Severity]:
        cats = frozenset(c for c in self._available if self.query_one(f"#cat-{c.value}", Checkbox).value)
        sev = next((s for s in Severity if self.query_one(f"#sev-{s.value}", RadioButton).value), Severity.LOW)
        return cats, sev

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(self._choice() if event.button.id == "apply" else None)

    def action_apply(self) -> None:
        self.dismiss(self._choice())

    def action_cancel(self) -> None:
        self.dismiss(None)


class ExportScreen(ModalScreen["str | None"]):
    """Where to export the session; the extension picks the format."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, default: str) -> None:
        super().__init__()
        self._default = default

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Export the session to:", classes="dialog-title")
            yield Input(self._default, id="path")
            yield Static("A .json file gets the `reviewer review --format json` contract, anything else Markdown.",
                         markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Export (enter)", variant="primary", id="ok")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss((self.query_one(Input).value.strip() or None) if event.button.id == "ok" else None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class HelpScreen(ModalScreen[None]):
    """Every key, one line each."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark,enter", "close", "Close")]

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2), expand=True)
        table.add_column(no_wrap=True, style="bold")
        table.add_column()
        for key, what in KEYS:
            table.add_row(key, what)
        with Vertical(classes="dialog", id="help"):
            yield Label("reviewer — keys", classes="dialog-title")
            with VerticalScroll(classes="dialog-body"):
                yield Static(table, markup=False)
            yield Label("findings stream in while the model works · esc closes", classes="dim")

    def action_close(self) -> None:
        self.dismiss(None)


__all__ = ["ConfirmScreen", "DismissScreen", "ExportScreen", "FilterScreen", "HelpScreen", "ReviewScreen", "diff_text"]
