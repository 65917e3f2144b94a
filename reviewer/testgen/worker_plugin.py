"""The pytest plugin in each sandbox worker: one JSON line per outcome, and phase starts, to the supervisor.

Copied into the sandbox as `_reviewer_sandbox.py` and loaded with `-p _reviewer_sandbox` in the
worker that runs one test (reviewer.testgen.supervisor). It writes to that worker's own pipe; the
supervisor keeps only records about the worker's test and times each phase from outside.
"""

import json
import os

import pytest

_FD = int(os.environ.pop("REVIEWER_SANDBOX_WORKER_FD", "-1"))


def _emit(record):
    if _FD < 0:
        return
    data = (json.dumps(record) + "\n").encode("utf-8")
    while data:
        try:
            data = data[os.write(_FD, data):]
        except InterruptedError:
            continue
        except OSError:
            return


def _start(item, phase):
    _emit({"when": "start", "phase": phase, "nodeid": item.nodeid})


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    _start(item, "setup")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item):
    _start(item, "call")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item):
    _start(item, "teardown")


def _message(report):
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None and getattr(crash, "message", None):
        return crash.message
    text = str(report.longrepr or "")
    errors = [line[2:].strip() for line in text.splitlines() if line.startswith("E ")]
    return "\n".join(errors[-6:]) if errors else text[-1500:]


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
           "message": message, "where": str(getattr(crash, "path", "") or "") if report.failed else ""})
