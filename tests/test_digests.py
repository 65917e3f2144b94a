"""Claims that name no vulnerability (reviewer/grounding/non_vulnerabilities.py, rule 5) and the digest
question it asks (reviewer/digests.py)."""

import pytest
from helpers import make_finding

from reviewer.digests import stores_only_digests
from reviewer.grounding import (
    DIGEST_NOTE,
    PATH_NOTE,
    FileFacts,
    ground_model_findings,
    ground_non_vulnerabilities,
    is_cleartext_storage_claim,
    is_hardcoded_path_claim,
)
from reviewer.types import Category, Severity

# An OWASP BenchmarkPython hash handler, shortened: a strong digest appended to a file. The
# f-string on line 12 reuses its quote (Python 3.12), as 298 of OWASP's handlers do.
HANDLER = """\
import base64, hashlib

def handler(request):
    param = request.form.get("p")
    bar = param
    data = bar.encode('utf-8')
    digest = hashlib.sha384()
    digest.update(data)
    result = digest.digest()
    f = open('/srv/passwordFile.txt', 'a')
    f.write(f'hash_value={base64.b64encode(result)}\\n')
    f.write(f'plain={bar}, time={f'{1}'}\\n')
    f.write(result.hex() + '\\n')
    f.write(f'hash={result}, raw={data}\\n')
    f.close()
"""


@pytest.mark.parametrize(("line", "expected"), [
    (11, True),   # b64encode of the digest, inside an f-string
    (12, False),  # the input itself
    (13, True),   # .hex() of the digest, concatenated with a constant
    (14, False),  # the digest and the raw input together
    (10, False),  # the file name is a constant, and no digest
    (15, False),  # a call with no arguments stores nothing
    (4, False),
])
def test_which_lines_store_only_digests(line: int, expected: bool) -> None:
    assert stores_only_digests(HANDLER, line) is expected


def test_a_name_assigned_anything_else_in_the_function_is_no_digest() -> None:
    source = ("import hashlib\n\ndef f(pw, other):\n    h = hashlib.sha256(pw).hexdigest()\n"
              "    if other:\n        h = pw\n    out.write(h)\n")
    assert not stores_only_digests(source, 7)
    assert stores_only_digests(source.replace("h = pw", "h = hashlib.md5(pw).hexdigest()"), 7)


def test_unparsable_source_stores_nothing_known() -> None:
    assert not stores_only_digests("def broken(:\n    f.write(h)\n", 2)


@pytest.mark.parametrize(("title", "path_claim", "storage_claim"), [
    ("Hardcoded file path", True, False),
    ("Hard-coded directory path", True, False),
    ("Hardcoded password file path", True, False),
    ("Hardcoded temporary file path", False, False),  # a predictable temp file is a weakness (CWE-377)
    ("Hard-coded secret", False, False),
    ("Hardcoded password", False, False),
    ("Sensitive data stored in a file", False, True),
    ("Sensitive information stored in plain text", False, True),
    ("Password written in cleartext", False, True),
    ("Weak hash stored in file", False, False),  # the hash's strength is the claim: left alone
    ("MD5 digest stored", False, False),
    ("SQL Injection", False, False),
])
def test_which_claims_the_rule_looks_at(title: str, path_claim: bool, storage_claim: bool) -> None:
    finding = make_finding(title=title)
    assert (is_hardcoded_path_claim(finding), is_cleartext_storage_claim(finding)) == (path_claim, storage_claim)
    low = make_finding(title=title, severity=Severity.LOW)  # no alarm: nothing to lower
    assert not is_hardcoded_path_claim(low) and not is_cleartext_storage_claim(low)
    bug = make_finding(title=title, category=Category.BUG)
    assert not is_hardcoded_path_claim(bug) and not is_cleartext_storage_claim(bug)


def test_the_rule_lowers_path_claims_and_storage_claims_on_digest_lines_only() -> None:
    facts = FileFacts({"web/hash.py": HANDLER.splitlines()})
    claims = (
        make_finding(line=10, title="Hardcoded password file path", path="web/hash.py"),
        make_finding(line=11, title="Sensitive data stored in a file", path="web/hash.py"),
        make_finding(line=12, title="Sensitive data stored in a file", path="web/hash.py"),
        make_finding(line=11, title="Hard-coded secret", path="web/hash.py"),
    )
    out = ground_non_vulnerabilities(claims, facts)
    assert [f.severity for f in out] == [Severity.LOW, Severity.LOW, Severity.HIGH, Severity.HIGH]
    assert out[0].message.endswith(PATH_NOTE) and out[1].message.endswith(DIGEST_NOTE)
    # without the whole file the digest question has no answer, and the claim stays
    (kept,) = ground_non_vulnerabilities(claims[1:2], FileFacts(None))
    assert kept.severity is Severity.HIGH


def test_the_rule_is_part_of_the_pipeline_grounding() -> None:
    from helpers import make_hunk

    hunk = make_hunk(path="web/hash.py", removed=(), added=tuple(HANDLER.splitlines()[9:12]), before=(), after=(),
                     start=10)
    facts = FileFacts({"web/hash.py": HANDLER.splitlines()})
    claim = make_finding(line=11, title="Sensitive information stored in plain text", path="web/hash.py")
    (f,) = ground_model_findings((claim,), hunk, (), facts)
    assert f.severity is Severity.LOW and f.message.endswith(DIGEST_NOTE)
