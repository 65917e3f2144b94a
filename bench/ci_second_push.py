"""The second push of a pull request with the real model: how long `reviewer ci github` takes, and how many hunks the cache served.

A throwaway repository gets a pull request of N functions changed far apart (N hunks);
`reviewer ci github` reviews it against the fake GitHub server of tests/test_ci_github.py
(a real HTTP server on 127.0.0.1), with a fresh result cache. Then a second push changes
one of those functions and the bot runs again with the cache the first run left, as the
action's actions/cache step carries it. Each run is a `python -m reviewer` process, timed
from start to exit (model load included, as in a CI job); PyGithub's pacing between API
calls (0.25 s, 1 s per write) is part of it.

    flock /tmp/reviewer-model.lock python -m bench.ci_second_push --hunks 4 \
        --out bench/results/ci-second-push-1.5b.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from tempfile import TemporaryDirectory

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the fake GitHub server lives with the tests

FAR = "\n" * 30


def function(i: int, version: int) -> str:
    body = {0: "    return None",
            1: f"    return db.execute(f\"SELECT * FROM t{i} WHERE id = {{key}}\")",
            2: f"    return db.execute(\"SELECT * FROM t{i} WHERE id = ?\", (key,))"}[version]
    return f"def get_{i}(db, key):\n{body}\n"


def source(n: int, versions: dict[int, int]) -> str:
    return "import sqlite3\n\n\n" + FAR.join(function(i, versions.get(i, 0)) for i in range(n))


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def run_bot(repo: Path, srv: object, base: str, head: str, cache: Path, model: Path, work: Path,
            extra: list[str]) -> dict[str, object]:
    event = work / f"event-{head[:8]}.json"
    event.write_text(json.dumps({"number": 7, "pull_request": {"number": 7, "base": {"sha": base}, "head": {"sha": head}}}))
    srv.files = {"app/store.py": git(repo, "diff", f"{base}...{head}", "--", "app/store.py").split("\n", 4)[4]}  # type: ignore[attr-defined]
    from test_ci_github import OWNER_REPO, TOKEN

    env = {k: v for k, v in os.environ.items() if not k.startswith(("REVIEWER_", "GITHUB_"))}
    env.update(GITHUB_API_URL=srv.base, GITHUB_TOKEN=TOKEN, GITHUB_REPOSITORY=OWNER_REPO,  # type: ignore[attr-defined]
               GITHUB_EVENT_PATH=str(event), REVIEWER_CACHE_DIR=str(cache), PYTHONPATH=str(ROOT))
    report = work / f"review-{head[:8]}.json"
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "reviewer", "ci", "github", "--model", str(model), "--quiet",
                           "--format", "json", "-o", str(report), *extra], check=False, cwd=repo, env=env, capture_output=True,
                          text=True, timeout=1800)
    wall = time.perf_counter() - started
    if proc.returncode not in (0, 1):
        raise SystemExit(f"reviewer ci github failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    stats = json.loads(report.read_text())["stats"]
    return {"wall_s": round(wall, 1), "review_s": stats["seconds"], "hunks": stats["hunks"], "cached": stats["cached"],
            "unchanged": stats["unchanged"], "to_model": stats["hunks"] - stats["cached"] - stats["unchanged"],
            "exit": proc.returncode}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hunks", type=int, default=4)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--backend", help="fake: a smoke test of this script without the model")
    args = parser.parse_args()

    from conftest import installed_model_path
    from test_ci_github import GitHubServer

    model = installed_model_path()
    if model is None:
        raise SystemExit("the default model is not installed: reviewer models pull")
    srv = GitHubServer()
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    with TemporaryDirectory() as tmp:
        work = Path(tmp)
        repo = work / "repo"
        (repo / "app").mkdir(parents=True)
        git(work, "init", "-q", "-b", "main", str(repo))
        git(repo, "config", "user.email", "bench@example.com")
        git(repo, "config", "user.name", "bench")
        (repo / "app/store.py").write_text(source(args.hunks, {}))
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", "base")
        base = git(repo, "rev-parse", "HEAD").strip()
        git(repo, "checkout", "-qb", "feature")
        cache = work / "cache"
        cache.mkdir()
        pushes = []
        versions = {i: 1 for i in range(args.hunks)}
        for label in ("first push", "second push"):
            (repo / "app/store.py").write_text(source(args.hunks, versions))
            git(repo, "commit", "-qam", label)
            head = git(repo, "rev-parse", "HEAD").strip()
            pushes.append({"push": label, **run_bot(repo, srv, base, head, cache, model, work,
                                                       ["--backend", args.backend] if args.backend else [])})
            versions[args.hunks - 1] = 2  # the second push fixes the last function only
    srv.shutdown()
    result = {"command": f"python -m bench.ci_second_push --hunks {args.hunks}", "model": model.name,
              "cpu_count": os.cpu_count(), "pushes": pushes}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
