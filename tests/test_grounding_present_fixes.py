"""Rule 6 (reviewer/grounding/present_fixes.py) as a registered rule; the suggestions it reads and
the claims it lowers are tested in test_suggested_fix.py."""

from dataclasses import replace

from helpers import make_finding, make_hunk

from reviewer.grounding import FIX_PRESENT_NOTE
from reviewer.grounding import present_fixes as rule
from reviewer.grounding.facts import FileFacts
from reviewer.grounding.rule import Evidence
from reviewer.types import Category, Severity

HUNK = make_hunk(path="q.py", removed=("    if x > pivot:",), added=("    if x >= pivot:",), before=(), after=())


def test_the_rule_lowers_a_bug_claim_whose_fix_the_line_already_reads_as() -> None:
    claim = replace(make_finding(line=10, category=Category.BUG, title="Incorrect comparison", path="q.py"),
                    suggestion="Change `x > pivot` to `x >= pivot`.")
    assert rule.applies(()) and rule.applies((claim,))
    (f,) = rule.apply((claim,), Evidence(HUNK, (), FileFacts(None)))
    assert f.severity is Severity.LOW and f.message.endswith(FIX_PRESENT_NOTE.format(code="x >= pivot"))
    backwards = replace(claim, suggestion="Change `x >= pivot` to `x > pivot`.")  # a real claim
    assert rule.apply((backwards,), Evidence(HUNK, (), FileFacts(None))) == (backwards,)
