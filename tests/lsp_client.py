"""A pytest-lsp client driving `reviewer lsp` (tests/lsp_fake_server.py) over stdio, and waiting helpers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path

from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

ROOT = Path(__file__).resolve().parent.parent
SERVER = [sys.executable, str(ROOT / "tests" / "lsp_fake_server.py")]


@contextlib.asynccontextmanager
async def lsp_client(env: Mapping[str, str], root: Path | None = None,
                     command: Sequence[str] = SERVER) -> AsyncIterator[LanguageClient]:
    """A client connected to a fresh server with `env` added to this process's environment (the fake backend)."""
    server_env = {**os.environ, "PYTHONPATH": str(ROOT), "REVIEWER_BACKEND": "fake", **env}
    client = await ClientServerConfig(server_command=list(command), server_env=server_env).start()
    assert isinstance(client, LanguageClient)
    await client.initialize_session(lsp.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"),
        root_uri=root.as_uri() if root else None))
    try:
        yield client
    finally:
        await client.shutdown_session()
        await client.stop()


async def until(check: Callable[[], object], timeout: float = 30.0, what: str = "") -> object:
    """Poll `check` until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.05)


async def fresh_diagnostics(client: LanguageClient, uri: str, timeout: float = 30.0) -> list[lsp.Diagnostic]:
    """The next diagnostics published for `uri` (call `client.diagnostics.pop(uri, None)` before the action)."""
    await until(lambda: uri in client.diagnostics, timeout, f"diagnostics for {uri}")
    return list(client.diagnostics[uri])


def open_file(client: LanguageClient, path: Path, version: int = 1) -> str:
    uri = path.as_uri()
    client.diagnostics.pop(uri, None)
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(
        lsp.TextDocumentItem(uri, "python", version, path.read_text(errors="replace"))))
    return uri


def save_file(client: LanguageClient, path: Path, text: str, version: int) -> str:
    """Write `text` to disk as the editor does on save: the whole buffer changed, then saved."""
    uri = path.as_uri()
    path.write_text(text)
    client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        lsp.VersionedTextDocumentIdentifier(version=version, uri=uri), [lsp.TextDocumentContentChangeWholeDocument(text)]))
    client.diagnostics.pop(uri, None)
    client.text_document_did_save(lsp.DidSaveTextDocumentParams(lsp.TextDocumentIdentifier(uri)))
    return uri


def edit(client: LanguageClient, uri: str, text: str, version: int) -> None:
    """An unsaved change of the whole buffer."""
    client.diagnostics.pop(uri, None)
    client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        lsp.VersionedTextDocumentIdentifier(version=version, uri=uri), [lsp.TextDocumentContentChangeWholeDocument(text)]))
