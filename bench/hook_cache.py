"""The commit hook after the editor: seconds from the cache against a cold hook, the hook-timeout, the cached start-up.

    flock /tmp/reviewer-model.lock .venv/bin/python bench/hook_cache.py   # the real model: ~5 min
    .venv/bin/python bench/hook_cache.py --startup-only --base 1950f91     # only the cached start-up, fake model

Every step is a fresh process as a developer runs it, in a throwaway repository holding one
Python module and a three-hunk change to it (`CHANGE`), with its own cache dir:

  cold hook       `reviewer hook run --hook-timeout 0` on the staged change, empty cache: what a
                  commit costs when nothing reviewed the change before; then with
                  --hook-timeout 600, the model in a child process (the guard's own cost).
  hook, default   the same with the default hook-timeout (60 s) and an empty cache: what the
                  timeout does to a cold commit on this machine (hunks reviewed, seconds).
  editor          `git diff | reviewer review --diff -`: the working tree against the index, as the
                  editor reviews on save; empty cache.
  hook after add  `git add -A`, then `reviewer hook run`: should be all from the cache, with the
                  editor's findings (compared as JSON: path, line, category, title).
  moved           the editor's review, then ten import lines added on top, `git add -A`, the hook:
                  the moved hunks are hits with their lines moved by ten; the new one is asked.
  fake hang       the fake backend hanging on one hunk, hook-timeout 5 s and the default 60 s:
                  how long a hung model holds a commit (seconds past the deadline).
  cached start-up a fully cached `reviewer hook run` (fake backend), median of 9 runs, this code
                  and, with --base REV, the code at REV on the same machine.

Writes bench/results/hook-cache-<model>.json and .md (the table it prints).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"

BASE = '''"""User records."""

import sqlite3


def connect(path):
    return sqlite3.connect(path)


def get_user(conn, user_id):
    cur = conn.cursor()
    cur.execute("SELECT * FROM users WHERE id = ?", (user_id,))
    return cur.fetchone()


''' + "".join(f"def helper_{i}(x):\n    return x + {i}\n\n\n" for i in range(12)) + '''def average(values):
    total = 0
    for v in values:
        total += v
    return total / len(values)


''' + "".join(f"def other_{i}(x):\n    return x * {i}\n\n\n" for i in range(12)) + '''def read_config(path):
    with open(path) as handle:
        return handle.read()
'''

CHANGE = (BASE
          .replace('    cur.execute("SELECT * FROM users WHERE id = ?", (user_id,))',
                   '    cur.execute(f"SELECT * FROM users WHERE id = {user_id}")')
          .replace("    return total / len(values)", "    if values == None:\n        return 0\n    return total / len(values)")
          .replace("    with open(path) as handle:\n        return handle.read()",
                   "    handle = open(path)\n    data = eval(handle.read())\n    return data"))

STEPS = ("cold", "default", "editor", "moved", "hang")
HANG = "def helper():\n    # reviewer-fake: hang\n    return 1\n"


def sh(argv: list[str], cwd: Path, env: dict[str, str], stdin: str | None = None) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, input=stdin, capture_output=True, text=True, check=False)
    return done, time.perf_counter() - started


def git(repo: Path, env: dict[str, str], *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True).stdout


def make_repo(parent: Path, env: dict[str, str], config: str) -> Path:
    repo = Path(tempfile.mkdtemp(dir=parent))
    git(repo, env, "init", "-q", "-b", "main")
    (repo / "users.py").write_text(BASE)
    (repo / ".reviewer.toml").write_text(config)
    git(repo, env, "add", "-A")
    git(repo, env, "commit", "-qm", "init")
    return repo


def environment(code_root: Path, cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REVIEWER_", "GIT_", "PRE_COMMIT"))}
    env.update({"PYTHONPATH": str(code_root), "REVIEWER_CACHE_DIR": str(cache), "GIT_CONFIG_NOSYSTEM": "1",
                "GIT_AUTHOR_NAME": "B", "GIT_AUTHOR_EMAIL": "b@e", "GIT_COMMITTER_NAME": "B",
                "GIT_COMMITTER_EMAIL": "b@e", "NO_COLOR": "1"})
    return env


def reviewer(*args: str) -> list[str]:
    return [sys.executable, "-m", "reviewer", *args]


def findings(report: str) -> list[tuple[Any, ...]]:
    data = json.loads(report)
    return sorted((f["path"], f["line"], f["category"], f["title"]) for f in data["findings"])


def model_steps(work: Path, model: str, only: set[str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    config = f'model = "{model}"\nanalyzers = false\n'

    def fresh() -> tuple[Path, dict[str, str]]:
        cache = Path(tempfile.mkdtemp(dir=work))
        models = Path.home() / ".cache" / "reviewer" / "models"
        (cache / "models").symlink_to(models)  # the model file, without its cached answers
        env = environment(ROOT, cache)
        return make_repo(work, env, config), env

    for name, timeout in (("cold hook", "0"), ("cold hook, model in a child process", "600"),
                          ("hook, default timeout", None)):
        if ("default" if timeout is None else "cold") not in only:
            continue
        repo, env = fresh()
        (repo / "users.py").write_text(CHANGE)
        git(repo, env, "add", "-A")
        argv = reviewer("hook", "run", "--format", "json") + (["--hook-timeout", timeout] if timeout else [])
        done, seconds = sh(argv, repo, env)
        stats = json.loads(done.stdout)["stats"] if done.stdout.strip() else {}
        rows.append({"step": name, "seconds": round(seconds, 2), "hunks": stats.get("hunks"),
                     "cached": stats.get("cached"), "exit": done.returncode,
                     "note": done.stderr.strip().splitlines()[-1][:160] if done.stderr.strip() else ""})

    for moved in (False, True):
        if ("moved" if moved else "editor") not in only:
            continue
        repo, env = fresh()
        (repo / "users.py").write_text(CHANGE)
        diff = git(repo, env, "diff")
        editor, seconds = sh(reviewer("review", "--diff", "-", "--format", "json"), repo, env, stdin=diff)
        before = findings(editor.stdout)
        stats = json.loads(editor.stdout)["stats"]
        if not moved:
            rows.append({"step": "editor (worktree review)", "seconds": round(seconds, 2), "hunks": stats["hunks"],
                         "cached": stats["cached"], "exit": editor.returncode, "note": f"{len(before)} findings"})
        shift = 0
        if moved:
            shift = 10
            (repo / "users.py").write_text("".join(f"import m{i}\n" for i in range(shift)) + CHANGE)
        git(repo, env, "add", "-A")
        hook, seconds = sh(reviewer("hook", "run", "--format", "json"), repo, env)
        after = findings(hook.stdout)
        stats = json.loads(hook.stdout)["stats"]
        expected = sorted((p, line + shift, c, t) for p, line, c, t in before)
        same = [f for f in after if f[1] > shift] == expected
        rows.append({"step": "hook after git add" + (" (10 lines added on top)" if moved else ""),
                     "seconds": round(seconds, 2), "hunks": stats["hunks"], "cached": stats["cached"],
                     "exit": hook.returncode, "note": f"same findings as the editor: {'yes' if same else 'NO'}"})
    return rows


def hang_steps(work: Path) -> list[dict[str, Any]]:
    rows = []
    for timeout in ("5", None):
        cache = Path(tempfile.mkdtemp(dir=work))
        env = environment(ROOT, cache)
        repo = make_repo(work, env, 'backend = "fake"\nanalyzers = false\n')
        (repo / "users.py").write_text(CHANGE)
        (repo / "lib.py").write_text(HANG)
        git(repo, env, "add", "-A")
        argv = reviewer("hook", "run") + (["--hook-timeout", timeout] if timeout else [])
        done, seconds = sh(argv, repo, env)
        limit = float(timeout or 60)
        rows.append({"step": f"fake hang, hook-timeout {timeout or '60 (default)'}", "seconds": round(seconds, 2),
                     "hunks": 4, "cached": 0, "exit": done.returncode,
                     "note": f"{seconds - limit:+.2f} s past the limit; " + done.stderr.strip()[:110]})
    return rows


def startups(work: Path, roots: list[tuple[str, Path]], runs: int = 9) -> list[dict[str, Any]]:
    """A fully cached hook run for each code root, interleaved run by run (a busy machine slows both alike)."""
    setups = []
    for label, code_root in roots:
        cache = Path(tempfile.mkdtemp(dir=work))
        env = environment(code_root, cache)
        repo = make_repo(work, env, 'backend = "fake"\nanalyzers = false\n')
        (repo / "users.py").write_text(CHANGE)
        git(repo, env, "add", "-A")
        sh(reviewer("hook", "run"), repo, env)  # fills the cache
        setups.append((label, repo, env, [], []))
    for _ in range(runs):
        for _label, repo, env, times, cpu in setups:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            done, seconds = sh(reviewer("hook", "run"), repo, env)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            assert "(3 cached)" in done.stdout, done.stdout + done.stderr
            times.append(seconds)
            cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return [{"step": f"cached hook start-up, {label}", "seconds": round(statistics.median(times), 3), "hunks": 3,
             "cached": 3, "exit": done.returncode,
             "note": f"median of {runs}, interleaved; min {min(times):.3f}, max {max(times):.3f}; "
                     f"CPU (user+sys) median {statistics.median(cpu):.3f} s"}
            for label, _repo, _env, times, cpu in setups]


def table(rows: list[dict[str, Any]]) -> str:
    out = ["| step | seconds | hunks | cached | exit | note |", "|---|---:|---:|---:|---:|---|"]
    for r in rows:
        out.append(f"| {r['step']} | {r['seconds']} | {r['hunks']} | {r['cached']} | {r['exit']} | "
                   f"{str(r['note']).replace('|', '/')} |")
    return "\n".join(out) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="qwen2.5-coder-1.5b")
    parser.add_argument("--base", metavar="REV", help="also time the cached start-up of the code at REV")
    parser.add_argument("--runs", type=int, default=9, help="runs of the cached start-up (median)")
    parser.add_argument("--startup-only", action="store_true", help="no model runs: the cached start-up only")
    parser.add_argument("--only", metavar="STEPS", default=",".join(STEPS),
                        help=f"a comma list of the steps to run, of {','.join(STEPS)} (default: all)")
    args = parser.parse_args()
    only = set(args.only.split(","))
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        roots = [("this code", ROOT)]
        if args.base:
            base_root = work / "base"
            base_root.mkdir()
            archive = subprocess.run(["git", "archive", args.base], cwd=ROOT, capture_output=True, check=True).stdout
            subprocess.run(["tar", "-x", "-C", str(base_root)], input=archive, check=True)
            roots.insert(0, (f"before ({args.base})", base_root))
        rows.extend(startups(work, roots, args.runs))
        if not args.startup_only:
            rows = model_steps(work, args.model, only) + (hang_steps(work) if "hang" in only else []) + rows
    text = table(rows)
    print(text)
    if not args.startup_only:
        RESULTS.mkdir(parents=True, exist_ok=True)
        part = "" if only == set(STEPS) else "-" + "-".join(sorted(only))
        stem = f"hook-cache-{args.model.split('-')[-1]}{part}"
        (RESULTS / f"{stem}.json").write_text(json.dumps(rows, indent=1) + "\n")
        header = (f"bench/hook_cache.py --model {args.model}" + (f" --base {args.base}" if args.base else "")
                  + ("" if not part else f" --only {args.only}")
                  + f" · {time.strftime('%Y-%m-%d')} · {os.cpu_count()} CPUs\n\n")
        (RESULTS / f"{stem}.md").write_text(header + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
