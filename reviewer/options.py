"""What the front ends share: the review options, flags -> config, the diff source, the session, the report.

Imported by every command module when the parser is built (`reviewer --help`), so its
top-level imports stay light: the config, session and sinks are imported inside the
functions that use them, which only run once a command runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reviewer.config import BLOCK_POLICIES, SECRETS_POLICIES
from reviewer.errors import ReviewerError
from reviewer.sinks import FORMATS

if TYPE_CHECKING:
    from reviewer.config import Config
    from reviewer.diff import DiffSource
    from reviewer.session import ProgressFactory, ReviewSession



def add_review_args(p: argparse.ArgumentParser) -> None:
    """The options of `reviewer review`, shared by hook run, ci, tui and tests."""
    src = p.add_argument_group("diff source").add_mutually_exclusive_group()
    src.add_argument("--staged", action="store_true", help="review staged changes (default)")
    src.add_argument("--range", metavar="A..B", help="review the commits in a range")
    src.add_argument("--base", metavar="REF", help="review merge-base(REF, HEAD)..HEAD, like a pull request")
    src.add_argument("--diff", metavar="FILE", help="review a unified diff file, or - for stdin")

    out = p.add_argument_group("output")
    out.add_argument("--format", choices=FORMATS, default="text",
                     help="text (default), json, sarif (GitHub code scanning), rdjson/rdjsonl (reviewdog), "
                     "github (workflow annotations), line (path:line:col: severity category: title, for "
                     "editors' quickfix lists), codeclimate (GitLab Code Quality)")
    out.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE (atomically) instead of stdout")
    out.add_argument("--fail-on", metavar="SEV", help="exit 1 on findings at or above low|medium|high|never (default: high)")
    out.add_argument("--block", choices=BLOCK_POLICIES,
                     help="which findings at or above --fail-on block: evidence (default: only kinds of evidence "
                     "measured precise, e.g. the taint analysis or a model claim an analyzer backs; the rest are "
                     "reported as advisory; docs/quality.md) or all")
    out.add_argument("--categories", metavar="LIST", help="comma list of bug,security,performance,style (default: all)")
    out.add_argument("--min-severity", metavar="SEV", help="hide findings below low|medium|high (default: low)")
    out.add_argument("--min-confidence", metavar="P", help="hide model findings the model was less sure of than P, "
                     "0..1 (read from its token probabilities; default 0 = keep all: measured, a higher value "
                     "drops real findings as fast as false ones; see docs/quality.md)")
    out.add_argument("-q", "--quiet", action="store_true", default=None, help="no progress display")
    p.add_argument("--unsafe-no-sandbox", action="store_true", default=None,
                   help="with --run-tests / `reviewer tests`: run the generated tests on this machine, unsandboxed, "
                   "where no sandbox works (bubblewrap or user namespaces); they are model-written code (docs/tests.md)")

    noise = p.add_argument_group("noise (docs/noise.md)")
    noise.add_argument("--no-baseline", dest="baseline", action="store_false", default=None,
                       help="also show findings dismissed in .reviewer-baseline.json (see `reviewer baseline`)")
    noise.add_argument("--no-inline-ignores", dest="inline_ignores", action="store_false", default=None,
                       help="also show findings hidden by `reviewer: ignore[...]` comments in the code")
    noise.add_argument("--report-unused-ignores", action="store_true", default=None,
                       help="warn about `reviewer: ignore` comments on changed lines that hide nothing")
    noise.add_argument("--max-findings", type=int, metavar="N",
                       help="report at most N findings, the most severe and best-evidenced first (default 0 = all)")
    noise.add_argument("--max-findings-per-file", type=int, metavar="N",
                       help="report at most N findings per file (default 0 = all)")
    noise.add_argument("--max-hunks", metavar="N", help="send at most N hunks to the model, those an analyzer flagged "
                       "or that read untrusted input first, then the largest; the rest are listed as not reviewed "
                       "(default 0 = all; cached hunks are free)")
    noise.add_argument("--time-budget", metavar="SECONDS", help="send no new hunk to the model after SECONDS; the "
                       "rest are listed as not reviewed (default 0 = no limit)")

    model = p.add_argument_group("model")
    model.add_argument("--model", metavar="NAME|PATH", help="registry name (see `reviewer models list`) or a .gguf path")
    model.add_argument("--backend", metavar="NAME", help="llama (in-process, default) or openai (a server of yours)")
    model.add_argument("--base-url", metavar="URL", help="OpenAI-compatible server for --backend openai, e.g. http://127.0.0.1:8080/v1")
    model.add_argument("--n-gpu-layers", metavar="N", help="layers to offload to the GPU: -1 = all, 0 = none "
                       "(default auto: all when llama-cpp-python was built with CUDA/Metal/Vulkan, else none)")
    model.add_argument("--threads", type=int, metavar="N",
                       help="CPU threads for the model (default: the cores not busy at load, up to 8)")
    model.add_argument("--ctx", type=int, metavar="N", help="context window in tokens (default 4096)")
    model.add_argument("--chat-format", metavar="NAME", help="prompt layout: auto (default: the GGUF's own chat "
                       "template), llama-2 (CodeLlama, Llama 2) or chatml (Qwen and most others); needed for a "
                       "GGUF without a chat template (docs/models.md)")
    model.add_argument("--server-timeout", type=float, metavar="SECONDS",
                       help="seconds to wait for each answer from a model server (default 120)")
    model.add_argument("--parallel", type=int, metavar="N",
                       help="requests in flight at once to a model server, so it can batch them (default 4)")
    model.add_argument("--batch", metavar="N", help="hunks the in-process model decodes together: 1 = one after "
                       "another; default auto: 1 on up to 2 CPUs (measured: no gain there), else 4, fewer when "
                       "memory is short (docs/speed.md)")
    model.add_argument("--secrets", choices=SECRETS_POLICIES,
                       help="likely secrets (keys, tokens, passwords) in code sent to a --base-url that is not "
                       "this machine: warn (default), redact them, block the review, or ignore")

    misc = p.add_argument_group("misc")
    misc.add_argument("--config", metavar="FILE", help="read settings from FILE instead of searching for one")
    misc.add_argument("--no-cache", dest="cache", action="store_false", default=None, help="ignore and do not fill the result cache")
    misc.add_argument("--no-analyzers", dest="analyzers", action="store_false", default=None,
                      help="do not run bandit on changed Python files (its findings are hints for the model)")
    misc.add_argument("--cache-dir", metavar="DIR", help="where models and the result cache live (default: the user cache dir)")


def add_editor_args(p: argparse.ArgumentParser) -> None:
    """The options of `reviewer lsp` and `reviewer watch`: the review's filters, model and noise settings,
    what a saved file is compared with, and the debounce (the diff source and report options mean nothing there)."""
    from reviewer.config import EDITOR_AGAINST

    add_review_args(p)
    hide_options(p, ("staged", "range", "base", "diff", "output", "unsafe_no_sandbox"))
    editor = p.add_argument_group("editor")
    editor.add_argument("--against", dest="editor_against", choices=EDITOR_AGAINST,
                        help="compare a saved file with the index (default: what `git add` would still stage, "
                        "the hunks the commit hook will see) or with HEAD (every change since the last commit)")
    editor.add_argument("--debounce", dest="editor_debounce", type=float, metavar="SECONDS",
                        help="wait this long after a save for more saves before reviewing (default 0.3)")


def hide_options(p: argparse.ArgumentParser, dests: tuple[str, ...]) -> None:
    """Keep options a command accepts but ignores out of its --help."""
    for action in p._actions:
        if action.dest in dests:
            action.help = argparse.SUPPRESS


def set_help(p: argparse.ArgumentParser, dest: str, text: str) -> None:
    """Reword one shared option's help for a command where it means something else."""
    for action in p._actions:
        if action.dest == dest:
            action.help = text


def flags(args: argparse.Namespace, **extra: Any) -> dict[str, Any]:
    """The command-line settings, as `reviewer.config.load_config` takes them (None = not given)."""
    names = ("fail_on", "block", "categories", "min_severity", "min_confidence", "quiet", "model", "backend", "base_url",
             "n_gpu_layers", "threads", "ctx", "chat_format", "parallel", "batch", "cache", "cache_dir", "analyzers", "secrets", "run_tests",
             "baseline", "inline_ignores", "report_unused_ignores", "max_findings", "max_findings_per_file", "unsafe_no_sandbox",
             "max_hunks", "time_budget",
             "editor_against", "editor_debounce")
    out = {n: getattr(args, n, None) for n in names}
    out["timeout"] = getattr(args, "server_timeout", None)  # `reviewer tests` has its own --timeout (per test)
    out.update(extra)
    return out


def load_config(args: argparse.Namespace, cwd: Path, env: Mapping[str, str] | None = None,
                files: Mapping[str, str | None] | None = None, **extra: Any) -> Config:
    """Settings from the config file, REVIEWER_* variables and the command's flags, in that order
    (`files`: the config files' texts to use instead of the working tree's; `reviewer ci`)."""
    from reviewer.config import load_config as load

    config_file = getattr(args, "config", None)
    config = load(cwd, os.environ if env is None else env, flags(args, **extra), Path(config_file) if config_file else None,
                  files)
    return config.replace(cwd=cwd)


def open_session(args: argparse.Namespace, cwd: Path, env: Mapping[str, str] | None = None,
                 **extra: Any) -> ReviewSession:
    """A ReviewSession configured from the command line (close it, or use `with`)."""
    from reviewer.session import ReviewSession

    return ReviewSession(load_config(args, cwd, env, **extra))


def diff_source(args: argparse.Namespace) -> DiffSource:
    """Where the diff comes from, by the diff-source flags (default: the staged changes)."""
    from reviewer.diff import DiffSource

    if args.range:
        return DiffSource("range", args.range)
    if args.base:
        return DiffSource("base", args.base)
    if args.diff == "-":
        return DiffSource("stdin", "-")
    if args.diff:
        return DiffSource("file", args.diff)
    return DiffSource("staged")


def terminal_progress(config: Config, has_work: bool = True) -> ProgressFactory | None:
    """A progress bar when a person watches (stderr and stdout are terminals), else None."""
    if config.quiet or not has_work or not (sys.stderr.isatty() and sys.stdout.isatty()):
        return None
    from reviewer.progress import RichProgress

    return RichProgress


def write_atomically(path: Path, text: str) -> None:
    """Write text to path via a temp file + rename: readers never see half a report, and
    an interrupt leaves neither a half file nor a temp file (reviewer.fsutil)."""
    from reviewer.fsutil import atomic_write_text

    try:
        atomic_write_text(path, text)
    except OSError as exc:
        raise ReviewerError(f"cannot write {path.resolve()}: {exc.strerror or exc}") from None


def emit(report: str, output: str | None) -> None:
    """The report to -o FILE (atomically), else to stdout."""
    if output:
        write_atomically(Path(output), report)
    elif report:
        sys.stdout.write(report)
        sys.stdout.flush()


def wants_color(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> bool:
    """Colour only for the text format on a terminal, and never with NO_COLOR set."""
    env = os.environ if env is None else env
    return args.output is None and args.format == "text" and sys.stdout.isatty() and "NO_COLOR" not in env


__all__ = ["add_editor_args", "add_review_args", "diff_source", "emit", "flags", "hide_options", "load_config",
           "open_session", "set_help", "terminal_progress", "wants_color", "write_atomically"]
