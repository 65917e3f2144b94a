from pathlib import Path

import pytest
from conftest import SAMPLE_DIFF
from helpers import make_hunk

from reviewer.analyzers import analyze, hunk_snippet
from reviewer.config import Config
from reviewer.diff import DiffInput, parse_diff
from reviewer.types import Category, ParsedDiff

RENAME = Path(__file__).parent / "data" / "real" / "clean_rename.diff"


def parsed(path: Path, reader=lambda _p: None) -> ParsedDiff:
    return parse_diff(DiffInput(path.read_text(), None, reader), Config())


def test_bandit_flags_the_sample_sql_injection_from_the_hunk_alone():
    (f,) = analyze(parsed(SAMPLE_DIFF))
    assert (f.path, f.line, f.category, f.source) == ("app/users.py", 11, Category.SECURITY, "bandit")
    assert "B608" in f.title


def test_parameterised_query_is_clean():
    assert analyze(parsed(RENAME)) == ()


def test_whole_new_file_is_used_when_the_diff_comes_with_it():
    after = (Path(__file__).parent / "data" / "real" / "users_before.py").read_text().replace(
        'db.execute("SELECT id, name, email FROM users WHERE id = ?", (user_id,))',
        "db.execute(f\"SELECT id, name, email FROM users WHERE id = '{user_id}'\")").splitlines()
    p = parsed(SAMPLE_DIFF, reader=lambda path: after if path == "app/users.py" else None)
    assert p.sources["app/users.py"] == tuple(after)
    assert [f.line for f in analyze(p)] == [11]


def test_findings_on_unchanged_lines_are_not_reported():
    hunk = make_hunk(before=("import pickle", "def load(blob):", "    return pickle.loads(blob)"),
                     removed=("    x = 1",), added=("    x = 2",), after=(), start=1)
    assert analyze(ParsedDiff((hunk,))) == ()


def test_snippet_keeps_line_numbers_and_gives_up_on_broken_code():
    snippet = hunk_snippet(make_hunk(start=10))
    assert snippet is not None and snippet.splitlines()[9] == "def get_user(db, user_id):"
    assert hunk_snippet(make_hunk(before=("    else:",), start=3)) is None


# A file written for Python 3.12: the f-string on line 5 reuses its quote inside `{}`.
PY312_HASHER = """\
import hashlib, xml.etree.ElementTree as ET

def store(value, out):
    digest = hashlib.md5(value).digest()
    out.write(f'{', '.join([str(digest)])}')
    return ET.fromstring(value)
"""


def test_bandit_reads_python_312_files_on_any_python():
    from reviewer.analyzers.bandit import bandit_findings, readable_source

    found = {(f.line, f.title.rsplit("(", 1)[-1].rstrip(")")): f.severity.value
             for f in bandit_findings("app/store.py", PY312_HASHER)}
    assert found.get((4, "B324")) == "high"  # the weak hash, found although the file is 3.12 syntax
    assert readable_source("x = 1\n") == "x = 1\n"  # a file this Python reads is given as it is
    assert readable_source("def broken(:\n") == "def broken(:\n"


@pytest.mark.parametrize(("path", "reported"), [
    ("app/calc.py", True), ("tests/test_calc.py", False), ("tests/calc_test.py", False), ("conftest.py", False),
])
def test_bandit_does_not_call_a_tests_assert_a_finding(path: str, reported: bool) -> None:
    from reviewer.analyzers.bandit import bandit_findings

    source = "def test_add():\n    assert add(1, 2) == 3\n    eval(input())\n"
    titles = [f.title for f in bandit_findings(path, source)]
    assert any("(B101)" in t for t in titles) is reported
    assert any("(B307)" in t for t in titles)  # every other test still runs on test files


@pytest.mark.parametrize("whole_file", [True, False])
def test_the_review_runs_bandit_and_ruff_on_a_python_312_file(whole_file: bool) -> None:
    """The pipeline hands a 3.12 file to the analyzers, whole or as the new file's hunk
    (once, it gave them nothing: its parse check ran on this Python only)."""
    new = PY312_HASHER.splitlines()
    hunk = make_hunk(path="app/store.py", removed=(), added=tuple(new), before=(), after=(), start=1)
    found = analyze(ParsedDiff((hunk,), sources={"app/store.py": tuple(new)} if whole_file else {}))
    codes = {(f.source, f.line, f.title.rsplit("(", 1)[-1].rstrip(")")) for f in found}
    assert ("bandit", 4, "B324") in codes  # the weak hash
    assert not any("syntax error" in f.title for f in found)


def test_bandit_stdlib_xml_parser_warnings_are_notes_not_alarms():
    from reviewer.analyzers.bandit import STDLIB_XML_NOTE, bandit_findings

    (xml,) = [f for f in bandit_findings("app/store.py", PY312_HASHER) if "(B314)" in f.title]
    assert xml.line == 6 and xml.severity.value == "low" and xml.message.endswith(STDLIB_XML_NOTE)
