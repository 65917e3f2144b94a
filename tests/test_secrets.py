"""Secrets: likely secrets in code sent to a remote model server (reviewer.secrets), and
platform/API tokens that must never show up in errors or reports.

The model server is a real HTTP server in this process that records what it receives
and answers like a model that repeats the code it was shown (one finding per added line,
message and suggestion = that line): whatever reaches the server comes back in the
report, so "not in the report" also means "not sent". The "is the server remote?"
decision is the pure function `remote_host`, tested on its own; the CLI tests point at a
server on 127.0.0.1 and patch that function, and one test binds the server to this
machine's non-loopback address (when it has one) to run the real decision end to end.

Secret values are assembled at run time, so this file itself holds no literal key.
"""

from __future__ import annotations

import difflib
import json
import re
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import test_ci_github as gh_tests
import test_ci_gitlab as gl_tests
from conftest import ROOT, git

import reviewer.secrets as secrets_mod
from reviewer.cli import main
from reviewer.config import Config, load_config
from reviewer.diff import DiffInput, parse_diff
from reviewer.errors import ReviewerError
from reviewer.secrets import SecretHit, find_secrets, redact, remote_host
from reviewer.types import DiffLine, Hunk, ParsedDiff

# --------------------------------------------------------------------------- fixtures: secrets and a diff

AWS_KEY = "AKIA" + "QX4TZ7RB2WLM9KPV"
GH_TOKEN = "ghp_" + "Zr8Lq2Vx7Nc4Tb1Wm6Ky3Hd9Fs5Jp0Ga2Ue8"
GH_OLD = "ghp_" + "Mw3Rt8Yp1Ks6Qz4Xn9Bv2Lc7Hj5Df0Ga8Te3"
PASSWORD = "Tr0ub4dor-and-3-horses"
KEY_BEGIN = "-----BEGIN " + "RSA PRIVATE KEY-----"
KEY_END = "-----END " + "RSA PRIVATE KEY-----"
KEY_BODY = ("MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun",
            "VTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK")
JWT = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." + "eyJzdWIiOiIxMjM0NTY3ODkwIn0."
       + "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U")
SECRETS = (AWS_KEY, GH_TOKEN, GH_OLD, PASSWORD, *KEY_BODY)

OLD = f'''import os

LEGACY_TOKEN = "{GH_OLD}"
AWS_ACCESS_KEY_ID = os.environ["AWS_ACCESS_KEY_ID"]


def connect(db):
    return db.connect(user="app")
'''
NEW = f'''import os

AWS_ACCESS_KEY_ID = "{AWS_KEY}"
GITHUB_TOKEN = "{GH_TOKEN}"
db_password = "{PASSWORD}"
DEPLOY_KEY = """
{KEY_BEGIN}
{KEY_BODY[0]}
{KEY_BODY[1]}
{KEY_END}
"""


def connect(db):
    return db.connect(user="app", password=db_password)
'''
PATH = "app/settings.py"
EXPECTED = {(PATH, None, "GitHub Token"), (PATH, 3, "AWS Access Key"), (PATH, 4, "GitHub Token"),
            (PATH, 5, "Secret Keyword"), (PATH, 7, "Private Key")}


def unified(path: str, old: str, new: str) -> str:
    lines = difflib.unified_diff(old.splitlines(), new.splitlines(), f"a/{path}", f"b/{path}", lineterm="")
    return "\n".join(lines) + "\n"


def parsed_diff(path: str = PATH, old: str = OLD, new: str = NEW, with_source: bool = True) -> ParsedDiff:
    """The diff parsed as `reviewer review` would, with the new file as its source."""
    source = new.splitlines()
    return parse_diff(DiffInput(unified(path, old, new), None, lambda p: source if with_source and p == path else None),
                      Config())


def all_text(parsed: ParsedDiff) -> str:
    """Every string of `parsed` the prompt or the analyzers could use."""
    parts: list[str] = []
    for h in parsed.hunks:
        parts += [h.section, *(t for _, t in h.context_before), *(ln.text for ln in h.lines),
                  *(t for _, t in h.context_after)]
    for lines in parsed.sources.values():
        parts += lines
    return "\n".join(parts)


def test_secret_values_are_what_the_plugins_match() -> None:
    """Guard the fixture: the values have the shapes the detectors look for."""
    assert re.fullmatch(r"AKIA[0-9A-Z]{16}", AWS_KEY)
    assert re.fullmatch(r"ghp_[A-Za-z0-9]{36}", GH_TOKEN) and re.fullmatch(r"ghp_[A-Za-z0-9]{36}", GH_OLD)


# --------------------------------------------------------------------------- find_secrets


def test_finds_each_secret_with_path_line_and_kind() -> None:
    hits = find_secrets(parsed_diff())
    assert {(h.path, h.line, h.kind) for h in hits} == EXPECTED
    by_line = {h.line: h.secret for h in hits}
    assert by_line[3] == AWS_KEY and by_line[5] == PASSWORD and by_line[None] == GH_OLD
    assert by_line[4] == GH_TOKEN  # the whole token, not the "ghp" prefix detect-secrets reports


def test_secret_in_the_extra_context_is_found() -> None:
    """Context read from the file beyond the diff is shown to the model too."""
    stripe = f'STRIPE = "{"sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"}"'
    filler = "\n".join(f"x{i} = {i}" for i in range(12))
    old = f"{filler}\n{stripe}\n"
    parsed = parsed_diff("app/pay.py", old, old.replace("x2 = 2", "x2 = 3"))
    assert any(text == stripe for h in parsed.hunks for _, text in h.context_after)  # not a diff line
    assert [(h.line, h.kind) for h in find_secrets(parsed)] == [(13, "Stripe Access Key")]


@pytest.mark.parametrize(("line", "kind", "token"), [
    (f'# the ghp token below: "{GH_TOKEN}"', "GitHub Token", GH_TOKEN),  # the prefix also appears elsewhere
    (f'JOB = "{"glcbt-" + "Xk2Pq7Rm4Tz9Wb3Lv8Nc"}"', "GitLab Token", "glcbt-" + "Xk2Pq7Rm4Tz9Wb3Lv8Nc"),
    (f'JWT = "{JWT}"', "JSON Web Token", JWT),  # the plugin's match stops before the signature
], ids=["github-prefix-seen-earlier", "gitlab-ci-build-token", "jwt-signature"])
def test_the_whole_token_is_the_value(line: str, kind: str, token: str) -> None:
    """detect-secrets reports a pattern's group (for these: a prefix, or nothing) or a short
    match; the value to mask must be the whole token."""
    parsed = parsed_diff("app/t.py", "\n", line + "\n")
    hits = find_secrets(parsed)
    assert [(h.kind, h.secret) for h in hits] == [(kind, token)]
    assert token not in all_text(redact(parsed, hits))


def test_config_files_use_the_unquoted_keyword_rules() -> None:
    old, new = "name: app\n", "name: app\ndatabase:\n  password: hunter2hunter2\n"
    hits = find_secrets(parsed_diff("config/app.yaml", old, new))
    assert [(h.line, h.kind, h.secret) for h in hits] == [(3, "Secret Keyword", "hunter2hunter2")]


def test_allowlist_pragma_and_references_are_not_hits() -> None:
    new = ('password = os.environ["DB_PASSWORD"]\n'
           'api_key = settings.API_KEY\n'
           f'test_password = "{PASSWORD}"  # pragma: allowlist secret\n')
    assert find_secrets(parsed_diff("app/x.py", "\n", new)) == []


# Ordinary code from this repository, including files about keys and tokens: the
# high-entropy plugins would flag its sha256 digests (reviewer/models.py) and fingerprints.
ORDINARY = ("reviewer/pipeline.py", "reviewer/models.py", "reviewer/backends/openai_http.py", "reviewer/ci/__init__.py")


def test_no_hits_on_ordinary_code() -> None:
    hunks = []
    total = 0
    for rel in ORDINARY:
        lines = (ROOT / rel).read_text(encoding="utf-8").splitlines()
        total += len(lines)
        hunks.append(Hunk(rel, rel, "python", 0, 0, 1, len(lines),
                          tuple(DiffLine("+", text, None, n) for n, text in enumerate(lines, 1))))
    assert total > 200
    assert find_secrets(ParsedDiff(tuple(hunks))) == []


def test_scanning_never_touches_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """detect-secrets can verify a key with its provider; that must stay off."""
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("network access while scanning")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    aws_pair = f'aws_access_key_id = "{AWS_KEY}"\naws_secret_access_key = "{"wJalrXUtnFEMI/K7MDENG/bPxRfi" + "CYzq4Lm9TzQk"}"\n'
    assert len(find_secrets(parsed_diff("deploy.py", "\n", aws_pair))) >= 2


def test_hit_repr_masks_the_value() -> None:
    hit = SecretHit("a.py", 3, "GitHub Token", GH_TOKEN)
    assert GH_TOKEN not in repr(hit) and GH_TOKEN not in str(hit) and hit.where == "a.py:3"


# --------------------------------------------------------------------------- redact


def test_redact_removes_every_value_everywhere_and_keeps_lines() -> None:
    parsed = parsed_diff()
    assert all(s in all_text(parsed) for s in SECRETS)
    clean = redact(parsed, find_secrets(parsed))
    text = all_text(clean)
    assert not [s for s in SECRETS if s in text]
    assert "<redacted:AWS Access Key>" in text and "<redacted:GitHub Token>" in text
    for before, after in zip(parsed.hunks, clean.hunks):
        assert [(ln.kind, ln.old_no, ln.new_no) for ln in before.lines] == [(ln.kind, ln.old_no, ln.new_no) for ln in after.lines]
        assert [n for n, _ in before.context_before] == [n for n, _ in after.context_before]
    key_lines = [ln.text for ln in clean.hunks[0].lines if ln.new_no in range(7, 11)]
    assert key_lines == ["<redacted:Private Key>"] * 4  # BEGIN to END, not only the header
    assert len(clean.sources[PATH]) == len(parsed.sources[PATH])


def test_redact_masks_a_key_block_on_one_line_and_across_split_parts() -> None:
    one_line = f'KEY = "{KEY_BEGIN}\\n{KEY_BODY[0]}\\n{KEY_END}\\n"'
    first = Hunk("k.py", "k.py", "python", 1, 0, 1, 3,
                 (DiffLine("+", one_line, None, 1), DiffLine("+", KEY_BEGIN, None, 2), DiffLine("+", KEY_BODY[0], None, 3)),
                 part=1, parts=2)
    second = Hunk("k.py", "k.py", "python", 4, 0, 4, 2,
                  (DiffLine("+", KEY_BODY[1], None, 4), DiffLine("+", KEY_END, None, 5)), part=2, parts=2)
    parsed = ParsedDiff((first, second))
    clean = redact(parsed, find_secrets(parsed))
    assert clean.hunks[0].lines[0].text == 'KEY = "<redacted:Private Key>\\n"'
    assert not [s for s in KEY_BODY if s in all_text(clean)]


# --------------------------------------------------------------------------- is the server remote?


@pytest.mark.parametrize(("url", "host"), [
    ("http://127.0.0.1:8080/v1", None),
    ("http://127.8.9.10:8080", None),
    ("http://localhost:8080/v1", None),
    ("http://LocalHost.:8080", None),
    ("http://[::1]:8080/v1", None),
    ("http://[::ffff:127.0.0.1]:8080", None),
    ("https://api.example.com/v1", "api.example.com"),
    ("http://192.168.1.20:8080/v1", "192.168.1.20"),
    ("http://0.0.0.0:8080", "0.0.0.0"),
    ("http://user:pw@10.0.0.2/v1", "10.0.0.2"),
    ("http://localhost.example.com", "localhost.example.com"),
    ("http://127.0.0.1.nip.io", "127.0.0.1.nip.io"),
])
def test_remote_host(url: str, host: str | None) -> None:
    assert remote_host(Config(backend="openai", base_url=url)) == host


def test_local_backends_are_never_remote() -> None:
    assert remote_host(Config(backend="llama", base_url="https://api.example.com/v1")) is None
    assert remote_host(Config(backend="fake", base_url="https://api.example.com/v1")) is None
    assert remote_host(Config(backend="openai", base_url=None)) is None


# --------------------------------------------------------------------------- the setting


def test_secrets_setting_from_file_env_and_flag(tmp_path: Path) -> None:
    assert load_config(tmp_path, {}, {}).secrets == "warn"
    (tmp_path / ".reviewer.toml").write_text('secrets = "block"\n')
    assert load_config(tmp_path, {}, {}).secrets == "block"
    assert load_config(tmp_path, {"REVIEWER_SECRETS": "redact"}, {}).secrets == "redact"
    assert load_config(tmp_path, {"REVIEWER_SECRETS": "redact"}, {"secrets": "ignore"}).secrets == "ignore"
    with pytest.raises(ReviewerError, match="secrets"):
        load_config(tmp_path, {"REVIEWER_SECRETS": "maybe"}, {})


# --------------------------------------------------------------------------- a model server that repeats the code

_ADDED = re.compile(r"^\+ +(\d+) \| (.*)$", re.MULTILINE)


class ModelServer(ThreadingHTTPServer):
    """An OpenAI-compatible server that records requests and answers with one finding per
    added line whose message quotes that line (as the model saw it) and whose suggestion
    is that line with a comment appended.
    `status` other than 200 answers an error whose body echoes the Authorization header."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        super().__init__((host, 0), _ModelHandler)
        self.daemon_threads = True
        self.requests: list[dict[str, Any]] = []
        self.status = 200
        self.url = f"http://{host}:{self.server_address[1]}/v1"

    def sent(self) -> str:
        return "\n".join(json.dumps(r) for r in self.requests)


class _ModelHandler(BaseHTTPRequestHandler):
    server: ModelServer

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        self.server.requests.append({"body": body, "authorization": self.headers.get("Authorization")})
        if self.server.status != 200:
            reply: dict[str, Any] = {"error": {"message": f"rejected credentials {self.headers.get('Authorization')}"}}
        else:
            prompt = body["messages"][-1]["content"]
            findings = [{"line": int(n), "category": "style", "severity": "low", "title": "Echo",
                         "message": f"The line reads: {code}", "suggestion": f"{code}  # reviewed"}
                        for n, code in _ADDED.findall(prompt)]
            content = json.dumps({"analysis": "echo", "findings": findings})
            reply = {"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}],
                     "usage": {"prompt_tokens": 10, "completion_tokens": 5}}
        raw = json.dumps(reply).encode()
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


@contextmanager
def serving(host: str) -> Iterator[ModelServer]:
    srv = ModelServer(host)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.fixture
def model_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModelServer]:
    for var in PROXY_VARS:  # the client must talk to the test server directly
        monkeypatch.delenv(var, raising=False)
    with serving("127.0.0.1") as srv:
        yield srv


@pytest.fixture
def repo(make_repo: Callable[[dict[str, str]], Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository whose staged change is OLD -> NEW, as the current directory."""
    path = make_repo({PATH: OLD})
    (path / PATH).write_text(NEW)
    git(path, "add", "-A")
    monkeypatch.chdir(path)
    return path


REMOTE = "models.example.com"


@pytest.fixture
def remote(monkeypatch: pytest.MonkeyPatch) -> None:
    """Treat the 127.0.0.1 test server as a server on another machine."""
    monkeypatch.setattr(secrets_mod, "remote_host", lambda config: REMOTE)


def review(capsys: pytest.CaptureFixture[str], srv: ModelServer, cache: Path, *extra: str,
           command: tuple[str, ...] = ("review",)) -> tuple[int, str, str]:
    code = main([*command, "--backend", "openai", "--base-url", srv.url, "--format", "json", "--fail-on", "never",
                 "--cache-dir", str(cache), *extra])
    out, err = capsys.readouterr()
    return code, out, err


def files_text(directory: Path) -> bytes:
    return b"".join(p.read_bytes() for p in directory.rglob("*") if p.is_file())


def leaked(*texts: str | bytes) -> list[str]:
    return [s for s in SECRETS for t in texts if (s.encode() if isinstance(t, bytes) else s) in t]


# --------------------------------------------------------------------------- the policy, end to end


def test_warn_names_kind_and_place_never_the_value(repo: Path, model_server: ModelServer, remote: None,
                                                   tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = review(capsys, model_server, tmp_path / "cache")
    assert code == 0
    lines = err.splitlines()
    assert sorted(lines) == sorted(
        f"reviewer: warning: possible secret ({kind}) at {PATH + (f':{line}' if line else ' (a removed line)')} "
        f"will be sent to {REMOTE}; use --secrets redact to mask it" for _, line, kind in EXPECTED)
    assert leaked(err) == []
    assert GH_TOKEN in model_server.sent()  # warn still sends: that is what the warning says


def test_redact_sends_and_reports_no_secret(repo: Path, model_server: ModelServer, remote: None,
                                            tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cache = tmp_path / "cache"
    code, out, err = review(capsys, model_server, cache, "--secrets", "redact")
    assert code == 0 and model_server.requests
    assert err == f"reviewer: masked 5 possible secrets before sending the code to {REMOTE} (--secrets redact)\n"
    messages = [m["content"] for r in model_server.requests for m in r["body"]["messages"]]
    assert leaked(*messages) == []
    assert any("<redacted:GitHub Token>" in m for m in messages)
    report = json.loads(out)
    echoed = [f for f in report["findings"] if f["title"] == "Echo"]
    assert any("<redacted:AWS Access Key>" in f["message"] for f in echoed)  # the server saw the placeholder
    # a suggestion with a placeholder is dropped: applying it would write "<redacted:...>" into the code
    assert all(f["suggestion"] is None or "<redacted:" not in f["suggestion"] for f in report["findings"])
    assert any(f["suggestion"] and f["suggestion"].endswith("# reviewed") for f in echoed)
    bandit = {f["line"]: f["title"] for f in report["findings"] if f["source"] == "bandit"}
    assert "<redacted:Secret Keyword>" in bandit[5]  # the analyzer read the redacted file (B105 quotes the value)
    assert leaked(out, err, files_text(cache)) == []


def test_block_is_one_line_exit_2_and_sends_nothing(repo: Path, model_server: ModelServer, remote: None,
                                                    tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = review(capsys, model_server, tmp_path / "cache", "--secrets", "block")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("reviewer: error: possible secret (") and "--secrets redact" in err and REMOTE in err
    assert model_server.requests == [] and leaked(err) == []


def test_block_in_a_fail_open_hook_still_blocks(repo: Path, model_server: ModelServer, remote: None,
                                                tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVIEWER_SECRETS", "block")
    code, _, err = review(capsys, model_server, tmp_path / "cache", command=("hook", "run"))
    assert code == 2 and "possible secret" in err and model_server.requests == []


def test_ignore_sends_without_a_word(repo: Path, model_server: ModelServer, remote: None,
                                     tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = review(capsys, model_server, tmp_path / "cache", "--secrets", "ignore")
    assert code == 0 and err == "" and AWS_KEY in model_server.sent()


def test_loopback_server_gets_no_warning(repo: Path, model_server: ModelServer, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """The real decision, unpatched: 127.0.0.1 is this machine, so nothing to warn about."""
    code, _, err = review(capsys, model_server, tmp_path / "cache", "--secrets", "block")
    assert code == 0 and err == "" and AWS_KEY in model_server.sent()


def _local_non_loopback_address() -> str | None:
    """This machine's own address on its default route (no packet is sent), if any."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1; a UDP connect only picks the route
            address = probe.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def test_non_loopback_address_of_this_machine_counts_as_remote(repo: Path, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """No patching: a server bound to this machine's LAN address is reached through a
    non-loopback URL, which is what a server on another machine looks like."""
    address = _local_non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    for var in PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
    try:
        server = serving(address)
        srv = server.__enter__()
    except OSError:
        pytest.skip(f"cannot listen on {address}")
    try:
        code, out, err = review(capsys, srv, tmp_path / "cache", "--secrets", "redact")
    finally:
        server.__exit__(None, None, None)
    assert code == 0 and err == f"reviewer: masked 5 possible secrets before sending the code to {address} (--secrets redact)\n"
    assert srv.requests and leaked(srv.sent(), out) == []


def test_review_parsed_reports_through_the_warn_callable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    from reviewer.session import review_parsed

    monkeypatch.setattr(secrets_mod, "remote_host", lambda config: REMOTE)
    seen: list[str] = []
    config = Config(backend="fake", cache_dir=tmp_path / "cache", analyzers=False)
    review_parsed(parsed_diff(), config, warn=seen.append)
    assert len(seen) == len(EXPECTED) and capsys.readouterr().err == ""


def test_run_tests_is_not_done_on_a_redacted_diff(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The sandbox would hold the masked code: no tests, and one line that says why."""
    from reviewer.session import review_parsed
    from reviewer.testgen.sandbox import TreeSpec

    monkeypatch.setattr(secrets_mod, "remote_host", lambda config: REMOTE)
    seen: list[str] = []
    config = Config(backend="fake", cache_dir=tmp_path / "cache", analyzers=False, secrets="redact", run_tests=True)
    review = review_parsed(parsed_diff(), config, warn=seen.append, tree=TreeSpec("files"))
    assert review.tests == ()
    expected = ("reviewer: warning: tests not run: the code sent to the model server was redacted (--secrets redact); "
                "use --secrets warn or a local model for --run-tests")
    assert [line for line in seen if "tests not run" in line] == [expected]


# --------------------------------------------------------------------------- tokens: never in errors or reports

API_KEY = "sk-reviewer-" + "Q7w2Ex9Rt4Yu"


@pytest.mark.parametrize("status", [401, 500])
def test_api_key_not_in_cli_errors_or_report(model_server: ModelServer, tmp_path: Path, status: int,
                                             capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A server that echoes the Authorization header in its error body (500 is retried: ~1.5 s)."""
    monkeypatch.setenv("REVIEWER_API_KEY", API_KEY)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "change.diff").write_text(unified("a.py", "x = 1\n", "x = 2\n"))
    target = tmp_path / "review.json"
    model_server.status = status
    code, out, err = review(capsys, model_server, tmp_path / "cache", "--diff", "change.diff", "-o", str(target))
    assert model_server.requests[0]["authorization"] == f"Bearer {API_KEY}"
    assert code == 2 and out == "" and err.count("\n") == 1 and f"HTTP {status}" in err
    assert API_KEY not in err and not target.exists()

    model_server.status = 200
    code, out, err = review(capsys, model_server, tmp_path / "cache", "--diff", "change.diff")
    assert code == 0 and json.loads(out)["findings"] and API_KEY not in out + err


# The stateful fake GitHub and GitLab servers are those of tests/test_ci_github.py and test_ci_gitlab.py.

def _start(srv: ThreadingHTTPServer) -> None:
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    """GitHub as in test_ci_github's `server` fixture (token, repository, event, no pacing)."""
    srv = gh_tests.GitHubServer()
    _start(srv)
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"number": gh_tests.PR, "pull_request": {"number": gh_tests.PR}}))
    for name, value in (("GITHUB_API_URL", srv.base), ("GITHUB_TOKEN", gh_tests.TOKEN),
                        ("GITHUB_REPOSITORY", gh_tests.OWNER_REPO), ("GITHUB_EVENT_PATH", str(event))):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    for name, value in (("PACE_REQUESTS", None), ("PACE_WRITES", None), ("RETRIES", 0)):
        monkeypatch.setattr(gh_tests.gh_mod, name, value)
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def gitlab(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """GitLab as in test_ci_gitlab's `server` fixture."""
    srv = gl_tests.GitLabServer()
    _start(srv)
    for name, value in (("CI_SERVER_URL", srv.base), ("GITLAB_TOKEN", gl_tests.TOKEN),
                        ("CI_PROJECT_ID", str(gl_tests.PROJECT)), ("CI_MERGE_REQUEST_IID", str(gl_tests.IID))):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("CI_JOB_TOKEN", raising=False)
    monkeypatch.setattr(gl_tests.gl_mod, "RETRY_TRANSIENT", False)
    yield srv
    srv.shutdown()
    srv.server_close()


def _echo_500(self: BaseHTTPRequestHandler, *args: Any) -> None:
    """A server error whose body repeats every credential header it was sent."""
    creds = {k: self.headers.get(k) for k in ("Authorization", "PRIVATE-TOKEN", "JOB-TOKEN")}
    body = json.dumps({"message": f"500 Internal Server Error; request had {creds}"}).encode()
    self.send_response(500)
    self.send_header("Content-Type", "application/json")
    self.send_header("Content-Length", str(len(body)))
    self.end_headers()
    self.wfile.write(body)


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def change(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A one-line change as a diff file in the current directory (the fake model flags it)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "change.diff").write_text(unified("app/users.py", "x = 1\n", "x = eval(input())\n"))
    return "change.diff"


def test_github_post_failure_prints_no_token_and_writes_no_report(github: Any, change: str, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The review runs (fake model), then posting it fails with a 500 that echoes the token."""
    monkeypatch.setenv("REVIEWER_API_KEY", API_KEY)
    monkeypatch.setattr(gh_tests.FakeGitHub, "_create_review", _echo_500)
    code, out, err = _cli(capsys, "ci", "github", "--diff", change, "--backend", "fake", "--format", "json",
                          "--fail-on", "never", "-o", "review.json")
    assert any(r["method"] == "POST" for r in github.requests)
    assert code == 2 and err.count("\n") == 1 and "HTTP 500" in err
    assert gh_tests.TOKEN not in out + err and API_KEY not in out + err
    assert not (tmp_path / "review.json").exists()


def test_github_json_report_has_no_token(github: Any, change: str, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVIEWER_API_KEY", API_KEY)
    code, out, err = _cli(capsys, "ci", "github", "--diff", change, "--backend", "fake", "--format", "json",
                          "--fail-on", "never")
    assert code == 0 and json.loads(out)["findings"]
    assert gh_tests.TOKEN not in out + err and API_KEY not in out + err


def test_model_server_failure_in_ci_prints_neither_token(github: Any, model_server: ModelServer, change: str,
                                                         capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVIEWER_API_KEY", API_KEY)
    model_server.status = 401
    code, out, err = _cli(capsys, "ci", "github", "--diff", change, "--backend", "openai", "--base-url",
                          model_server.url, "--format", "json")
    assert model_server.requests[0]["authorization"] == f"Bearer {API_KEY}"
    assert code == 2 and err.count("\n") == 1 and "HTTP 401" in err
    assert gh_tests.TOKEN not in out + err and API_KEY not in out + err


@pytest.mark.parametrize("which", ["GITLAB_TOKEN", "CI_JOB_TOKEN"])
@pytest.mark.parametrize("failure", ["401", "500"])
def test_gitlab_tokens_not_in_errors(gitlab: Any, change: str, tmp_path: Path, which: str, failure: str,
                                     capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    value = gl_tests.TOKEN if which == "GITLAB_TOKEN" else gl_tests.JOB_TOKEN
    if which == "CI_JOB_TOKEN":
        monkeypatch.delenv("GITLAB_TOKEN")
    argv = ("ci", "gitlab", "--diff", change, "--backend", "fake", "--format", "json", "--fail-on", "never",
            "-o", "review.json")
    if failure == "401":  # a wrong value: the fake server's 401 body echoes what it was sent
        monkeypatch.setenv(which, value + "-wrong")
    else:  # reading works, posting fails with a 500 that echoes the credential headers
        monkeypatch.setenv(which, value)
        monkeypatch.setattr(gl_tests.FakeGitLab, "do_POST", _echo_500)
    code, out, err = _cli(capsys, *argv)
    assert code == 2 and err.count("\n") == 1 and f"HTTP {failure}" in err
    assert value not in out + err and not (tmp_path / "review.json").exists()
    if failure == "500":
        assert any(r["method"] == "GET" for r in gitlab.requests)


def test_gitlab_json_report_has_no_token(gitlab: Any, change: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _cli(capsys, "ci", "gitlab", "--diff", change, "--backend", "fake", "--format", "json",
                          "--fail-on", "never")
    assert code == 0 and json.loads(out)["findings"] and gl_tests.TOKEN not in out + err


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__]))


# --------------------------------------------------------------------------- tui and tests: no redaction


@pytest.mark.parametrize("command", ["tests"])
def test_commands_that_cannot_redact_still_block_and_refuse_redact(
        command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`reviewer tests` sends whole functions: under block it stops before any request;
    redact is refused with a clear error instead of silently sending the secret."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "change.diff").write_text(unified(PATH, OLD, NEW))
    remote = ["--backend", "openai", "--base-url", "http://10.255.255.1:9/v1"]  # never contacted
    code, out, err = _cli(capsys, command, "--diff", "change.diff", *remote, "--secrets", "block")
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "would be sent to 10.255.255.1" in err
    assert not any(s in err for s in SECRETS)
    code, out, err = _cli(capsys, command, "--diff", "change.diff", *remote, "--secrets", "redact")
    assert (code, out) == (2, "")
    assert err == f"reviewer: error: --secrets redact is not supported by `reviewer {command}`; use `reviewer review`, or --secrets block or warn\n"
