"""Rule 4 (reviewer/grounding/untainted.py): injection claims where no untrusted input reaches
a sink, the model's and bandit's, are lowered."""

import textwrap

import pytest
from helpers import make_hunk

from reviewer.analyzers import analyze
from reviewer.backends.fake import FakeBackend
from reviewer.dataflow import analyze_source
from reviewer.grounding import TAINT_NOTE, ground_untainted_claims, is_flow_claim
from reviewer.grounding import untainted as rule
from reviewer.grounding.facts import FileFacts
from reviewer.grounding.rule import Evidence
from reviewer.pipeline import run_review
from reviewer.types import Category, Finding, ParsedDiff, Severity


def _added_file(path: str, text: str) -> ParsedDiff:
    lines = tuple(text.splitlines())
    hunk = make_hunk(path=path, removed=(), added=lines, before=(), after=(), start=1)
    return ParsedDiff((hunk,), sources={path: lines})


SAFE_HANDLER = textwrap.dedent("""\
    from flask import request

    @app.route('/user', methods=['POST'])
    def user():
        name = request.cookies.get("name")
        cur.execute("SELECT * FROM users WHERE name = ?", (name,))
        return "ok"
    """)


def claim(title: str, line: int = 6, message: str = "The cookie's value reaches the query.") -> Finding:
    return Finding("app.py", line, line, Category.SECURITY, Severity.HIGH, title, message)


def test_a_flow_claim_where_no_input_flows_is_lowered_with_a_note() -> None:
    report = analyze_source(SAFE_HANDLER)
    (f,) = ground_untainted_claims((claim("SQL Injection"),), report)
    assert f.severity is Severity.LOW and f.message.endswith(TAINT_NOTE)
    unsafe = analyze_source(SAFE_HANDLER.replace('"SELECT * FROM users WHERE name = ?", (name,)',
                                                 "f\"SELECT * FROM users WHERE name = '{name}'\""))
    assert ground_untainted_claims((claim("SQL Injection"),), unsafe)[0].severity is Severity.HIGH


@pytest.mark.parametrize("title", ["Hard-coded secret", "Log injection", "Weak hash (MD5)", "XXE in parser"])
def test_claims_the_analysis_cannot_judge_are_left_alone(title: str) -> None:
    f = claim(title, message="The file path is hardcoded.")
    assert not is_flow_claim(f)
    assert ground_untainted_claims((f,), analyze_source(SAFE_HANDLER)) == (f,)


def test_no_report_or_an_unparsed_file_lowers_nothing() -> None:
    f = claim("SQL Injection")
    assert ground_untainted_claims((f,), None) == (f,)
    assert is_flow_claim(claim("Potential security vulnerability", message="pickle.loads on user data"))
    assert not is_flow_claim(Finding("a.py", 1, 1, Category.BUG, Severity.HIGH, "SQL Injection", "m"))


def test_the_review_lowers_the_models_injection_claim_on_a_safe_handler(config) -> None:
    answer = {"analysis": "", "findings": [{"line": 6, "category": "security", "severity": "high",
                                            "title": "SQL Injection", "message": "cookie into query", "suggestion": ""}]}
    review = run_review(_added_file("app.py", SAFE_HANDLER), FakeBackend(responses=[answer]), config, cache=None)
    (f,) = review.findings
    assert (f.severity, f.source) == (Severity.LOW, "model") and f.message.endswith(TAINT_NOTE)


GUARDED_EVAL = textwrap.dedent("""\
    from flask import request

    @app.route('/calc', methods=['POST'])
    def calc():
        expr = request.form['expr']
        if not expr.startswith("'") or not expr.endswith("'"):
            return 'only a quoted literal'
        return str(len(eval(expr)))
    """)


def test_bandits_dangerous_call_warning_is_grounded_where_reported_not_where_shown(config) -> None:
    """bandit rates eval medium whatever it evaluates; merged with the model's lowered claim on the
    same line it would make the claim an alarm again. The model still sees bandit's hint as it was."""
    parsed = _added_file("app.py", GUARDED_EVAL)
    hints = analyze(parsed)
    (bandit,) = [f for f in hints if f.source == "bandit" and "B307" in f.title]
    assert bandit.severity is Severity.MEDIUM and bandit.line == 8
    answer = {"analysis": "", "findings": [{"line": 8, "category": "security", "severity": "high",
                                            "title": "Use of eval", "message": "eval on user input", "suggestion": ""}]}
    backend = FakeBackend(responses=[answer])
    review = run_review(parsed, backend, config, cache=None, hints=hints)
    assert "ast.literal_eval" in backend.calls[0][1]["content"] and TAINT_NOTE not in backend.calls[0][1]["content"]
    (f,) = [f for f in review.findings if f.line == 8]
    assert (f.source, f.severity) == ("model", Severity.LOW) and f.message.endswith(TAINT_NOTE)
    unguarded = _added_file("app.py", GUARDED_EVAL.replace("if not expr.startswith(\"'\") or not expr.endswith(\"'\")",
                                                           "if not expr"))  # a presence check guards nothing
    assert any(f.line == 8 and f.severity is not Severity.LOW
               for f in run_review(unguarded, FakeBackend(responses=[answer]), config, cache=None,
                                   hints=analyze(unguarded)).findings)


def test_the_rule_runs_only_with_a_flow_claim_and_analyses_the_hunks_file() -> None:
    parsed = _added_file("app.py", SAFE_HANDLER)
    facts = FileFacts(parsed.sources)
    style = Finding("app.py", 6, 6, Category.STYLE, Severity.HIGH, "SQL Injection", "m")
    assert not rule.applies((style,)) and rule.applies((style, claim("SQL Injection")))
    (f,) = rule.apply((claim("SQL Injection"),), Evidence(parsed.hunks[0], (), facts))
    assert f.severity is Severity.LOW and f.message.endswith(TAINT_NOTE)
