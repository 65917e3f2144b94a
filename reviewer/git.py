"""The one way reviewer runs git: a small subprocess wrapper, the repository-root finder, the range parser.

Plain `subprocess`, not GitPython: `import git` alone costs 60-87 ms (cumulative,
median 64 ms of 7 runs of `python -X importtime -c "import git"`, GitPython 3.2.1,
Python 3.11, 2 shared cores) against a budget of 0.25 s for a whole fully cached
`reviewer review`, while this module costs ~5 ms to import (3.7 of them `subprocess`,
which the CLI imports anyway) and one `git rev-parse --show-toplevel` run ~2 ms.

Every call goes through `run`:

- the executable is `$GIT_PYTHON_GIT_EXECUTABLE` when set (the variable GitPython
  read, so existing setups keep working), else `git` from PATH;
- messages are in English (LC_ALL=C), as GitPython had them;
- stdout comes back as bytes (`run`) or stripped text (`text`); `input` goes to stdin;
- a non-zero exit is a `GitError` (a `ReviewerError`) whose message is one line,
  `git <command> failed: <git's first stderr line without "fatal: ">`;
- git that cannot be started is a `GitNotFound` (a `ReviewerError`) with one line,
  `NOT_FOUND` or the caller's `missing` text.

`isolated_env()` is the environment for git that must not see the user's git config
nor a calling hook's GIT_DIR/GIT_INDEX_FILE (`reviewer eval` builds throwaway repositories).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from reviewer.errors import ReviewerError

EXECUTABLE_VAR = "GIT_PYTHON_GIT_EXECUTABLE"
NOT_FOUND = f"git executable not found; install git (or set {EXECUTABLE_VAR})"
# Where git answers in one step (rev-parse, cat-file, merge-base): long enough for a cold
# disk or a huge repository, short enough that a wedged git (a stale lock, a network
# filesystem) turns into an error instead of a hang. Commands that do real work get none.
_QUICK_S = 30.0


class GitError(ReviewerError):
    """git ran and exited non-zero. `line` is its first non-empty stderr line, as written."""

    def __init__(self, command: str, returncode: int, stderr: bytes) -> None:
        text = stderr.decode("utf-8", "replace")
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        self.command = command
        self.returncode = returncode
        self.line = lines[0] if lines else ""
        super().__init__(f"git {command} failed: {self.reason}")

    @property
    def reason(self) -> str:
        """The first stderr line without git's "fatal: "/"error: ", or the exit status."""
        if not self.line:
            return f"exit status {self.returncode}"
        return self.line.removeprefix("fatal: ").removeprefix("error: ")


class GitNotFound(ReviewerError):
    """The git executable could not be started (missing, not executable)."""


class Range(NamedTuple):
    """A parsed "A..B" (merge_base False) or "A...B" (merge_base True)."""

    old: str
    new: str
    merge_base: bool


def executable() -> str:
    """The git to run: $GIT_PYTHON_GIT_EXECUTABLE, else `git` from PATH (read at each call,
    so a test or `isolated_env` can change it)."""
    return os.environ.get(EXECUTABLE_VAR) or "git"


def run(cwd: Path, *args: str, input: bytes | None = None, env: Mapping[str, str] | None = None,
        config: Sequence[str] = (), timeout: float | None = None, missing: str | None = None) -> bytes:
    """`git -c <config>... <args>` in `cwd`; stdout as bytes.

    `args[0]` is the git command (it names the command in error messages); `config` are
    "key=value" settings passed with -c; `env` replaces the whole environment when given.
    Raises GitError on a non-zero exit (or timeout) and GitNotFound (with `missing` as the
    message when given) when git cannot be started.
    """
    argv = [executable()]
    for setting in config:
        argv += ["-c", setting]
    argv += args
    command = args[0] if args else "git"
    # English messages whatever the user's locale, so an error line reads the same everywhere
    # (GitPython, which the diff path used before, forced the same two variables)
    run_env = {**(os.environ if env is None else env), "LANGUAGE": "C", "LC_ALL": "C"}
    try:
        proc = subprocess.run(argv, cwd=cwd, input=input, env=run_env, capture_output=True, check=False,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        raise GitError(command, -1, f"timed out after {timeout:g} s".encode()) from None
    except OSError as exc:
        # subprocess reports a missing cwd as FileNotFoundError too, naming the directory
        if exc.filename is not None and os.fspath(exc.filename) == os.fspath(cwd):
            raise GitError(command, -1, f"cannot change to {cwd}: {exc.strerror}".encode()) from None
        raise GitNotFound(missing or NOT_FOUND) from None
    if proc.returncode:
        raise GitError(command, proc.returncode, proc.stderr)
    return proc.stdout


def text(cwd: Path, *args: str, input: bytes | None = None, env: Mapping[str, str] | None = None,
         config: Sequence[str] = (), timeout: float | None = None, missing: str | None = None) -> str:
    """`run`, its stdout as text (UTF-8, undecodable bytes kept as surrogates), stripped."""
    out = run(cwd, *args, input=input, env=env, config=config, timeout=timeout, missing=missing)
    return out.decode("utf-8", "surrogateescape").strip()


def ok(cwd: Path, *args: str, missing: str | None = None, timeout: float | None = _QUICK_S) -> bool:
    """Whether `git <args>` exits 0 (GitNotFound still raises: "no" would be a lie)."""
    try:
        run(cwd, *args, missing=missing, timeout=timeout)
    except GitError:
        return False
    return True


def toplevel(cwd: Path, missing: str | None = None) -> Path | None:
    """The root of the work tree containing `cwd` (`git rev-parse --show-toplevel`, so
    linked worktrees, submodules and GIT_DIR are git's answer), or None outside one (a
    bare repository, a missing directory). GitNotFound when git cannot be started."""
    try:
        top = text(cwd, "rev-parse", "--show-toplevel", timeout=_QUICK_S, missing=missing)
    except GitError:
        return None
    return Path(top) if top else None


def git_dir(cwd: Path) -> Path | None:
    """The repository's git directory (absolute), or None outside a repository."""
    try:
        path = text(cwd, "rev-parse", "--absolute-git-dir", timeout=_QUICK_S)
    except GitError:
        return None
    return Path(path) if path else None


def git_path(cwd: Path, name: str, missing: str | None = None) -> Path:
    """`git rev-parse --git-path <name>` as an absolute path (honours core.hooksPath,
    worktrees); GitError outside a repository."""
    path = Path(text(cwd, "rev-parse", "--git-path", name, timeout=_QUICK_S, missing=missing))
    return path if path.is_absolute() else (cwd / path).resolve()


def rev_parse_commit(cwd: Path, rev: str, missing: str | None = None) -> str | None:
    """The commit id `rev` names, or None when it names no commit. A rev starting with
    "-" is None too: git would read it as an option."""
    if not rev or rev.startswith("-"):
        return None
    try:
        return text(cwd, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", timeout=_QUICK_S,
                    missing=missing) or None
    except GitError:
        return None


def merge_base(cwd: Path, one: str, two: str, missing: str | None = None) -> str | None:
    """The best common ancestor of two commits, or None when they have none (or git says no)."""
    try:
        return text(cwd, "merge-base", one, two, timeout=_QUICK_S, missing=missing) or None
    except GitError:
        return None


def show_blob(cwd: Path, rev: str, path: str, missing: str | None = None) -> bytes | None:
    """The bytes of `path` at `rev` (a commit, or "" for the index), or None when there is
    no such file. A path with a NUL byte is None: no OS call takes it."""
    if "\0" in path:
        return None
    try:
        return run(cwd, "cat-file", "blob", f"{rev}:{path}", timeout=_QUICK_S, missing=missing)
    except GitError:
        return None


def parse_range(value: str) -> Range:
    """"A..B" -> Range(A, B, False); "A...B" -> Range(A, B, True); an empty side means HEAD,
    as in git. Anything else is a ReviewerError."""
    sep = "..." if "..." in value else ".."
    if sep not in value:
        raise ReviewerError(f"bad range '{value}'; expected A..B or A...B, e.g. main..HEAD")
    old, new = value.split(sep, 1)
    return Range(old or "HEAD", new or "HEAD", sep == "...")


def isolated_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """os.environ without the caller's GIT_* variables (a git hook sets GIT_DIR and
    GIT_INDEX_FILE) but GIT_PYTHON_* (the executable), with no user or system git config
    and no prompts, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") or k.startswith("GIT_PYTHON_")}
    env.update({"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0"})
    return {**env, **(extra or {})}


__all__ = ["EXECUTABLE_VAR", "NOT_FOUND", "GitError", "GitNotFound", "Range", "executable", "git_dir", "git_path",
           "isolated_env", "merge_base", "ok", "parse_range", "rev_parse_commit", "run", "show_blob", "text",
           "toplevel"]
