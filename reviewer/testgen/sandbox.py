"""Run untrusted, model-written pytest code away from the user's tree, environment and network.

What the sandbox does (docs/tests.md has the full list and its limits):

- the code runs in a **temporary copy** of the project (`git archive` of the reviewed
  commit, `git checkout-index` of the index, or the working tree's tracked and
  untracked-but-not-ignored files), never in the user's working tree;
- the environment is **scrubbed**: only PATH, LANG and a PYTHONPATH pointing at the copy;
  HOME, TMPDIR and the working directory are fresh temporary directories;
- **no network**: a new network namespace (`unshare --net`) where the kernel allows it,
  and always a `sitecustomize` that makes `socket.connect`/`sendto`/`getaddrinfo` raise;
- **resource limits** (`setrlimit`: CPU seconds, address space, file size, processes, no
  core files), set by a small launcher that then execs pytest (not `preexec_fn`, which
  is unsafe in a process that has threads, as one running llama.cpp has);
- a **per-test timeout** (SIGALRM inside pytest) and a wall-clock timeout for the whole
  run, after which the process group is killed.

It is containment for well-meant but careless code, not a security boundary against
code written to escape: the tests run as the same user, and can read what that user can.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from io import BytesIO
from pathlib import Path

from reviewer.errors import ReviewerError

REPORT_ENV = "REVIEWER_SANDBOX_REPORT"
TIMEOUT_MARK = "reviewer-sandbox-timeout"
MAX_TREE_BYTES = 500_000_000
_SKIP_DIRS = frozenset({".git", ".hg", ".svn", ".venv", "venv", "node_modules", "__pycache__", ".tox", ".nox",
                        ".mypy_cache", ".pytest_cache", ".ruff_cache", ".eggs"})

# Imported by every Python process started in the sandbox (it is first on PYTHONPATH).
SITECUSTOMIZE = '''\
"""reviewer's test sandbox: no network from Python code (best effort; see docs/tests.md)."""
import socket as _socket

_MESSAGE = "network access is disabled in reviewer's test sandbox"
_LOCAL = {"localhost", "127.0.0.1", "::1", "", None}


def _blocked(*args, **kwargs):
    raise PermissionError(13, _MESSAGE)


def _guard(original):
    def guarded(self, *args, **kwargs):
        if getattr(_socket, "AF_UNIX", object()) == self.family:
            return original(self, *args, **kwargs)
        raise PermissionError(13, _MESSAGE)
    return guarded


for _name in ("connect", "connect_ex", "sendto", "sendmsg"):
    if hasattr(_socket.socket, _name):
        setattr(_socket.socket, _name, _guard(getattr(_socket.socket, _name)))

_getaddrinfo = _socket.getaddrinfo


def _local_getaddrinfo(host, *args, **kwargs):
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if host not in _LOCAL:
        raise _socket.gaierror(_socket.EAI_NONAME, _MESSAGE)
    return _getaddrinfo(host, *args, **kwargs)


_socket.getaddrinfo = _local_getaddrinfo
_socket.gethostbyname = lambda host: _local_getaddrinfo(host, 0)[0][4][0]
'''

# A pytest plugin: one JSON line per outcome into $REVIEWER_SANDBOX_REPORT, and a timeout per test phase.
PLUGIN = '''\
"""reviewer's test sandbox: per-test timeout and a machine-readable report."""
import json
import os
import signal

import pytest

_REPORT = os.environ.get("REVIEWER_SANDBOX_REPORT")
_TIMEOUT = float(os.environ.get("REVIEWER_SANDBOX_TEST_TIMEOUT") or 10)
_MARK = "reviewer-sandbox-timeout"


class SandboxTimeout(BaseException):
    """Raised in a test that runs too long (a BaseException: `except Exception` cannot swallow it)."""


def _emit(record):
    if _REPORT:
        with open(_REPORT, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\\n")


def _on_alarm(signum, frame):
    raise SandboxTimeout(f"{_MARK}: the test ran longer than {_TIMEOUT:g}s")


def _timed(outcome_gen):
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, _TIMEOUT)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    yield from _timed(None)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    yield from _timed(None)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item):
    yield from _timed(None)


def _message(report):
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None and getattr(crash, "message", None):
        return crash.message
    text = str(report.longrepr or "")
    errors = [line[2:].strip() for line in text.splitlines() if line.startswith("E ")]
    return "\\n".join(errors[-6:]) if errors else text[-1500:]


def pytest_collection_modifyitems(session, config, items):
    for item in items:
        _emit({"nodeid": item.nodeid, "when": "collected", "outcome": "collected"})


def pytest_collectreport(report):
    if report.failed:
        _emit({"nodeid": report.nodeid, "when": "collect", "outcome": "error", "message": _message(report)[:3000]})


def pytest_runtest_logreport(report):
    if report.when != "call" and report.passed:
        return
    message = _message(report)[:3000] if report.failed else ""
    outcome = report.outcome
    if hasattr(report, "wasxfail"):
        outcome = "xfailed" if report.skipped else "xpassed"
    crash = getattr(report.longrepr, "reprcrash", None)
    _emit({"nodeid": report.nodeid, "when": report.when, "outcome": outcome, "duration": report.duration,
           "message": message, "timeout": _MARK in str(report.longrepr or ""),
           "where": str(getattr(crash, "path", "") or "") if report.failed else ""})
'''

# Sets the resource limits, then becomes pytest (exec keeps the limits).
LAUNCHER = '''\
import json, os, resource, sys
limits = json.loads(os.environ.pop("REVIEWER_SANDBOX_LIMITS", "{}"))
for name, value in limits.items():
    res = getattr(resource, name, None)
    if res is None:
        continue
    soft, hard = resource.getrlimit(res)
    value = value if hard == resource.RLIM_INFINITY else min(value, hard)
    try:
        resource.setrlimit(res, (value, value))
    except (ValueError, OSError):
        pass
os.execv(sys.executable, [sys.executable, *sys.argv[1:]])
'''


@dataclass(frozen=True)
class Limits:
    """How much a sandboxed pytest run may use."""

    test_timeout: float = 10.0  # seconds per test phase (setup, call, teardown)
    run_timeout: float = 120.0  # seconds for the whole pytest process
    memory_mb: int = 2048  # address space
    file_mb: int = 64  # largest file a test may write
    processes: int = 256  # RLIMIT_NPROC headroom above what the user already runs (not enforced for root)
    network: str = "auto"  # auto: a network namespace when available, else the socket guard only; socket: guard only


@dataclass(frozen=True)
class TestRecord:
    """The outcome of one test (or of collecting one file, nodeid without "::")."""

    __test__ = False

    nodeid: str
    status: str  # passed | failed | error | timeout | skipped | xfailed | xpassed
    message: str = ""
    duration: float = 0.0
    where: str = ""  # the file the failure was raised in


@dataclass
class RunResult:
    """What one sandboxed pytest run reported."""

    records: dict[str, TestRecord] = field(default_factory=dict)
    collect_errors: dict[str, str] = field(default_factory=dict)  # test file -> message
    returncode: int | None = None
    timed_out: bool = False
    seconds: float = 0.0
    output: str = ""


@dataclass(frozen=True)
class TreeSpec:
    """Where the project's new-side files come from.

    kind: "rev" (a commit: `git archive`), "index" (`git checkout-index`), "worktree"
    (tracked + untracked, not ignored files of `root`), or "files" (only `files`).
    `files` are written on top in every case (e.g. new-side texts from the diff).
    """

    kind: str
    root: Path | None = None
    rev: str | None = None
    files: Mapping[str, str] = field(default_factory=dict)


def _git(root: Path, *args: str) -> bytes:
    try:
        return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, timeout=120).stdout
    except FileNotFoundError:
        raise ReviewerError("git executable not found; it is needed to copy the project for running tests") from None
    except subprocess.CalledProcessError as exc:
        first = (exc.stderr or b"").decode("utf-8", "replace").strip().splitlines()[:1]
        raise ReviewerError(f"git {args[0]} failed: {first[0] if first else exc.returncode}") from None


def _inside(path: Path, base: Path) -> bool:
    try:
        path.resolve().relative_to(base.resolve())
        return True
    except ValueError:
        return False


def _copy_files(root: Path, names: Sequence[str], dest: Path) -> None:
    total = 0
    for name in names:
        src = root / name
        if any(part in _SKIP_DIRS for part in Path(name).parts) or not (src.is_file() or src.is_symlink()):
            continue
        if src.is_symlink() and not _inside(src, root):
            continue  # a link out of the project is not followed into the sandbox
        total += src.stat().st_size if src.exists() else 0
        if total > MAX_TREE_BYTES:
            raise ReviewerError(f"the project is larger than {MAX_TREE_BYTES // 1_000_000} MB; "
                                "cannot copy it into a sandbox to run tests")
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target, follow_symlinks=True)


def _worktree_names(root: Path) -> list[str]:
    if (root / ".git").exists():
        raw = _git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
        return [n for n in raw.decode("utf-8", "surrogateescape").split("\0") if n]
    names = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in _SKIP_DIRS and not (Path(dirpath, d) / "pyvenv.cfg").exists()]
        names.extend(str(Path(dirpath, f).relative_to(root)) for f in filenames)
    return names


def materialize(spec: TreeSpec, dest: Path) -> None:
    """Write the project's new-side tree into `dest` (an empty directory)."""
    if spec.kind == "rev" and spec.root is not None:
        data = _git(spec.root, "archive", "--format=tar", spec.rev or "HEAD")
        with tarfile.open(fileobj=BytesIO(data)) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(dest, filter="data")
            else:  # pragma: no cover - Python without extraction filters
                tar.extractall(dest)
    elif spec.kind == "index" and spec.root is not None:
        _git(spec.root, "checkout-index", "--all", "--force", f"--prefix={dest}{os.sep}")
    elif spec.kind == "worktree" and spec.root is not None:
        _copy_files(spec.root, _worktree_names(spec.root), dest)
    elif spec.kind != "files":
        raise ReviewerError(f"cannot build a sandbox tree of kind {spec.kind!r}")
    write_files(dest, spec.files)


def write_files(dest: Path, files: Mapping[str, str]) -> None:
    """Write repo-relative text files under dest (never outside it)."""
    for name, text in files.items():
        target = dest / name
        if not _inside(target, dest):
            raise ReviewerError(f"refusing to write {name} outside the sandbox")
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink():
            target.unlink()
        target.write_text(text, encoding="utf-8")


@cache
def _namespace_prefix() -> tuple[str, ...]:
    """The command that runs a program without network access, () when the kernel refuses."""
    unshare = shutil.which("unshare")
    if unshare is None or not sys.platform.startswith("linux"):
        return ()
    candidates = [(unshare, "--net")] if os.geteuid() == 0 else []
    candidates.append((unshare, "--net", "--map-root-user"))
    for prefix in candidates:
        try:
            if subprocess.run([*prefix, "true"], capture_output=True, timeout=10, check=False).returncode == 0:
                return prefix
        except (OSError, subprocess.SubprocessError):
            continue
    return ()


def network_isolation(limits: Limits) -> str:
    """Which isolation a run gets: "namespace+socket" or "socket"."""
    return "namespace+socket" if limits.network == "auto" and _namespace_prefix() else "socket"


def _user_processes() -> int:
    uid = os.getuid()
    try:
        return sum(1 for p in Path("/proc").iterdir() if p.name.isdigit() and p.stat().st_uid == uid)
    except OSError:
        return 0


def _rlimits(limits: Limits) -> dict[str, int]:
    mb = 1024 * 1024
    return {
        "RLIMIT_CPU": int(limits.run_timeout) + 5,
        "RLIMIT_AS": limits.memory_mb * mb,
        "RLIMIT_FSIZE": limits.file_mb * mb,
        "RLIMIT_NPROC": _user_processes() + limits.processes,
        "RLIMIT_CORE": 0,
    }


def _parse_report(path: Path) -> list[dict[str, object]]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue  # a line cut short by a kill
    return out


def _collect(events: list[dict[str, object]], result: RunResult) -> None:
    for ev in events:
        nodeid, when, outcome = str(ev.get("nodeid")), ev.get("when"), str(ev.get("outcome"))
        message = str(ev.get("message") or "")
        if when == "collected":
            result.records.setdefault(nodeid, TestRecord(nodeid, "not-run"))
        elif when == "collect":
            result.collect_errors[nodeid] = message
        else:
            duration = float(ev.get("duration") or 0.0)  # type: ignore[arg-type]
            previous = result.records.get(nodeid)
            if ev.get("timeout"):
                status = "timeout"
            elif outcome == "failed":
                status = "failed" if when == "call" else "error"
            else:
                status = outcome
            if previous is not None and previous.status in ("failed", "error", "timeout") and status != "timeout":
                continue  # a teardown report does not hide the call's failure
            total = duration + (previous.duration if previous is not None else 0.0)
            result.records[nodeid] = TestRecord(nodeid, status, message, total, str(ev.get("where") or ""))


def run_pytest(
    tree: Path,
    test_files: Sequence[str],
    limits: Limits,
    python: str | None = None,
    workdir: Path | None = None,
) -> RunResult:
    """Run pytest on `test_files` (relative to `tree`) in the sandbox; one record per test."""
    own = Path(tempfile.mkdtemp(prefix="reviewer-run-", dir=workdir))
    try:
        support, home, tmp = own / "support", own / "home", own / "tmp"
        for d in (support, home, tmp):
            d.mkdir()
        (support / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
        (support / "_reviewer_sandbox.py").write_text(PLUGIN, encoding="utf-8")
        (support / "launch.py").write_text(LAUNCHER, encoding="utf-8")
        report = own / "report.jsonl"
        paths = [str(support), str(tree)] + ([str(tree / "src")] if (tree / "src").is_dir() else [])
        env = {
            "PATH": os.environ.get("PATH", os.defpath),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "PYTHONPATH": os.pathsep.join(paths),
            "HOME": str(home),
            "TMPDIR": str(tmp),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONNOUSERSITE": "1",
            "PYTHONHASHSEED": "0",
            "REVIEWER_SANDBOX_LIMITS": json.dumps(_rlimits(limits)),
            "REVIEWER_SANDBOX_TEST_TIMEOUT": str(limits.test_timeout),
            REPORT_ENV: str(report),
        }
        args = ["-m", "pytest", "-q", "-rN", "-p", "no:cacheprovider", "-p", "_reviewer_sandbox", "--continue-on-collection-errors",
                "--basetemp", str(tmp / "pytest"), *test_files]
        prefix = _namespace_prefix() if limits.network == "auto" else ()
        argv = [*prefix, python or sys.executable, str(support / "launch.py"), *args]
        result = _run(argv, tree, env, limits.run_timeout)
        if result.returncode == 4 and not report.exists():  # the project's pytest config is unusable here
            ini = own / "pytest.ini"
            ini.write_text("[pytest]\n", encoding="utf-8")
            argv = [*argv[: -len(test_files)], "-c", str(ini), "--rootdir", str(tree), *test_files]
            result = _run(argv, tree, env, limits.run_timeout)
        _collect(_parse_report(report), result)
        if result.timed_out:
            for nodeid, rec in result.records.items():
                if rec.status == "not-run":
                    result.records[nodeid] = TestRecord(nodeid, "timeout", "the test run was stopped: over its time limit")
        return result
    finally:
        shutil.rmtree(own, ignore_errors=True)


def _run(argv: list[str], cwd: Path, env: dict[str, str], timeout: float) -> RunResult:
    started = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    timed_out = False
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            proc.kill()
        out, _ = proc.communicate()
    text = out.decode("utf-8", "replace")
    return RunResult(returncode=proc.returncode, timed_out=timed_out, seconds=time.perf_counter() - started,
                     output=text[-20000:])


__all__ = ["Limits", "RunResult", "TestRecord", "TreeSpec", "materialize", "network_isolation", "run_pytest",
           "write_files"]
