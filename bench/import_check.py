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
from reviewer.pipeline import parse_source
from reviewer.testgen.sandbox import TreeSpec
from reviewer.testgen.session import Options, TestgenSession

d = pathlib.Path(tempfile.mkdtemp())


def g(*args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@e", *args], cwd=d, check=True, capture_output=True)


g("init", "-q")
(d / "shop").mkdir()
(d / "shop/__init__.py").write_text("")
src = "import requests_not_installed_xyz\n\n\ndef total(prices, discount):\n    \"\"\"Sum of prices minus a discount in percent.\"\"\"\n    return sum(prices) * (1 - discount / 100)\n"
(d / "shop/cart.py").write_text(src)
g("add", "-A")
g("commit", "-qm", "i")
(d / "shop/cart.py").write_text(src.replace("(1 - discount / 100)", "(1 - discount)"))
g("add", "-A")
config = Config(threads=2, cache=False)
parsed = parse_source(DiffSource("staged"), d, config)
backend = make_backend(config)
for probe in (True, False):
    if not probe:
        TestgenSession._importable = lambda self, fns, stats, say: fns  # type: ignore[method-assign]
    t = time.perf_counter()
    with TestgenSession(TreeSpec("index", d), Options()) as s:
        r = s.run(parsed, backend, config, None)
    print(f"import check {'on' if probe else 'off'}: {time.perf_counter() - t:.1f} s, model calls {r.stats.model_calls}, "
          f"tests {len(r.suggestions)}, dropped {len(r.dropped)}, skipped {r.stats.skipped}", flush=True)
backend.close()
