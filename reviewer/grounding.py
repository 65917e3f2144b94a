"""Ground the model's claims in the code they point at and the hints it was shown.

Eight rules on the model's findings; analyzer findings are left alone, except bandit's
dangerous-call warnings, which the fourth rule grounds too:

**Security claims on plain lines.** A vulnerability needs something on its line to be
vulnerable: untrusted input, a dangerous operation (a query, a shell, a file path,
deserialization, a redirect, a response), crypto or randomness, a secret, a parser, a
socket, a permission. The 1.5B model also calls plain lines vulnerable ("Reading
results file without authentication" on `done = read_results(args.out)`, "SQL
Injection" on `con = get_connection()`, a path traversal on the `'../' in name` check
that prevents one). Such a claim is kept but lowered to `low` (so it is no alarm and
does not fail the hook) with a note saying why; a claim whose lines touch any of those
things keeps the model's severity.

The vocabulary below is deliberately broad: it only has to recognise lines that touch
*nothing* security-relevant. Measured on the labelled cases in bench/quality.md.
Python-shaped; other languages mostly share these names (exec, query, password...).

**Echoes of a lint.** The prompt shows ruff's findings on the hunk as hints, and the model
often repeats one in its own words at a higher severity: "Local variable 'bar' is
assigned to but never used" as a *high* bug, which would fail the hook over an unused
variable (11 of the 192 cases in bench/quality.md, all of them OWASP handlers). A ruff
rule states a fact whose consequence reviewer rates per rule (analyzers/ruff.py), and
restating it adds no evidence, so a model finding that repeats a ruff hint on the same
line (same category, its title's words mostly the hint's) keeps ruff's severity, with a
note. A different claim on that line keeps the model's severity. bandit's hints are not
capped: bandit rates a pattern without context (`random.random()` is low whatever it
is for), and judging it in context (a session cookie's value) is what the model is
asked to do.

**Claims where no input flows.** The model calls a handler that reads a cookie "SQL
injection" also when the value is thrown away before the query (`bar = lst[1]` after
`lst.pop(0)`), or bound as a query parameter: 12 of the 15 false alarms left on the 33 safe
OWASP handlers of bench/quality.md. `reviewer/taint.py` follows values through each function of the whole new
file; an injection-type claim (injection, traversal, eval, deserialization, redirect...)
in a function where no untrusted value (request data, and to be safe any parameter)
reaches any dangerous call is lowered to `low` with a note. Claims of kinds the analysis
has no sinks for (log, header, template injection...), claims that are about no flow
(a hardcoded secret, a weak hash) and claims in files it cannot parse are left alone.
bandit's warnings on the same calls (eval, pickle, a shell, an SQL string) are lowered
the same way where findings are reported (`ground_analyzer_flows`): bandit rates
`eval(x)` whatever `x` holds, and merged with the model's lowered claim on that line it
would raise it back to an alarm.

**Claims on prose.** A bug or vulnerability needs code: a claim whose lines are all
comments, docstrings or blank is lowered to `low` with a note. Dogfooding found it: a
*high* "Repeating ruff hint" bug on a line of this module's docstring, which would have
failed the hook. Python docstrings are found with the tokenizer on the whole new file
(when the diff came with it); otherwise only blank and comment lines count.

**Claims that name no vulnerability.** Two claims the model makes about code that is
fine: "Hardcoded file path" (a path written in the code is no weakness by itself; a
path an attacker controls is, and that is the flow rule's traversal claim), and
"Sensitive data stored in plain text" on a line whose calls take nothing but a hash
digest (`f.write(b64encode(hashlib.sha384(pw).digest()))`: storing the digest is what
should be done; reviewer/digests.py decides). Both are lowered to `low` with a note. A
claim that the hash is weak ("MD5 ... stored") is left alone.

**Bug claims whose fix is already there.** The model often reads a change backwards: on a
diff that turns `x > pivot` into `x >= pivot` it reports "Incorrect comparison" on the new
line and suggests "Change `x > pivot` to `x >= pivot`". A bug claim whose suggested code
the flagged lines already read as (reviewer/suggested_fix.py) contradicts itself and is
lowered to `low` with a note. Security claims are left alone: their suggestion often keeps
the call and adds a check around it ("use `urlopen(url)` after validating `url`").

**Security claims on a line that turns a protection on.** The model misreads settings:
"Incorrect check_hostname setting" (high) on `ctx.check_hostname = True`, and a
suggestion to set `verify_mode` to `CERT_NONE` on `context.verify_mode = ssl.CERT_REQUIRED`.
A line that is nothing but an assignment switching a known protection on (TLS certificate
and hostname checks, secure and HTTP-only session cookies, template autoescaping, XML
entity resolution off) cannot be the vulnerability; a security claim on such lines only
is lowered to `low` with a note. A call that passes the same setting
(`requests.get(url, verify=True)`) is not such a line: the call itself may be the flaw.

**Security claims on imports.** Shown bandit's import warning for `xml.etree` as a hint,
the model answered "XML Parsing Vulnerability" (high) on `import xml.etree.ElementTree as
ET` in safe handlers. Importing a module is no vulnerability; using it may be, on the line
that uses it. A security claim whose lines are all import statements is lowered to `low`
with a note.
"""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from reviewer.digests import stores_only_digests
from reviewer.suggested_fix import already_applied
from reviewer.taint import TaintReport, analyze_source
from reviewer.types import Category, Finding, Hunk, Severity

LOWERED_NOTE = "(lowered to low: the line touches no input, sink, crypto or secret)"
ECHO_NOTE = "(kept at the analyzer's severity: the model repeated its hint)"
PROSE_NOTE = "(lowered to low: the line is a comment, docstring or blank, not code)"
TAINT_NOTE = "(lowered to low: no untrusted input reaches a dangerous call in this function)"
PATH_NOTE = "(lowered to low: a path written in the code is no vulnerability by itself)"
DIGEST_NOTE = "(lowered to low: what this line stores is a hash digest, not the secret)"
PROTECTION_NOTE = "(lowered to low: this line turns a protection on, it does not turn one off)"
IMPORT_NOTE = "(lowered to low: an import is no vulnerability; a line that uses the module may be)"
FIX_PRESENT_NOTE = "(lowered to low: the code already reads as the suggested fix `{code}`)"
ECHO_SOURCES = frozenset({"ruff"})  # see the module docstring for why bandit is not one

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


# Line comments are cut before the check: `# resumes as reviewer eval does` mentions eval
# but runs nothing. Languages not listed are checked whole.
_HASH_COMMENTS = frozenset({"python", "shell", "ruby", "perl", "r", "yaml", "toml", "make", "dockerfile",
                            "elixir", "julia", "cmake", "powershell", "terraform"})
_SLASH_COMMENTS = frozenset({"javascript", "typescript", "go", "rust", "java", "kotlin", "scala", "groovy", "c",
                             "cpp", "csharp", "php", "swift", "objc", "dart", "zig", "vue", "svelte", "protobuf"})


def code_part(line: str, language: str) -> str:
    """The line without its trailing comment (a comment marker inside a string stays)."""
    marker = "#" if language in _HASH_COMMENTS else "//" if language in _SLASH_COMMENTS else None
    if marker is None:
        return line
    quote, i = "", 0
    while i < len(line):
        ch = line[i]
        if quote:
            if ch == "\\":
                i += 1  # the escaped character cannot end the string
            elif ch == quote:
                quote = ""
        elif ch in "'\"`":
            quote = ch
        elif line.startswith(marker, i):
            return line[:i]
        i += 1
    return line


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


def demoted(finding: Finding, severity: Severity, note: str) -> Finding:
    """`finding` at `severity`, its message ending with the note that says why."""
    return replace(finding, severity=severity, message=f"{finding.message} {note}".strip())


_WORD = re.compile(r"[a-z0-9_]+")
_FILLER = frozenset({"a", "an", "the", "is", "are", "to", "of", "in", "on", "but", "and", "or", "not", "be", "this",
                     "that", "it", "its", "with", "for", "as", "at", "by", "from"})
ECHO_OVERLAP = 0.6  # share of the title's words found in the hint; "Unused local variable 'x'" has 3 of 4


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _FILLER}


def echoes(finding: Finding, hint: Finding) -> bool:
    """Whether a model finding repeats an analyzer hint: same line and category, and most
    words of its title are the hint's."""
    if finding.source != "model" or hint.source not in ECHO_SOURCES:
        return False
    if (finding.path, finding.line, finding.category) != (hint.path, hint.line, hint.category):
        return False
    title = _words(finding.title)
    return bool(title) and len(title & _words(f"{hint.title} {hint.message}")) >= ECHO_OVERLAP * len(title)


def ground_echoed_hints(findings: tuple[Finding, ...], hints: tuple[Finding, ...]) -> tuple[Finding, ...]:
    """The model's findings, each echo of a ruff hint capped at the hint's severity."""
    out = []
    for f in findings:
        cap = min((h.severity for h in hints if echoes(f, h)), key=lambda s: s.rank, default=None)
        if cap is not None and cap.rank < f.severity.rank:
            f = demoted(f, cap, ECHO_NOTE)
        out.append(f)
    return tuple(out)


def prose_lines(lines: Sequence[str], language: str) -> frozenset[int]:
    """1-based numbers of the lines of a whole file that hold no code: blank, comment-only,
    or (Python) part of a string that is a statement on its own, such as a docstring."""
    prose = {n for n, text in enumerate(lines, 1) if not code_part(text, language).strip()}
    if language == "python":
        prose |= _python_string_statements("\n".join(lines) + "\n")
    return frozenset(prose)


_NOT_CODE = frozenset({tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING})


def _python_string_statements(text: str) -> set[int]:
    """Lines covered by statements made of nothing but string literals; none if the text
    does not tokenize."""
    out: set[int] = set()
    statement: list[tokenize.TokenInfo] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
                if statement and all(t.type == tokenize.STRING for t in statement):
                    out.update(range(statement[0].start[0], statement[-1].end[0] + 1))
                statement = []
            elif tok.type not in _NOT_CODE:
                statement.append(tok)
    except (tokenize.TokenError, SyntaxError, ValueError):
        return set()
    return out


def is_alarm_claim(finding: Finding) -> bool:
    """A model bug or security finding above `low`: what the prose rule checks."""
    return (finding.source == "model" and finding.category in (Category.BUG, Category.SECURITY)
            and finding.severity is not Severity.LOW)


def ground_prose_claims(findings: tuple[Finding, ...], prose: frozenset[int]) -> tuple[Finding, ...]:
    """The model's findings, with bug and security claims whose every line is in `prose`
    lowered to `low`."""
    out = []
    for f in findings:
        if is_alarm_claim(f) and all(n in prose for n in range(f.line, f.end_line + 1)):
            f = demoted(f, Severity.LOW, PROSE_NOTE)
        out.append(f)
    return tuple(out)


def hunk_prose(hunk: Hunk, file_prose: frozenset[int] | None) -> frozenset[int]:
    """Prose lines among the hunk's added lines: `file_prose` (prose_lines of the whole new
    file) when it is known, else blank and comment lines found in the added lines alone."""
    added = hunk.added_lines
    if file_prose is not None:
        return frozenset(n for n in added if n in file_prose)
    return frozenset(n for n, text in added.items() if not code_part(text, hunk.language).strip())


# Claims about untrusted data reaching a sink that reviewer/taint.py models ...
_FLOW_CLAIM = re.compile(
    r"""(?xi) inject | travers | \bxss\b | cross.site.scripting | \beval\b | \bexec | code.execution |
    deseriali[sz] | pickl | \byaml\b | marshal | \bcommand | \bshell\b | \bsql | xpath | ldap | redirect | \burls?\b |
    \bssrf\b | server.side.request | \bpath\b | arbitrary.file |
    untrusted | unsanitized | unvalidated | user.(input|supplied|controlled|data) | tainted"""
)
# ... unless it names a kind the analysis has no sinks for (which it therefore cannot clear), or a
# weakness that is no flow at all (a hardcoded secret, a weak hash: "the file path is hardcoded").
_NOT_A_MODELLED_FLOW = re.compile(
    r"(?i)\blog|header|template|\bxxe\b|external.entit|\bxml\b|\bssti\b|jinja|regex|redos|format.string|"
    r"nosql|mongo|csv|e-?mail|smtp|\bzip|\btar|archive|billion.laughs|xml.bomb|\bcrlf|response.splitting|"
    r"hard.?coded|secret|password|credential|\bhash|md5|sha-?1\b|crypt|random|cookie|\btoken|\bkey\b|debug|permission"
)


def is_flow_claim(finding: Finding) -> bool:
    """A model security alarm about untrusted data reaching a sink reviewer/taint.py knows."""
    if finding.category is not Category.SECURITY or not is_alarm_claim(finding):
        return False
    # The title names the claim; the message often names the source too ("the cookie's value
    # reaches the query"), so it decides only when the title says neither.
    for text in (finding.title, finding.message):
        if _NOT_A_MODELLED_FLOW.search(text):
            return False
        if _FLOW_CLAIM.search(text):
            return True
    return False


def ground_untainted_claims(findings: tuple[Finding, ...], report: TaintReport | None) -> tuple[Finding, ...]:
    """The model's findings, with flow claims in functions where no untrusted value reaches any
    sink lowered to `low`. `report` is the taint analysis of the whole new file (None: unknown)."""
    if report is None:
        return findings
    out = []
    for f in findings:
        if is_flow_claim(f):
            scope = report.scope_at(f.line)
            if scope is not None and scope.analyzed and not scope.flows:
                f = demoted(f, Severity.LOW, TAINT_NOTE)
        out.append(f)
    return tuple(out)


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


def shown_lines(hunk: Hunk) -> dict[int, str]:
    """New-file line number -> text, for every line the hunk shows on its new side."""
    return {ln.new_no: ln.text for ln in hunk.lines if ln.new_no is not None}


def ground_present_fixes(findings: tuple[Finding, ...], hunk: Hunk) -> tuple[Finding, ...]:
    """The model's findings, with bug claims whose suggested code the flagged lines already
    read as lowered to `low`."""
    shown = shown_lines(hunk)
    out = []
    for f in findings:
        if is_alarm_claim(f) and f.category is Category.BUG:
            code = already_applied(f.suggestion, (shown.get(n, "") for n in range(f.line, f.end_line + 1)))
            if code is not None:
                f = demoted(f, Severity.LOW, FIX_PRESENT_NOTE.format(code=code))
        out.append(f)
    return tuple(out)


def _ground_security_claims_on(findings: tuple[Finding, ...], hunk: Hunk, line_refutes: Callable[[str], bool],
                               note: str) -> tuple[Finding, ...]:
    """The model's findings, with security claims whose every line satisfies `line_refutes`
    lowered to `low` with `note`."""
    shown = shown_lines(hunk)
    out = []
    for f in findings:
        if (is_alarm_claim(f) and f.category is Category.SECURITY
                and all(line_refutes(shown.get(n, "")) for n in range(f.line, f.end_line + 1))):
            f = demoted(f, Severity.LOW, note)
        out.append(f)
    return tuple(out)


# An assignment statement and nothing else: `target = value` (an optional trailing comment).
_ASSIGNMENT = re.compile(r"^\s*(?P<target>[\w.]+(?:\[[^\]]+\])?)\s*=\s*(?P<value>[\w.]+)\s*(?:#.*)?$")
# (setting, value) pairs that switch a protection on; the setting is the target's last
# attribute, or its key when it is subscripted (`app.config['SESSION_COOKIE_SECURE']`).
_PROTECTIONS_ON = (
    (re.compile(r"check_hostname"), re.compile(r"True")),
    (re.compile(r"verify_mode"), re.compile(r"(?:ssl\.)?CERT_REQUIRED")),
    (re.compile(r"(?:SESSION|REMEMBER|CSRF)_COOKIE_(?:SECURE|HTTPONLY)|WTF_CSRF_ENABLED"), re.compile(r"True")),
    (re.compile(r"autoescape"), re.compile(r"True")),
    (re.compile(r"resolve_entities"), re.compile(r"False")),
)
_SUBSCRIPT_KEY = re.compile(r"""\[\s*['"]?([\w.]+)['"]?\s*\]$""")


def turns_protection_on(line: str) -> bool:
    """Whether `line` is only an assignment that switches a known protection on."""
    m = _ASSIGNMENT.match(line)
    if m is None:
        return False
    target = m.group("target")
    key = _SUBSCRIPT_KEY.search(target)
    setting = key.group(1) if key else target.rsplit(".", 1)[-1]
    return any(s.fullmatch(setting) and v.fullmatch(m.group("value")) for s, v in _PROTECTIONS_ON)


def ground_protection_claims(findings: tuple[Finding, ...], hunk: Hunk) -> tuple[Finding, ...]:
    """The model's findings, with security claims whose every line turns a protection on
    lowered to `low`."""
    return _ground_security_claims_on(findings, hunk, turns_protection_on, PROTECTION_NOTE)


_IMPORT = re.compile(r"^\s*(?:import\s+[\w.]+|from\s+[\w.]+\s+import\b)")


def is_import(line: str) -> bool:
    """Whether `line` is an import statement."""
    return bool(_IMPORT.match(line))


def ground_import_claims(findings: tuple[Finding, ...], hunk: Hunk) -> tuple[Finding, ...]:
    """The model's findings, with security claims whose every line is an import lowered to `low`."""
    return _ground_security_claims_on(findings, hunk, is_import, IMPORT_NOTE)


class FileFacts:
    """What grounding needs from whole new files (`sources`: path -> lines), each worked out
    once per file and only when a finding asks (a cached re-run must stay fast)."""

    def __init__(self, sources: Mapping[str, Sequence[str]] | None) -> None:
        self.sources = sources or {}
        self._prose: dict[str, frozenset[int]] = {}
        self._taint: dict[str, TaintReport | None] = {}

    def prose(self, hunk: Hunk) -> frozenset[int]:
        """The hunk's added lines that hold no code."""
        source = self.sources.get(hunk.path)
        if source is not None and hunk.path not in self._prose:
            self._prose[hunk.path] = prose_lines(source, hunk.language)
        return hunk_prose(hunk, self._prose.get(hunk.path))

    def stores_only_digests(self, path: str, line: int) -> bool:
        """Whether `line` of the whole new Python file at `path` stores or sends only hash digests."""
        source = self.sources.get(path)
        return source is not None and path.endswith((".py", ".pyi")) and stores_only_digests("\n".join(source), line)

    def taint(self, hunk: Hunk) -> TaintReport | None:
        """The taint analysis of the hunk's whole new file; None when there is no file or it is not Python."""
        return self.taint_of(hunk.path) if hunk.language == "python" else None

    def taint_of(self, path: str) -> TaintReport | None:
        """The taint analysis of the whole new Python file at `path`; None when it is not known."""
        source = self.sources.get(path)
        if source is None:
            return None
        if path not in self._taint:
            self._taint[path] = analyze_source("\n".join(source))
        return self._taint[path]


# bandit's tests for calls that are dangerous only with untrusted input: eval/exec, pickle,
# marshal, yaml.load, a shell, an SQL string, urlopen. (Its XML parser tests are about
# entity handling, which the taint analysis does not judge.)
_BANDIT_FLOW_TESTS = frozenset({"B102", "B307", "B301", "B302", "B506", "B602", "B604", "B605", "B608", "B310"})
_BANDIT_TEST_ID = re.compile(r"\((B\d{3})\)$")


def ground_analyzer_flows(findings: tuple[Finding, ...], facts: FileFacts) -> tuple[Finding, ...]:
    """Analyzer findings, with bandit's dangerous-call warnings lowered to `low` like the model's
    flow claims: where the taint analysis saw no untrusted value reach any sink in the function.

    bandit rates `eval(x)` medium whatever `x` is; merged with the model's claim on the same
    line it would otherwise raise a claim this rule lowered back to an alarm. Applied where
    analyzer findings are reported (not to the hints the model is shown, so prompts do not change).
    """
    out = []
    for f in findings:
        test = _BANDIT_TEST_ID.search(f.title)
        if f.source == "bandit" and test and test.group(1) in _BANDIT_FLOW_TESTS and f.severity is not Severity.LOW:
            report = facts.taint_of(f.path)
            scope = report.scope_at(f.line) if report is not None else None
            if scope is not None and scope.analyzed and not scope.flows:
                f = demoted(f, Severity.LOW, TAINT_NOTE)
        out.append(f)
    return tuple(out)


def ground_model_findings(findings: tuple[Finding, ...], hunk: Hunk, hints: tuple[Finding, ...],
                          facts: FileFacts) -> tuple[Finding, ...]:
    """All eight rules, in order, on the model's findings for `hunk` (shown analyzer `hints`)."""
    findings = ground_echoed_hints(ground_security_claims(findings, hunk), hints)
    if any(is_alarm_claim(f) for f in findings):
        findings = ground_prose_claims(findings, facts.prose(hunk))
    if any(is_flow_claim(f) for f in findings):
        findings = ground_untainted_claims(findings, facts.taint(hunk))
    if any(is_hardcoded_path_claim(f) or is_cleartext_storage_claim(f) for f in findings):
        findings = ground_non_vulnerabilities(findings, facts)
    return ground_import_claims(ground_protection_claims(ground_present_fixes(findings, hunk), hunk), hunk)
