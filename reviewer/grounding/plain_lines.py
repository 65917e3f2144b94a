"""Rule 1: a security claim on lines that touch nothing security-relevant is lowered to `low`.

A vulnerability needs something on its line to be vulnerable: untrusted input, a
dangerous operation (a query, a shell, a file path, deserialization, a redirect, a
response), crypto or randomness, a secret, a parser, a socket, a permission. The 1.5B
model also calls plain lines vulnerable ("Reading results file without authentication" on
`done = read_results(args.out)`, "SQL Injection" on `con = get_connection()`, a path
traversal on the `'../' in name` check that prevents one). Such a claim is kept but lowered
to `low` (so it is no alarm and does not fail the hook) with a note saying why; a claim
whose lines touch any of those things keeps the model's severity.

The vocabulary below is deliberately broad: it only has to recognise lines that touch
*nothing* security-relevant. Measured on the labelled cases in docs/quality.md.
Python-shaped; other languages mostly share these names (exec, query, password...).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from reviewer.grounding.claims import demoted, is_alarm_claim
from reviewer.grounding.lines import code_part
from reviewer.grounding.rule import Evidence
from reviewer.types import Category, Finding, Hunk, Severity

LOWERED_NOTE = "(lowered to low: the line touches no input, sink, crypto or secret)"

_SECURITY_RELEVANT = re.compile(
    r"""(?xi)
    # untrusted input
    \b(request|input|argv|environ|getenv|cookies?|headers?|query_?params|stdin|upload)\b | \.(args|form|(?-i:GET|POST)|files|json|get_json|data)\b |
    # queries, shells, code evaluation
    \b(select|insert|update|delete|drop|where|union)\b | \b(execute\w*|raw|cursor|query|sql\w*)\b |
    \b(subprocess|system|popen\w*|spawn\w*|shell|call|check_output|run|eval|exec|compile|__import__|importlib)\b |
    # files and paths
    \b(open|\w*file\w*|\w*path\w*|send_file|send_from_directory|shutil|remove|unlink|rmtree|chmod|chown|umask|mkstemp|mktemp|tempfile|tarfile|zipfile|extract\w*)\b |
    # deserialization, parsers, templates and responses
    \b(pickle|cpickle|marshal|shelve|yaml|jsonpickle|dill|loads?|etree|lxml|xml\w*|minidom|sax|xpath|ldap\w*|search_s)\b |
    \b(redirect|render\w*|template\w*|markup|mark_safe|safe|escape|response|resp|make_response|set_cookie|html|url\w*)\b | <[a-z]+[\s>/] |
    # crypto, randomness, secrets, sessions
    \b(hash\w*|digest|md5|sha1|sha224|hmac|crypt\w*|cipher|des|arc4|rc4|ecb|aes|rsa|dsa|ecdsa|ecc|elliptic|random\w*|randint|randrange|choice|seed|secrets?|uuid\w*)\b |
    \b(password|passwd|pwd|token|api_?key|private|credential\w*|auth\w*|session|jwt|ssl|tls|verify|cert\w*|check_hostname|salt|key)\b |
    # network, configuration, permissions, logging, assertions
    \b(socket|bind|listen|connect|requests|urllib\w*|http\w*|host|cors|debug|admin|role|permission\w*|access|sudo|setuid|root)\b |
    \b(log|logger|logging|assert)\b | 0o?[0-7]{3}\b
    """
)


def touches_security(code: str, language: str = "python") -> bool:
    """Whether a line of code (its comment aside) touches anything a vulnerability could live in."""
    return _SECURITY_RELEVANT.search(code_part(code, language)) is not None


def lowers(finding: Finding, added: Mapping[int, str], language: str) -> bool:
    """Whether grounding lowers `finding`: a model security alarm none of whose lines
    (`added`: new line number -> text of the hunk's added lines) touches security."""
    if not is_alarm_claim(finding) or finding.category is not Category.SECURITY:
        return False
    return not any(touches_security(added.get(n, ""), language) for n in range(finding.line, finding.end_line + 1))


def ground_security_claims(findings: tuple[Finding, ...], hunk: Hunk) -> tuple[Finding, ...]:
    """The model's findings, with security claims on lines that touch nothing
    security-relevant lowered to `low` (analyzer findings are left alone)."""
    added = hunk.added_lines
    return tuple(demoted(f, Severity.LOW, LOWERED_NOTE) if lowers(f, added, hunk.language) else f for f in findings)


def applies(findings: tuple[Finding, ...]) -> bool:
    """Always: the check is a regular expression on lines the hunk already holds."""
    return True


def apply(findings: tuple[Finding, ...], evidence: Evidence) -> tuple[Finding, ...]:
    return ground_security_claims(findings, evidence.hunk)
