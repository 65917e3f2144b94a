"""Rule 5: claims that name no vulnerability ("hardcoded path", a digest "stored in plain text") are lowered to `low`.

Two claims the model makes about code that is fine: "Hardcoded file path" (a path written
in the code is no weakness by itself; a path an attacker controls is, and that is the
flow rule's traversal claim), and "Sensitive data stored in plain text" on a line whose
calls take nothing but a hash digest (`f.write(b64encode(hashlib.sha384(pw).digest()))`:
storing the digest is what should be done; reviewer/digests.py decides). Both are lowered
to `low` with a note. A claim that the hash is weak ("MD5 ... stored") is left alone.
"""

from __future__ import annotations

import re

from reviewer.grounding.claims import demoted, is_alarm_claim
from reviewer.grounding.facts import FileFacts
from reviewer.grounding.rule import Evidence
from reviewer.types import Category, Finding, Severity

PATH_NOTE = "(lowered to low: a path written in the code is no vulnerability by itself)"
DIGEST_NOTE = "(lowered to low: what this line stores is a hash digest, not the secret)"

_HARDCODED_PATH = re.compile(
    r"(?i)hard[\s-]?coded\b[\w\s'\"-]{0,40}?\b(paths?|director(y|ies)|folders?|file\s?names?|dirs?|locations?)\b")
_CLEARTEXT_STORAGE = re.compile(
    r"(?i)plain[\s-]?text|clear[\s-]?text|unencrypted|\b(stor(ed|es|ing|age)|written|writ(es|ing)|sav(ed|es|ing))\b")
_TEMPORARY = re.compile(r"(?i)\btemp|\btmp")  # a predictable temporary file (CWE-377) is a weakness
_WEAK_HASH = re.compile(r"(?i)weak|\bmd[45]\b|\bsha-?1\b|insecure|broken|deprecated|unsalted|\bsalt")


def is_hardcoded_path_claim(finding: Finding) -> bool:
    """A model security alarm whose title says only that a path is written in the code (a
    temporary file's path excepted: a predictable one is a weakness)."""
    return (finding.category is Category.SECURITY and is_alarm_claim(finding)
            and bool(_HARDCODED_PATH.search(finding.title)) and not _TEMPORARY.search(finding.title))


def is_cleartext_storage_claim(finding: Finding) -> bool:
    """A model security alarm whose title says data is stored or written in the clear (and
    not that a hash is weak)."""
    return (finding.category is Category.SECURITY and is_alarm_claim(finding)
            and bool(_CLEARTEXT_STORAGE.search(finding.title)) and not _WEAK_HASH.search(finding.title))


def ground_non_vulnerabilities(findings: tuple[Finding, ...], facts: FileFacts) -> tuple[Finding, ...]:
    """The model's findings, with "hardcoded path" claims, and cleartext-storage claims on lines
    that store only hash digests, lowered to `low`."""
    out = []
    for f in findings:
        if is_hardcoded_path_claim(f):
            f = demoted(f, Severity.LOW, PATH_NOTE)
        elif is_cleartext_storage_claim(f) and facts.stores_only_digests(f.path, f.line):
            f = demoted(f, Severity.LOW, DIGEST_NOTE)
        out.append(f)
    return tuple(out)


def applies(findings: tuple[Finding, ...]) -> bool:
    """Only with such a claim: the digest question parses the whole file."""
    return any(is_hardcoded_path_claim(f) or is_cleartext_storage_claim(f) for f in findings)


def apply(findings: tuple[Finding, ...], evidence: Evidence) -> tuple[Finding, ...]:
    return ground_non_vulnerabilities(findings, evidence.facts)
