"""The Textual app: state, the review worker, selection and status (key actions: actions.py).

The review runs in a thread worker over `ReviewSession.stream`, one hunk at a time; each
result is posted to the UI as a message, so findings appear as they are found and
the UI never waits on the model. Quitting sets a stop flag the worker checks between
hunks: the hunk being reviewed finishes, then the worker ends and the backend is
closed with the session that started the app (`run_app`).

llama-cpp-python (verbose=False) points file descriptors 1 and 2 at /dev/null while
it loads the weights, and Textual draws on fd 2. So before the first uncached hunk the
worker asks the UI to hold its output, loads the model, then asks for a full redraw:
the screen freezes for the load (the status bar says "loading model") instead of
losing frames. A fully cached review never loads the model at all.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from functools import partial
from pathlib import Path
from typing import ClassVar

from textual.app import App
from textual.binding import Binding, BindingType

from reviewer.analyzers import analyze
from reviewer.backends import Backend
from reviewer.baseline import baseline_path, load_baseline
from reviewer.config import Config
from reviewer.errors import ReviewerError
from reviewer.pipeline import HunkResult
from reviewer.session import ReviewSession
from reviewer.tui.actions import ReviewActions
from reviewer.tui.screens import (
    ReviewScreen,
)
from reviewer.tui.state import Session
from reviewer.tui.worker import (
    HintsReady,
    HoldOutput,
    HunkReviewed,
    LoadGuard,
    Phase,
    ReleaseOutput,
    ReviewDone,
)
from reviewer.types import Finding, ParsedDiff


class ReviewApp(ReviewActions, App[int]):
    """`reviewer tui`: files, diff, finding detail; findings stream in while the model works."""

    CSS_PATH = "reviewer.tcss"
    TITLE = "reviewer"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+c", "quit", "Quit", show=False, priority=True)]

    def __init__(self, parsed: ParsedDiff, config: Config, backend: Backend, *, root: Path,
                 cwd: Path | None = None, clock: Callable[[], float] = time.perf_counter,
                 review_on_start: bool = True, reviews: ReviewSession | None = None) -> None:
        super().__init__()
        # Reviews go through the command's session (config, backend); tests may give only a backend.
        self.reviews = reviews or ReviewSession(config, backend=backend)
        self.root = root
        self.cwd = cwd or root
        self.config = config
        self.backend = backend
        self.baseline_file = baseline_path(root)
        self.session = Session(parsed, config, backend.info, load_baseline(self.baseline_file))
        self.selected_fp: str | None = None
        self.current_file: str | None = self.session.files[0] if self.session.files else None
        self.phase = "starting"
        self.error: str | None = None
        self.idle = threading.Event()  # set while no review job runs (run() waits on it before closing the backend)
        self.idle.set()
        self._clock = clock
        self._stop = threading.Event()
        self._stopping = False
        self._moved = False  # the user navigated: stop auto-selecting the first finding
        self._hints: tuple[Finding, ...] | None = None
        self._held: AbstractContextManager[None] | None = None
        self._guarded = LoadGuard(backend, self._hold_from_thread, self._release_from_thread)
        self._review_on_start = review_on_start

    # -- lifecycle -----------------------------------------------------------------

    def on_mount(self) -> None:
        self.push_screen(ReviewScreen())
        if self._review_on_start:
            self.start_review()

    @property
    def running(self) -> bool:
        return not self.idle.is_set()

    def start_review(self, indices: list[int] | None = None, bypass_cache: bool = False) -> bool:
        """Start a review job on the given hunks (default: all). False if one is already running."""
        if self.running:
            self.notify("a review is already running; wait for it to finish", severity="warning")
            return False
        todo = list(range(self.session.total)) if indices is None else indices
        self.idle.clear()
        self._stop.clear()
        self.error = None
        self.phase = "starting"
        self.run_worker(partial(self._review_job, todo, bypass_cache), name="review", group="review",
                        thread=True, exit_on_error=False)
        self.refresh_views()
        return True

    def _review_job(self, indices: list[int], bypass_cache: bool) -> None:
        """Runs in a worker thread. Talks to the UI only through post_message."""
        results: Iterator[HunkResult] | None = None
        cancelled, error = False, None
        try:
            if self._hints is None:
                hints: tuple[Finding, ...] = ()
                if self.config.analyzers:
                    self.post_message(Phase("running analyzers"))
                    hints = analyze(self.session.parsed)
                self._hints = hints
                self.post_message(HintsReady(hints))
            hunks = tuple(self.session.parsed.hunks[i] for i in indices)
            results = self.reviews.stream(hunks, self._hints, self.session.facts, backend=self._guarded,
                                          refresh=bypass_cache)
            for n, index in enumerate(indices, start=1):
                if self._stop.is_set():
                    cancelled = True
                    break
                hunk = self.session.parsed.hunks[index]
                self.post_message(Phase(f"reviewing {hunk.path}:{hunk.new_start}"))
                started = self._clock()
                result = next(results)
                self.post_message(HunkReviewed(index, result, self._clock() - started))
        except ReviewerError as exc:
            error = str(exc)
        except Exception as exc:  # noqa: BLE001 -- a native engine failing, or a bug: keep the UI, show what happened
            error = f"{type(exc).__name__}: {exc}"
        finally:
            if results is not None and hasattr(results, "close"):
                results.close()  # type: ignore[attr-defined]
            self.idle.set()
            self.post_message(ReviewDone(cancelled, error))

    def _hold_from_thread(self) -> None:
        self.post_message(Phase(f"loading model {self.backend.info.name}"))
        time.sleep(0.15)  # let that frame reach the terminal
        ack = threading.Event()
        if self.post_message(HoldOutput(ack)):
            ack.wait(2.0)
            time.sleep(0.05)  # the driver's writer thread drains what was already queued

    def _release_from_thread(self) -> None:
        self.post_message(ReleaseOutput())

    def on_hold_output(self, message: HoldOutput) -> None:
        if self._held is None:
            self._held = self.batch_update()
            self._held.__enter__()
        message.ack.set()

    def on_release_output(self, message: ReleaseOutput) -> None:
        if self._held is not None:
            held, self._held = self._held, None
            held.__exit__(None, None, None)
        self.action_redraw()

    def on_phase(self, message: Phase) -> None:
        self.phase = message.text
        self.refresh_views(status_only=True)

    def on_hints_ready(self, message: HintsReady) -> None:
        self.session.set_hints(message.hints)

    def on_hunk_reviewed(self, message: HunkReviewed) -> None:
        self.session.add_result(message.index, message.result, message.seconds)
        self.refresh_views()

    def on_review_done(self, message: ReviewDone) -> None:
        self.error = message.error
        if message.error:
            self.phase = "failed"
            self.notify(message.error, title="review failed", severity="error", timeout=12)
        else:
            self.phase = "stopped" if message.cancelled else "done"
        if self._stopping:
            self.exit(0)
            return
        self.refresh_views()

    # -- selection -----------------------------------------------------------------

    def visible(self) -> list[Finding]:
        return self.session.visible()

    def selected(self) -> Finding | None:
        return next((f for f in self.visible() if f.fingerprint == self.selected_fp), None)

    def refresh_views(self, status_only: bool = False) -> None:
        """Fix the selection after the findings changed, then redraw the main screen."""
        shown = self.visible()
        if self.selected_fp is not None and not any(f.fingerprint == self.selected_fp for f in shown):
            self.selected_fp = None
        if self.selected_fp is None and shown and not self._moved:
            self.select(shown[0], moved=False)
            return
        screen = self._review_screen()
        if screen is not None:
            screen.redraw(status_only=status_only)

    def _review_screen(self) -> ReviewScreen | None:
        for screen in self.screen_stack:
            if isinstance(screen, ReviewScreen):
                return screen
        return None

    def select(self, finding: Finding | None, moved: bool = True) -> None:
        self._moved = self._moved or moved
        self.selected_fp = finding.fingerprint if finding else None
        if finding is not None:
            self.current_file = finding.path
        screen = self._review_screen()
        if screen is not None:
            screen.redraw(scroll=True)

    def step_finding(self, step: int) -> None:
        shown = self.visible()
        if not shown:
            self.notify("no findings to show" + (" yet" if self.running else ""))
            return
        current = self.selected()
        if current is None:
            in_file = [f for f in shown if f.path == self.current_file]
            target = (in_file or shown)[0 if step > 0 else -1]
        else:
            i = shown.index(current) + step
            if not 0 <= i < len(shown):
                self.notify("wrapped around to the " + ("first" if step > 0 else "last") + " finding", timeout=2)
            target = shown[i % len(shown)]
        self.select(target)

    def step_file(self, step: int) -> None:
        files = self.session.files
        if not files:
            return
        i = files.index(self.current_file) if self.current_file in files else -step
        self.show_file(files[(i + step) % len(files)])

    def show_file(self, path: str) -> None:
        self._moved = True
        self.current_file = path
        first = next((f for f in self.visible() if f.path == path), None)
        self.selected_fp = first.fingerprint if first else None
        screen = self._review_screen()
        if screen is not None:
            screen.redraw(scroll=True)

    # -- actions (bound on ReviewScreen) -------------------------------------------

    def action_quit(self) -> None:  # type: ignore[override]
        if not self.running or self._stopping:
            self.exit(0)
            return
        self._stopping = True
        self._stop.set()
        self.phase = "stopping after the current hunk (q again: quit now)"
        self.refresh_views(status_only=True)

    def action_redraw(self) -> None:
        self.refresh(layout=True)
        self.screen.refresh()

    # -- status --------------------------------------------------------------------

    def status_parts(self) -> list[str]:
        s = self.session
        parts = [s.model.name]
        if self.running or self.phase in ("starting",):
            parts.append(f"hunk {min(s.done + 1, s.total)} of {s.total}")
            parts.append(self.phase)
        else:
            parts.append(f"{s.done} of {s.total} hunks reviewed" + (f" ({s.cached} cached)" if s.cached else ""))
            if self.phase not in ("done",):
                parts.append(self.phase)
        speed = s.speed.tokens_per_second
        if speed is not None:
            parts.append(f"{speed:.1f} tok/s")
        shown = self.visible()
        parts.append(f"{len(shown)} finding{'s' if len(shown) != 1 else ''}")
        hidden = len(s.baselined())
        if hidden:
            parts.append(f"{hidden} baselined")
        if s.filter_label != "all":
            parts.append(f"filter {s.filter_label}")
        return parts


__all__ = ["ReviewApp"]


def run_app(reviews: ReviewSession, parsed: ParsedDiff, cwd: Path) -> int:
    """Run the app on `parsed` until the user quits; the caller closes `reviews` (and with it the backend)."""
    import asyncio

    from reviewer.baseline import find_root

    app = ReviewApp(parsed, reviews.config, reviews.backend, root=find_root(cwd), cwd=cwd, reviews=reviews)
    # Our own loop: asyncio.run() would join the worker thread silently after the window
    # closes; this way the user is told why the process has not ended yet.
    loop = asyncio.new_event_loop()
    try:
        code = app.run(loop=loop)
    finally:
        if not app.idle.is_set():
            print("reviewer: waiting for the model to finish the current hunk…", file=sys.stderr)
            app.idle.wait()
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()
    return code or 0
