"""Machine-readable sinks (sarif, rdjson, rdjsonl, github) on the shared sample review.

Regenerate golden files after an intended change:
    UPDATE_GOLDEN=1 pytest tests/test_sinks_machine.py
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import replace
from pathlib import Path

import pytest
from helpers import make_hunk
from jsonschema import Draft7Validator
from sample_review import sample_review

from reviewer.sinks import get_renderer
from reviewer.types import Category, Finding, ModelInfo, Review, Severity

DATA = Path(__file__).parent / "data"
GOLDEN = DATA / "golden"
MACHINE_FORMATS = ("sarif", "rdjson", "rdjsonl", "github", "codeclimate")


def render(fmt: str, review: Review) -> str:
    return get_renderer(fmt)(review, False)


def empty_review() -> Review:
    return Review(ModelInfo("m", "0" * 64), ())


def bandit_finding(line: int = 11) -> Finding:
    return Finding("app/users.py", line, line, Category.SECURITY, Severity.MEDIUM,
                   "Possible SQL injection vector through string-based query construction (B608)",
                   "bandit B608 (hardcoded_sql_expressions): Possible SQL injection vector through "
                   "string-based query construction.", source="bandit")


def rich_review() -> Review:
    """More shapes than the sample: analyzer findings sharing a rule, no suggestion, a line the
    hunks do not show, a path that needs URI escaping, markdown and backticks in model text."""
    base = sample_review()
    odd = make_hunk(path="src/my dir/ümlaut.py", start=1)
    extra = (
        bandit_finding(11),
        bandit_finding(12),
        Finding("app/users.py", 99, 99, Category.BUG, Severity.MEDIUM, "Off-by-one in loop",
                "range(len(xs) + 1) reads past the end."),
        Finding("src/my dir/ümlaut.py", 2, 2, Category.STYLE, Severity.LOW, "Use `_` for *unused* [names]",
                "<b>x</b> is unused", "```\n    _ = 1\n```"),
    )
    return replace(base, findings=base.findings + extra, hunks=base.hunks + (odd,))


@pytest.fixture(scope="module")
def sarif_validator() -> Draft7Validator:
    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    assert "draft-07" in schema["$schema"]
    assert schema["$id"].endswith("sarif-schema-2.1.0.json")
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER)


def assert_valid_sarif(validator: Draft7Validator, text: str) -> dict:
    log = json.loads(text)
    errors = sorted(validator.iter_errors(log), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)
    return log


# ---- golden files ------------------------------------------------------------------


@pytest.mark.parametrize("fmt", MACHINE_FORMATS)
def test_matches_golden(fmt):
    out = render(fmt, sample_review())
    golden = GOLDEN / f"sample.{fmt}"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(out, encoding="utf-8")
    assert out == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("fmt", MACHINE_FORMATS)
def test_empty_review_renders_valid_output(fmt, sarif_validator):
    out = render(fmt, empty_review())
    if fmt == "sarif":
        log = assert_valid_sarif(sarif_validator, out)
        assert log["runs"][0]["results"] == [] and log["runs"][0]["tool"]["driver"]["rules"] == []
    elif fmt == "codeclimate":
        assert json.loads(out) == []  # GitLab reads an empty array as "no issues"
    elif fmt == "rdjson":
        data = json.loads(out)
        assert data["diagnostics"] == [] and data["source"]["name"] == "reviewer"
    else:
        assert out == ""  # no lines: nothing to report, nothing to parse


# ---- Code Quality (GitLab) ------------------------------------------------------------


@pytest.fixture(scope="module")
def codeclimate_validator() -> Draft7Validator:
    schema = json.loads((DATA / "codeclimate-gitlab.schema.json").read_text(encoding="utf-8"))
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema)


@pytest.mark.parametrize("review", [sample_review, rich_review, empty_review])
def test_codeclimate_validates_against_gitlabs_format(review, codeclimate_validator):
    issues = json.loads(render("codeclimate", review()))
    errors = list(codeclimate_validator.iter_errors(issues))
    assert not errors, [e.message for e in errors]
    assert len({i["fingerprint"] for i in issues}) == len(issues)  # GitLab matches base/head issues by it


def test_codeclimate_schema_check_is_not_vacuous(codeclimate_validator):
    issues = json.loads(render("codeclimate", sample_review()))
    issues[0]["severity"] = "high"  # GitLab's scale is info..blocker
    del issues[1]["location"]["lines"]
    assert len(list(codeclimate_validator.iter_errors(issues))) == 2


def test_codeclimate_fields():
    issues = json.loads(render("codeclimate", rich_review()))
    sql = next(i for i in issues if i["check_name"] == "reviewer/security/sql-built-with-string-formatting")
    assert sql["severity"] == "critical" and sql["location"] == {"path": "app/users.py", "lines": {"begin": 11, "end": 11}}
    assert sql["description"].startswith("SQL built with string formatting")
    assert [i["check_name"] for i in issues].count("bandit/B608") == 2


# ---- SARIF -------------------------------------------------------------------------


@pytest.mark.parametrize("review", [sample_review, rich_review, empty_review])
def test_sarif_validates_against_official_schema(review, sarif_validator):
    assert_valid_sarif(sarif_validator, render("sarif", review()))


def test_sarif_schema_check_is_not_vacuous(sarif_validator):
    log = json.loads(render("sarif", sample_review()))
    log["runs"][0]["results"][0]["level"] = "critical"
    del log["runs"][0]["tool"]["driver"]["name"]
    assert len(list(sarif_validator.iter_errors(log))) == 2


def test_sarif_run_shape():
    log = json.loads(render("sarif", sample_review()))
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-2.1.0.json")
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    import reviewer

    assert driver["name"] == "reviewer" and driver["semanticVersion"] == reviewer.__version__
    assert driver["informationUri"].startswith("https://")
    assert "%SRCROOT%" in run["originalUriBaseIds"]
    assert run["invocations"][0]["executionSuccessful"] is True
    assert "static/logo.png" in run["invocations"][0]["toolExecutionNotifications"][0]["message"]["text"]
    loc = run["results"][1]["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"] == {"uri": "app/users.py", "uriBaseId": "%SRCROOT%"}
    assert loc["region"]["startLine"] == 11 and loc["region"]["endLine"] == 11
    assert loc["region"]["snippet"]["text"] == '    cur = db.execute(f"SELECT * FROM users WHERE id = {user_id}")'


def test_sarif_levels_and_rules():
    log = json.loads(render("sarif", rich_review()))
    run = log["runs"][0]
    rules, results = run["tool"]["driver"]["rules"], run["results"]
    level = {"high": "error", "medium": "warning", "low": "note"}
    for r in results:
        assert r["level"] == level[r["properties"]["severity"]]
        assert rules[r["ruleIndex"]]["id"] == r["ruleId"]
    ids = [r["ruleId"] for r in results]
    assert ids[:2] == ["reviewer/performance/manual-sum-loop", "reviewer/security/sql-built-with-string-formatting"]
    assert ids[2] == ids[3] == "bandit/B608"  # one rule for the analyzer's two hits
    assert len(rules) == len(set(ids)) == 5
    by_id = {r["id"]: r for r in rules}
    sql = by_id["reviewer/security/sql-built-with-string-formatting"]
    assert sql["defaultConfiguration"]["level"] == "error"
    assert sql["properties"]["security-severity"] == "8.0" and "security" in sql["properties"]["tags"]
    assert sql["help"]["text"] and sql["help"]["markdown"] and sql["fullDescription"]["text"]
    bandit = by_id["bandit/B608"]
    assert bandit["name"] == "hardcoded_sql_expressions"
    assert bandit["properties"]["security-severity"] == "5.5" and "bandit" in bandit["properties"]["tags"]
    perf = by_id["reviewer/performance/manual-sum-loop"]
    assert "security-severity" not in perf["properties"] and "security" not in perf["properties"]["tags"]
    assert perf["defaultConfiguration"]["level"] == "note"
    assert perf["properties"]["problem.severity"] == "recommendation"


def test_sarif_rule_ids_are_stable_and_slugged():
    from reviewer.sinks.sarif import rule_id

    f = sample_review().findings[1]
    assert rule_id(f) == rule_id(replace(f, line=99, message="other words"))
    assert rule_id(replace(f, title="  SQL built with string-formatting!! ")) == rule_id(f)
    assert re.fullmatch(r"[a-z]+/[a-z]+/[a-z0-9-]+", rule_id(replace(f, title="ÄÖ <script> ../../etc")))


def test_sarif_fingerprints_stable_and_line_specific():
    review = rich_review()
    a = json.loads(render("sarif", review))["runs"][0]["results"]
    b = json.loads(render("sarif", review))["runs"][0]["results"]
    hashes = [r["partialFingerprints"]["primaryLocationLineHash"] for r in a]
    assert hashes == [r["partialFingerprints"]["primaryLocationLineHash"] for r in b]
    assert all(re.fullmatch(r"[0-9a-f]{16}:\d+", h) for h in hashes)
    assert hashes[2] != hashes[3]  # same rule, lines 11 and 12
    # line 99 is not in any hunk: falls back to the finding's own fingerprint
    assert hashes[4] == f"{review.findings[4].fingerprint}:1"


def test_sarif_line_hash_ignores_moves_and_whitespace_and_counts_occurrences():
    from reviewer.sinks.sarif import line_hashes

    h = line_hashes({("a.py", 3): "x = 1", ("a.py", 9): "  x  =  1", ("a.py", 5): "y = 2", ("b.py", 1): "x = 1"})
    assert h[("a.py", 3)].split(":") == [h[("a.py", 9)].split(":")[0], "1"]
    assert h[("a.py", 9)].endswith(":2")  # second identical line of the file
    assert h[("b.py", 1)] == h[("a.py", 3)]  # occurrences counted per file
    assert h[("a.py", 5)].split(":")[0] != h[("a.py", 3)].split(":")[0]
    moved = line_hashes({("a.py", 30): "x = 1", ("a.py", 50): "y = 2"})
    assert moved[("a.py", 30)] == h[("a.py", 3)] and moved[("a.py", 50)] == h[("a.py", 5)]


def test_sarif_fixes_replace_the_region():
    results = json.loads(render("sarif", rich_review()))["runs"][0]["results"]
    (fix,) = results[0]["fixes"]
    (change,) = fix["artifactChanges"]
    assert change["artifactLocation"] == {"uri": "app/report.py", "uriBaseId": "%SRCROOT%"}
    (rep,) = change["replacements"]
    assert rep["deletedRegion"] == {"startLine": 41, "endLine": 43}
    assert rep["insertedContent"]["text"] == "    total = sum(xs)"
    assert "fixes" not in results[2]  # bandit: no suggestion
    assert "```" in results[1]["message"]["markdown"]


def test_sarif_escapes_paths_and_model_markdown():
    results = json.loads(render("sarif", rich_review()))["runs"][0]["results"]
    odd = results[-1]
    assert odd["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "src/my%20dir/%C3%BCmlaut.py"
    md = odd["message"]["markdown"]
    assert "\\<b\\>" in md and "\\[names\\]" in md
    assert "````\n```\n    _ = 1\n```\n````" in md  # the fence outgrows the suggestion's own backticks
    assert odd["message"]["text"].startswith("Use `_` for *unused* [names]: ")


# ---- rdjson / rdjsonl --------------------------------------------------------------

# Field names of reviewdog/proto/rdf/reviewdog.proto (proto names; protojson also reads them).
RD_RESULT = {"diagnostics", "source", "severity"}
RD_DIAGNOSTIC = {"message", "location", "severity", "source", "code", "suggestions", "original_output",
                 "related_locations"}
RD_LOCATION = {"path", "range"}
RD_RANGE = {"start", "end"}
RD_POSITION = {"line", "column"}
RD_SUGGESTION = {"range", "text"}
RD_SOURCE = {"name", "url"}
RD_CODE = {"value", "url"}
RD_SEVERITY = {"UNKNOWN_SEVERITY", "ERROR", "WARNING", "INFO"}


def check_range(r: dict) -> None:
    assert set(r) <= RD_RANGE and "start" in r
    for pos in r.values():
        assert set(pos) <= RD_POSITION and isinstance(pos["line"], int) and pos["line"] >= 1


def check_diagnostic(d: dict) -> None:
    assert set(d) <= RD_DIAGNOSTIC, set(d) - RD_DIAGNOSTIC
    assert isinstance(d["message"], str) and d["message"]
    assert set(d["location"]) <= RD_LOCATION
    check_range(d["location"]["range"])
    assert d["severity"] in RD_SEVERITY
    assert set(d["source"]) <= RD_SOURCE and set(d["code"]) <= RD_CODE
    for s in d.get("suggestions", []):
        assert set(s) <= RD_SUGGESTION
        check_range(s["range"])
    assert isinstance(d.get("original_output", ""), str)


def test_rdjson_fields_follow_the_proto():
    data = json.loads(render("rdjson", rich_review()))
    assert set(data) <= RD_RESULT and data["severity"] == "ERROR"
    assert set(data["source"]) <= RD_SOURCE and data["source"]["name"] == "reviewer"
    for d in data["diagnostics"]:
        check_diagnostic(d)
    perf, sql, b1 = data["diagnostics"][:3]
    assert perf["location"] == {"path": "app/report.py", "range": {"start": {"line": 41}, "end": {"line": 43}}}
    assert perf["severity"] == "INFO" and sql["severity"] == "ERROR" and b1["severity"] == "WARNING"
    assert perf["suggestions"] == [{"range": perf["location"]["range"], "text": "    total = sum(xs)"}]
    assert sql["code"] == {"value": "reviewer/security/sql-built-with-string-formatting"}
    assert b1["code"]["value"] == "bandit/B608" and "suggestions" not in b1
    assert json.loads(sql["original_output"])["fingerprint"] == sample_review().findings[1].fingerprint


def test_rdjsonl_is_one_diagnostic_per_line():
    review = rich_review()
    lines = render("rdjsonl", review).splitlines()
    assert len(lines) == len(review.findings)
    diagnostics = [json.loads(line) for line in lines]
    for d in diagnostics:
        check_diagnostic(d)
    assert diagnostics == json.loads(render("rdjson", review))["diagnostics"]


def test_rdjsonl_keeps_newlines_in_model_text_inside_one_line():
    f = replace(sample_review().findings[1], message="line one\nline two\r\n{\"x\": 1}")
    out = render("rdjsonl", replace(sample_review(), findings=(f,)))
    assert out.count("\n") == 1 and json.loads(out)["message"].endswith("line one\nline two\r\n{\"x\": 1}")


# ---- GitHub workflow commands ------------------------------------------------------


def unescape_data(s: str) -> str:
    """The runner's decoding (actions/runner ActionCommand), for round-trip checks."""
    return s.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")


def unescape_property(s: str) -> str:
    return s.replace("%0D", "\r").replace("%0A", "\n").replace("%3A", ":").replace("%2C", ",").replace("%25", "%")


def parse_command(line: str) -> tuple[str, dict[str, str], str]:
    """Split one line the way the runner does: `::name k=v,k=v::data`."""
    assert line.startswith("::")
    head, _, data = line[2:].partition("::")
    name, _, props = head.partition(" ")
    pairs = dict(p.split("=", 1) for p in props.split(",")) if props else {}
    return name, {k: unescape_property(v) for k, v in pairs.items()}, unescape_data(data)


def test_github_escaping_rules():
    from reviewer.sinks.annotations import escape_data, escape_property

    assert escape_data("100% a\r\nb: c, d") == "100%25 a%0D%0Ab: c, d"
    assert escape_property("100% a\r\nb: c, d") == "100%25 a%0D%0Ab%3A c%2C d"
    assert escape_data("%0A") == "%250A"  # a literal escape sequence stays literal


def test_github_annotations():
    lines = render("github", sample_review()).splitlines()
    assert len(lines) == 2
    name, props, data = parse_command(lines[1])
    assert name == "error"
    assert props == {"file": "app/users.py", "line": "11", "endLine": "11",
                     "title": "security: SQL built with string formatting"}
    assert data.startswith("user_id is interpolated") and "Suggested change:\n" in data
    assert parse_command(lines[0])[0] == "notice"
    medium = replace(sample_review().findings[1], severity=Severity.MEDIUM)
    assert render("github", replace(sample_review(), findings=(medium,))).startswith("::warning ")


def test_github_model_text_cannot_inject_workflow_commands():
    evil = Finding(
        path="app/a,b:c%0A.py", line=3, end_line=4, category=Category.BUG, severity=Severity.HIGH,
        title="t\n::add-mask::hunter2\r::set-output name=x::y",
        message="m\r\n::error file=evil.py,line=1::pwned\n::stop-commands::tok\n%0A::warning::sneaky",
        suggestion="x = 1\n::endgroup::\n",
    )
    out = render("github", replace(sample_review(), findings=(evil,)))
    lines = out.splitlines()
    assert len(lines) == 1 and out.endswith("\n") and "\r" not in out
    name, props, data = parse_command(lines[0])
    assert name == "error"
    assert set(props) == {"file", "line", "endLine", "title"}  # no smuggled property
    assert props["file"] == evil.path and props["title"] == f"bug: {evil.title}"
    assert data == f"{evil.message}\n\nSuggested change:\nx = 1\n::endgroup::"
