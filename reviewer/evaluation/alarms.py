"""What the eval counts: an alarm, a detected buggy case and the findings that detect it (shared/eval/README.md)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# The alarm severities of shared/eval/score.py: the README names medium and high (all a
# Finding can have); the reference scorer also counts critical/error/warning from other tools.
ALARM_SEVERITIES = {"medium", "high", "critical", "error", "warning"}


def is_alarm(finding: dict[str, Any]) -> bool:
    return finding.get("category") in ("bug", "security") and str(finding.get("severity", "")).lower() in ALARM_SEVERITIES


def detecting(case: dict[str, Any], findings: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The alarms that make a buggy `case` detected: in its file, overlapping its lines widened by
    3 each way (scope "line"), or any security alarm in the file (scope "file")."""
    expect = case["expect"]
    same_file = [f for f in findings if is_alarm(f) and f.get("path", "").lstrip("./") == expect["path"]]
    if expect["scope"] == "file":
        return [f for f in same_file if f["category"] == "security"]
    lo, hi = min(expect["lines"]) - 3, max(expect["lines"]) + 3
    return [f for f in same_file if int(f.get("line", 0)) <= hi and int(f.get("end_line") or f.get("line", 0)) >= lo]


def judge(case: dict[str, Any], findings: list[dict[str, Any]]) -> bool:
    """buggy: detected? clean: false alarm? (the rules of shared/eval/README.md)"""
    if case["label"] == "clean":
        return any(is_alarm(f) for f in findings)
    return bool(detecting(case, findings))


__all__ = ["ALARM_SEVERITIES", "detecting", "is_alarm", "judge"]
