"""`--format codeclimate`: GitLab's Code Quality report (a subset of the Code Climate issue format).

GitLab shows these in the merge request's Code Quality widget and the diff gutter when a
job uploads the file as `artifacts:reports:codequality` (ci/gitlab-ci.yml does). The
fields are the ones GitLab documents as required ("Implement a custom tool",
doc/ci/testing/code_quality.md): `description`, `check_name`, `fingerprint` (unique per
issue: GitLab compares base and head reports by it), `severity` (info, minor, major,
critical, blocker) and `location.path` + `location.lines.begin`. `tests/data/
codeclimate-gitlab.schema.json` holds that documented format as a JSON schema and
`tests/test_sinks_machine.py` validates this output against it. GitLab renders
`description` as plain text; control characters are stripped all the same.
"""

from __future__ import annotations

import json

from reviewer.sinks.markdown import strip_control
from reviewer.sinks.sarif import finding_text, rule_id
from reviewer.types import Category, Review, Severity

SEVERITY = {Severity.HIGH: "critical", Severity.MEDIUM: "major", Severity.LOW: "minor"}
# Code Climate's category names (GitLab accepts and ignores them).
CATEGORY = {Category.BUG: "Bug Risk", Category.SECURITY: "Security", Category.PERFORMANCE: "Performance",
            Category.STYLE: "Style"}
MAX_DESCRIPTION = 1000


def render(review: Review, color: bool = False, fail_on: Severity | None = None) -> str:
    issues: list[dict[str, object]] = []
    seen: set[str] = set()
    for f in review.findings:
        fingerprint = f.fingerprint
        n = 1
        while fingerprint in seen:  # two findings with one content fingerprint: GitLab wants them distinct
            n += 1
            fingerprint = f"{f.fingerprint}-{n}"
        seen.add(fingerprint)
        issues.append({
            "type": "issue",
            "description": strip_control(finding_text(f))[:MAX_DESCRIPTION],
            "check_name": rule_id(f),
            "categories": [CATEGORY[f.category]],
            "fingerprint": fingerprint,
            "severity": SEVERITY[f.severity],
            "location": {"path": f.path, "lines": {"begin": f.line, "end": max(f.end_line, f.line)}},
        })
    return json.dumps(issues, indent=2, ensure_ascii=False) + "\n"
