"""`reviewer ci gitlab` against a real HTTP server on 127.0.0.1 that plays the GitLab v4 API.

The server keeps the merge request's discussions, records every request and refuses
positions GitLab would refuse (a line off the diff, an unchanged line without old_line,
stale diff_refs). Reviews are built by hand, so no model runs.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

import reviewer.ci.gitlab as gl_mod
from reviewer.ci import dismiss as dm
from reviewer.ci.comments import OUTDATED_PREFIX, parse_patch
from reviewer.commands.ci import add_parser, run
from reviewer.errors import ReviewerError
from reviewer.types import Category, DiffLine, Finding, Hunk, ModelInfo, Review, Severity, Stats

TOKEN = "glpat-S3cr3tT0kenValue-xyz"
JOB_TOKEN = "glcbt-64_JobTokenValue123"
PROJECT = 42
IID = 3
REFS = {"base_sha": "a" * 40, "start_sha": "b" * 40, "head_sha": "c" * 40}
BOT = {"id": 9, "username": "project_42_bot", "name": "reviewer"}
HUMAN = {"id": 5, "username": "mallory", "name": "Mallory"}  # the merge request's author, a Reporter
MAINTAINER = {"id": 7, "username": "alice", "name": "Alice"}

USERS_DIFF = """\
@@ -8,5 +8,7 @@ import sqlite3
 
 
 def get_user(db, user_id):
-    cur = db.execute("SELECT * FROM users WHERE id = ?", (user_id,))
+    query = f"SELECT * FROM users WHERE id = {user_id}"
+    cur = db.execute(query)
+    row = cur.fetchone()
     return cur.fetchone()
"""


class FakeGitLab(BaseHTTPRequestHandler):
    server: GitLabServer

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, data: Any) -> None:
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self, method: str) -> None:
        s = self.server
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else {}
        url = urlsplit(self.path)
        body.update({k: v[0] for k, v in parse_qs(url.query).items() if k not in ("page", "per_page")})
        path = url.path
        s.requests.append({"method": method, "path": path, "body": body,
                           "token": self.headers.get("PRIVATE-TOKEN"), "job_token": self.headers.get("JOB-TOKEN")})
        if self.headers.get("PRIVATE-TOKEN") != TOKEN and self.headers.get("JOB-TOKEN") != JOB_TOKEN:
            return self._send(401, {"message": f"401 Unauthorized {self.headers.get('PRIVATE-TOKEN')}"})
        mr = f"/api/v4/projects/{PROJECT}/merge_requests/{IID}"
        if method == "GET" and path == "/api/v4/user":
            if self.headers.get("JOB-TOKEN"):
                return self._send(403, {"message": "403 Forbidden"})
            return self._send(200, {**BOT, "web_url": f"{s.base}/{BOT['username']}"})
        if method == "GET" and path == mr:
            return self._send(200, {"id": 1000, "iid": IID, "project_id": PROJECT, "target_branch": "main",
                                    "source_branch": "feature", "diff_refs": REFS, "state": "opened"})
        if method == "GET" and path == f"{mr}/diffs":
            return self._send(200, [{"old_path": p, "new_path": p, "diff": d, "new_file": False, "renamed_file": False,
                                     "deleted_file": False} for p, d in s.files.items()])
        if method == "GET" and path == f"{mr}/discussions":
            return self._send(200, s.discussions)
        if method == "POST" and path == f"{mr}/discussions":
            return self._create_discussion(body)
        m = re.fullmatch(rf"/api/v4/projects/{PROJECT}/members/all/(\d+)", path)
        if method == "GET" and m:
            level = s.members.get(int(m.group(1)))
            if level is None:
                return self._send(404, {"message": "404 Not found"})
            if level >= 100:
                return self._send(level, {"message": f"{level} error"})
            return self._send(200, {"id": int(m.group(1)), "access_level": level, "username": "someone"})
        m = re.fullmatch(rf"{mr}/discussions/(\w+)/notes", path)
        if method == "POST" and m:
            return self._send(201, s.add_note(m.group(1), body["body"], BOT))
        if method == "POST" and path == f"{mr}/notes":
            d = s.add_discussion(body["body"], BOT, None)
            return self._send(201, d["notes"][0])
        m = re.fullmatch(rf"{mr}/discussions/(\w+)/notes/(\d+)", path)
        if method == "PUT" and m:
            note = s.note(m.group(1), int(m.group(2)))
            if note is None:
                return self._send(404, {"message": "404 Not found"})
            note["body"] = body["body"]
            return self._send(200, note)
        m = re.fullmatch(rf"{mr}/discussions/(\w+)", path)
        if method == "PUT" and m:
            d = next((d for d in s.discussions if d["id"] == m.group(1)), None)
            if d is None:
                return self._send(404, {"message": "404 Not found"})
            for note in d["notes"]:
                note["resolved"] = str(body.get("resolved")).lower() == "true"
            return self._send(200, d)
        return self._send(404, {"message": f"404 Not found: {method} {path}"})

    def _create_discussion(self, body: dict[str, Any]) -> None:
        s = self.server
        pos = body.get("position") or {}
        hunks = parse_patch(s.files.get(pos.get("new_path")))
        hunk = next((h for h in hunks if pos.get("new_line") in h), None)
        ok = (pos.get("position_type") == "text" and all(pos.get(k) == v for k, v in REFS.items())
              and hunk is not None and pos.get("old_path") == pos.get("new_path") and not s.refuse_positions)
        if ok and hunk is not None:
            ok = hunk[pos["new_line"]] == pos.get("old_line")  # unchanged lines need both numbers, added lines only new
        if not ok:
            return self._send(400, {"message": {"line_code": ["can't be blank", "must be a valid line code"]}})
        d = s.add_discussion(body["body"], BOT, pos)
        self._send(201, d)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")


class GitLabServer(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), FakeGitLab)
        self.base = f"http://127.0.0.1:{self.server_address[1]}"
        self.requests: list[dict[str, Any]] = []
        self.discussions: list[dict[str, Any]] = []
        self.files = {"app/users.py": USERS_DIFF}
        self.refuse_positions = False
        self.members: dict[int, int] = {MAINTAINER["id"]: 40, HUMAN["id"]: 20, BOT["id"]: 40}  # >= 100: HTTP error

    def add_discussion(self, body: str, author: dict[str, Any], position: dict[str, Any] | None) -> dict[str, Any]:
        n = len(self.discussions)
        note = {"id": 500 + n, "body": body, "author": author, "system": False, "position": position,
                "resolvable": position is not None, "resolved": False}
        d = {"id": f"d{n:039x}", "individual_note": position is None, "notes": [note]}
        self.discussions.append(d)
        return d

    def add_note(self, did: str, body: str, author: dict[str, Any]) -> dict[str, Any]:
        d = next(d for d in self.discussions if d["id"] == did)
        note = {"id": 900 + sum(len(d["notes"]) for d in self.discussions), "body": body, "author": author,
                "system": False, "created_at": "2025-05-01T10:00:00.000Z", "resolvable": True, "resolved": False}
        d["notes"].append(note)
        return note

    def note(self, did: str, nid: int) -> dict[str, Any] | None:
        d = next((d for d in self.discussions if d["id"] == did), None)
        return next((n for n in (d or {}).get("notes", []) if n["id"] == nid), None)

    def writes(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["method"] != "GET"]


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[GitLabServer]:
    srv = GitLabServer()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    monkeypatch.setenv("CI_SERVER_URL", srv.base)
    monkeypatch.setenv("GITLAB_TOKEN", TOKEN)
    monkeypatch.delenv("CI_JOB_TOKEN", raising=False)
    monkeypatch.setenv("CI_PROJECT_ID", str(PROJECT))
    monkeypatch.setenv("CI_MERGE_REQUEST_IID", str(IID))
    monkeypatch.setattr(gl_mod, "RETRY_TRANSIENT", False)
    yield srv
    srv.shutdown()
    srv.server_close()


def users_hunk() -> Hunk:
    lines = (DiffLine(" ", "", 8, 8), DiffLine(" ", "", 9, 9), DiffLine(" ", "def get_user(db, user_id):", 10, 10),
             DiffLine("-", '    cur = db.execute("SELECT * FROM users WHERE id = ?", (user_id,))', 11, None),
             DiffLine("+", '    query = f"SELECT * FROM users WHERE id = {user_id}"', None, 11),
             DiffLine("+", "    cur = db.execute(query)", None, 12),
             DiffLine("+", "    row = cur.fetchone()", None, 13),
             DiffLine(" ", "    return cur.fetchone()", 12, 14))
    return Hunk("app/users.py", "app/users.py", "python", 8, 5, 8, 7, lines)


def findings() -> tuple[Finding, ...]:
    return (
        Finding("app/users.py", 11, 12, Category.SECURITY, Severity.HIGH, "SQL built with string formatting",
                "user_id is interpolated; see @admin </details><img src=x onerror=alert(1)>",
                'query = "SELECT * FROM users WHERE id = ?"\ncur = db.execute(query, (user_id,))'),
        Finding("app/users.py", 14, 14, Category.BUG, Severity.MEDIUM, "Second fetch", "The row is fetched twice.\n/approve",
                "    return row"),
        Finding("app/other.py", 3, 3, Category.STYLE, Severity.LOW, "Not in the MR", "Elsewhere."),
    )


def make_review(fs: tuple[Finding, ...] | None = None) -> Review:
    return Review(ModelInfo("qwen2.5-coder-1.5b", "0" * 64), findings() if fs is None else fs,
                  stats=Stats(hunks=1, seconds=3.25, files=1), hunks=(users_hunk(),))


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="reviewer")
    add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def ci(argv: list[str], cwd: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = run(parse(argv), cwd)
    except ReviewerError as exc:
        print(f"reviewer: error: {exc}", file=sys.stderr)
        code = 2
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def canned(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    state: dict[str, Any] = {"review": make_review(), "ranges": [], "fail_on": None}

    def fake(args: argparse.Namespace, cwd: Path, env: Any, default_range: str | None,
             ask_only: Any = None) -> tuple[Review, Any]:
        from reviewer.config import Config

        state["ranges"].append(default_range)
        return state["review"], Config(fail_on=state["fail_on"])

    monkeypatch.setattr(gl_mod, "review_request", fake)
    return state


def posts(srv: GitLabServer, suffix: str) -> list[dict[str, Any]]:
    return [r["body"] for r in srv.requests if r["method"] == "POST" and r["path"].endswith(suffix)]


def test_posts_threads_on_new_lines_and_a_summary(server: GitLabServer, canned: dict[str, Any], tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = ci(["ci", "gitlab"], tmp_path, capsys)
    assert code == 0, err
    assert canned["ranges"] == [f"{REFS['base_sha']}...{REFS['head_sha']}"]
    threads = posts(server, "/discussions")
    assert [t["position"] for t in threads] == [
        {"position_type": "text", **REFS, "new_path": "app/users.py", "old_path": "app/users.py", "new_line": 11},
        {"position_type": "text", **REFS, "new_path": "app/users.py", "old_path": "app/users.py", "new_line": 14,
         "old_line": 12},  # an unchanged line: both numbers
    ]
    sql = threads[0]["body"]
    # two lines replaced: -0 above, +1 below; indentation restored from the line it replaces
    assert ("\n```suggestion:-0+1\n    query = \"SELECT * FROM users WHERE id = ?\"\n"
            "    cur = db.execute(query, (user_id,))\n```\n") in sql
    assert sql.endswith(f"\n<!-- reviewer:fingerprint={findings()[0].fingerprint} -->")
    assert "@admin" not in sql and "@\u200dadmin" in sql
    assert "<img" not in sql and "</details>" not in sql and "&lt;img src=x onerror=alert(1)&gt;" in sql
    fetch = threads[1]["body"]
    assert "\n\u200d/approve" in fetch  # a quick action in model text must not run
    assert "```suggestion:-0+0\n    return row\n```" in fetch

    (summary,) = posts(server, "/notes")
    assert "Found 3 issues (1 high, 1 medium, 1 low) in 2 files" in summary["body"]
    assert "2 new inline threads." in summary["body"]
    assert "`app/other.py:3`" in summary["body"] and "Not in the MR" in summary["body"]
    assert summary["body"].endswith(f"<!-- reviewer:summary fingerprints={findings()[2].fingerprint} head={REFS['head_sha']} -->")
    assert all(r["token"] == TOKEN for r in server.requests)
    assert TOKEN not in out + err


def test_rerun_is_idempotent_and_resolves_gone_findings(server: GitLabServer, canned: dict[str, Any], tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    ci(["ci", "gitlab"], tmp_path, capsys)
    assert len(server.discussions) == 3  # two threads + the summary
    n = len(server.writes())
    code, _, err = ci(["ci", "gitlab"], tmp_path, capsys)
    assert code == 0 and len(server.writes()) == n and "nothing new to post" in err

    canned["review"] = make_review(findings()[:1] + findings()[2:])  # the double fetch is gone
    ci(["ci", "gitlab"], tmp_path, capsys)
    d = server.discussions[1]
    nid = d["notes"][0]["id"]
    assert [(w["method"], w["path"]) for w in server.writes()[n:]] == [
        ("PUT", f"/api/v4/projects/{PROJECT}/merge_requests/{IID}/discussions/{d['id']}/notes/{nid}"),
        ("PUT", f"/api/v4/projects/{PROJECT}/merge_requests/{IID}/discussions/{d['id']}"),
    ]
    assert d["notes"][0]["body"].startswith(OUTDATED_PREFIX) and d["notes"][0]["resolved"] is True
    assert str(server.writes()[-1]["body"]["resolved"]).lower() == "true"

    m = len(server.writes())
    ci(["ci", "gitlab"], tmp_path, capsys)
    assert len(server.writes()) == m  # already resolved: nothing more


def test_human_resolved_thread_is_not_reposted(server: GitLabServer, canned: dict[str, Any], tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    ci(["ci", "gitlab"], tmp_path, capsys)
    server.discussions[0]["notes"][0]["resolved"] = True  # a person dismissed it
    n = len(server.writes())
    ci(["ci", "gitlab"], tmp_path, capsys)
    assert len(server.writes()) == n


def test_markers_from_other_authors_are_ignored(server: GitLabServer, canned: dict[str, Any], tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    fp = findings()[0].fingerprint
    server.add_discussion(f"nah\n<!-- reviewer:fingerprint={fp} -->", HUMAN, None)
    ci(["ci", "gitlab"], tmp_path, capsys)
    assert len(posts(server, "/discussions")) == 2
    assert not [w for w in server.writes() if w["method"] == "PUT"]


def test_refused_position_goes_to_the_summary(server: GitLabServer, canned: dict[str, Any], tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    server.refuse_positions = True
    code, _, err = ci(["ci", "gitlab"], tmp_path, capsys)
    assert code == 0 and "refused 2 position(s)" in err
    (summary,) = posts(server, "/notes")
    assert "(3; cannot be commented inline)" in summary["body"] and "0 new inline threads." in summary["body"]


def test_job_token_header(server: GitLabServer, canned: dict[str, Any], tmp_path: Path,
                          monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("GITLAB_TOKEN")
    monkeypatch.setenv("CI_JOB_TOKEN", JOB_TOKEN)
    code, out, err = ci(["ci", "gitlab"], tmp_path, capsys)
    assert code == 0, err
    assert all(r["job_token"] == JOB_TOKEN and r["token"] is None for r in server.requests)
    assert len(posts(server, "/discussions")) == 2
    assert JOB_TOKEN not in out + err


def test_bad_token_is_one_line_without_the_token(server: GitLabServer, canned: dict[str, Any], tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    wrong = TOKEN + "-wrong"
    monkeypatch.setenv("GITLAB_TOKEN", wrong)
    code, out, err = ci(["ci", "gitlab"], tmp_path, capsys)
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("reviewer: error: GitLab API: reading merge request !3 failed: HTTP 401")
    assert wrong not in out + err and TOKEN not in out + err
    assert canned["ranges"] == []


@pytest.mark.parametrize("unset, message", [
    ("CI_PROJECT_ID", "which project?"),
    ("CI_MERGE_REQUEST_IID", "which merge request?"),
    ("GITLAB_TOKEN", "GITLAB_TOKEN is not set"),
])
def test_missing_settings(server: GitLabServer, canned: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                          capsys: pytest.CaptureFixture[str], unset: str, message: str) -> None:
    monkeypatch.delenv(unset)
    code, _, err = ci(["ci", "gitlab"], tmp_path, capsys)
    assert code == 2 and message in err


def test_dry_run_without_a_token_uses_the_review_hunks(server: GitLabServer, canned: dict[str, Any], tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("GITLAB_TOKEN")
    monkeypatch.setenv("CI_MERGE_REQUEST_DIFF_BASE_SHA", "1" * 40)
    monkeypatch.setenv("CI_COMMIT_SHA", "2" * 40)
    code, out, _ = ci(["ci", "gitlab", "--dry-run"], tmp_path, capsys)
    assert code == 0 and not server.requests
    plan = json.loads(out)
    assert [d["position"] for d in plan["discussions"]] == [
        {"new_path": "app/users.py", "new_line": 11, "old_line": None},
        {"new_path": "app/users.py", "new_line": 14, "old_line": 12}]
    assert canned["ranges"] == ["1" * 40 + "..." + "2" * 40]


# --------------------------------------------------------------------------- dismissing from the thread


def member_asks(srv: GitLabServer) -> list[int]:
    return [int(r["path"].rsplit("/", 1)[1]) for r in srv.requests if "/members/all/" in r["path"]]


def test_dismissal_from_a_maintainer_is_honoured(server: GitLabServer, canned: dict[str, Any], tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    canned["fail_on"] = Severity.HIGH
    code, _, _ = ci(["ci", "gitlab"], tmp_path, capsys)
    assert code == 1
    sql = server.discussions[0]
    server.add_note(sql["id"], "reviewer dismiss the id is validated upstream", MAINTAINER)
    code, out, err = ci(["ci", "gitlab"], tmp_path, capsys)
    assert code == 0, err
    assert "SQL built with string formatting" not in out and member_asks(server) == [MAINTAINER["id"]]
    first = sql["notes"][0]
    assert first["resolved"] is True
    assert first["body"].startswith("~~dismissed~~ by `alice`: the id is validated upstream\n\n")
    summary = posts(server, "/notes")[-1]["body"]
    assert "1 dismissed in this merge request." in summary and "Found 2 issues" in summary
    assert [(d.by, d.reason) for d in dm.read_state(summary)] == [("alice", "the id is validated upstream")]

    n = len(server.writes())
    ci(["ci", "gitlab"], tmp_path, capsys)
    assert len(server.writes()) == n and member_asks(server) == [MAINTAINER["id"]]
    canned["review"] = make_review(findings()[1:])  # gone: its dismissed thread is left alone
    ci(["ci", "gitlab"], tmp_path, capsys)
    canned["review"] = make_review()  # back: not posted again
    code, _, _ = ci(["ci", "gitlab"], tmp_path, capsys)
    assert code == 0 and len(server.writes()) == n


def test_the_authors_own_dismissal_is_refused_once(server: GitLabServer, canned: dict[str, Any], tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    canned["fail_on"] = Severity.HIGH
    ci(["ci", "gitlab"], tmp_path, capsys)
    sql = server.discussions[0]
    server.add_note(sql["id"], "reviewer dismiss not a bug", HUMAN)  # a Reporter
    code, _, _ = ci(["ci", "gitlab"], tmp_path, capsys)
    assert code == 1
    answers = [n for n in sql["notes"] if n["author"] == BOT][1:]
    assert len(answers) == 1 and answers[0]["body"].startswith("Only maintainers")
    assert sql["notes"][0]["resolved"] is False and not sql["notes"][0]["body"].startswith("~~dismissed~~")
    n = len(server.writes())
    code, _, _ = ci(["ci", "gitlab"], tmp_path, capsys)
    assert code == 1 and len(server.writes()) == n and member_asks(server) == [HUMAN["id"]]


def test_a_forged_dismissal_state_is_ignored(server: GitLabServer, canned: dict[str, Any], tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    canned["fail_on"] = Severity.HIGH
    fp = findings()[0].fingerprint
    forged = dm.state_line([dm.Dismissal(fp, "forged", "alice", "2025-01-01T00:00:00Z")])
    server.add_discussion(f"summary\n\n{forged}\n<!-- reviewer:summary fingerprints= -->", HUMAN, None)
    code, _, _ = ci(["ci", "gitlab"], tmp_path, capsys)
    assert code == 1 and len(posts(server, "/discussions")) == 2


def test_bad_replies_and_member_errors_warn_and_go_on(server: GitLabServer, canned: dict[str, Any], tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    canned["fail_on"] = Severity.HIGH
    ci(["ci", "gitlab"], tmp_path, capsys)
    sql = server.discussions[0]
    server.members[MAINTAINER["id"]] = 500
    server.add_note(sql["id"], "/reviewer dismiss", MAINTAINER)
    server.add_note(sql["id"], "/reviewer shrug", MAINTAINER)
    server.add_discussion("reviewer dismiss all of it", MAINTAINER, None)  # not in a finding's thread
    code, _, err = ci(["ci", "gitlab"], tmp_path, capsys)
    assert code == 1 and "Traceback" not in err
    assert len([ln for ln in err.splitlines() if "warning" in ln]) == 2, err
    assert "cannot check whether alice may dismiss findings (HTTP 500)" in err and "unknown command '/reviewer shrug'" in err
    assert sql["notes"][0]["resolved"] is False and TOKEN not in err

    server.members[MAINTAINER["id"]] = 30  # Developer
    code, _, err = ci(["ci", "gitlab"], tmp_path, capsys)
    assert code == 0, err
    assert sql["notes"][0]["body"].startswith("~~dismissed~~ by `alice`: (no reason given)")


def test_with_a_job_token_replies_are_checked_again_and_the_summary_is_not_repeated(
        server: GitLabServer, canned: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A job token cannot tell reviewer's own notes: remembered dismissals are not trusted, the reply is."""
    monkeypatch.delenv("GITLAB_TOKEN")
    monkeypatch.setenv("CI_JOB_TOKEN", JOB_TOKEN)
    canned["fail_on"] = Severity.HIGH
    ci(["ci", "gitlab"], tmp_path, capsys)
    server.add_note(server.discussions[0]["id"], "reviewer dismiss checked by hand", MAINTAINER)
    code, _, err = ci(["ci", "gitlab"], tmp_path, capsys)
    assert code == 0, err
    n, summaries = len(server.writes()), len(posts(server, "/notes"))
    code, _, err = ci(["ci", "gitlab"], tmp_path, capsys)
    assert code == 0 and len(server.writes()) == n and len(posts(server, "/notes")) == summaries == 2
    assert member_asks(server) == [MAINTAINER["id"]] * 2
