"""Rule 7: a security claim on lines that only switch a known protection on is lowered to `low`.

The model misreads settings: "Incorrect check_hostname setting" (high) on
`ctx.check_hostname = True`, and a suggestion to set `verify_mode` to `CERT_NONE` on
`context.verify_mode = ssl.CERT_REQUIRED`. A line that is nothing but an assignment
switching a known protection on (TLS certificate and hostname checks, secure and
HTTP-only session cookies, template autoescaping, XML entity resolution off) cannot be
the vulnerability; a security claim on such lines only is lowered to `low` with a note. A
call that passes the same setting (`requests.get(url, verify=True)`) is not such a line:
the call itself may be the flaw.
"""

from __future__ import annotations

import re

from reviewer.grounding.claims import ground_security_claims_on
from reviewer.grounding.rule import Evidence
from reviewer.types import Finding, Hunk

PROTECTION_NOTE = "(lowered to low: this line turns a protection on, it does not turn one off)"

# An assignment statement and nothing else: `target = value` (an optional trailing comment).
_ASSIGNMENT = re.compile(r"^\s*(?P<target>[\w.]+(?:\[[^\]]+\])?)\s*=\s*(?P<value>[\w.]+)\s*(?:#.*)?$")
# (setting, value) pairs that switch a protection on; the setting is the target's last
# attribute, or its key when it is subscripted (`app.config['SESSION_COOKIE_SECURE']`).
_PROTECTIONS_ON = (
    (re.compile(r"check_hostname"), re.compile(r"True")),
    (re.compile(r"verify_mode"), re.compile(r"(?:ssl\.)?CERT_REQUIRED")),
    (re.compile(r"(?:SESSION|REMEMBER|CSRF)_COOKIE_(?:SECURE|HTTPONLY)|WTF_CSRF_ENABLED"), re.compile(r"True")),
    (re.compile(r"autoescape"), re.compile(r"True")),
    (re.compile(r"resolve_entities"), re.compile(r"False")),
)
_SUBSCRIPT_KEY = re.compile(r"""\[\s*['"]?([\w.]+)['"]?\s*\]$""")


def turns_protection_on(line: str) -> bool:
    """Whether `line` is only an assignment that switches a known protection on."""
    m = _ASSIGNMENT.match(line)
    if m is None:
        return False
    target = m.group("target")
    key = _SUBSCRIPT_KEY.search(target)
    setting = key.group(1) if key else target.rsplit(".", 1)[-1]
    return any(s.fullmatch(setting) and v.fullmatch(m.group("value")) for s, v in _PROTECTIONS_ON)


def ground_protection_claims(findings: tuple[Finding, ...], hunk: Hunk) -> tuple[Finding, ...]:
    """The model's findings, with security claims whose every line turns a protection on
    lowered to `low`."""
    return ground_security_claims_on(findings, hunk, turns_protection_on, PROTECTION_NOTE)


def applies(findings: tuple[Finding, ...]) -> bool:
    """Always: the hunk's lines are at hand."""
    return True


def apply(findings: tuple[Finding, ...], evidence: Evidence) -> tuple[Finding, ...]:
    return ground_protection_claims(findings, evidence.hunk)
