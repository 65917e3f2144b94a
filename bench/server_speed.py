"""Against a model server: does sending hunks concurrently (`--parallel`) pay off?

    .venv/bin/pip install 'llama-cpp-python[server]'      # for --server python
    .venv/bin/python bench/server_speed.py --server python --hunks 10
    .venv/bin/python bench/server_speed.py --server llama-server --llama-server PATH/llama-server

Starts the server on 127.0.0.1 with the reviewer's model, then times
`reviewer review --backend openai --no-cache` on the same diff with `--parallel 1` and
`--parallel 4` (a fresh process each; process start included).

- `--server python` is llama-cpp-python's own server (`python -m llama_cpp.server`):
  one model behind a lock, so it answers one request at a time whatever the client does.
- `--server llama-server` is llama.cpp's C++ server with `--parallel SLOTS` and
  continuous batching: concurrent requests share each decoding step. Each slot gets
  `ctx` tokens of context (the server's -c is slots x ctx).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root: `bench` and `reviewer`


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/v1/models", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise SystemExit("server did not come up")


def start_server(kind: str, model_path: Path, port: int, slots: int, ctx: int, threads: int,
                 binary: str | None) -> subprocess.Popen[bytes]:
    if kind == "python":
        cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model_path), "--host", "127.0.0.1",
               "--port", str(port), "--n_ctx", str(ctx), "--n_threads", str(threads)]
    else:
        cmd = [binary or "llama-server", "-m", str(model_path), "--host", "127.0.0.1", "--port", str(port),
               "-c", str(ctx * slots), "--parallel", str(slots), "-t", str(threads)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def review(diff: Path, url: str, parallel: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "r.json"
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "reviewer", "review", "--diff", str(diff), "--backend", "openai",
                        "--base-url", url, "--model", "bench", "--no-cache", "--parallel", str(parallel),
                        "--format", "json", "-o", str(out), "-q", "--fail-on", "never"], check=True)
        wall = time.perf_counter() - start
        stats = json.loads(out.read_text())["stats"]
    return {"wall": wall, "prompt_tokens": stats["prompt_tokens"], "completion_tokens": stats["completion_tokens"]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--server", choices=("python", "llama-server"), default="python")
    p.add_argument("--llama-server", metavar="PATH", help="the llama-server binary (for --server llama-server)")
    p.add_argument("--model", default="qwen2.5-coder-0.5b")
    p.add_argument("--hunks", type=int, default=10)
    p.add_argument("--slots", type=int, default=4, help="server slots for llama-server (default 4)")
    p.add_argument("--ctx", type=int, default=4096, help="context per slot")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = p.parse_args(argv)

    from bench.diffs import bench_diff
    from reviewer.models import resolve_model

    model_path = Path(resolve_model(args.model, None).path)
    print("| server | slots | reviewer --parallel | wall s | prompt tok | generated tok | generated tok/s |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        diff = Path(tmp) / "bench.diff"
        diff.write_text(bench_diff(args.hunks))
        slot_counts = [1] if args.server == "python" else sorted({1, args.slots})
        for slots in slot_counts:
            port = free_port()
            proc = start_server(args.server, model_path, port, slots, args.ctx, args.threads, args.llama_server)
            url = f"http://127.0.0.1:{port}"
            try:
                wait_ready(url, proc)
                for parallel in sorted({1, slots, 4}):
                    r = review(diff, url + "/v1", parallel)
                    tps = r["completion_tokens"] / r["wall"]  # type: ignore[operator]
                    print(f"| {args.server} | {slots} | {parallel} | {r['wall']:.1f} | {r['prompt_tokens']} | "
                          f"{r['completion_tokens']} | {tps:.1f} |", flush=True)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
