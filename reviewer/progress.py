"""A rich progress bar on stderr: model load, then hunk i of n."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from reviewer.pipeline import HunkResult


class RichProgress:
    """Draws on stderr; transient, so nothing is left in the terminal's scrollback."""

    def __init__(self, model_name: str, console: Console | None = None) -> None:
        self._model = model_name
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console or Console(stderr=True),
            transient=True,
        )
        self._task = None

    def start(self, total: int) -> None:
        self._progress.start()
        self._task = self._progress.add_task("reviewing hunks", total=total)

    def model_loading(self) -> None:
        if self._task is not None:
            self._progress.update(self._task, description=f"loading {self._model} + reviewing")

    def advance(self, result: HunkResult) -> None:
        if self._task is not None:
            where = f"{result.hunk.path}:{result.hunk.new_start}"
            self._progress.update(self._task, advance=1, description=f"reviewed {where}")

    def finish(self) -> None:
        self._progress.stop()
