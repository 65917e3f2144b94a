"""The trusted process inside the test sandbox: runs each test in its own forked worker, reports outcomes.

Copied into the sandbox and run there by the sandbox's interpreter (so it imports nothing from
reviewer and stays compatible with older Pythons). No test code ever runs in this process:

- it finds the tests statically (`ast`), then forks one worker per test (a `Test*` class is one
  unit), at most `parallel` at a time; a worker gets a fresh pipe, closes every other descriptor
  (the report channel first) and runs `pytest.main([nodeid])` with the worker plugin;
- it accepts from a worker only records about that worker's own test, and writes them to the
  report descriptor (a pipe to reviewer that no test process holds);
- it enforces the per-test time limit from outside: a worker whose test phase runs longer is
  killed with its process group, the test reported as a timeout;
- it is not dumpable, so test processes of the same uid cannot read or write its memory or fds.

A module's own code runs in each of its workers, so it decides its own tests' outcomes (as any
test code does); it cannot change another test's record, the report, or the time limit.
"""

import ast
import gc
import json
import os
import resource
import select
import signal
import sys
import time

MARK = "reviewer-sandbox-timeout"
COLLECT_SECONDS = 30.0  # importing a test module (and the project) before its first phase starts


def _prctl_not_dumpable():
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0
    except Exception:  # noqa: BLE001, S110 - not Linux, or no libc: nothing to harden
        pass


def _set_limits(limits):
    for name, value in limits.items():
        res = getattr(resource, name, None)
        if res is None:
            continue
        _soft, hard = resource.getrlimit(res)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        try:
            resource.setrlimit(res, (value, value))
        except (ValueError, OSError):
            pass


def discover(path):
    """The runnable units of a test file: `path::test_x` and `path::TestClass`; [path] when none parse."""
    try:
        with open(path, encoding="utf-8") as fh:
            tree = ast.parse(fh.read())
    except (OSError, SyntaxError, ValueError):
        return [path]
    units = []
    for node in tree.body:
        if (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test")) or \
                (isinstance(node, ast.ClassDef) and node.name.startswith("Test")):
            units.append(path + "::" + node.name)
    return list(dict.fromkeys(units)) or [path]


def _owns(unit, nodeid):
    """Whether a record about `nodeid` may come from the worker that runs `unit`."""
    if "::" not in unit:
        return nodeid == unit or nodeid.startswith(unit + "::")
    return nodeid == unit or nodeid.startswith((unit + "[", unit + "::"))


def _clean(unit, ev):
    nodeid = str(ev.get("nodeid", ""))
    when = ev.get("when")
    if when == "collect":
        if nodeid != unit.split("::")[0]:
            return None
    elif not _owns(unit, nodeid):
        return None
    if when not in ("collected", "collect", "setup", "call", "teardown"):
        return None
    out = {"nodeid": nodeid, "when": when, "outcome": str(ev.get("outcome", ""))[:20],
           "message": str(ev.get("message") or "")[:3000], "where": str(ev.get("where") or "")[:500],
           "timeout": False}
    try:
        out["duration"] = max(0.0, min(float(ev.get("duration") or 0.0), 1e6))
    except (TypeError, ValueError):
        out["duration"] = 0.0
    return out


class Worker:
    def __init__(self, unit, pid, fd, timeout, index):
        self.unit, self.pid, self.fd, self.index = unit, pid, fd, index
        self.started = time.monotonic()
        self.deadline = self.started + max(COLLECT_SECONDS, timeout)
        self.cap = self.started + COLLECT_SECONDS + timeout * 3 * 20  # however many phases it claims
        self.buffer = b""
        self.phase = None  # (nodeid, when) of the phase running now
        self.results = set()
        self.usage_error = False


def main():
    config = json.loads(os.environ.pop("REVIEWER_SANDBOX_CONFIG"))
    report = os.fdopen(int(config["report_fd"]), "w", encoding="utf-8", buffering=1)
    timeout = float(config["test_timeout"])
    _prctl_not_dumpable()
    _set_limits(config.get("rlimits", {}))
    devnull = os.open(os.devnull, os.O_RDWR)

    def emit(record):
        report.write(json.dumps(record) + "\n")

    started = time.monotonic()
    import pytest  # the interpreter's pytest and plugins: imported and warmed here, before any test code

    saved = os.dup(1), os.dup(2)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    cwd = os.getcwd()
    try:  # in an empty directory: no conftest, no project configuration, no test code
        os.chdir(config["empty_dir"])
        pytest.main(["-q", "-p", "no:cacheprovider", "--collect-only", "--rootdir", ".", "-c", config["ini"], "."])
    except BaseException:  # noqa: BLE001, S110 - a broken plugin shows up again in the workers' output
        pass
    os.chdir(cwd)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()  # else every forked worker would print the warm-up's buffered lines
        except Exception:  # noqa: BLE001, S110
            pass
    os.dup2(saved[0], 1)
    os.dup2(saved[1], 2)
    gc.collect()
    gc.freeze() if hasattr(gc, "freeze") else None  # forked workers then skip the warm heap in gc.collect

    warm = time.monotonic() - started
    queue = [u for f in config["files"] for u in discover(f)]
    args = list(config["pytest_args"])
    ini = config.get("ini")
    running = {}
    next_index = 0
    while queue or running:
        while queue and len(running) < int(config.get("parallel", 1)):
            unit = queue.pop(0)
            r, w = os.pipe()
            try:
                pid = os.fork()
            except OSError:  # out of processes (a test's fork bomb): try again once some have ended
                os.close(r)
                os.close(w)
                queue.insert(0, unit)
                if not running:
                    for u in queue:
                        emit({"nodeid": u, "when": "call", "outcome": "failed", "duration": 0.0, "timeout": False,
                              "where": "", "message": "not run: no process could be started (process limit)"})
                    queue = []
                time.sleep(0.2)
                break
            if pid == 0:
                _worker(unit, w, config["pythonpath"],
                        args + (["-c", ini, "--rootdir", os.getcwd()] if config.get("use_ini") else []),
                        f"{config['basetemp']}/pytest-{next_index}")
            os.close(w)
            running[r] = Worker(unit, pid, r, timeout, next_index)
            next_index += 1
        now = time.monotonic()
        wait = max(0.0, min(w.deadline for w in running.values()) - now) if running else 0
        ready, _, _ = select.select(list(running), [], [], min(wait, 1.0))
        for fd in ready:
            _read(running[fd], emit, timeout)
        _reap_orphans({w.pid for w in running.values()})
        now = time.monotonic()
        for fd, wk in list(running.items()):
            done = wk.fd in ready and wk.buffer is None
            if not done and now < min(wk.deadline, wk.cap):
                continue
            if not done:  # over its time: kill it and whatever it started in its group
                _kill(wk.pid)
                nodeid, when = wk.phase or (wk.unit, "call")
                emit({"nodeid": nodeid, "when": when if when != "collect" else "call", "outcome": "failed",
                      "duration": now - wk.started, "timeout": True, "where": "",
                      "message": f"{MARK}: the test ran longer than {timeout:g}s and was stopped"})
            status = _reap(wk.pid)
            try:  # what the test left behind in its process group goes with it
                os.killpg(wk.pid, signal.SIGKILL)
            except OSError:
                pass
            os.close(fd)
            del running[fd]
            if wk.usage_error and ini and not config.get("use_ini"):
                config["use_ini"] = True  # the project's pytest configuration is unusable here
                queue.insert(0, wk.unit)
                continue
            if not done and wk.phase is None:  # its module never finished importing: so would the others
                for unit in [u for u in queue if u.split("::")[0] == wk.unit.split("::")[0]]:
                    queue.remove(unit)
                    emit({"nodeid": unit, "when": "call", "outcome": "failed", "duration": 0.0, "timeout": True,
                          "where": "", "message": f"{MARK}: not run, importing its module ran over the time limit"})
            if done and not wk.results and "::" in wk.unit:
                emit({"nodeid": wk.unit, "when": "call", "outcome": "failed", "duration": now - wk.started,
                      "timeout": False, "where": "",
                      "message": f"the test process ended without reporting a result (exit status {status})"})
    _reap_all()
    emit({"nodeid": "", "when": "done", "outcome": "done", "warm_up": warm, "total": time.monotonic() - started})
    report.close()


def _read(wk, emit, timeout):
    try:
        data = os.read(wk.fd, 65536)
    except OSError:
        data = b""
    if not data:
        wk.buffer = None
        return
    wk.buffer += data
    if len(wk.buffer) > 4_000_000:
        wk.buffer = wk.buffer[-4_000_000:]
    *lines, wk.buffer = wk.buffer.split(b"\n")
    for line in lines:
        try:
            ev = json.loads(line.decode("utf-8", "replace"))
        except ValueError:
            continue
        if not isinstance(ev, dict):
            continue
        if ev.get("when") == "start":
            nodeid = str(ev.get("nodeid", ""))
            if _owns(wk.unit, nodeid) and ev.get("phase") in ("setup", "call", "teardown"):
                wk.phase = (nodeid, ev["phase"])
                wk.deadline = time.monotonic() + timeout
            continue
        if ev.get("when") == "usage-error":
            wk.usage_error = True
            continue
        rec = _clean(wk.unit, ev)
        if rec is not None:
            if rec["when"] in ("setup", "call", "teardown", "collect"):
                wk.results.add(rec["nodeid"])
            emit(rec)


def _worker(unit, w, pythonpath, args, basetemp):
    """The forked worker: nothing open but its pipe; the tree on the path only now (never in the supervisor)."""
    try:
        os.setpgid(0, 0)
        for fd in range(3, 1024):  # the report channel, other workers' pipes: nothing but our own pipe
            if fd != w:
                try:
                    os.close(fd)
                except OSError:
                    pass
        os.environ["REVIEWER_SANDBOX_WORKER_FD"] = str(w)
        sys.path[1:1] = pythonpath
        os.environ["PYTHONPATH"] = os.pathsep.join([os.environ.get("PYTHONPATH", "")] + pythonpath).strip(os.pathsep)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        code = pytest_main(args + ["-p", "_reviewer_sandbox", "--basetemp", basetemp, unit])
        if code == 4:
            os.write(w, b'{"when": "usage-error"}\n')
    except BaseException:  # noqa: BLE001 - the worker only ever leaves through _exit
        code = 3
    os._exit(int(code) if isinstance(code, int) else 1)


def pytest_main(args):
    import pytest

    return pytest.main(args)


def _kill(pid):
    for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            target()
        except OSError:
            pass


def _reap(pid):
    try:
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) if hasattr(os, "waitstatus_to_exitcode") \
            else os.waitpid(pid, 0)[1]
    except ChildProcessError:
        return None


def _reap_orphans(ours):
    """Collect exited orphans (this process may be the PID namespace's init), never our own workers."""
    try:
        with open(f"/proc/self/task/{os.getpid()}/children") as fh:
            children = [int(p) for p in fh.read().split()]
    except (OSError, ValueError):
        return
    for pid in children:
        if pid not in ours:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass


def _reap_all():
    """Collect orphans (this process may be the PID namespace's init)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


if __name__ == "__main__":
    main()
