"""Detection and false alarms with and without grounding the model's claims.

reviewer/grounding/ lowers a model security claim to `low` (no alarm) when the lines it
points at touch nothing security-relevant, caps a model finding that repeats a ruff hint
at ruff's severity, and lowers bug/security claims on comments, docstrings and blank
lines, injection claims in functions no untrusted input flows through
(reviewer/dataflow/), and "hardcoded path" / "stored in plain text" claims where a path
constant or a hash digest is all there is (reviewer/digests.py), and bug claims whose
suggested fix the flagged lines already read as (reviewer/suggested_fix.py), and security
claims on lines that only switch a protection on (`ctx.check_hostname = True`) or only
import a module. This replays the rules on a `reviewer eval` results file, no model run: findings
the pipeline already changed are restored first (they carry one of grounding's notes;
restored as `medium`, the lowest alarm), so files written with or without grounding,
or with an older vocabulary, give the same rows. The echo, prose and flow rows need the
case's repository (analyzer hints, whole new files): --hints rebuilds it per case as
`reviewer eval` does (ruff and bandit run; seconds for 192 cases).

    python bench/grounding_replay.py ../shared/eval/cases/*.jsonl --results results.jsonl [--hints] [--show]
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from unidiff import PatchSet

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.quality_curve import KINDS, cell, pooled, replay_inputs, replay_parser
from reviewer.context import language_for_path
from reviewer.evaluation.runner import score
from reviewer.grounding import (
    DIGEST_NOTE,
    ECHO_NOTE,
    FIX_PRESENT_NOTE,
    IMPORT_NOTE,
    LOWERED_NOTE,
    PATH_NOTE,
    PROSE_NOTE,
    PROTECTION_NOTE,
    TAINT_NOTE,
    FileFacts,
    ground_analyzer_flows,
    ground_echoed_hints,
    ground_import_claims,
    ground_non_vulnerabilities,
    ground_present_fixes,
    ground_prose_claims,
    ground_protection_claims,
    ground_untainted_claims,
    lowers,
)
from reviewer.types import Category, Finding, Hunk, ParsedDiff, Severity


def added_lines(diff: str) -> dict[str, dict[int, str]]:
    """path -> new line number -> text, for each added line of a case's diff."""
    out: dict[str, dict[int, str]] = {}
    for pf in PatchSet(diff):
        for hunk in pf:
            for ln in hunk:
                if ln.is_added:
                    out.setdefault(pf.path, {})[ln.target_line_no] = ln.value.rstrip("\n")
    return out


_FIX_PRESENT = re.compile(re.escape(FIX_PRESENT_NOTE.split("{code}")[0]) + r"[^`]*`\)")


def restored(finding: dict[str, Any]) -> dict[str, Any]:
    """A claim as the model made it (any lowered claim was an alarm: medium or high)."""
    message = finding.get("message", "")
    notes = [note for note in (LOWERED_NOTE, ECHO_NOTE, PROSE_NOTE, TAINT_NOTE, PATH_NOTE, DIGEST_NOTE,
                                         PROTECTION_NOTE, IMPORT_NOTE) if note in message]
    if not notes and not _FIX_PRESENT.search(message):
        return finding
    for note in notes:
        message = message.replace(note, "")
    return {**finding, "severity": "medium", "message": _FIX_PRESENT.sub("", message).strip()}


def case_inputs(case: dict[str, Any]) -> tuple[tuple[Finding, ...], ParsedDiff]:
    """The analyzer findings `reviewer eval` showed the model for this case, and the case
    as `reviewer eval` parsed it (hunks and whole new files)."""
    import tempfile

    from reviewer.analyzers import analyze
    from reviewer.config import Config
    from reviewer.diff import DiffSource
    from reviewer.errors import ReviewerError
    from reviewer.evaluation.materialize import isolated_git_env, materialize
    from reviewer.session import parse_source

    with tempfile.TemporaryDirectory(prefix="reviewer-replay-") as tmp:
        try:
            materialize(case["diff"], Path(tmp))
            with isolated_git_env():
                parsed = parse_source(DiffSource("staged"), Path(tmp), Config())
        except ReviewerError:
            return (), ParsedDiff(())
        return analyze(parsed), parsed


def as_finding(f: dict[str, Any]) -> Finding:
    return Finding(f["path"], f["line"], f.get("end_line", f["line"]), Category(f["category"]), Severity(f["severity"]),
                   f.get("title", ""), f.get("message", ""), f.get("suggestion"), source=f.get("source", "model"))


def regrounded(findings: list[dict[str, Any]], rule: Callable[[Finding], Finding]) -> list[dict[str, Any]]:
    """`findings` with each one's severity as `rule` leaves it."""
    return [{**f, "severity": rule(as_finding(f)).severity.value} for f in findings]


def echo_rule(hints: tuple[Finding, ...]) -> Callable[[Finding], Finding]:
    return lambda f: ground_echoed_hints((f,), hints)[0]


def hunk_at(parsed: ParsedDiff, f: Finding) -> Hunk | None:
    """The hunk whose added lines hold the finding's line (results files do not record hunks)."""
    return next((h for h in parsed.hunks if h.path == f.path and f.line in h.added_line_numbers), None)


def prose_rule(parsed: ParsedDiff, facts: FileFacts) -> Callable[[Finding], Finding]:
    def rule(f: Finding) -> Finding:
        hunk = hunk_at(parsed, f)
        return f if hunk is None else ground_prose_claims((f,), facts.prose(hunk))[0]
    return rule


def taint_rule(parsed: ParsedDiff, facts: FileFacts) -> Callable[[Finding], Finding]:
    def rule(f: Finding) -> Finding:
        if f.source == "bandit":  # one that no model claim was merged with
            return ground_analyzer_flows((f,), facts)[0]
        hunk = hunk_at(parsed, f)
        return f if hunk is None else ground_untainted_claims((f,), facts.taint(hunk))[0]
    return rule


def no_vulnerability_rule(facts: FileFacts) -> Callable[[Finding], Finding]:
    return lambda f: ground_non_vulnerabilities((f,), facts)[0]


def hunk_rule(parsed: ParsedDiff, ground: Callable[[tuple[Finding, ...], Hunk], tuple[Finding, ...]]
              ) -> Callable[[Finding], Finding]:
    """A rule that grounds a finding in the hunk showing its line (added or context)."""
    def rule(f: Finding) -> Finding:
        hunk = next((h for h in parsed.hunks if h.path == f.path and f.line in h.new_line_numbers), None)
        return f if hunk is None else ground((f,), hunk)[0]
    return rule


def show_changes(case_id: str, label: str, before: list[dict[str, Any]], after: list[dict[str, Any]], verb: str) -> None:
    for b, a in zip(before, after):
        if b["severity"] != a["severity"]:
            print(f"{verb}: {case_id} ({label}) {b['title']!r} {b['severity']} -> {a['severity']}")


def main(argv: list[str] | None = None) -> int:
    ap = replay_parser(__doc__)
    ap.add_argument("--show", action="store_true", help="list every claim grounding lowers")
    ap.add_argument("--hints", action="store_true",
                    help="rebuild each case's repository for the lint-echo and prose rows")
    args = ap.parse_args(argv)
    cases, results = replay_inputs(args)
    without: list[dict[str, Any]] = []
    with_grounding: list[dict[str, Any]] = []
    with_echoes: list[dict[str, Any]] = []
    with_prose: list[dict[str, Any]] = []
    with_taint: list[dict[str, Any]] = []
    with_named: list[dict[str, Any]] = []
    with_fixes: list[dict[str, Any]] = []
    with_protections: list[dict[str, Any]] = []
    with_imports: list[dict[str, Any]] = []
    for r in results:
        added = added_lines(cases[r["id"]]["diff"])
        findings = [restored(f) for f in r["findings"]]
        kept = []
        for f in findings:
            if lowers(as_finding(f), added.get(f["path"], {}), language_for_path(f["path"])):
                if args.show:
                    code = added.get(f["path"], {}).get(f["line"], "").strip()
                    print(f"lowered: {r['id']} ({cases[r['id']]['label']}) {f['title']!r} on {code[:70]!r}")
                f = {**f, "severity": "low"}
            kept.append(f)
        without.append({**r, "findings": findings})
        with_grounding.append({**r, "findings": kept})
        if args.hints:
            hints, parsed = case_inputs(cases[r["id"]])
            echoed = regrounded(kept, echo_rule(hints))
            facts = FileFacts(parsed.sources)
            prosed = regrounded(echoed, prose_rule(parsed, facts))
            untainted = regrounded(prosed, taint_rule(parsed, facts))
            named = regrounded(untainted, no_vulnerability_rule(facts))
            fixes = regrounded(named, hunk_rule(parsed, ground_present_fixes))
            protections = regrounded(fixes, hunk_rule(parsed, ground_protection_claims))
            imports = regrounded(protections, hunk_rule(parsed, ground_import_claims))
            if args.show:
                show_changes(r["id"], cases[r["id"]]["label"], kept, echoed, "capped")
                show_changes(r["id"], cases[r["id"]]["label"], echoed, prosed, "prose")
                show_changes(r["id"], cases[r["id"]]["label"], prosed, untainted, "no flow")
                show_changes(r["id"], cases[r["id"]]["label"], untainted, named, "no vulnerability")
                show_changes(r["id"], cases[r["id"]]["label"], named, fixes, "fix already there")
                show_changes(r["id"], cases[r["id"]]["label"], fixes, protections, "protection on")
                show_changes(r["id"], cases[r["id"]]["label"], protections, imports, "import")
            with_echoes.append({**r, "findings": echoed})
            with_prose.append({**r, "findings": prosed})
            with_taint.append({**r, "findings": untainted})
            with_named.append({**r, "findings": named})
            with_fixes.append({**r, "findings": fixes})
            with_protections.append({**r, "findings": protections})
            with_imports.append({**r, "findings": imports})
    rows = [("as the model made them", without), ("security claims grounded", with_grounding)]
    if args.hints:
        rows += [("and lint echoes capped", with_echoes), ("and claims on prose lowered", with_prose),
                 ("and flow claims without a flow lowered", with_taint),
                 ("and hardcoded-path / stored-digest claims lowered", with_named),
                 ("and bug claims whose fix is already there lowered", with_fixes),
                 ("and security claims on a protection switched on lowered", with_protections),
                 ("and security claims on imports lowered", with_imports)]
    columns = [*KINDS, "ALL"]
    print("| model findings | " + " | ".join(f"{n} detection / false alarms" for n in columns) + " |")
    print("|---|" + "---|" * len(columns))
    for name, rows_ in rows:
        scores = pooled(score(cases, rows_))
        print(f"| {name} | " + " | ".join(cell(scores[n]) if n in scores else "-" for n in columns) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
