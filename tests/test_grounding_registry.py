"""The grounding rules' registry (reviewer/grounding/registry.py): its declared order, that every
rule module is in it, and that running it is the rules applied one after another."""

import importlib
import pkgutil
from dataclasses import replace

from helpers import make_finding, make_hunk

import reviewer.grounding
from reviewer.grounding import RULES, ground_model_findings
from reviewer.grounding.facts import FileFacts
from reviewer.grounding.rule import Evidence
from reviewer.types import Category, Severity

# The package's modules that are not rules. A module added to the package is either one of
# these or a rule, and a rule must be registered: test_every_rule_module_is_registered.
HELPERS = {"claims", "facts", "lines", "registry", "rule"}


def test_the_rules_run_in_their_declared_order() -> None:
    assert [rule.__name__.rsplit(".", 1)[-1] for rule in RULES] == [
        "plain_lines", "lint_echoes", "prose", "untainted", "non_vulnerabilities", "present_fixes", "protections",
        "imports"]


def test_every_rule_module_is_registered() -> None:
    modules = {m.name for m in pkgutil.iter_modules(reviewer.grounding.__path__)}
    assert HELPERS <= modules
    rules = modules - HELPERS
    assert {rule.__name__ for rule in RULES} == {f"reviewer.grounding.{name}" for name in rules}
    assert len(set(RULES)) == len(RULES)
    for name in rules:
        module = importlib.import_module(f"reviewer.grounding.{name}")
        assert callable(getattr(module, "applies", None)) and callable(getattr(module, "apply", None)), name


def test_grounding_is_each_rule_that_applies_in_turn() -> None:
    hunk = make_hunk(removed=("    total = 0",), added=("    total = 1",))  # line 11 touches nothing
    findings = (make_finding(line=11), replace(make_finding(line=11, category=Category.BUG), source="model"))
    facts = FileFacts(None)
    expected = findings
    for rule in RULES:
        if rule.applies(expected):
            expected = rule.apply(expected, Evidence(hunk, (), facts))
    assert ground_model_findings(findings, hunk, (), facts) == expected
    assert [f.severity for f in expected] == [Severity.LOW, Severity.HIGH]


def test_a_rule_lowers_only_what_earlier_rules_left_an_alarm() -> None:
    """A claim on an import line that touches nothing keeps the first rule's note, not the eighth's."""
    hunk = make_hunk(path="h.py", removed=(), before=(), after=(), start=1, added=("import collections",))
    (f,) = ground_model_findings((make_finding(line=1, path="h.py", title="Unsafe import"),), hunk, (), FileFacts(None))
    assert f.severity is Severity.LOW
    assert f.message.endswith(reviewer.grounding.LOWERED_NOTE) and reviewer.grounding.IMPORT_NOTE not in f.message
