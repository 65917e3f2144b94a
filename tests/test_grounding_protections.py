"""Rule 7 (reviewer/grounding/protections.py): security claims on a line that turns a protection
on are lowered."""

from dataclasses import replace

import pytest
from helpers import make_finding, make_hunk

from reviewer.grounding import PROTECTION_NOTE, ground_protection_claims, turns_protection_on
from reviewer.grounding import protections as rule
from reviewer.grounding.facts import FileFacts
from reviewer.grounding.rule import Evidence
from reviewer.types import Category, Severity


@pytest.mark.parametrize("line, on", [
    ("    ctx.check_hostname = True", True),
    ("context.verify_mode = ssl.CERT_REQUIRED", True),
    ("app.config['SESSION_COOKIE_SECURE'] = True  # HTTPS only", True),
    ("parser.resolve_entities = False", True),
    ("ctx.check_hostname = False", False),  # turned off: a claim here may well be right
    ("ctx.verify_mode = ssl.CERT_NONE", False),
    ("app.config['WTF_CSRF_ENABLED'] = False", False),
    ("requests.get(url, verify=True)", False),  # a call: the request itself may be the flaw
    ("ctx.check_hostname = True; ctx.load_verify_locations(path)", False),
    ("debug = True", False),
])
def test_a_line_that_turns_a_protection_on(line: str, on: bool) -> None:
    assert turns_protection_on(line) is on


def test_a_security_claim_on_a_protection_switched_on_is_lowered() -> None:
    hunk = make_hunk(path="tls.py", removed=(), added=("    ctx.check_hostname = True", "    ctx.verify_mode = x"),
                     before=("def context(x):",), after=())
    claim = replace(make_finding(line=11, title="Incorrect check_hostname setting", path="tls.py"), end_line=11)
    (f,) = ground_protection_claims((claim,), hunk)
    assert f.severity is Severity.LOW and f.message.endswith(PROTECTION_NOTE)
    spanning = replace(claim, end_line=12)  # line 12 sets verify_mode to something unknown
    bug = replace(claim, category=Category.BUG)
    assert ground_protection_claims((spanning, bug), hunk) == (spanning, bug)


def test_the_rule_always_runs_on_the_hunk() -> None:
    hunk = make_hunk(path="tls.py", removed=(), added=("    ctx.check_hostname = True",), before=(), after=(), start=1)
    claim = make_finding(line=1, title="Incorrect check_hostname setting", path="tls.py")
    assert rule.applies(())
    (f,) = rule.apply((claim,), Evidence(hunk, (), FileFacts(None)))
    assert f.severity is Severity.LOW and f.message.endswith(PROTECTION_NOTE)
