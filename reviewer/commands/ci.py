"""`reviewer ci github|gitlab`: review a pull/merge request and post the findings on it (reviewer/ci/)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from reviewer.errors import ReviewerError
from reviewer.options import add_review_args, set_help

EPILOG = """\
GitHub (in a workflow on `pull_request` events):
  reviewer ci github                         repo, PR and token from GITHUB_REPOSITORY,
                                             GITHUB_EVENT_PATH and GITHUB_TOKEN
  reviewer ci github --repo o/r --pr 12 --dry-run   print what would be posted
GitLab (in a merge_request_event pipeline):
  reviewer ci gitlab                         project, MR and server from CI_PROJECT_ID,
                                             CI_MERGE_REQUEST_IID, CI_SERVER_URL; token
                                             from GITLAB_TOKEN (else CI_JOB_TOKEN)

The diff defaults to the request's own: merge-base(base, head)..head, by commit id
(fetch the history, e.g. actions/checkout with fetch-depth: 0, or GIT_DEPTH: 0).
Re-runs do not repeat comments: each carries a hidden fingerprint marker; comments
whose finding is gone are marked outdated (GitHub) or resolved (GitLab).
A reply "/reviewer dismiss REASON" (GitLab: "reviewer dismiss REASON") from someone
with write access hides that finding for the rest of the request.
Settings (.reviewer.toml, [tool.reviewer], .reviewer/instructions.md) are read from the
base commit, not the checkout. After the first run only the hunks changed since the last
reviewed head go to the model; a comment "/reviewer review" (GitLab: "reviewer review")
from someone with write access, or --full-review, reviews everything again.

exit status: 0 no finding at or above --fail-on, 1 findings at or above it,
2 usage, input or API error, 3 the budget (--max-hunks, --time-budget) left hunks unreviewed.
"""


def add_parser(subparsers: Any) -> None:
    """Register `reviewer ci github|gitlab` on the CLI's subparsers."""
    ci = subparsers.add_parser(
        "ci", help="review a pull/merge request and post the findings on it",
        description="Review a pull request (GitHub) or merge request (GitLab) and post inline comments.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    csub = ci.add_subparsers(dest="ci_platform", metavar="PLATFORM")
    gh = csub.add_parser("github", help="post a pull-request review on GitHub", epilog=EPILOG,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    gh.add_argument("--repo", metavar="OWNER/NAME", help="repository (default: GITHUB_REPOSITORY)")
    gh.add_argument("--pr", type=int, metavar="N", help="pull request number (default: from GITHUB_EVENT_PATH)")
    gl = csub.add_parser("gitlab", help="post merge-request discussions on GitLab", epilog=EPILOG,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    gl.add_argument("--project", metavar="ID|PATH", help="project id or path (default: CI_PROJECT_ID)")
    gl.add_argument("--mr", type=int, metavar="IID", help="merge request iid (default: CI_MERGE_REQUEST_IID)")
    for p in (gh, gl):
        p.add_argument("--dry-run", action="store_true",
                       help="print the planned API writes as JSON instead of posting (no token needed with --diff/--range/--base)")
        add_review_args(p)
        p.add_argument("--full-review", action="store_true",
                       help="review every hunk of the request, not only what changed since the last reviewed head "
                       "(also asked for by a `/reviewer review` comment from someone with write access)")
        p.add_argument("--run-tests", action="store_true", default=None,
                       help="also write and run tests of the changed functions, as `reviewer review --run-tests` "
                       "(minutes; a test that passed before the request and fails after it is a finding)")
        # the request's own commits are the default here, not the index
        set_help(p, "staged", "review staged changes (default: the request's merge-base...head commits)")


def run(args: argparse.Namespace, cwd: Path) -> int:
    platform = getattr(args, "ci_platform", None)
    if platform == "github":
        from reviewer.ci.github import run_github

        return run_github(args, cwd, os.environ)
    if platform == "gitlab":
        from reviewer.ci.gitlab import run_gitlab

        return run_gitlab(args, cwd, os.environ)
    raise ReviewerError("choose a platform: `reviewer ci github` or `reviewer ci gitlab`")
