"""`reviewer eval`: run the real pipeline on labelled cases and score it.

Cases and scoring rules: shared/eval/README.md (its score.py is the reference scorer;
`score` here agrees with it). Each case is reviewed the way `reviewer review` sees a
change in real use: its diff is materialized as a temporary git repository (old files
committed, the change staged; reviewer.evaluation.materialize) and the staged diff is read back with
the whole new files. Results are appended one JSON line per case as they finish, so an
interrupted run resumes where it stopped; with `jobs` > 1 cases are reviewed by worker
processes, each with its own backend.
"""

from __future__ import annotations

import atexit
import json
import multiprocessing
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reviewer.backends import Backend
from reviewer.cache import ResultCache
from reviewer.config import Config
from reviewer.errors import ReviewerError
from reviewer.evaluation.alarms import ALARM_SEVERITIES, is_alarm, judge  # noqa: F401 - the scorer's names, re-exported
from reviewer.session import FROM_CONFIG, ReviewSession

_REQUIRED = ("id", "label", "diff")

OnCase = Callable[[int, int, dict[str, Any]], None]


def load_cases(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """Every case of the files, in order; a missing file or a bad line is a ReviewerError
    naming the file (and line)."""
    cases: list[dict[str, Any]] = []
    for path in paths:
        try:
            with path.open(encoding="utf-8") as fh:
                for no, line in enumerate(fh, 1):
                    if line.strip():
                        cases.append(_case(path, no, line))
        except FileNotFoundError:
            raise ReviewerError(f"cases file {path} not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ReviewerError(f"cannot read cases from {path}: {getattr(exc, 'strerror', None) or exc}") from None
    return cases


def _case(path: Path, no: int, line: str) -> dict[str, Any]:
    try:
        case = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ReviewerError(f"{path} line {no}: not a JSON object ({exc.msg})") from None
    if not isinstance(case, dict):
        raise ReviewerError(f"{path} line {no}: not a JSON object")
    missing = [key for key in _REQUIRED if not isinstance(case.get(key), str)]
    if missing:
        raise ReviewerError(f"{path} line {no}: the case has no {', '.join(missing)} (see shared/eval/README.md)")
    return case


def review_case(case: dict[str, Any], session: ReviewSession, min_confidence: float = 0.0,
                fix_tests: Path | None = None) -> dict[str, Any]:
    """One result line: {"id", "findings", "seconds"} (plus "error" when the case could not
    be read into a diff to review: a binary or malformed diff, nothing left to review, and
    "unsure": the model findings below `min_confidence`, left out of "findings").

    `session` is an eval session (`eval_session`: every finding kept, whatever its
    confidence, so that the threshold can be applied here). The case is reviewed as
    `reviewer review` would in a repository holding it: a temp git repository with the old
    files committed and the diff staged (evaluation.materialize), its staged diff read by
    the session (whole new files, enclosing functions), the analyzers (with the result
    cache), then the model, and with `config.run_tests` the generated tests
    (reviewer.testgen.evidence). "seconds" covers all of that, from creating the repository
    to the end of the review; removing it is not counted. Failures of the model itself are
    raised, not recorded, so a resumed run retries them. A detected buggy case also gets "fix":
    whether a checked suggestion fixed it (evaluation.fixrate; `fix_tests`: QuixBugs' input/output
    tests), judged after "seconds" is taken.
    """
    from reviewer.diff import DiffSource
    from reviewer.evaluation.materialize import isolated_git_env, materialize
    from reviewer.testgen.sandbox import TreeSpec

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="reviewer-eval-") as tmp:
        root = Path(tmp)
        try:
            materialize(case["diff"], root)
            with isolated_git_env():
                parsed = session.parse(DiffSource("staged"), root)
        except ReviewerError as exc:
            return {"id": case["id"], "findings": [], "seconds": round(time.perf_counter() - started, 3),
                    "error": str(exc)}
        tree = TreeSpec("index", root) if session.config.run_tests else None
        review = session.review(parsed, tree=tree, say=_silent)
        seconds = round(time.perf_counter() - started, 3)
        kept = [f.to_dict() for f in review.findings if not f.is_unsure(min_confidence)]
        fix = _fix(case, kept, parsed.sources, root, fix_tests, session.config.unsafe_no_sandbox)
    unsure = [f for f in review.findings if f.is_unsure(min_confidence)]
    # "unsure": what --min-confidence dropped, kept aside so bench/quality_curve.py can replay
    # other thresholds; scorers read only "findings".
    return {"id": case["id"], "findings": kept, "seconds": seconds,
            **({"unsure": [f.to_dict() for f in unsure]} if unsure else {}), **({"fix": fix} if fix else {})}


def _fix(case: dict[str, Any], findings: list[dict[str, Any]], sources: Mapping[str, tuple[str, ...]], root: Path,
         tests: Path | None, unsafe: bool) -> dict[str, Any] | None:
    from reviewer import git
    from reviewer.evaluation.fixrate import fix_outcome

    expect = case.get("expect") or {}
    path = expect.get("path")
    if case.get("label") != "buggy" or not path:
        return None
    old = git.show_blob(root, "HEAD", path)
    return fix_outcome(case, findings, sources.get(path), old.decode("utf-8", "replace") if old is not None else None,
                       tests, unsafe)


def eval_session(config: Config, backend: Backend | None = None, cache: ResultCache | None | object = FROM_CONFIG,
                 ) -> ReviewSession:
    """The session cases are reviewed in: every finding kept, whatever its confidence
    (`review_case` applies `config.min_confidence` itself and keeps the rest as "unsure")."""
    # an eval measures the model: no baseline, inline ignores or budget hides what it found (docs/noise.md)
    return ReviewSession(config.replace(min_confidence=0.0, baseline=False, inline_ignores=False, max_findings=0,
                                        max_findings_per_file=0), backend=backend, cache=cache)


def _silent(message: str) -> None:
    """Progress lines of --run-tests during an eval: the per-case line says enough."""


@dataclass(frozen=True)
class Score:
    """Detection and false-alarm rates for one group of cases."""

    buggy: int
    detected: int
    clean: int
    false_alarms: int
    median_seconds: float | None
    suggested: int = 0  # detected cases whose detecting finding came with a suggestion (before the checks)
    checked: int = 0  # ... with one that passed the checks (reviewer/fixes/)
    fixed: int = 0  # ... with one the oracle confirmed (evaluation.fixrate)
    unverified: int = 0  # ... with a checked one no oracle here can judge

    @property
    def fix_rate(self) -> float | None:
        """Fixed / detected: what a developer shown the finding gets as a working fix."""
        return self.fixed / self.detected if self.detected else None

    @property
    def detection_rate(self) -> float | None:
        return self.detected / self.buggy if self.buggy else None

    @property
    def false_alarm_rate(self) -> float | None:
        return self.false_alarms / self.clean if self.clean else None


def score(cases: dict[str, dict[str, Any]], results: list[dict[str, Any]]) -> dict[str, Score]:
    """Per source, plus "ALL"."""
    groups: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    for r in results:
        case = cases.get(r["id"])
        if case is not None:
            groups.setdefault(case["source"], []).append((case, r))
            groups.setdefault("ALL", []).append((case, r))
    out: dict[str, Score] = {}
    for source, pairs in groups.items():
        buggy = [judge(c, r.get("findings", [])) for c, r in pairs if c["label"] == "buggy"]
        clean = [judge(c, r.get("findings", [])) for c, r in pairs if c["label"] == "clean"]
        secs = [float(r.get("seconds", 0)) for _, r in pairs]
        median = sorted(secs)[len(secs) // 2] if secs else None  # the upper median, as shared/eval/score.py
        fixes = [r["fix"] for c, r in pairs if c["label"] == "buggy" and judge(c, r.get("findings", [])) and r.get("fix")]
        out[source] = Score(len(buggy), sum(buggy), len(clean), sum(clean), median,
                            sum(f["shown"] > 0 for f in fixes), sum(f["checked"] > 0 for f in fixes),
                            sum(f["status"] == "fixed" for f in fixes), sum(f["status"] == "unverified" for f in fixes))
    return out


def format_table(scores: dict[str, Score]) -> str:
    def pct(x: float | None) -> str:
        return "-" if x is None else f"{100 * x:.0f}%"

    rows = [("| source | buggy | detected | clean | false alarms | median s/case | suggested | checked | fixed "
             "(of detected) | unverified |"), "|---|---|---|---|---|---|---|---|---|---|"]
    for source in sorted(scores, key=lambda s: (s == "ALL", s)):
        s = scores[source]
        med = "-" if s.median_seconds is None else f"{s.median_seconds:.1f}"
        rows.append(f"| {source} | {s.buggy} | {s.detected} ({pct(s.detection_rate)}) | {s.clean} | "
                    f"{s.false_alarms} ({pct(s.false_alarm_rate)}) | {med} | {s.suggested} | {s.checked} | "
                    f"{s.fixed} ({pct(s.fix_rate)}) | {s.unverified} |")
    return "\n".join(rows)


def results_for(cases: Mapping[str, Any], path: Path) -> list[dict[str, Any]]:
    """The lines of a results file whose case is in `cases`, in file order; read-only (for the
    scripts under bench/ that replay or rescore a run; `read_results` repairs a resumed run's file)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [r for r in (json.loads(line) for line in lines if line.strip()) if r["id"] in cases]


def read_results(out: Path) -> dict[str, dict[str, Any]]:
    """The results already in `out`, by id (the last line wins). A last line without its
    newline (a run killed while writing it) is cut off the file, so its case runs again."""
    try:
        data = out.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ReviewerError(f"cannot read results file {out}: {exc.strerror or exc}") from None
    if data and not data.endswith(b"\n"):
        data = data[: data.rfind(b"\n") + 1]
        try:
            with out.open("r+b") as fh:
                fh.truncate(len(data))
        except OSError as exc:
            raise ReviewerError(f"cannot repair results file {out}: {exc.strerror or exc}") from None
    done: dict[str, dict[str, Any]] = {}
    for no, line in enumerate(data.decode("utf-8", "replace").split("\n"), 1):
        if not line.strip():
            continue
        try:
            result = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ReviewerError(f"{out} line {no}: not a JSON object ({exc.msg}); "
                                "fix or remove that line, or use another --out") from None
        if not isinstance(result, dict) or not isinstance(result.get("id"), str):
            raise ReviewerError(f"{out} line {no}: not a result line (no \"id\"); use another --out")
        done[result["id"]] = result
    return done


def run_eval(
    cases: list[dict[str, Any]],
    config: Config,
    out: Path,
    on_case: OnCase | None = None,
    *,
    jobs: int = 1,
    backend: Backend | None = None,
    cache: ResultCache | None = None,
    fix_tests: Path | None = None,
) -> list[dict[str, Any]]:
    """Review every case not already in `out`, appending each result as it finishes
    (flushed, so a killed run loses at most the cases in flight); returns all results
    for these cases, in case order.

    jobs == 1: in this process, with `backend`/`cache` when given (else made here from
    `config` and closed at the end). jobs > 1: that many worker processes ("spawn": no
    fork of a process that may hold a model), each making its own backend and cache once;
    results are written in the order they finish. An in-process llama model without a
    configured thread count gets the CPUs shared out: cpu_count // jobs threads each.
    """
    if jobs < 1:
        raise ReviewerError(f"--jobs must be 1 or more, not {jobs}")
    done = read_results(out)
    todo = [c for c in cases if c["id"] not in done]
    todo = list({c["id"]: c for c in todo}.values())  # an id twice in the cases is reviewed once
    try:
        fh = out.open("a", encoding="utf-8")
    except OSError as exc:
        raise ReviewerError(f"cannot write results file {out}: {exc.strerror or exc}") from None
    with fh:
        def record(i: int, result: dict[str, Any]) -> None:
            fh.write(json.dumps(result) + "\n")
            fh.flush()
            done[result["id"]] = result
            if on_case:
                on_case(i, len(todo), result)

        if todo and jobs == 1:
            _run_here(todo, config, backend, cache, record, fix_tests)
        elif todo:
            workers = min(jobs, len(todo))
            _run_pool(todo, worker_config(config, workers), workers, record, fix_tests)
    return [done[c["id"]] for c in cases if c["id"] in done]


def worker_config(config: Config, jobs: int) -> Config:
    """The config of each of `jobs` workers: an in-process llama model without a set
    thread count gets cpu_count // jobs threads (at least 1)."""
    if jobs > 1 and config.backend == "llama" and config.threads is None:
        return config.replace(threads=max(1, (os.cpu_count() or 1) // jobs))
    return config


def _run_here(todo: list[dict[str, Any]], config: Config, backend: Backend | None, cache: ResultCache | None,
              record: Callable[[int, dict[str, Any]], None], fix_tests: Path | None) -> None:
    # A given backend without a cache means no cache (tests); with neither, both come from config.
    with eval_session(config, backend, cache if (cache is not None or backend is not None) else FROM_CONFIG) as session:
        for i, case in enumerate(todo, 1):
            record(i, review_case(case, session, config.min_confidence, fix_tests))


def _run_pool(todo: list[dict[str, Any]], config: Config, jobs: int,
              record: Callable[[int, dict[str, Any]], None], fix_tests: Path | None) -> None:
    pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_worker_init, initargs=(config, fix_tests))
    pending: set[Future[dict[str, Any]]] = set()
    try:
        pending = {pool.submit(_worker_review, case) for case in todo}
        i = 0
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in sorted(finished, key=lambda f: f.exception() is not None):  # record before raising
                try:
                    result = future.result()
                except BrokenProcessPool:
                    raise ReviewerError("an eval worker process died (out of memory, or the model crashed); "
                                        "rerun with the same --out to resume, perhaps with fewer --jobs") from None
                i += 1
                record(i, result)
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


# --------------------------------------------------------------------------- worker processes

_worker: dict[str, Any] = {}


def _worker_init(config: Config, fix_tests: Path | None = None) -> None:
    """Make this worker's session and backend once; a failure is kept and raised by each
    review (so the parent gets the ReviewerError, not a broken pool)."""
    _worker["config"] = config
    _worker["fix_tests"] = fix_tests
    session = eval_session(config)
    _worker["session"] = session
    try:
        session.backend  # noqa: B018 -- made now, so that a missing model fails every case alike
        session.cache  # noqa: B018
    except Exception as exc:  # noqa: BLE001 - handed to the parent by _worker_review
        _worker["error"] = exc
    atexit.register(_worker_close)


def _worker_review(case: dict[str, Any]) -> dict[str, Any]:
    if "error" in _worker:
        raise _worker["error"]
    return review_case(case, _worker["session"], _worker["config"].min_confidence, _worker.get("fix_tests"))


def _worker_close() -> None:
    session = _worker.pop("session", None)
    if session is not None:
        session.close()


__all__ = ["eval_session", "format_table", "judge", "load_cases", "read_results", "review_case", "run_eval", "score", "worker_config"]
