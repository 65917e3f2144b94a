"""`reviewer tests`: the command, its JSON contract and --write (fake model, real sandbox)."""

from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from conftest import ROOT, git

from reviewer import backends
from reviewer.backends import Message
from reviewer.backends.fake import FakeBackend
from reviewer.commands import tests as command
from reviewer.errors import ReviewerError
from reviewer.testgen import origin as tree

CONTRACT = json.loads((ROOT / "tests" / "data" / "review.schema.json").read_text())

OLD = '''\
def clamp(x, lo, hi):
    """x limited to the range lo..hi."""
    return max(lo, min(x, hi))


def double(x):
    return 2 * x
'''

NEW = '''\
def clamp(x, lo, hi):
    """x limited to the range lo..hi."""
    return max(lo, min(x, hi - 1))


def double(x):
    return x + x


def half(x):
    return x / 2
'''

EXISTING_TESTS = '''\
"""Existing tests."""
from mathx.util import double


def test_double():
    assert double(2) == 4
'''

SCRIPT = {
    "clamp": {"plan": "p", "setup": "from mathx.util import clamp",
              "tests": [{"code": "def test_inside():\n    assert clamp(5, 0, 10) == 5"},
                        {"code": "def test_upper_bound():\n    assert clamp(12, 0, 10) == 10"},
                        {"code": "def test_wrong():\n    assert clamp(1, 0, 10) == 2"}]},
    "double": {"plan": "p", "setup": "from mathx.util import double\n\nclass Helper:\n    value = 3",
               "tests": [{"code": "def test_double():\n    assert double(Helper.value) == 6"}]},
    "half": {"plan": "p", "setup": "import pytest\nfrom mathx.util import half",
             "tests": [{"code": "def test_half():\n    assert half(3) == pytest.approx(1.5)"}]},
}


def scripted(messages: list[Message]) -> dict:
    user = messages[1]["content"]
    name = next(n for n in SCRIPT if f"`{n}`" in user)
    return SCRIPT[name]


@pytest.fixture
def repo(make_repo, monkeypatch: pytest.MonkeyPatch) -> Path:
    repo = make_repo({"mathx/__init__.py": "", "mathx/util.py": OLD, "tests/test_util.py": EXISTING_TESTS})
    (repo / "mathx" / "util.py").write_text(NEW)
    git(repo, "add", "-A")
    monkeypatch.chdir(repo)
    monkeypatch.setattr(backends, "make_backend", lambda config: FakeBackend(answer=scripted))
    return repo


def reviewer_tests(argv: list[str], cwd: Path) -> int:
    """`reviewer tests ARGV` through the real CLI once it has the command, else the same wiring."""
    from reviewer import cli

    parser = cli.build_parser()
    choices = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    if "tests" in choices:
        return cli.main(["tests", *argv])
    parser = argparse.ArgumentParser(prog="reviewer")
    command.add_parser(parser.add_subparsers(dest="command"))
    try:
        return command.run(parser.parse_args(["tests", *argv]), cwd)
    except ReviewerError as exc:
        print(f"reviewer: error: {exc}", file=sys.stderr)
        return 2


ARGS = ["--backend", "fake", "--no-cache", "-q", "--timeout", "5"]


def test_json_follows_the_contract_and_reports_the_regression(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # test regressions are advisory by default (83% right, under reviewer/blocking.py's bar): --block all
    code = reviewer_tests([*ARGS, "--format", "json", "--fail-on", "medium", "--block", "all"], repo)
    out = json.loads(capsys.readouterr().out)
    jsonschema.validate(out, CONTRACT)
    assert code == 1  # a regression finding is medium, at --fail-on medium
    tests = {t["name"]: t for t in out["tests"]}
    assert {n: (t["status"], t["old_outcome"]) for n, t in tests.items()} == {
        "test_inside": ("passed", "passed"), "test_upper_bound": ("failed", "passed"),
        "test_wrong": ("failed", "failed"), "test_double": ("passed", "passed"), "test_half": ("passed", None)}
    assert tests["test_half"]["target"] == "mathx/util.py::half" and tests["test_half"]["path"] == "tests/test_util.py"
    assert tests["test_upper_bound"]["regression"] and "assert 9 == 10" in tests["test_upper_bound"]["message"]
    assert isinstance(tests["test_inside"]["runtime"], float)
    (finding,) = out["findings"]
    assert (finding["path"], finding["line"], finding["category"], finding["severity"], finding["source"]) == \
        ("mathx/util.py", 3, "bug", "medium", "tests")
    assert out["stats"]["functions"] == 3 and out["stats"]["dropped_tests"] == 0
    assert git(repo, "status", "--porcelain").splitlines() == ["M  mathx/util.py"]  # nothing written


def test_text_output_lists_statuses_and_exit_zero_by_default(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert reviewer_tests([*ARGS, "--no-code"], repo) == 0
    out = capsys.readouterr().out
    assert "mathx/util.py::clamp" in out and "REGRESSION" in out and "assert 1 == 2" in out
    assert "3 passed" in out and "1 regression(s)" in out and "def test_inside" not in out


def test_write_extends_the_existing_test_file_and_it_runs_green(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert reviewer_tests([*ARGS, "--write"], repo) == 0
    assert "wrote 3 test(s)" in capsys.readouterr().out
    text = (repo / "tests" / "test_util.py").read_text()
    tree = ast.parse(text)
    names = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert names == ["test_double", "test_inside", "test_double_2", "test_half"]  # a clash is renamed
    assert text.startswith(EXISTING_TESTS.split("\n\n\n")[0])  # the original header and import stay on top
    assert "test_wrong" not in text and "test_upper_bound" not in text  # failing ones are not written
    imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert max(n.lineno for n in imports) < min(n.lineno for n in tree.body if isinstance(n, ast.FunctionDef))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_util.py"],
                          cwd=repo, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0 and "4 passed" in proc.stdout, proc.stdout + proc.stderr


def test_write_with_regressions_marks_them_xfail(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = repo / "tests" / "test_generated.py"
    assert reviewer_tests([*ARGS, "--write", str(target), "--include-regressions"], repo) == 0
    text = target.read_text()
    assert text.startswith('"""Tests for `clamp`, `double`, `half`, suggested by `reviewer tests`')
    assert "@pytest.mark.xfail(reason='reviewer: passed before the change to clamp, fails after it', strict=True)\n" \
        "def test_upper_bound" in text
    assert text.count("import pytest") == 1 and "test_wrong" not in text
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(target)],
                          cwd=repo, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0 and "3 passed, 1 xfailed" in proc.stdout, proc.stdout + proc.stderr


def test_usage_errors_exit_2(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert reviewer_tests([*ARGS, "--include-regressions"], repo) == 2
    assert "only applies with --write" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        reviewer_tests([*ARGS, "--format", "sarif"], repo)
    assert exc.value.code == 2


def test_tree_spec_follows_the_diff_source(repo: Path, tmp_path: Path) -> None:
    def spec(*argv: str):
        parser = argparse.ArgumentParser()
        command.add_parser(parser.add_subparsers(dest="command"))
        args = parser.parse_args(["tests", *argv])
        return tree.tree_spec(repo, range=args.range, base=args.base, diff=args.diff)

    head = git(repo, "rev-parse", "HEAD").strip()
    assert spec().kind == "index"
    assert (spec("--range", "HEAD~0..HEAD").kind, spec("--range", "HEAD~0..HEAD").rev) == ("rev", head)
    assert spec("--base", "main").rev == head
    assert spec("--diff", "x.diff").kind == "worktree"
    outside = tmp_path / "nowhere"
    outside.mkdir()
    parser = argparse.ArgumentParser()
    command.add_parser(parser.add_subparsers(dest="command"))
    assert tree.tree_spec(outside, diff="-").kind == "files"


def test_the_interpreter_is_named_never_found_in_the_repository(tmp_path: Path) -> None:
    """No probing of a project's .venv: --python, else the tests_python setting (relative to the repository), else None
    (reviewer's own); whichever it is runs only inside the sandbox."""
    from reviewer.config import Config

    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "python").write_text("#!/bin/sh\nexit 1\n")
    assert tree.tests_python(None, Config(), tmp_path) is None
    assert tree.tests_python(None, Config(tests_python=".venv/bin/python"), tmp_path) == str(tmp_path / ".venv/bin/python")
    assert tree.tests_python("/opt/py/bin/python", Config(tests_python="x"), tmp_path) == "/opt/py/bin/python"
