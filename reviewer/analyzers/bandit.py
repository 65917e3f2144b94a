"""bandit (PyCQA's security linter) on one source text, as reviewer Findings.

bandit reads files, so the text goes to a temporary file; its logging is silenced so
nothing leaks into the review output. Findings below medium confidence are dropped:
they are noise a reviewer would not want as comments.
"""

from __future__ import annotations

import logging
import os
import tempfile

from reviewer.types import Category, Finding, Severity

_SEVERITY = {"LOW": Severity.LOW, "MEDIUM": Severity.MEDIUM, "HIGH": Severity.HIGH}
_MIN_CONFIDENCE = {"MEDIUM", "HIGH"}


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
            fh.write(source)
        mgr = manager.BanditManager(bandit_config.BanditConfig(), "file", quiet=True)
        mgr.discover_files([tmp])
        mgr.run_tests()
        issues = mgr.get_issue_list()
    except Exception:  # noqa: BLE001 - bandit crashing on odd input must not take the review down
        return []
    finally:
        os.unlink(tmp)
    findings = []
    for issue in issues:
        if issue.confidence not in _MIN_CONFIDENCE:
            continue
        lines = issue.linerange or [issue.lineno]
        findings.append(Finding(
            path=path,
            line=issue.lineno,
            end_line=max(issue.lineno, max(lines)),
            category=Category.SECURITY,
            severity=_SEVERITY.get(issue.severity, Severity.LOW),
            title=f"{issue.text.rstrip('.')} ({issue.test_id})",
            message=f"bandit {issue.test_id} ({issue.test}): {issue.text}",
            source="bandit",
        ))
    return findings
