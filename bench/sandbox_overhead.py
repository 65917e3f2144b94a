"""What the test sandbox costs per run: the same pytest run through each runner, timed.

Runners compared on one tree (a small package and N generated-style tests, one file per function):

- `before`: the runner as it was before the sandbox of issue 20 (one pytest process, `unshare --net`,
  rlimits), loaded from git (`--before-rev`);
- `unsafe`: the current runner without isolation (`--unsafe-no-sandbox`: supervisor + a worker per test);
- `sandbox`: the current runner with the isolation this machine has (bubblewrap or unshare).

Usage: python bench/sandbox_overhead.py [--tests 12] [--repeat 5] [--before-rev a03ab2f]
Prints a markdown table (median seconds per run, and the difference from `before`).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from reviewer.testgen import isolation
from reviewer.testgen.sandbox import Limits, run_pytest


def make_tree(base: Path, tests: int, files: int) -> tuple[Path, list[str]]:
    tree = base / "tree"
    (tree / "pkg").mkdir(parents=True)
    (tree / "pkg" / "__init__.py").write_text("")
    (tree / "pkg" / "ops.py").write_text("def add(a, b):\n    return a + b\n")
    (tree / "tests").mkdir()
    names = []
    for f in range(files):
        body = "from pkg.ops import add\n"
        for i in range(tests // files):
            body += f"\n\ndef test_add_{f}_{i}():\n    assert add({i}, 1) == {i + 1}\n"
        name = f"tests/test_ops__reviewer_{f}.py"
        (tree / name).write_text(body)
        names.append(name)
    return tree, names


def load_before(rev: str, where: Path):
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:reviewer/testgen/sandbox.py"],
                            capture_output=True, text=True, check=True).stdout
    path = where / "sandbox_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("sandbox_before", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules["sandbox_before"] = module
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def unsandboxed(run):
    """`run` as on a machine where no isolation works (the --unsafe-no-sandbox path)."""
    detect = isolation.detect
    isolation.detect = lambda: isolation.Isolation("none")  # type: ignore[assignment]
    try:
        return run()
    finally:
        isolation.detect = detect  # type: ignore[assignment]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tests", type=int, default=12)
    ap.add_argument("--files", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--before-rev", default="a03ab2f")
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="reviewer-overhead-"))
    tree, files = make_tree(base, args.tests, args.files)
    before = load_before(args.before_rev, base)
    runners = {
        "before": lambda: before.run_pytest(tree, files, before.Limits(test_timeout=10)),
        "unsafe": lambda: unsandboxed(lambda: run_pytest(tree, files, Limits(test_timeout=10), workdir=base, unsafe=True)),
        "sandbox": lambda: run_pytest(tree, files, Limits(test_timeout=10), workdir=base),
    }
    times: dict[str, list[float]] = {k: [] for k in runners}
    for _ in range(args.repeat):
        for name, run in runners.items():
            started = time.perf_counter()
            result = run()
            times[name].append(time.perf_counter() - started)
            passed = sum(r.status == "passed" for r in result.records.values())
            assert passed == args.tests, (name, passed, result.output[-2000:])
    ref = statistics.median(times["before"])
    print(f"{args.tests} tests in {args.files} files, {args.repeat} runs each; isolation here: "
          f"{isolation.detect().describe()}\n")
    print("| runner | median s / run | min | max | vs before |\n|---|---|---|---|---|")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"| {name} | {med:.2f} | {min(ts):.2f} | {max(ts):.2f} | {med - ref:+.2f} s |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
