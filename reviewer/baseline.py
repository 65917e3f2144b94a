"""The dismissed-findings baseline: `.reviewer-baseline.json` at the repository root.

A finding a person has looked at and dismissed (with a reason) is recorded by its
fingerprint, so it is not raised again. The file is meant to be committed: one
entry per dismissed finding, sorted, with a stable layout so it diffs and merges
like source code.

```json
{"version": 1,
 "findings": [{"fingerprint": "9d511a5bb67d430c", "path": "app/users.py", "line": 11,
               "category": "security", "severity": "high", "title": "SQL built with string formatting",
               "reason": "input is validated upstream", "dismissed": "2025-01-31"}]}
```

`load_baseline` / `save_baseline` read and write it (atomically), `filter_baselined`
drops baselined findings from a list (for `reviewer review` as for the TUI).
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from reviewer import git
from reviewer.errors import ReviewerError
from reviewer.fsutil import atomic_write_text
from reviewer.types import Finding

BASELINE_NAME = ".reviewer-baseline.json"
VERSION = 1
_FIELDS = ("fingerprint", "path", "line", "category", "severity", "title", "reason", "dismissed")


@dataclass(frozen=True)
class BaselineEntry:
    """One dismissed finding: its fingerprint, what it said (for people reading the file) and why."""

    fingerprint: str
    path: str
    line: int
    category: str
    severity: str
    title: str
    reason: str = ""
    dismissed: str = ""  # ISO date (UTC) it was dismissed

    @classmethod
    def from_finding(cls, finding: Finding, reason: str, when: _dt.date | None = None) -> BaselineEntry:
        day = when or _dt.datetime.now(_dt.timezone.utc).date()
        return cls(finding.fingerprint, finding.path, finding.line, finding.category.value,
                   finding.severity.value, finding.title, " ".join(reason.split()), day.isoformat())

    def to_dict(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in _FIELDS}


@dataclass(frozen=True)
class Baseline:
    """The set of dismissed findings, keyed by fingerprint. Immutable: `with_finding` returns a new one."""

    entries: Mapping[str, BaselineEntry] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "entries", MappingProxyType(dict(self.entries)))

    def __contains__(self, item: object) -> bool:
        key = item.fingerprint if isinstance(item, Finding) else item
        return key in self.entries

    def __len__(self) -> int:
        return len(self.entries)

    def with_finding(self, finding: Finding, reason: str, when: _dt.date | None = None) -> Baseline:
        """This baseline plus `finding` (dismissed for `reason`)."""
        return Baseline({**self.entries, finding.fingerprint: BaselineEntry.from_finding(finding, reason, when)})

    def without(self, fingerprint: str) -> Baseline:
        """This baseline less one fingerprint (no error if it is absent)."""
        return Baseline({k: v for k, v in self.entries.items() if k != fingerprint})

    def to_json(self) -> str:
        ordered = sorted(self.entries.values(), key=lambda e: (e.path, e.line, e.fingerprint))
        data = {"version": VERSION, "findings": [e.to_dict() for e in ordered]}
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def find_root(cwd: Path) -> Path:
    """The repository root containing `cwd` (where the baseline lives); `cwd` itself outside
    a repository, or when git is missing (a baseline needs no git)."""
    try:
        top = git.toplevel(cwd)
    except git.GitNotFound:
        top = None
    return top.resolve() if top is not None else cwd.resolve()


def baseline_path(root: Path) -> Path:
    return root / BASELINE_NAME


def load_baseline(path: Path) -> Baseline:
    """Read a baseline file; a missing file is an empty baseline, an unreadable one a ReviewerError."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Baseline()
    except (OSError, UnicodeDecodeError) as exc:
        raise ReviewerError(f"cannot read baseline {path}: {exc}") from None
    fix = "fix it, or delete it to start a new baseline"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReviewerError(f"baseline {path} is not valid JSON ({exc.msg}, line {exc.lineno}); {fix}") from None
    if not isinstance(data, dict) or not isinstance(data.get("findings"), list):
        raise ReviewerError(f"baseline {path} has no \"findings\" list; {fix}")
    version = data.get("version")
    if version != VERSION:
        raise ReviewerError(f"baseline {path} has version {version!r}, this reviewer reads version {VERSION}; "
                            "upgrade reviewer or " + fix)
    entries: dict[str, BaselineEntry] = {}
    for i, raw in enumerate(data["findings"]):
        entry = _entry(raw)
        if entry is None:
            raise ReviewerError(f"baseline {path}: entry {i + 1} needs a string \"fingerprint\" "
                                f"and \"path\" and an integer \"line\"; {fix}")
        entries[entry.fingerprint] = entry
    return Baseline(entries)


def _entry(raw: object) -> BaselineEntry | None:
    if not isinstance(raw, dict):
        return None
    fp, path, line = raw.get("fingerprint"), raw.get("path"), raw.get("line")
    if not isinstance(fp, str) or not fp or not isinstance(path, str) or isinstance(line, bool) or not isinstance(line, int):
        return None
    text = {k: str(raw.get(k) or "") for k in ("category", "severity", "title", "reason", "dismissed")}
    return BaselineEntry(fp, path, line, **text)


def save_baseline(path: Path, baseline: Baseline) -> None:
    """Write the baseline atomically (temp file in the same directory, fsync, rename; see fsutil)."""
    try:
        atomic_write_text(path, baseline.to_json())
    except OSError as exc:
        raise ReviewerError(f"cannot write baseline {path}: {exc.strerror or exc}") from None


def partition_baselined(findings: Iterable[Finding], baseline: Baseline) -> tuple[tuple[Finding, ...], tuple[Finding, ...]]:
    """(kept, suppressed): the findings not in the baseline, and those that are."""
    kept: list[Finding] = []
    suppressed: list[Finding] = []
    for f in findings:
        (suppressed if f in baseline else kept).append(f)
    return tuple(kept), tuple(suppressed)


def filter_baselined(findings: Iterable[Finding], baseline: Baseline) -> tuple[Finding, ...]:
    """The findings whose fingerprint is not in the baseline, in their order."""
    return partition_baselined(findings, baseline)[0]


__all__ = ["BASELINE_NAME", "Baseline", "BaselineEntry", "baseline_path", "filter_baselined", "find_root",
           "load_baseline", "partition_baselined", "save_baseline"]
