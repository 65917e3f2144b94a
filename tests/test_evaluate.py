"""`reviewer eval` on the fake backend: cases materialized as git repos, resuming, workers,
scoring that agrees with shared/eval/score.py, and the command line's errors."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from conftest import git
from helpers import write_jsonl

from reviewer.cli import main
from reviewer.config import Config
from reviewer.errors import ReviewerError
from reviewer.evaluation.materialize import materialize
from reviewer.evaluation.runner import (
    eval_session,
    load_cases,
    read_results,
    results_for,
    review_case,
    run_eval,
    score,
    worker_config,
)

EVAL = Path("/work/shared/eval")
OLD = [f"line {i}" for i in range(1, 41)]
NEW_FILE = "diff --git a/app/q.py b/app/q.py\nnew file mode 100644\n--- /dev/null\n+++ b/app/q.py\n@@ -0,0 +1,3 @@\n" \
           "+def f(x):\n+    return eval(x)\n+\n"


def changed_lines(diff: str) -> list[str]:
    """The +/- lines of a diff, headers left out."""
    return [ln for ln in diff.splitlines() if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]


def make_diff(tmp_path: Path, old: dict[str, str | None], new: dict[str, str | None], *flags: str) -> str:
    """The `git diff --cached` of a real repository going from `old` to `new` files."""
    repo = tmp_path / "source"
    repo.mkdir()
    git(repo, "init", "-q")
    for name, text in old.items():
        if text is not None:
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", "old")
    for name in old:
        (repo / name).unlink(missing_ok=True)
    for name, text in new.items():
        if text is not None:
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            (repo / name).write_text(text)
    git(repo, "add", "-A")
    return git(repo, "diff", "--cached", "-M", *flags)


def staged(root: Path, path: str) -> list[str]:
    return git(root, "show", f":{path}").split("\n")[:-1]


def lines(text: list[str]) -> str:
    return "\n".join(text) + "\n"


# --------------------------------------------------------------------------- materialize


def test_modification_with_two_hunks(tmp_path):
    new = list(OLD)
    new[4] = "line 5 changed"
    new.insert(30, "inserted")
    diff = make_diff(tmp_path, {"pkg/mod.py": lines(OLD)}, {"pkg/mod.py": lines(new)})
    assert diff.count("\n@@ ") == 2

    root = tmp_path / "case"
    assert materialize(diff, root) == "git apply"
    got = staged(root, "pkg/mod.py")
    # every line the diff shows sits at its new number; lines it does not show are empty
    assert got[4] == "line 5 changed" and got[30] == "inserted" and got[31] == "line 31"
    assert got[1] == "line 2" and got[15] == ""
    assert (root / "pkg/mod.py").read_text() == lines(got)  # work tree == index
    assert changed_lines(git(root, "diff", "--cached")) == changed_lines(diff)
    assert git(root, "status", "--porcelain").splitlines() == ["M  pkg/mod.py"]  # staged, nothing else
    assert git(root, "log", "--format=%an <%ae>").strip() == "reviewer eval <eval@reviewer.invalid>"


def test_new_file(tmp_path):
    diff = make_diff(tmp_path, {}, {"app/new.py": "import os\n\nprint(os.getcwd())\n"})
    root = tmp_path / "case"
    materialize(diff, root)
    assert staged(root, "app/new.py") == ["import os", "", "print(os.getcwd())"]
    assert git(root, "status", "--porcelain").splitlines() == ["A  app/new.py"]
    assert changed_lines(git(root, "diff", "--cached")) == changed_lines(diff)


def test_rename_with_a_change(tmp_path):
    new = list(OLD)
    new[19] = "line 20 changed"
    diff = make_diff(tmp_path, {"old.py": lines(OLD)}, {"new.py": lines(new)})
    assert "rename from old.py" in diff
    root = tmp_path / "case"
    materialize(diff, root)
    assert not (root / "old.py").exists() and staged(root, "new.py")[19] == "line 20 changed"
    assert "rename from old.py" in git(root, "diff", "--cached", "-M")


def test_deleted_file_and_no_newline_at_end(tmp_path):
    diff = make_diff(tmp_path, {"gone.py": "a\nb\n", "tail.py": "x\ny"}, {"tail.py": "x\nz"})
    assert "\\ No newline at end of file" in diff
    root = tmp_path / "case"
    assert materialize(diff, root) == "git apply"
    assert (root / "tail.py").read_bytes() == b"x\nz"
    assert git(root, "status", "--porcelain").splitlines() == ["D  gone.py", "M  tail.py"]


def test_fallback_when_git_apply_refuses(tmp_path):
    """A -U0 diff with two hunks: git apply wants the first to end the file, so it refuses;
    the new side is then written by line numbers."""
    new = list(OLD)
    new[2], new[14] = "three", "fifteen"
    diff = make_diff(tmp_path, {"f.txt": lines(OLD)}, {"f.txt": lines(new)}, "-U0")
    root = tmp_path / "case"
    assert materialize(diff, root) == "fallback"
    got = staged(root, "f.txt")
    assert got[2] == "three" and got[14] == "fifteen" and len(got) == 15
    assert changed_lines(git(root, "diff", "--cached")) == changed_lines(diff)


def test_outside_git_settings_do_not_leak(tmp_path, monkeypatch):
    """A git hook's GIT_DIR/GIT_INDEX_FILE, or a global config, must not reach the case repo."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text("[core]\n\thooksPath = /nonexistent\n[commit]\n\tgpgsign = true\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("GIT_INDEX_FILE", str(tmp_path / "index"))
    root = tmp_path / "case"
    materialize(NEW_FILE, root)  # a global commit.gpgsign=true would fail the commit
    assert (root / ".git/refs/heads/main").is_file() and not (tmp_path / "elsewhere").exists()
    assert not (tmp_path / "index").exists()


@pytest.mark.parametrize(("diff", "message"), [
    ("diff --git a/x.bin b/x.bin\nindex 1111111..2222222 100644\nBinary files a/x.bin and b/x.bin differ\n",
     "binary file"),
    ("--- a/../escape.py\n+++ b/../escape.py\n@@ -1 +1 @@\n-a\n+b\n", "unsafe path"),
    ("just some text\n", "malformed diff"),
])
def test_materialize_errors(tmp_path, diff, message):
    with pytest.raises(ReviewerError, match=message):
        materialize(diff, tmp_path / "case")
    assert not (tmp_path / "escape.py").exists()


# --------------------------------------------------------------------------- review_case / run_eval


def case(cid: str, diff: str, label: str = "clean", source: str = "T") -> dict[str, Any]:
    return {"id": cid, "source": source, "label": label, "category": "bug", "diff": diff}


def test_review_case_reads_the_materialized_files(tmp_path, fake_backend, config):
    """The review reads the rebuilt file: context around the hunk at the right numbers
    (lines the diff does not show are empty), the enclosing function's header above it."""
    body = [f"    x{i} = {i}" for i in range(1, 41)]
    body[9] = "def f(s):"
    diff = make_diff(tmp_path, {"m.py": lines(body)}, {"m.py": lines([*body[:30], "    y = eval(s)", *body[30:]])})
    assert "@@ -28,6 +28,7 @@ def f(s):" in diff
    result = review_case(case("c1", diff), eval_session(config, fake_backend, None), (config).min_confidence)
    assert set(result) == {"id", "findings", "seconds"} and result["seconds"] > 0
    assert ("m.py", 31, "security") in [(f["path"], f["line"], f["category"]) for f in result["findings"]]
    prompt = fake_backend.calls[-1][-1]["content"]
    assert "in `def f(s):`" in prompt and "  27 | def f(s):\n" in prompt  # the header, kept just above the hunk
    assert "  20 |\n" in prompt and "  28 |     x28 = 28\n" in prompt and "+ 31 |     y = eval(s)\n" in prompt


def test_section_headers_survive(tmp_path):
    body = [f"    x{i} = {i}" for i in range(1, 41)]
    body[4], body[19] = "class C:", "def g():"
    new = list(body)
    new[2], new[35] = "    changed = 1", "    changed = 2"
    diff = make_diff(tmp_path, {"m.py": lines(body)}, {"m.py": lines(new)})
    root = tmp_path / "case"
    materialize(diff, root)
    headers = [ln.split("@@")[-1] for ln in git(root, "diff", "--cached").splitlines() if ln.startswith("@@")]
    assert headers == [ln.split("@@")[-1] for ln in diff.splitlines() if ln.startswith("@@")] == ["", " def g():"]


def test_review_case_records_an_unreviewable_case(fake_backend, config):
    binary = "diff --git a/x.bin b/x.bin\nindex 1111111..2222222 100644\nBinary files a/x.bin and b/x.bin differ\n"
    result = review_case(case("bin", binary), eval_session(config, fake_backend, None), (config).min_confidence)
    assert result["findings"] == [] and "binary" in result["error"] and not fake_backend.calls


def test_run_eval_resumes(tmp_path, config, fake_backend):
    cases = [case(f"c{i}", NEW_FILE.replace("q.py", f"q{i}.py")) for i in range(3)]
    out = tmp_path / "results.jsonl"
    seen: list[str] = []
    first = run_eval(cases, config, out, lambda i, n, r: seen.append(r["id"]), backend=fake_backend)
    assert seen == ["c0", "c1", "c2"] and len(fake_backend.calls) == 3
    again = run_eval(cases, config, out, lambda i, n, r: seen.append(r["id"]), backend=fake_backend)
    assert seen == ["c0", "c1", "c2"] and len(fake_backend.calls) == 3  # nothing reviewed the second time
    assert again == first and len(out.read_text().splitlines()) == 3


def test_a_half_written_last_line_is_dropped_and_redone(tmp_path, config):
    cases = [case("c0", NEW_FILE), case("c1", NEW_FILE)]
    out = tmp_path / "results.jsonl"
    out.write_text(json.dumps({"id": "c0", "findings": [], "seconds": 1.0}) + '\n{"id": "c1", "find')
    results = run_eval(cases, config, out)
    assert [r["id"] for r in results] == ["c0", "c1"] and results[0]["seconds"] == 1.0
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["c0", "c1"]


def test_bad_results_line_names_file_and_line(tmp_path):
    out = tmp_path / "results.jsonl"
    out.write_text('{"id": "a", "findings": []}\nnot json\n')
    with pytest.raises(ReviewerError, match=r"results.jsonl line 2: not a JSON object"):
        read_results(out)


def test_worker_threads_share_the_cpus(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert worker_config(Config(), 3).threads == 2
    assert worker_config(Config(), 16).threads == 1
    assert worker_config(Config(threads=4), 3).threads == 4  # set by the user: kept
    assert worker_config(Config(backend="openai"), 3).threads is None
    assert worker_config(Config(), 1).threads is None


# --------------------------------------------------------------------------- scoring


def real_cases(tmp_path: Path) -> list[Path]:
    """A few real cases of each source, copied out of the read-only shared dir."""
    if not (EVAL / "cases").is_dir():
        pytest.skip("shared/eval is not here")
    copies = []
    for src in sorted((EVAL / "cases").glob("*.jsonl")):
        with src.open() as fh:
            head = [next(fh) for _ in range(6)]
        dst = tmp_path / src.name
        dst.write_text("".join(head))
        copies.append(dst)
    return copies


def test_score_agrees_with_the_reference_scorer(tmp_path):
    files = real_cases(tmp_path)
    cases = load_cases(files)
    results = []
    for n, c in enumerate(cases):
        expect = c.get("expect") or {"path": "x.py", "lines": [1], "scope": "line"}
        line = (expect["lines"] or [5])[0]
        variants = [  # hits, near misses and things that are not alarms
            {"path": expect["path"], "line": line + 3, "category": c["category"], "severity": "high"},
            {"path": expect["path"], "line": line + 4, "category": "bug", "severity": "medium"},
            {"path": "./" + expect["path"], "line": line, "end_line": line + 9, "category": "security", "severity": "medium"},
            {"path": expect["path"], "line": line, "category": "style", "severity": "high"},
            {"path": expect["path"], "line": line, "category": "bug", "severity": "low"},
            {"path": "other.py", "line": line, "category": "security", "severity": "high"},
        ]
        results.append({"id": c["id"], "findings": [variants[n % len(variants)]], "seconds": round(0.1 * (n % 7), 3)})
    results.append({"id": "not-a-case", "findings": [], "seconds": 99.0})
    out = tmp_path / "results.jsonl"
    write_jsonl(out, results)

    ref = subprocess.run([sys.executable, str(EVAL / "score.py"), *map(str, files), "--results", str(out)],
                         capture_output=True, text=True, check=True).stdout
    reference = {line.split(" ", 1)[0]: json.loads(line.split(" ", 1)[1]) for line in ref.splitlines()}
    ours = score({c["id"]: c for c in cases}, results)
    assert set(ours) == set(reference) and len(ours) == 5
    for source, s in ours.items():
        r = reference[source]
        assert (s.buggy, s.detected, s.clean, s.false_alarms) == (r["buggy"], r["detected"], r["clean"], r["false_alarms"])
        assert s.median_seconds == r["median_seconds"]
    assert 0 < ours["ALL"].detected < ours["ALL"].buggy and 0 < ours["ALL"].false_alarms < ours["ALL"].clean


# --------------------------------------------------------------------------- the command line


@pytest.fixture
def cases_file(tmp_path: Path) -> Path:
    path = tmp_path / "cases.jsonl"
    rows = [case(f"c{i}", NEW_FILE.replace("q.py", f"q{i}.py"), "buggy" if i % 2 else "clean") for i in range(4)]
    for row in rows:
        if row["label"] == "buggy":
            row["expect"] = {"path": f"app/q{row['id'][1:]}.py", "lines": [2], "scope": "line"}
    write_jsonl(path, rows)
    return path


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["eval", "--backend", "fake", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_eval_with_two_workers(tmp_path, cases_file, capsys):
    out = tmp_path / "r.jsonl"
    code, stdout, err = run_cli(capsys, str(cases_file), "--jobs", "2", "--out", str(out))
    assert code == 0, err
    ids = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert sorted(ids) == ["c0", "c1", "c2", "c3"]  # each once, in the order they finished
    assert "| T | 2 | 2 (100%) | 2 | 2 (100%) |" in stdout
    assert err.count("\n") == 4 and "[4/4]" in err
    code, _, err = run_cli(capsys, str(cases_file), "--jobs", "2", "--out", str(out))
    assert code == 0 and err == "" and len(out.read_text().splitlines()) == 4  # resumed: nothing left to do


def test_cli_limit(tmp_path, cases_file, capsys):
    out = tmp_path / "r.jsonl"
    assert run_cli(capsys, str(cases_file), "--limit", "1", "-q", "--out", str(out))[0] == 0
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["c0"]


@pytest.mark.parametrize(("args", "message"), [
    (["--jobs", "0"], "--jobs must be 1 or more"),
    (["--limit", "-1"], "--limit must be 1 or more"),
    (["--out", "{tmp}/no/such/dir/r.jsonl"], "directory {tmp}/no/such/dir does not exist"),
    (["--out", "{tmp}"], "is a directory"),
])
def test_cli_usage_errors(tmp_path, cases_file, capsys, args, message):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "r.jsonl")]
    code, _, err = run_cli(capsys, str(cases_file), *argv)
    assert code == 2 and err.count("\n") == 1 and message.replace("{tmp}", str(tmp_path)) in err


def test_cli_missing_or_bad_cases_file(tmp_path, cases_file, capsys):
    out = str(tmp_path / "r.jsonl")
    code, _, err = run_cli(capsys, str(tmp_path / "missing.jsonl"), "--out", out)
    assert code == 2 and err == f"reviewer: error: cases file {tmp_path / 'missing.jsonl'} not found\n"
    bad = tmp_path / "bad.jsonl"
    bad.write_text(cases_file.read_text().splitlines()[0] + "\n\n{oops\n")
    code, _, err = run_cli(capsys, str(bad), "--out", out)
    assert code == 2 and err.count("\n") == 1 and f"{bad} line 3: not a JSON object" in err
    bad.write_text('{"id": "x"}\n')
    code, _, err = run_cli(capsys, str(bad), "--out", out)
    assert code == 2 and f"{bad} line 1: the case has no label, diff" in err
    assert not Path(out).exists()


def test_cli_help_says_how_it_works(capsys):
    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "temporary git repository" in text and "resumes" in text and "shared/eval/score.py" in text
    assert "--jobs N" in text


def test_real_cases_materialize_and_review(tmp_path, config, fake_backend):
    """A couple of real cases of every source go through the whole pipeline without an error."""
    cases = load_cases(real_cases(tmp_path))[::3]
    results = run_eval(cases, config, tmp_path / "r.jsonl", backend=fake_backend)
    assert len(results) == len(cases) and not [r for r in results if r.get("error")]


def test_temp_repo_is_removed(tmp_path, fake_backend, config, monkeypatch):
    """Nothing piles up in the temp dir, whether the case is reviewed or refused."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)
    review_case(case("c", NEW_FILE), eval_session(config, fake_backend, None), (config).min_confidence)
    review_case(case("bad", "not a diff\n"), eval_session(config, fake_backend, None), (config).min_confidence)
    assert not list(tmp_path.glob("reviewer-eval-*"))


def test_cli_worker_failure_is_one_error_line(tmp_path, cases_file, capsys):
    """A backend that cannot start in the workers stops the run with its own message."""
    out = tmp_path / "r.jsonl"
    code, _, err = run_cli(capsys, str(cases_file), "--backend", "openai", "--jobs", "2", "--out", str(out))
    assert code == 2 and err.count("\n") == 1 and "needs --base-url" in err
    assert out.read_text() == ""


def test_findings_below_min_confidence_are_kept_aside_as_unsure(tmp_path, config):
    """Scored findings follow --min-confidence; the dropped ones stay in "unsure" so that
    bench/quality_curve.py can replay lower thresholds from the same run."""
    from reviewer.backends.fake import FakeBackend

    diff = make_diff(tmp_path, {"m.py": "def f(s):\n    return s\n"}, {"m.py": "def f(s):\n    return eval(s)\n"})
    sure = review_case(case("c", diff), eval_session(config.replace(min_confidence=0.8), FakeBackend(confidence=0.9), None), (config.replace(min_confidence=0.8)).min_confidence)
    unsure = review_case(case("c", diff), eval_session(config.replace(min_confidence=0.8), FakeBackend(confidence=0.7), None), (config.replace(min_confidence=0.8)).min_confidence)
    assert [f["confidence"] for f in sure["findings"]] == [0.9] and "unsure" not in sure
    assert unsure["findings"] == [] and [f["confidence"] for f in unsure["unsure"]] == [0.7]


def test_quality_curve_pools_sources_by_kind(tmp_path, capsys):
    """bench/quality_curve.py: per-source rows, then bugs/security pooled with counts,
    and a threshold drops only the model findings below it."""
    from bench import quality_curve as curve

    def row(cid: str, source: str, label: str, path: str = "a.py") -> dict[str, Any]:
        r = case(cid, "unused", label, source)
        if label == "buggy":
            r["expect"] = {"path": path, "lines": [5], "scope": "line"}
        return r

    cases = [row("q1", "QuixBugs", "buggy"), row("q2", "QuixBugs", "clean"),
             row("b1", "BugsInPy", "buggy"), row("b2", "BugsInPy", "clean"),
             row("s1", "SecurityEval", "buggy")]
    write_jsonl(tmp_path / "cases.jsonl", cases)

    def alarm(confidence: float | None) -> dict[str, Any]:
        return {"path": "a.py", "line": 5, "category": "bug", "severity": "high", "confidence": confidence}

    results = [{"id": "q1", "findings": [alarm(0.95)]}, {"id": "q2", "findings": [alarm(0.6)]},
               {"id": "b1", "findings": [], "unsure": [alarm(0.7)]}, {"id": "b2", "findings": []},
               {"id": "s1", "findings": [{**alarm(None), "category": "security"}]}]  # an analyzer's: no confidence
    write_jsonl(tmp_path / "results.jsonl", results)

    assert curve.main([str(tmp_path / "cases.jsonl"), "--results", str(tmp_path / "results.jsonl")]) == 0
    out = capsys.readouterr().out
    assert "| 0.00 | 100% (2/2) / 50% (1/2) | 100% (1/1) / - | 100% (3/3) / 50% (1/2) |" in out
    assert "| 0.85 | 50% (1/2) / 0% (0/2) | 100% (1/1) / - | 67% (2/3) / 0% (0/2) |" in out
    assert "| 0.95 | 50% (1/2) / 0% (0/2) |" in out and "| 0.00 | 100% (1/1) / 0% (0/1) |" in out


def test_results_for_reads_the_lines_of_known_cases_without_touching_the_file(tmp_path: Path) -> None:
    out = tmp_path / "results.jsonl"
    text = '{"id": "a", "findings": []}\n\n{"id": "other", "findings": []}\n{"id": "b", "findings": [1]}'  # no final newline
    out.write_text(text)
    assert results_for({"a": {}, "b": {}}, out) == [{"id": "a", "findings": []}, {"id": "b", "findings": [1]}]
    assert out.read_text() == text  # read_results would cut the unterminated last line: a replay must not
