"""Security claims grounded in the code they point at (reviewer/grounding.py)."""

from dataclasses import replace

import pytest
from helpers import load_bench_script, make_finding, make_hunk, write_jsonl

from reviewer.backends.fake import FakeBackend
from reviewer.grounding import ECHO_NOTE, LOWERED_NOTE, ground_echoed_hints, ground_security_claims, touches_security
from reviewer.pipeline import run_review
from reviewer.types import Category, Finding, Hunk, ParsedDiff, Severity


@pytest.mark.parametrize("code", [
    'cur.execute(f"SELECT * FROM users WHERE id = {uid}")',
    'name = request.args.get("name")',
    "page = self.GET['page']",
    "subprocess.run(cmd, shell=True)",
    "data = pickle.loads(blob)",
    "return send_file(os.path.join(ROOT, name))",
    "digest = hashlib.md5(pw).hexdigest()",
    "token = str(random.random())",
    'PASSWORD = "hunter2"',
    'return "<p>" + name + "</p>"',
    "requests.get(url, verify=False)",
    "os.chmod(path, 0o777)",
    "tree = etree.parse(stream)",
    "logger.info(user_supplied)",
    "return DSA.generate(1024)",
    "p = testfiles / bar",  # a path built from a name that only contains "files"
])
def test_lines_that_touch_security(code: str) -> None:
    assert touches_security(code)


@pytest.mark.parametrize("code", [
    "done = read_results(args.out)",
    "con = helpers.db_sqlite.get_connection()",
    "if '../' in bar:",
    "string98790 = 'help'",
    "total += values[i]",
    "limit = options.get('limit', 10)",  # Django's request.GET is upper case: .get is not input
    "for i in range(1, len(values)):",
    "# Python 2-compatible code",
    "",
])
def test_lines_that_touch_nothing_security_relevant(code: str) -> None:
    assert not touches_security(code)


PLAIN = make_hunk(removed=("    total = 0",), added=("    total = 1",))  # added line 11 touches nothing


def test_a_security_claim_on_a_plain_line_is_lowered_with_a_note() -> None:
    (f,) = ground_security_claims((make_finding(line=11),), PLAIN)
    assert f.severity is Severity.LOW and f.message.endswith(LOWERED_NOTE)
    assert f.title == make_finding().title and f.category is Category.SECURITY


def test_claims_that_keep_their_severity() -> None:
    on_sink = make_finding(line=11)  # make_hunk()'s line 11 builds SQL with an f-string
    bug = make_finding(line=11, category=Category.BUG)
    analyzer = replace(make_finding(line=11), source="bandit")
    already_low = make_finding(line=11, severity=Severity.LOW)
    assert ground_security_claims((on_sink,), make_hunk()) == (on_sink,)
    assert ground_security_claims((bug, analyzer, already_low), PLAIN) == (bug, analyzer, already_low)


def test_a_claim_spanning_lines_is_kept_when_any_of_them_touches_security() -> None:
    hunk = make_hunk(removed=(), added=("    x = 1", "    os.system(cmd)"))
    claim = replace(make_finding(line=11), end_line=12)
    assert ground_security_claims((claim,), hunk) == (claim,)
    assert ground_security_claims((replace(claim, end_line=11),), hunk)[0].severity is Severity.LOW


def test_the_review_lowers_the_claim_so_it_is_no_alarm(config) -> None:
    answer = {"analysis": "", "findings": [{"line": 11, "category": "security", "severity": "high",
                                            "title": "Reading without authentication", "message": "m",
                                            "suggestion": ""}]}
    review = run_review(ParsedDiff((PLAIN,)), FakeBackend(responses=[answer]), config, cache=None)
    (f,) = review.findings
    assert (f.category, f.severity) == (Category.SECURITY, Severity.LOW)
    assert f.message == f"m {LOWERED_NOTE}"


def test_bench_replay_restores_lowered_claims_and_regrounds_them(tmp_path, capsys) -> None:
    """bench/grounding_replay.py scores a results file without and with grounding, from
    files written by either pipeline (a lowered claim carries the note and is restored)."""
    replay = load_bench_script("grounding_replay")

    diff = "--- a/a.py\n+++ b/a.py\n@@ -1,1 +1,2 @@\n x = 1\n+y = 2\n"
    cases = [{"id": "c1", "source": "OWASP-BenchmarkPython", "label": "clean", "category": "security", "diff": diff},
             {"id": "c2", "source": "OWASP-BenchmarkPython", "label": "clean", "category": "security", "diff": diff}]
    write_jsonl(tmp_path / "cases.jsonl", cases)
    claim = {"path": "a.py", "line": 2, "end_line": 2, "category": "security", "severity": "high",
             "title": "SQL Injection", "message": "m", "source": "model"}
    results = [{"id": "c1", "findings": [claim]},  # written before grounding existed
               {"id": "c2", "findings": [{**claim, "severity": "low", "message": f"m {LOWERED_NOTE}"}]}]
    write_jsonl(tmp_path / "results.jsonl", results)
    assert replay.main([str(tmp_path / "cases.jsonl"), "--results", str(tmp_path / "results.jsonl")]) == 0
    out = capsys.readouterr().out
    assert "| as the model made them | - | - / 100% (2/2) | - / 100% (2/2) |" in out
    assert "| security claims grounded | - | - / 0% (0/2) | - / 0% (0/2) |" in out


@pytest.mark.parametrize("line, language, code", [
    ("done = read_results(args.out)  # resumes as `reviewer eval` does", "python", "done = read_results(args.out)  "),
    ('q = "SELECT 1 # not a comment"  # but this is', "python", 'q = "SELECT 1 # not a comment"  '),
    (r"s = 'it\'s # inside'", "python", r"s = 'it\'s # inside'"),
    ('const u = "a//b"; // eval(x) here', "javascript", 'const u = "a//b"; '),
    ("x = 1 # not a comment in SQL", "sql", "x = 1 # not a comment in SQL"),
])
def test_code_part_cuts_the_line_comment_only(line: str, language: str, code: str) -> None:
    from reviewer.grounding import code_part

    assert code_part(line, language) == code


def test_words_in_a_comment_do_not_ground_a_claim() -> None:
    assert not touches_security("done = read_results(args.out)  # resumes as `reviewer eval` does")
    assert touches_security('q = "SELECT 1 # x"')
    assert not touches_security('const u = "a//b"; // eval(x) here', "javascript")


# -- echoes of a ruff hint -----------------------------------------------------------

UNUSED = replace(make_finding(line=11, severity=Severity.LOW, category=Category.BUG,
                              title="Local variable `total` is assigned to but never used (F841)"),
                 message="ruff F841: Local variable `total` is assigned to but never used", source="ruff")


def model_bug(title: str, severity: Severity = Severity.HIGH, line: int = 11) -> Finding:
    return replace(make_finding(line=line, severity=severity, category=Category.BUG, title=title), source="model")


@pytest.mark.parametrize("title", [
    "Local variable 'total' is assigned to but never used",
    "Unused local variable 'total'",
    "Variable total never used",
])
def test_a_model_finding_that_repeats_a_ruff_hint_keeps_ruffs_severity(title: str) -> None:
    (f,) = ground_echoed_hints((model_bug(title),), (UNUSED,))
    assert f.severity is Severity.LOW and f.message.endswith(ECHO_NOTE) and f.title == title


def test_findings_that_are_not_echoes_keep_their_severity() -> None:
    other_claim = model_bug("Wrong accumulator returned: total is reset")
    other_line = model_bug("Local variable 'total' is assigned to but never used", line=12)
    other_category = replace(model_bug("Local variable 'total' is assigned to but never used"), category=Category.STYLE)
    bandit_hint = replace(UNUSED, source="bandit")  # bandit's context-free rating is the model's to judge
    already_low = model_bug("Unused local variable 'total'", severity=Severity.LOW)
    for finding in (other_claim, other_line, other_category, already_low):
        assert ground_echoed_hints((finding,), (UNUSED,)) == (finding,)
    assert ground_echoed_hints((model_bug("Unused local variable 'total'"),), (bandit_hint,))[0].severity is Severity.HIGH
    assert ground_echoed_hints((UNUSED,), (UNUSED,)) == (UNUSED,)  # the analyzer's own finding


def test_the_review_reports_the_echo_at_ruffs_severity_so_it_is_no_alarm(config) -> None:
    answer = {"analysis": "", "findings": [{"line": 11, "category": "bug", "severity": "high",
                                            "title": "Local variable 'total' is assigned to but never used",
                                            "message": "m", "suggestion": ""}]}
    backend = FakeBackend(responses=[answer])
    review = run_review(ParsedDiff((PLAIN,)), backend, config, cache=None, hints=(UNUSED,))
    assert "never used" in backend.calls[0][1]["content"]  # the model was shown the hint
    (f,) = review.findings  # merged with its ruff twin: one finding, the model's wording
    assert (f.category, f.severity, f.source) == (Category.BUG, Severity.LOW, "model")
    assert f.message == f"m {ECHO_NOTE}"


def test_bench_replay_recomputes_hints_and_caps_echoes(tmp_path, capsys) -> None:
    """With --hints the replay runs ruff on each case as `reviewer eval` does and caps echoes."""
    replay = load_bench_script("grounding_replay")
    diff = ("diff --git a/a.py b/a.py\nnew file mode 100644\n--- /dev/null\n+++ b/a.py\n@@ -0,0 +1,3 @@\n"
            "+def f():\n+    total = 1\n+    return 2\n")
    cases = [{"id": f"c{i}", "source": "QuixBugs", "label": "clean", "category": "bug", "diff": diff} for i in (1, 2)]
    write_jsonl(tmp_path / "cases.jsonl", cases)
    echo = {"path": "a.py", "line": 2, "end_line": 2, "category": "bug", "severity": "high",
            "title": "Local variable 'total' is assigned to but never used", "message": "m", "source": "model"}
    results = [{"id": "c1", "findings": [echo]},  # written before the echo rule existed
               {"id": "c2", "findings": [{**echo, "severity": "low", "message": f"m {ECHO_NOTE}"}]}]
    write_jsonl(tmp_path / "results.jsonl", results)
    assert replay.main([str(tmp_path / "cases.jsonl"), "--results", str(tmp_path / "results.jsonl"), "--hints"]) == 0
    out = capsys.readouterr().out
    assert "| security claims grounded | - / 100% (2/2) | - | - / 100% (2/2) |" in out
    assert "| and lint echoes capped | - / 0% (0/2) | - | - / 0% (0/2) |" in out
    assert "| and claims on prose lowered | - / 0% (0/2) | - | - / 0% (0/2) |" in out


# -- claims on prose ------------------------------------------------------------------

MODULE = (
    '"""Module docstring.',            # 1
    "",                                 # 2
    "**Echoes of a lint.** prose",      # 3: inside the docstring
    '"""',                              # 4
    "",                                 # 5
    "import os  # a comment",           # 6
    "# only a comment",                 # 7
    "def f(x):",                        # 8
    '    """One line."""',              # 9
    '    q = """',                      # 10: a string that is assigned: code
    "    SELECT 1",                     # 11
    '    """',                          # 12
    "    return x",                     # 13
)


def test_prose_lines_are_blank_comment_and_docstring_lines() -> None:
    from reviewer.grounding import prose_lines

    assert prose_lines(MODULE, "python") == {1, 2, 3, 4, 5, 7, 9}


def test_prose_lines_of_a_file_that_does_not_tokenize_are_blank_and_comment_lines() -> None:
    from reviewer.grounding import prose_lines

    assert prose_lines(('"""never closed', "x = 1", "# c", ""), "python") == {3, 4}
    assert prose_lines(("int x; // c", "// only", "  "), "c") == {2, 3}


def _module_hunk() -> Hunk:
    return make_hunk(path="m.py", removed=(), added=MODULE, before=(), after=(), start=1)


@pytest.mark.parametrize("line, lowered", [(3, True), (7, True), (9, True), (11, False), (13, False), (6, False)])
def test_a_bug_claim_on_prose_is_lowered(line: int, lowered: bool) -> None:
    from reviewer.grounding import PROSE_NOTE, ground_prose_claims, hunk_prose, prose_lines

    hunk = _module_hunk()
    claim = model_bug("Repeating ruff hint", line=line)
    (f,) = ground_prose_claims((claim,), hunk_prose(hunk, prose_lines(MODULE, "python")))
    assert (f.severity is Severity.LOW) is lowered
    assert f.message.endswith(PROSE_NOTE) is lowered


def test_without_the_whole_file_only_blank_and_comment_lines_are_prose() -> None:
    from reviewer.grounding import hunk_prose

    assert hunk_prose(_module_hunk(), None) == {2, 5, 7}


def test_the_review_lowers_a_claim_on_a_docstring_line_when_it_has_the_file(config) -> None:
    answer = {"analysis": "", "findings": [{"line": 3, "category": "bug", "severity": "high",
                                            "title": "Repeating ruff hint", "message": "m", "suggestion": ""}]}
    parsed = ParsedDiff((_module_hunk(),), sources={"m.py": MODULE})
    (f,) = run_review(parsed, FakeBackend(responses=[answer]), config, cache=None).findings
    assert f.severity is Severity.LOW
    (f,) = run_review(ParsedDiff((_module_hunk(),)), FakeBackend(responses=[answer]), config, cache=None).findings
    assert f.severity is Severity.HIGH  # without the file, line 3 could be code


def test_bench_replay_lowers_claims_on_docstrings(tmp_path, capsys) -> None:
    replay = load_bench_script("grounding_replay")
    diff = ("diff --git a/a.py b/a.py\nnew file mode 100644\n--- /dev/null\n+++ b/a.py\n@@ -0,0 +1,4 @@\n"
            '+def f():\n+    """Returns two:\n+    the answer."""\n+    return 2\n')
    case = {"id": "c1", "source": "QuixBugs", "label": "clean", "category": "bug", "diff": diff}
    write_jsonl(tmp_path / "cases.jsonl", [case])
    claim = {"path": "a.py", "line": 3, "end_line": 3, "category": "bug", "severity": "high",
             "title": "Wrong answer", "message": "m", "source": "model"}
    write_jsonl(tmp_path / "results.jsonl", [{"id": "c1", "findings": [claim]}])
    assert replay.main([str(tmp_path / "cases.jsonl"), "--results", str(tmp_path / "results.jsonl"), "--hints"]) == 0
    out = capsys.readouterr().out
    assert "| and lint echoes capped | - / 100% (1/1) | - | - / 100% (1/1) |" in out
    assert "| and claims on prose lowered | - / 0% (0/1) | - | - / 0% (0/1) |" in out


@pytest.mark.parametrize("line, on", [
    ("    ctx.check_hostname = True", True),
    ("context.verify_mode = ssl.CERT_REQUIRED", True),
    ("app.config['SESSION_COOKIE_SECURE'] = True  # HTTPS only", True),
    ("parser.resolve_entities = False", True),
    ("ctx.check_hostname = False", False),  # turned off: a claim here may well be right
    ("ctx.verify_mode = ssl.CERT_NONE", False),
    ("app.config['WTF_CSRF_ENABLED'] = False", False),
    ("requests.get(url, verify=True)", False),  # a call: the request itself may be the flaw
    ("ctx.check_hostname = True; ctx.load_verify_locations(path)", False),
    ("debug = True", False),
])
def test_a_line_that_turns_a_protection_on(line: str, on: bool) -> None:
    from reviewer.grounding import turns_protection_on

    assert turns_protection_on(line) is on


def test_a_security_claim_on_a_protection_switched_on_is_lowered() -> None:
    from reviewer.grounding import PROTECTION_NOTE, ground_protection_claims

    hunk = make_hunk(path="tls.py", removed=(), added=("    ctx.check_hostname = True", "    ctx.verify_mode = x"),
                     before=("def context(x):",), after=())
    claim = replace(make_finding(line=11, title="Incorrect check_hostname setting", path="tls.py"), end_line=11)
    (f,) = ground_protection_claims((claim,), hunk)
    assert f.severity is Severity.LOW and f.message.endswith(PROTECTION_NOTE)
    spanning = replace(claim, end_line=12)  # line 12 sets verify_mode to something unknown
    bug = replace(claim, category=Category.BUG)
    assert ground_protection_claims((spanning, bug), hunk) == (spanning, bug)


def test_a_security_claim_on_imports_only_is_lowered() -> None:
    from reviewer.grounding import IMPORT_NOTE, ground_import_claims

    hunk = make_hunk(path="h.py", removed=(), before=(), after=(), start=1,
                     added=("import xml.etree.ElementTree as ET", "from lxml import etree", "root = ET.parse(f)"))
    on_import = replace(make_finding(line=1, title="XML Parsing Vulnerability", path="h.py"), end_line=2)
    (f,) = ground_import_claims((on_import,), hunk)
    assert f.severity is Severity.LOW and f.message.endswith(IMPORT_NOTE)
    on_use = replace(on_import, end_line=3)  # reaches the line that parses
    bug = replace(on_import, category=Category.BUG)  # "No module named ..." is a real bug
    assert ground_import_claims((on_use, bug), hunk) == (on_use, bug)
