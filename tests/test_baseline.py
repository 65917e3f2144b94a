"""The dismissed-findings baseline (.reviewer-baseline.json)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from conftest import git
from helpers import make_finding

from reviewer.baseline import (
    BASELINE_NAME,
    Baseline,
    baseline_path,
    filter_baselined,
    find_root,
    load_baseline,
    partition_baselined,
    save_baseline,
)
from reviewer.errors import ReviewerError
from reviewer.types import Category, Severity

DAY = dt.date(2025, 1, 31)


def test_missing_file_is_an_empty_baseline(tmp_path: Path) -> None:
    baseline = load_baseline(tmp_path / BASELINE_NAME)
    assert len(baseline) == 0
    assert make_finding() not in baseline


def test_round_trip_keeps_reason_and_fingerprint(tmp_path: Path) -> None:
    f = make_finding()
    path = baseline_path(tmp_path)
    save_baseline(path, Baseline().with_finding(f, "  validated\n upstream ", DAY))
    loaded = load_baseline(path)
    assert f in loaded and f.fingerprint in loaded
    entry = loaded.entries[f.fingerprint]
    assert (entry.path, entry.line, entry.category, entry.severity) == ("app/users.py", 11, "security", "high")
    assert entry.reason == "validated upstream"
    assert entry.dismissed == "2025-01-31"
    assert not list(tmp_path.glob(".*.tmp"))  # written via a temp file that is gone


def test_file_layout_is_sorted_and_stable(tmp_path: Path) -> None:
    a = make_finding(line=20, path="b.py")
    b = make_finding(line=3, path="a.py")
    c = make_finding(line=1, path="b.py", title="other")
    baseline = Baseline().with_finding(a, "x", DAY).with_finding(b, "y", DAY).with_finding(c, "z", DAY)
    path = tmp_path / BASELINE_NAME
    save_baseline(path, baseline)
    data = json.loads(path.read_text())
    assert data["version"] == 1
    assert [(e["path"], e["line"]) for e in data["findings"]] == [("a.py", 3), ("b.py", 1), ("b.py", 20)]
    first = path.read_text()
    save_baseline(path, load_baseline(path))
    assert path.read_text() == first  # load + save changes nothing


def test_filter_and_partition(tmp_path: Path) -> None:
    kept = make_finding(line=12, title="kept")
    gone = make_finding(line=11)
    baseline = Baseline().with_finding(gone, "fine here")
    assert filter_baselined([gone, kept], baseline) == (kept,)
    assert partition_baselined([gone, kept], baseline) == ((kept,), (gone,))
    assert filter_baselined([gone, kept], Baseline()) == (gone, kept)


def test_same_finding_elsewhere_is_not_suppressed() -> None:
    baseline = Baseline().with_finding(make_finding(path="a.py"), "ok")
    assert make_finding(path="b.py") not in baseline
    assert make_finding(path="a.py", category=Category.BUG) not in baseline
    assert make_finding(path="a.py", severity=Severity.LOW) in baseline  # severity is not part of the identity


def test_without_removes_an_entry() -> None:
    f = make_finding()
    baseline = Baseline().with_finding(f, "ok")
    assert f not in baseline.without(f.fingerprint)
    assert f in baseline  # immutable: the original is unchanged


@pytest.mark.parametrize("text, message", [
    ("{not json", "not valid JSON"),
    ('{"version": 1}', 'no "findings" list'),
    ('{"version": 2, "findings": []}', "version 2"),
])
def test_unreadable_baseline_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / BASELINE_NAME
    path.write_text(text)
    with pytest.raises(ReviewerError, match=message):
        load_baseline(path)


@pytest.mark.parametrize("text", [
    '{"version": 1, "findings": [{"path": "a.py", "line": 1}]}',
    '{"version": 1, "findings": [{"fingerprint": "x", "path": "a.py", "line": "1"}]}',
])
def test_unreadable_entry_is_a_problem_and_kept_on_rewrite(tmp_path: Path, text: str) -> None:
    """A hand-edited entry this version cannot read is reported, not fatal, and written back as it was."""
    path = tmp_path / BASELINE_NAME
    path.write_text(text)
    baseline = load_baseline(path)
    assert len(baseline) == 0 and len(baseline.problems) == 1 and "entry 1" in baseline.problems[0]
    save_baseline(path, baseline.with_finding(make_finding(), "ok"))
    again = json.loads(path.read_text())
    assert json.loads(text)["findings"][0] in again["findings"] and len(again["findings"]) == 2


def test_hand_written_entry_with_only_the_essentials_loads(tmp_path: Path) -> None:
    path = tmp_path / BASELINE_NAME
    f = make_finding()
    path.write_text(json.dumps({"version": 1, "findings": [{"fingerprint": f.fingerprint, "path": f.path, "line": 11}]}))
    assert f in load_baseline(path)


def test_save_into_a_missing_directory_is_a_reviewer_error(tmp_path: Path) -> None:
    with pytest.raises(ReviewerError, match="cannot write baseline"):
        save_baseline(tmp_path / "nope" / BASELINE_NAME, Baseline())


def test_root_is_the_repository_top_level(make_repo) -> None:
    repo = make_repo({"pkg/mod.py": "x = 1\n"})
    assert find_root(repo / "pkg") == repo.resolve()
    assert git(repo, "rev-parse", "--show-toplevel").strip() == str(repo.resolve())


def test_root_outside_a_repository_is_cwd(tmp_path: Path) -> None:
    outside = tmp_path / "plain"
    outside.mkdir()
    assert find_root(outside) == outside.resolve()
