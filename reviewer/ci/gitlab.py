"""`reviewer ci gitlab`: merge-request discussions on the changed lines, via python-gitlab.

Reads CI_SERVER_URL, CI_PROJECT_ID, CI_MERGE_REQUEST_IID and GITLAB_TOKEN (a project or
personal access token with `api` scope; else CI_JOB_TOKEN, sent as JOB-TOKEN, which
most GitLab versions do not let write notes). API calls made (under /api/v4):

  GET  /projects/:id/merge_requests/:iid              diff_refs (fails fast on a bad token)
  GET  /user                                          who we are (job tokens: unknown, all markers trusted)
  GET  /projects/:id/merge_requests/:iid/diffs        which new-side lines take comments
  GET  /projects/:id/merge_requests/:iid/discussions  earlier reviewer threads, replies in them, summaries
  GET  /projects/:id/members/all/:user_id             may the author of `reviewer dismiss` dismiss? (Developer+)
  POST /projects/:id/merge_requests/:iid/discussions  one thread per new finding (position on the new line)
  POST /projects/:id/merge_requests/:iid/notes        the summary, when there is something new
  PUT  .../discussions/:did/notes/:nid, .../discussions/:did?resolved=true   a finding gone or dismissed
  POST .../discussions/:did/notes                     "only maintainers can dismiss", once
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from reviewer.ci import explicit_source, report_and_exit, review_request, scrub
from reviewer.ci.comments import (
    Existing,
    Placement,
    Plan,
    comment_body,
    is_outdated,
    make_plan,
    mark_outdated,
    parse_patch,
    read_marker,
    read_summary,
    read_summary_state,
    right_side_from_hunks,
    summary_body,
)
from reviewer.ci.dismiss import (
    Dismissal,
    Outcome,
    Reply,
    Threads,
    decide,
    mark_dismissed,
    merge_state,
    read_refused,
    refusal_body,
    warn,
    without,
)
from reviewer.ci.incremental import Scope, full_review_request, scope, untouched
from reviewer.errors import ReviewerError
from reviewer.types import Review

DEFAULT_SERVER = "https://gitlab.com"
RETRY_TRANSIENT = True  # python-gitlab retries 5xx and 429 with backoff; tests turn it off
TIMEOUT = 30
DEVELOPER = 30  # the lowest project access level that may dismiss a finding


@contextmanager
def _api(what: str, secrets: tuple[str | None, ...]) -> Iterator[None]:
    """Turn python-gitlab / network failures into a one-line ReviewerError without the token."""
    from gitlab.exceptions import GitlabError

    try:
        yield
    except GitlabError as exc:
        code = exc.response_code
        hint = {401: "; check GITLAB_TOKEN", 403: "; the token lacks permission (a token with `api` scope in GITLAB_TOKEN?)",
                404: "; check the project and merge request, and that the token can see them"}.get(code or 0, "")
        raise ReviewerError(scrub(f"GitLab API: {what} failed: HTTP {code} {exc.error_message}{hint}", secrets)) from None
    except OSError as exc:  # requests' ConnectionError/Timeout
        raise ReviewerError(scrub(f"GitLab API: {what} failed: cannot reach the server ({type(exc).__name__})",
                                  secrets)) from None


class GitLabMR:
    """One merge request seen through python-gitlab."""

    def __init__(self, server: str, token: str | None, job_token: str | None, project: str, iid: int) -> None:
        import gitlab

        self.secrets = (token, job_token)
        self.iid = iid
        auth = {"private_token": token} if token else {"job_token": job_token}
        self.gl = gitlab.Gitlab(server.rstrip("/"), timeout=TIMEOUT, retry_transient_errors=RETRY_TRANSIENT, **auth)
        self.project = self.gl.projects.get(project, lazy=True)
        with _api(f"reading merge request !{iid}", self.secrets):
            self.mr = self.project.mergerequests.get(iid)
        refs = self.mr.attributes.get("diff_refs") or {}
        self.refs = {k: refs.get(k) for k in ("base_sha", "start_sha", "head_sha")}
        if not all(self.refs.values()):
            raise ReviewerError(f"merge request !{iid} has no diff yet (diff_refs missing); retry when GitLab has computed it")
        self.old_paths: dict[str, str] = {}
        self._writers: dict[int, bool | None] = {}

    def me(self) -> str | None:
        from gitlab.exceptions import GitlabError

        try:
            user = self.gl.http_get("/user")
        except (GitlabError, OSError):
            return None
        return str(user.get("username")) if isinstance(user, dict) and user.get("username") else None

    def right_side(self) -> dict[str, list[dict[int, int | None]]]:
        from gitlab.exceptions import GitlabError

        path = f"/projects/{self.project.encoded_id}/merge_requests/{self.iid}/diffs"
        with _api("listing the merge request's diffs", self.secrets):
            try:
                files: list[Any] = list(self.gl.http_list(path, get_all=True))
            except GitlabError as exc:
                if exc.response_code != 404:
                    raise
                changes = self.mr.changes()  # GitLab before 15.7
                files = list(changes.get("changes", [])) if isinstance(changes, dict) else []
        out: dict[str, list[dict[int, int | None]]] = {}
        for f in files:
            if isinstance(f, dict) and f.get("new_path") and not f.get("deleted_file"):
                out[f["new_path"]] = parse_patch(f.get("diff"))
                self.old_paths[f["new_path"]] = f.get("old_path") or f["new_path"]
        return out

    def existing(self) -> tuple[list[Existing], list[frozenset[str]], Threads]:
        """reviewer's threads and summaries (by marker, from its own account), the replies in
        those threads, the refusals already posted and the dismissals its summaries remember.

        With a job token reviewer cannot tell its own account: markers are trusted as before,
        but remembered dismissals are not read (each reply is checked again instead)."""
        me = self.me()

        def trusted(note: dict[str, Any]) -> bool:
            return me is None or (note.get("author") or {}).get("username") == me

        threads: list[Existing] = []
        summaries: list[frozenset[str]] = []
        bodies: list[tuple[str, str]] = []
        around = Threads()
        with _api("listing discussions", self.secrets):
            discussions = self.mr.discussions.list(get_all=True)
        for d in discussions:
            notes = d.attributes.get("notes") or []
            if notes and not trusted(notes[0]) and isinstance(notes[0], dict) and not notes[0].get("system"):
                self._request(notes[0], me, around)
            if not notes or not trusted(notes[0]):
                continue
            first = notes[0]
            body = str(first.get("body") or "")
            fp = read_marker(body)
            if fp is not None:
                position = first.get("position") or {}
                line = position.get("new_line") if isinstance(position, dict) else None
                threads.append(Existing(str(d.id), fp, body, is_outdated(body),
                                        {"note_id": first.get("id"), "resolved": bool(first.get("resolved"))},
                                        str(position.get("new_path") or "") or None if isinstance(position, dict) else None,
                                        line if isinstance(line, int) else None))
                self._replies(d.id, fp, notes[1:], me, around)
            elif (listed := read_summary(body)) is not None:
                summaries.append(listed)
                bodies.append((f"note {first.get('id')}", body))
                head, full = read_summary_state(body)
                if me is not None:  # under a job token anyone's note could claim a reviewed head
                    around.last_head = head or around.last_head  # listed oldest first: the newest wins
                    around.full_handled = max(around.full_handled, full)
        if me is not None:
            around.state = merge_state(bodies)
        else:  # a job token: anyone's note could claim to be ours; replies are checked again each run
            around.unsure = set(merge_state(bodies))
        return threads, summaries, around

    @staticmethod
    def _request(note: dict[str, Any], me: str | None, around: Threads) -> None:
        """A top-level note by someone else: it may ask for a full review (`reviewer review`)."""
        author = note.get("author") or {}
        if me is not None and isinstance(author.get("id"), int) and author.get("username"):
            around.requests.append(Reply(str(note.get("id")), "", "", str(note.get("body") or ""),
                                         str(author["username"]), author["id"], str(note.get("created_at") or "")[:40]))

    @staticmethod
    def _replies(did: str, fp: str, notes: list[Any], me: str | None, around: Threads) -> None:
        for note in notes:
            if not isinstance(note, dict) or note.get("system"):
                continue
            author = note.get("author") or {}
            body = str(note.get("body") or "")
            if (me is None or author.get("username") == me) and (refused := read_refused(body)) is not None:
                around.answered.add(refused)
            elif author.get("username") != me or me is None:
                if not isinstance(author.get("id"), int) or not author.get("username"):
                    warn(f"ignoring note {note.get('id')}: it has no author")
                    continue
                around.replies.append(Reply(str(note.get("id")), str(did), fp, body, str(author["username"]),
                                            author["id"], str(note.get("created_at") or "")[:40]))

    def can_write(self, reply: Reply) -> bool | None:
        """Whether the reply's author is a project member at Developer or above (None, after one warning, when unknown)."""
        from gitlab.exceptions import GitlabError

        uid = reply.user_id or 0
        if uid not in self._writers:
            try:
                level = self.project.members_all.get(uid).attributes.get("access_level")
                self._writers[uid] = isinstance(level, int) and level >= DEVELOPER
            except GitlabError as exc:
                self._writers[uid] = False if exc.response_code == 404 else None
                if exc.response_code != 404:
                    warn(scrub(f"cannot check whether {reply.login} may dismiss findings (HTTP {exc.response_code}); "
                               "their dismiss reply is not applied this run", self.secrets))
            except (OSError, KeyError, TypeError, ValueError, AttributeError) as exc:
                self._writers[uid] = None
                warn(scrub(f"cannot check whether {reply.login} may dismiss findings ({type(exc).__name__}); "
                           "their dismiss reply is not applied this run", self.secrets))
        return self._writers[uid]

    def dismiss(self, item: Existing, d: Dismissal) -> None:
        """Mark reviewer's thread dismissed and resolve it (best effort, warns)."""
        from gitlab.exceptions import GitlabError

        try:
            body = mark_dismissed(item.body, d)
            if body != item.body:
                self.mr.discussions.get(item.id, lazy=True).notes.update(str(item.extra["note_id"]), {"body": body})
            if not item.extra.get("resolved"):
                self.mr.discussions.update(item.id, {"resolved": True})
        except (GitlabError, OSError) as exc:
            code = getattr(exc, "response_code", type(exc).__name__)
            warn(scrub(f"could not resolve dismissed discussion {item.id} ({code})", self.secrets))

    def refuse(self, reply: Reply) -> None:
        """Answer a dismiss reply from someone below Developer, once (best effort, warns)."""
        from gitlab.exceptions import GitlabError

        try:
            self.mr.discussions.get(reply.parent, lazy=True).notes.create({"body": refusal_body(reply)})
        except (GitlabError, OSError, ValueError) as exc:
            code = getattr(exc, "response_code", type(exc).__name__)
            warn(scrub(f"could not answer note {reply.id} ({code})", self.secrets))

    def position(self, p: Placement) -> dict[str, Any]:
        pos: dict[str, Any] = {"position_type": "text", **self.refs, "new_path": p.finding.path,
                               "old_path": self.old_paths.get(p.finding.path, p.finding.path), "new_line": p.start}
        if p.old_line is not None:  # an unchanged line: GitLab wants both numbers
            pos["old_line"] = p.old_line
        return pos

    def create_thread(self, p: Placement) -> bool:
        """Post one finding; False when GitLab refuses the position (it then goes to the summary)."""
        from gitlab.exceptions import GitlabCreateError

        with _api("posting a discussion", self.secrets):
            try:
                self.mr.discussions.create({"body": comment_body(p, "gitlab"), "position": self.position(p)})
            except GitlabCreateError as exc:
                if exc.response_code in (400, 422):
                    return False
                raise
        return True

    def resolve(self, item: Existing) -> None:
        from gitlab.exceptions import GitlabError

        try:
            discussion = self.mr.discussions.get(item.id, lazy=True)
            discussion.notes.update(str(item.extra["note_id"]), {"body": mark_outdated(item.body)})
            if not item.extra.get("resolved"):
                self.mr.discussions.update(item.id, {"resolved": True})
        except (GitlabError, OSError) as exc:
            code = getattr(exc, "response_code", type(exc).__name__)
            print(scrub(f"reviewer: warning: could not resolve discussion {item.id} ({code})", self.secrets),
                  file=sys.stderr)

    def post_summary(self, body: str) -> None:
        with _api("posting the summary note", self.secrets):
            self.mr.notes.create({"body": body})


def run_gitlab(args: argparse.Namespace, cwd: Path, env: Mapping[str, str]) -> int:
    token = env.get("GITLAB_TOKEN") or None
    job_token = None if token else (env.get("CI_JOB_TOKEN") or None)
    project = args.project or env.get("CI_PROJECT_ID")
    iid = args.mr or _int(env.get("CI_MERGE_REQUEST_IID"))
    if not project:
        raise ReviewerError("which project? pass --project ID or set CI_PROJECT_ID")
    if not iid:
        raise ReviewerError("which merge request? pass --mr IID, or run in a merge_request_event pipeline (CI_MERGE_REQUEST_IID)")
    if not (token or job_token) and not args.dry_run:
        raise ReviewerError("GITLAB_TOKEN is not set; add a project access token with `api` scope as a masked "
                            "CI/CD variable, or use --dry-run")
    mr = GitLabMR(env.get("CI_SERVER_URL") or DEFAULT_SERVER, token, job_token, project, iid) if (token or job_token) else None
    if mr is not None:
        base_sha, head_sha = mr.refs["base_sha"], mr.refs["head_sha"]
    else:
        base_sha, head_sha = env.get("CI_MERGE_REQUEST_DIFF_BASE_SHA"), env.get("CI_COMMIT_SHA")
    default_range = f"{base_sha}...{head_sha}" if base_sha and head_sha else None

    existing, summaries, around = mr.existing() if mr else ([], [], Threads())
    # under a job token reviewer cannot tell its own summaries: no incremental state, no requests (existing())
    request = full_review_request([*around.replies, *around.requests], around.full_handled,
                                  mr.can_write) if mr else 0
    full = args.full_review or env.get("REVIEWER_FULL_REVIEW") == "true"
    sc = Scope(None) if explicit_source(args) else scope(cwd, around.last_head, head_sha, full, request)
    review, config = review_request(args, cwd, env, default_range, sc.ask_only)
    if review is None:
        print("reviewer: nothing to review: the merge request's diff is empty", file=sys.stderr)
        return 0
    right = mr.right_side() if mr else right_side_from_hunks(review.hunks)
    outcome = decide(around.replies, around.state, frozenset(around.answered), mr.can_write) if mr else Outcome((), ())
    dismissed = [*around.state.values(), *outcome.new]
    review = without(review, dismissed, "merge request")
    plan = make_plan(review, right, existing, summaries, dismissed, around.news(outcome), untouched(review, sc))
    # hunks the budget left are not reviewed: the next run must not take them for unchanged
    reviewed = around.last_head if review.stats.unreviewed else head_sha
    plan = dataclasses.replace(plan, head=reviewed, since=sc.since, post_summary=plan.post_summary or bool(request),
                               full_request=request or around.full_handled)
    if mr is not None and not args.dry_run:
        by_id = {e.id: e for e in existing}
        for d in outcome.new:
            mr.dismiss(by_id[outcome.parents[d.fingerprint]], d)
        for reply in outcome.refuse:
            mr.refuse(reply)
        plan = _post(mr, review, plan)
    planned = {"platform": "gitlab", "project": project, "merge_request": iid,
               "discussions": [{"body": comment_body(p, "gitlab"), "position": mr.position(p) if mr else
                                {"new_path": p.finding.path, "new_line": p.start, "old_line": p.old_line}}
                               for p in plan.inline],
               "summary": summary_body(review, plan, "gitlab") if plan.post_summary else None,
               "resolve": [{"discussion": e.id, "fingerprint": e.fingerprint} for e in plan.outdated],
               "dismiss": [{"fingerprint": d.fingerprint, "by": d.by, "reason": d.reason} for d in outcome.new],
               "refuse": [{"note": r.id, "by": r.login} for r in outcome.refuse]}
    return report_and_exit(args, review, config, planned)


def _post(mr: GitLabMR, review: Review, plan: Plan) -> Plan:
    """Post the plan; positions GitLab refuses move to the summary. Returns what was done."""
    for item in plan.outdated:
        mr.resolve(item)
    placed: list[Placement] = []
    refused: list[Placement] = []
    for p in plan.inline:
        (placed if mr.create_thread(p) else refused).append(p)
    if refused:
        print(f"reviewer: warning: GitLab refused {len(refused)} position(s); they are listed in the summary", file=sys.stderr)
        plan = dataclasses.replace(plan, inline=tuple(placed), off_diff=plan.off_diff + tuple(p.finding for p in refused),
                                   post_summary=True)
    if plan.post_summary:
        mr.post_summary(summary_body(review, plan, "gitlab"))
    else:
        print("reviewer: nothing new to post on the merge request", file=sys.stderr)
    return plan


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        raise ReviewerError(f"CI_MERGE_REQUEST_IID={value!r} is not a number") from None
