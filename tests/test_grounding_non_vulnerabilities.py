"""Rule 5 (reviewer/grounding/non_vulnerabilities.py) as a registered rule; the claims it lowers and
the digest question it asks are tested in test_digests.py."""

from helpers import make_finding, make_hunk

from reviewer.grounding import PATH_NOTE, is_cleartext_storage_claim, is_hardcoded_path_claim
from reviewer.grounding import non_vulnerabilities as rule
from reviewer.grounding.facts import FileFacts
from reviewer.grounding.rule import Evidence
from reviewer.types import Severity


def test_the_rule_runs_only_with_a_path_or_cleartext_claim() -> None:
    path = make_finding(line=11, title="Hardcoded file path")
    stored = make_finding(line=11, title="Sensitive data stored in plain text")
    other = make_finding(line=11, title="SQL Injection")
    assert is_hardcoded_path_claim(path) and is_cleartext_storage_claim(stored)
    assert rule.applies((other, path)) and rule.applies((stored,)) and not rule.applies((other,))


def test_the_rule_lowers_a_hardcoded_path_claim_whatever_the_file() -> None:
    claim = make_finding(line=11, title="Hardcoded file path")
    (f,) = rule.apply((claim,), Evidence(make_hunk(), (), FileFacts(None)))
    assert f.severity is Severity.LOW and f.message.endswith(PATH_NOTE)
