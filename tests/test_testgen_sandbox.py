"""Generated tests run in the sandbox (reviewer.testgen): statuses, isolation, repair, regressions.

The model is a FakeBackend with scripted test modules; the sandbox and pytest are real.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import git

from reviewer.backends import Message
from reviewer.backends.fake import FakeBackend
from reviewer.cache import ResultCache
from reviewer.config import Config
from reviewer.diff import DiffSource
from reviewer.session import parse_source
from reviewer.testgen import Options, TestgenSession
from reviewer.testgen.sandbox import Limits, TreeSpec, network_isolation
from reviewer.types import Category, Severity

OPS_OLD = '''\
def add(a, b):
    """Sum of a and b."""
    return a + b


def div(a, b):
    return a / b
'''

OPS_NEW = '''\
def add(a, b):
    """Sum of a and b."""
    return a - b


def div(a, b):
    return a // b


def mul(a, b):
    return a * b
'''

ADD_TESTS = '''\
import os
from pathlib import Path

from calc.ops import add


def test_zero():
    assert add(0, 0) == 0


def test_regression():
    assert add(2, 3) == 5


def test_uses_an_undefined_name():
    assert add(x, 1) == 2


def test_wrong_expectation():
    assert add(2, 2) == 5


def test_hangs():
    while True:
        pass


def test_network():
    import urllib.request
    urllib.request.urlopen("http://93.184.216.34/", timeout=3)


def test_secret_env():
    assert os.environ.get("MY_API_TOKEN") == "hunter2"


def test_secret_home():
    assert (Path.home() / "secret.txt").read_text() == "hunter2"


def test_environment_is_scrubbed():
    leaked = set(os.environ) & set(PARENT_KEYS)
    assert not leaked


def test_writes_stay_in_the_copy():
    Path("written-by-a-test.txt").write_text("x")
    assert Path("written-by-a-test.txt").exists()


def test_memory_is_limited():
    block = bytearray(16 * 1024 ** 3)
    assert block
'''


def answer(messages: list[Message]) -> dict:
    """The scripted model: a module per function; broken ones until (or even after) a repair."""
    user = messages[1]["content"]
    repair = len(messages) > 2
    if "`add`" in user:
        parent = {k for k in os.environ if not k.startswith(("PYTEST_", "TEXTUAL_"))}  # pytest and its plugins set these
        parent -= {"PATH", "LANG", "LC_ALL", "PYTHONPATH", "HOME", "TMPDIR", "PYTHONDONTWRITEBYTECODE"}
        return {"plan": "p", "code": ADD_TESTS + f"\n\nPARENT_KEYS = {sorted(parent)!r}\n"}
    if "`mul`" in user:
        if not repair:
            return {"plan": "p", "code": "import no_such_module_xyz\n\ndef test_mul():\n    assert mul(2, 3) == 6\n"}
        return {"plan": "fixed", "setup": "from calc.ops import mul", "tests": [{"code": "def test_mul():\n    assert mul(2, 3) == 6"}]}
    if "`div`" in user:
        return {"plan": "p", "code": "from calc.ops import div\n\ndef test_div(:\n    pass\n" if repair else
                "import also_missing_xyz\n\ndef test_div():\n    assert div(6, 3) == 2\n"}
    raise AssertionError(user)


@pytest.fixture
def calc_repo(make_repo, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    repo = make_repo({"calc/__init__.py": "", "calc/ops.py": OPS_OLD})
    (repo / "calc" / "ops.py").write_text(OPS_NEW)
    git(repo, "add", "-A")
    home = tmp_path / "home"
    home.mkdir()
    (home / "secret.txt").write_text("hunter2")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("MY_API_TOKEN", "hunter2")
    return repo


LIMITS = Limits(test_timeout=1.5, run_timeout=90)


def test_statuses_isolation_repair_and_regression(calc_repo: Path) -> None:
    parsed = parse_source(DiffSource("staged"), calc_repo, Config())
    backend = FakeBackend(answer=answer)
    with TestgenSession(TreeSpec("index", calc_repo), Options(limits=LIMITS)) as session:
        result = session.run(parsed, backend, Config(backend="fake"), None)
        sandbox = session.dir
    assert not sandbox.exists()  # removed afterwards

    by_name = {s.name: s for s in result.suggestions}
    status = {name: (s.status, s.old_status) for name, s in by_name.items()}
    assert status["test_zero"] == ("passed", "passed")
    assert status["test_regression"] == ("failed", "passed")
    assert status["test_wrong_expectation"] == ("failed", "failed")
    assert status["test_hangs"] == ("timeout", "timeout")
    assert status["test_network"][0] == "failed"
    assert status["test_secret_env"][0] == "failed"  # the parent's token is not passed on
    assert status["test_secret_home"][0] == "failed"  # HOME is an empty temp dir
    assert status["test_environment_is_scrubbed"][0] == "passed", by_name["test_environment_is_scrubbed"].message
    assert status["test_writes_stay_in_the_copy"][0] == "passed"
    assert status["test_memory_is_limited"][0] == "failed" and "MemoryError" in by_name["test_memory_is_limited"].message
    assert "assert -1 == 5" in by_name["test_regression"].message
    assert "longer than 1.5s" in by_name["test_hangs"].message

    # mul did not collect, was repaired once and now passes; div stayed broken and was dropped
    assert status["test_mul"] == ("passed", None) and by_name["test_mul"].repaired
    assert [d.target.qualname for d in result.dropped] == ["add", "div"]
    assert result.dropped[0].reason.startswith("test_uses_an_undefined_name: NameError: name 'x' is not defined")
    assert result.dropped[0].tests == 1 and "def test_uses_an_undefined_name" in result.dropped[0].code
    # add's module had a test using a name it never defined: an error of the test itself, so the
    # module went back to the model; the answer kept that test, which was then dropped
    assert "test_uses_an_undefined_name" not in by_name and by_name["test_zero"].repaired
    assert result.stats.repairs == 3 and len(backend.calls) == 6

    # a test passing before and failing after the change is a finding on the changed line
    (finding,) = result.findings
    assert (finding.path, finding.line, finding.category, finding.severity, finding.source) == \
        ("calc/ops.py", 3, Category.BUG, Severity.MEDIUM, "tests")
    assert "test_regression" in finding.message and "def test_regression" in finding.message

    # contract view: path in the project's layout, status from the contract's enum
    contract = by_name["test_hangs"].to_contract()
    assert contract.path == "tests/test_ops.py" and contract.status == "failed"
    assert "from calc.ops import add" in contract.code and "def test_hangs" in contract.code
    info = by_name["test_regression"].to_dict()
    assert info["target"] == "calc/ops.py::add" and info["regression"] is True and info["old_outcome"] == "passed"

    # nothing happened to the user's repository
    assert git(calc_repo, "status", "--porcelain") == "M  calc/ops.py\n" or \
        git(calc_repo, "status", "--porcelain").splitlines() == ["M  calc/ops.py"]
    assert not (calc_repo / "written-by-a-test.txt").exists()


def test_without_a_sandbox_the_run_is_refused_unless_unsafe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No isolation available: one clear refusal; --unsafe-no-sandbox runs on the host, the socket guard only."""
    from reviewer.errors import ReviewerError
    from reviewer.testgen import isolation
    from reviewer.testgen.sandbox import run_pytest

    monkeypatch.setattr(isolation, "detect", lambda: isolation.Isolation("none"))

    tree = tmp_path / "tree"
    (tree / "tests").mkdir(parents=True)
    (tree / "tests" / "test_net.py").write_text(
        "import socket\nimport pytest\n\n"
        "def test_connect():\n    with pytest.raises(OSError, match='disabled'):\n"
        "        socket.create_connection(('127.0.0.1', 9), timeout=2)\n\n"
        "def test_resolve():\n    with pytest.raises(OSError):\n        socket.getaddrinfo('example.com', 80)\n\n"
        "def test_unix_sockets_still_work():\n    a, b = socket.socketpair()\n    a.sendall(b'x')\n    assert b.recv(1) == b'x'\n")
    with pytest.raises(ReviewerError, match="no sandbox is available.*bubblewrap.*--unsafe-no-sandbox"):
        run_pytest(tree, ["tests/test_net.py"], Limits(test_timeout=5))
    assert network_isolation(Limits()) == "refused"
    result = run_pytest(tree, ["tests/test_net.py"], Limits(test_timeout=5), unsafe=True)
    assert {r.nodeid.split("::")[1]: r.status for r in result.records.values()} == {
        "test_connect": "passed", "test_resolve": "passed", "test_unix_sockets_still_work": "passed"}, result.output
    assert network_isolation(Limits(), unsafe=True).startswith("none (unsafe")


def test_timeouts_are_enforced_from_outside_the_test(tmp_path: Path) -> None:
    """A test that blocks signals is stopped at its own limit, the next test still runs; a module that
    hangs while importing ends the run at the whole run's limit, the tests not run marked timeout."""
    from reviewer.testgen.sandbox import run_pytest

    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "test_slow.py").write_text(
        "import time\n\ndef test_a():\n    pass\n\n"
        "def test_blocks_signals():\n    import signal\n    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})\n"
        "    time.sleep(60)\n\ndef test_c():\n    pass\n")
    result = run_pytest(tree, ["test_slow.py"], Limits(test_timeout=1, run_timeout=30))
    statuses = {r.nodeid.split("::")[1]: r.status for r in result.records.values()}
    assert not result.timed_out and statuses == {"test_a": "passed", "test_blocks_signals": "timeout", "test_c": "passed"}
    (tree / "test_hang.py").write_text("while True:\n    pass\n\ndef test_x():\n    pass\n\ndef test_y():\n    pass\n")
    result = run_pytest(tree, ["test_slow.py", "test_hang.py"], Limits(test_timeout=1, run_timeout=8))
    statuses = {r.nodeid: r.status for r in result.records.values()}
    assert result.timed_out and statuses["test_slow.py::test_a"] == "passed"
    assert not any(n.startswith("test_hang.py") for n in statuses)  # never collected: "not collected", timed out


def test_not_runnable_without_a_tree_and_cached_second_run(tmp_path: Path, calc_repo: Path) -> None:
    parsed = parse_source(DiffSource("staged"), calc_repo, Config())
    cache = ResultCache(tmp_path / "results.sqlite3")
    first = FakeBackend(answer=answer)
    with TestgenSession(None, Options(limits=LIMITS)) as session:
        result = session.run(parsed, first, Config(backend="fake"), cache)
    assert result.suggestions and {s.status for s in result.suggestions} == {"not-run"}
    assert not result.findings and result.stats.isolation == "not run"
    again = FakeBackend(answer=answer)
    with TestgenSession(None, Options(limits=LIMITS)) as session:
        cached = session.run(parsed, again, Config(backend="fake"), cache)
    assert again.calls == [] and cached.stats.cached == cached.stats.model_calls == 3
    cache.close()


def test_max_functions_and_report_callback(calc_repo: Path) -> None:
    parsed = parse_source(DiffSource("staged"), calc_repo, Config())
    said: list[str] = []
    with TestgenSession(None, Options(max_functions=1)) as session:
        result = session.run(parsed, FakeBackend(answer=answer), Config(backend="fake"), None, report=said.append)
    assert result.stats.functions == 3
    assert [t for t, _ in result.stats.skipped] == ["calc/ops.py::div", "calc/ops.py::mul"]
    assert said == ["writing tests for calc/ops.py::add (1/1)"]
    assert json.dumps([s.to_dict() for s in result.suggestions])  # serializable


def test_a_module_that_does_not_import_is_skipped_before_the_model_is_asked(make_repo) -> None:
    """Its tests could never collect (a dependency missing where they run): no model time spent on them."""
    repo = make_repo({"calc/__init__.py": "", "calc/ops.py": OPS_OLD,
                      "calc/io.py": "import no_such_dependency_xyz\n\n\ndef load(p):\n    return p\n"})
    (repo / "calc" / "ops.py").write_text(OPS_NEW)
    (repo / "calc" / "io.py").write_text("import no_such_dependency_xyz\n\n\ndef load(p):\n    return str(p)\n")
    git(repo, "add", "-A")
    parsed = parse_source(DiffSource("staged"), repo, Config())
    backend = FakeBackend(answer=answer)
    said: list[str] = []
    with TestgenSession(TreeSpec("index", repo), Options(limits=LIMITS)) as session:
        result = session.run(parsed, backend, Config(backend="fake"), None, report=said.append)
    assert result.stats.functions == 4
    ((target, reason),) = result.stats.skipped
    assert target == "calc/io.py::load"
    assert "calc.io does not import" in reason and "No module named 'no_such_dependency_xyz'" in reason
    assert not any("`load`" in call[1]["content"] for call in backend.calls)  # never asked about it
    assert {s.target.name for s in result.suggestions} >= {"add", "mul"}  # calc.ops imports: its tests ran
    assert said[0] == "checking that the changed modules import in the sandbox"


def test_materialize_copies_the_reviewed_version_only(make_repo, tmp_path: Path) -> None:
    from reviewer.testgen.sandbox import materialize

    repo = make_repo({"pkg/mod.py": "v = 1\n", ".gitignore": ".env\n"})
    head = git(repo, "rev-parse", "HEAD").strip()
    (repo / "pkg" / "mod.py").write_text("v = 2\n")
    (repo / ".env").write_text("TOKEN=secret\n")
    (repo / "untracked.py").write_text("u = 1\n")
    (repo / ".venv").mkdir()
    (repo / ".venv" / "pyvenv.cfg").write_text("home = /usr\n")
    (repo / "outside-link").symlink_to(tmp_path)

    rev = tmp_path / "rev"
    materialize(TreeSpec("rev", repo, head, {"extra.txt": "x"}), rev)
    assert (rev / "pkg" / "mod.py").read_text() == "v = 1\n" and (rev / "extra.txt").read_text() == "x"
    assert not (rev / "untracked.py").exists() and not (rev / ".git").exists()

    work = tmp_path / "work"
    materialize(TreeSpec("worktree", repo), work)
    assert (work / "pkg" / "mod.py").read_text() == "v = 2\n" and (work / "untracked.py").exists()
    assert not (work / ".env").exists() and not (work / ".venv").exists() and not (work / "outside-link").exists()

    git(repo, "add", "pkg/mod.py")
    (repo / "pkg" / "mod.py").write_text("v = 3\n")  # unstaged: not part of the staged review
    index = tmp_path / "index"
    materialize(TreeSpec("index", repo), index)
    assert (index / "pkg" / "mod.py").read_text() == "v = 2\n"
    with pytest.raises(Exception, match="outside the sandbox"):
        materialize(TreeSpec("files", files={"../escape.py": "x"}), tmp_path / "files")
