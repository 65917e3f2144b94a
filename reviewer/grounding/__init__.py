"""Ground the model's claims in the code they point at and the hints it was shown.

Eight rules on the model's findings, one module each, run in the order `registry.RULES`
declares; analyzer findings are left alone, except bandit's dangerous-call warnings,
which the fourth rule grounds too (`ground_analyzer_flows`, where findings are reported):

1. `plain_lines`: security claims on lines that touch nothing security-relevant.
2. `lint_echoes`: a model finding that repeats a ruff hint keeps ruff's severity.
3. `prose`: claims on comments, docstrings and blank lines.
4. `untainted`: injection claims where no untrusted input reaches a sink (reviewer/dataflow/).
5. `non_vulnerabilities`: "hardcoded path", and cleartext storage of a hash digest.
6. `present_fixes`: bug claims whose suggested fix the code already reads as.
7. `protections`: security claims on a line that turns a protection on.
8. `imports`: security claims on import statements.

Each lowers a claim to `low` (no alarm, the hook does not fail) with a note saying why;
each module's docstring gives the reason and what was measured. Shared pieces:
`claims` (predicates and `demoted`), `lines` (a line's code part), `facts` (whole new
files, worked out once and only when asked), `rule` (the Protocol a rule module satisfies).
"""

from reviewer.grounding.claims import demoted, ground_security_claims_on, is_alarm_claim
from reviewer.grounding.facts import FileFacts, hunk_prose, prose_lines
from reviewer.grounding.imports import IMPORT_NOTE, ground_import_claims, is_import
from reviewer.grounding.lines import code_part, shown_lines
from reviewer.grounding.lint_echoes import ECHO_NOTE, ECHO_OVERLAP, ECHO_SOURCES, echoes, ground_echoed_hints
from reviewer.grounding.non_vulnerabilities import (
    DIGEST_NOTE,
    PATH_NOTE,
    ground_non_vulnerabilities,
    is_cleartext_storage_claim,
    is_hardcoded_path_claim,
)
from reviewer.grounding.plain_lines import LOWERED_NOTE, ground_security_claims, lowers, touches_security
from reviewer.grounding.present_fixes import FIX_PRESENT_NOTE, ground_present_fixes
from reviewer.grounding.prose import PROSE_NOTE, ground_prose_claims
from reviewer.grounding.protections import PROTECTION_NOTE, ground_protection_claims, turns_protection_on
from reviewer.grounding.registry import RULES, ground_model_findings
from reviewer.grounding.rule import Evidence, Rule
from reviewer.grounding.untainted import TAINT_NOTE, ground_analyzer_flows, ground_untainted_claims, is_flow_claim

__all__ = [
    "DIGEST_NOTE", "ECHO_NOTE", "ECHO_OVERLAP", "ECHO_SOURCES", "FIX_PRESENT_NOTE", "IMPORT_NOTE", "LOWERED_NOTE",
    "PATH_NOTE", "PROSE_NOTE", "PROTECTION_NOTE", "RULES", "TAINT_NOTE", "Evidence", "FileFacts", "Rule",
    "code_part", "demoted", "echoes", "ground_analyzer_flows", "ground_echoed_hints", "ground_import_claims",
    "ground_model_findings", "ground_non_vulnerabilities", "ground_present_fixes", "ground_prose_claims",
    "ground_protection_claims", "ground_security_claims", "ground_security_claims_on", "ground_untainted_claims",
    "hunk_prose", "is_alarm_claim", "is_cleartext_storage_claim", "is_flow_claim", "is_hardcoded_path_claim",
    "is_import", "lowers", "prose_lines", "shown_lines", "touches_security", "turns_protection_on",
]
