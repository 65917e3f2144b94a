"""Run untrusted, model-written pytest code in a sandbox: the runner, its limits and its report.

The tests are hostile input (a change under review can steer the model that writes them).
What a run gets (docs/tests.md has the full list, what is measured, and what is not covered):

- **isolation** chosen at run time (reviewer.testgen.isolation): bubblewrap, else unshare
  namespaces, each with a private root: the system and the interpreter read-only, a fresh
  writable copy of the tree and a private /tmp, no HOME, no repository, no network, a cleared
  environment, no capabilities, as uid 65534 when reviewer runs as root; none available: the
  run is refused unless the caller passes `unsafe=True` (`--unsafe-no-sandbox`);
- **results the tests cannot forge**: a supervisor inside the sandbox (reviewer.testgen.supervisor)
  forks a worker per test and writes outcomes to a pipe no test process holds; the per-test
  time limit is enforced by it from outside the test's process;
- **limits for the whole run** (reviewer.testgen.guard): a memory+pids cgroup when one can be
  had, rlimits, the PID namespace (its end kills every process in it), a watchdog on the
  writable files' size (and on memory without a cgroup), and a wall-clock limit;
- the interpreter is reviewer's own or one the caller names; it runs only inside the sandbox.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from reviewer.errors import ReviewerError
from reviewer.testgen import guard, isolation, seccomp
from reviewer.testgen.tree import MAX_TREE_BYTES, TreeSpec, materialize, write_files

TIMEOUT_MARK = "reviewer-sandbox-timeout"
_HERE = Path(__file__).resolve().parent

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

@dataclass(frozen=True)
class Limits:
    """How much a sandboxed pytest run may use."""

    test_timeout: float = 10.0  # seconds per test phase (setup, call, teardown)
    run_timeout: float = 120.0  # seconds for the whole pytest process
    memory_mb: int = 2048  # the whole run's memory (cgroup or watchdog), and each process's address space
    file_mb: int = 64  # largest file a test may write
    disk_mb: int = 256  # all files the run writes (the tree's copy, /tmp, /dev/shm) together
    processes: int = 256  # processes for the whole run (cgroup), else RLIMIT_NPROC above what the uid runs
    network: str = "auto"  # kept for callers; without a sandbox only the socket guard blocks the network


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
    stopped: str = ""  # why the run was stopped, when it was


def refusal(iso: isolation.Isolation) -> str:
    """The one line `--run-tests` stops with where nothing can contain the tests."""
    return (f"cannot run the generated tests: no sandbox is available here (neither bubblewrap nor user "
            f"namespaces work); {isolation.INSTALL_HINT}, or pass --unsafe-no-sandbox to run them on this machine as you")


def ensure_runnable(unsafe: bool = False) -> None:
    """Raise ReviewerError (the one-line refusal) where no sandbox works and `unsafe` is not set."""
    iso = isolation.detect()
    if iso.name == "none" and not unsafe:
        raise ReviewerError(refusal(iso))


def network_isolation(limits: Limits, unsafe: bool = False) -> str:
    """The isolation a run gets, as reported: the mechanism's name, or "none (unsafe)" / "refused"."""
    iso = isolation.detect()
    if iso.name != "none":
        return iso.name + ("+cgroup" if guard.cgroup_available() else "")
    return "none (unsafe: socket guard only)" if unsafe else "refused"


def _user_processes(uid: int) -> int:
    try:
        return sum(1 for p in Path("/proc").iterdir() if p.name.isdigit() and p.stat().st_uid == uid)
    except OSError:
        return 0


def _rlimits(limits: Limits, uid: int) -> dict[str, int]:
    mb = 1024 * 1024
    return {
        "RLIMIT_CPU": int(limits.run_timeout) + 5,
        "RLIMIT_AS": limits.memory_mb * mb,
        "RLIMIT_FSIZE": limits.file_mb * mb,
        "RLIMIT_NPROC": _user_processes(uid) + limits.processes,
        "RLIMIT_CORE": 0,
    }


def _collect(events: list[dict[str, object]], result: RunResult) -> None:
    for ev in events:
        nodeid, when, outcome = str(ev.get("nodeid")), ev.get("when"), str(ev.get("outcome"))
        message = str(ev.get("message") or "")
        if when == "done":
            continue
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
    unsafe: bool = False,
) -> RunResult:
    """Run pytest on `test_files` (relative to `tree`) in the sandbox; one record per test.

    Tests write to a fresh copy of `tree` (at the same path inside the sandbox), so nothing a
    run changes reaches the next run. Raises ReviewerError when no sandbox is available and
    `unsafe` is not set.
    """
    ensure_runnable(unsafe)
    iso = isolation.detect()
    own = Path(tempfile.mkdtemp(prefix="reviewer-run-", dir=workdir))
    group: guard.Cgroup | None = None
    try:
        support, tmp, shm = own / "support", own / "tmp", own / "shm"
        for d in (support, support / "empty", tmp, tmp / "home", shm):
            d.mkdir()
        shutil.copyfile(_HERE / "supervisor.py", support / "reviewer_supervisor.py")
        shutil.copyfile(_HERE / "worker_plugin.py", support / "_reviewer_sandbox.py")
        (support / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
        (support / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
        sandboxed = iso.name != "none"
        run_tree = own / "tree" if sandboxed else tree
        if sandboxed:
            _copy_tree(tree, run_tree, links=iso.drop_uid)
        uid = isolation.SANDBOX_UID if iso.drop_uid else os.getuid()
        if iso.drop_uid:
            for d in (tmp, tmp / "home", shm):
                os.chown(d, uid, uid)
        tmp_in = Path("/tmp") if sandboxed else tmp
        paths = [str(tree)] + ([str(tree / "src")] if (tree / "src").is_dir() else [])
        interpreter = python or sys.executable
        r, w = os.pipe()
        config = {"report_fd": w, "test_timeout": limits.test_timeout, "files": list(test_files),
                  "rlimits": _rlimits(limits, uid), "empty_dir": str(support / "empty"), "ini": str(support / "pytest.ini"),
                  "basetemp": str(tmp_in / "pytest"), "parallel": 2 if (os.cpu_count() or 1) > 1 else 1,
                  "pythonpath": paths, "pytest_args": ["-q", "-rN", "-p", "no:cacheprovider"]}
        env = {"PATH": f"{Path(interpreter).parent}:/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
               "PYTHONPATH": str(support), "HOME": str(tmp_in / "home"), "TMPDIR": str(tmp_in),
               "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1", "PYTHONHASHSEED": "0",
               "REVIEWER_SANDBOX_CONFIG": json.dumps(config)}
        inner = [interpreter, str(support / "reviewer_supervisor.py")]
        fds = [w]
        if sandboxed:
            inner = ["/usr/bin/env", "-i", *(f"{k}={v}" for k, v in env.items()), *inner]
            view = isolation.View(readonly=(*isolation.interpreter_dirs(python), support),
                                  writable=((run_tree, tree),), cwd=tree, tmp=tmp, shm=shm)
            if iso.name == "bubblewrap":
                program = seccomp.program()
                sfd = _bpf_fd(own, program) if program else None
                fds += [sfd] if sfd is not None else []
                argv = isolation.bwrap_argv(iso, view, inner, sfd)
            else:
                (own / "root").mkdir()
                argv = isolation.unshare_argv(iso, view, inner, own / "root")
            group = guard.make_cgroup(limits.memory_mb * 1024 * 1024, limits.processes)
            if group is not None:
                argv = ["/bin/sh", "-c", group.join_command() + ' && exec "$@"', "sh", *argv]
        else:
            argv = inner
        watched = [run_tree, tmp, shm] if sandboxed else [tmp]
        result = _run(argv, tree, env, limits, r, fds, watched, group)
        if group is not None and group.oom_killed():
            result.output += "\nreviewer: the run's memory limit was reached; the kernel stopped a test process"
        if result.timed_out:
            for nodeid, rec in result.records.items():
                if rec.status == "not-run":
                    result.records[nodeid] = TestRecord(nodeid, "timeout", f"the test run was stopped: {result.stopped}")
        return result
    finally:
        if group is not None:
            group.remove()
        shutil.rmtree(own, ignore_errors=True)


def _bpf_fd(own: Path, program: bytes) -> int:
    path = own / "seccomp.bpf"
    path.write_bytes(program)
    return os.open(path, os.O_RDONLY)


def _copy_tree(src: Path, dest: Path, links: bool) -> None:
    """A fresh copy of the tree for one run. `links`: hard links to files the sandbox's uid cannot
    write (cheap; a test may replace a file in its copy, never change the original), and
    directories owned by that uid."""
    if not links:
        shutil.copytree(src, dest, symlinks=True)
        return
    uid = isolation.SANDBOX_UID
    for dirpath, dirnames, filenames in os.walk(src):
        rel = Path(dirpath).relative_to(src)
        target = dest / rel
        target.mkdir(exist_ok=True)
        os.chown(target, uid, uid)
        for name in filenames + [d for d in dirnames if (Path(dirpath) / d).is_symlink()]:
            s = Path(dirpath) / name
            st = s.lstat()
            if not s.is_symlink() and st.st_mode & 0o022:
                os.chmod(s, st.st_mode & ~0o022)
            os.link(s, target / name, follow_symlinks=False)


def _run(argv: list[str], cwd: Path, env: dict[str, str], limits: Limits, report_fd: int, fds: list[int],
         watched: list[Path], group: guard.Cgroup | None) -> RunResult:
    started = time.perf_counter()
    events: list[dict[str, object]] = []
    output: list[bytes] = []
    try:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True, pass_fds=fds)
    finally:
        for fd in fds:
            os.close(fd)
    readers = [threading.Thread(target=_read_events, args=(report_fd, events), daemon=True),
               threading.Thread(target=_read_tail, args=(proc.stdout, output), daemon=True)]
    for t in readers:
        t.start()
    base_disk = guard.disk_bytes(watched)
    stopped = ""
    next_disk = 0.0
    while proc.poll() is None:
        time.sleep(0.05)
        now = time.perf_counter()
        if now - started > limits.run_timeout:
            stopped = f"over its time limit ({limits.run_timeout:g}s)"
        elif now >= next_disk:
            t0 = time.perf_counter()
            if guard.disk_bytes(watched) - base_disk > limits.disk_mb * 1024 * 1024:
                stopped = f"its files grew over the disk limit ({limits.disk_mb} MB)"
            next_disk = now + max(0.1, 5 * (time.perf_counter() - t0))
        if not stopped and group is None and guard.resident_bytes(proc.pid) > limits.memory_mb * 1024 * 1024:
            stopped = f"its processes used more than {limits.memory_mb} MB of memory together"
        if stopped:
            _kill(proc)
            break
    proc.wait()
    for t in readers:
        t.join(timeout=5)
    result = RunResult(returncode=proc.returncode, timed_out=bool(stopped), seconds=time.perf_counter() - started,
                       output=b"".join(output).decode("utf-8", "replace")[-20000:])
    result.stopped = stopped
    _collect(events, result)
    if not stopped and not any(ev.get("when") == "done" for ev in events):
        result.timed_out, result.stopped = True, "the sandbox ended before it reported every test"
        for nodeid, rec in result.records.items():
            if rec.status == "not-run":
                result.records[nodeid] = TestRecord(nodeid, "error", f"not run: {result.stopped}")
    return result


def _kill(proc: subprocess.Popen[bytes]) -> None:
    for kill in (lambda: os.killpg(proc.pid, signal.SIGKILL), proc.kill):
        try:
            kill()
        except OSError:
            pass


def _read_events(fd: int, events: list[dict[str, object]]) -> None:
    with os.fdopen(fd, "rb") as fh:
        for line in fh:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if isinstance(ev, dict):
                events.append(ev)


def _read_tail(stream: object, output: list[bytes]) -> None:
    size = 0
    for chunk in iter(lambda: stream.read1(65536), b""):  # type: ignore[attr-defined]
        output.append(chunk)
        size += len(chunk)
        while size > 40000 and len(output) > 1:
            size -= len(output.pop(0))


__all__ = ["MAX_TREE_BYTES", "Limits", "RunResult", "TestRecord", "TreeSpec", "ensure_runnable", "materialize",
           "network_isolation", "refusal", "run_pytest", "write_files"]
