"""Rule 4: an injection-type claim in a function where no untrusted input reaches any sink is lowered to `low`.

The model calls a handler that reads a cookie "SQL injection" also when the value is
thrown away before the query (`bar = lst[1]` after `lst.pop(0)`), or bound as a query
parameter: 12 of the 15 false alarms left on the 33 safe OWASP handlers of
docs/quality.md. `reviewer/dataflow/` follows values through each function of the whole
new file; an injection-type claim (injection, traversal, eval, deserialization,
redirect...) in a function where no untrusted value (request data, and to be safe any
parameter) reaches any dangerous call is lowered to `low` with a note. Claims of kinds the
analysis has no sinks for (log, header, template injection...), claims that are about no
flow (a hardcoded secret, a weak hash) and claims in files it cannot parse are left alone.
bandit's warnings on the same calls (eval, pickle, a shell, an SQL string) are lowered
the same way where findings are reported (`ground_analyzer_flows`): bandit rates
`eval(x)` whatever `x` holds, and merged with the model's lowered claim on that line it
would raise it back to an alarm.
"""

from __future__ import annotations

import re

from reviewer.dataflow import TaintReport
from reviewer.grounding.claims import demoted, is_alarm_claim
from reviewer.grounding.facts import FileFacts
from reviewer.grounding.rule import Evidence
from reviewer.types import Category, Finding, Severity

TAINT_NOTE = "(lowered to low: no untrusted input reaches a dangerous call in this function)"

# Claims about untrusted data reaching a sink that reviewer/dataflow/ models ...
_FLOW_CLAIM = re.compile(
    r"""(?xi) inject | travers | \bxss\b | cross.site.scripting | \beval\b | \bexec | code.execution |
    deseriali[sz] | pickl | \byaml\b | marshal | \bcommand | \bshell\b | \bsql | xpath | ldap | redirect | \burls?\b |
    \bssrf\b | server.side.request | \bpath\b | arbitrary.file |
    untrusted | unsanitized | unvalidated | user.(input|supplied|controlled|data) | tainted"""
)
# ... unless it names a kind the analysis has no sinks for (which it therefore cannot clear), or a
# weakness that is no flow at all (a hardcoded secret, a weak hash: "the file path is hardcoded").
_NOT_A_MODELLED_FLOW = re.compile(
    r"(?i)\blog|header|template|\bxxe\b|external.entit|\bxml\b|\bssti\b|jinja|regex|redos|format.string|"
    r"nosql|mongo|csv|e-?mail|smtp|\bzip|\btar|archive|billion.laughs|xml.bomb|\bcrlf|response.splitting|"
    r"hard.?coded|secret|password|credential|\bhash|md5|sha-?1\b|crypt|random|cookie|\btoken|\bkey\b|debug|permission"
)


def is_flow_claim(finding: Finding) -> bool:
    """A model security alarm about untrusted data reaching a sink reviewer/dataflow/ knows."""
    if finding.category is not Category.SECURITY or not is_alarm_claim(finding):
        return False
    # The title names the claim; the message often names the source too ("the cookie's value
    # reaches the query"), so it decides only when the title says neither.
    for text in (finding.title, finding.message):
        if _NOT_A_MODELLED_FLOW.search(text):
            return False
        if _FLOW_CLAIM.search(text):
            return True
    return False


def ground_untainted_claims(findings: tuple[Finding, ...], report: TaintReport | None) -> tuple[Finding, ...]:
    """The model's findings, with flow claims in functions where no untrusted value reaches any
    sink lowered to `low`. `report` is the taint analysis of the whole new file (None: unknown)."""
    if report is None:
        return findings
    out = []
    for f in findings:
        if is_flow_claim(f):
            scope = report.scope_at(f.line)
            if scope is not None and scope.analyzed and not scope.flows:
                f = demoted(f, Severity.LOW, TAINT_NOTE)
        out.append(f)
    return tuple(out)


# bandit's tests for calls that are dangerous only with untrusted input: eval/exec, pickle,
# marshal, yaml.load, a shell, an SQL string, urlopen. (Its XML parser tests are about
# entity handling, which the taint analysis does not judge.)
_BANDIT_FLOW_TESTS = frozenset({"B102", "B307", "B301", "B302", "B506", "B602", "B604", "B605", "B608", "B310"})
_BANDIT_TEST_ID = re.compile(r"\((B\d{3})\)$")


def ground_analyzer_flows(findings: tuple[Finding, ...], facts: FileFacts) -> tuple[Finding, ...]:
    """Analyzer findings, with bandit's dangerous-call warnings lowered to `low` like the model's
    flow claims: where the taint analysis saw no untrusted value reach any sink in the function.

    bandit rates `eval(x)` medium whatever `x` is; merged with the model's claim on the same
    line it would otherwise raise a claim this rule lowered back to an alarm. Applied where
    analyzer findings are reported (not to the hints the model is shown, so prompts do not change).
    """
    out = []
    for f in findings:
        test = _BANDIT_TEST_ID.search(f.title)
        if f.source == "bandit" and test and test.group(1) in _BANDIT_FLOW_TESTS and f.severity is not Severity.LOW:
            report = facts.taint_of(f.path)
            scope = report.scope_at(f.line) if report is not None else None
            if scope is not None and scope.analyzed and not scope.flows:
                f = demoted(f, Severity.LOW, TAINT_NOTE)
        out.append(f)
    return tuple(out)


def applies(findings: tuple[Finding, ...]) -> bool:
    """Only with a flow claim to lower: the taint analysis runs on the whole file."""
    return any(is_flow_claim(f) for f in findings)


def apply(findings: tuple[Finding, ...], evidence: Evidence) -> tuple[Finding, ...]:
    return ground_untainted_claims(findings, evidence.facts.taint(evidence.hunk))
