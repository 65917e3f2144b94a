"""`reviewer ci github|gitlab`: review a pull/merge request's diff and post the findings on it.

The command (reviewer/commands/ci.py) picks a platform module (`github.py`, `gitlab.py`);
it reviews through the same ReviewSession as `reviewer review` (`review_request` here),
then posts inline comments plus a summary, idempotently (see `comments.make_plan`).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from reviewer.errors import ReviewerError
from reviewer.options import diff_source, load_config, write_atomically
from reviewer.types import Hunk, Review, exit_status

# Exit status of `reviewer ci` when the budget left hunks unreviewed and nothing blocks (1 wins).
INCOMPLETE = 3

# Secrets the platform gives the job; a repository's config must not route them to a model server.
PLATFORM_SECRETS = ("GITHUB_TOKEN", "GH_TOKEN", "GITLAB_TOKEN", "CI_JOB_TOKEN", "ACTIONS_RUNTIME_TOKEN",
                    "ACTIONS_ID_TOKEN_REQUEST_TOKEN")

def explicit_source(args: argparse.Namespace) -> bool:
    return bool(args.range or args.base or args.diff or args.staged)


def request_config(args: argparse.Namespace, cwd: Path, env: Mapping[str, str], default_range: str | None) -> Any:
    """The settings for reviewing a request: the config file and instructions of the base commit
    (`--base REF`, the base of `--range`, else of `default_range`), never the checkout's: the
    request's author must not configure their own review. With only `--diff` there is no base
    commit: then the working tree's (a run on one's own machine). `--config FILE` always wins."""
    from reviewer.ci.incremental import base_files, base_of

    base = (args.base or base_of(args.range)) if explicit_source(args) else base_of(default_range)
    if base is None or getattr(args, "config", None):
        return load_config(args, cwd, env)
    return load_config(args, cwd, env, files=base_files(cwd, base))


def review_request(args: argparse.Namespace, cwd: Path, env: Mapping[str, str], default_range: str | None,
                   ask_only: Callable[[Hunk], bool] | None = None) -> tuple[Review | None, Any]:
    """Run the review pipeline for a CI command. Returns (None, config) when the diff is empty.

    The diff source is the one given by flags, else `default_range` ("BASE...HEAD"); the
    settings come from the base commit (`request_config`); `ask_only` (incremental runs) says
    which hunks may go to the model, the rest come from the cache only.
    """
    from reviewer.diff import DiffSource
    from reviewer.session import ReviewSession

    config = request_config(args, cwd, env, default_range)
    if config.api_key_env.upper() in PLATFORM_SECRETS:
        raise ReviewerError(f"refusing to send {config.api_key_env} to a model server (api_key_env); "
                            "use a variable of its own, e.g. REVIEWER_API_KEY")
    if explicit_source(args):
        source = diff_source(args)
    elif default_range:
        source = DiffSource("range", default_range)
    else:
        raise ReviewerError("cannot tell which commits to review; pass --base REF, --range A..B or --diff FILE")
    with ReviewSession(config) as session:
        parsed = session.parse(source, cwd, sys.stdin.buffer, allow_empty=True)
        if not parsed.hunks and not parsed.skipped:
            return None, config
        tree = None
        if config.run_tests:
            from reviewer.testgen.origin import tree_spec

            tree = tree_spec(cwd, range=args.range, base=args.base, diff=args.diff) if explicit_source(args) \
                else tree_spec(cwd, range=default_range)
        return session.review(parsed, tree=tree, ask_only=ask_only), config


def report_and_exit(args: argparse.Namespace, review: Review, config: Any, planned: dict[str, Any] | None) -> int:
    """Print the report (text/json, or to -o FILE), or in --dry-run the planned writes; exit status by --fail-on."""
    from reviewer.sinks import get_renderer

    report = get_renderer(args.format)(review, False, config.fail_on)
    if args.output:
        write_atomically(Path(args.output), report)
    if args.dry_run:
        sys.stdout.write(json.dumps(planned, indent=2, ensure_ascii=False) + "\n")
    elif not args.output:
        sys.stdout.write(report)
    sys.stdout.flush()
    status = exit_status(review.findings, config.fail_on)
    if status == 0 and review.stats.unreviewed:
        print(f"reviewer: {len(review.stats.unreviewed)} hunk(s) not reviewed: the budget (max-hunks / time-budget) "
              f"ran out; they are listed in the summary (exit {INCOMPLETE})", file=sys.stderr)
        return INCOMPLETE
    return status


def read_event(env: Mapping[str, str]) -> dict[str, Any]:
    """The pull_request event payload from GITHUB_EVENT_PATH, or {}."""
    path = env.get("GITHUB_EVENT_PATH")
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReviewerError(f"cannot read the event payload GITHUB_EVENT_PATH={path}: {exc}") from None
    return data if isinstance(data, dict) else {}


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
