"""The dismissed-findings baseline: `.reviewer-baseline.json` at the repository root.

A finding a person has looked at and dismissed (with a reason) is recorded by its
fingerprint, so it is not raised again. The file is meant to be committed: one
entry per dismissed finding, sorted, with a stable layout so it diffs and merges
like source code.

```json
{"version": 1,
 "findings": [{"fingerprint": "9d511a5bb67d430c", "path": "app/users.py", "line": 11,
               "category": "security", "severity": "high", "title": "SQL built with string formatting",
               "reason": "input is validated upstream", "dismissed": "2025-01-31",
               "anchor": "5c1e0f7a2b9d3e44", "span": 1}]}
```

Fingerprints are content-anchored (`Finding.fingerprint`): lines inserted above keep them.
`anchor` is a digest of the flagged code (`span` non-blank lines), so `reviewer baseline
prune` can tell whether that code is still in the tree without a model. Entries written
before anchoring (no `anchor`) hold the old position-based fingerprint and still match by
it (`Finding.position_fingerprint`). Keys and entries this version does not know are kept
as they are when the file is rewritten; an entry it cannot read is reported in `problems`
and kept too.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

from reviewer import git
from reviewer.errors import ReviewerError
from reviewer.fsutil import atomic_write_text
from reviewer.types import Finding, normalize_code

BASELINE_NAME = ".reviewer-baseline.json"
VERSION = 1
_FIELDS = ("fingerprint", "path", "line", "category", "severity", "title", "reason", "dismissed")
_TEXT = ("category", "severity", "title", "reason", "dismissed")


def code_digest(code: str) -> str:
    """The digest an entry's `anchor` holds: of the normalised code (see types.normalize_code)."""
    return hashlib.sha256(normalize_code(code).encode()).hexdigest()[:16]


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
    anchor: str = ""  # code_digest of the flagged code; "" in entries from before content anchoring
    span: int = 0  # how many non-blank lines that code has
    extra: Mapping[str, object] = field(default_factory=dict, compare=False)  # keys this version does not know

    @classmethod
    def from_finding(cls, finding: Finding, reason: str, when: _dt.date | None = None) -> BaselineEntry:
        day = when or _dt.datetime.now(_dt.timezone.utc).date()
        code = normalize_code(finding.anchor)
        return cls(finding.fingerprint, finding.path, finding.line, finding.category.value,
                   finding.severity.value, finding.title, " ".join(reason.split()), day.isoformat(),
                   code_digest(code) if code else "", len(code.splitlines()))

    @property
    def legacy(self) -> bool:
        """Written before content anchoring: its fingerprint is the position-based one."""
        return not self.anchor

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {name: getattr(self, name) for name in _FIELDS}
        if self.anchor:
            out.update(anchor=self.anchor, span=self.span)
        return {**out, **{k: v for k, v in self.extra.items() if k not in out}}


@dataclass(frozen=True)
class Baseline:
    """The set of dismissed findings, keyed by fingerprint. Immutable: `with_finding` returns a new one.

    `extra` (top-level keys) and `unparsed` (entries that could not be read) come back
    unchanged in `to_json`; `problems` says what could not be read, for one warning.
    """

    entries: Mapping[str, BaselineEntry] = field(default_factory=dict)
    extra: Mapping[str, object] = field(default_factory=dict)
    unparsed: tuple[object, ...] = ()
    problems: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "entries", MappingProxyType(dict(self.entries)))

    def match(self, finding: Finding) -> BaselineEntry | None:
        """The entry that dismisses `finding`: by its fingerprint, or for an old entry by the old one."""
        entry = self.entries.get(finding.fingerprint)
        if entry is not None:
            return entry
        old = self.entries.get(finding.position_fingerprint)
        return old if old is not None and old.legacy else None

    def __contains__(self, item: object) -> bool:
        if isinstance(item, Finding):
            return self.match(item) is not None
        return item in self.entries

    def __len__(self) -> int:
        return len(self.entries)

    def _with(self, entries: Mapping[str, BaselineEntry]) -> Baseline:
        return Baseline(entries, self.extra, self.unparsed, self.problems)

    def with_finding(self, finding: Finding, reason: str, when: _dt.date | None = None) -> Baseline:
        """This baseline plus `finding` (dismissed for `reason`); an old entry for it is replaced."""
        old = self.match(finding)
        entries = {k: v for k, v in self.entries.items() if old is None or v is not old}
        return self._with({**entries, finding.fingerprint: BaselineEntry.from_finding(finding, reason, when)})

    def upgraded(self, findings: Iterable[Finding]) -> Baseline:
        """Old (position-based) entries that match one of `findings` rewritten with its content
        fingerprint; reason, date and unknown keys kept."""
        entries = dict(self.entries)
        for f in findings:
            old = self.match(f)
            if old is None or not old.legacy or old.fingerprint == f.fingerprint:
                continue
            new = BaselineEntry.from_finding(f, old.reason)
            entries.pop(old.fingerprint, None)
            entries[new.fingerprint] = replace(new, dismissed=old.dismissed, extra=old.extra)
        return self._with(entries)

    def without(self, fingerprint: str) -> Baseline:
        """This baseline less one fingerprint (no error if it is absent)."""
        return self._with({k: v for k, v in self.entries.items() if k != fingerprint})

    def to_json(self) -> str:
        ordered = sorted(self.entries.values(), key=lambda e: (e.path, e.line, e.fingerprint))
        data = {"version": VERSION, **{k: v for k, v in self.extra.items() if k not in ("version", "findings")},
                "findings": [e.to_dict() for e in ordered] + list(self.unparsed)}
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def code_present(entry: BaselineEntry, lines: Sequence[str]) -> bool:
    """Whether the code an anchored entry dismissed is still among `lines` (a file's lines);
    an old entry without an anchor counts as present while the file has its line."""
    if entry.legacy or entry.span < 1:
        return entry.line <= len(lines)
    code = [" ".join(t.split()) for t in lines if t.strip()]
    return any(code_digest("\n".join(code[i:i + entry.span])) == entry.anchor
               for i in range(len(code) - entry.span + 1))


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
    """Read a baseline file; a missing file is an empty baseline. A file that cannot be read as a
    whole is a ReviewerError (so nothing rewrites it); entries that cannot be read are kept
    as they are and described in `problems`."""
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
    unparsed: list[object] = []
    bad: list[int] = []
    for i, raw in enumerate(data["findings"]):
        entry = _entry(raw)
        if entry is None:
            unparsed.append(raw)
            bad.append(i + 1)
        else:
            entries[entry.fingerprint] = entry
    problems = ()
    if bad:
        which = ", ".join(map(str, bad[:5])) + (", ..." if len(bad) > 5 else "")
        problems = ((f"baseline {path}: entr{'ies' if len(bad) > 1 else 'y'} {which} ignored (each needs a string "
                     "\"fingerprint\" and \"path\" and an integer \"line\"); kept in the file as written"),)
    extra = {k: v for k, v in data.items() if k not in ("version", "findings")}
    return Baseline(entries, extra, tuple(unparsed), problems)


def _entry(raw: object) -> BaselineEntry | None:
    if not isinstance(raw, dict):
        return None
    fp, path, line = raw.get("fingerprint"), raw.get("path"), raw.get("line")
    if not isinstance(fp, str) or not fp or not isinstance(path, str) or isinstance(line, bool) or not isinstance(line, int):
        return None
    text = {k: str(raw.get(k) or "") for k in _TEXT}
    anchor, span = raw.get("anchor"), raw.get("span")
    if not isinstance(anchor, str) or isinstance(span, bool) or not isinstance(span, int):
        anchor, span = "", 0
    known = {*_FIELDS, "anchor", "span"}
    extra = {k: v for k, v in raw.items() if k not in known or (k in ("anchor", "span") and not anchor)}
    return BaselineEntry(fp, path, line, **text, anchor=anchor, span=span, extra=extra)


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


__all__ = ["BASELINE_NAME", "Baseline", "BaselineEntry", "baseline_path", "code_digest", "code_present",
           "filter_baselined", "find_root", "load_baseline", "partition_baselined", "save_baseline"]
