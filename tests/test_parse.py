import json

from helpers import make_finding, make_hunk

from reviewer.answers import merge_duplicates, parse_findings
from reviewer.types import Category, Severity


def answer(*findings):
    return json.dumps({"change": "", "analysis": "", "findings": list(findings)})


def item(line=11, category="security", severity="high", title="SQL injection", suggestion=""):
    return {"line": line, "category": category, "severity": severity, "title": title,
            "message": "interpolated", "suggestion": suggestion}


def test_valid_finding_is_kept():
    result = parse_findings(answer(item()), make_hunk())
    assert not result.malformed and result.dropped == 0
    (f,) = result.findings
    assert (f.path, f.line, f.end_line, f.category, f.severity) == ("app/users.py", 11, 11, Category.SECURITY, Severity.HIGH)
    assert f.source == "model"


def test_lines_outside_new_side_are_dropped_and_counted():
    result = parse_findings(answer(item(line=3), item(line=99), item(line=11)), make_hunk())
    assert [f.line for f in result.findings] == [11]
    assert result.dropped == 2


def test_unknown_enum_values_are_dropped():
    result = parse_findings(answer(item(category="typo"), item(severity="critical")), make_hunk())
    assert result.findings == () and result.dropped == 2


def test_line_as_string_digit_is_accepted_and_bools_are_not():
    result = parse_findings(answer(item(line="11"), item(line=True)), make_hunk())
    assert [f.line for f in result.findings] == [11] and result.dropped == 1


def test_malformed_json_is_reported_not_raised():
    for text in ("", "{", "[]", '{"findings": 3}', "null"):
        result = parse_findings(text, make_hunk())
        assert result.malformed and result.findings == ()


def test_suggestion_equal_to_current_line_is_no_suggestion():
    same = '    cur = db.execute(f"SELECT * FROM users WHERE id = {user_id}")'
    (f,) = parse_findings(answer(item(suggestion=same)), make_hunk()).findings
    assert f.suggestion is None
    (g,) = parse_findings(answer(item(suggestion="cur = db.execute(q, (user_id,))")), make_hunk()).findings
    assert g.suggestion == "cur = db.execute(q, (user_id,))"


def test_whitespace_in_text_is_collapsed_and_title_falls_back_to_message():
    raw = item(title="")
    raw["message"] = "multi\n\nline   message"
    (f,) = parse_findings(answer(raw), make_hunk()).findings
    assert f.message == "multi line message" and f.title == "multi line message"


def test_duplicates_merge_to_most_severe():
    low = make_finding(severity=Severity.LOW)
    high = make_finding(severity=Severity.HIGH)
    other = make_finding(line=12, title="another")
    merged = merge_duplicates([low, other, high])
    assert merged == [high, other]
