"""Merge-time feedback through the gateway against the GitHub emulator: deployments and their statuses, the apply
section of the unit+environment comment, refused deploys; every answer checked against GitHub's contract."""

from __future__ import annotations

import pytest
from github import GithubException

from gitops_pipelines.core.github import GitHubError, comment_marker, plan_comment
from gitops_pipelines.core.github.deployments import (deployment_environment, finish_deploy, publish_apply_result,
                                                      publish_refusal, start_deploy)
from gitops_pipelines.core.github.rendering import APPLIED_START, gate_marker
from gitops_pipelines_dev.github_emulator import Emulator
from gitops_pipelines_dev.github_emulator.openapi_check import check
from gitops_pipelines_tests.integration.test_github_gateway import assert_contract, gateway, plan_result

PLAN_ID = "9f" * 32
RUN_URL = "http://127.0.0.1:3000/runs/1a2b3c"
SECRET = "pa55-w0rd-very-secret"
DEPLOYMENT_OPERATIONS = {("POST", "/repos/{owner}/{repo}/deployments"), ("GET", "/repos/{owner}/{repo}/deployments"),
                         ("POST", "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses"),
                         ("GET", "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses")}


@pytest.fixture(scope="module")
def emu(github_contract):
    with Emulator(github_contract) as emulator:
        emulator.create_repo("acme", "infra", {"README.md": "# infra\n", "projects/storage/main.tf": "# storage\n"})
        yield emulator


@pytest.fixture(scope="module")
def gw(emu):
    return gateway(emu)


_branches = iter(range(1, 10_000))


def merged_pr(emu: Emulator) -> tuple[int, str]:
    """A pull request merged into main, and its merge commit (what a deploy after the merge is bound to)."""
    branch = f"deploy-{next(_branches)}"
    emu.commit(branch, {f"projects/storage/{branch}.tf": "# change\n"})
    number = emu.open_pull(branch, f"Change {branch}")
    return number, emu.merge(number)


def start(gw, sha: str, environment: str = "test", *, plan_id: str = PLAN_ID, run_url: str | None = RUN_URL,
          production: bool = False) -> int:
    return start_deploy(gw, sha=sha, unit="storage", environment=environment, change="pr-1", plan_id=plan_id,
                        run_url=run_url, production=production)


def states(gw, deployment_id: int) -> list[str]:
    return [st.state for st in gw.deployment_statuses(deployment_id)]


def ours(emu: Emulator, number: int, marker: str) -> list:
    key = marker.removeprefix("<!-- ").removesuffix(" -->")
    return [c for c in emu.repo.comments_on(number) if c.body.startswith(f"<!-- {key}")]


# -- deployments and their statuses -----------------------------------------------------------------------------------
def test_a_deploy_goes_queued_in_progress_success(emu, gw):
    _, sha = merged_pr(emu)
    deployment_id = start(gw, sha)
    assert states(gw, deployment_id) == ["queued", "in_progress"]
    summary = "storage/test: plan 9f9f9f9f9f9f applied (state serial 4); " + "outputs: bucket=data-test " * 10
    finish_deploy(gw, deployment_id, ok=True, summary=summary, run_url=RUN_URL)

    [found] = gw.deployments(environment="storage/test", sha=sha, with_statuses=True)
    assert (found.id, found.sha, found.ref, found.environment, found.task) == (
        deployment_id, sha, sha, "storage/test", "deploy")
    assert found.payload == {"unit": "storage", "environment": "test", "change": "pr-1", "plan_id": PLAN_ID}
    assert not found.production and not found.transient and found.creator == "gitops-pipelines[bot]"
    assert [st.state for st in found.statuses] == ["queued", "in_progress", "success"] and found.state == "success"
    assert all(st.log_url == RUN_URL and st.environment == "storage/test" for st in found.statuses)
    done = found.statuses[-1].description
    assert len(done) <= 140 and done.startswith("storage/test: plan 9f9f9f9f9f9f applied") and done.endswith("\u2026")
    assert emu.repo.deployments[deployment_id].state == "success"


def test_start_and_finish_are_safe_to_repeat(emu, gw):
    _, sha = merged_pr(emu)
    first = start(gw, sha)
    assert start(gw, sha) == first and states(gw, first) == ["queued", "in_progress"]  # same run: nothing new
    assert start(gw, sha, run_url=RUN_URL + "-rerun") == first  # a re-execution: in progress again, its own log
    assert states(gw, first) == ["queued", "in_progress", "in_progress"]
    assert gw.deployment_statuses(first)[-1].log_url == RUN_URL + "-rerun"
    status_id = finish_deploy(gw, first, ok=True, summary="applied")
    assert finish_deploy(gw, first, ok=True, summary="applied") == status_id
    assert states(gw, first) == ["queued", "in_progress", "in_progress", "success"]
    assert len(gw.deployments(environment="storage/test", sha=sha)) == 1
    other_plan = start(gw, sha, plan_id="0e" * 32)  # a new plan of the same commit is a new deployment
    assert other_plan != first and len(gw.deployments(environment="storage/test", sha=sha)) == 2


def test_listing_filters_by_environment_and_commit(emu, gw):
    _, one = merged_pr(emu)
    _, two = merged_pr(emu)
    test_one, prod_one, test_two = start(gw, one), start(gw, one, "prod", production=True), start(gw, two)
    assert [d.id for d in gw.deployments(sha=one)] == [prod_one, test_one]  # newest first
    assert [d.id for d in gw.deployments(environment="storage/prod", sha=one)] == [prod_one]
    assert gw.deployments(environment="storage/prod")[0].production
    assert test_two in [d.id for d in gw.deployments(environment="storage/test")]
    assert test_two not in [d.id for d in gw.deployments(environment="storage/test", sha=one)]
    assert gw.deployments(environment="storage/nowhere") == []
    assert deployment_environment("storage", "prod") == "storage/prod"


def test_a_failed_apply_fails_the_deployment_and_a_retry_can_succeed(emu, gw):
    _, sha = merged_pr(emu)
    deployment_id = start(gw, sha, "prod", production=True)
    error = f"Error: creating S3 Bucket (data-prod): BucketAlreadyExists\n  password={SECRET}\n"
    finish_deploy(gw, deployment_id, ok=False, summary=error, secrets=[SECRET])
    failed = gw.deployment_statuses(deployment_id)[-1]
    assert failed.state == "failure" and "BucketAlreadyExists" in failed.description
    assert SECRET not in failed.description and "\n" not in failed.description
    assert not any(SECRET.encode() in x.request_body for x in emu.exchanges)
    assert start(gw, sha, "prod", production=True, run_url=RUN_URL + "-retry") == deployment_id
    finish_deploy(gw, deployment_id, ok=True, summary="applied")
    assert states(gw, deployment_id) == ["queued", "in_progress", "failure", "queued", "in_progress", "success"]


def test_a_later_success_marks_the_earlier_one_inactive_except_in_production(emu, gw):
    _, first_sha = merged_pr(emu)
    _, second_sha = merged_pr(emu)
    ids = {}
    for env, production in (("sandbox", False), ("live", True)):
        for sha in (first_sha, second_sha):
            ids[env, sha] = start(gw, sha, env, production=production)
            finish_deploy(gw, ids[env, sha], ok=True, summary="applied")
    assert states(gw, ids["sandbox", first_sha])[-1] == "inactive"  # GitHub's auto_inactive
    assert states(gw, ids["sandbox", second_sha])[-1] == "success"
    assert states(gw, ids["live", first_sha])[-1] == "success"  # production deployments keep their state


def test_github_refusals_of_deployments_are_clear(emu, gw):
    _, sha = merged_pr(emu)
    gw.set_check(sha, "storage/policy (test)", "completed", "failure", title="Policy failed", summary="no")
    # Without required_contexts GitHub verifies every check on the commit (409); the gateway always turns that off,
    # since the promotion gate already decided.
    with pytest.raises(GithubException) as conflict:
        gw.request("creating a deployment", "POST", "/deployments", input={"ref": sha, "environment": "x"}, ok=(409,))
    assert conflict.value.status == 409 and "status checks failed" in conflict.value.data["message"]
    assert gw.create_deployment(sha, "storage/test", payload={"plan_id": PLAN_ID}) > 0
    with pytest.raises(GitHubError, match="No ref found") as missing:
        gw.create_deployment("0" * 40, "storage/test")
    assert missing.value.status == 422 and "acme/infra" in str(missing.value)
    with pytest.raises(GitHubError, match="HTTP 404"):
        gw.set_deployment_status(999_999, "success")
    with pytest.raises(ValueError, match="deployment state must be one of"):
        gw.set_deployment_status(1, "done")


def test_server_errors_during_a_deploy_are_retried(emu, gw):
    _, sha = merged_pr(emu)
    emu.fail_next(2, status=502)
    deployment_id = start(gw, sha)
    assert states(gw, deployment_id) == ["queued", "in_progress"]
    assert len(gw.deployments(environment="storage/test", sha=sha)) == 1


# -- the apply section of the unit+environment comment ----------------------------------------------------------------
def test_the_apply_result_joins_the_plan_comment_and_is_replaced_by_the_next(emu, gw):
    number, _ = merged_pr(emu)
    marker = comment_marker("storage", "test")
    emu.repo.add_comment(number, "Looks good, ship it", "alice")
    [plan_id] = gw.upsert_comment(number, marker, plan_comment("storage", "test", plan_result("+ bucket\n", "a" * 40)))

    first = publish_apply_result(gw, number, "storage", "test", "Apply complete! Resources: 1 added.", PLAN_ID,
                                 RUN_URL)
    assert first == [plan_id] and len(emu.repo.comments_on(number)) == 2  # alice's and ours: no new comment
    body = emu.repo.comments[plan_id].body
    assert body.startswith(f"{marker}\n{APPLIED_START}\n### :rocket: Applied `storage` in `test`")
    assert "Resources: 1 added." in body and f"[Dagster run]({RUN_URL})" in body
    assert "### Plan for `storage` in `test`" in body and "+ bucket" in body  # the plan part is kept
    assert body.index("Applied") < body.index("### Plan for")

    second = publish_apply_result(gw, number, "storage", "test", "Apply complete! Resources: 0 added, 1 changed.",
                                  PLAN_ID, RUN_URL, ok=False)
    body = emu.repo.comments[plan_id].body
    assert second == first and body.count(APPLIED_START) == 1 and "1 added." not in body
    assert "### :x: Apply of `storage` in `test` failed" in body and "1 changed." in body and "+ bucket" in body
    edits = len([x for x in emu.exchanges if x.method == "PATCH" and f"/comments/{plan_id}" in x.path])
    publish_apply_result(gw, number, "storage", "test", "Apply complete! Resources: 0 added, 1 changed.",
                         PLAN_ID, RUN_URL, ok=False)
    assert len([x for x in emu.exchanges if x.method == "PATCH" and f"/comments/{plan_id}" in x.path]) == edits
    assert len(emu.repo.comments_on(number)) == 2


def test_the_apply_result_makes_the_comment_when_there_is_none_and_fences_terraform_text(emu, gw):
    number, _ = merged_pr(emu)
    output = (f"Outputs:\n\nnote = \"````\"\nowner = \"@octocat\"\ntoken = \"{SECRET}\"\n"
              "<!-- gitops-pipelines:applied-end -->")
    [comment_id] = publish_apply_result(gw, number, "storage", "prod", output, PLAN_ID, secrets=[SECRET])
    body = emu.repo.comments[comment_id].body
    assert body.startswith(comment_marker("storage", "prod")) and SECRET not in body and "***" in body
    assert "`````text\n" in body  # a fence longer than the output's own backtick run
    assert body.count("<!-- gitops-pipelines:applied-end -->") == 1  # Terraform cannot end the section early
    publish_apply_result(gw, number, "storage", "prod", "second apply", PLAN_ID)
    [comment] = ours(emu, number, comment_marker("storage", "prod"))
    assert comment.id == comment_id and "second apply" in comment.body and "@octocat" not in comment.body


def test_the_apply_result_keeps_a_long_plan_split_in_parts(emu, gw):
    number, _ = merged_pr(emu)
    marker = comment_marker("storage", "test")
    text = "".join(f"  + line {i:06d} {'x' * 90}\n" for i in range(1500))
    ids = gw.upsert_comment(number, marker, plan_comment("storage", "test", plan_result(text, "c" * 40)))
    assert len(ids) == 3
    again = publish_apply_result(gw, number, "storage", "test", "Apply complete! Resources: 1500 added.", PLAN_ID)
    assert again == ids
    bodies = [emu.repo.comments[i].body for i in ids]
    assert "Resources: 1500 added." in bodies[0] and all(len(b) <= 65_536 for b in bodies)
    joined = "".join(bodies)
    assert all(f"line {i:06d}" in joined for i in (0, 750, 1499)) and joined.count(APPLIED_START) == 1
    assert all(b.count("```") % 2 == 0 for b in bodies)
    # the plan's <details> and fence are reopened once per later part, and never left behind inside a part
    assert sum(b.count("<summary>Show plan") for b in bodies) == 3 and sum(b.count("```diff") for b in bodies) == 3


# -- refused deploys --------------------------------------------------------------------------------------------------
def test_a_refusal_is_one_comment_updated_in_place(emu, gw):
    number, _ = merged_pr(emu)
    reasons = ["storage/test: the plan was not approved at the merged head abc123def456",
               f"Error: `Saved plan is stale` (token {SECRET}) @octocat"]
    [comment_id] = publish_refusal(gw, number, "storage", "test", reasons,
                                   "approve the head commit on GitHub, then re-execute `storage/test_deploy`",
                                   run_url=RUN_URL, secrets=[SECRET])
    body = emu.repo.comments[comment_id].body
    assert body.startswith(gate_marker("storage", "test")) and "was not deployed to `test`" in body
    assert "nothing was applied" in body and "**What to do:** approve the head commit" in body
    assert "- ``Error: `Saved plan is stale` (token ***) @octocat``" in body and SECRET not in body

    again = publish_refusal(gw, number, "storage", "test", ["storage/test: policy failed"], "fix the policy")
    assert again == [comment_id] and len(ours(emu, number, gate_marker("storage", "test"))) == 1
    body = emu.repo.comments[comment_id].body
    assert "policy failed" in body and "Saved plan" not in body
    assert ours(emu, number, comment_marker("storage", "test")) == []  # the plan comment is another one

    publish_apply_result(gw, number, "storage", "test", "Apply complete!", PLAN_ID, RUN_URL)
    resolved = emu.repo.comments[comment_id].body
    assert "is now deployed to `test`" in resolved and "policy failed" not in resolved
    publish_apply_result(gw, number, "storage", "test", "Apply complete!", PLAN_ID, RUN_URL)
    assert emu.repo.comments[comment_id].body == resolved and len(emu.repo.comments_on(number)) == 2


# -- last: every answer the emulator gave in this module, against GitHub's OpenAPI description -------------------------
def test_every_answer_matches_githubs_contract(emu):
    assert_contract(emu)
    validated = {(x.method, x.route) for x in check(emu.exchanges, emu.contract).validated}
    assert DEPLOYMENT_OPERATIONS <= validated
