"""Rule 8 (reviewer/grounding/imports.py): security claims on import statements are lowered."""

from dataclasses import replace

from helpers import make_finding, make_hunk

from reviewer.grounding import IMPORT_NOTE, ground_import_claims, is_import
from reviewer.grounding import imports as rule
from reviewer.grounding.facts import FileFacts
from reviewer.grounding.rule import Evidence
from reviewer.types import Category, Severity


def test_a_security_claim_on_imports_only_is_lowered() -> None:
    hunk = make_hunk(path="h.py", removed=(), before=(), after=(), start=1,
                     added=("import xml.etree.ElementTree as ET", "from lxml import etree", "root = ET.parse(f)"))
    on_import = replace(make_finding(line=1, title="XML Parsing Vulnerability", path="h.py"), end_line=2)
    (f,) = ground_import_claims((on_import,), hunk)
    assert f.severity is Severity.LOW and f.message.endswith(IMPORT_NOTE)
    on_use = replace(on_import, end_line=3)  # reaches the line that parses
    bug = replace(on_import, category=Category.BUG)  # "No module named ..." is a real bug
    assert ground_import_claims((on_use, bug), hunk) == (on_use, bug)


def test_is_import() -> None:
    assert is_import("import os") and is_import("  from a.b import c")
    assert not is_import("important = 1") and not is_import("x = __import__('os')")


def test_the_rule_always_runs_on_the_hunk() -> None:
    hunk = make_hunk(path="h.py", removed=(), before=(), after=(), start=1, added=("import pickle",))
    claim = make_finding(line=1, title="Insecure deserialization", path="h.py")
    assert rule.applies(())
    (f,) = rule.apply((claim,), Evidence(hunk, (), FileFacts(None)))
    assert f.severity is Severity.LOW and f.message.endswith(IMPORT_NOTE)
