"""`reviewer watch`: the editor server's per-file review for people without an LSP client, printed as files are saved.

watchfiles reports saved files (inotify/FSEvents, its own debounce); each one in the
repository with changes against the index (or HEAD) is reviewed on one ReviewSession,
which loads the model once and fills the same result cache as `reviewer lsp` and the
commit hook. Findings are printed as they come in the chosen format (`line` suits
editors' quickfix lists and VS Code's problem matcher, docs/editors.md). A file that
cannot be reviewed is one line on stderr; the watcher goes on.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from reviewer.errors import ModelUnavailable, ReviewerError
from reviewer.lsp.filereview import config_for, locate, review_file
from reviewer.session import ReviewSession
from reviewer.sinks import get_renderer
from reviewer.types import Review

Say = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Watcher:
    """Reviews saved files one after another on one session; `review_paths` is the unit (tests call it)."""

    def __init__(self, flags: Mapping[str, Any], config_file: Path | None, fmt: str,
                 out: Callable[[str], None], warn: Say = _stderr) -> None:
        self.flags, self.config_file = flags, config_file
        self.render = get_renderer(fmt)
        self.out, self.warn = out, warn
        self.session: ReviewSession | None = None
        self.said: set[str] = set()

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None

    def _say_once(self, message: str) -> None:
        if message not in self.said:
            self.said.add(message)
            self.warn(message)

    def review_path(self, path: Path) -> Review | None:
        """Review one saved file and print its findings; None when there was nothing to review."""
        try:
            target = locate(path)
            config = config_for(target, self.flags, self.config_file)
            if self.session is None or self.session.config != config:
                self.close()
                self.session = ReviewSession(config, warn=self.warn)
            _, review = review_file(self.session, target)
        except ModelUnavailable as exc:
            self.close()  # the next save tries again
            self._say_once(f"reviewer: the model cannot review: {exc}")
            return None
        except ReviewerError as exc:
            self._say_once(str(exc) if str(exc).startswith("reviewer:") else f"reviewer: {exc}")
            return None
        if review is None:
            return None
        report = self.render(review, False, self.session.config.fail_on)
        if report:
            self.out(report)
        return review

    def review_paths(self, paths: Iterable[Path]) -> None:
        for path in sorted(set(paths)):
            self.review_path(path)


def wanted(path: Path) -> bool:
    """Files, not git's own: a save writes the file; git's index and objects change on every `git add`."""
    return ".git" not in path.parts and path.is_file()


def watch(root: Path, watcher: Watcher, debounce_ms: int, stop: threading.Event | None = None) -> None:
    """Review files under `root` as they are saved, until interrupted (or `stop` is set)."""
    from watchfiles import Change  # imported only by this command
    from watchfiles import watch as changes

    watcher.warn(f"reviewer: watching {root} for saved files (Ctrl-C to stop)")
    for batch in changes(root, debounce=debounce_ms, stop_event=stop, raise_interrupt=False):
        saved = [Path(p) for kind, p in batch if kind != Change.deleted]
        watcher.review_paths(p for p in saved if wanted(p))


__all__ = ["Watcher", "wanted", "watch"]
