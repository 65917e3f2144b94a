"""`reviewer ci github`: one pull-request review (event COMMENT) with inline comments, via PyGithub.

Reads GITHUB_TOKEN, GITHUB_REPOSITORY, GITHUB_EVENT_PATH and GITHUB_API_URL (so GitHub
Enterprise, and tests on 127.0.0.1, work). API calls made:

  GET   /repos/{o}/{r}/pulls/{n}            base/head commits (fails fast on a bad token)
  GET   /user                               who we are (403 for Actions tokens: then bots are trusted)
  GET   /repos/{o}/{r}/pulls/{n}/files      the patches: which right-side lines take comments
  GET   /repos/{o}/{r}/pulls/{n}/comments   earlier reviewer comments (hidden markers) and replies to them
  GET   /repos/{o}/{r}/pulls/{n}/reviews    earlier reviewer summaries (and the dismissals they remember)
  GET   /repos/{o}/{r}/collaborators/{login}/permission   may the author of `/reviewer dismiss` dismiss?
  POST  /repos/{o}/{r}/pulls/{n}/reviews    the new review, when there is something new
  PATCH /repos/{o}/{r}/pulls/comments/{id}  mark a comment outdated (finding gone) or dismissed
  POST  /repos/{o}/{r}/pulls/{n}/comments/{id}/replies   "only maintainers can dismiss", once
  GET   /repos/{o}/{r}/issues/{n}/comments  `/reviewer review` (a full re-review) from a writer
  POST  /graphql                            reviewThreads, resolveReviewThread: resolve the thread of a
                                            dismissed or gone finding (not one a person resolved or answered)

The token is never printed: every API error is reduced to one scrubbed line.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from reviewer.ci import explicit_source, read_event, report_and_exit, review_request, scrub, write_step_summary
from reviewer.ci.comments import (
    Existing,
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

DEFAULT_API_URL = "https://api.github.com"
# PyGithub's pacing between requests / writes (GitHub asks integrations to space writes); tests set None.
PACE_REQUESTS: float | None = 0.25
PACE_WRITES: float | None = 1.0
RETRIES = 3
TIMEOUT = 30
WRITERS = ("admin", "maintain", "write")  # collaborator permissions that may dismiss a finding
THREADS_QUERY = """query($owner: String!, $name: String!, $number: Int!, $after: String) {
  repository(owner: $owner, name: $name) { pullRequest(number: $number) {
    reviewThreads(first: 100, after: $after) { pageInfo { hasNextPage endCursor }
      nodes { id isResolved comments(first: 1) { nodes { databaseId } } } } } } }"""
RESOLVE_MUTATION = "mutation($id: ID!) { resolveReviewThread(input: {threadId: $id}) { thread { id isResolved } } }"


@contextmanager
def _api(what: str, token: str | None) -> Iterator[None]:
    """Turn PyGithub / network failures into a one-line ReviewerError without the token."""
    from github import GithubException

    try:
        yield
    except GithubException as exc:
        data = exc.data if isinstance(exc.data, dict) else {}
        detail = str(data.get("message") or "")
        errors = data.get("errors")
        if errors:
            detail += f" ({json.dumps(errors)[:200]})"
        hint = {401: "; check GITHUB_TOKEN", 403: "; the token lacks permission (pull-requests: write?)",
                404: "; check --repo/--pr and that the token can see the repository"}.get(exc.status, "")
        raise ReviewerError(scrub(f"GitHub API: {what} failed: HTTP {exc.status} {detail}{hint}", (token,))) from None
    except OSError as exc:  # requests' ConnectionError/Timeout are OSErrors
        raise ReviewerError(scrub(f"GitHub API: {what} failed: cannot reach the server ({type(exc).__name__})",
                                  (token,))) from None


def _raw(obj: Any) -> dict[str, Any]:
    """The JSON PyGithub got for a listed object. Read directly: touching an attribute the
    listing left out (GitHub omits `in_reply_to_id` on top-level comments) makes PyGithub
    fetch the object again, one request per comment."""
    raw = getattr(obj, "_rawData", None)
    return raw if isinstance(raw, dict) else {}


class GitHubPR:
    """One pull request seen through PyGithub."""

    def __init__(self, api_url: str, token: str, repo: str, number: int) -> None:
        from github import Auth, Github, GithubRetry

        self.token = token
        self.number = number
        self.repo_name = repo
        self.gh = Github(auth=Auth.Token(token), base_url=api_url.rstrip("/"), timeout=TIMEOUT,
                         retry=GithubRetry(total=RETRIES) if RETRIES else None,
                         seconds_between_requests=PACE_REQUESTS, seconds_between_writes=PACE_WRITES, lazy=True)
        self.repo = self.gh.get_repo(repo)
        self._writers: dict[str, bool | None] = {}
        self._thread_ids: dict[int, tuple[str, bool]] | None = None
        self._answered: set[str] = set()  # our comments a person replied to: their threads stay open
        with _api(f"reading pull request #{number}", token):
            self.pull = self.repo.get_pull(number)
            self.base_sha = self.pull.base.sha
            self.head_sha = self.pull.head.sha
            head_repo = self.pull.head.repo
            self.is_fork = head_repo is not None and head_repo.full_name != self.pull.base.repo.full_name

    def me(self) -> str | None:
        """Our login, or None where the token cannot ask (GITHUB_TOKEN in Actions answers 403)."""
        from github import GithubException

        try:
            return str(self.gh.get_user().login)
        except (GithubException, OSError):
            return None

    def right_side(self) -> dict[str, list[dict[int, int | None]]]:
        with _api("listing the pull request's files", self.token):
            return {f.filename: parse_patch(f.patch) for f in self.pull.get_files() if f.patch}

    def existing(self) -> tuple[list[Existing], list[frozenset[str]], Threads]:
        """reviewer's earlier inline comments and summaries (by marker, from trusted authors),
        and around them the replies, the refusals already posted and the remembered dismissals."""
        me = self.me()

        def trusted(raw: dict[str, Any]) -> bool:
            user = raw.get("user") or {}
            return user.get("type") == "Bot" or (me is not None and user.get("login") == me)

        comments: list[Existing] = []
        summaries: list[frozenset[str]] = []
        replies: list[dict[str, Any]] = []
        threads = Threads()
        with _api("listing review comments", self.token):
            for c in self.pull.get_review_comments():
                raw = _raw(c)
                body = str(raw.get("body") or "")
                fp = read_marker(body)
                if raw.get("in_reply_to_id"):
                    if not trusted(raw):
                        replies.append(raw)
                    elif (refused := read_refused(body)) is not None:
                        threads.answered.add(refused)
                elif fp and trusted(raw):
                    line = raw.get("line")
                    comments.append(Existing(str(raw.get("id")), fp, body, is_outdated(body), {"comment": c},
                                             str(raw.get("path") or "") or None, line if isinstance(line, int) else None))
        bodies: list[tuple[str, str]] = []
        with _api("listing reviews", self.token):
            for r in self.pull.get_reviews():
                raw = _raw(r)
                listed = read_summary(raw.get("body"))
                if listed is not None and trusted(raw):
                    summaries.append(listed)
                    bodies.append((f"review {raw.get('id')}", str(raw.get("body"))))
                    head, full = read_summary_state(raw.get("body"))
                    threads.last_head = head or threads.last_head  # listed oldest first: the newest wins
                    threads.full_handled = max(threads.full_handled, full)
        with _api("listing pull request comments", self.token):
            for c in self.pull.get_issue_comments():
                raw = _raw(c)
                login = (raw.get("user") or {}).get("login")
                if not trusted(raw) and isinstance(login, str) and login:
                    threads.requests.append(Reply(str(raw.get("id")), "", "", str(raw.get("body") or ""), login,
                                                  None, str(raw.get("created_at") or "")[:40]))
        threads.state = merge_state(bodies)
        ours = {e.id: e.fingerprint for e in comments}
        for raw in replies:
            parent = str(raw.get("in_reply_to_id"))
            login = (raw.get("user") or {}).get("login")
            if parent not in ours:
                continue  # a reply to someone else's comment
            self._answered.add(parent)
            if not isinstance(login, str) or not login:
                warn(f"ignoring reply {raw.get('id')}: it has no author")
                continue
            threads.replies.append(Reply(str(raw.get("id")), parent, ours[parent], str(raw.get("body") or ""), login,
                                         None, str(raw.get("created_at") or "")[:40]))
        return comments, summaries, threads

    def can_write(self, reply: Reply) -> bool | None:
        """Whether the reply's author has write access (None, after one warning, when GitHub cannot say)."""
        from github import GithubException

        if reply.login not in self._writers:
            try:
                permission = self.repo.get_collaborator_permission(reply.login)
                self._writers[reply.login] = permission in WRITERS
            except GithubException as exc:
                self._writers[reply.login] = False if exc.status == 404 else None
                if exc.status != 404:
                    warn(scrub(f"cannot check whether {reply.login} may dismiss findings (HTTP {exc.status}); "
                               "their /reviewer dismiss is not applied this run", (self.token,)))
            except (OSError, KeyError, TypeError, ValueError) as exc:
                self._writers[reply.login] = None
                warn(scrub(f"cannot check whether {reply.login} may dismiss findings ({type(exc).__name__}); "
                           "their /reviewer dismiss is not applied this run", (self.token,)))
        return self._writers[reply.login]

    def dismiss(self, item: Existing, d: Dismissal) -> None:
        """Mark reviewer's comment dismissed and resolve its review thread (best effort, warns)."""
        from github import GithubException

        try:
            body = mark_dismissed(item.body, d)
            if body != item.body:
                item.extra["comment"].edit(body)  # type: ignore[attr-defined]
            thread = self._threads().get(int(item.id))
            if thread is None:
                warn(f"could not find the review thread of comment {item.id} to resolve it")
            elif not thread[1]:
                self.gh.requester.graphql_query(RESOLVE_MUTATION, {"id": thread[0]})
        except (GithubException, OSError, KeyError, TypeError, ValueError) as exc:
            status = getattr(exc, "status", type(exc).__name__)
            warn(scrub(f"could not resolve the thread of dismissed comment {item.id} ({status})", (self.token,)))

    def _threads(self) -> dict[int, tuple[str, bool]]:
        """First comment's id -> (review thread id, resolved?), from GraphQL (PyGithub has no REST for it)."""
        if self._thread_ids is None:
            owner, name = self.repo_name.split("/", 1)
            found: dict[int, tuple[str, bool]] = {}
            after: str | None = None
            while True:
                _, data = self.gh.requester.graphql_query(
                    THREADS_QUERY, {"owner": owner, "name": name, "number": self.number, "after": after})
                page = data["data"]["repository"]["pullRequest"]["reviewThreads"]
                for node in page["nodes"]:
                    first = node["comments"]["nodes"]
                    if first and isinstance(first[0].get("databaseId"), int):
                        found[first[0]["databaseId"]] = (str(node["id"]), bool(node["isResolved"]))
                if not page["pageInfo"]["hasNextPage"]:
                    break
                after = page["pageInfo"]["endCursor"]
            self._thread_ids = found
        return self._thread_ids

    def refuse(self, reply: Reply) -> None:
        """Answer a dismiss reply from someone without write access, once (best effort, warns)."""
        from github import GithubException

        try:
            self.pull.create_review_comment_reply(int(reply.parent), refusal_body(reply))
        except (GithubException, OSError, ValueError) as exc:
            status = getattr(exc, "status", type(exc).__name__)
            warn(scrub(f"could not answer reply {reply.id} ({status})", (self.token,)))

    def post_review(self, payload: dict[str, Any]) -> None:
        with _api("posting the review", self.token):
            self.pull.create_review(commit=self.repo.get_commit(payload["commit_id"]), body=payload["body"],
                                    event=payload["event"], comments=payload["comments"])

    def mark_outdated(self, item: Existing) -> bool:
        """Mark a gone finding's comment outdated and resolve its thread, unless a person resolved it or answered."""
        from github import GithubException

        try:
            thread = self._threads().get(int(item.id))
            if thread is not None and thread[1]:
                return False  # resolved by a person: theirs
            item.extra["comment"].edit(mark_outdated(item.body))  # type: ignore[attr-defined]
            if thread is not None and item.id not in self._answered:
                self.gh.requester.graphql_query(RESOLVE_MUTATION, {"id": thread[0]})
            return True
        except (GithubException, OSError, KeyError, TypeError, ValueError) as exc:
            status = getattr(exc, "status", type(exc).__name__)
            print(scrub(f"reviewer: warning: could not mark comment {item.id} outdated ({status})", (self.token,)),
                  file=sys.stderr)
            return False


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def review_payload(review: Review, plan: Plan, commit_id: str | None) -> dict[str, Any]:
    """The body of POST /pulls/{n}/reviews."""
    comments: list[dict[str, Any]] = []
    for p in plan.inline:
        c: dict[str, Any] = {"path": p.finding.path, "body": comment_body(p, "github"), "side": "RIGHT", "line": p.end}
        if p.start != p.end:
            c.update(start_line=p.start, start_side="RIGHT")
        comments.append(c)
    return {"commit_id": commit_id, "event": "COMMENT", "body": summary_body(review, plan, "github"), "comments": comments}


def run_github(args: argparse.Namespace, cwd: Path, env: Mapping[str, str]) -> int:
    token = env.get("GITHUB_TOKEN") or None
    event = read_event(env)
    pr_event = _dict(event.get("pull_request"))
    repo = args.repo or env.get("GITHUB_REPOSITORY")
    number = args.pr or pr_event.get("number") or event.get("number")
    if not repo or "/" not in repo:
        raise ReviewerError("which repository? pass --repo OWNER/NAME or set GITHUB_REPOSITORY")
    if not isinstance(number, int) or number <= 0:
        raise ReviewerError("which pull request? pass --pr N, or run on a pull_request event (GITHUB_EVENT_PATH)")
    if token is None and not args.dry_run:
        raise ReviewerError("GITHUB_TOKEN is not set; pass it to the step (env: GITHUB_TOKEN: ${{ github.token }}) "
                            "or use --dry-run")
    base_sha = _dict(pr_event.get("base")).get("sha")
    head_sha = _dict(pr_event.get("head")).get("sha")
    pr = GitHubPR(env.get("GITHUB_API_URL") or DEFAULT_API_URL, token, repo, number) if token else None
    if pr is not None:
        base_sha, head_sha = base_sha or pr.base_sha, head_sha or pr.head_sha
    default_range = f"{base_sha}...{head_sha}" if base_sha and head_sha else None

    existing, summaries, threads = pr.existing() if pr else ([], [], Threads())
    request = full_review_request([*threads.replies, *threads.requests], threads.full_handled,
                                  pr.can_write) if pr else 0
    full = args.full_review or env.get("REVIEWER_FULL_REVIEW") == "true"
    sc = Scope(None) if explicit_source(args) else scope(cwd, threads.last_head, head_sha, full, request)
    review, config = review_request(args, cwd, env, default_range, sc.ask_only)
    if review is None:
        print("reviewer: nothing to review: the pull request's diff is empty", file=sys.stderr)
        return 0
    right = pr.right_side() if pr else right_side_from_hunks(review.hunks)
    outcome = decide(threads.replies, threads.state, frozenset(threads.answered), pr.can_write) if pr else Outcome((), ())
    dismissed = [*threads.state.values(), *outcome.new]
    review = without(review, dismissed, "pull request")
    plan = make_plan(review, right, existing, summaries, dismissed, threads.news(outcome), untouched(review, sc))
    reviewed = threads.last_head if review.stats.unreviewed else head_sha  # budget-left hunks are not "unchanged"
    plan = dataclasses.replace(plan, head=reviewed, since=sc.since, post_summary=plan.post_summary or bool(request),
                               full_request=request or threads.full_handled)
    payload = review_payload(review, plan, head_sha) if plan.post_summary else None
    planned = {"platform": "github", "repo": repo, "pull": number, "review": payload,
               "outdated": [{"id": e.id, "fingerprint": e.fingerprint} for e in plan.outdated],
               "dismiss": [{"fingerprint": d.fingerprint, "by": d.by, "reason": d.reason} for d in outcome.new],
               "refuse": [{"reply": r.id, "by": r.login} for r in outcome.refuse]}
    if pr is not None and not args.dry_run:
        _dismiss(pr, existing, outcome)
        _post(pr, review, plan, payload, existing, summaries)
    write_step_summary(env, summary_body(review, plan, "github"))
    return report_and_exit(args, review, config, planned)


def _dismiss(pr: GitHubPR, existing: list[Existing], outcome: Outcome) -> None:
    by_id = {e.id: e for e in existing}
    for d in outcome.new:
        pr.dismiss(by_id[outcome.parents[d.fingerprint]], d)
    for reply in outcome.refuse:
        pr.refuse(reply)


def _post(pr: GitHubPR, review: Review, plan: Plan, payload: dict[str, Any] | None,
          existing: list[Existing], summaries: list[frozenset[str]]) -> None:
    for item in plan.outdated:
        pr.mark_outdated(item)
    if payload is None:
        print("reviewer: nothing new to post on the pull request", file=sys.stderr)
        return
    try:
        pr.post_review(payload)
    except ReviewerError as exc:
        cause = str(exc)
        if " HTTP 403 " in cause and pr.is_fork:
            print("reviewer: warning: cannot comment on a pull request from a fork with a read-only token; "
                  "the findings are in the job log and summary", file=sys.stderr)
            return
        if " HTTP 422 " in cause and payload["comments"]:
            # GitHub refused a position (the PR moved on since the review?): post the findings in the body
            print("reviewer: warning: GitHub refused the inline comments; posting them in the summary", file=sys.stderr)
            fallback = dataclasses.replace(make_plan(review, {}, existing, summaries, plan.dismissed, plan.post_summary),
                                           head=plan.head, since=plan.since, full_request=plan.full_request)
            retry = review_payload(review, fallback, payload["commit_id"])
            pr.post_review(retry)
            return
        raise
