"""`reviewer lsp`: the language server (pygls 2.x over stdio) around one ReviewSession and a background worker.

The event loop only queues work and answers from what it holds: diagnostics are published
when a review lands (`_deliver`, marshalled from the worker thread), code actions and hover
read the findings shown. Everything that can go wrong with one file (reviewer.lsp.filereview's
`FileProblem`, a missing model or a dead model server as `ModelUnavailable`, a bad config, an
unexpected exception) becomes one `window/showMessage` warning — shown once per distinct
message, one line in the log — and the server keeps serving the next save.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from reviewer import __version__, backends
from reviewer.baseline import baseline_path, load_baseline, save_baseline
from reviewer.config import Config
from reviewer.diffsource import split_lines
from reviewer.errors import ModelUnavailable, ReviewerError
from reviewer.lsp import convert
from reviewer.lsp.filereview import FileProblem, config_for, locate, review_file
from reviewer.lsp.follow import anchored, follow
from reviewer.lsp.worker import Job, Worker
from reviewer.pipeline import HunkResult
from reviewer.session import ReviewSession
from reviewer.types import Finding

log = logging.getLogger("reviewer.lsp")
EVIDENCE = "#reviewer-evidence"  # worker key suffix of a file's evidence pass (generated tests)


def _model_key(c: Config) -> tuple[object, ...]:
    """The settings that make the model: one backend serves every repository that agrees on them."""
    return (c.backend, c.model, c.base_url, c.api_key_env, c.n_gpu_layers, c.threads, c.ctx, c.chat_format,
            c.timeout, c.parallel, c.cache_dir)


class ReviewerServer(LanguageServer):
    """The server: findings shown per document (event loop only), the worker, and the session it owns."""

    def __init__(self, flags: Mapping[str, Any], config_file: Path | None, debounce: float) -> None:
        super().__init__("reviewer", __version__, text_document_sync_kind=lsp.TextDocumentSyncKind.Incremental)
        self.flags = dict(flags)
        self.config_file = config_file
        self.shown: dict[str, tuple[Finding, ...]] = {}
        self.said: set[str] = set()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.worker = Worker(self._review, self._failed, debounce, on_exit=self._drop_backend)
        # owned by the worker thread: one model per server process (SQLite connections stay in their thread too)
        self._session: ReviewSession | None = None
        self._backend: backends.Backend | None = None
        self._backend_key: tuple[object, ...] | None = None

    # -- event loop side -----------------------------------------------------------------

    def lines(self, uri: str) -> list[str]:
        """The buffer's lines, line endings dropped."""
        return [ln.rstrip("\r\n") for ln in self.workspace.get_text_document(uri).lines]

    def publish(self, uri: str) -> None:
        lines = self.lines(uri)
        diagnostics = [convert.diagnostic(f, uri, lines) for f in self.shown.get(uri, ())]
        self.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri, diagnostics))

    def say(self, message: str, kind: lsp.MessageType = lsp.MessageType.Warning) -> None:
        """One showMessage per distinct message (a broken model warned about on every save is noise)."""
        if message in self.said:
            return
        self.said.add(message)
        log.warning("%s", message)
        self.window_show_message(lsp.ShowMessageParams(kind, message))

    def request(self, uri: str, debounce: bool) -> None:
        if not uri.startswith("file:"):
            return
        self.worker.forget(uri + EVIDENCE)  # tests of the old version would ground the wrong code
        self.worker.submit(uri, Path(to_fs_path(uri) or uri), debounce)

    def moved(self, uri: str) -> None:
        """The buffer changed: findings follow their code, or are withdrawn."""
        before = self.shown.get(uri)
        if not before:
            return
        after = follow(before, self.lines(uri))
        if after != before:
            self.shown[uri] = after
            self.publish(uri)

    def at(self, uri: str, first: int, last: int) -> list[Finding]:
        """The findings shown on 0-based lines first..last."""
        return [f for f in self.shown.get(uri, ()) if f.line - 1 <= last and max(f.end_line, f.line) - 1 >= first]

    def dismiss(self, uri: str, fingerprint: str, reason: str) -> None:
        """Record the finding in the repository's baseline (re-read first: a CI thread or the TUI may have
        written it since) and withdraw it."""
        finding = next((f for f in self.shown.get(uri, ()) if f.fingerprint == fingerprint), None)
        if finding is None:
            self.say(f"reviewer: no finding {fingerprint} is shown in this file any more; nothing dismissed")
            return
        root = locate(Path(to_fs_path(uri) or uri)).root
        path = baseline_path(root)
        save_baseline(path, load_baseline(path).with_finding(finding, reason or "dismissed in the editor"))
        self.shown[uri] = tuple(f for f in self.shown[uri] if f.fingerprint != fingerprint)
        self.publish(uri)
        self.window_show_message(lsp.ShowMessageParams(lsp.MessageType.Info, f"reviewer: dismissed; recorded in {path.name}"))

    def _deliver(self, job: Job, findings: tuple[Finding, ...]) -> None:
        if not job.current():
            return  # saved again since: the newer review publishes
        uri = job.key.removesuffix(EVIDENCE)
        try:
            self.shown[uri] = follow(findings, self.lines(uri))  # the buffer may have moved on since the save
        except KeyError:  # closed meanwhile
            self.shown.pop(uri, None)
            return
        self.publish(uri)

    def _withdraw(self, job: Job) -> None:
        """A file that could not be reviewed shows nothing (rather than what an older version had)."""
        if job.current() and not job.key.endswith(EVIDENCE):  # a failed evidence pass leaves the review shown
            self.shown.pop(job.key, None)
            self.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(job.key, []))

    # -- worker side ---------------------------------------------------------------------

    def _call(self, fn: Any, *args: Any) -> None:
        if self.loop is not None:
            self.loop.call_soon_threadsafe(fn, *args)

    def _session_for(self, config: Config) -> ReviewSession:
        key = _model_key(config)
        if self._backend is None or self._backend_key != key:
            self._drop_backend()
            try:
                self._backend = backends.make_backend(config)
            except ReviewerError as exc:
                raise ModelUnavailable(str(exc)) from None
            self._backend_key = key
        if self._session is None or self._session.config != config:
            if self._session is not None:
                self._session.close()  # its cache; the backend is the server's
            self._session = ReviewSession(config, backend=self._backend, warn=lambda m: log.warning("%s", m))
        return self._session

    def _drop_backend(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None
        backend, self._backend = self._backend, None
        if backend is not None:
            backend.close()

    def _review(self, job: Job) -> None:
        target = locate(job.payload)
        session = self._session_for(config_for(target, self.flags, self.config_file))
        progress = Progress(self, job, target.rel)
        evidence = job.key.endswith(EVIDENCE)
        if evidence:  # the same review (cached by now), then the generated tests: a session that runs them
            with ReviewSession(session.config.replace(run_tests=True), backend=self._backend,
                               warn=lambda m: log.warning("%s", m)) as tested:
                parsed, review = review_file(tested, target, lambda name: progress, tests=True,
                                             say=lambda m: (progress.say(m), job.check()))
        else:
            parsed, review = review_file(session, target, lambda name: progress)
            if review is not None and session.config.editor_evidence and target.rel.endswith(".py"):
                self.worker.submit(job.key + EVIDENCE, job.payload, idle=True)
        job.check()
        if review is None:
            self._call(self._deliver, job, ())
            return
        lines: Sequence[str] | None = parsed.sources.get(target.rel)
        if lines is None:
            lines = split_lines(target.path.read_bytes())
        mine = [f for f in review.findings if f.path == target.rel]
        self._call(self._deliver, job, anchored(mine, target.rel, lines))

    def _failed(self, job: Job, exc: BaseException) -> None:
        if isinstance(exc, ModelUnavailable):
            self._drop_backend()  # the next save tries again (a server back up, a model pulled since)
            message = f"reviewer: the model cannot review: {exc}"
        elif isinstance(exc, (FileProblem, ReviewerError)):
            message = str(exc) if str(exc).startswith("reviewer:") else f"reviewer: {exc}"
        else:
            message = f"reviewer: internal error reviewing {job.payload}: {type(exc).__name__}: {exc}"
        self._call(self.say, message)
        self._call(self._withdraw, job)

    def close(self) -> None:
        """Stop the worker; it closes the session and model on its own thread (SQLite wants that)."""
        self.worker.stop()


class Progress:
    """`$/progress` for one job while the model works (pipeline.Progress); checks for a newer save between hunks."""

    def __init__(self, server: ReviewerServer, job: Job, rel: str) -> None:
        self.server, self.job, self.rel = server, job, rel
        self.token = f"reviewer-{job.generation}"
        self.total = self.done = 0
        self.open = False

    def _send(self, coro: Any) -> None:
        loop = self.server.loop
        if loop is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=10)
        except Exception as exc:  # noqa: BLE001 - a client that refuses progress still gets diagnostics
            log.info("no progress shown: %s", exc)

    async def _begin(self) -> None:
        await self.server.work_done_progress.create_async(self.token)
        self.server.work_done_progress.begin(self.token, lsp.WorkDoneProgressBegin(
            f"reviewer: {self.rel}", message=f"{self.total} hunk(s)", cancellable=False))
        self.open = True

    async def _report(self, message: str) -> None:
        if self.open:
            self.server.work_done_progress.report(self.token, lsp.WorkDoneProgressReport(message=message))

    async def _end(self) -> None:
        if self.open:
            self.open = False
            self.server.work_done_progress.end(self.token, lsp.WorkDoneProgressEnd(
                message=f"{self.done}/{self.total} hunk(s) reviewed"))

    def start(self, total: int) -> None:
        self.total = total
        caps = self.server.client_capabilities.window
        if total and caps is not None and caps.work_done_progress:
            self._send(self._begin())

    def model_loading(self) -> None:
        self._send(self._report("the model is working"))

    def say(self, message: str) -> None:
        """A line from the generated tests' run (the evidence pass, after the review's own progress ended)."""
        if not self.open:
            self.token = f"reviewer-{self.job.generation}-tests"
            self._send(self._begin())
        self._send(self._report(message))

    def advance(self, result: HunkResult) -> None:
        self.done += 1
        self._send(self._report(f"{self.done}/{self.total} hunk(s)"))
        self.job.check()  # a newer save: stop before the next hunk (this one's answer is cached)

    def finish(self) -> None:
        self._send(self._end())


def build(flags: Mapping[str, Any], config_file: Path | None, debounce: float) -> ReviewerServer:
    """The server with its features registered."""
    server = ReviewerServer(flags, config_file, debounce)

    @server.feature(lsp.INITIALIZED)
    def initialized(ls: ReviewerServer, params: lsp.InitializedParams) -> None:
        ls.loop = asyncio.get_running_loop()
        ls.worker.start()

    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: ReviewerServer, params: lsp.DidOpenTextDocumentParams) -> None:
        ls.request(params.text_document.uri, debounce=False)

    @server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: ReviewerServer, params: lsp.DidSaveTextDocumentParams) -> None:
        ls.request(params.text_document.uri, debounce=True)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: ReviewerServer, params: lsp.DidChangeTextDocumentParams) -> None:
        ls.moved(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: ReviewerServer, params: lsp.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.worker.forget(uri)
        if ls.shown.pop(uri, None):
            ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri, []))

    @server.feature(lsp.TEXT_DOCUMENT_CODE_ACTION,
                    lsp.CodeActionOptions(code_action_kinds=[lsp.CodeActionKind.QuickFix]))
    def code_action(ls: ReviewerServer, params: lsp.CodeActionParams) -> list[lsp.CodeAction | lsp.Command]:
        uri = params.text_document.uri
        lines = ls.lines(uri)
        return [a for f in ls.at(uri, params.range.start.line, params.range.end.line)
                for a in convert.actions(f, uri, lines)]

    @server.feature(lsp.TEXT_DOCUMENT_HOVER)
    def hover(ls: ReviewerServer, params: lsp.HoverParams) -> lsp.Hover | None:
        found = ls.at(params.text_document.uri, params.position.line, params.position.line)
        if not found:
            return None
        text = "\n\n---\n\n".join(convert.hover_text(f) for f in found)
        return lsp.Hover(lsp.MarkupContent(lsp.MarkupKind.Markdown, text),
                         convert.span(found[0], ls.lines(params.text_document.uri)))

    @server.command(convert.DISMISS)
    def dismiss(ls: ReviewerServer, *args: Any) -> None:
        uri, fingerprint, reason = (list(args) + ["", "", ""])[:3]
        try:
            ls.dismiss(str(uri), str(fingerprint), str(reason))
        except ReviewerError as exc:
            ls.say(f"reviewer: not dismissed: {exc}")

    @server.feature(lsp.SHUTDOWN)
    def shutdown(ls: ReviewerServer, params: None) -> None:
        ls.close()

    return server


def serve(flags: Mapping[str, Any], config_file: Path | None, debounce: float) -> None:
    """Serve over stdin/stdout until the client exits; log lines (one per problem) go to stderr."""
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    logging.getLogger("stevedore").setLevel(logging.CRITICAL)  # bandit's plugin loader: optional plugins it lacks
    server = build(flags, config_file, debounce)
    try:
        server.start_io()
    finally:
        server.close()


__all__ = ["Progress", "ReviewerServer", "build", "serve"]
