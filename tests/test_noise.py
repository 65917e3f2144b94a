"""Noise the developer controls, without front ends: content fingerprints, inline ignores, the budget, old baselines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import make_hunk

from reviewer.anchors import anchor_findings, header_name
from reviewer.baseline import BASELINE_NAME, Baseline, BaselineEntry, code_present, load_baseline, save_baseline
from reviewer.config import Config
from reviewer.ignores import directives, parse_line
from reviewer.noise import apply_noise, within_budget
from reviewer.types import Category, Finding, ModelInfo, ParsedDiff, Review, Severity, Stats, title_class

SQL = '    cur = db.execute(f"SELECT * FROM users WHERE id = {user_id}")'


def source(pad: int = 0, tail: str = "") -> tuple[str, ...]:
    return ("import sqlite3", *(f"X{i} = {i}" for i in range(pad)), "", "", "def get_user(db, user_id):",
            SQL + tail, "    return cur.fetchone()")


def sql_finding(line: int, title: str = "SQL built with string formatting", **kw: object) -> Finding:
    return Finding("app/users.py", line, line, Category.SECURITY, Severity.HIGH, title, "use a parameter", **kw)  # type: ignore[arg-type]


def anchored(lines: tuple[str, ...], finding: Finding) -> Finding:
    (f,) = anchor_findings([finding], ParsedDiff((), sources={"app/users.py": lines}))
    return f


def test_fingerprint_survives_ten_lines_inserted_above() -> None:
    before = anchored(source(), sql_finding(5))
    after = anchored(source(pad=10), sql_finding(15))
    assert before.anchor == SQL and before.scope == "get_user"
    assert before.fingerprint == after.fingerprint
    assert before.position_fingerprint != after.position_fingerprint  # what used to bring it back
    assert len(before.fingerprint) == 16 and int(before.fingerprint, 16) >= 0


def test_fingerprint_changes_with_the_code_the_function_or_the_claim() -> None:
    base = anchored(source(), sql_finding(5)).fingerprint
    assert anchored(source(tail="  # changed"), sql_finding(5)).fingerprint != base
    moved = tuple(t.replace("get_user", "get_admin") for t in source())
    assert anchored(moved, sql_finding(5)).fingerprint != base
    assert anchored(source(), sql_finding(5, "Bare except")).fingerprint != base


@pytest.mark.parametrize("title", ["Possible SQL injection via f-string", "SQL query built by interpolation",
                                   "sql built with string formatting"])
def test_rewording_of_the_same_claim_keeps_the_fingerprint(title: str) -> None:
    assert anchored(source(), sql_finding(5, title)).fingerprint == anchored(source(), sql_finding(5)).fingerprint


def test_title_classes() -> None:
    assert title_class("Comparison to None") == title_class("`== None` should be `is None`") == "none"
    assert title_class("Hard-coded password") == "secret"
    assert title_class("Odd thing", "this runs eval on user input") == "code-injection"
    assert title_class("Something vague") == ""


def test_without_an_anchor_the_fingerprint_is_the_old_one() -> None:
    f = sql_finding(5)
    assert f.fingerprint == f.position_fingerprint


def test_header_names() -> None:
    assert header_name("    async def fetch(self, url):") == "fetch"
    assert header_name("func (s *Server) Handle(w http.ResponseWriter) {") == "Handle"
    assert header_name("export const load = async (id) => {") == "load"
    assert header_name("static int parse_args(int argc, char **argv) {") == "parse_args"


# -- old baselines -----------------------------------------------------------------------


def test_old_position_entry_still_matches_and_is_upgraded(tmp_path: Path) -> None:
    f = anchored(source(), sql_finding(5))
    path = tmp_path / BASELINE_NAME
    old = {"fingerprint": f.position_fingerprint, "path": f.path, "line": 5, "reason": "validated",
           "dismissed": "2024-01-02"}
    path.write_text(json.dumps({"version": 1, "findings": [old]}))
    baseline = load_baseline(path)
    assert f in baseline and baseline.match(f) is not None and baseline.match(f).legacy  # type: ignore[union-attr]
    up = baseline.upgraded([f])
    (entry,) = up.entries.values()
    assert entry.fingerprint == f.fingerprint and entry.reason == "validated" and entry.dismissed == "2024-01-02"
    assert entry.anchor and entry.span == 1
    moved = anchored(source(pad=10), sql_finding(15))
    assert moved in up and moved not in baseline  # the old entry only knew line 6


def test_anchored_entry_is_not_matched_by_position() -> None:
    f = anchored(source(), sql_finding(5))
    entry = BaselineEntry(f.position_fingerprint, f.path, 5, "security", "high", "t", anchor="abc", span=1)
    assert f not in Baseline({entry.fingerprint: entry})


def test_rewrite_keeps_unknown_keys_and_entries(tmp_path: Path) -> None:
    path = tmp_path / BASELINE_NAME
    f = anchored(source(), sql_finding(5))
    odd = ["not an entry", {"fingerprint": 3}]
    known = {"fingerprint": "aaaaaaaaaaaaaaaa", "path": "a.py", "line": 1, "ticket": "SEC-12"}
    path.write_text(json.dumps({"version": 1, "owner": "team-a", "findings": [known, *odd]}))
    baseline = load_baseline(path)
    assert len(baseline) == 1 and baseline.problems
    save_baseline(path, baseline.with_finding(f, "ok"))
    data = json.loads(path.read_text())
    assert data["owner"] == "team-a"
    assert odd[0] in data["findings"] and odd[1] in data["findings"]
    assert next(e for e in data["findings"] if isinstance(e, dict) and e.get("path") == "a.py")["ticket"] == "SEC-12"
    assert len(load_baseline(path)) == 2


def test_code_present_finds_the_code_anywhere_in_the_file() -> None:
    f = anchored(source(), sql_finding(5))
    entry = Baseline().with_finding(f, "ok").entries[f.fingerprint]
    assert code_present(entry, list(source(pad=30)))
    assert not code_present(entry, [t.replace("{user_id}", "?") for t in source()])


# -- inline ignores -------------------------------------------------------------------


@pytest.mark.parametrize("path, text, hides", [
    ("a.py", "x = 1  # reviewer: ignore[security]", True),
    ("a.py", "x = 1  # reviewer: ignore", True),
    ("a.py", "x = 1  # reviewer: ignore[style]", False),
    ("a.py", "x = 1  // reviewer: ignore", False),  # not a Python comment
    ("a.go", "x := 1 // reviewer: ignore[security,bug]", True),
    ("a.c", "x = 1; /* reviewer: ignore */", True),
    ("q.sql", "SELECT 1 -- reviewer: ignore", True),
    ("a.md", "text <!-- reviewer: ignore -->", True),
    ("a.rb", "x = 1 # REVIEWER: IGNORE", True),
])
def test_comment_syntax_by_language(path: str, text: str, hides: bool) -> None:
    from reviewer.context import language_for_path
    from reviewer.ignores import comment_prefixes

    d = parse_line(path, 3, text, comment_prefixes(language_for_path(path)))
    f = Finding(path, 3, 3, Category.SECURITY, Severity.HIGH, "t", "m")
    assert (d is not None and d.hides(f)) is hides


def test_comment_line_above_and_file_level() -> None:
    lines = {1: "# reviewer: ignore-file[style]", 2: "import os", 3: "# reviewer: ignore[bug]", 4: "x = f()",
             5: "y = 2  # reviewer: ignore", 6: "z = 3", 20: "# reviewer: ignore-file"}
    ds = directives("a.py", lines, "python")
    assert [d.line for d in ds] == [1, 3, 5]  # ignore-file after line 10 does not count

    def hidden(line: int, category: Category) -> bool:
        f = Finding("a.py", line, line, category, Severity.LOW, "t", "m")
        return any(d.hides(f) for d in ds)

    assert hidden(4, Category.BUG) and not hidden(4, Category.SECURITY)
    assert not hidden(6, Category.BUG)  # a trailing comment covers only its own line
    assert hidden(6, Category.STYLE)  # the file-level one


def review_of(*findings: Finding) -> Review:
    return Review(ModelInfo("fake", "0" * 64), findings, stats=Stats(hunks=1))


def test_unknown_category_is_one_warning_and_the_rest_applies(tmp_path: Path) -> None:
    hunk = make_hunk(path="a.py", removed=(), added=("x = eval(s)  # reviewer: ignore[secruity, bug]",), before=(), start=1)
    parsed = ParsedDiff((hunk,))
    f = Finding("a.py", 1, 1, Category.BUG, Severity.HIGH, "eval", "m")
    s = Finding("a.py", 1, 1, Category.SECURITY, Severity.HIGH, "eval on input", "m")
    warnings: list[str] = []
    out = apply_noise(review_of(f, s), parsed, Config(cwd=tmp_path), warnings.append)
    assert out.findings == (s,) and out.stats.hidden_by_inline == 1
    (line,) = warnings
    assert "a.py:1" in line and "'secruity'" in line and "choose from bug, security" in line


def test_unused_ignores_are_reported_on_request(tmp_path: Path) -> None:
    hunk = make_hunk(path="a.py", removed=(), added=("x = 1  # reviewer: ignore", "y = 2"), before=(), start=1)
    warnings: list[str] = []
    apply_noise(review_of(), ParsedDiff((hunk,)), Config(cwd=tmp_path), warnings.append)
    assert warnings == []
    apply_noise(review_of(), ParsedDiff((hunk,)), Config(cwd=tmp_path, report_unused_ignores=True), warnings.append)
    assert len(warnings) == 1 and "a.py:1: unused `reviewer: ignore`" in warnings[0]


# -- the budget -----------------------------------------------------------------------


def test_budget_ranks_severity_then_evidence_then_confidence() -> None:
    def f(path: str, line: int, sev: Severity, source: str = "model", conf: float | None = None) -> Finding:
        return Finding(path, line, line, Category.BUG, sev, f"t{line}", "m", source=source, confidence=conf)

    fs = [f("a.py", 1, Severity.LOW), f("a.py", 2, Severity.HIGH, conf=0.4), f("a.py", 3, Severity.HIGH, "bandit"),
          f("a.py", 4, Severity.HIGH, conf=0.9), f("b.py", 1, Severity.MEDIUM)]
    kept, left = within_budget(fs, 2, 0)
    assert [x.line for x in kept] == [3, 4] and left == 3
    kept, left = within_budget(fs, 0, 1)
    assert [(x.path, x.line) for x in kept] == [("a.py", 3), ("b.py", 1)] and left == 3
    assert within_budget(fs, 0, 0) == (tuple(fs), 0)


def test_budget_is_counted_in_stats_and_the_text_report(tmp_path: Path) -> None:
    from reviewer.sinks import text

    fs = tuple(Finding("a.py", n, n, Category.STYLE, Severity.LOW, f"t{n}", "m") for n in range(1, 6))
    out = apply_noise(review_of(*fs), ParsedDiff(()), Config(cwd=tmp_path, max_findings=2), lambda m: None)
    assert len(out.findings) == 2 and out.stats.over_budget == 3 and out.stats.to_dict()["over_budget"] == 3
    assert "3 more left out by the findings budget" in text.render(out)
