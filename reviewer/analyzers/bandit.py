"""bandit (PyCQA's security linter) on one source text, as reviewer Findings.

bandit reads files, so the text goes to a temporary file; its logging is silenced so
nothing leaks into the review output. Findings below medium confidence are dropped:
they are noise a reviewer would not want as comments.

bandit parses with the running Python, so on 3.11 a file written for 3.12 (an f-string
that reuses its quote inside `{}`, as 298 of OWASP BenchmarkPython's 815 handlers do)
gave no findings at all: `hashlib.md5()` in such a file went unreported. Such a file is
handed to bandit with its f-strings rewritten as calls on the same lines
(reviewer/pysource.py), so every other test still runs; only bandit's checks on the
f-strings themselves (an SQL query built in one) see a call instead.
"""

from __future__ import annotations

import ast
import logging
import os
import tempfile
import warnings

from reviewer.context import is_test_file
from reviewer.pysource import rewrite_fstrings
from reviewer.types import Category, Finding, Severity

READER_TAG = "fstrings312-xml-tests"  # part of the analyzer cache key: what bandit is given, and its ratings, changed

# `assert` is how pytest tests check things: bandit's B101 on a test file is no finding (bandit's
# own docs suggest skipping it there). Shown to the model as a hint, it came back as a *high*
# "Use of assert" bug on a test of this repository, which would fail the hook on any test.
TEST_FILE_SKIPS = frozenset({"B101"})

# bandit's warnings on Python's own XML parsers (xml.etree, xml.sax, xml.dom.minidom and
# pulldom, expatbuilder) rest on facts that no longer hold: since Python 3.7.1 none of them
# resolves external entities (no XXE), and expat 2.4.1 (2021) limits entity expansion (no
# billion laughs). Kept as `low` notes, not alarms; an XML parser with external entities
# turned on is a sink of reviewer's taint analysis, and lxml's warnings (B320) keep their rating.
STDLIB_XML_TESTS = frozenset({"B313", "B314", "B315", "B316", "B317", "B318", "B319"})
STDLIB_XML_NOTE = ("(low: Python's own XML parsers resolve no external entities since 3.7.1, and expat 2.4.1 "
                   "limits entity expansion)")

_SEVERITY = {"LOW": Severity.LOW, "MEDIUM": Severity.MEDIUM, "HIGH": Severity.HIGH}
_MIN_CONFIDENCE = {"MEDIUM", "HIGH"}


def readable_source(source: str) -> str:
    """`source`, or its f-strings rewritten as calls when only that lets this Python parse it."""
    if _parses(source):
        return source
    try:
        rewritten = rewrite_fstrings(source)
    except Exception:  # noqa: BLE001 - an unterminated literal: bandit reports what it can of the original
        return source
    return rewritten if _parses(rewritten) else source


def _parses(text: str) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return False
    return True


def bandit_findings(path: str, source: str) -> list[Finding]:
    """Security findings for `source` (the new side of `path`); [] if bandit is unavailable."""
    try:
        from bandit.core import config as bandit_config
        from bandit.core import manager
    except ImportError:
        return []
    logging.getLogger("bandit").setLevel(logging.CRITICAL)
    fd, tmp = tempfile.mkstemp(suffix=".py", prefix="reviewer-bandit-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(readable_source(source))
        mgr = manager.BanditManager(bandit_config.BanditConfig(), "file", quiet=True)
        mgr.discover_files([tmp])
        mgr.run_tests()
        issues = mgr.get_issue_list()
    except Exception:  # noqa: BLE001 - bandit crashing on odd input must not take the review down
        return []
    finally:
        os.unlink(tmp)
    findings = []
    skips = TEST_FILE_SKIPS if is_test_file(path) else frozenset()
    for issue in issues:
        if issue.confidence not in _MIN_CONFIDENCE or issue.test_id in skips:
            continue
        lines = issue.linerange or [issue.lineno]
        severity = _SEVERITY.get(issue.severity, Severity.LOW)
        message = f"bandit {issue.test_id} ({issue.test}): {issue.text}"
        if issue.test_id in STDLIB_XML_TESTS:
            severity, message = Severity.LOW, f"{message} {STDLIB_XML_NOTE}"
        findings.append(Finding(
            path=path,
            line=issue.lineno,
            end_line=max(issue.lineno, max(lines)),
            category=Category.SECURITY,
            severity=severity,
            title=f"{issue.text.rstrip('.')} ({issue.test_id})",
            message=message,
            source="bandit",
        ))
    return findings
