"""The import check of `reviewer tests` / `--run-tests`, measured: one changed function in a
module whose dependency is missing where the tests run, tests written with the check and
with it switched off (real default model, no result cache).

    .venv/bin/python bench/import_check.py
"""

from __future__ import annotations

import pathlib
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from reviewer.backends import make_backend
from reviewer.config import Config
from reviewer.diff import DiffSource
from reviewer.session import parse_source
from reviewer.testgen.sandbox import TreeSpec
from reviewer.testgen.suggestions import Options, TestgenSession

SOURCE = '''\
import requests_not_installed_xyz


def total(prices, discount):
    """Sum of prices minus a discount in percent."""
    return sum(prices) * (1 - discount / 100)
'''


def git(repo: pathlib.Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@e", *args], cwd=repo, check=True,
                   capture_output=True)


def staged_change(repo: pathlib.Path) -> None:
    """A repository whose staged change breaks `total` in a module that cannot be imported."""
    git(repo, "init", "-q")
    (repo / "shop").mkdir()
    (repo / "shop/__init__.py").write_text("")
    (repo / "shop/cart.py").write_text(SOURCE)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "init")
    (repo / "shop/cart.py").write_text(SOURCE.replace("(1 - discount / 100)", "(1 - discount)"))
    git(repo, "add", "-A")


def main() -> int:
    repo = pathlib.Path(tempfile.mkdtemp(prefix="reviewer-import-check-"))
    staged_change(repo)
    config = Config(threads=2, cache=False)
    parsed = parse_source(DiffSource("staged"), repo, config)
    backend = make_backend(config)
    try:
        for check in (True, False):
            if not check:
                TestgenSession._importable = lambda self, fns, stats, say: fns  # type: ignore[method-assign]
            started = time.perf_counter()
            with TestgenSession(TreeSpec("index", repo), Options()) as session:
                result = session.run(parsed, backend, config, None)
            print(f"import check {'on' if check else 'off'}: {time.perf_counter() - started:.1f} s, model calls "
                  f"{result.stats.model_calls}, tests {len(result.suggestions)}, dropped {len(result.dropped)}, "
                  f"skipped {result.stats.skipped}", flush=True)
    finally:
        backend.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
