"""reviewer.diff: reading diffs from git/files/stdin and parsing them into hunks."""

from __future__ import annotations

import io
import itertools
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reviewer.config import Config
from reviewer.context import find_enclosing_header, language_for_path, split_points, surrounding_context
from reviewer.diff import DiffInput, DiffSource, decode_diff, parse_diff, read_diff
from reviewer.errors import ReviewerError
from reviewer.types import DiffLine, Hunk, ParsedDiff

DIFFS = Path(__file__).parent / "data" / "diffs"


def no_reader(path: str) -> list[str] | None:
    return None


def parse_text(text: str, config: Config | None = None,
               reader: Callable[[str], list[str] | None] = no_reader) -> ParsedDiff:
    return parse_diff(DiffInput(text, None, reader), config or Config())


def golden(name: str, config: Config | None = None) -> ParsedDiff:
    return parse_text(decode_diff((DIFFS / name).read_bytes()), config)


def shape(h: Hunk) -> tuple[str, str | None, str, int, int, int, int]:
    return (h.path, h.old_path, h.language, h.old_start, h.old_len, h.new_start, h.new_len)


def skips(parsed: ParsedDiff) -> list[tuple[str, str]]:
    return [(s.path, s.reason) for s in parsed.skipped]


def error_of(fn: Callable[[], object]) -> str:
    with pytest.raises(ReviewerError) as info:
        fn()
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    return message


# --------------------------------------------------------------------------- golden diffs

MODIFY_LINES = (
    DiffLine(" ", "", 3, 3),
    DiffLine(" ", "def get_user(db, user_id):", 4, 4),
    DiffLine(" ", '    """Return one user."""', 5, 5),
    DiffLine("-", '    cur = db.execute("SELECT * FROM users WHERE id = ?", (user_id,))', 6, None),
    DiffLine("+", '    cur = db.execute(f"SELECT * FROM users WHERE id = {user_id}")', None, 6),
    DiffLine(" ", "    return cur.fetchone()", 7, 7),
    DiffLine(" ", "", 8, 8),
    DiffLine(" ", "", 9, 9),
    DiffLine(" ", "def list_users(db):", 10, 10),
    DiffLine(" ", "    rows = []", 11, 11),
    DiffLine(" ", '    for row in db.execute("SELECT * FROM users"):', 12, 12),
    DiffLine("-", "        rows.append(row)", 13, None),
    DiffLine("+", "        if row:", None, 13),
    DiffLine("+", "            rows.append(row)", None, 14),
    DiffLine(" ", "    return rows", 14, 15),
)


def test_simple_modification() -> None:
    parsed = golden("modify.diff")
    assert parsed.files == 1 and parsed.skipped == ()
    (h,) = parsed.hunks
    assert shape(h) == ("app/users.py", "app/users.py", "python", 3, 12, 3, 13)
    assert h.section == "import sqlite3"
    assert h.lines == MODIFY_LINES
    assert h.added_line_numbers == {6, 13, 14}
    assert (h.part, h.parts, h.context_before, h.context_after) == (1, 1, (), ())


def test_crlf_diff_parses_like_lf() -> None:
    assert golden("crlf.diff") == golden("modify.diff")


def test_crlf_content_lines_lose_the_carriage_return() -> None:
    (h,) = golden("crlf_content.diff").hunks
    assert [(ln.kind, ln.text) for ln in h.lines] == [(" ", "a = 1"), ("-", "b = 1"), ("+", "b = 2")]


def test_new_file() -> None:
    (h,) = golden("new_file.diff").hunks
    assert shape(h) == ("app/new.py", None, "python", 0, 0, 1, 2)
    assert h.lines == (DiffLine("+", "def hello():", None, 1), DiffLine("+", "    return 'hi'", None, 2))


def test_deleted_file_is_skipped() -> None:
    parsed = golden("deleted.diff")
    assert (parsed.hunks, skips(parsed), parsed.files) == ((), [("gone.py", "deleted")], 1)


def test_rename_with_modification() -> None:
    (h,) = golden("rename_modify.diff").hunks
    assert shape(h) == ("app/new_name.py", "app/old_name.py", "python", 7, 7, 7, 7)
    assert h.section == "line 6"
    assert [(ln.kind, ln.text, ln.old_no, ln.new_no) for ln in h.lines if ln.kind != " "] == [
        ("-", "line 10", 10, None), ("+", "line ten", None, 10)]


def test_pure_rename_mode_change_and_empty_file_are_skipped() -> None:
    assert skips(golden("rename_pure.diff")) == [("docs/README.md", "renamed, no content change")]
    parsed = golden("mode_change.diff")
    assert parsed.hunks == () and parsed.files == 2
    assert skips(parsed) == [("empty.py", "empty file"), ("run.sh", "no content change")]


@pytest.mark.parametrize("name", ["binary.diff", "binary_patch.diff"])
def test_binary_files_are_skipped(name: str) -> None:
    parsed = golden(name)
    assert skips(parsed) == [("img/x.png", "binary")]
    (h,) = parsed.hunks
    assert shape(h) == ("src/main.go", "src/main.go", "go", 1, 5, 1, 5)
    assert [ln.text for ln in h.lines if ln.kind == "+"] == ['\tprintln("b")']


def test_no_newline_at_end_of_file() -> None:
    a, b = golden("no_newline.diff").hunks
    assert shape(a) == ("a.txt", "a.txt", "text", 1, 2, 1, 3)
    assert a.lines == (DiffLine(" ", "one", 1, 1), DiffLine("-", "two", 2, None),
                       DiffLine("+", "two", None, 2), DiffLine("+", "three", None, 3))
    assert b.lines == (DiffLine(" ", "x = 1", 1, 1), DiffLine("+", "y = 2", None, 2))


def test_submodules_are_skipped() -> None:
    parsed = golden("submodule.diff")
    assert skips(parsed) == [("libs/other", "submodule"), ("libs/sub", "submodule")]
    assert [h.path for h in parsed.hunks] == ["main.py"]


def test_submodule_recognised_without_a_gitlink_mode() -> None:
    text = ("--- a/sub\n+++ b/sub\n@@ -1 +1 @@\n-Subproject commit 1111111\n+Subproject commit 2222222-dirty\n")
    assert skips(parse_text(text)) == [("sub", "submodule")]


def test_invalid_utf8_file_is_skipped_others_reviewed() -> None:
    parsed = golden("invalid_utf8.diff")
    assert skips(parsed) == [("latin.txt", "not valid UTF-8")]
    assert [(h.path, h.lines[-1].text) for h in parsed.hunks] == [("good.py", "a = 2")]


def test_paths_with_spaces_unicode_and_quotes() -> None:
    parsed = golden("unicode_paths.diff")
    assert [(h.path, h.old_path) for h in parsed.hunks] == [
        ("données/été.py", "données/été.py"), ("my dir/file name.py", "my dir/file name.py"), ('q"uote.py', None)]


def test_paths_with_control_characters_are_skipped() -> None:
    text = '--- "a/x\\000y"\n+++ "b/x\\000y"\n@@ -1 +1 @@\n-a\n+b\n--- "a/l\\nf"\n+++ "b/l\\nf"\n@@ -1 +1 @@\n-a\n+b\n'
    # listed escaped: a raw newline would split the report line (see tests/test_fuzz.py)
    assert skips(parse_text(text)) == [("x\\x00y", "unsupported path (control characters)"),
                                       ("l\\nf", "unsupported path (control characters)")]


def test_lock_and_vendored_files_are_excluded() -> None:
    parsed = golden("lockfile.diff")
    assert [h.path for h in parsed.hunks] == ["app.py"]
    assert skips(parsed) == [
        ("poetry.lock", "excluded by pattern *.lock"),
        ("vendor/lib/x.go", "excluded by pattern vendor/*"),
        ("web/package-lock.json", "excluded by pattern package-lock.json"),
    ]


def test_generated_and_minified_files_are_skipped() -> None:
    parsed = golden("generated.diff")
    assert [h.path for h in parsed.hunks] == ["ok.py"]
    assert skips(parsed) == [
        ("api/api.pb.txt", "generated"),
        ("gen/models.go", "generated"),
        ("static/app.bundle.js", "minified/generated (very long lines)"),
    ]


def test_plain_unified_diff_without_git_headers() -> None:
    (h,) = golden("plain_unified.diff").hunks
    assert shape(h) == ("src/util.c", "src/util.c.orig", "c", 10, 6, 10, 7)
    assert h.section == "int parse(const char *s)"
    assert h.added_line_numbers == {13}


@pytest.mark.parametrize(("name", "reason"), [
    ("malformed_truncated.diff", "the last hunk ends early (truncated?)"),
    ("malformed_counts.diff", "line 9 is outside its hunk"),
    ("malformed_counts_long.diff", "a hunk has fewer lines than its @@ header says"),
    ("not_a_diff.txt", "no file header"),
])
def test_malformed_diffs_are_one_line_errors(name: str, reason: str) -> None:
    message = error_of(lambda: golden(name))
    assert message.startswith("malformed diff: ") and reason in message
    assert message.endswith("expected unified diff output such as `git diff`")


@pytest.mark.parametrize("text", ["", "   \n\n", "\r\n"])
def test_empty_diff(text: str) -> None:
    assert error_of(lambda: parse_text(text)).startswith("nothing to review: the diff is empty")


# --------------------------------------------------------------------------- config-driven skips


def test_include_exclude_and_max_files() -> None:
    cfg = Config(exclude=("my dir/*",))
    assert skips(golden("unicode_paths.diff", cfg)) == [("my dir/file name.py", "excluded by pattern my dir/*")]
    cfg = Config(include=("*.py",), exclude=())
    assert [h.path for h in golden("lockfile.diff", cfg).hunks] == ["app.py"]
    cfg = Config(include=("données/*",))
    parsed = golden("unicode_paths.diff", cfg)
    assert [h.path for h in parsed.hunks] == ["données/été.py"]
    assert skips(parsed)[0] == ("my dir/file name.py", "not matched by include patterns (données/*)")
    parsed = golden("unicode_paths.diff", Config(max_files=1))
    assert [h.path for h in parsed.hunks] == ["données/été.py"] and parsed.files == 3
    assert [r for _, r in skips(parsed)] == ["over the max_files limit (1)"] * 2


def test_generated_marker_found_through_the_reader() -> None:
    text = "--- a/api.go\n+++ b/api.go\n@@ -20 +20 @@\n-a\n+b\n"
    new = ["// Code generated by protoc-gen-go. DO NOT EDIT."] + ["x"] * 18 + ["b"]
    assert skips(parse_text(text, reader=lambda p: new)) == [("api.go", "generated")]


# --------------------------------------------------------------------------- context


def numbered(lines: list[str], first: int, last: int) -> tuple[tuple[int, str], ...]:
    return tuple((no, lines[no - 1]) for no in range(first, min(last, len(lines)) + 1))


PY_FILE = (["import os", "", "", "class Store:", '    """Keeps things."""', "",
            "    @property", "    def size(self):", "        total = 0"]
           + [f"        total += {i}" for i in range(30)]
           + ["        return total", "", "", "def after():", "    pass"])


def test_context_reaches_up_to_the_enclosing_def_and_its_decorator() -> None:
    # change "total += 25" (line 35) into "total += 26"
    text = "--- a/s.py\n+++ b/s.py\n@@ -35 +35 @@\n-        total += 25\n+        total += 99\n"
    new = list(PY_FILE)
    new[34] = "        total += 99"
    (h,) = parse_text(text, Config(context_lines=3), reader=lambda p: new).hunks
    assert h.context_before == numbered(new, 7, 34)  # from "@property" down
    assert h.context_after == numbered(new, 36, 38)


def test_far_away_header_is_kept_alone_in_front_of_the_window() -> None:
    body = ["func big() {"] + [f"\tx{i} := {i}" for i in range(100)] + ["}"]
    assert find_enclosing_header(body, 90, 4, "go") == 1
    before, after = surrounding_context(body, 90, 90, 4, "go", 5)
    assert before == ((1, "func big() {"), *numbered(body, 85, 89))
    assert after == numbered(body, 91, 95)


@pytest.mark.parametrize(("language", "lines", "expected"), [
    ("go", ["package x", "", "func (s *S) Run(ctx context.Context) error {", "\tfor {", "\t\tstep()", "\t}"], 3),
    ("c", ["static int", "parse(const char *s)", "{", "#ifdef X", "    int n = 0;"], 2),
    ("javascript", ["export const load = async (id) => {", "  if (id) {", "    fetch(id);"], 1),
    ("java", ["class A {", "  public void run() throws IOException {", "    go();"], 2),
    ("python", ["def f(", "    a,", "):", "    if a:", "        return a"], 1),
    ("python", ["x = 1", "if x:", "    y = 2"], None),
])
def test_enclosing_header_heuristics(language: str, lines: list[str], expected: int | None) -> None:
    last = len(lines)
    indent = len(lines[-1].expandtabs(8)) - len(lines[-1].expandtabs(8).lstrip())
    assert find_enclosing_header(lines, last, indent, language) == expected


def test_context_is_dropped_when_the_reader_disagrees_with_the_diff() -> None:
    text = "--- a/m.py\n+++ b/m.py\n@@ -2 +2 @@\n-a = 1\n+a = 2\n"
    (h,) = parse_text(text, reader=lambda p: ["x", "a = 3", "y"]).hunks
    assert (h.context_before, h.context_after) == ((), ())
    (h,) = parse_text(text, reader=lambda p: ["x", "a = 2", "y"]).hunks
    assert (h.context_before, h.context_after) == (((1, "x"),), ((3, "y"),))


def test_pure_deletion_hunk_context() -> None:
    text = "--- a/m.py\n+++ b/m.py\n@@ -3,2 +2,0 @@\n-gone1\n-gone2\n"
    new = ["one", "two", "three", "four"]
    (h,) = parse_text(text, Config(context_lines=1), reader=lambda p: new).hunks
    assert (h.new_start, h.new_len) == (2, 0)
    assert (h.context_before, h.context_after) == (((2, "two"),), ((3, "three"),))


def test_language_for_path() -> None:
    assert [language_for_path(p) for p in ("a/b.py", "x.TS", "Makefile", "Dockerfile.dev", "README", ".bashrc",
                                           "m.rs", "x.hpp", "s.sh")] == [
        "python", "typescript", "make", "dockerfile", "text", "text", "rust", "cpp", "shell"]


# --------------------------------------------------------------------------- splitting


def big_diff(n_blocks: int) -> tuple[str, list[str]]:
    """A hunk of 5 * n_blocks diff lines (3 context, 1 removed, 1 added per block) and the new file."""
    body, new = [], []
    for b in range(n_blocks):
        for c in range(3):
            body.append(f" ctx {b}.{c}")
            new.append(f"ctx {b}.{c}")
        body += [f"-old {b}", f"+new {b}"]
        new.append(f"new {b}")
    header = f"@@ -1,{4 * n_blocks} +1,{4 * n_blocks} @@ def big():\n"
    return "--- a/big.py\n+++ b/big.py\n" + header + "\n".join(body) + "\n", new


def test_oversized_hunk_is_split_into_parts_covering_every_line_once() -> None:
    text, new = big_diff(100)  # 500 lines
    whole = parse_text(text, Config(max_hunk_lines=1000)).hunks[0]
    parts = parse_text(text, Config(max_hunk_lines=120, context_lines=2), reader=lambda p: new).hunks
    assert len(whole.lines) == 500 and len(parts) == 5
    assert [(h.part, h.parts) for h in parts] == [(i, 5) for i in range(1, 6)]
    assert all(len(h.lines) <= 120 for h in parts)
    assert tuple(ln for h in parts for ln in h.lines) == whole.lines
    for h in parts:
        old = [ln.old_no for ln in h.lines if ln.old_no is not None]
        new_nos = [ln.new_no for ln in h.lines if ln.new_no is not None]
        assert (h.old_start, h.old_len) == (old[0], len(old)) and old == list(range(old[0], old[0] + len(old)))
        assert (h.new_start, h.new_len) == (new_nos[0], len(new_nos))
        assert h.section == "def big():" and h.path == "big.py"
        assert h.context_before == numbered(new, max(1, h.new_start - 2), h.new_start - 1)
        assert h.context_after == numbered(new, h.new_start + h.new_len, h.new_start + h.new_len + 1)
    for a, b in itertools.pairwise(parts):  # cut between two context lines
        assert a.lines[-1].kind == " " and b.lines[0].kind == " "


def test_split_points_without_context_lines_cut_at_the_limit() -> None:
    lines = [DiffLine("+", str(i), None, i + 1) for i in range(10)]
    assert split_points(lines, 4) == [(0, 4), (4, 8), (8, 10)]
    assert split_points(lines, 0) == [(0, 10)]
    assert split_points(lines, 1) == [(i, i + 1) for i in range(10)]


# --------------------------------------------------------------------------- property test

FRAGMENTS = st.sampled_from([
    "diff --git a/x.py b/x.py", "diff --git \"a/\\303\\244\" \"b/\\303\\244\"", "--- a/x.py", "+++ b/x.py",
    "--- /dev/null", "+++ /dev/null", "@@ -1,2 +1,3 @@ def f():", "@@ -1 +1 @@", "@@ -0,0 +1 @@", "@@ -9 +0,0 @@",
    "+added", "-removed", " context", "", "\\ No newline at end of file", "new file mode 100644",
    "deleted file mode 100644", "old mode 100644", "new mode 100755", "index 1234567..89abcde 160000",
    "rename from x.py", "rename to y.py", "Binary files a/x and b/x differ", "GIT binary patch", "literal 0",
    "+Subproject commit abc", "+" + "x" * 1200, "+// DO NOT EDIT", "-- ", "\r", "+\udce9",
])
DIFFISH = st.lists(st.one_of(FRAGMENTS, st.text(max_size=20)), max_size=25).map("\n".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.one_of(DIFFISH, st.text(), st.binary().map(decode_diff)),
       max_hunk=st.integers(min_value=0, max_value=5))
def test_parse_diff_returns_or_raises_reviewer_error(data: str, max_hunk: int) -> None:
    def reader(path: str) -> list[str] | None:
        return ["def f():", "    context", "added"] if "x" in path else None

    try:
        result = parse_text(data, Config(max_hunk_lines=max_hunk, context_lines=2), reader)
    except ReviewerError as exc:
        assert "\n" not in str(exc)
    else:
        assert isinstance(result, ParsedDiff)


# --------------------------------------------------------------------------- real git repositories


@pytest.fixture(autouse=True)
def _plain_git_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests run inside a git hook must not inherit its GIT_DIR/GIT_INDEX_FILE."""
    for key in ("GIT_DIR", "GIT_INDEX_FILE", "GIT_WORK_TREE", "GIT_PREFIX"):
        monkeypatch.delenv(key, raising=False)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args],
                          cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def write(repo: Path, name: str, lines: list[str]) -> None:
    (repo / name).parent.mkdir(parents=True, exist_ok=True)
    (repo / name).write_text("\n".join(lines) + "\n")


BASE = ["def f(x):", "    a = 1", "    b = 2", "    return a + b", "", "", "def g():", "    return 'g0'"]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    write(root, "app.py", BASE)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base")
    return root


def only_hunk(source: DiffSource, cwd: Path) -> tuple[DiffInput, Hunk]:
    diff = read_diff(source, cwd)
    (hunk,) = parse_diff(diff, Config(context_lines=2)).hunks
    return diff, hunk


def test_staged_uses_the_index_for_context(repo: Path) -> None:
    staged = BASE[:2] + ["    b = 3"] + BASE[3:]
    write(repo, "app.py", staged)
    git(repo, "add", "app.py")
    write(repo, "app.py", staged[:-1] + ["    return 'working tree only'"])  # unstaged edit
    (repo / "sub").mkdir()
    diff, h = only_hunk(DiffSource("staged"), repo / "sub")
    assert diff.repo_root == repo and diff.new_file_reader("app.py") == staged
    assert h.added_line_numbers == {3} and h.path == "app.py"
    assert h.lines[0] == DiffLine(" ", "def f(x):", 1, 1)
    # with -U3 the hunk ends at line 6; context_after shows the index's line 8, not the working tree's
    assert h.context_after == ((7, "def g():"), (8, "    return 'g0'"))


def test_range_and_three_dot_range_use_the_right_commit(repo: Path) -> None:
    first = git(repo, "rev-parse", "HEAD")
    write(repo, "app.py", BASE[:-1] + ["    return 'g1'"])
    git(repo, "commit", "-qam", "g1")
    second = git(repo, "rev-parse", "HEAD")
    write(repo, "app.py", BASE[:-1] + ["    return 'g2'"])
    git(repo, "commit", "-qam", "g2")
    for value in (f"{first}..{second}", f"{first}...{second}"):
        diff, h = only_hunk(DiffSource("range", value), repo)
        assert [ln.text for ln in h.lines if ln.kind == "+"] == ["    return 'g1'"]
        assert diff.new_file_reader("app.py") == BASE[:-1] + ["    return 'g1'"]
        assert h.context_before == ((3, "    b = 2"), (4, "    return a + b"))


def test_base_reviews_what_a_pull_request_shows(repo: Path) -> None:
    git(repo, "checkout", "-qb", "feature")
    write(repo, "app.py", BASE[:1] + ["    a = 10"] + BASE[2:])
    git(repo, "commit", "-qam", "feature")
    git(repo, "checkout", "-q", "main")
    write(repo, "other.py", ["x = 1"])  # main moves on; not part of the PR
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "main")
    git(repo, "checkout", "-q", "feature")
    diff, h = only_hunk(DiffSource("base", "main"), repo)
    assert "other.py" not in diff.text
    assert h.added_line_numbers == {2}
    assert h.context_after == ((6, ""), (7, "def g():"))


def test_file_and_stdin_use_the_working_tree_only_when_it_matches(repo: Path, tmp_path: Path) -> None:
    new = BASE[:-1] + ["    return 'g3'"]
    write(repo, "app.py", new)
    patch = subprocess.run(["git", "diff"], cwd=repo, check=True, capture_output=True).stdout
    (tmp_path / "change.diff").write_bytes(patch)
    diff = read_diff(DiffSource("file", str(tmp_path / "change.diff")), repo)
    assert diff.repo_root == repo and diff.new_file_reader("app.py") == new
    (h,) = parse_diff(diff, Config(context_lines=2)).hunks
    assert h.context_before == ((3, "    b = 2"), (4, "    return a + b"))
    for source in (DiffSource("stdin", "-"), DiffSource("file", "-")):
        assert read_diff(source, repo, io.BytesIO(patch)).new_file_reader("app.py") == new
    write(repo, "app.py", BASE)  # the working tree no longer matches the diff
    diff = read_diff(DiffSource("stdin"), repo, io.BytesIO(patch))
    assert diff.new_file_reader("app.py") is None
    assert parse_diff(diff, Config()).hunks[0].context_before == ()
    assert diff.new_file_reader("../../etc/passwd") is None
    assert diff.new_file_reader("nul\0byte.py") is None
    assert read_diff(DiffSource("staged"), repo).new_file_reader("nul\0byte.py") is None


def test_file_outside_a_repository_has_no_new_side(tmp_path: Path) -> None:
    (tmp_path / "x.diff").write_bytes((DIFFS / "modify.diff").read_bytes())
    diff = read_diff(DiffSource("file", "x.diff"), tmp_path)
    assert diff.repo_root is None and diff.new_file_reader("app/users.py") is None
    assert parse_diff(diff, Config()) == golden("modify.diff")


def test_utf16_diff_file_from_powershell(tmp_path: Path) -> None:
    data = (DIFFS / "modify.diff").read_text().encode("utf-16")
    (tmp_path / "ps.diff").write_bytes(data)
    assert parse_diff(read_diff(DiffSource("file", "ps.diff"), tmp_path), Config()) == golden("modify.diff")


def test_crlf_file_in_a_repository_gets_context_without_carriage_returns(repo: Path) -> None:
    (repo / "win.py").write_bytes(b"a = 1\r\nb = 1\r\nc = 1\r\nd = 1\r\ne = 1\r\n")
    git(repo, "add", "win.py")
    git(repo, "commit", "-qm", "crlf")
    (repo / "win.py").write_bytes(b"a = 1\r\nb = 1\r\nc = 1\r\nd = 1\r\ne = 2\r\n")
    git(repo, "add", "win.py")
    diff = read_diff(DiffSource("staged"), repo)
    (h,) = parse_diff(diff, Config(context_lines=1)).hunks
    assert h.lines[-1] == DiffLine("+", "e = 2", None, 5)
    assert h.context_before == ((1, "a = 1"),) and h.context_after == ()


def test_nothing_staged_is_an_empty_diff(repo: Path) -> None:
    assert error_of(lambda: parse_diff(read_diff(DiffSource("staged"), repo), Config())).startswith(
        "nothing to review")


# --------------------------------------------------------------------------- errors


def test_not_a_git_repository(tmp_path: Path) -> None:
    assert error_of(lambda: read_diff(DiffSource("staged"), tmp_path)) == (
        f"not a git repository: {tmp_path}; run inside a repository or pass --diff FILE")


@pytest.mark.parametrize(("source", "bad"), [
    (DiffSource("range", "nope..HEAD"), "nope"),
    (DiffSource("range", "HEAD...nope"), "nope"),
    (DiffSource("base", "origin/main"), "origin/main"),
    (DiffSource("base", "--output=/tmp/x"), "--output=/tmp/x"),
])
def test_unknown_revision(repo: Path, source: DiffSource, bad: str) -> None:
    assert error_of(lambda: read_diff(source, repo)).startswith(f"unknown revision '{bad}'")


def test_bad_range_and_unborn_head(repo: Path, tmp_path: Path) -> None:
    assert error_of(lambda: read_diff(DiffSource("range", "main"), repo)).startswith("bad range 'main'")
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q")
    assert "no commits yet" in error_of(lambda: read_diff(DiffSource("base", "main"), empty))


def test_missing_diff_file(tmp_path: Path) -> None:
    assert error_of(lambda: read_diff(DiffSource("file", "nope.diff"), tmp_path)) == "diff file nope.diff not found"


def test_git_executable_missing(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_PYTHON_GIT_EXECUTABLE", "/nonexistent/git")
    assert error_of(lambda: read_diff(DiffSource("staged"), repo)).startswith("git executable not found")
