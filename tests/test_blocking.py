"""Blocking follows evidence (reviewer/blocking.py): evidence kinds, advisory marks, exit status
under `block = "evidence"` and `"all"`, the reports' markers, and the git hook on the fake backend."""

from __future__ import annotations

import argparse
import io
import json
import os
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import git
from jsonschema import Draft7Validator, Draft202012Validator

from reviewer.backends import fake
from reviewer.blocking import (
    BAR,
    BLOCKING_KINDS,
    DETERMINISTIC,
    KINDS,
    MEASURED,
    MIN_ALARMS,
    blocks,
    evidence_kind,
    mark_advisory,
)
from reviewer.commands import hook as hook_command
from reviewer.config import Config, load_config
from reviewer.pipeline import merge_findings
from reviewer.sinks import get_renderer
from reviewer.types import Category, Finding, ModelInfo, Review, Severity, exit_status

DATA = Path(__file__).parent / "data"
HIGH, MEDIUM, LOW = Severity.HIGH, Severity.MEDIUM, Severity.LOW


def finding(source: str = "model", category: Category = Category.BUG, severity: Severity = HIGH,
            evidence: tuple[str, ...] = (), line: int = 3) -> Finding:
    return Finding("app.py", line, line, category, severity, "t", "m", source=source, evidence=evidence)


# --------------------------------------------------------------------------- the classification


@pytest.mark.parametrize(("f", "kind"), [
    (finding(), "model-bug"),
    (finding(category=Category.SECURITY), "model-security"),
    (finding(category=Category.STYLE), "model-other"),
    (finding(evidence=("model", "bandit")), "model+analyzer"),
    (finding(evidence=("model", "ruff")), "model+analyzer"),
    (finding(category=Category.SECURITY, evidence=("model", "taint", "bandit")), "model+analyzer"),
    (finding("taint", Category.SECURITY), "taint"),
    (finding("taint", Category.SECURITY, evidence=("taint", "bandit")), "taint"),  # bandit joined on its line
    (finding("bandit", Category.SECURITY), "bandit"),
    (finding("ruff"), "ruff"),
    (finding("tests", severity=MEDIUM), "test-regression"),
    (finding("something-new"), "something-new"),
])
def test_evidence_kind(f: Finding, kind: str) -> None:
    assert evidence_kind(f) == kind


def test_blocking_kinds_follow_the_measurement_and_the_bar() -> None:
    model_kinds = {k for k in KINDS if k not in DETERMINISTIC}
    assert BLOCKING_KINDS & model_kinds == {k for k, (n, right) in MEASURED.items()
                                            if k in model_kinds and n >= MIN_ALARMS and right / n >= BAR}
    # analyzers block unless measured below the bar (bandit: 1 alarm, ruff: none, taint: 15 of 15)
    assert BLOCKING_KINDS == {"model+analyzer", "taint", "bandit", "ruff"}  # docs/quality.md, "Blocking follows evidence"
    assert "model-bug" not in BLOCKING_KINDS and "model-security" not in BLOCKING_KINDS


def test_an_analyzer_measured_below_the_bar_would_not_block(monkeypatch: pytest.MonkeyPatch) -> None:
    from reviewer import blocking

    monkeypatch.setitem(blocking.MEASURED, "bandit", (10, 5))
    assert not blocking._blocking("bandit") and blocking._blocking("taint")


def test_the_merge_records_the_analyzer_behind_a_model_claim() -> None:
    config = Config()
    model = finding(category=Category.SECURITY, severity=MEDIUM)
    bandit = finding("bandit", Category.SECURITY, severity=HIGH)
    ruff_elsewhere = finding("ruff", line=9)
    merged = merge_findings([model], [bandit, ruff_elsewhere], config)
    assert [(f.source, f.evidence, f.severity) for f in merged] == [
        ("model", ("model", "bandit"), HIGH), ("ruff", (), HIGH)]
    # an analyzer finding below --min-severity is not reported, but still backs the claim on its line
    low_hint = finding("ruff", severity=LOW)
    merged = merge_findings([finding()], [low_hint], config.replace(min_severity=MEDIUM))
    assert [(f.source, f.evidence) for f in merged] == [("model", ("model", "ruff"))]


# --------------------------------------------------------------------------- exit status, both settings


MODEL_BUG = finding()
TAINT = finding("taint", Category.SECURITY)
BACKED = finding(category=Category.SECURITY, evidence=("model", "bandit"))


@pytest.mark.parametrize(("findings", "evidence_exit", "all_exit"), [
    ((MODEL_BUG,), 0, 1),
    ((TAINT,), 1, 1),
    ((BACKED,), 1, 1),
    ((MODEL_BUG, TAINT), 1, 1),
    ((replace(TAINT, severity=MEDIUM),), 0, 0),  # below fail-on high: blocks under neither
    ((), 0, 0),
])
def test_exit_status_under_both_settings(findings: tuple[Finding, ...], evidence_exit: int, all_exit: int) -> None:
    assert exit_status(mark_advisory(findings, HIGH, "evidence"), HIGH) == evidence_exit
    assert exit_status(mark_advisory(findings, HIGH, "all"), HIGH) == all_exit
    assert exit_status(findings, HIGH) == all_exit  # unmarked findings: today's rule
    assert exit_status(mark_advisory(findings, None, "all"), None) == 0


def test_advisory_marks_only_findings_at_fail_on_that_do_not_block() -> None:
    low_bug = finding(severity=LOW)
    marked = mark_advisory((MODEL_BUG, TAINT, low_bug), HIGH, "evidence")
    assert [f.advisory for f in marked] == [True, False, False]
    assert not any(f.advisory for f in mark_advisory(marked, HIGH, "all"))  # re-marking undoes the mark
    assert blocks(TAINT, MEDIUM) and not blocks(MODEL_BUG, MEDIUM) and blocks(MODEL_BUG, MEDIUM, "all")
    assert [f.advisory for f in mark_advisory((low_bug,), LOW, "evidence")] == [True]


def test_block_setting_from_file_env_and_flag(tmp_path: Path) -> None:
    assert Config().block == "evidence"
    (tmp_path / ".reviewer.toml").write_text('block = "all"\n')
    assert load_config(tmp_path, {}, {}).block == "all"
    assert load_config(tmp_path, {"REVIEWER_BLOCK": "evidence"}, {}).block == "evidence"
    assert load_config(tmp_path, {"REVIEWER_BLOCK": "evidence"}, {"block": "all"}).block == "all"
    from reviewer.errors import ReviewerError

    with pytest.raises(ReviewerError, match="block"):
        load_config(tmp_path, {"REVIEWER_BLOCK": "some"}, {})


# --------------------------------------------------------------------------- the reports


def review_of(*findings: Finding) -> Review:
    return Review(ModelInfo("fake", "0" * 64), findings)


def test_reports_mark_advisory_findings() -> None:
    review = review_of(*mark_advisory((BACKED, replace(MODEL_BUG, line=5)), HIGH, "evidence"))
    concise = get_renderer("concise")(review, False, HIGH)
    assert "app.py:3: high security: t\n" in concise and "app.py:5: high bug: t (advisory)\n" in concise
    assert "2 at or above fail-on high (1 advisory, not blocking)" in concise
    text = get_renderer("text")(review, False, HIGH)
    assert re.search(r"app\.py:5 .* t  \(advisory\)", text) and "1 advisory" in text
    data = json.loads(get_renderer("json")(review, False, HIGH))
    assert [(f.get("evidence"), f.get("blocking")) for f in data["findings"]] == [(["model", "bandit"], None),
                                                                                  (None, False)]
    schema = json.loads((DATA / "review.schema.json").read_text())
    Draft202012Validator(schema).validate(data)
    sarif = json.loads(get_renderer("sarif")(review, False, HIGH))
    results = sarif["runs"][0]["results"]
    assert [r["level"] for r in results] == ["error", "warning"]
    assert results[1]["properties"]["blocking"] is False
    Draft7Validator(json.loads((DATA / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))).validate(sarif)


def test_reports_without_advisory_findings_are_unchanged() -> None:
    review = review_of(MODEL_BUG)
    assert "advisory" not in get_renderer("concise")(review, False, HIGH)
    assert "blocking" not in get_renderer("json")(review, False, HIGH)


# --------------------------------------------------------------------------- the git hook (fake backend, real git)

TAINTED = ('import os\n\nfrom flask import request\n\n\ndef run():\n    cmd = request.args.get("cmd")\n'
           '    os.system(cmd)\n    return "ok"\n')
SUMMED = "def total(xs):\n    n = 0\n    for i in range(len(xs) - 1):\n        n += xs[i]\n    return n\n"
OFF_BY_ONE = (re.compile(r"range\(len\(\w+\) - 1\)"), "bug", "high", "Off-by-one: the last item is skipped",
              "range stops one short.")


@pytest.fixture
def hook_repo(make_repo: Callable[[dict[str, str]], Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("REVIEWER_BACKEND", "fake")
    monkeypatch.setattr(fake, "RULES", (*fake.RULES, OFF_BY_ONE))  # a model-only bug claim the analyzers do not back
    monkeypatch.setenv("REVIEWER_HOOK_TIMEOUT", "0")  # the model in this process, where RULES is patched
    return make_repo({"README.md": "demo\n"})


def hook(repo: Path, capsys: pytest.CaptureFixture[str], *argv: str, env: dict[str, str] | None = None
         ) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="reviewer")
    hook_command.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["hook", "run", "--no-cache", *argv])
    code = hook_command.run_hook(args, repo, {**os.environ, **(env or {})}, io.BytesIO(b""))
    return code, capsys.readouterr().out


def stage(repo: Path, name: str, text: str) -> None:
    (repo / name).write_text(text)
    git(repo, "add", name)


def test_hook_blocks_on_a_taint_finding_under_both_settings(hook_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stage(hook_repo, "app.py", TAINTED)
    code, out = hook(hook_repo, capsys)
    assert code == 1 and "app.py:8: high security: Untrusted input reaches a shell command\n" in out
    assert "advisory" not in out
    assert hook(hook_repo, capsys, "--block", "all")[0] == 1


def test_hook_lets_a_model_only_bug_claim_through_unless_block_all(hook_repo: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    stage(hook_repo, "calc.py", SUMMED)
    code, out = hook(hook_repo, capsys)
    assert code == 0 and "calc.py:3: high bug: Off-by-one: the last item is skipped (advisory)\n" in out
    code, out = hook(hook_repo, capsys, "--block", "all")
    assert code == 1 and "(advisory)" not in out
    assert hook(hook_repo, capsys, env={"REVIEWER_BLOCK": "all"})[0] == 1
    (hook_repo / ".reviewer.toml").write_text('block = "all"\n')
    assert hook(hook_repo, capsys)[0] == 1
