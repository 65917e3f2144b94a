"""`reviewer ci github|gitlab`: review a pull/merge request's diff and post the findings on it.

The command runs the same pipeline as `reviewer review`, then hands the `Review` to a
platform module (`github.py`, `gitlab.py`) that posts inline comments plus a summary,
idempotently (see `comments.make_plan`). The CLI wires it in with `add_parser` and `run`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reviewer.errors import ReviewerError
from reviewer.types import Review

# Secrets the platform gives the job; a repository's config must not route them to a model server.
PLATFORM_SECRETS = ("GITHUB_TOKEN", "GH_TOKEN", "GITLAB_TOKEN", "CI_JOB_TOKEN", "ACTIONS_RUNTIME_TOKEN",
                    "ACTIONS_ID_TOKEN_REQUEST_TOKEN")

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

exit status: 0 no finding at or above --fail-on, 1 findings at or above it,
2 usage, input or API error.
"""


def add_parser(subparsers: Any) -> None:
    """Register `reviewer ci github|gitlab` on the CLI's subparsers."""
    from reviewer.cli import _add_review_args

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
        _add_review_args(p)
        p.add_argument("--run-tests", action="store_true", default=None,
                       help="also write and run tests of the changed functions, as `reviewer review --run-tests` "
                       "(minutes; a test that passed before the request and fails after it is a finding)")
        for action in p._actions:  # the request's own commits are the default here, not the index
            if action.dest == "staged":
                action.help = "review staged changes (default: the request's merge-base...head commits)"


def run(args: argparse.Namespace, cwd: Path) -> int:
    """Entry point for `reviewer ci ...`; returns the exit status."""
    platform = getattr(args, "ci_platform", None)
    if platform == "github":
        from reviewer.ci.github import run_github

        return run_github(args, cwd, os.environ)
    if platform == "gitlab":
        from reviewer.ci.gitlab import run_gitlab

        return run_gitlab(args, cwd, os.environ)
    raise ReviewerError("choose a platform: `reviewer ci github` or `reviewer ci gitlab`")


def explicit_source(args: argparse.Namespace) -> bool:
    return bool(args.range or args.base or args.diff or args.staged)


def review_request(args: argparse.Namespace, cwd: Path, env: Mapping[str, str], default_range: str | None) -> tuple[Review | None, Any]:
    """Run the review pipeline for a CI command. Returns (None, config) when the diff is empty.

    The diff source is the one given by flags, else `default_range` ("BASE...HEAD").
    """
    from reviewer.cli import _diff_source, _flags
    from reviewer.config import load_config
    from reviewer.diff import DiffSource
    from reviewer.session import parse_source, review_parsed

    config = load_config(cwd, env, _flags(args), Path(args.config) if args.config else None)
    if config.api_key_env.upper() in PLATFORM_SECRETS:
        raise ReviewerError(f"refusing to send {config.api_key_env} to a model server (api_key_env); "
                            "use a variable of its own, e.g. REVIEWER_API_KEY")
    if explicit_source(args):
        source = _diff_source(args)
    elif default_range:
        source = DiffSource("range", default_range)
    else:
        raise ReviewerError("cannot tell which commits to review; pass --base REF, --range A..B or --diff FILE")
    parsed = parse_source(source, cwd, config, sys.stdin.buffer, allow_empty=True)
    if not parsed.hunks and not parsed.skipped:
        return None, config
    tree = None
    if config.run_tests:
        from reviewer.testgen.command import tree_spec

        tree = tree_spec(args if explicit_source(args) else argparse.Namespace(range=default_range, base=None, diff=None),
                         cwd)
    return review_parsed(parsed, config, tree=tree), config


def report_and_exit(args: argparse.Namespace, review: Review, config: Any, planned: dict[str, Any] | None) -> int:
    """Print the report (text/json, or to -o FILE), or in --dry-run the planned writes; exit status by --fail-on."""
    from reviewer.cli import write_atomically
    from reviewer.sinks import get_renderer

    report = get_renderer(args.format)(review, False)
    if args.output:
        write_atomically(Path(args.output), report)
    if args.dry_run:
        sys.stdout.write(json.dumps(planned, indent=2, ensure_ascii=False) + "\n")
    elif not args.output:
        sys.stdout.write(report)
    sys.stdout.flush()
    if config.fail_on is None:
        return 0
    return 1 if any(f.severity.rank >= config.fail_on.rank for f in review.findings) else 0


def write_step_summary(env: Mapping[str, str], markdown: str) -> None:
    """Append to the GitHub Actions job summary when there is one (best effort)."""
    path = env.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    try:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(markdown + "\n")
    except OSError:
        pass


def scrub(text: str, secrets: tuple[str | None, ...]) -> str:
    """`text` with every secret replaced by ***, first line only, bounded length."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line[:300]
