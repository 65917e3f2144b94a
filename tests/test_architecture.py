"""The architecture as tests: the import contract (pyproject [tool.importlinter]), module size, one git.

docs/architecture.md draws the layers these tests hold the code to.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "reviewer"
LINT_IMPORTS = [sys.executable, "-c", ("import sys; from importlinter.cli import lint_imports_command; "
                "sys.exit(lint_imports_command())"), "--no-cache"]
MAX_LINES = 400  # a module one can hold in one's head; the issue that set it measured 500-1000-line ones


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """Run import-linter on the package under `root` with the contracts of this repository's pyproject."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([*LINT_IMPORTS, "--config", str(ROOT / "pyproject.toml")], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def test_the_import_contract_is_kept() -> None:
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "2 kept, 0 broken" in done.stdout


@pytest.mark.parametrize(("module", "line", "broken"), [
    # a lower layer reaching up to the command line: the cycle the commands package removed
    ("reviewer/pipeline.py", "from reviewer.commands import COMMANDS as _C  # noqa", "cli -> commands"),
    # two modules of one package importing each other
    ("reviewer/grounding/prose.py", "import reviewer.grounding.registry as _R  # noqa", "no import cycles"),
])
def test_the_contract_fails_when_someone_adds_a_cycle(tmp_path: Path, module: str, line: str, broken: str) -> None:
    copy = tmp_path / "src"
    shutil.copytree(PACKAGE, copy / "reviewer", ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / module
    target.write_text(target.read_text() + "\n" + line + "\n")
    done = lint_imports(copy)
    assert done.returncode != 0
    assert broken in done.stdout and "BROKEN" in done.stdout


def test_no_module_is_too_big_to_hold_in_ones_head() -> None:
    big = {str(p.relative_to(ROOT)): n for p in PACKAGE.rglob("*.py")
           if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert big == {}, f"split these modules (over {MAX_LINES} lines): {big}"


def test_every_module_starts_with_its_purpose() -> None:
    missing = []
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text(encoding="utf-8").lstrip()
        if text and not text.startswith('"""'):
            missing.append(str(path.relative_to(ROOT)))
    assert missing == []


def test_git_is_called_one_way() -> None:
    """reviewer/git.py starts git; nothing else runs it or imports GitPython."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "git.py" and path.parent == PACKAGE:
            continue
        text = path.read_text(encoding="utf-8")
        if '["git"' in text or re.search(r"^\s*(import git|from git import)\b", text, re.MULTILINE):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_nothing_imports_the_command_line() -> None:
    offenders = [str(p.relative_to(ROOT)) for p in PACKAGE.rglob("*.py")
                 if p.name not in ("cli.py", "__main__.py") and "reviewer.cli" in p.read_text(encoding="utf-8")
                 .replace("`reviewer.cli`", "")]
    assert offenders == []
