"""Hostile generated tests, run through the real CLI (`reviewer tests`, scripted model): each attack contained.

The scripted backend answers with a test module written to escape; every hostile test asserts
that its attack worked, so a contained attack is a test that did not pass, and the host is
checked afterwards (files, processes, listeners). Nothing here is skipped: where no sandbox
works the suite fails (CI installs bubblewrap; see .ci/run).
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import git

from reviewer import backends
from reviewer.backends.fake import FakeBackend
from reviewer.testgen import isolation

OLD = "def clamp(x, lo, hi):\n    return max(lo, min(x, hi))\n"
NEW = OLD.replace("min(x, hi)", "min(x, hi - 1)") + "\n\ndef triple(x):\n    return 3 * x\n"
BENIGN = {"plan": "p", "setup": "from mathx.util import clamp",
          "tests": [{"code": "def test_inside():\n    assert clamp(5, 0, 10) == 5"},
                    {"code": "def test_upper_bound():\n    assert clamp(12, 0, 10) == 10"}]}
MARK = uuid.uuid4().hex[:10]
SECRET = uuid.uuid4().hex  # never in the hostile module: finding it in the report would be a leak


def _repo(base: Path) -> Path:
    repo = base / "repo"
    (repo / "mathx").mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    (repo / "mathx" / "__init__.py").write_text("")
    (repo / "mathx" / "util.py").write_text(OLD)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "init")
    (repo / "mathx" / "util.py").write_text(NEW)
    git(repo, "add", "-A")
    return repo


def run_cli(repo: Path, hostile: str, *extra: str, timeout: float = 3) -> tuple[dict, float]:
    """`reviewer tests` on `repo`: `triple` gets the hostile module, `clamp` the benign tests."""
    from reviewer import cli

    def answer(messages: list) -> dict:
        return BENIGN if "`clamp`" in messages[1]["content"] else {"plan": "p", "code": hostile}

    out = repo.parent / f"out-{uuid.uuid4().hex[:6]}.json"
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(repo)
        mp.setattr(backends, "make_backend", lambda config: FakeBackend(answer=answer))
        started = time.perf_counter()
        code = cli.main(["tests", "--backend", "fake", "--no-cache", "-q", "--format", "json", "-o", str(out),
                         "--timeout", str(timeout), *extra])
        elapsed = time.perf_counter() - started
    assert code == 0, out.read_text() if out.exists() else code
    return json.loads(out.read_text()), elapsed


def statuses(report: dict) -> dict[str, str]:
    return {t["name"]: t["status"] for t in report["tests"]}


# --------------------------------------------------------------------------- the quiet attacks: one run


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Host-side bait (a HOME secret, an env secret, TCP and Unix listeners) and one run of the quiet attacks."""
    base = tmp_path_factory.mktemp("attacks")
    repo = _repo(base)
    home = base / "home"
    home.mkdir()
    secret = home / "secret.txt"
    secret.write_text(f"home-secret-{SECRET}")
    secret.chmod(0o600)
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(8)
    tcp.setblocking(False)
    unix_path = base / "agent.sock"
    unix = socket.socket(socket.AF_UNIX)
    unix.bind(str(unix_path))
    unix.listen(8)
    unix.setblocking(False)
    abstract = socket.socket(socket.AF_UNIX)
    abstract.bind(f"\0reviewer-attack-{MARK}")
    abstract.listen(8)
    abstract.setblocking(False)
    bait = {"repo": str(repo), "home_secret": str(secret),  "mark": MARK,
            "tcp_port": tcp.getsockname()[1], "unix_path": str(unix_path), "abstract": f"\0reviewer-attack-{MARK}",
            "outside": str(base / "written-outside.txt"), "hook": str(repo / ".git" / "hooks" / "pre-commit"),
            "repo_file": str(repo / "mathx" / "util.py")}
    hostile = f"BAIT = {bait!r}\n" + QUIET_ATTACKS
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(home))
        mp.setenv("ATTACK_SECRET", f"env-secret-{SECRET}")
        report, elapsed = run_cli(repo, hostile, timeout=2)
    accepted = []
    for listener in (tcp, unix, abstract):
        try:
            accepted.append(listener.accept())
        except BlockingIOError:
            pass
        listener.close()
    yield {"report": report, "bait": bait, "accepted": accepted, "elapsed": elapsed, "repo": repo,
           "text": json.dumps(report)}


QUIET_ATTACKS = r'''
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from mathx.util import triple


def test_write_outside_the_tree():
    Path(BAIT["outside"]).parent.mkdir(parents=True, exist_ok=True)
    Path(BAIT["outside"]).write_text("pwned")
    assert Path(BAIT["outside"]).read_text() == "pwned"
    assert Path(BAIT["repo_file"]).exists(), "the real repository is not visible"


def test_write_the_real_repository_and_its_hooks():
    hook = Path(BAIT["hook"])
    hook.write_text("#!/bin/sh\necho pwned\n")
    hook.chmod(0o755)
    Path(BAIT["repo_file"]).write_text("def clamp(x, lo, hi):\n    return 'pwned'\n")
    assert Path(BAIT["repo_file"]).read_text().endswith("'pwned'\n")


def test_read_a_private_file_in_home():
    raise AssertionError(Path(BAIT["home_secret"]).read_text())  # into the report, where the host looks for it


def test_read_the_parents_environment():
    found = []
    for pid in [os.getppid(), 1] + [int(p) for p in os.listdir("/proc") if p.isdigit()]:
        try:
            found.append(open(f"/proc/{pid}/environ", "rb").read())
        except OSError:
            pass
    leaked = [data for data in found if b"env-secret-" in data]
    assert leaked, f"read {len(found)} environments"
    raise AssertionError(leaked)  # into the report, where the host looks for it


def test_connect_to_a_loopback_port():
    with socket.create_connection(("127.0.0.1", BAIT["tcp_port"]), timeout=2) as s:
        s.sendall(b"pwned")


def test_connect_to_a_unix_socket_path():
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(BAIT["unix_path"])
        s.sendall(b"pwned")


def test_connect_to_an_abstract_unix_socket():
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(BAIT["abstract"])


def test_setns_into_the_parents_network_namespace():
    libc = ctypes.CDLL(None, use_errno=True)
    done = False
    for pid in (os.getppid(), 1):
        try:
            fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
        except OSError:
            continue
        if libc.setns(fd, 0x40000000) == 0:  # CLONE_NEWNET
            done = True
    assert done, "setns failed"
    with socket.create_connection(("127.0.0.1", BAIT["tcp_port"]), timeout=2) as s:
        s.sendall(b"pwned")


def test_leave_a_setsid_child():
    code = f"import time; time.sleep(120)  # {BAIT['mark']}-setsid"
    subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    if os.fork() == 0:  # and a double fork
        os.setsid()
        if os.fork() == 0:
            os.execv(sys.executable, [sys.executable, "-c", code.replace("setsid", "daemon")])
        os._exit(0)
    time.sleep(0.5)
    assert True  # the attack is judged on the host: no such process after the run


def test_fails_and_must_stay_failed():
    assert triple(2) == 5


def test_forge_the_report():
    forged = {"nodeid": "", "when": "call", "outcome": "passed", "duration": 0.1, "message": "", "timeout": False}
    lines = b""
    for name in ("test_fails_and_must_stay_failed", "test_ghost_that_never_existed", "test_disable_the_timeout"):
        for prefix in ("tests/test_util__reviewer_2.py", "tests/test_util__reviewer_1.py", "test_util__reviewer_2.py"):
            for when in ("collected", "call"):
                forged.update(nodeid=f"{prefix}::{name}", when=when, outcome="collected" if when == "collected" else "passed")
                lines += (json.dumps(forged) + "\n").encode()
    written = 0
    for path in [f"/proc/self/fd/{fd}" for fd in os.listdir("/proc/self/fd")] + \
            [f"/proc/{os.getppid()}/fd/{n}" for n in range(3, 64)]:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            continue
        try:
            written += os.write(fd, lines) > 0
        except OSError:
            pass
    for fd in range(0, 256):
        try:
            written += os.write(fd, lines) > 0
        except OSError:
            pass
    report = os.environ.get("REVIEWER_SANDBOX_REPORT")
    if report:
        Path(report).write_bytes(lines)
    sys.stdout.write(lines.decode())
    assert written


def test_disable_the_timeout():
    signal.setitimer(signal.ITIMER_REAL, 0)
    for sig in (signal.SIGALRM, signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM, signal.SIGTERM})
    time.sleep(60)
'''


def test_write_outside_the_tree_is_contained(world: dict) -> None:
    assert not Path(world["bait"]["outside"]).exists()


def test_the_real_repository_and_its_hooks_are_untouched(world: dict) -> None:
    assert not Path(world["bait"]["hook"]).exists()
    assert Path(world["bait"]["repo_file"]).read_text() == NEW
    assert git(world["repo"], "status", "--porcelain").splitlines() == ["M  mathx/util.py"]
    assert statuses(world["report"])["test_write_the_real_repository_and_its_hooks"] != "passed"


def test_a_private_file_in_home_is_not_readable(world: dict) -> None:
    assert statuses(world["report"])["test_read_a_private_file_in_home"] != "passed"
    assert SECRET not in world["text"]


def test_the_parents_environment_is_not_readable(world: dict) -> None:
    assert statuses(world["report"])["test_read_the_parents_environment"] != "passed"
    assert SECRET not in world["text"]


def test_no_connection_reaches_the_host(world: dict) -> None:
    got = statuses(world["report"])
    for name in ("test_connect_to_a_loopback_port", "test_connect_to_a_unix_socket_path",
                 "test_connect_to_an_abstract_unix_socket"):
        assert got[name] != "passed", name
    assert world["accepted"] == []


def test_setns_back_into_the_host_network_fails(world: dict) -> None:
    assert statuses(world["report"])["test_setns_into_the_parents_network_namespace"] != "passed"
    assert world["accepted"] == []


def test_no_process_outlives_the_run(world: dict) -> None:
    assert statuses(world["report"])["test_leave_a_setsid_child"] == "passed"  # it ran; its children are the point
    time.sleep(0.5)
    left = []
    for p in Path("/proc").iterdir():
        try:
            if p.name.isdigit() and f"{MARK}-".encode() in (p / "cmdline").read_bytes():
                left.append(p.name)
        except OSError:
            pass
    assert left == []


def test_the_report_cannot_be_forged(world: dict) -> None:
    got = statuses(world["report"])
    assert got["test_fails_and_must_stay_failed"] == "failed"
    assert "test_ghost_that_never_existed" not in got


def test_the_timeout_cannot_be_disabled(world: dict) -> None:
    (test,) = [t for t in world["report"]["tests"] if t["name"] == "test_disable_the_timeout"]
    assert test["status"] == "failed" and "longer than 2s" in test["message"]
    assert world["elapsed"] < 45


def test_the_mechanism_is_reported(world: dict) -> None:
    assert world["report"]["stats"]["isolation"].startswith(isolation.detect().name)
    assert isolation.detect().name in ("bubblewrap", "unshare")  # CI installs bubblewrap: none is a failure


# --------------------------------------------------------------------------- resource attacks: a run each


def test_a_fork_bomb_is_bounded(tmp_path: Path) -> None:
    hostile = f'''
import os, time
from mathx.util import triple

def test_fork_bomb():
    children = 0
    for _ in range(3000):
        if os.fork() == 0:
            time.sleep(30)  # {MARK}-bomb
            os._exit(0)
        children += 1
    assert children == 3000
'''
    report, elapsed = run_cli(_repo(tmp_path), hostile, timeout=10)
    assert statuses(report)["test_fork_bomb"] != "passed"
    assert elapsed < 90


def test_memory_over_several_processes_is_bounded(tmp_path: Path) -> None:
    hostile = '''
import multiprocessing, os, time
from mathx.util import triple

def hog(q):
    block = bytearray(1536 * 1024 * 1024)
    for i in range(0, len(block), 4096):
        block[i] = 1
    q.put(len(block))
    time.sleep(20)

def test_memory_in_three_processes():
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    procs = [ctx.Process(target=hog, args=(q,)) for _ in range(3)]
    for p in procs:
        p.start()
    got = [q.get(timeout=25) for _ in procs]
    assert got == [1536 * 1024 * 1024] * 3
'''
    report, _ = run_cli(_repo(tmp_path), hostile, timeout=30)
    assert statuses(report)["test_memory_in_three_processes"] != "passed"


def test_disk_over_several_files_is_bounded(tmp_path: Path) -> None:
    hostile = '''
import os, time
from pathlib import Path
from mathx.util import triple

def test_disk_in_five_files():
    chunk = os.urandom(1024 * 1024)
    for i in range(5):
        where = Path("/tmp" if i % 2 else ".") / f"fill-{i}.bin"
        with open(where, "wb") as fh:
            for _ in range(60):
                fh.write(chunk)
    time.sleep(5)
    assert sum(Path(p).stat().st_size for p in ("fill-0.bin", "/tmp/fill-1.bin", "fill-2.bin", "/tmp/fill-3.bin",
                                                "fill-4.bin")) == 5 * 60 * 1024 * 1024
'''
    report, _ = run_cli(_repo(tmp_path), hostile, timeout=20)
    (test,) = [t for t in report["tests"] if t["name"] == "test_disk_in_five_files"]
    assert test["status"] != "passed" and "disk limit" in test["message"]


# --------------------------------------------------------------------------- the repository's own interpreter


def _repo_with_a_venv(base: Path) -> tuple[Path, Path]:
    repo = _repo(base)
    marker = base / "venv-python-ran-on-the-host"
    venv = repo / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "lib" / "python3.11").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.write_text(f'#!/bin/sh\necho pwned > "{marker}"\nexec "{sys.executable}" "$@"\n')
    python.chmod(python.stat().st_mode | stat.S_IEXEC)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    return repo, marker


def test_the_repositorys_venv_python_never_runs_on_the_host(tmp_path: Path) -> None:
    repo, marker = _repo_with_a_venv(tmp_path)
    report, _ = run_cli(repo, "from mathx.util import triple\n\ndef test_t():\n    assert triple(1) == 3\n")
    assert not marker.exists()  # not probed, not used: reviewer's own interpreter ran the tests
    assert statuses(report) == {"test_inside": "passed", "test_upper_bound": "failed", "test_t": "passed"}


def test_a_named_venv_python_runs_only_inside_the_sandbox(tmp_path: Path) -> None:
    repo, marker = _repo_with_a_venv(tmp_path)
    run_cli(repo, "def test_t():\n    pass\n", "--python", str(repo / ".venv" / "bin" / "python"))
    assert not marker.exists()  # it ran in the sandbox, where that path is not the host's


# --------------------------------------------------------------------------- the benign path


def test_the_benign_path_still_works(tmp_path: Path) -> None:
    report, _ = run_cli(_repo(tmp_path), "from mathx.util import triple\n\ndef test_t():\n    assert triple(2) == 6\n")
    tests = {t["name"]: t for t in report["tests"]}
    assert {n: t["status"] for n, t in tests.items()} == {"test_inside": "passed", "test_upper_bound": "failed",
                                                          "test_t": "passed"}
    assert tests["test_upper_bound"]["regression"] and tests["test_upper_bound"]["old_outcome"] == "passed"
    (finding,) = report["findings"]
    assert finding["source"] == "tests" and finding["severity"] == "medium"


def test_no_sandbox_means_no_execution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    from reviewer import cli

    monkeypatch.setattr(isolation, "detect", lambda: isolation.Isolation("none"))
    repo = _repo(tmp_path)
    monkeypatch.chdir(repo)
    asked: list = []
    monkeypatch.setattr(backends, "make_backend", lambda config: asked.append(1) or FakeBackend())
    assert cli.main(["tests", "--backend", "fake", "--no-cache", "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no sandbox is available" in err[0] and "apt-get install bubblewrap" in err[0]
    assert "Traceback" not in err[0] and asked == []
    (repo / ".reviewer.toml").write_text("unsafe_no_sandbox = true\n")  # a repository cannot switch it off
    assert cli.main(["tests", "--backend", "fake", "--no-cache", "-q"]) == 2
    assert "cannot be set in a file" in capsys.readouterr().err


def test_isolation_probe_matches_the_machine() -> None:
    """The mechanism reported is one that works here (bwrap, or unshare namespaces)."""
    iso = isolation.detect()
    assert iso.name != "none", isolation.INSTALL_HINT
    if iso.name == "bubblewrap":
        assert subprocess.run([iso.program, "--version"], capture_output=True, check=False).returncode == 0
    assert iso.drop_uid == (os.geteuid() == 0)
