import io

from helpers import make_hunk
from rich.console import Console

from reviewer.pipeline import HunkResult
from reviewer.progress import RichProgress


def test_progress_shows_model_load_and_hunk_counts():
    buf = io.StringIO()
    progress = RichProgress("qwen2.5-coder-1.5b", Console(file=buf, force_terminal=True, width=100))
    progress.start(2)
    progress.model_loading()
    progress._progress.refresh()
    assert "loading qwen2.5-coder-1.5b" in buf.getvalue() and "0/2" in buf.getvalue()
    progress.advance(HunkResult(make_hunk(), ()))
    progress._progress.refresh()
    assert "1/2" in buf.getvalue() and "app/users.py:10" in buf.getvalue()
    progress.finish()


def test_cli_shows_no_progress_when_not_a_terminal(capsys, monkeypatch):
    from conftest import SAMPLE_DIFF

    from reviewer.cli import main

    monkeypatch.setenv("REVIEWER_BACKEND", "fake")
    main(["review", "--diff", str(SAMPLE_DIFF)])
    assert capsys.readouterr().err == ""
