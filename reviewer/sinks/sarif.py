"""`--format sarif`: SARIF 2.1.0 as GitHub code scanning accepts it (`upload-sarif`).

One run, one rule per distinct ruleId, one result per finding. Rule ids are stable
across runs: `reviewer/<category>/<slug of title>` for model findings and
`<tool>/<code>` for analyzer findings (bandit's "(B608)" title suffix).

Paths are repo-relative under `%SRCROOT%`. `partialFingerprints.primaryLocationLineHash`
follows GitHub's shape (`<hash>:<occurrence>`), computed from the flagged line's text
as the diff shows it, so an alert survives unrelated lines moving above it.
Validated in the tests against the official OASIS schema (tests/data/sarif-schema-2.1.0.json).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from urllib.parse import quote

import reviewer
from reviewer.types import Category, Finding, Review, Severity

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
# Where a user reads about the tool (SARIF tool.driver.informationUri, rdjson source.url).
PROJECT_URL = "https://pypi.org/project/reviewer/"
SRCROOT = "%SRCROOT%"

LEVEL = {Severity.HIGH: "error", Severity.MEDIUM: "warning", Severity.LOW: "note"}
# GitHub: >= 9.0 critical, 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low.
SECURITY_SEVERITY = {Severity.HIGH: "8.0", Severity.MEDIUM: "5.5", Severity.LOW: "2.0"}
# GitHub's `problem.severity` for rules without a security-severity.
PROBLEM_SEVERITY = {Severity.HIGH: "error", Severity.MEDIUM: "warning", Severity.LOW: "recommendation"}
CATEGORY_HELP = {
    Category.BUG: "A likely defect: the code does not do what it appears meant to do.",
    Category.SECURITY: "A security weakness that an attacker could exploit.",
    Category.PERFORMANCE: "Code that does more work than it needs to.",
    Category.STYLE: "A readability or maintainability problem.",
}

_TOOL_CODE = re.compile(r"\s*\(([A-Z]{1,4}[0-9]{2,5})\)\s*$")  # "... (B608)"
_BANDIT_NAME = re.compile(r"^bandit [A-Z]+[0-9]+ \(([A-Za-z0-9_]+)\)")  # "bandit B608 (hardcoded_sql_expressions): ..."
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~])")  # ~: a message starting with ~~~ would open a fence


# ---- shared with the other machine-readable sinks ----------------------------------


def tool_code(f: Finding) -> str | None:
    """The analyzer's own rule code ("B608") for a non-model finding, if its title carries one."""
    if f.source == "model":
        return None
    m = _TOOL_CODE.search(f.title)
    return m.group(1) if m else None


def slug(text: str, limit: int = 60) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return s[:limit].rstrip("-") or "finding"


def rule_id(f: Finding) -> str:
    """Stable rule identity: `bandit/B608`, or `reviewer/security/sql-built-with-string-formatting`."""
    code = tool_code(f)
    if code:
        return f"{f.source}/{code}"
    prefix = "reviewer" if f.source == "model" else f.source
    return f"{prefix}/{f.category.value}/{slug(_TOOL_CODE.sub('', f.title))}"


def rule_help_uri(f: Finding) -> str | None:
    """A documentation link for analyzer rules (bandit's own docs); None for model findings."""
    code = tool_code(f)
    if f.source != "bandit" or not code:
        return None
    try:
        from bandit.core.docs_utils import get_url
    except ImportError:
        return None
    try:
        return str(get_url(code))
    except Exception:  # noqa: BLE001 - a docs link is never worth failing a report
        return None


def finding_text(f: Finding) -> str:
    """Title and message as one plain sentence, without repeating the title."""
    title = f.title.strip().rstrip(".")
    message = f.message.strip()
    core = _TOOL_CODE.sub("", title)
    if not message or message.rstrip(".") == title:
        return title
    if core and core.lower() in message.lower():
        return message
    return f"{title}: {message}"


def md_escape(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", text)


def md_code_block(code: str, language: str = "") -> str:
    """A fenced block that model text cannot close early: the fence outgrows any backtick run in it."""
    longest = max((len(m) for m in re.findall(r"`+", code)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{code.rstrip()}\n{fence}"


# ---- SARIF -------------------------------------------------------------------------


def line_hashes(lines: dict[tuple[str, int], str]) -> dict[tuple[str, int], str]:
    """GitHub-style `primaryLocationLineHash` for every known line: `<16 hex>:<occurrence>`.

    The hash ignores whitespace (re-indenting keeps the alert); the occurrence number
    tells identical lines of one file apart, counted in line order.
    """
    out: dict[tuple[str, int], str] = {}
    seen: dict[tuple[str, str], int] = {}
    for path, no in sorted(lines):
        digest = hashlib.sha256("".join(lines[(path, no)].split()).encode()).hexdigest()[:16]
        seen[(path, digest)] = seen.get((path, digest), 0) + 1
        out[(path, no)] = f"{digest}:{seen[(path, digest)]}"
    return out


def _pascal(text: str) -> str:
    return "".join(w[:1].upper() + w[1:].lower() for w in re.findall(r"[A-Za-z0-9]+", text)) or "Finding"


def _rule(rid: str, findings: list[Finding]) -> dict[str, object]:
    first = findings[0]
    worst = max((f.severity for f in findings), key=lambda s: s.rank)
    title = _TOOL_CODE.sub("", first.title.strip()).rstrip(".") or first.title.strip()
    code = tool_code(first)
    bandit_name = _BANDIT_NAME.match(first.message) if code else None
    name = bandit_name.group(1) if bandit_name else _pascal(title)
    help_uri = rule_help_uri(first)
    origin = f"{first.source} {code}" if code else "reviewer's model review"
    full = f"{title}. {CATEGORY_HELP[first.category]}"
    help_text = f"{title}\n\n{CATEGORY_HELP[first.category]} Reported by {origin}."
    help_md = f"**{md_escape(title)}**\n\n{CATEGORY_HELP[first.category]} Reported by {md_escape(origin)}."
    if help_uri:
        help_text += f"\n\nSee {help_uri}"
        help_md += f"\n\nSee [the {md_escape(first.source)} documentation]({help_uri})."
    if first.source == "model":
        help_text += " Model findings can be wrong: check before acting."
        help_md += " Model findings can be wrong: check before acting."
    tags = [first.category.value]
    if first.category is Category.SECURITY and "security" not in tags:
        tags.append("security")
    if first.source != "model":
        tags.append(first.source)
    props: dict[str, object] = {
        "tags": tags,
        "precision": "medium" if first.source == "model" else "high",
        "problem.severity": PROBLEM_SEVERITY[worst],
    }
    if first.category is Category.SECURITY:
        props["security-severity"] = SECURITY_SEVERITY[worst]
    rule: dict[str, object] = {
        "id": rid,
        "name": name,
        "shortDescription": {"text": title},
        "fullDescription": {"text": full},
        "help": {"text": help_text, "markdown": help_md},
        "defaultConfiguration": {"level": LEVEL[worst]},
        "properties": props,
    }
    if help_uri:
        rule["helpUri"] = help_uri
    return rule


def _artifact(path: str) -> dict[str, str]:
    return {"uri": quote(path.replace("\\", "/"), safe="/"), "uriBaseId": SRCROOT}


def _region(f: Finding, lines: dict[tuple[str, int], str]) -> dict[str, object]:
    region: dict[str, object] = {"startLine": f.line, "endLine": max(f.end_line, f.line)}
    numbers = range(f.line, max(f.end_line, f.line) + 1)
    if all((f.path, n) in lines for n in numbers):
        region["snippet"] = {"text": "\n".join(lines[(f.path, n)] for n in numbers)}
    return region


def _result(f: Finding, rid: str, index: int, lines: dict[tuple[str, int], str],
            hashes: dict[tuple[str, int], str]) -> dict[str, object]:
    text = finding_text(f)
    markdown = f"**{md_escape(f.title.strip())}**"
    if f.message.strip() and f.message.strip() != f.title.strip():
        markdown += f"\n\n{md_escape(f.message.strip())}"
    if f.suggestion:
        markdown += "\n\nSuggested change:\n\n" + md_code_block(f.suggestion)
    result: dict[str, object] = {
        "ruleId": rid,
        "ruleIndex": index,
        "level": "warning" if f.advisory else LEVEL[f.severity],  # advisory: at fail-on, not blocking
        "message": {"text": text, "markdown": markdown},
        "locations": [{"physicalLocation": {"artifactLocation": _artifact(f.path), "region": _region(f, lines)}}],
        "partialFingerprints": {"primaryLocationLineHash": hashes.get((f.path, f.line), f"{f.fingerprint}:1")},
        # v2: anchored on the flagged code, not its line (docs/noise.md); v1 held a position-based one
        "fingerprints": {"reviewer/v2": f.fingerprint},
        "properties": {"category": f.category.value, "severity": f.severity.value, "source": f.source,
                       **({"evidence": list(f.evidence)} if f.evidence else {}),
                       **({"blocking": False} if f.advisory else {})},
    }
    if f.suggestion:
        result["fixes"] = [{
            "description": {"text": "Suggested change"},
            "artifactChanges": [{
                "artifactLocation": _artifact(f.path),
                "replacements": [{
                    # No columns: the whole text of lines line..end_line, newline kept (SARIF 3.30.2).
                    "deletedRegion": {"startLine": f.line, "endLine": max(f.end_line, f.line)},
                    "insertedContent": {"text": f.suggestion.rstrip("\n")},
                }],
            }],
        }]
    return result


def _notifications(review: Review) -> Iterable[dict[str, object]]:
    for s in review.stats.skipped:
        yield {
            "level": "note",
            "message": {"text": f"skipped {s.path}: {s.reason}"},
            "locations": [{"physicalLocation": {"artifactLocation": _artifact(s.path)}}],
        }
    if review.stats.dropped_findings:
        yield {"level": "note",
               "message": {"text": f"dropped {review.stats.dropped_findings} model finding(s) not on an added line of the diff"}}


def to_sarif(review: Review) -> dict[str, object]:
    """The SARIF log as a plain dict (what `render` serialises)."""
    lines = review.new_side_lines()
    hashes = line_hashes(lines)
    by_rule: dict[str, list[Finding]] = {}
    for f in review.findings:
        by_rule.setdefault(rule_id(f), []).append(f)
    index = {rid: i for i, rid in enumerate(by_rule)}
    invocation: dict[str, object] = {"executionSuccessful": True}
    notes = list(_notifications(review))
    if notes:
        invocation["toolExecutionNotifications"] = notes
    run: dict[str, object] = {
        "tool": {"driver": {
            "name": "reviewer",
            "informationUri": PROJECT_URL,
            "semanticVersion": reviewer.__version__,
            "rules": [_rule(rid, fs) for rid, fs in by_rule.items()],
        }},
        "originalUriBaseIds": {SRCROOT: {"description": {"text": "The root of the reviewed repository."}}},
        "invocations": [invocation],
        "results": [_result(f, rule_id(f), index[rule_id(f)], lines, hashes) for f in review.findings],
        "properties": {
            "model": {"name": review.model.name, "sha256": review.model.sha256},
            "stats": review.stats.to_dict(),
        },
    }
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def render(review: Review, color: bool = False, fail_on: Severity | None = None) -> str:
    return json.dumps(to_sarif(review), indent=2, ensure_ascii=False) + "\n"
