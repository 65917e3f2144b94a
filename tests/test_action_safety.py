"""The CI configuration we ship and document does not run untrusted pull-request code with
write tokens, and does not paste untrusted text into shell scripts.

Parsed with PyYAML: action.yml (and the example workflow in its header comment),
ci/gitlab-ci.yml, every ```yaml block of README.md and docs/*.md, and .github/workflows/*
when there is one. Each check is also run on a deliberately bad example, so a check that
can no longer see anything fails instead of passing on nothing.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT

ACTION = ROOT / "action.yml"
GITLAB_TEMPLATE = ROOT / "ci" / "gitlab-ci.yml"
MINIMAL_PERMISSIONS = {"contents": "read", "pull-requests": "write"}
EXPRESSION = re.compile(r"\$\{\{.*?\}\}", re.DOTALL)
CHECKOUT = re.compile(r"^actions/checkout@")
# A checkout ref that names the pull request's own code (what pull_request_target must never check out).
PR_HEAD = re.compile(r"github\.event\.pull_request\.head\.|github\.head_ref|refs/pull/")


# --------------------------------------------------------------------------- collecting the examples


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def fenced_yaml(path: Path) -> Iterator[tuple[str, Any]]:
    """(label, parsed) for each ```yaml block of a markdown file."""
    text = path.read_text(encoding="utf-8")
    for m in re.finditer(r"^```ya?ml\n(.*?)^```", text, re.MULTILINE | re.DOTALL):
        line = text.count("\n", 0, m.start()) + 1
        yield f"{path.relative_to(ROOT)}:{line}", yaml.safe_load(textwrap.dedent(m.group(1)))


def action_header_example() -> Any:
    """The example workflow in action.yml's header comment (its `#   ` lines)."""
    lines = [ln[1:] for ln in ACTION.read_text(encoding="utf-8").splitlines() if ln.startswith("#   ")]
    return yaml.safe_load(textwrap.dedent("\n".join(lines)))


def is_workflow(doc: Any) -> bool:
    # PyYAML reads the key `on` as the boolean True (YAML 1.1)
    return isinstance(doc, dict) and "jobs" in doc and ("on" in doc or True in doc)


def is_step_list(doc: Any) -> bool:
    return isinstance(doc, list) and bool(doc) and all(isinstance(s, dict) and ("run" in s or "uses" in s) for s in doc)


def is_gitlab(doc: Any) -> bool:
    return isinstance(doc, dict) and ("include" in doc or any(isinstance(v, dict) and "script" in v for v in doc.values()))


def documented() -> list[tuple[str, Any]]:
    docs: list[tuple[str, Any]] = [("action.yml header", action_header_example())]
    for md in (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))):
        docs += list(fenced_yaml(md))
    for wf in sorted((ROOT / ".github" / "workflows").glob("*.y*ml")):
        docs.append((str(wf.relative_to(ROOT)), load(wf)))
    return docs


DOCUMENTED = documented()
WORKFLOWS = [(label, d) for label, d in DOCUMENTED if is_workflow(d)]
STEP_FRAGMENTS = [(label, d) for label, d in DOCUMENTED if is_step_list(d)]
GITLAB_EXAMPLES = [(label, d) for label, d in DOCUMENTED if is_gitlab(d)]


def triggers(workflow: dict[Any, Any]) -> set[str]:
    on = workflow.get("on", workflow.get(True))
    if isinstance(on, str):
        return {on}
    return {str(t) for t in on} if isinstance(on, (list, dict)) else set()


def workflow_steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    return [s for job in workflow.get("jobs", {}).values() for s in (job or {}).get("steps", [])]


def action_steps(action: dict[str, Any]) -> list[dict[str, Any]]:
    return list(action["runs"]["steps"])


# --------------------------------------------------------------------------- the checks


def script_injections(steps: list[dict[str, Any]]) -> list[str]:
    """`${{ ... }}` expressions pasted into `run:` scripts. The runner substitutes them into
    the script text before the shell parses it, so a pull request title, branch name or
    input can become a command. Values reach scripts through `env:` as $VARIABLES."""
    return [f"{s.get('name', s['run'][:40])!r}: {m}" for s in steps if "run" in s
            for m in EXPRESSION.findall(str(s["run"]))]


def unsafe_checkouts(workflow: dict[Any, Any]) -> list[str]:
    """Under pull_request_target (a write token and the repository's secrets), a checkout of
    the pull request's own commits runs untrusted code with them."""
    if "pull_request_target" not in triggers(workflow):
        return []
    return [str(s["with"]) for s in workflow_steps(workflow)
            if CHECKOUT.match(str(s.get("uses", ""))) and PR_HEAD.search(str((s.get("with") or {}).get("ref", "")))]


def expressions_outside_env_and_with(node: Any, path: tuple[str, ...] = ()) -> Iterator[str]:
    """Every `${{ }}` in action.yml that is not a value under `env:` / `with:` or an input's
    default (the places where the runner passes it as data, not as script text)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from expressions_outside_env_and_with(value, (*path, str(key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from expressions_outside_env_and_with(value, (*path, str(i)))
    elif isinstance(node, str) and EXPRESSION.search(node):
        data = "env" in path or "with" in path or (path[:1] == ("inputs",) and path[-1] == "default")
        if not data:
            yield f"{'.'.join(path)}: {node.strip()[:80]}"


def permission_sets(workflow: dict[Any, Any]) -> list[Any]:
    """The permissions a workflow grants: top level, else each job's (a job without any gets
    the repository default, which may be write-all: reported as None)."""
    if "permissions" in workflow:
        return [workflow["permissions"]]
    return [(job or {}).get("permissions") for job in workflow["jobs"].values()]


# --------------------------------------------------------------------------- the examples are there


def test_the_examples_were_found() -> None:
    """Guard against a check passing on nothing (a renamed file, a changed fence)."""
    labels = [label for label, _ in WORKFLOWS]
    assert "action.yml header" in labels
    assert any(label.startswith("README.md") for label in labels)
    assert any(label.startswith("docs/ci.md") for label in labels)
    assert STEP_FRAGMENTS and GITLAB_EXAMPLES
    assert action_steps(load(ACTION))


# --------------------------------------------------------------------------- GitHub


@pytest.mark.parametrize(("label", "workflow"), WORKFLOWS, ids=[label for label, _ in WORKFLOWS])
def test_no_example_runs_on_pull_request_target(label: str, workflow: dict[Any, Any]) -> None:
    assert triggers(workflow) == {"pull_request"}
    assert unsafe_checkouts(workflow) == []


@pytest.mark.parametrize(("label", "workflow"), WORKFLOWS, ids=[label for label, _ in WORKFLOWS])
def test_documented_permissions_are_minimal(label: str, workflow: dict[Any, Any]) -> None:
    assert permission_sets(workflow) and all(p == MINIMAL_PERMISSIONS for p in permission_sets(workflow))


ALL_STEPS = [("action.yml", action_steps(load(ACTION)))] + [(label, workflow_steps(wf)) for label, wf in WORKFLOWS] \
    + STEP_FRAGMENTS


@pytest.mark.parametrize(("label", "steps"), ALL_STEPS, ids=[label for label, _ in ALL_STEPS])
def test_no_expression_is_pasted_into_a_run_script(label: str, steps: list[dict[str, Any]]) -> None:
    assert script_injections(steps) == []


def test_action_passes_values_to_scripts_only_through_env() -> None:
    action = load(ACTION)
    assert list(expressions_outside_env_and_with(action)) == []
    # the inputs that scripts use are there, as environment variables
    env_values = [v for s in action_steps(action) for v in (s.get("env") or {}).values()]
    assert "${{ inputs.model }}" in env_values and "${{ inputs.github-token }}" in env_values


def test_the_token_reaches_only_the_step_that_posts() -> None:
    steps = action_steps(load(ACTION))
    with_token = [s for s in steps if "github-token" in str(s.get("env", "")) or "github-token" in str(s.get("with", ""))]
    assert [(s["env"]["GITHUB_TOKEN"], s["run"].strip()) for s in with_token] == [
        ("${{ inputs.github-token }}", "reviewer ci github")]


def test_action_installs_reviewer_from_the_action_never_from_the_pull_request() -> None:
    """The checked-out pull request is data (a diff, a config file), never installed or run."""
    scripts = [str(s["run"]) for s in action_steps(load(ACTION)) if "run" in s]
    installs = [ln.strip() for script in scripts for ln in script.splitlines() if "pip install" in ln]
    assert installs == ['python -m pip install "${ACTION_PATH}[${extras}]"']
    assert not any(re.search(r"GITHUB_WORKSPACE|pip install (-e )?\.|setup\.py|\./", s) for s in scripts)


def test_action_warns_when_used_under_pull_request_target() -> None:
    first = next(s for s in action_steps(load(ACTION)) if "run" in s)
    assert '"$GITHUB_EVENT_NAME" == "pull_request_target"' in first["run"] and "::warning::" in first["run"]


# The checks themselves: each must catch the mistake it is about.

BAD_STEP = {"name": "Greet", "shell": "bash", "run": "echo ${{ github.event.pull_request.title }}"}


def test_script_injection_check_catches_a_pasted_title() -> None:
    text = ACTION.read_text(encoding="utf-8") + textwrap.indent(yaml.safe_dump([BAD_STEP], sort_keys=False), "    ")
    action = yaml.safe_load(text)
    assert action_steps(action)[-1] == BAD_STEP  # appended to runs.steps
    assert script_injections(action_steps(action)) == ["'Greet': ${{ github.event.pull_request.title }}"]
    assert list(expressions_outside_env_and_with(action)) == [
        f"runs.steps.{len(action_steps(action)) - 1}.run: echo ${{{{ github.event.pull_request.title }}}}"]
    assert script_injections([{"run": "git checkout ${{ github.head_ref }}"}])
    assert not script_injections([{"run": 'echo "$TITLE"', "env": {"TITLE": "${{ github.event.pull_request.title }}"}}])


def test_pull_request_target_check_catches_a_head_checkout() -> None:
    bad = yaml.safe_load(textwrap.dedent("""\
        on: pull_request_target
        permissions: {contents: read, pull-requests: write}
        jobs:
          review:
            runs-on: ubuntu-latest
            steps:
              - uses: actions/checkout@v4
                with:
                  ref: ${{ github.event.pull_request.head.sha }}
              - run: make test
        """))
    assert triggers(bad) == {"pull_request_target"}
    assert len(unsafe_checkouts(bad)) == 1
    base_only = yaml.safe_load(yaml.safe_dump(bad).replace("${{ github.event.pull_request.head.sha }}", "main"))
    assert unsafe_checkouts(base_only) == []


def test_permissions_check_catches_broad_grants() -> None:
    for granted in ("write-all", {"contents": "write", "pull-requests": "write"}, None):
        wf = {"on": "pull_request", "jobs": {"review": {"permissions": granted, "steps": []}}}
        assert permission_sets(wf) != [MINIMAL_PERMISSIONS]


# --------------------------------------------------------------------------- GitLab

TEMPLATE = load(GITLAB_TEMPLATE)
JOB = TEMPLATE["reviewer"]
CREDENTIAL = re.compile(r"TOKEN|PASSWORD|SECRET|API_KEY|PRIVATE", re.IGNORECASE)


def test_gitlab_job_runs_only_for_merge_requests() -> None:
    assert JOB["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]


def test_gitlab_template_defines_no_credential() -> None:
    """The token is a masked CI/CD variable of the project (docs/ci.md), never in the file
    that merge requests can see and change."""
    variables = {**TEMPLATE.get("variables", {}), **JOB.get("variables", {})}
    assert [k for k in variables if CREDENTIAL.search(k)] == []
    for label, doc in GITLAB_EXAMPLES:
        assert not CREDENTIAL.search(yaml.safe_dump(doc)), label


def test_gitlab_scripts_never_expand_a_token() -> None:
    """reviewer reads GITLAB_TOKEN / CI_JOB_TOKEN from its environment; the job's shell never
    expands them, so no trace, echo or failing command line can print them."""
    script = "\n".join(JOB["script"])
    assert not re.search(r"\$\{?(GITLAB_TOKEN|CI_JOB_TOKEN|REVIEWER_API_KEY)\b", script)
    assert "set -x" not in script
    assert script.rstrip().endswith("reviewer ci gitlab --format codeclimate -o gl-code-quality-report.json")


def test_gitlab_installs_reviewer_from_the_pinned_source_never_the_merge_request() -> None:
    installs = [ln.strip() for ln in "\n".join(JOB["script"]).splitlines() if "pip install" in ln]
    assert installs == ['python -m pip install "reviewer[$extras] @ $REVIEWER_SOURCE"']
    assert JOB["variables"]["REVIEWER_SOURCE"] == ""  # must be set by the including project (checked first)
    assert JOB["script"][0].startswith('test -n "$REVIEWER_SOURCE"')


def test_gitlab_fork_merge_requests_are_a_warning_as_documented() -> None:
    """Fork pipelines do not get the project's variables: reviewer exits 2 (no token), which
    the template allows as a failure; that is what docs/ci.md and the template header say."""
    assert JOB["allow_failure"] == {"exit_codes": [2, 3]}  # 3: the budget left hunks unreviewed
    ci_md = " ".join((ROOT / "docs" / "ci.md").read_text(encoding="utf-8").split())
    header = " ".join(ln.lstrip("# ") for ln in GITLAB_TEMPLATE.read_text(encoding="utf-8").splitlines()
                      if ln.startswith("#"))
    assert "a merge request from a fork whose pipeline does not get your variables" in ci_md
    assert "Pipelines for merge requests from forks do not get your variables" in header


# --------------------------------------------------------------------------- the documentation


def test_docs_have_a_security_section() -> None:
    text = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    section = text.split("### Security", 1)[1].split("\n### ", 1)[0]
    for needle in ("pull_request_target", "fork", "contents: read", "pull-requests: write", "env:", "--secrets"):
        assert needle in section, needle


def test_the_result_cache_and_the_quality_report_are_carried() -> None:
    """issue 23: the result cache survives between runs (a push re-sends only changed hunks), and
    GitLab gets the Code Quality report the job writes."""
    steps = action_steps(load(ACTION))
    results = [s for s in steps if str(s.get("uses", "")).startswith("actions/cache@")
               and str(s["with"]["path"]).endswith("/results.sqlite3")]
    assert len(results) == 1 and "restore-keys" in results[0]["with"]
    assert results[0]["with"]["path"].startswith("${{ steps.keys.outputs.cache-dir }}")
    review = next(s for s in steps if s.get("run", "").strip() == "reviewer ci github")
    assert review["env"]["REVIEWER_CACHE_DIR"] == "${{ steps.keys.outputs.cache-dir }}"
    caches = [c for c in JOB["cache"] if c["paths"] == [".cache/reviewer/results.sqlite3"]]
    assert len(caches) == 2 and caches[0]["fallback_keys"] == [caches[1]["key"]]
    assert JOB["variables"]["REVIEWER_CACHE_DIR"] == "$CI_PROJECT_DIR/.cache/reviewer"
    report = JOB["artifacts"]["reports"]["codequality"]
    assert f"--format codeclimate -o {report}" in JOB["script"][-1] and JOB["artifacts"]["when"] == "always"
