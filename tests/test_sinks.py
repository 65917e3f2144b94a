"""Every output format rendered from the same sample review, compared with golden files.

Regenerate after an intended change: UPDATE_GOLDEN=1 pytest tests/test_sinks.py
"""

import json
import os
from pathlib import Path

import pytest
from sample_review import sample_review

from reviewer.sinks import FORMATS, get_renderer

GOLDEN = Path(__file__).parent / "data" / "golden"


@pytest.mark.parametrize("fmt", FORMATS)
def test_matches_golden(fmt):
    out = get_renderer(fmt)(sample_review(), False)
    golden = GOLDEN / f"sample.{fmt}"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(out)
    assert out == golden.read_text()


def test_json_contract_fields():
    data = json.loads(get_renderer("json")(sample_review(), False))
    assert data["version"] == 1
    assert data["model"]["sha256"].startswith("cc324af0")
    assert [f["line"] for f in data["findings"]] == [41, 11]
    assert data["findings"][1]["category"] == "security" and data["findings"][1]["severity"] == "high"
    assert all(len(f["fingerprint"]) == 16 for f in data["findings"])
    assert data["stats"]["hunks"] == 2 and data["stats"]["cached"] == 1
    assert data["tests"] == []


def test_text_shows_excerpt_suggestion_and_summary():
    out = get_renderer("text")(sample_review(), False)
    assert "> 11 │" in out and "{user_id}" in out
    assert "suggestion:" in out
    assert "skipped static/logo.png: binary" in out
    assert out.rstrip().endswith("9.4s")
    assert "Found 2 issues (1 high, 1 low) in 2 files" in out
    assert "\x1b[" not in out


def test_text_in_color_uses_ansi():
    assert "\x1b[" in get_renderer("text")(sample_review(), True)


def test_text_escapes_rich_markup_in_model_text():
    from dataclasses import replace

    review = sample_review()
    evil = replace(review.findings[1], title="[bold red]boom[/]", message="[link=http://x]click[/link]")
    out = get_renderer("text")(replace(review, findings=(evil,)), False)
    assert "[bold red]boom[/]" in out and "[link=http://x]click[/link]" in out


def test_line_format_is_what_vim_errorformat_reads():
    """`path:line:col: message` on every line: Vim's default errorformat %f:%l:%c:%m and VS Code's
    problem matchers parse it; no summary line that a quickfix list would show as an entry."""
    import re

    from reviewer.sinks import get_renderer

    out = get_renderer("line")(sample_review())
    lines = out.splitlines()
    assert lines and all(re.fullmatch(r"[^:]+:\d+:1: (high|medium|low) (bug|security|performance|style): .+", ln)
                         for ln in lines)


def test_every_format_is_a_registered_sink_and_offered():
    from reviewer.sinks import FORMATS, SINKS, get_renderer

    assert set(FORMATS) | {"concise"} == set(SINKS)
    for name in SINKS:
        assert callable(get_renderer(name))


def test_vim_reads_the_line_format_into_its_quickfix_list(tmp_path):
    """The real editor: Vim (no vimrc, its compiled-in errorformat) loads `--format line` output
    as valid quickfix entries at the right file, line and column."""
    import shutil
    import subprocess

    from reviewer.sinks import get_renderer

    vim = shutil.which("vim")
    if vim is None:
        if os.environ.get("REVIEWER_REQUIRE_MODEL"):  # CI installs vim (.ci/run): there this must run
            pytest.fail("vim is not installed")
        pytest.skip("vim is not installed")
    review = sample_review()
    (tmp_path / "out.txt").write_text(get_renderer("line")(review))
    script = ('call writefile(map(getqflist(), {_, e -> bufname(e.bufnr) . "|" . e.lnum . "|" . e.col . "|" '
              '. e.valid . "|" . e.text}), "qf.txt")')
    subprocess.run([vim, "-u", "NONE", "-N", "-es", "-c", "cgetfile out.txt", "-c", script, "-c", "qa!"],
                   cwd=tmp_path, check=True, timeout=60, capture_output=True)
    got = (tmp_path / "qf.txt").read_text().splitlines()
    want = sorted(f"{f.path}|{f.line}|1|1| {f.severity.value} {f.category.value}: {f.title}" for f in review.findings)
    assert got == want
