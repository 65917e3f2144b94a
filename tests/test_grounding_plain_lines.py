"""Rule 1 (reviewer/grounding/plain_lines.py): security claims on lines that touch nothing
security-relevant are lowered."""

from dataclasses import replace

import pytest
from helpers import make_finding, make_hunk, write_jsonl

from reviewer.backends.fake import FakeBackend
from reviewer.grounding import LOWERED_NOTE, code_part, ground_security_claims, touches_security
from reviewer.grounding import plain_lines as rule
from reviewer.grounding.facts import FileFacts
from reviewer.grounding.rule import Evidence
from reviewer.pipeline import run_review
from reviewer.types import Category, ParsedDiff, Severity


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
    from bench import grounding_replay as replay

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
    assert code_part(line, language) == code


def test_words_in_a_comment_do_not_ground_a_claim() -> None:
    assert not touches_security("done = read_results(args.out)  # resumes as `reviewer eval` does")
    assert touches_security('q = "SELECT 1 # x"')
    assert not touches_security('const u = "a//b"; // eval(x) here', "javascript")


def test_the_rule_always_runs_on_the_hunk() -> None:
    claim = make_finding(line=11)
    assert rule.applies(()) and rule.applies((claim,))
    assert rule.apply((claim,), Evidence(PLAIN, (), FileFacts(None))) == ground_security_claims((claim,), PLAIN)
