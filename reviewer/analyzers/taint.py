"""reviewer's own taint analysis (reviewer/dataflow/) on one source text, as reviewer Findings.

A finding is reported where request data (not the command line, stdin or environment of
a CLI, which are its operator's; not mere function parameters) reaches a dangerous call with nothing on the
way that makes it safe for that call. Whole files only: a hunk alone does not show where
its values come from.
"""

from __future__ import annotations

from typing import NamedTuple

from reviewer.dataflow import USER, Flow, TaintReport, analyze_source
from reviewer.types import Category, Finding, Severity

VERSION = "2"  # part of the analyzer cache key: bump when the analysis changes its answers


class _Kind(NamedTuple):
    severity: Severity
    title: str
    consequence: str


_KINDS = {
    "code": _Kind(Severity.HIGH, "Untrusted input is executed as code", "whoever sends it chooses the code that runs"),
    "deserialization": _Kind(Severity.HIGH, "Untrusted input is deserialized",
                             "a crafted payload can run code while it is loaded"),
    "command": _Kind(Severity.HIGH, "Untrusted input reaches a shell command",
                     "it can add commands of its own (command injection)"),
    "sql": _Kind(Severity.HIGH, "Untrusted input is built into an SQL query",
                 "it can change the query (SQL injection); pass it as a bound parameter"),
    "path": _Kind(Severity.MEDIUM, "Untrusted input chooses a file path",
                  "`../` can reach files outside the intended directory (path traversal)"),
    "xpath": _Kind(Severity.MEDIUM, "Untrusted input is built into an XPath query",
                   "it can change the query (XPath injection)"),
    "ldap": _Kind(Severity.MEDIUM, "Untrusted input is built into an LDAP filter",
                  "it can change the filter (LDAP injection)"),
    "xml": _Kind(Severity.MEDIUM, "Untrusted XML is parsed with external entities on",
                 "it can read local files or reach internal hosts (XXE)"),
    "redirect": _Kind(Severity.MEDIUM, "Untrusted input chooses a redirect target",
                      "a link to this site can send users anywhere (open redirect)"),
    "request": _Kind(Severity.MEDIUM, "Untrusted input chooses an outgoing request's URL",
                     "the server can be made to call internal hosts (SSRF)"),
    "session": _Kind(Severity.MEDIUM, "Untrusted input is stored in the session",
                     "the session is trusted later (trust boundary violation)"),
    "header": _Kind(Severity.MEDIUM, "Untrusted input is written into a response header",
                    "a line break in it can add headers of its own (header injection)"),
    "xss": _Kind(Severity.MEDIUM, "Untrusted input is returned unescaped",
                 "a browser runs any script it contains (cross-site scripting); escape it"),
}


def taint_findings(path: str, source: str, whole_file: bool) -> list[Finding] | None:
    """Flows of untrusted input into sinks in `source` (the whole new side of `path`)."""
    if not whole_file:
        return []
    report = analyze_source(source)
    return [] if report is None else report_findings(path, report)


def report_findings(path: str, report: TaintReport) -> list[Finding]:
    """One finding per (line, kind) of `report`'s flows of request data."""
    flows = {(f.line, f.kind): f for scope in report.scopes for f in scope.flows if f.taint & USER}
    return [_finding(path, flow) for flow in sorted(flows.values())]


def _finding(path: str, flow: Flow) -> Finding:
    kind = _KINDS[flow.kind]
    sink = "the returned response" if flow.sink == "return" else f"`{flow.sink}`"
    return Finding(
        path=path,
        line=flow.line,
        end_line=flow.line,
        category=Category.SECURITY,
        severity=kind.severity,
        title=kind.title,
        message=(f"Data from the request (or another untrusted source) reaches {sink} here with nothing on the way "
                 f"that makes it safe for it: {kind.consequence}."),
        source="taint",
    )
