"""Values that flow through the pipeline. Frozen, no I/O.

diff text -> ParsedDiff(Hunk[]) -> Finding[] -> Review
"""

from __future__ import annotations

import enum
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


class Category(str, enum.Enum):
    """What kind of problem a finding reports."""

    BUG = "bug"
    SECURITY = "security"
    PERFORMANCE = "performance"
    STYLE = "style"


class Severity(str, enum.Enum):
    """How bad a finding is; ordered low < medium < high."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3}


@dataclass(frozen=True)
class DiffLine:
    """One line of a hunk. kind is '+' (added), '-' (removed) or ' ' (context)."""

    kind: str
    text: str
    old_no: int | None
    new_no: int | None


@dataclass(frozen=True)
class Hunk:
    """One change to review: a unified-diff hunk plus the code around it.

    `context_before`/`context_after` are (new-file line number, text) pairs read from
    the new file beyond what the diff itself shows, so the model sees the enclosing
    function. `part`/`parts` say which slice of a split oversized hunk this is.
    """

    path: str
    old_path: str | None
    language: str
    old_start: int
    old_len: int
    new_start: int
    new_len: int
    lines: tuple[DiffLine, ...]
    section: str = ""
    context_before: tuple[tuple[int, str], ...] = ()
    context_after: tuple[tuple[int, str], ...] = ()
    part: int = 1
    parts: int = 1

    @property
    def new_line_numbers(self) -> frozenset[int]:
        """New-file line numbers shown in this hunk (added and context lines)."""
        return frozenset(ln.new_no for ln in self.lines if ln.new_no is not None)

    @property
    def added_line_numbers(self) -> frozenset[int]:
        return frozenset(ln.new_no for ln in self.lines if ln.kind == "+" and ln.new_no is not None)

    @property
    def added_lines(self) -> dict[int, str]:
        """New-file line number -> text, for the added lines."""
        return {ln.new_no: ln.text for ln in self.lines if ln.kind == "+" and ln.new_no is not None}

    @property
    def new_side(self) -> dict[int, str]:
        """New-file line number -> text, for every new-side line the hunk shows: its context
        (above and below) and its unchanged and added lines."""
        lines = dict((*self.context_before, *self.context_after))
        lines.update((ln.new_no, ln.text) for ln in self.lines if ln.new_no is not None and ln.kind != "-")
        return lines

    @property
    def content_key(self) -> str:
        """A digest of everything the model is shown for this hunk (cache key part)."""
        h = hashlib.sha256()
        h.update(f"{self.path}\0{self.old_path}\0{self.language}\0{self.section}\0".encode())
        for no, text in self.context_before:
            h.update(f"b{no}:{text}\n".encode())
        for ln in self.lines:
            h.update(f"{ln.kind}{ln.old_no}:{ln.new_no}:{ln.text}\n".encode())
        for no, text in self.context_after:
            h.update(f"a{no}:{text}\n".encode())
        return h.hexdigest()


# The reason of a hunk the model did not answer in time, or whose model process died
# (reviewer/backends/isolated.py): "not reviewed: <why>". The hook lists these; the reports count them.
NOT_REVIEWED = "not reviewed"


@dataclass(frozen=True)
class SkippedFile:
    """A file in the diff that was not reviewed, and why (binary, deleted, lock file, ...)."""

    path: str
    reason: str


@dataclass(frozen=True)
class ParsedDiff:
    """The reviewable hunks of a diff, the files left out, and the full new-side text
    of reviewed files where it was available and agreed with the diff (for analyzers)."""

    hunks: tuple[Hunk, ...]
    skipped: tuple[SkippedFile, ...] = ()
    files: int = 0
    sources: Mapping[str, tuple[str, ...]] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class FixCheck:
    """What became of a finding's suggested replacement (reviewer/fixes/): shown only when it
    passed its checks, first time ("checked") or after one repair by the model ("repaired");
    "failed" keeps which check it failed last and why, and the suggestion itself is dropped."""

    status: str  # checked | repaired | failed
    check: str = ""  # the check that failed: applies | restates | prose | parses | analyzers | tests
    reason: str = ""  # one line, for people
    patch: str = ""  # unified diff of the new file that a shown suggestion applies

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"status": self.status}
        if self.check:
            out["check"] = self.check
        if self.reason:
            out["reason"] = self.reason
        if self.patch:
            out["patch"] = self.patch
        return out


@dataclass(frozen=True)
class Finding:
    """One review comment, anchored on new-file lines inside the diff."""

    path: str
    line: int
    end_line: int
    category: Category
    severity: Severity
    title: str
    message: str
    suggestion: str | None = None
    source: str = "model"
    # How sure the model was that this change has a problem (0..1; see backends/greedy.py);
    # None for analyzers and for backends that cannot tell.
    confidence: float | None = None
    # The flagged line(s) as the new file has them, and the name of the enclosing def/class
    # ("" at top level): filled by reviewer.anchors when the review is made; they make the
    # fingerprint survive lines inserted above. Not part of the JSON report.
    anchor: str = field(default="", compare=False)
    scope: str = field(default="", compare=False)
    # What backs the finding (reviewer/blocking.py): () = its source alone; ("model", "bandit") when
    # the model's claim sat on a line where an analyzer reported the same category (pipeline merge).
    evidence: tuple[str, ...] = ()
    # At or above fail-on, but its evidence does not block (reviewer/blocking.py): reported, exit 0.
    advisory: bool = False
    # How its suggestion fared in reviewer/fixes/ (None: it never had one). A `suggestion` that
    # is not None has passed: the checks drop a failing one and keep only the reason here.
    fix: FixCheck | None = field(default=None, compare=False)

    def is_unsure(self, min_confidence: float) -> bool:
        """Less sure than `min_confidence` (the --min-confidence filter); a finding
        without a confidence (analyzers, backends that cannot tell) never is."""
        return self.confidence is not None and self.confidence < min_confidence

    @property
    def fingerprint(self) -> str:
        """Stable identity for baselines, inline-ignore bookkeeping and re-posted CI comments (16 hex).

        Anchored on content, not position: the path, the category, the enclosing definition
        (`scope`), the flagged code (`anchor`, whitespace-normalised) and the title's class
        (`title_class`). Lines inserted above keep it; editing the flagged line, moving it
        to another function or renaming the file change it (then it is a new finding).
        Without an anchor (a Finding made by hand, outside the pipeline) it is the old
        position-based `position_fingerprint`.
        """
        if not self.anchor:
            return self.position_fingerprint
        code = normalize_code(self.anchor)
        basis = f"v2\0{self.path}\0{self.category.value}\0{self.scope}\0{code}\0{title_class(self.title, self.message)}"
        return hashlib.sha256(basis.encode()).hexdigest()[:16]

    @property
    def position_fingerprint(self) -> str:
        """The fingerprint before content anchoring (path, category, title, line): what baselines
        written by older versions hold, matched for them, and the key duplicates merge on."""
        basis = f"{self.path}\0{self.category.value}\0{self.title.strip().lower()}\0{self.line}"
        return hashlib.sha256(basis.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "line": self.line,
            "end_line": self.end_line,
            "category": self.category.value,
            "severity": self.severity.value,
            "title": self.title,
            "message": self.message,
            "suggestion": self.suggestion,
            "source": self.source,
            "fingerprint": self.fingerprint,
            **({} if self.confidence is None else {"confidence": round(self.confidence, 4)}),
            **({"evidence": list(self.evidence)} if self.evidence else {}),
            **({"blocking": False} if self.advisory else {}),
            **({"suggestion_check": self.fix.to_dict()} if self.fix is not None else {}),
        }


@dataclass(frozen=True)
class TestSuggestion:
    """A generated pytest test and what happened when it was run."""

    __test__ = False  # not a pytest test class

    path: str
    code: str
    status: str = "not-run"  # passed | failed | error | not-run

    def to_dict(self) -> dict[str, object]:
        return {"path": self.path, "code": self.code, "status": self.status}


@dataclass(frozen=True)
class ModelInfo:
    """Which model produced a review (name and file sha256)."""

    name: str
    sha256: str


@dataclass(frozen=True)
class Stats:
    """Counters for one review run."""

    hunks: int = 0
    cached: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    files: int = 0
    skipped: tuple[SkippedFile, ...] = ()
    dropped_findings: int = 0
    unreadable_answers: int = 0  # model answers that were not the JSON asked for (their hunk has no findings)
    hidden_by_baseline: int = 0  # findings .reviewer-baseline.json dismissed (reviewer.noise)
    hidden_by_inline: int = 0  # findings a `reviewer: ignore` comment hides
    over_budget: int = 0  # findings left out by max_findings / max_findings_per_file
    # hunks the run's budget (max_hunks, time_budget) left unreviewed: listed, never dropped silently
    unreviewed: tuple[SkippedFile, ...] = ()
    unchanged: int = 0  # hunks unchanged since the last reviewed head and not in the cache (`reviewer ci`)

    def to_dict(self) -> dict[str, object]:
        return {
            "hunks": self.hunks,
            "cached": self.cached,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "seconds": round(self.seconds, 3),
            "files": self.files,
            "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped],
            "dropped_findings": self.dropped_findings,
            "unreadable_answers": self.unreadable_answers,
            "hidden_by_baseline": self.hidden_by_baseline,
            "hidden_by_inline": self.hidden_by_inline,
            "over_budget": self.over_budget,
            "unreviewed": [{"path": s.path, "reason": s.reason} for s in self.unreviewed],
            "unchanged": self.unchanged,
        }


@dataclass(frozen=True)
class HunkNote:
    """The model's analysis of one hunk (new-file lines start..end of path): untrusted text."""

    path: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Review:
    """The result of reviewing a diff: what every sink renders."""

    model: ModelInfo
    findings: tuple[Finding, ...]
    tests: tuple[TestSuggestion, ...] = ()
    stats: Stats = field(default_factory=Stats)
    hunks: tuple[Hunk, ...] = ()
    notes: tuple[HunkNote, ...] = ()  # the model's per-hunk analyses, in hunk order (the CI walkthrough)

    def new_side_lines(self) -> dict[tuple[str, int], str]:
        """(path, new-file line number) -> text, for every new-side line the hunks show."""
        return {(hunk.path, no): text for hunk in self.hunks for no, text in hunk.new_side.items()}

    def to_dict(self) -> dict[str, object]:
        return {
            "version": 1,
            "model": {"name": self.model.name, "sha256": self.model.sha256},
            "findings": [f.to_dict() for f in self.findings],
            "tests": [t.to_dict() for t in self.tests],
            "stats": self.stats.to_dict(),
        }


Message = dict[str, str]  # a chat message: {"role": "system"|"user"|"assistant", "content": "..."}


@dataclass(frozen=True)
class Completion:
    """What a backend returns for one request (and what the result cache stores)."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    # How sure the model was that the change has a problem (0..1), where the backend can
    # read it from the token probabilities (greedy.py); None elsewhere.
    confidence: float | None = None


# Claims the small model words many ways, each reduced to one class (first match wins; the
# title is tried before the message). Order matters: the specific before the general.
_TITLE_CLASSES: tuple[tuple[str, re.Pattern[str]], ...] = tuple((name, re.compile(rx)) for name, rx in (
    ("sql-injection", r"\bsql\b|\bquer(y|ies)\b.*(format|interpolat|concat|inject|f-string)|injection.*\bquer"),
    ("command-injection", r"\bshell\b|command injection|os\.system|subprocess|\bpopen\b"),
    ("code-injection", r"\beval\b|\bexec\b|code injection"),
    ("path-traversal", r"path traversal|directory traversal|\.\./"),
    ("xss", r"\bxss\b|cross.site scripting|\bhtml\b.*(escap|inject)|innerhtml"),
    ("deserialization", r"deserializ|\bpickle\b|yaml\.load|\bmarshal\b"),
    ("secret", r"hard.?coded|secret|password|credential|api.?key|\btoken\b"),
    ("weak-crypto", r"\bmd5\b|\bsha-?1\b|weak (hash|crypt|random)|insecure random|\brandom\b"),
    ("tls", r"\btls\b|\bssl\b|certificate|verify\s*=\s*false"),
    ("none", r"\bnone\b|\bnull\b|\bnil\b|attributeerror|nonetype"),
    ("exception", r"\bexcept\b|exception|\berror handling\b|swallow"),
    ("division", r"divi(de|sion) by zero|zerodivision"),
    ("bounds", r"off.by.one|out of (range|bounds)|\bindex\b|indexerror|\bbounds\b"),
    ("resource", r"\bleak|not closed|\bclose\b|context manager|\bwith\b statement"),
    ("concurrency", r"race|\block\b|thread|concurren|deadlock"),
    ("mutable-default", r"mutable default|default argument"),
    ("loop", r"\bloop|quadratic|o\(n\^?2\)|\bn\s*\+\s*1\b|repeated(ly)?\b|inefficien|\bsum\(\)"),
    ("unused", r"\bunused\b|never used|dead code|unreachable"),
    ("naming", r"\bnam(e|ing)\b|camel|snake.?case"),
    ("docs", r"docstring|\bcomment\b|documentation"),
    ("typing", r"type (hint|annotation)|\btyping\b"),
    ("format", r"line too long|whitespace|indent|format"),
))


def normalize_code(text: str) -> str:
    """Code as fingerprints compare it: blank lines dropped, each line's whitespace collapsed
    (re-indenting a line, e.g. into an `if`, keeps its identity)."""
    return "\n".join(" ".join(part.split()) for part in text.splitlines() if part.strip())


def title_class(title: str, message: str = "") -> str:
    """The kind of claim a finding makes, robust to the model rewording it ("SQL built with
    string formatting" and "Possible SQL injection via f-string" are both `sql-injection`).

    Re-asked after an edit above, the 1.5B model often rewords the same claim, so a word
    set would change; the class does not. A claim no class covers is "" (the category
    alone): two such claims of one category on the same code are one thing to dismiss.
    """
    for text in (title.lower(), message.lower()):
        for name, pattern in _TITLE_CLASSES:
            if pattern.search(text):
                return name
    return ""


def exit_status(findings: Iterable[Finding], fail_on: Severity | None) -> int:
    """The exit status every front end gives: 1 when a finding is at or above `fail_on`, else 0
    (always 0 with fail_on None, i.e. `never`). Advisory findings (reviewer/blocking.py) never block."""
    if fail_on is None:
        return 0
    return 1 if any(f.severity.rank >= fail_on.rank and not f.advisory for f in findings) else 0
