"""Save-to-diagnostic seconds of `reviewer lsp` on the real default model, for docs/editors.md.

Run under the model lock (one model at a time on the shared machine):

    flock /tmp/reviewer-model.lock python -m bench.editor_speed

A temporary repository gets a one-hunk change (an f-string SQL query added to a function);
a pytest-lsp client starts `reviewer lsp` on a fresh result cache, opens the file and
saves it, and times save -> first publishDiagnostics: cold (the model loads in the
server), warm (the model loaded, a new hunk; twice), and cached (an earlier hunk saved again).
Then the editor-then-commit path: `git add`, and `git commit` through the hook `reviewer hook
install` writes, timed; the hook's summary says how many hunks came from the editor's cache.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, client_capabilities

BEFORE = "import sqlite3\n\n\ndef get_user(db: sqlite3.Connection, user_id: str):\n    cur = db.cursor()\n    return cur.fetchone()\n"
CHANGES = (  # one hunk each
    ("cold: model loads, one new hunk", '    cur.execute(f"SELECT * FROM users WHERE id = {user_id}")'),
    ("warm: one new hunk", '    cur.execute(f"SELECT name FROM users WHERE id = {user_id}")'),
    ("warm: another new hunk", '    cur.execute(f"SELECT email FROM users WHERE id = {user_id}")'),
    ("cached: the first hunk again", '    cur.execute(f"SELECT * FROM users WHERE id = {user_id}")'),
)


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=b", "-c", "user.email=b@b", *args], cwd=repo, check=True,
                   capture_output=True)


async def measure(repo: Path, cache: Path) -> list[tuple[str, float, int]]:
    env = {**os.environ, "REVIEWER_CACHE_DIR": str(cache), "REVIEWER_EDITOR_DEBOUNCE": "0"}
    if (Path.home() / ".cache" / "reviewer" / "models").exists() and not (cache / "models").exists():
        cache.mkdir(parents=True, exist_ok=True)
        (cache / "models").symlink_to(Path.home() / ".cache" / "reviewer" / "models")
    client = await ClientServerConfig([sys.executable, "-m", "reviewer", "lsp"], server_env=env).start()
    await client.initialize_session(lsp.InitializeParams(capabilities=client_capabilities("neovim"),
                                                         root_uri=repo.as_uri()))
    path = repo / "users.py"
    uri = path.as_uri()
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(lsp.TextDocumentItem(uri, "python", 1, BEFORE)))
    await asyncio.sleep(2)
    rows = []
    for version, (label, line) in enumerate(CHANGES, start=2):
        text = BEFORE.replace("    return", line + "\n    return")
        path.write_text(text)
        client.text_document_did_change(lsp.DidChangeTextDocumentParams(
            lsp.VersionedTextDocumentIdentifier(version=version, uri=uri), [lsp.TextDocumentContentChangeWholeDocument(text)]))
        await asyncio.sleep(1)  # the edit itself withdraws the diagnostic on the edited line: not what is timed
        client.diagnostics.pop(uri, None)
        started = time.perf_counter()
        client.text_document_did_save(lsp.DidSaveTextDocumentParams(lsp.TextDocumentIdentifier(uri)))
        while uri not in client.diagnostics:
            await asyncio.sleep(0.02)
        rows.append((label, time.perf_counter() - started, len(client.diagnostics[uri])))
    await client.shutdown_session()
    await client.stop()
    return rows


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        repo.mkdir()
        _git(repo, "init", "-q")
        (repo / "users.py").write_text(BEFORE)
        _git(repo, "add", "-A")
        _git(repo, "commit", "-qm", "init")
        rows = asyncio.run(measure(repo, Path(tmp) / "cache"))
        commit = commit_after_editor(repo, Path(tmp) / "cache")
    print("| save of a one-hunk change | seconds to diagnostics | diagnostics |")
    print("|---|---:|---:|")
    for label, seconds, count in rows:
        print(f"| {label} | {seconds:.2f} | {count} |")
    print()
    print("| then | seconds | the hook said |")
    print("|---|---:|---|")
    print(f"| `git add`, `git commit` (hook installed by `reviewer hook install`) | {commit[0]:.2f} | {commit[1]} |")


def commit_after_editor(repo: Path, cache: Path) -> tuple[float, str]:
    """`git add` the saved file and `git commit` through the installed hook; (seconds, the hook's summary line)."""
    env = {**os.environ, "REVIEWER_CACHE_DIR": str(cache), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    subprocess.run([sys.executable, "-m", "reviewer", "hook", "install"], cwd=repo, env=env, check=True, capture_output=True)
    _git(repo, "add", "users.py")
    started = time.perf_counter()
    done = subprocess.run(["git", "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "change"], cwd=repo,
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    seconds = time.perf_counter() - started
    summary = next((ln.strip() for ln in done.stdout.splitlines() if "hunk" in ln), done.stdout.strip()[-120:])
    return seconds, f"{summary} (exit {done.returncode})"


if __name__ == "__main__":
    main()
