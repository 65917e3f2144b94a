"""The actions behind the keys that change something: accept / undo, dismiss, re-review,
copy, filter, export, help. A mixin of ReviewApp (it uses the app's session and screens)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from reviewer.baseline import Baseline, load_baseline, save_baseline
from reviewer.errors import ReviewerError
from reviewer.tui.edits import EditError, apply_edit, plan_edit, undo_edit
from reviewer.tui.export import export_format, render_export
from reviewer.tui.screens import ConfirmScreen, DismissScreen, ExportScreen, FilterScreen, HelpScreen, diff_text
from reviewer.types import Category, Severity

if TYPE_CHECKING:
    from reviewer.tui.app import ReviewApp


class ReviewActions:
    """accept, undo, dismiss_selected, rereview, copy_selected, open_filter, open_export, open_help."""

    def accept(self: ReviewApp) -> None:
        f = self.selected()
        if f is None:
            self.notify("no finding selected")
            return
        if f.fingerprint in self.session.accepted:
            self.notify("this suggestion is already applied; u undoes it")
            return
        if not f.suggestion:
            failed = f.fix is not None and f.fix.status == "failed"
            # a suggestion that failed its checks (reviewer/fixes/) is never offered
            self.notify(f"no checked fix for this finding: {f.fix.reason}" if failed and f.fix is not None
                        else "this finding has no suggested change", severity="warning")
            return
        offset = self.session.line_offset(f)
        if offset is None:
            self.notify("this finding overlaps a change you already applied; undo that first", severity="warning")
            return
        try:
            edit = plan_edit(self.root, f, self.session.reviewed_lines(f), offset)
        except EditError as exc:
            self.notify(str(exc), title="cannot apply", severity="error", timeout=10)
            return

        def done(ok: bool | None) -> None:
            if not ok:
                return
            try:
                apply_edit(edit)
            except EditError as exc:
                self.notify(str(exc), title="not applied", severity="error", timeout=10)
                return
            self.session.edits.append(edit)
            self.notify(f"applied to {edit.rel} (u undoes it)", timeout=4)
            self.refresh_views()

        body = diff_text(edit.diff())
        self.push_screen(ConfirmScreen(f"Apply the suggestion to {f.path}?", body, yes="Apply"), done)

    def undo(self: ReviewApp) -> None:
        if not self.session.edits:
            self.notify("nothing to undo in this session")
            return
        edit = self.session.edits[-1]
        try:
            undo_edit(edit)
        except EditError as exc:
            self.notify(str(exc), title="cannot undo", severity="error", timeout=10)
            return
        self.session.edits.pop()
        self.notify(f"undid the change to {edit.rel}", timeout=4)
        self.refresh_views()

    def dismiss_selected(self: ReviewApp) -> None:
        f = self.selected()
        if f is None:
            self.notify("no finding selected")
            return

        def done(reason: str | None) -> None:
            if reason is None:
                return
            try:  # re-read: another session may have dismissed something since
                on_disk = load_baseline(self.baseline_file)
                updated = Baseline({**self.session.baseline.entries, **on_disk.entries}, on_disk.extra,
                                   on_disk.unparsed).with_finding(f, reason)
                save_baseline(self.baseline_file, updated)
            except ReviewerError as exc:
                self.notify(str(exc), title="not dismissed", severity="error", timeout=10)
                return
            self.session.baseline = updated
            self.session.dismissed[f.fingerprint] = (f, reason)
            shown = self.visible()
            after = [g for g in shown if self.session.sort_key(g) > self.session.sort_key(f)]
            target = after[0] if after else (shown[-1] if shown else None)
            self.selected_fp = target.fingerprint if target else None
            self.notify(f"dismissed; recorded in {self.baseline_file.name}", timeout=4)
            self.refresh_views()

        self.push_screen(DismissScreen(f), done)

    def rereview(self: ReviewApp) -> None:
        f = self.selected()
        index = self.session.hunk_index(f) if f is not None else None
        if index is None and self.current_file:
            hunks = self.session.hunks_of(self.current_file)
            index = hunks[0][0] if hunks else None
        if index is None:
            self.notify("no hunk to re-review")
            return
        hunk = self.session.parsed.hunks[index]
        if self.start_review([index], bypass_cache=True):
            self.notify(f"re-reviewing {hunk.path}:{hunk.new_start} (cache bypassed)", timeout=3)

    def copy_selected(self: ReviewApp) -> None:
        f = self.selected()
        if f is None:
            self.notify("no finding selected")
            return
        text = f"{f.path}:{f.line}: {f.severity.value} {f.category.value}: {f.title}\n{f.message}\n"
        if f.suggestion:
            text += f"suggestion:\n{f.suggestion}\n"
        self.copy_to_clipboard(text)
        self.notify("copied the finding to the clipboard", timeout=3)

    def open_filter(self: ReviewApp) -> None:
        def done(choice: tuple[frozenset[Category], Severity] | None) -> None:
            if choice is None:
                return
            self.session.categories, self.session.min_severity = choice
            self.refresh_views()

        self.push_screen(FilterScreen(self.session.categories, self.session.min_severity,
                                      tuple(self.config.categories)), done)

    def open_export(self: ReviewApp) -> None:
        default = self.root / "reviewer-session.md"

        def write(path: Path) -> None:
            from reviewer.options import write_atomically

            try:
                write_atomically(path, render_export(self.session, export_format(path)))
            except ReviewerError as exc:
                self.notify(str(exc), title="not exported", severity="error", timeout=10)
                return
            self.notify(f"exported {len(self.visible())} finding(s) to {path}", timeout=5)

        def chosen(value: str | None) -> None:
            if not value:
                return
            path = Path(value).expanduser()
            path = path if path.is_absolute() else self.cwd / path
            if path.exists():
                self.push_screen(ConfirmScreen(f"{path} exists. Overwrite it?", None, yes="Overwrite"),
                                 lambda ok: write(path) if ok else None)
            else:
                write(path)

        shown = os.path.relpath(default, self.cwd) if default.is_relative_to(self.cwd) else str(default)
        self.push_screen(ExportScreen(shown), chosen)

    def open_help(self: ReviewApp) -> None:
        self.push_screen(HelpScreen())


__all__ = ["ReviewActions"]
