"""Settings for one run: defaults < [tool.reviewer] / .reviewer.toml < REVIEWER_* env < flags.

A `Config` value is built once by the CLI and passed down; nothing reads settings
from a global.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reviewer.config_values import (
    batch_size,
    choice,
    count,
    debounce,
    fraction,
    instruction_text,
    opt_int,
    parse_categories,
    parse_fail_on,
    parse_severity,
    path_instructions,
    seconds,
    to_bool,
    to_list,
)
from reviewer.errors import ReviewerError
from reviewer.types import Category, Severity

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_EXCLUDE = (
    "*.lock",
    "package-lock.json",
    "pnpm-lock.yaml",
    "yarn.lock",
    "poetry.lock",
    "uv.lock",
    "Cargo.lock",
    "go.sum",
    "*.min.js",
    "*.min.css",
    "*.map",
    "vendor/*",
    "*/vendor/*",
    "third_party/*",
    "node_modules/*",
    "*/node_modules/*",
    "*_pb2.py",
    "*_pb2_grpc.py",
    "*.pb.go",
    "*.generated.*",
    "dist/*",
    "build/*",
)

# What to do with likely secrets in code sent to a model server on another machine (reviewer.secrets).
SECRETS_POLICIES = ("warn", "redact", "block", "ignore")

# Which findings at or above fail_on block (exit 1): "evidence" = only those whose kind of evidence
# was measured precise (reviewer/blocking.py), the rest are advisory; "all" = every one.
BLOCK_POLICIES = ("evidence", "all")

# Custom instructions (`instructions`, `path-instructions`, .reviewer/instructions.md) go into every
# prompt: together at most this many characters (about 600 tokens of the 4096-token window).
MAX_INSTRUCTIONS = 2000
INSTRUCTIONS_FILE = ".reviewer/instructions.md"

# Prompt layouts for a GGUF without a chat template of its own (reviewer/backends/chat_formats.py).
CHAT_FORMATS = ("llama-2", "chatml")

# What the editor front ends compare a saved file with: the index (what the commit hook will see) or HEAD.
EDITOR_AGAINST = ("index", "head")


@dataclass(frozen=True)
class Config:
    """Everything a review run needs to know; immutable, passed in."""

    model: str = "qwen2.5-coder-1.5b"
    backend: str = "llama"  # llama | openai | fake
    base_url: str | None = None
    api_key_env: str = "REVIEWER_API_KEY"
    n_gpu_layers: int | None = None  # None = auto: all layers when llama.cpp has a GPU backend, else 0
    threads: int | None = None
    ctx: int = 4096
    # None = auto: the GGUF's own tokenizer.chat_template (a file without one is an error
    # naming this setting); "llama-2" or "chatml" = that layout, even over the file's own.
    chat_format: str | None = None
    max_tokens: int = 384
    timeout: float = 120.0
    parallel: int = 4  # requests in flight to a model server (it batches them)
    # Hunks the in-process model decodes together (reviewer/backends/batched.py); None = auto:
    # 1 on up to 2 CPUs (measured: no gain there), else 4, fewer when memory is short.
    batch: int | None = None
    categories: tuple[Category, ...] = tuple(Category)
    min_severity: Severity = Severity.LOW
    # Model findings from answers the model was less sure of than this are dropped
    # (Completion.confidence; backends that cannot tell are never filtered).
    min_confidence: float = 0.0
    fail_on: Severity | None = Severity.HIGH  # None = never fail
    block: str = "evidence"  # which findings at or above fail_on block: evidence | all (BLOCK_POLICIES)
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    context_lines: int = 12
    max_hunk_lines: int = 120
    max_files: int = 200
    cache: bool = True
    analyzers: bool = True
    # A suggestion that fails its checks (reviewer/fixes/) goes back to the model once with the
    # reason; off: it is dropped at once (one model call less per failed suggestion).
    repair_suggestions: bool = True
    cache_dir: Path | None = None
    quiet: bool = False
    hook_policy: str = "fail-open"  # model cannot run in a hook: fail-open (warn, exit 0) | fail-closed (exit 2)
    # Seconds a commit hook gives the model (docs/pre-commit.md): it runs in a child process
    # (reviewer/backends/isolated.py), so a hung server or a native crash is contained too; past
    # it the hunks answered are reported, the rest listed unreviewed, and hook_policy decides.
    # 60: about 3 cold hunks of the 1.5B model on a 2-core CPU (~20 s each, docs/speed.md), and
    # nothing once the editor has filled the cache. 0 = no limit, the model in the hook's process.
    hook_timeout: float = 60.0
    secrets: str = "warn"  # likely secrets in code sent to a remote model server: warn | redact | block | ignore
    # Also write and run tests of the changed functions (reviewer.testgen.evidence): minutes, not
    # seconds, so `reviewer review`, `eval` and `ci` honour it and the commit hook does not.
    run_tests: bool = False
    # Noise the developer controls (reviewer.noise, docs/noise.md): the committed baseline of
    # dismissed findings, `reviewer: ignore` comments, and a cap on findings per run / per file
    # (0 = no cap), the most severe and best-evidenced kept.
    baseline: bool = True
    inline_ignores: bool = True
    report_unused_ignores: bool = False
    max_findings: int = 0
    max_findings_per_file: int = 0
    # What the team wants the reviewer to keep in mind (docs/ci.md#custom-instructions): text for every
    # hunk, and (glob, text) pairs for the hunks of matching paths; both go into the prompt.
    instructions: str = ""
    path_instructions: tuple[tuple[str, str], ...] = ()
    # A budget for one run (0 = none): at most `max_hunks` hunks sent to the model and no new
    # request after `time_budget` seconds; cached hunks are free. What is left is listed, never dropped silently.
    max_hunks: int = 0
    time_budget: float = 0.0
    # Where the run started (set by the front end, not a setting): the baseline is found from here.
    cwd: Path | None = None
    # The interpreter the generated tests run with, inside the sandbox (needs pytest); None: reviewer's own.
    # A project's .venv is never picked on its own (it would be code from the repository).
    tests_python: str | None = None
    # Run the tests on the host where no sandbox works (flag or REVIEWER_UNSAFE_NO_SANDBOX only, never a file).
    unsafe_no_sandbox: bool = False
    # The editor front ends (`reviewer lsp`, `reviewer watch`; docs/editors.md): what a saved file is
    # compared with ("index": what `git commit` will add to, as the hook sees it; "head": every change
    # since the last commit), how long a burst of saves is left to settle first, and the largest file reviewed.
    editor_against: str = "index"
    editor_debounce: float = 0.3
    editor_max_bytes: int = 1_000_000
    # Idle time buys evidence: once a saved Python file's review is shown and nothing else is queued, the
    # server also runs the generated tests of its changed functions (what `review --run-tests` does, about a
    # minute a function) and updates the diagnostics when they land. Off by default: it runs model-written
    # tests in the sandbox (docs/tests.md).
    editor_evidence: bool = False

    def replace(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)


# Keys accepted in files, env and flags; each maps to a converter from raw text/TOML value.


_CONVERTERS: dict[str, Any] = {
    "model": str,
    "backend": lambda v: choice(v, ("llama", "openai", "fake")),
    "base_url": str,
    "api_key_env": str,
    "n_gpu_layers": opt_int,
    "threads": opt_int,
    "ctx": int,
    "chat_format": lambda v: None if choice(v, ("auto", *CHAT_FORMATS)) == "auto" else str(v).lower(),
    "max_tokens": int,
    "timeout": float,
    "parallel": lambda v: max(1, int(v)),
    "batch": batch_size,
    "categories": parse_categories,
    "min_severity": parse_severity,
    "min_confidence": lambda v: fraction(v, "min_confidence"),
    "fail_on": parse_fail_on,
    "block": lambda v: choice(v, BLOCK_POLICIES),
    "include": to_list,
    "exclude": to_list,
    "context_lines": int,
    "max_hunk_lines": int,
    "max_files": int,
    "cache": to_bool,
    "analyzers": to_bool,
    "repair_suggestions": to_bool,
    "cache_dir": lambda v: Path(str(v)).expanduser(),
    "quiet": to_bool,
    "hook_policy": lambda v: choice(v, ("fail-open", "fail-closed")),
    "hook_timeout": lambda v: seconds(v, "hook_timeout"),
    "secrets": lambda v: choice(v, SECRETS_POLICIES),
    "run_tests": to_bool,
    "baseline": to_bool,
    "inline_ignores": to_bool,
    "report_unused_ignores": to_bool,
    "max_findings": lambda v: count(v, "max_findings"),
    "max_findings_per_file": lambda v: count(v, "max_findings_per_file"),
    "tests_python": str,
    "unsafe_no_sandbox": to_bool,
    "instructions": lambda v: instruction_text(v, "instructions"),
    "path_instructions": lambda v: path_instructions(v),
    "max_hunks": lambda v: count(v, "max_hunks"),
    "time_budget": lambda v: seconds(v, "time_budget"),
    "editor_against": lambda v: choice(v, EDITOR_AGAINST),
    "editor_debounce": lambda v: debounce(v, "editor_debounce"),
    "editor_max_bytes": lambda v: count(v, "editor_max_bytes"),
    "editor_evidence": to_bool,
}
_NOT_FROM_FILES = ("unsafe_no_sandbox",)  # a repository must not switch its own tests' sandbox off


def _apply(config: Config, raw: Mapping[str, Any], origin: str, from_file: bool = False) -> Config:
    changes: dict[str, Any] = {}
    for key, value in raw.items():
        name = key.replace("-", "_").lower()
        if from_file and name in _NOT_FROM_FILES:
            raise ReviewerError(f"{origin}: {key!r} cannot be set in a file; pass --unsafe-no-sandbox")
        conv = _CONVERTERS.get(name)
        if conv is None:
            raise ReviewerError(f"{origin}: unknown setting {key!r}; see `reviewer review --help` for the settings")
        try:
            changes[name] = conv(value)
        except (TypeError, ValueError) as exc:
            raise ReviewerError(f"{origin}: bad value for {key!r}: {exc}") from None
    return config.replace(**changes)


def find_config_file(start: Path) -> tuple[Path, dict[str, Any]] | None:
    """The nearest .reviewer.toml, or pyproject.toml with [tool.reviewer], from start upwards."""
    for d in (start, *start.parents):
        dotfile = d / ".reviewer.toml"
        if dotfile.is_file():
            return dotfile, _read_toml(dotfile)
        pyproject = d / "pyproject.toml"
        if pyproject.is_file():
            table = _read_toml(pyproject).get("tool", {}).get("reviewer")
            if table is not None:
                return pyproject, table
        if (d / ".git").exists():
            break
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ReviewerError(f"{path}: cannot read config: {exc}") from None


def find_instructions_file(start: Path) -> Path | None:
    """The nearest .reviewer/instructions.md, from start upwards to the repository's top."""
    for d in (start, *start.parents):
        if (d / INSTRUCTIONS_FILE).is_file():
            return d / INSTRUCTIONS_FILE
        if (d / ".git").exists():
            break
    return None


def _with_instructions_file(config: Config, text: str | None) -> Config:
    if text is None or not text.strip():
        return config
    joined = "\n\n".join(t for t in (config.instructions, text.strip()) if t)
    return config.replace(instructions=joined)


def _check_instructions(config: Config) -> None:
    size = len(config.instructions) + sum(len(t) for _, t in config.path_instructions)
    if size > MAX_INSTRUCTIONS:
        raise ReviewerError(f"the custom instructions are {size} characters; the cap is {MAX_INSTRUCTIONS} "
                            f"(they go into every prompt): shorten instructions, path-instructions or {INSTRUCTIONS_FILE}")


def _from_texts(config: Config, files: Mapping[str, str | None]) -> Config:
    """Settings from file texts given by the caller (`reviewer ci`: the base commit's), not the working tree."""
    dotfile, pyproject = files.get(".reviewer.toml"), files.get("pyproject.toml")
    origin, table = None, None
    try:
        if dotfile is not None:
            origin, table = ".reviewer.toml", tomllib.loads(dotfile)
        elif pyproject is not None:
            origin, table = "pyproject.toml", tomllib.loads(pyproject).get("tool", {}).get("reviewer")
    except tomllib.TOMLDecodeError as exc:
        raise ReviewerError(f"{origin} (base commit): cannot read config: {exc}") from None
    if table is not None:
        config = _apply(config, table, f"{origin} (base commit)", from_file=True)
    return _with_instructions_file(config, files.get(INSTRUCTIONS_FILE))


def load_config(
    cwd: Path,
    env: Mapping[str, str],
    flags: Mapping[str, Any],
    config_file: Path | None = None,
    files: Mapping[str, str | None] | None = None,
) -> Config:
    """Build the Config for a run. Later sources win: file, then env, then flags.

    `flags` holds only the options the user actually passed (None values are ignored).
    `files` (path -> text, None = absent) replaces the search of the working tree for
    .reviewer.toml, pyproject.toml and .reviewer/instructions.md: `reviewer ci` passes the
    base commit's, so a pull request cannot change the settings it is reviewed with.
    """
    config = Config()
    if config_file is None and files is not None:
        config = _from_texts(config, files)
    elif config_file is not None:
        if not config_file.is_file():
            raise ReviewerError(f"config file {config_file} not found; check --config")
        data = _read_toml(config_file)
        table = data.get("tool", {}).get("reviewer", data) if config_file.name == "pyproject.toml" else data
        config = _apply(config, table, str(config_file), from_file=True)
    else:
        found = find_config_file(cwd)
        if found is not None:
            config = _apply(config, found[1], str(found[0]), from_file=True)
        instructions = find_instructions_file(cwd)
        if instructions is not None:
            try:
                text = instructions.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ReviewerError(f"{instructions}: cannot read: {exc}") from None
            config = _with_instructions_file(config, text)
    from_env = {k[len("REVIEWER_"):].lower(): v for k, v in env.items() if k.startswith("REVIEWER_")}
    # an empty variable is unset: a CI input left empty (action.yml) must not override the config file
    from_env = {k: v for k, v in from_env.items() if k in _CONVERTERS and k not in ("api_key",) and v != ""}
    config = _apply(config, from_env, "environment")
    config = _apply(config, {k: v for k, v in flags.items() if v is not None}, "command line")
    _check_instructions(config)
    return config


def default_exclude() -> tuple[str, ...]:
    return DEFAULT_EXCLUDE


__all__ = ["BLOCK_POLICIES", "CHAT_FORMATS", "EDITOR_AGAINST", "INSTRUCTIONS_FILE", "MAX_INSTRUCTIONS", "SECRETS_POLICIES", "Config", "find_config_file", "load_config", "parse_categories", "parse_fail_on", "parse_severity"]
