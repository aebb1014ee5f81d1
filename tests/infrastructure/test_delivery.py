"""Delivery, checked on the files themselves: the workflows' pinned actions, Dependabot, the
deploy order (checks, dev, staging, prod planned, approved, executed), main-only deploys, and
the smoke tests after the stages."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.infrastructure.template import ROOT, STAGES, load_samconfig

WORKFLOWS = ROOT / ".github" / "workflows"
DEPLOY_WORKFLOW = WORKFLOWS / "deploy.yml"
SMOKE_TEST = ROOT / "deploy" / "smoke_test.sh"
#: ``uses: owner/repo@<commit> # v1.2.3`` (a path after the repository, for actions in a folder).
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@(?P<commit>[0-9a-f]{40})\s+#\s+v\d+\.\d+\.\d+$")
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<value>.+?)\s*$")


def _workflow(path: Path) -> dict[str, Any]:
    loaded: dict[Any, Any] = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as the boolean true.
    if True in loaded:
        loaded["on"] = loaded.pop(True)
    return loaded


def _uses_in(workflow: dict[str, Any]) -> list[str]:
    """Every `uses:` of a workflow: reusable workflows (job level) and actions (steps)."""
    found = []
    for job in workflow["jobs"].values():
        if "uses" in job:
            found.append(job["uses"])
        found += [step["uses"] for step in job.get("steps", []) if "uses" in step]
    return found


@pytest.fixture(scope="module")
def deploy() -> dict[str, Any]:
    return _workflow(DEPLOY_WORKFLOW)


def _run(job: dict[str, Any]) -> str:
    """The shell the job's steps run, as one text."""
    return "\n".join(step.get("run", "") for step in job.get("steps", []))


# ------------------------------------------------------------------------------------------
# Supply chain
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.yml")), ids=lambda p: p.name)
def test_every_action_is_pinned_by_commit_with_its_release(path: Path) -> None:
    """A tag can be moved to other code; a commit cannot. The comment is the release, for
    people and for Dependabot, which updates both."""
    lines = [m["value"] for line in path.read_text().splitlines() if (m := USES_LINE.match(line))]
    parsed = _uses_in(_workflow(path))
    assert len(lines) == len(parsed)
    assert parsed
    for value, uses in zip(lines, parsed, strict=True):
        if uses.startswith("./"):  # this repository's own reusable workflow
            assert value == uses
            continue
        assert PINNED.match(value), f"{path.name}: {value!r} is not a commit with its release"
        assert value.startswith(uses), value


def test_the_same_action_is_pinned_to_the_same_commit_everywhere() -> None:
    commits: dict[str, set[str]] = {}
    for path in WORKFLOWS.glob("*.yml"):
        for uses in _uses_in(_workflow(path)):
            if not uses.startswith("./"):
                action, _, commit = uses.partition("@")
                commits.setdefault(action, set()).add(commit)
    assert commits
    assert {action: pins for action, pins in commits.items() if len(pins) > 1} == {}


def test_dependabot_updates_pip_and_the_actions() -> None:
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())
    assert config["version"] == 2
    updates = {(u["package-ecosystem"], u["directory"]) for u in config["updates"]}
    assert ("github-actions", "/") in updates
    # pyproject.toml, the layer's pins (what ships), and the tools' pins.
    assert {("pip", "/"), ("pip", "/layers/dependencies"), ("pip", "/requirements")} <= updates
    for update in config["updates"]:
        assert update["schedule"]["interval"] in {"daily", "weekly"}
        assert (ROOT / update["directory"].lstrip("/")).is_dir()


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.yml")), ids=lambda p: p.name)
def test_workflows_read_only_by_default_and_keep_no_git_credentials(path: Path) -> None:
    workflow = _workflow(path)
    assert workflow["permissions"] == {"contents": "read"}
    for name, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, name


# ------------------------------------------------------------------------------------------
# Deploy order, approvals, main only
# ------------------------------------------------------------------------------------------
def test_deploys_run_for_main_only_whatever_starts_them(deploy: dict[str, Any]) -> None:
    assert deploy["on"]["push"] == {"branches": ["main"]}
    assert "workflow_dispatch" in deploy["on"]
    jobs = deploy["jobs"]
    assert jobs["checks"]["if"] == "github.ref == 'refs/heads/main'"
    assert jobs["checks"]["uses"] == "./.github/workflows/ci.yml"

    def upstream(name: str) -> set[str]:
        needs = jobs[name].get("needs", [])
        direct = {needs} if isinstance(needs, str) else set(needs)
        return direct.union(*(upstream(n) for n in direct)) if direct else set()

    for name in set(jobs) - {"checks"}:
        assert "checks" in upstream(name), f"{name} could run without the main-only checks"


def test_stages_deploy_in_order_each_in_its_environment(deploy: dict[str, Any]) -> None:
    jobs = deploy["jobs"]
    assert jobs["dev"]["needs"] == "checks"
    assert jobs["staging"]["needs"] == "dev"
    assert jobs["prod-plan"]["needs"] == "staging"
    assert jobs["prod"]["needs"] == "prod-plan"
    for stage in ("dev", "staging", "prod"):
        assert jobs[stage]["environment"] == stage
    samconfig = load_samconfig()
    for stage in ("dev", "staging"):
        run = _run(jobs[stage])
        assert (
            f"sam deploy --config-env {stage} --template-file .aws-sam/build/template.yaml" in run
        )
        assert samconfig[stage]["global"]["parameters"]["stack_name"] == f"hksync-{stage}"


def test_only_the_jobs_that_reach_aws_get_an_oidc_token(deploy: dict[str, Any]) -> None:
    for name, job in deploy["jobs"].items():
        assumes = [
            step
            for step in job.get("steps", [])
            if step.get("uses", "").startswith("aws-actions/configure-aws-credentials@")
        ]
        if assumes:
            assert job["permissions"] == {"contents": "read", "id-token": "write"}, name
            (step,) = assumes
            assert "aws-access-key-id" not in step["with"], name
        else:
            assert "id-token" not in job.get("permissions", {}), name


def test_prod_is_planned_then_approved_then_that_change_set_executed(
    deploy: dict[str, Any],
) -> None:
    plan, execute = deploy["jobs"]["prod-plan"], deploy["jobs"]["prod"]
    # Plan: before any approval (no environment), with the role that cannot execute.
    assert "environment" not in plan
    (assume,) = [s for s in plan["steps"] if "configure-aws-credentials" in s.get("uses", "")]
    assert assume["with"]["role-to-assume"] == "${{ vars.AWS_PLAN_ROLE_ARN }}"
    run = _run(plan)
    assert "sam deploy --config-env prod" in run
    assert "--no-execute-changeset" in run
    assert "GITHUB_STEP_SUMMARY" in run
    assert "describe-change-set" in run
    assert "delete-change-set" in run.split("sam deploy")[0]  # stale plans go first
    assert plan["outputs"]["change-set"] == "${{ steps.plan.outputs.change-set }}"
    # Approval: the prod environment (required reviewers), only when there is something to do.
    assert execute["environment"] == "prod"
    assert execute["if"] == "needs.prod-plan.outputs.change-set != ''"
    # Execute: exactly the planned change set; nothing is recomputed after the approval.
    run = _run(execute)
    assert "sam deploy" not in run
    assert 'aws cloudformation execute-change-set --change-set-name "$CHANGE_SET"' in run
    (step,) = [s for s in execute["steps"] if "execute-change-set" in s.get("run", "")]
    assert step["env"] == {"CHANGE_SET": "${{ needs.prod-plan.outputs.change-set }}"}


def test_samconfig_prod_confirms_a_change_set_a_person_deploys() -> None:
    assert load_samconfig()["prod"]["deploy"]["parameters"]["confirm_changeset"] is True


# ------------------------------------------------------------------------------------------
# Smoke tests
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("job", "command"),
    [
        ("dev", "deploy/smoke_test.sh hksync-dev"),
        ("staging", "deploy/smoke_test.sh hksync-staging"),
        ("prod", "deploy/smoke_test.sh hksync-prod --no-user"),
    ],
)
def test_every_stage_is_smoke_tested_after_its_deploy(
    deploy: dict[str, Any], job: str, command: str
) -> None:
    steps = deploy["jobs"][job]["steps"]
    deploys = [i for i, s in enumerate(steps) if "sam deploy" in s.get("run", "")]
    deploys += [i for i, s in enumerate(steps) if "execute-change-set" in s.get("run", "")]
    smokes = [i for i, s in enumerate(steps) if command in s.get("run", "")]
    assert len(deploys) == len(smokes) == 1, job
    assert smokes[0] > deploys[0], job
    assert smokes[0] == len(steps) - 1, f"{job}: the smoke test is the job's last step"


def test_the_smoke_test_simulates_a_small_user_with_a_token_of_the_stacks_pool() -> None:
    script = SMOKE_TEST.read_text()
    assert SMOKE_TEST.stat().st_mode & 0o111, "deploy/smoke_test.sh is not executable"
    assert script.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in script
    simulate = re.search(r"^\.venv/bin/hksync simulate (.+)$", script, re.MULTILINE)
    assert simulate, "the smoke test runs `hksync simulate`"
    arguments = simulate[1].split()
    assert arguments[arguments.index("--url") + 1] == '"$api_url"'
    assert arguments[arguments.index("--token") + 1] == '"$token"'
    assert int(arguments[arguments.index("--days") + 1]) <= 1  # a small user
    assert "--auth-flow USER_PASSWORD_AUTH" in script
    # The password and the token are masked in the log the moment they exist.
    assert script.count("::add-mask::") == 2
    # Unauthenticated requests are refused, checked in every stage (before --no-user stops).
    assert script.index("!= 401 ]]") < script.index('if [[ "$with_user" == false ]]')


@pytest.mark.parametrize("stage", STAGES)
def test_the_smoke_test_user_can_sign_in_where_it_runs(sam: dict[str, Any], stage: str) -> None:
    """USER_PASSWORD_AUTH is allowed outside prod only, which is where the user signs in."""
    flows = sam["Resources"]["UserPoolClient"]["Properties"]["ExplicitAuthFlows"]["Fn::If"]
    assert flows[0] == "IsProd"
    assert "ALLOW_USER_PASSWORD_AUTH" not in flows[1]
    assert "ALLOW_USER_PASSWORD_AUTH" in flows[2]
    command = f"deploy/smoke_test.sh hksync-{stage}"
    runs = _run(_workflow(DEPLOY_WORKFLOW)["jobs"][stage])
    assert command in runs
    assert (f"{command} --no-user" in runs) == (stage == "prod")
