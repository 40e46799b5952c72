"""The provider lock file travels with the plan, on real Terraform against moto.

Like the sample (and many real repositories), this one commits no `.terraform.lock.hcl`: `init` writes one in
the checkout where the plan is made, and the apply runs on another checkout (the merge commit's) that has none.
One S3 bucket keeps each plan and apply fast.
"""

from __future__ import annotations

import pytest

from gitops_pipelines.core import stages
from gitops_pipelines.core.errors import LockFileChanged
from gitops_pipelines.core.promotion.merge_deploy import merge_deploy_plan
from gitops_pipelines.core.workspace import open_workspace
from gitops_pipelines_tests.fixtures.infra_repo import git
from gitops_pipelines_tests.fixtures.site_repo import GITOPS, commit, main_tf, new_repo

pytestmark = pytest.mark.slow

AWS = "registry.terraform.io/hashicorp/aws"
BUCKET = "lock-travels-site"
LOCK = "projects/site/.terraform.lock.hcl"
PLAN_KEY = "lock-file-travels-test-key"

@pytest.fixture(scope="module")
def repo(tmp_path_factory, cloud_env):
    """The pull request's head, and a merge commit with the same unit source; neither commits a lock file."""
    root = new_repo(tmp_path_factory.mktemp("lock-travels") / "repo")
    head = commit(root, {"gitops.yaml": GITOPS, ".gitignore": ".gitops/\n", "projects/site/main.tf": main_tf(BUCKET)},
                  "site")
    merge = commit(root, {"README.md": "unrelated to the unit\n"}, "merge")
    commit(root, {"README.md": "main moved on\n"}, "later")  # so both commits run on worktrees
    return {"root": root, "head": head, "merge": merge}


def workspace(repo, sha: str, lines: list[str]):
    return open_workspace(repo["root"] / "gitops.yaml", plan_key=PLAN_KEY, log=lines.append, commit=sha)


def test_a_plan_applies_on_another_checkout_without_a_lock_file(repo, clouds):
    planning: list[str] = []
    ws = workspace(repo, repo["head"], planning)
    planned = stages.plan(ws, ws.config.unit("site"), "test", "pr-1")
    lock = (ws.config.root / LOCK).read_bytes()  # written by init, in the plan's checkout only
    assert git(ws.config.root, "status", "--porcelain", "--", LOCK) == f"?? {LOCK}"
    assert ws.store.get(planned.plan_id).lock_file() == lock

    applying: list[str] = []
    merge_ws = workspace(repo, repo["merge"], applying)
    assert merge_ws.config.root != ws.config.root and not (merge_ws.config.root / LOCK).exists()
    result = stages.apply(merge_ws, planned.plan_id, environment="test", change="pr-1")

    assert not result.already_applied and result.state_serial
    assert BUCKET in {b["Name"] for b in clouds["test"].boto3_client("s3").list_buckets()["Buckets"]}
    assert (merge_ws.config.root / LOCK).read_bytes() == lock
    assert f"site/test: restored the provider lock file of plan {planned.record.short_id} into {LOCK}" in applying
    assert merge_ws.store.applied(planned.plan_id).state_serial == result.state_serial


def test_a_committed_lock_file_with_another_provider_version_is_refused(repo, clouds):
    ws = workspace(repo, repo["head"], [])
    planned = stages.plan(ws, ws.config.unit("site"), "test", "pr-2")
    lock = ws.store.get(planned.plan_id).lock_file()
    assert b'version     = "5.100.0"' in lock
    # meanwhile the main branch commits a lock file that selects another aws provider
    upgraded = commit(repo["root"], {LOCK: lock.replace(b'"5.100.0"', b'"5.101.0"')}, "lock the aws provider")

    applying: list[str] = []
    merge_ws = workspace(repo, upgraded, applying)
    with pytest.raises(LockFileChanged) as caught:
        stages.apply(merge_ws, planned.plan_id, environment="test", change="pr-2")

    error = caught.value
    assert (error.unit, error.environment, error.plan_id, error.providers) == (
        "site", "test", planned.plan_id, [AWS])
    assert f"{AWS}: version 5.100.0 in the plan, 5.101.0 in the checkout" in str(error)
    assert planned.plan_id in str(error) and "Re-plan" in str(error)
    assert not [line for line in applying if line.startswith("$ terraform")], "refused before Terraform ran"
    s3 = clouds["test"].boto3_client("s3")
    assert {b["Name"] for b in s3.list_buckets()["Buckets"]} == {"tfstate-test"}
    assert s3.list_objects_v2(Bucket="tfstate-test").get("KeyCount") == 0
    assert merge_ws.store.applied(planned.plan_id) is None
    assert (merge_ws.config.root / LOCK).read_bytes() != lock, "the commit's lock file is left as it is"


def test_a_merge_onto_a_lock_file_upgrade_is_refused_not_replanned(repo, clouds):
    ws = workspace(repo, repo["head"], [])
    planned = stages.plan(ws, ws.config.unit("site"), "test", "pr-3")
    lock = ws.store.get(planned.plan_id).lock_file()
    upgraded = commit(repo["root"], {LOCK: lock.replace(b'"5.100.0"', b'"5.102.0"')}, "upgrade the aws provider")

    deciding: list[str] = []
    merge_ws = workspace(repo, upgraded, deciding)
    with pytest.raises(LockFileChanged) as caught:
        merge_deploy_plan(merge_ws, "site", "test", "pr-3", planned.plan_id, head_sha=repo["head"], base_sha=None,
                          merge_sha=upgraded)
    assert f"{AWS}: version 5.100.0 in the plan, 5.102.0 in the checkout" in str(caught.value)
    assert not [line for line in deciding if line.startswith("$ terraform")], "no re-plan was made"
    assert merge_ws.store.latest("site", "test", "pr-3").plan_id == planned.plan_id


def test_a_new_commit_that_changes_values_only_plans_without_init(tmp_path, clouds, cloud_env):
    """The next pull request's head changes the bucket's tags: its checkout plans in the folder the first one
    initialised, gets the lock file init wrote there, and its plan shows the new tags; a new module call inits."""
    root = new_repo(tmp_path / "repo")
    first = commit(root, {"gitops.yaml": GITOPS, ".gitignore": ".gitops/\n", "projects/site/main.tf": main_tf(BUCKET)},
                   "site")
    tags = '  tags = {\n    team = "web"\n  }\n'
    tagged = commit(root, {"projects/site/main.tf": main_tf(BUCKET, body=tags)}, "tag the site")
    local = commit(root, {"projects/site/naming/main.tf": 'output "name" {\n  value = "site"\n}\n',
                          "projects/site/naming.tf": 'module "naming" {\n  source = "./naming"\n}\n'}, "naming")
    commit(root, {"README.md": "main moved on\n"}, "later")  # so every commit runs on a worktree

    def planned(sha: str):
        lines: list[str] = []
        ws = open_workspace(root / "gitops.yaml", plan_key=PLAN_KEY, log=lines.append, commit=sha)
        return ws, stages.plan(ws, ws.config.unit("site"), "test", "pr-2"), lines

    _, _, lines = planned(first)
    assert [line for line in lines if line.startswith("$ terraform init")]
    ws, result, lines = planned(tagged)
    assert not [line for line in lines if line.startswith("$ terraform init")], lines
    assert any("terraform init not repeated" in line for line in lines)
    assert (ws.config.root / LOCK).is_file(), "the lock file init wrote is put back beside the code"
    assert "team" in result.text and "1 to add" in result.summary()
    _, _, lines = planned(local)
    assert [line for line in lines if line.startswith("$ terraform init")], "a new module call needs init"
