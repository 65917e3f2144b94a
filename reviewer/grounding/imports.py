"""Rule 8: a security claim whose lines are all import statements is lowered to `low`.

Shown bandit's import warning for `xml.etree` as a hint, the model answered "XML Parsing
Vulnerability" (high) on `import xml.etree.ElementTree as ET` in safe handlers. Importing
a module is no vulnerability; using it may be, on the line that uses it.
"""

from __future__ import annotations

import re

from reviewer.grounding.claims import ground_security_claims_on
from reviewer.grounding.rule import Evidence
from reviewer.types import Finding, Hunk

IMPORT_NOTE = "(lowered to low: an import is no vulnerability; a line that uses the module may be)"

_IMPORT = re.compile(r"^\s*(?:import\s+[\w.]+|from\s+[\w.]+\s+import\b)")


def is_import(line: str) -> bool:
    """Whether `line` is an import statement."""
    return bool(_IMPORT.match(line))


def ground_import_claims(findings: tuple[Finding, ...], hunk: Hunk) -> tuple[Finding, ...]:
    """The model's findings, with security claims whose every line is an import lowered to `low`."""
    return ground_security_claims_on(findings, hunk, is_import, IMPORT_NOTE)


def applies(findings: tuple[Finding, ...]) -> bool:
    """Always: the hunk's lines are at hand."""
    return True


def apply(findings: tuple[Finding, ...], evidence: Evidence) -> tuple[Finding, ...]:
    return ground_import_claims(findings, evidence.hunk)
