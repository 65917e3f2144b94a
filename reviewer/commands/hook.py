"""`reviewer hook run|install|uninstall`: reviewer as a git hook (the hook logic: reviewer/hook.py).

`run` reviews what is committed (the staged diff) or pushed and prints one
`path:line: severity category: title` line per finding, like flake8 or ruff. Exit 1 on
findings at or above `fail_on`, else 0; a commit with nothing reviewable passes silently.
When the model cannot run, `hook_policy` decides: fail-open (default) warns on stderr and
exits 0, fail-closed exits 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

from reviewer.errors import ModelUnavailable, ReviewerError
from reviewer.options import add_review_args, set_help

BACKUP_SUFFIX = ".before-reviewer"  # == reviewer.hook.BACKUP_SUFFIX (kept here: the parser must not import the hook logic)


def add_parser(subparsers: Any) -> None:
    hook = subparsers.add_parser(
        "hook",
        help="run reviewer as a git hook (pre-commit framework or plain git)",
        description="Run reviewer from a git hook: `run` reviews what is committed or pushed; "
        "`install`/`uninstall` manage a plain git hook script (with the pre-commit framework, "
        "use the `reviewer` hook from .pre-commit-hooks.yaml instead).",
    )
    actions = hook.add_subparsers(dest="hook_command", metavar="ACTION")
    run_p = actions.add_parser(
        "run",
        help="review the staged diff (or the pushed range) and print findings like a linter",
        description="Review the staged diff, or with --push the commits being pushed, and print one "
        "`path:line: severity category: title` line per finding. Exit 1 on findings at or above "
        "--fail-on, 0 otherwise (also when there is nothing to review); when the model cannot run, "
        "hook_policy decides: fail-open warns and exits 0, fail-closed exits 2.",
    )
    run_p.add_argument("--push", action="store_true",
                       help="review what is pushed: PRE_COMMIT_FROM_REF...PRE_COMMIT_TO_REF (pre-commit), "
                            "else the ref lines git gives a pre-push hook on stdin")
    run_p.add_argument("--remote", metavar="NAME", help="the remote pushed to (plain pre-push hooks pass it)")
    run_p.add_argument("--hook-policy", choices=("fail-open", "fail-closed"),
                       help="when the model cannot run, or did not answer every hunk in --hook-timeout: "
                       "warn and pass (fail-open, default) or exit 2")
    run_p.add_argument("--hook-timeout", metavar="SECONDS",  # checked by the config: one line, not a usage dump
                       help="seconds the model may take (default 60; 0 = no limit): past it the hunks answered "
                       "so far are reported, the rest listed as not reviewed, and --hook-policy decides")
    add_review_args(run_p)
    run_p.set_defaults(format="concise")  # --format text|json still picks the full report
    set_help(run_p, "format", "a full report format instead of the default: one line per finding, like a linter")

    for name, text in (("install", "install reviewer as this repository's git hook"),
                       ("uninstall", "remove reviewer's git hook (and restore the hook it replaced)")):
        p = actions.add_parser(name, help=text, description=text + "; the hooks directory is "
                               "`git rev-parse --git-path hooks`, so core.hooksPath is respected.")
        p.add_argument("--push", action="store_true", help="the pre-push hook instead of the pre-commit hook")
        if name == "install":
            p.add_argument("--force", action="store_true",
                           help=f"install over a hook that is not reviewer's; it is kept as <hook>{BACKUP_SUFFIX} "
                                "and still runs first")


def run(args: argparse.Namespace, cwd: Path) -> int:
    """Dispatch `reviewer hook ACTION`. ReviewerError propagates (the CLI prints it, exit 2)."""
    from reviewer import hook

    action = getattr(args, "hook_command", None)
    if action == "run":
        return run_hook(args, cwd)
    if action == "install":
        print(hook.install(cwd, "pre-push" if args.push else "pre-commit", force=args.force))
        return 0
    if action == "uninstall":
        print(hook.uninstall(cwd, "pre-push" if args.push else "pre-commit"))
        return 0
    raise ReviewerError("missing action: reviewer hook run | install | uninstall (see `reviewer hook --help`)")


def run_hook(args: argparse.Namespace, cwd: Path, env: Mapping[str, str] | None = None,
             stdin: BinaryIO | None = None) -> int:
    """`reviewer hook run`: review, print findings concisely, exit like a linter.

    The model runs in a child process under `hook_timeout` (reviewer/hook.py `guarded_backend`);
    hunks it did not answer are listed and `hook_policy` decides, as when it cannot run at all.
    """
    import time

    from reviewer.hook import combine, guarded_backend, hook_sources, provision_model, unreviewed_note
    from reviewer.options import load_config, terminal_progress, wants_color
    from reviewer.session import ReviewSession, parse_source
    from reviewer.sinks import get_renderer

    started = time.monotonic()  # the timeout counts from here: parsing and analyzers are part of the wait
    env = os.environ if env is None else env
    stdin = stdin if stdin is not None else sys.stdin.buffer
    config = load_config(args, cwd, env, hook_policy=getattr(args, "hook_policy", None),
                         hook_timeout=getattr(args, "hook_timeout", None))
    sources = hook_sources(args, cwd, env, stdin)
    parsed = combine([parse_source(s, cwd, config, stdin, allow_empty=True) for s in sources])
    if not parsed.hunks:
        return 0  # nothing reviewable (empty commit, only binary/lock/excluded files): pass silently
    backend = None
    try:
        try:
            provision_model(config)
            backend = guarded_backend(config, started)
        except ReviewerError as exc:
            raise ModelUnavailable(str(exc)) from exc
        with ReviewSession(config, backend=backend) as session:
            review = session.review(parsed, terminal_progress(config))  # a plain git hook in a terminal
    except ModelUnavailable as exc:
        if config.hook_policy == "fail-closed":
            print(f"reviewer: error: {exc} (hook_policy is fail-closed)", file=sys.stderr)
            return 2
        print(f"reviewer: warning: not reviewed, the model could not run: {exc} "
              "(hook_policy is fail-open; set it to fail-closed to block instead)", file=sys.stderr)
        return 0
    finally:
        if backend is not None:
            backend.close()

    report = get_renderer(args.format)(review, wants_color(args, env), config.fail_on)
    if args.output:
        from reviewer.fsutil import atomic_write_text

        try:
            atomic_write_text(Path(args.output), report)
        except OSError as exc:
            raise ReviewerError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    elif report:
        sys.stdout.write(report)
        sys.stdout.flush()
    note = unreviewed_note(review)
    if note is not None:  # what was reviewed is reported above; the rest is the policy's
        if config.hook_policy == "fail-closed":
            print(f"reviewer: error: {note} (hook_policy is fail-closed)", file=sys.stderr)
            return 2
        print(f"reviewer: warning: {note} (hook_policy is fail-open: the commit goes on; "
              "review the rest with `reviewer review --staged`)", file=sys.stderr)
    return session.exit_status(review.findings)
