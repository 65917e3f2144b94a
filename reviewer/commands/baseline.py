"""`reviewer baseline add|list|remove|prune`: the committed list of dismissed findings (.reviewer-baseline.json)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from reviewer.errors import ReviewerError
from reviewer.options import add_review_args, diff_source, hide_options, load_config

EPILOG = """\
examples:
  reviewer baseline add --reason "legacy code, tracked in #412"        dismiss every finding in the staged changes
  reviewer baseline add --base origin/main --reason "accepted in review"  ... in what a pull request shows
  reviewer baseline add --fingerprint 9d511a5bb67d430c --reason "input validated upstream"
  reviewer baseline list                      what is dismissed, why and since when (--json for a script)
  reviewer baseline remove 9d511a5bb67d430c   raise it again
  reviewer baseline prune --dry-run           entries whose code is no longer in the tree, then without --dry-run

The file lives at the repository root; commit it. `reviewer review`, `hook run`, `ci` and the
TUI hide what it lists and say how many they hid; `--no-baseline` shows everything. A finding
is recorded by a fingerprint of its code, not its line number: lines inserted above it keep
it dismissed (docs/noise.md). Errors: one line, exit 2.
"""


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "baseline", help="dismiss findings for good: add, list, remove, prune .reviewer-baseline.json",
        description="Manage .reviewer-baseline.json, the findings a person looked at and dismissed (with a reason).",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = p.add_subparsers(dest="baseline_command", metavar="ACTION")
    add = actions.add_parser("add", help="review, then record every finding (or those with --fingerprint)",
                             description="Review the diff like `reviewer review` and record its findings as dismissed.",
                             epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add.add_argument("--reason", required=True, metavar="TEXT", help="why these findings are not problems (kept in the file)")
    add.add_argument("--fingerprint", action="append", metavar="FP",
                     help="record only the finding with this fingerprint (repeatable; see `reviewer review --format json`)")
    add_review_args(add)
    hide_options(add, ("format", "output", "fail_on", "baseline", "max_findings", "max_findings_per_file",
                       "report_unused_ignores"))
    ls = actions.add_parser("list", help="print the dismissed findings")
    ls.add_argument("--json", action="store_true", help="the entries as JSON, one object per line")
    rm = actions.add_parser("remove", help="delete entries by fingerprint (the findings come back)")
    rm.add_argument("fingerprints", nargs="+", metavar="FP")
    prune = actions.add_parser("prune", help="delete entries whose code is no longer in the working tree")
    prune.add_argument("--dry-run", action="store_true", help="only print what would be deleted")


def run(args: argparse.Namespace, cwd: Path) -> int:
    from reviewer.baseline import baseline_path, find_root, load_baseline

    action = args.baseline_command
    if action is None:
        raise ReviewerError("missing action: reviewer baseline add | list | remove | prune (see `reviewer baseline --help`)")
    root = find_root(cwd)
    path = baseline_path(root)
    baseline = load_baseline(path)  # an unreadable file is an error here: rewriting it would lose it
    for problem in baseline.problems:
        print(f"reviewer: warning: {problem}", file=sys.stderr)
    if action == "list":
        return _list(baseline, args.json)
    if action == "remove":
        return _remove(path, baseline, args.fingerprints)
    if action == "prune":
        return _prune(path, root, baseline, args.dry_run)
    return _add(args, cwd, path, baseline)


def _add(args: argparse.Namespace, cwd: Path, path: Path, baseline: Any) -> int:
    from reviewer.baseline import save_baseline
    from reviewer.session import ReviewSession

    reason = " ".join(args.reason.split())
    if not reason:
        raise ReviewerError("--reason is empty; say why these findings are not problems")
    config = load_config(args, cwd).replace(baseline=False, max_findings=0, max_findings_per_file=0)
    with ReviewSession(config) as session:
        parsed = session.parse(diff_source(args), cwd, sys.stdin.buffer)
        findings = session.review(parsed).findings
    if args.fingerprint:
        wanted = set(args.fingerprint)
        missing = wanted - {f.fingerprint for f in findings}
        if missing:
            raise ReviewerError(f"no finding with fingerprint {', '.join(sorted(missing))} in this review; "
                                "`reviewer review --format json` shows each finding's fingerprint")
        findings = tuple(f for f in findings if f.fingerprint in wanted)
    upgraded = baseline.upgraded(findings)
    already = sum(f in baseline for f in findings)
    updated = upgraded
    for f in findings:
        if f not in upgraded:
            updated = updated.with_finding(f, reason)
    if updated != baseline:
        save_baseline(path, updated)
    print(f"recorded {len(findings) - already} finding(s) in {path.name}"
          + (f" ({already} already there)" if already else ""))
    return 0


def _list(baseline: Any, as_json: bool) -> int:
    entries = sorted(baseline.entries.values(), key=lambda e: (e.path, e.line, e.fingerprint))
    for e in entries:
        if as_json:
            print(json.dumps(e.to_dict(), ensure_ascii=False))
        else:
            since = f", {e.dismissed}" if e.dismissed else ""
            print(f"{e.fingerprint}  {e.path}:{e.line}  {e.severity} {e.category}: {e.title}  ({e.reason or 'no reason'}{since})")
    if not as_json:
        print(f"{len(entries)} dismissed finding(s)", file=sys.stderr)
    return 0


def _remove(path: Path, baseline: Any, fingerprints: list[str]) -> int:
    from reviewer.baseline import save_baseline

    unknown = [fp for fp in fingerprints if fp not in baseline.entries]
    if unknown:
        raise ReviewerError(f"not in {path.name}: {', '.join(unknown)} (see `reviewer baseline list`)")
    for fp in fingerprints:
        baseline = baseline.without(fp)
    save_baseline(path, baseline)
    print(f"removed {len(set(fingerprints))} entr{'y' if len(set(fingerprints)) == 1 else 'ies'} from {path.name}")
    return 0


def _prune(path: Path, root: Path, baseline: Any, dry_run: bool) -> int:
    from reviewer.baseline import code_present, save_baseline

    gone = []
    for e in sorted(baseline.entries.values(), key=lambda e: (e.path, e.line)):
        file = root / e.path
        try:
            lines = file.read_text(encoding="utf-8", errors="replace").splitlines() if file.is_file() else None
        except OSError:
            continue  # cannot tell: keep it
        if lines is None or not code_present(e, lines):
            gone.append(e)
            print(f"{'would prune' if dry_run else 'pruned'} {e.fingerprint}  {e.path}:{e.line}  {e.title}")
    if gone and not dry_run:
        for e in gone:
            baseline = baseline.without(e.fingerprint)
        save_baseline(path, baseline)
    print(f"{len(gone)} of {len(baseline.entries) + (0 if dry_run else len(gone))} entries "
          f"{'would be ' if dry_run else ''}pruned", file=sys.stderr)
    return 0
