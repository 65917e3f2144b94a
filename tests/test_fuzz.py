"""Fuzzing the diff -> hunk -> prompt path (issue 7).

Inputs are git-style diffs generated from random file changes (so the expected hunks
are known), then optionally mutated the ways real diffs get damaged: truncated,
@@ counts off, lines dropped or duplicated, stray `\\ No newline at end of file`,
CRLF/CR/mixed line endings, latin-1/UTF-16/invalid bytes, NULs, huge lines. Plus raw
bytes. Whatever comes in, the library either returns hunks that satisfy the
invariants below and whose prompts build, or raises a one-line ReviewerError; the
command line exits 0 with a report or 2 with one `reviewer: error: ...` line.

The default run is quick (about 15 s). A long campaign runs the same tests with more examples:

    REVIEWER_FUZZ_EXAMPLES=12000 nice -n 10 .venv/bin/pytest tests/test_fuzz.py -q -m "not model" \\
        --hypothesis-show-statistics

(the CLI test gets a tenth of that; docs/fuzz.md has the numbers of a real run and what
the fuzzing found; the regression tests at the end pin each of those bugs).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path
from types import FrameType

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from reviewer import cli
from reviewer.config import Config
from reviewer.diff import DiffInput, decode_diff, parse_diff
from reviewer.errors import ReviewerError
from reviewer.pipeline import fitting_prompt
from reviewer.prompting import load_template, review_messages
from reviewer.trivial import behaviour_preserving
from reviewer.types import Hunk, ParsedDiff

# ------------------------------------------------------------------------ settings

EXAMPLES = int(os.environ.get("REVIEWER_FUZZ_EXAMPLES") or 0)  # read at import: conftest clears REVIEWER_*
EXAMPLE_SECONDS = 20  # one input taking longer than this is a hang, not slowness


def fuzz_settings(default: int, share: int = 1) -> settings:
    """`default` examples normally; REVIEWER_FUZZ_EXAMPLES / `share` in a campaign."""
    return settings(
        max_examples=max(1, EXAMPLES // share) if EXAMPLES else default,
        deadline=None,  # a shared 2-CPU machine makes per-example deadlines flaky; EXAMPLE_SECONDS catches hangs
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example,
                               HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
    )


class Hang(Exception):
    """Raised by the alarm when one input runs past its time limit."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Fail instead of hanging the suite (SIGALRM: pytest runs tests in the main thread)."""
    def alarm(signum: int, frame: FrameType | None) -> None:
        raise Hang(f"took more than {seconds}s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# ------------------------------------------------------------------------ generated diffs

Item = tuple[str, bool]  # (line text, ends with a newline)


@dataclass(frozen=True)
class FileChange:
    """One file's change, rendered the way `git diff` would."""

    kind: str  # modify add delete rename copy mode binary symlink submodule
    old_path: str
    new_path: str
    old: tuple[str, ...] = ()
    new: tuple[str, ...] = ()
    old_eol: bool = True  # the old file ends with a newline
    new_eol: bool = True
    section: str = ""  # git's funcname after @@

    @property
    def path(self) -> str:
        """The path reviewer reports: the new one, the old one for a deletion."""
        return self.old_path if self.kind == "delete" else self.new_path


@dataclass
class Rendered:
    """A diff's text and, per reported path, the hunk lines written for it."""

    text: str
    lines: dict[str, list[tuple[str, str]]]  # path -> [(kind, text)] over all its hunks, in order


def c_quote(name: str, quote_path: bool) -> str:
    """git's quote_c_style: quote names with ", \\, control characters (and non-ASCII under core.quotePath)."""
    specials = {"\a": "\\a", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\v": "\\v", "\f": "\\f", "\r": "\\r",
                '"': '\\"', "\\": "\\\\"}
    if not any(ch in specials or ord(ch) < 0x20 or ord(ch) == 0x7F or (quote_path and ord(ch) >= 0x80)
               for ch in name):
        return name
    out = []
    for ch in name:
        if ch in specials:
            out.append(specials[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F or (quote_path and ord(ch) >= 0x80):
            out.extend(f"\\{b:03o}" for b in ch.encode("utf-8", "surrogateescape"))
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _range(start: int, length: int) -> str:
    """A unified diff range: "start,len", "start" for one line, start-1 for an empty side (as git)."""
    if length == 1:
        return str(start + 1)
    return f"{start + 1 if length else start},{length}"


def _items(lines: tuple[str, ...], eol: bool) -> list[Item]:
    return [(t, eol or i < len(lines) - 1) for i, t in enumerate(lines)]


def render_hunks(change: FileChange, out: list[str], record: list[tuple[str, str]]) -> None:
    """Append the @@ hunks of `change` (context 3, like git) to `out`; their lines to `record`."""
    old, new = _items(change.old, change.old_eol), _items(change.new, change.new_eol)
    for group in SequenceMatcher(None, old, new, autojunk=False).get_grouped_opcodes(3):
        i1, i2, j1, j2 = group[0][1], group[-1][2], group[0][3], group[-1][4]
        section = f" {change.section}" if change.section else ""
        out.append(f"@@ -{_range(i1, i2 - i1)} +{_range(j1, j2 - j1)} @@{section}")

        def emit(kind: str, item: Item) -> None:
            out.append(kind + item[0])
            record.append((kind, item[0]))
            if not item[1]:
                out.append("\\ No newline at end of file")

        for tag, a1, a2, b1, b2 in group:
            if tag == "equal":
                for item in old[a1:a2]:
                    emit(" ", item)
                continue
            for item in old[a1:a2]:
                emit("-", item)
            for item in new[b1:b2]:
                emit("+", item)


def render(changes: list[FileChange], quote_path: bool) -> Rendered:
    """The diff `git diff -M` would print for these changes."""
    out: list[str] = []
    recorded: dict[str, list[tuple[str, str]]] = {}
    for ch in changes:
        a, b = c_quote("a/" + ch.old_path, quote_path), c_quote("b/" + ch.new_path, quote_path)
        out.append(f"diff --git {a} {b}")
        record = recorded.setdefault(ch.path, [])
        # git ends a ---/+++ name that has a space with a tab (for GNU patch)
        a_tab, b_tab = "\t" * (" " in ch.old_path), "\t" * (" " in ch.new_path)
        if ch.kind == "binary":
            out += ["index 1234567..89abcde 100644", f"Binary files {a} and {b} differ"]
            continue
        if ch.kind == "submodule":
            out += ["index 1234567..89abcde 160000", f"--- {a}", f"+++ {b}", "@@ -1 +1 @@",
                    "-Subproject commit " + "1" * 40, "+Subproject commit " + "2" * 40]
            continue
        if ch.kind == "add":
            out += ["new file mode 100644", "index 0000000..89abcde"]
        elif ch.kind == "symlink":
            out += ["new file mode 120000", "index 0000000..89abcde"]
        elif ch.kind == "delete":
            out += ["deleted file mode 100644", "index 1234567..0000000"]
        elif ch.kind in ("rename", "copy"):
            out += ["similarity index 90%", f"{ch.kind} from {c_quote(ch.old_path, quote_path)}",
                    f"{ch.kind} to {c_quote(ch.new_path, quote_path)}"]
        elif ch.kind == "mode":
            out += ["old mode 100644", "new mode 100755"]
        if ch.kind not in ("add", "symlink", "delete"):
            out.append("index 1234567..89abcde" + (" 100644" if ch.kind != "mode" else ""))
        hunks: list[str] = []
        render_hunks(ch, hunks, record)
        if hunks:  # a pure rename, copy or mode change has no ---/+++ lines
            old_name = "/dev/null" if ch.kind in ("add", "symlink") else a + a_tab
            new_name = "/dev/null" if ch.kind == "delete" else b + b_tab
            out += [f"--- {old_name}", f"+++ {new_name}", *hunks]
    return Rendered("".join(line + "\n" for line in out), recorded)


# Line content: code-ish text plus everything that has broken a parser somewhere.
ODD_CHARS = "é日ü\t \x00\x0b\x0c\x1c\x85\u2028\u2029\ufeff\r\x1b\udce9\udcff\"'\\`@#{}()"
SAMPLE_LINES = (
    "def f(x):", "    return x", "class A:", "    def m(self):", "if (a) {", "}", "    y = 1",
    '    cur = db.execute(f"SELECT * FROM t WHERE id = {x}")', "    except:", "    if x == None:",
    "+++ b/looks_like_a_header.py", "--- a/looks_like_a_header.py", "@@ -1 +1 @@", "diff --git a/x b/x",
    "\\ No newline at end of file", "-- ", "Subproject commit 0", "# DO NOT EDIT", "```", "{{code}}",
    "<|im_start|>system",
)
HUGE_LINES = ("x" * 200_000, '"\\' * 100_000, "é" * 3000, "    " * 250 + "deep", "\t" * 1000 + "deep")
LINE = st.one_of(  # mostly plain (files with odd lines are skipped, and we want hunks too)
    st.text(alphabet="abcxyz_=+-()[]:;., \t", max_size=30),
    st.text(alphabet="abcxyz_=+-()[]:;., \t", max_size=30),
    st.text(alphabet="abcxyz_=+-()[]:;., \t", max_size=30),
    st.sampled_from(SAMPLE_LINES),
    st.text(alphabet=st.sampled_from("abcxyz_=+-()[]:;.,0 " + ODD_CHARS), max_size=30),
).map(lambda s: s.replace("\n", "").rstrip("\r"))  # one line; a trailing CR is a line ending, not content


@st.composite
def files(draw: st.DrawFn) -> tuple[str, ...]:
    """File lines; one in ten files has a huge line somewhere (which skips it, when it is in a hunk)."""
    lines = draw(st.lists(LINE, max_size=30))
    if draw(st.sampled_from([False] * 9 + [True])):
        lines.insert(draw(st.integers(min_value=0, max_value=len(lines))), draw(st.sampled_from(HUGE_LINES)))
    return tuple(lines)



SEGMENT = st.one_of(
    st.text(alphabet="abcxyz_-.", min_size=1, max_size=6),
    st.text(alphabet="abcxyz_-.", min_size=1, max_size=6),
    st.sampled_from(["x b", "a b c", "my file", "é", "日本", "naïve", 'q"uote', "back\\slash", "tab\there",
                     "new\nline", "esc\x1b[31m", "cr\rhere", "#hash", "'single'", " lead", "trail ", "-dash",
                     "\x7f", "nul\x00"]),
).map(lambda s: s + "_" if s in (".", "..") else s)  # no . or .. path segment
EXTENSION = st.sampled_from([".py", ".js", ".go", ".c", ".txt", ".md", "", ".lock", ".min.js", ".rs"])


@st.composite
def paths(draw: st.DrawFn, index: int) -> str:
    """A path unique within its diff (the index is part of the file name)."""
    segments = draw(st.lists(SEGMENT, min_size=1, max_size=3))
    return "/".join(segments) + f"{index}" + draw(EXTENSION)


@st.composite
def edited(draw: st.DrawFn, old: tuple[str, ...]) -> tuple[str, ...]:
    """`old` with some lines kept, dropped, replaced, and some inserted."""
    new: list[str] = []
    for line in old:
        action = draw(st.sampled_from(["keep"] * 5 + ["drop", "replace", "insert"]))
        if action == "insert":
            new.append(draw(LINE))
        if action in ("keep", "insert"):
            new.append(line)
        elif action == "replace":
            new.append(draw(LINE))
    return (*new, *draw(st.lists(LINE, max_size=3)))


KINDS = ["modify"] * 4 + ["add", "delete", "rename", "copy", "mode", "binary", "symlink", "submodule"]


@st.composite
def file_changes(draw: st.DrawFn, index: int) -> FileChange:
    kind = draw(st.sampled_from(KINDS))
    old_path = draw(paths(index))
    new_path = draw(paths(index + 1000)) if kind in ("rename", "copy") else old_path
    old = () if kind in ("add", "symlink") else draw(files())
    if kind == "symlink":
        new: tuple[str, ...] = (draw(LINE),)
    elif kind == "delete":
        new = ()
    else:
        new = draw(edited(old))
        if kind == "modify" and new == old:  # git lists no unchanged file
            new = (*old, draw(LINE))
    return FileChange(kind, old_path, new_path, old, new,
                      old_eol=draw(st.booleans()) or not old, new_eol=kind != "symlink" and draw(st.booleans()),
                      section=draw(st.sampled_from(["", "def f(x):", "class A", "caf\udce9", "\x1b[2J"])))


@st.composite
def git_diffs(draw: st.DrawFn) -> tuple[list[FileChange], Rendered]:
    count = draw(st.integers(min_value=1, max_value=6))
    changes = [draw(file_changes(i)) for i in range(count)]
    return changes, render(changes, quote_path=draw(st.booleans()))


# ------------------------------------------------------------------------ mutations


@dataclass(frozen=True)
class Mutated:
    """A diff damaged by `steps` (in order), then written with `eol` line ends in `encoding`."""

    steps: tuple[str, ...]
    eol: str
    encoding: str
    data: bytes

    @property
    def counts_only(self) -> bool:
        """Only @@ numbers changed or a line doubled; still LF and UTF-8."""
        return set(self.steps) <= {"count", "shrink", "dup"} and self.eol == "\n" and self.encoding == "utf-8"


STEPS = ["count", "shrink", "dup", "drop", "swap", "marker", "truncate", "huge"]
HUNK_HEADER = re.compile(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


@st.composite
def mutated(draw: st.DrawFn, text: str, steps_from: tuple[str, ...] = tuple(STEPS), plain: bool = False) -> Mutated:
    """`text` damaged one to three ways (of `steps_from`); LF and UTF-8 if `plain`."""
    lines = text.split("\n")[:-1]
    steps = draw(st.lists(st.sampled_from(steps_from), min_size=1, max_size=3))
    for how in steps:
        at = draw(st.integers(min_value=0, max_value=max(0, len(lines) - 1)))
        if how == "count":
            headers = [i for i, ln in enumerate(lines) if re.match(r"@@ -\d", ln)]  # (truncation may have cut one)
            if headers:
                i = draw(st.sampled_from(headers))
                numbers = list(re.finditer(r"\d+", lines[i].split(" @@")[0]))
                m = draw(st.sampled_from(numbers))
                value = max(0, int(m.group()) + draw(st.sampled_from([-3, -2, -1, 1, 2, 3])))
                lines[i] = lines[i][:m.start()] + str(value) + lines[i][m.end():]
        elif how == "shrink":  # counts that end the hunk early, at a line of its body
            headers = [i for i, ln in enumerate(lines) if HUNK_HEADER.match(ln)]
            if headers:
                i = draw(st.sampled_from(headers))
                m = HUNK_HEADER.match(lines[i])
                assert m is not None
                body = list(itertools.takewhile(lambda ln: ln[:1] in (" ", "+", "-", "\\"), lines[i + 1:]))
                kept = body[:draw(st.integers(min_value=0, max_value=len(body)))]
                old_len = sum(ln[:1] in (" ", "-") for ln in kept)
                new_len = sum(ln[:1] in (" ", "+") for ln in kept)
                lines[i] = f"@@ -{m[1]},{old_len} +{m[3]},{new_len} @@" + lines[i][m.end():]
        elif how == "dup" and lines:
            lines.insert(at, lines[at])
        elif how == "drop" and lines:
            del lines[at]
        elif how == "swap" and len(lines) > 1:
            lines[at - 1], lines[at] = lines[at], lines[at - 1]
        elif how == "marker":
            lines.insert(at, "\\ No newline at end of file")
        elif how == "huge":
            lines.insert(at, draw(st.sampled_from("+- ")) + draw(st.sampled_from(["y" * 200_000, "\x00" * 5000])))
        elif how == "truncate":
            whole = "\n".join(lines)
            lines = whole[:draw(st.integers(min_value=0, max_value=len(whole)))].split("\n")
    eol = "\n" if plain else draw(st.sampled_from(["\n"] * 3 + ["\r\n", "\r", "mixed"]))
    if eol == "mixed":
        body = "".join(line + draw(st.sampled_from(["\n", "\r\n", "\r"])) for line in lines)
    else:
        body = "".join(line + eol for line in lines)
    encoding = "utf-8" if plain else draw(st.sampled_from(["utf-8"] * 4 + ["utf-8-sig", "utf-16", "utf-16-le",
                                                                         "latin-1", "bytes"]))
    if encoding == "latin-1":
        data = body.encode("latin-1", "replace")
    elif encoding == "bytes":  # arbitrary bytes spliced in somewhere
        raw = body.encode("utf-8", "surrogateescape")
        cut = draw(st.integers(min_value=0, max_value=len(raw)))
        data = raw[:cut] + draw(st.binary(min_size=1, max_size=20)) + raw[cut:]
    else:
        data = body.encode(encoding, "surrogatepass" if encoding.startswith("utf-16") else "surrogateescape")
    return Mutated(tuple(steps), eol, encoding, data)


# ------------------------------------------------------------------------ the path under test and its invariants


def note_event(value: str) -> None:
    """Count an outcome in --hypothesis-show-statistics (a no-op in the plain regression tests)."""
    if currently_in_test_context():
        event(value)


CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f]")  # C0/C1 controls except tab: they break lines and terminals
SURROGATE = re.compile("[\ud800-\udfff]")
TEMPLATE = load_template("review")


def check_text(what: str, text: str) -> None:
    """Text that reaches a prompt or a report: encodable, so no backend or sink chokes on it."""
    assert isinstance(text, str), what
    assert not SURROGATE.search(text), f"{what} has a lone surrogate: {text[:80]!r}"


def check_path(what: str, path: str) -> None:
    check_text(what, path)
    assert path, f"{what} is empty"
    assert not CONTROL.search(path), f"{what} has a control character: {path!r}"


def check_hunk(hunk: Hunk) -> None:
    """Line numbers agree with the header counts and with each other; text is printable."""
    check_path("hunk.path", hunk.path)
    if hunk.old_path is not None:
        check_path("hunk.old_path", hunk.old_path)
    check_text("hunk.section", hunk.section)
    assert 1 <= hunk.part <= hunk.parts
    new_nos = [ln.new_no for ln in hunk.lines if ln.kind != "-"]
    old_nos = [ln.old_no for ln in hunk.lines if ln.kind != "+"]
    assert len(new_nos) == hunk.new_len and len(old_nos) == hunk.old_len
    assert new_nos == list(range(hunk.new_start, hunk.new_start + hunk.new_len)), (hunk.new_start, new_nos[:5])
    assert old_nos == list(range(hunk.old_start, hunk.old_start + hunk.old_len)), (hunk.old_start, old_nos[:5])
    for start, length in ((hunk.new_start, hunk.new_len), (hunk.old_start, hunk.old_len)):
        assert start >= 1 if length else start >= 0, (start, length)  # an empty side sits after line `start`
    for ln in hunk.lines:
        assert ln.kind in "+- " and len(ln.kind) == 1
        assert (ln.new_no is None) == (ln.kind == "-") and (ln.old_no is None) == (ln.kind == "+")
        check_text("line", ln.text)
        assert "\n" not in ln.text
    before, after = [no for no, _ in hunk.context_before], [no for no, _ in hunk.context_after]
    assert all(no >= 1 for no in before + after)
    assert before == sorted(set(before)) and after == sorted(set(after))
    first = hunk.new_start if hunk.new_len else hunk.new_start + 1  # the line the hunk shows, or would
    assert all(no < first for no in before) and all(no >= first + hunk.new_len for no in after)
    for _, text in (*hunk.context_before, *hunk.context_after):
        check_text("context", text)


def check_error(exc: ReviewerError) -> str:
    """A rejection is one short, readable line (the CLI prints it after `reviewer: error: `)."""
    message = str(exc)
    assert message.strip(), "empty error message"
    assert len(message.splitlines()) == 1, f"multi-line error: {message!r}"
    assert "Traceback" not in message and 'File "' not in message, message
    assert not CONTROL.search(message), f"control character in error: {message!r}"
    check_text("error", message)
    return message


def review_path(data: bytes, reader: Callable[[str], list[str] | None], config: Config | None = None
                ) -> ParsedDiff | None:
    """bytes -> text -> hunks -> prompts, as `reviewer review` does; None when rejected (checked)."""
    config = config or Config()
    with time_limit(EXAMPLE_SECONDS):
        try:
            parsed = parse_diff(DiffInput(decode_diff(data), None, reader), config)
        except ReviewerError as exc:
            message = check_error(exc)
            note_event("rejected: " + re.sub(r"\d+", "N", message)[:60])
            return None
        note_event(f"parsed: {'hunks' if parsed.hunks else 'no hunks'}")
        for skipped in parsed.skipped:
            check_path("skipped.path", skipped.path)
            check_text("skipped.reason", skipped.reason)
            assert skipped.reason and "\n" not in skipped.reason
        for hunk in parsed.hunks:
            check_hunk(hunk)
            preserved = behaviour_preserving(hunk)
            assert preserved is None or isinstance(preserved, str)
            prompt = fitting_prompt(hunk, config, TEMPLATE, ())
            messages = review_messages(hunk, config.categories, TEMPLATE)
            for candidate in (messages, prompt[1] if prompt else []):
                for message in candidate:
                    check_text("prompt", message["content"])
                    message["content"].encode("utf-8")  # what every backend does with it
        return parsed


def reader_for(changes: list[FileChange]) -> Callable[[str], list[str] | None]:
    """The new side of each generated file, as a working tree would have it."""
    files = {ch.new_path: list(ch.new) for ch in changes if ch.kind != "delete"}
    return files.get


def changed_lines(parsed: ParsedDiff, path: str) -> list[tuple[str, str]]:
    return [(ln.kind, ln.text) for h in parsed.hunks if h.path == path for ln in h.lines]


def printable(path: str) -> bool:
    return not CONTROL.search(path) and not SURROGATE.search(path)


# ------------------------------------------------------------------------ library fuzz


@fuzz_settings(200)
@given(diff=git_diffs(), eol=st.sampled_from(["\n", "\r\n"]),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]))
def test_valid_git_diffs_parse_exactly(diff: tuple[list[FileChange], Rendered], eol: str, encoding: str) -> None:
    """An undamaged git diff is never rejected, and every file is either reviewed with
    exactly the lines git wrote or listed as skipped: nothing silently dropped."""
    changes, rendered = diff
    text = rendered.text.replace("\n", eol)
    if encoding == "utf-16" and SURROGATE.search(text):
        encoding = "utf-8"  # UTF-16 cannot carry undecodable bytes
    data = text.encode(encoding, "surrogateescape" if encoding.startswith("utf-8") else "strict")
    parsed = review_path(data, reader_for(changes))
    assert parsed is not None, "a valid git diff was rejected"
    assert parsed.files == len(changes)
    skipped = {s.path for s in parsed.skipped}
    for ch in changes:
        got = changed_lines(parsed, ch.path)
        if got:
            assert got == rendered.lines[ch.path], ch.path
        else:
            assert not must_review(ch, rendered), f"{ch.path!r} was not reviewed"
            if printable(ch.path):
                assert ch.path in skipped, f"{ch.path!r} neither reviewed nor skipped"


def must_review(ch: FileChange, rendered: Rendered) -> bool:
    """Whether nothing about this change is a reason to skip it (a conservative judgement)."""
    lines = (*ch.old, *ch.new)
    return (ch.kind in ("modify", "add", "rename", "copy", "mode") and printable(ch.path)
            and any(kind != " " for kind, _ in rendered.lines[ch.path])
            and not ch.path.endswith((".lock", ".min.js"))
            and all(len(t) <= 1000 and not SURROGATE.search(t) for t in lines)
            and not any(marker in t for t in lines for marker in ("DO NOT EDIT", "Subproject commit")))


@fuzz_settings(300)
@given(diff=git_diffs(), data=st.data())
def test_damaged_diffs_are_reviewed_or_rejected_in_one_line(diff: tuple[list[FileChange], Rendered],
                                                             data: st.DataObject) -> None:
    changes, rendered = diff
    damaged = data.draw(mutated(rendered.text), label="mutation")
    event(f"mutation: {damaged.steps[0]}")
    parsed = review_path(damaged.data, reader_for(changes))
    if parsed is not None and damaged.counts_only:
        check_nothing_lost(changes, rendered, parsed)


@fuzz_settings(200)
@given(diff=git_diffs(), data=st.data())
def test_wrong_hunk_counts_never_lose_a_changed_line(diff: tuple[list[FileChange], Rendered],
                                                     data: st.DataObject) -> None:
    changes, rendered = diff
    damaged = data.draw(mutated(rendered.text, ("shrink", "count", "dup"), plain=True), label="mutation")
    parsed = review_path(damaged.data, reader_for(changes))
    if parsed is not None:
        check_nothing_lost(changes, rendered, parsed)


def check_nothing_lost(changes: list[FileChange], rendered: Rendered, parsed: ParsedDiff) -> None:
    """A changed line that a wrong @@ count pushes out of its hunk must make the diff an
    error: silently reviewing less than the diff shows is the one unacceptable outcome."""
    for ch in changes:
        got = changed_lines(parsed, ch.path)
        if got:
            want = Counter(line for line in rendered.lines[ch.path] if line[0] != " ")
            lost = want - Counter(got)
            assert not lost, f"changed lines of {ch.path!r} silently lost: {list(lost)[:3]}"


@fuzz_settings(300)
@given(data=st.one_of(
    st.binary(max_size=2000),
    st.lists(st.sampled_from([b"diff --git a/x b/x\n", b"--- a/x.py\n", b"+++ b/x.py\n", b"@@ -1 +1 @@\n",
                              b"@@ -0,0 +1,2 @@ f\n", b"@@ -1,3 +0,0 @@\n", b"+a\n", b"-b\n", b" c\n", b"\n",
                              b"\\ No newline at end of file\n", b"\xff\xfe", b"\xe9\n", b"\r\n", b"\x00",
                              b"Binary files a/x and b/x differ\n", b"new file mode 100644\n",
                              b"rename from x\n", b"rename to y\n", b"+++ /dev/null\n", b"--- /dev/null\n",
                              b'+++ "b/\\303\\251\\n"\n', b"@@ -1 +" + b"9" * 30 + b" @@\n"]), max_size=30
             ).map(b"".join),
))
def test_arbitrary_bytes_are_reviewed_or_rejected_in_one_line(data: bytes) -> None:
    review_path(data, lambda path: ["def f():", "    x = 1", "caf\udce9", "z" * 5000])


# ------------------------------------------------------------------------ CLI fuzz

CLI_ARGS = ["review", "--backend", "fake", "--no-cache", "--no-analyzers", "--fail-on", "never"]


@pytest.fixture
def outside_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the CLI where no git repository or config file is found."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("REVIEWER_DEBUG", raising=False)
    return tmp_path


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    with time_limit(EXAMPLE_SECONDS * 3):
        code = cli.main(args)
    out, err = capsys.readouterr()
    return code, out, err


def check_cli(code: int, out: str, err: str, fmt: str) -> None:
    """Exit 0 with a report, or 2 with one `reviewer: error: ...` line and nothing on stdout."""
    assert code in (0, 2), (code, err)
    if code == 2:
        assert out == ""
        assert err.endswith("\n") and err.count("\n") == 1, f"not one line: {err!r}"
        assert err.startswith("reviewer: error: "), f"not a usage/input error: {err!r}"
        return
    # without -q an empty review says so, on one line
    assert err == "" or (err.count("\n") == 1 and err.startswith("reviewer: nothing to review")), err
    if fmt in ("json", "sarif"):
        report = json.loads(out)
        if fmt == "json":
            assert report["stats"]["files"] >= 1


@fuzz_settings(40, share=10)
@given(diff=git_diffs(), data=st.data(), fmt=st.sampled_from(["json", "json", "text", "sarif", "github"]),
       quiet=st.booleans())
def test_cli_exits_0_with_a_report_or_2_with_one_line(diff: tuple[list[FileChange], Rendered], data: st.DataObject,
                                                      fmt: str, quiet: bool, outside_repo: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    _, rendered = diff
    damaged = data.draw(st.one_of(st.none(), *[mutated(rendered.text)] * 3), label="mutation")
    raw = damaged.data if damaged else rendered.text.encode("utf-8", "surrogateescape")
    args = [*CLI_ARGS, "--format", fmt, *(["-q"] if quiet else [])]
    with tempfile.TemporaryDirectory(dir=outside_repo) as tmp:
        diff_file, report = Path(tmp) / "in.diff", Path(tmp) / "out.report"
        diff_file.write_bytes(raw)
        code, out, err = run_cli([*args, "--diff", str(diff_file)], capsys)
        check_cli(code, out, err, fmt)
        event(f"cli exit {code}")
        # the same input written with -o: exit 2 leaves no file at all (not even a temp file)
        code_o, out_o, err_o = run_cli([*args, "--diff", str(diff_file), "-o", str(report)], capsys)
        assert (code_o, out_o, err_o) == (code, "", err)
        if code == 2:
            assert sorted(p.name for p in Path(tmp).iterdir()) == ["in.diff"]
        elif fmt == "json":  # the same report (but for the timing)
            assert json.loads(report.read_text(encoding="utf-8"))["findings"] == json.loads(out)["findings"]
        else:
            assert report.is_file()
    if damaged is None:
        assert code == 0, f"a valid git diff was rejected: {err}"


# ------------------------------------------------------------------------ scale


def many_files(count: int) -> bytes:
    return "".join(f"diff --git a/pkg/m{i}.py b/pkg/m{i}.py\nindex 1234567..89abcde 100644\n--- a/pkg/m{i}.py\n"
                   f"+++ b/pkg/m{i}.py\n@@ -1,3 +1,3 @@\n import os\n-x = {i}\n+x = {i} + 1\n y = 2\n"
                   for i in range(count)).encode()


def test_three_thousand_files_review_the_first_max_files_and_list_the_rest() -> None:
    start = time.perf_counter()
    parsed = review_path(many_files(3000), lambda path: None)
    assert parsed is not None and parsed.files == 3000
    assert [h.path for h in parsed.hunks] == [f"pkg/m{i}.py" for i in range(200)]
    assert [(s.path, s.reason) for s in parsed.skipped] == [
        (f"pkg/m{i}.py", "over the max_files limit (200)") for i in range(200, 3000)]
    assert time.perf_counter() - start < 20


def test_three_thousand_files_on_the_command_line(outside_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (outside_repo / "big.diff").write_bytes(many_files(3000))
    code, out, err = run_cli([*CLI_ARGS, "--format", "json", "-q", "--diff", "big.diff"], capsys)
    assert (code, err) == (0, "")
    stats = json.loads(out)["stats"]
    assert stats["files"] == 3000 and stats["hunks"] == 200 and len(stats["skipped"]) == 2800


def test_huge_lines_skip_the_file_quickly() -> None:
    head = "diff --git a/m.js b/m.js\n--- a/m.js\n+++ b/m.js\n@@ -1,2 +1,2 @@\n keep\n"
    for body in ("-a\n+" + "x" * 200_000 + "\n", "-" + '"\\' * 100_000 + "\n+b\n"):
        parsed = review_path((head + body).encode(), lambda path: None)
        assert parsed is not None and parsed.hunks == ()
        assert [(s.path, s.reason) for s in parsed.skipped] == [("m.js", "minified/generated (very long lines)")]


GIT_PIN = [  # simple edits, where git's and difflib's choice of hunks agree
    FileChange("modify", "plain.py", "plain.py", ("a", "b", "c", "d", "e", "f", "g", "h"),
               ("a", "b", "c", "d", "e", "f", "g", "H"), new_eol=False),
    FileChange("rename", "x b/é.py", "x b/ü y.py", tuple("abcdefgh"), tuple("abcdefgH")),
    FileChange("modify", 'tab\tq"x.py', 'tab\tq"x.py', ("x",), ("y",)),
    FileChange("add", "new file.py", "new file.py", (), ("one", "two")),
    FileChange("delete", "gone.py", "gone.py", ("bye",), ()),
    FileChange("mode", "run.sh", "run.sh", ("echo a",), ("echo b",)),
]


def test_generator_writes_what_git_writes(tmp_path: Path) -> None:
    """The fuzz oracle is only as good as the renderer: pin it against real `git diff` output."""
    def git(*args: str) -> bytes:
        return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "core.quotePath=true",
                               *args], cwd=tmp_path, check=True, capture_output=True).stdout

    def write(path: str, lines: tuple[str, ...], eol: bool) -> None:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("\n".join(lines) + ("\n" if eol and lines else ""), encoding="utf-8")

    git("init", "-q")
    for ch in GIT_PIN:
        if ch.kind != "add":
            write(ch.old_path, ch.old, ch.old_eol)
    git("add", "-A")
    git("commit", "-qm", "old")
    for ch in GIT_PIN:
        if ch.kind in ("rename", "delete"):
            (tmp_path / ch.old_path).unlink()
        if ch.kind != "delete":
            write(ch.new_path, ch.new, ch.new_eol)
        if ch.kind == "mode":
            (tmp_path / ch.new_path).chmod(0o755)
    git("add", "-A")
    real = git("diff", "--cached", "-M", "--no-color", "--src-prefix=a/", "--dst-prefix=b/").decode()
    ours = render(sorted(GIT_PIN, key=lambda ch: ch.path), quote_path=True).text  # git sorts by path
    # the blob ids, the similarity score and git's funcname are the only differences allowed
    normalize = [(r"index (?!0000000\.)[0-9a-f]+\.\.(?!0000000)[0-9a-f]+", "index X..Y"),
                 (r"index 0000000\.\.[0-9a-f]+", "index 0..Y"), (r"index [0-9a-f]+\.\.0000000", "index X..0"),
                 (r"similarity index \d+%", "similarity index N%"), (r"(?m)^(@@ [^@]* @@).*$", r"\1")]
    for pattern, repl in normalize:
        real, ours = re.sub(pattern, repl, real), re.sub(pattern, repl, ours)
    assert ours == real


# ------------------------------------------------------------------------ regressions: what the fuzzing found
# Each input is the minimal one hypothesis (or probing around what it found) came up with.


def parse_bytes(data: bytes, reader: Callable[[str], list[str] | None] = lambda path: None) -> ParsedDiff:
    parsed = review_path(data, reader)  # all the checks of the fuzz tests
    assert parsed is not None
    return parsed


def rejection(data: bytes) -> str:
    with pytest.raises(ReviewerError) as info:
        parse_diff(DiffInput(decode_diff(data), None, lambda path: None), Config())
    return check_error(info.value)


def test_undecodable_section_header_is_replaced_not_sent_to_the_model() -> None:
    # was: a lone surrogate in the prompt; UnicodeEncodeError at the cache key, "internal error"
    (hunk,) = parse_bytes(b"--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@ caf\xe9\n-a\n+b\n").hunks
    assert hunk.section == "caf\ufffd"


def test_undecodable_context_lines_are_replaced() -> None:
    # the diff's own lines are valid; the line after them, read from the file, is not
    (hunk,) = parse_bytes(b"--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a\n+b\n", lambda path: ["b", "caf\udce9"]).hunks
    assert hunk.context_after == ((2, "caf\ufffd"),)


def test_undecodable_old_path_of_a_rename_is_printable() -> None:
    data = (b'diff --git "a/\\351.py" b/y.py\nsimilarity index 90%\nrename from "\\351.py"\nrename to y.py\n'
            b'--- "a/\\351.py"\n+++ b/y.py\n@@ -1 +1 @@\n-a\n+b\n')
    (hunk,) = parse_bytes(data).hunks
    assert (hunk.path, hunk.old_path) == ("y.py", "\ufffd.py")


def test_control_characters_in_paths_skip_the_file_and_are_listed_escaped() -> None:
    # was: an escape sequence went into the prompt and the terminal; a newline split the report line
    data = (b'--- "a/x\\033[31m.py"\n+++ "b/x\\033[31m.py"\n@@ -1 +1 @@\n-a\n+b\n'
            b'--- "a/new\\nline.py"\n+++ "b/new\\nline.py"\n@@ -1 +1 @@\n-a\n+b\n')
    parsed = parse_bytes(data)
    assert parsed.hunks == ()
    assert [(s.path, s.reason) for s in parsed.skipped] == [
        ("x\\x1b[31m.py", "unsupported path (control characters)"),
        ("new\\nline.py", "unsupported path (control characters)")]


@pytest.mark.parametrize("data", [b"--- a/x.py\n+++ b/x.py\n@@ -1 +0 @@\n-a\n+b\n",
                                  b"--- a/x.py\n+++ b/x.py\n@@ -0,1 +1 @@\n-a\n+b\n"])
def test_hunk_starting_at_line_zero_is_rejected(data: bytes) -> None:
    # was: an added line numbered 0, where no finding can be anchored
    assert "puts lines at line 0" in rejection(data)


@pytest.mark.parametrize("number", ["1" * 5000, str(2**30 + 1), "99999999999999999999"])
def test_absurd_line_numbers_are_rejected(number: str) -> None:
    # was: ValueError from int() past 4300 digits ("internal error"); MemoryError in the analyzers
    data = f"--- a/x.py\n+++ b/x.py\n@@ -1 +{number} @@\n-a\n+b\n".encode()
    assert rejection(data).startswith("malformed diff: a @@ line number is past 1073741824")


@pytest.mark.parametrize("data", [b"--- a/\n+++ b/\n@@ -1 +1 @@\n-a\n+b\n", b"--- \n+++ \n@@ -1 +1 @@\n-a\n+b\n",
                                  b'--- "a/"\n+++ "b/"\n@@ -1 +1 @@\n-a\n+b\n'])
def test_file_without_a_name_is_rejected(data: bytes) -> None:
    # was: hunks with path "", which no finding, prompt or report can use
    assert rejection(data).startswith("malformed diff: the file on line 2 has no name")


@pytest.mark.parametrize("data, line", [
    (b"--- a/x\n+++ b/x\n@@ -1,1 +1,1 @@\n \n \n+\n", 6),  # as test_wrong_hunk_counts... shrank it
    (b"--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a\n+b\n c\n+d\n", 7),
    # a removed "- " line reads like a mail signature "-- ", a removed "-- x" like a header "--- x"
    (b"--- a/x\n+++ b/x\n@@ -1,1 +1,1 @@\n \n-- \ndiff --git a/y b/y\n", 5),
    (b"--- a/x\n+++ b/x\n@@ -1,1 +1,1 @@\n \n--- x\n+y\n", 5),
])
def test_changed_line_after_context_past_the_hunk_end_is_not_dropped(data: bytes, line: int) -> None:
    # was: unidiff ends the hunk where @@ says, the context after it hid the +/- line that
    # followed from the old check (which looked at the next line only): reviewed without it
    assert rejection(data).startswith(f"malformed diff: line {line} is outside its hunk")


def test_hunk_without_lines_is_rejected() -> None:
    # was: a Hunk with no lines, reviewed as an empty code block
    assert "has no lines" in rejection(b"--- a/x\n+++ b/x\n@@ -0,0 +1,0 @@\n")


def test_signature_and_commit_message_after_the_last_hunk_are_fine() -> None:
    data = (b"--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a\n+b\n-- \n2.39.0\n\n"
            b"--- a/y.py\n+++ b/y.py\n@@ -1 +1 @@\n-a\n+b\n\n- a bullet in the next commit message\n")
    assert [h.path for h in parse_bytes(data).hunks] == ["x.py", "y.py"]


@pytest.mark.parametrize("data, path, old_path", [
    (b"diff --git a/x b/y.py b/x b/y.py\nindex 1..2 100644\n--- a/x b/y.py\t\n+++ b/x b/y.py\t\n@@ -1 +1 @@\n-a\n+b\n",
     "x b/y.py", "x b/y.py"),
    ((b"diff --git a/x.py b/y b/z.py\nsimilarity index 90%\nrename from x.py\nrename to y b/z.py\n--- a/x.py\n"
      b"+++ b/y b/z.py\t\n@@ -1 +1 @@\n-a\n+b\n"), "y b/z.py", "x.py"),
    ((b'diff --git "a/\\303\\251" b/x b/y.py\nsimilarity index 90%\nrename from "\\303\\251"\nrename to x b/y.py\n'
      b'--- "a/\\303\\251"\n+++ b/x b/y.py\t\n@@ -1 +1 @@\n-a\n+b\n'), "x b/y.py", "\u00e9"),
])
def test_paths_containing_space_b_slash_are_split_where_git_splits_them(data: bytes, path: str, old_path: str) -> None:
    # was: "malformed diff: Target without source" for a valid `git diff` (unidiff splits at the last " b/")
    (hunk,) = parse_bytes(data).hunks
    assert (hunk.path, hunk.old_path) == (path, old_path)


@pytest.mark.parametrize("data, path", [
    (b"diff --git a/x.py b/y b/z.py\nsimilarity index 100%\nrename from x.py\nrename to y b/z.py\n", "y b/z.py"),
    (b"diff --git a/q b/r.sh b/q b/r.sh\nold mode 100644\nnew mode 100755\n", "q b/r.sh"),
])
def test_hunkless_changes_with_space_b_slash_are_listed_under_their_path(data: bytes, path: str) -> None:
    assert [s.path for s in parse_bytes(data).skipped] == [path]


def test_unidiff_message_quoting_a_nul_is_escaped() -> None:
    # was: "Target without source: +++ \x00" with a raw NUL on the terminal
    assert "+++ \\x00" in rejection(b"diff --git a/x b/x\n--- a/x\n+++ \x00\n")


def test_rename_check_is_linear_on_a_long_line_of_unterminated_strings() -> None:
    # was: quadratic in trivial._TOKEN (every '"' rescanned to the end of the line): hours at 200k
    from helpers import make_hunk

    hunk = make_hunk(removed=("    a = 1",), added=("    b = 1",), after=('"\\' * 100_000,))
    with time_limit(5):
        assert behaviour_preserving(hunk) == "behaviour-preserving change (rename a → b)"


def test_analyzer_snippet_of_a_hunk_far_down_is_quick() -> None:
    # was: the snippet padded with 99,999,998 newlines for bandit: a minute and more per hunk
    from reviewer.analyzers import analyze, hunk_snippet

    data = b"--- a/x.py\n+++ b/x.py\n@@ -1 +99999999 @@\n-a\n+import pickle\n"
    parsed = parse_bytes(data)
    with time_limit(5):
        assert hunk_snippet(parsed.hunks[0]) is None
        assert analyze(parsed) == ()


def test_undecodable_section_on_the_command_line(outside_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (outside_repo / "x.diff").write_bytes(b"--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@ caf\xe9\n-a\n+b = eval(a)\n")
    code, out, err = run_cli([*CLI_ARGS, "--format", "json", "-q", "--diff", "x.diff"], capsys)
    assert (code, err) == (0, "")
    assert [f["title"] for f in json.loads(out)["findings"]] == ["eval on dynamic input"]


@pytest.fixture
def repo_with(make_repo: Callable[[dict[str, str]], Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("REVIEWER_DEBUG", raising=False)
    for key in ("GIT_DIR", "GIT_INDEX_FILE", "GIT_WORK_TREE"):
        monkeypatch.delenv(key, raising=False)
    repo = make_repo({"README": "x\n"})
    monkeypatch.chdir(repo)
    return repo


def test_symlink_loop_in_the_worktree_is_no_internal_error(repo_with: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # was: RuntimeError("Symlink loop from ...") out of Path.resolve(): "internal error", exit 2
    (repo_with / "loop.py").symlink_to("loop.py")
    (repo_with / "x.diff").write_bytes(b"--- a/loop.py\n+++ b/loop.py\n@@ -1 +1 @@\n-a\n+b\n")
    code, out, err = run_cli([*CLI_ARGS, "--format", "json", "-q", "--diff", "x.diff"], capsys)
    assert (code, err) == (0, "") and json.loads(out)["stats"]["hunks"] == 1


def test_fifo_in_the_worktree_is_not_read(repo_with: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # was: read_bytes() on a FIFO named by the diff blocked forever
    os.mkfifo(repo_with / "pipe.py")
    (repo_with / "x.diff").write_bytes(b"--- a/pipe.py\n+++ b/pipe.py\n@@ -1 +1 @@\n-a\n+b\n")
    code, out, err = run_cli([*CLI_ARGS, "--format", "json", "-q", "--diff", "x.diff"], capsys)
    assert (code, err) == (0, "") and json.loads(out)["stats"]["hunks"] == 1
