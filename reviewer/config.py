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

# Prompt layouts for a GGUF without a chat template of its own (reviewer/backends/chat_formats.py).
CHAT_FORMATS = ("llama-2", "chatml")


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
    cache_dir: Path | None = None
    quiet: bool = False
    hook_policy: str = "fail-open"  # model cannot run in a hook: fail-open (warn, exit 0) | fail-closed (exit 2)
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
    # Where the run started (set by the front end, not a setting): the baseline is found from here.
    cwd: Path | None = None
    # The interpreter the generated tests run with, inside the sandbox (needs pytest); None: reviewer's own.
    # A project's .venv is never picked on its own (it would be code from the repository).
    tests_python: str | None = None
    # Run the tests on the host where no sandbox works (flag or REVIEWER_UNSAFE_NO_SANDBOX only, never a file).
    unsafe_no_sandbox: bool = False

    def replace(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)


# Keys accepted in files, env and flags; each maps to a converter from raw text/TOML value.
def _to_bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    s = str(v).strip().lower()
    if s in ("1", "true", "yes", "on"):
        return True
    if s in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {v!r}")


def _to_list(v: Any) -> tuple[str, ...]:
    if isinstance(v, (list, tuple)):
        return tuple(str(x).strip() for x in v if str(x).strip())
    return tuple(x.strip() for x in str(v).split(",") if x.strip())


def parse_categories(v: Any) -> tuple[Category, ...]:
    names = _to_list(v)
    try:
        return tuple(Category(n.lower()) for n in names)
    except ValueError:
        valid = ",".join(c.value for c in Category)
        raise ValueError(f"unknown category in {','.join(names)!r}; choose from {valid}") from None


def parse_severity(v: Any) -> Severity:
    try:
        return Severity(str(v).lower())
    except ValueError:
        raise ValueError(f"unknown severity {v!r}; choose from low, medium, high") from None


def parse_fail_on(v: Any) -> Severity | None:
    if str(v).lower() == "never":
        return None
    try:
        return parse_severity(v)
    except ValueError:
        raise ValueError(f"unknown --fail-on {v!r}; choose from low, medium, high, never") from None


def _opt_int(v: Any) -> int | None:
    return None if v in (None, "", "auto") else int(v)


_CONVERTERS: dict[str, Any] = {
    "model": str,
    "backend": lambda v: _choice(v, ("llama", "openai", "fake")),
    "base_url": str,
    "api_key_env": str,
    "n_gpu_layers": _opt_int,
    "threads": _opt_int,
    "ctx": int,
    "chat_format": lambda v: None if _choice(v, ("auto", *CHAT_FORMATS)) == "auto" else str(v).lower(),
    "max_tokens": int,
    "timeout": float,
    "parallel": lambda v: max(1, int(v)),
    "batch": lambda v: _batch(v),
    "categories": parse_categories,
    "min_severity": parse_severity,
    "min_confidence": lambda v: _fraction(v, "min_confidence"),
    "fail_on": parse_fail_on,
    "block": lambda v: _choice(v, BLOCK_POLICIES),
    "include": _to_list,
    "exclude": _to_list,
    "context_lines": int,
    "max_hunk_lines": int,
    "max_files": int,
    "cache": _to_bool,
    "analyzers": _to_bool,
    "cache_dir": lambda v: Path(str(v)).expanduser(),
    "quiet": _to_bool,
    "hook_policy": lambda v: _choice(v, ("fail-open", "fail-closed")),
    "secrets": lambda v: _choice(v, SECRETS_POLICIES),
    "run_tests": _to_bool,
    "baseline": _to_bool,
    "inline_ignores": _to_bool,
    "report_unused_ignores": _to_bool,
    "max_findings": lambda v: _count(v, "max_findings"),
    "max_findings_per_file": lambda v: _count(v, "max_findings_per_file"),
    "tests_python": str,
    "unsafe_no_sandbox": _to_bool,
}
_NOT_FROM_FILES = ("unsafe_no_sandbox",)  # a repository must not switch its own tests' sandbox off


def _batch(v: Any) -> int | None:
    n = _opt_int(v)
    if n is not None and not 1 <= n <= 64:
        raise ValueError(f"batch must be auto or 1 to 64, got {v!r}")
    return n


def _count(v: Any, name: str) -> int:
    n = int(v)
    if n < 0:
        raise ValueError(f"{name} must be 0 (no limit) or more, got {v!r}")
    return n


def _fraction(v: Any, name: str) -> float:
    x = float(v)
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1, got {v!r}")
    return x


def _choice(v: Any, choices: tuple[str, ...]) -> str:
    s = str(v).lower()
    if s not in choices:
        raise ValueError(f"{v!r} is not one of {', '.join(choices)}")
    return s


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


def load_config(
    cwd: Path,
    env: Mapping[str, str],
    flags: Mapping[str, Any],
    config_file: Path | None = None,
) -> Config:
    """Build the Config for a run. Later sources win: file, then env, then flags.

    `flags` holds only the options the user actually passed (None values are ignored).
    """
    config = Config()
    if config_file is not None:
        if not config_file.is_file():
            raise ReviewerError(f"config file {config_file} not found; check --config")
        data = _read_toml(config_file)
        table = data.get("tool", {}).get("reviewer", data) if config_file.name == "pyproject.toml" else data
        config = _apply(config, table, str(config_file), from_file=True)
    else:
        found = find_config_file(cwd)
        if found is not None:
            config = _apply(config, found[1], str(found[0]), from_file=True)
    from_env = {k[len("REVIEWER_"):].lower(): v for k, v in env.items() if k.startswith("REVIEWER_")}
    from_env = {k: v for k, v in from_env.items() if k in _CONVERTERS and k not in ("api_key",)}
    config = _apply(config, from_env, "environment")
    config = _apply(config, {k: v for k, v in flags.items() if v is not None}, "command line")
    return config


def default_exclude() -> tuple[str, ...]:
    return DEFAULT_EXCLUDE


__all__ = ["BLOCK_POLICIES", "CHAT_FORMATS", "SECRETS_POLICIES", "Config", "find_config_file", "load_config", "parse_categories", "parse_fail_on", "parse_severity"]
