"""The fix rate of `reviewer eval`: for each detected buggy case, was a checked suggestion a real fix?

The oracles (shared/eval/README.md, "Suggested fixes"):
- QuixBugs: the new file with the suggestion applied must return the expected output for every
  input/output case of the program (`quixbugs_tests/NAME.json`), run as generated pytest tests in
  the sandbox of reviewer/testgen (model-written code runs there, never on the host; each case
  under a time limit: some buggy versions loop forever). The same tests are first run on the old
  file, the correct program: where it fails them, the oracle says nothing ("unverified").
- security cases: weaker, and said so. The analyzers (bandit, ruff, taint) must have flagged the
  vulnerability before the suggestion and must not after it, the file still parsing. Where no
  analyzer saw it, nothing can tell: "unverified".
- other bug cases (BugsInPy): no tests here; "unverified".
A case is "fixed" when one of its detecting findings' checked suggestions passes.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reviewer.errors import ReviewerError
from reviewer.evaluation.alarms import detecting
from reviewer.fixes.apply import spliced
from reviewer.fixes.checks import analyzer_findings
from reviewer.pysource import parse_python

CASE_TIMEOUT = 5.0  # seconds per input/output case; the slowest correct QuixBugs case here takes < 0.1 s
ORACLE_TEST = '''\
import json, types

import pytest

from {module} import {function}

CASES = json.loads({cases!r})


def plain(value):
    if isinstance(value, (types.GeneratorType, map, filter, zip, range)):
        value = list(value)
    return json.loads(json.dumps(value, default=list))


@pytest.mark.parametrize("args, expected", CASES)
def test_io(args, expected):
    got = plain({function}(*args))
    if isinstance(got, float) or isinstance(expected, float):
        assert got == pytest.approx(expected, abs={tolerance})
    else:
        assert got == expected
'''
# QuixBugs' own tests compare floats exactly but for sqrt, whose answer is right within its
# `epsilon` argument (their test_sqrt: `pytest.approx(expected, abs=epsilon)`); with the default
# tolerance the correct sqrt failed 2 of its 7 cases.
TOLERANCE = {"sqrt": "args[-1]"}


def applied(lines: Sequence[str], finding: dict[str, Any]) -> str:
    """The new file with the finding's (checked) suggestion in place of its lines."""
    start, end = int(finding["line"]), int(finding.get("end_line") or finding["line"])
    return "\n".join(spliced(lines, start, end, str(finding["suggestion"]).split("\n"))) + "\n"


def fix_outcome(case: dict[str, Any], findings: Sequence[dict[str, Any]], new_lines: Sequence[str] | None,
                old_text: str | None, tests_dir: Path | None, unsafe: bool = False) -> dict[str, Any] | None:
    """{"shown", "checked", "status", "oracle", "detail"} for a detected buggy case; None otherwise."""
    if case.get("label") != "buggy":
        return None
    found = detecting(case, findings)
    if not found:
        return None
    shown = [f for f in found if f.get("suggestion") or f.get("suggestion_check")]
    checked = [f for f in found if f.get("suggestion")]
    out: dict[str, Any] = {"shown": len(shown), "checked": len(checked)}
    if not checked:
        return {**out, "status": "none"}
    if new_lines is None:
        return {**out, "status": "unverified", "oracle": "none", "detail": "the new file is not known"}
    path = case["expect"]["path"]
    program = Path(path).stem
    if str(case.get("source", "")).lower() == "quixbugs":  # "QuixBugs" in shared/eval
        tests = tests_dir / f"{program}.json" if tests_dir else None
        if tests is None or not tests.is_file():
            return {**out, "status": "unverified", "oracle": "quixbugs-io", "detail": f"no input/output tests for {program}"}
        cases = tests.read_text(encoding="utf-8").splitlines()
        data = json.dumps([json.loads(c) for c in cases if c.strip()])
        if old_text is None or not _passes(program, old_text, data, unsafe)[0]:
            return {**out, "status": "unverified", "oracle": "quixbugs-io", "detail": "the correct program fails the oracle"}
        details = []
        for f in checked:
            ok, detail = _passes(program, applied(new_lines, f), data, unsafe)
            if ok:
                return {**out, "status": "fixed", "oracle": "quixbugs-io", "detail": detail}
            details.append(detail)
        return {**out, "status": "not-fixed", "oracle": "quixbugs-io", "detail": "; ".join(details)[:300]}
    if case.get("category") == "security":
        return {**out, **_security(case, path, new_lines, checked)}
    return {**out, "status": "unverified", "oracle": "none", "detail": "no tests for this case"}


def _passes(program: str, text: str, cases_json: str, unsafe: bool) -> tuple[bool, str]:
    from reviewer.testgen.sandbox import Limits, run_pytest  # only an eval with fixes to judge needs it

    with tempfile.TemporaryDirectory(prefix="reviewer-fix-") as tmp:
        tree = Path(tmp)
        (tree / f"{program}.py").write_text(text, encoding="utf-8")
        (tree / "test_oracle.py").write_text(ORACLE_TEST.format(module=program, function=program, cases=cases_json,
                                                                 tolerance=TOLERANCE.get(program, "None")),
                                             encoding="utf-8")
        try:
            result = run_pytest(tree, ["test_oracle.py"], Limits(test_timeout=CASE_TIMEOUT, run_timeout=120.0),
                                unsafe=unsafe)
        except ReviewerError as exc:
            return False, str(exc)
    records = list(result.records.values())
    failed = [r for r in records if r.status != "passed"]
    if result.collect_errors or not records:
        return False, "does not import: " + "; ".join(result.collect_errors.values())[:200]
    if failed:
        return False, f"{len(failed)}/{len(records)} input/output cases fail ({failed[0].status})"
    return True, f"{len(records)}/{len(records)} input/output cases pass"


def _security(case: dict[str, Any], path: str, new_lines: Sequence[str], checked: list[dict[str, Any]]) -> dict[str, Any]:
    original = "\n".join(new_lines) + "\n"
    expect = case["expect"]

    def flagged(text: str, shift: int = 0) -> set[str]:
        out = set()
        for f in analyzer_findings(path, text, True, None):
            if f.category.value != "security":
                continue
            if expect["scope"] == "file" or min(expect["lines"]) - 3 <= f.line <= max(expect["lines"]) + 3 + shift:
                out.add(f"{f.source}: {f.title}")
        return out

    before = flagged(original)
    if not before:
        return {"status": "unverified", "oracle": "analyzers", "detail": "no analyzer flags the vulnerability"}
    for f in checked:
        text = applied(new_lines, f)
        shift = len(str(f["suggestion"]).split("\n")) - (int(f.get("end_line") or f["line"]) - int(f["line"]) + 1)
        if parse_python(text) is not None and not (before & flagged(text, shift)):
            return {"status": "fixed", "oracle": "analyzers", "detail": "no longer flagged: " + ", ".join(sorted(before))}
    return {"status": "not-fixed", "oracle": "analyzers", "detail": "still flagged: " + ", ".join(sorted(before))}


__all__ = ["CASE_TIMEOUT", "applied", "fix_outcome"]
