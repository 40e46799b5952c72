"""The promotion chain through the processes a user runs: dagster-daemon and dagster-webserver on PostgreSQL
storage, the GitHub emulator, moto as the test and prod clouds. The test acts only as people do: code is pushed
with git, pull requests are opened, reviewed and merged with PyGithub, releases are launched through GraphQL as
the launchpad does, and the first production deploy from the launchpad itself, in a real browser (Playwright and
Debian's Chromium; e2e/browser.py). The sensors, the gate and Terraform do the rest.

One test (each Terraform step against moto costs 10-20 s, a PR check about a minute): the happy path all the way to
production, then five pull requests side by side. The gate refuses three after merging: one nobody approved, one
approved and then pushed to (merged while the new head's checks still run: the merge waits for them, then
decides), one approved although a check failed. Before the first merge main moves under the unit (a comment), so
that merge re-plans on the merge commit and applies the identical plan by itself; before the fourth, main changes a
tag of the unit's bucket, so the re-plan differs (and shows the refused changes main holds too) and waits for a
person, who launches the deploy with the new plan;
before the fifth, main commits a lock file that selects another provider, and the deploy is refused. Each refusal
says why on the pull request, and nothing reaches the cloud.
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from github import Auth, Github

from gitops_pipelines_dev.dagster_procs import DagsterProcesses
from gitops_pipelines_dev.github_emulator import Emulator
from gitops_pipelines_dev.infra import SAMPLE, SAMPLE_RELEASE, SAMPLE_REPOSITORY
from gitops_pipelines_dev.instance import install_instance_config
from gitops_pipelines_tests.e2e.browser import deploy_to_prod_in_the_browser
from gitops_pipelines_tests.e2e.conftest import LOCATION, PROJECT_ROOT

pytestmark = pytest.mark.slow

REPO, UNIT = "acme/infra", "storage"
BOT, DEVELOPER, ALICE, MAINTAINER = "gitops-bot", "developer", "alice", "maintainer"
IDENT = ["-c", "user.name=Dev", "-c", "user.email=dev@example.com"]


def _bucket_file(name: str) -> str:
    return (f'module "{name}" {{\n  source = "git::{SAMPLE_REPOSITORY}//modules/bucket?ref={SAMPLE_RELEASE}"\n\n'
            f'  name = "${{local.prefix}}-{name}"\n'
            f'  tags = {{ environment = var.environment }}\n}}\n')


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *IDENT, *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def wait_until(what: str, probe: Callable[[], object], timeout: float = 420, stack: DagsterProcesses | None = None):
    """Poll probe until it returns something truthy; fail saying what never happened."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        if stack is not None:
            stack.check_alive()
        time.sleep(2)
    daemon = stack.daemon.log_tail(6000) if stack is not None and stack.daemon else ""
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n--- daemon log ---\n{daemon}")


class Chain:
    """The running system and a person's view of it: git, a GitHub client per user, the Dagster UI."""

    def __init__(self, emu: Emulator, dev_clone: Path, stack: DagsterProcesses, clouds):
        self.emu, self.dev, self.stack, self.clouds = emu, dev_clone, stack, clouds
        self.gql = stack.graphql()
        self.users = {}

    def gh(self, user: str):
        if user not in self.users:
            token = f"tok-{user}"
            self.emu.state.token_users[token] = user
            self.users[user] = Github(base_url=self.emu.base_url, auth=Auth.Token(token)).get_repo(REPO)
        return self.users[user]

    def push_branch(self, branch: str, files: dict[str, str], message: str, base: str = "origin/main") -> str:
        _git(self.dev, "fetch", "-q", "origin")
        _git(self.dev, "checkout", "-q", "-B", branch, base)
        for path, text in files.items():
            (self.dev / path).write_text(text)
        _git(self.dev, "add", "-A")
        _git(self.dev, "commit", "-q", "-m", message)
        _git(self.dev, "push", "-q", "-f", "origin", branch)
        return _git(self.dev, "rev-parse", "HEAD")

    def open_pr(self, branch: str, files: dict[str, str], title: str):
        issue = self.gh(DEVELOPER).create_issue(title=f"Work item: {title}")
        self.push_branch(branch, files, title)
        return self.gh(DEVELOPER).create_pull(title=title, body=f"Fixes #{issue.number}", head=branch, base="main")

    def checks(self, sha: str) -> dict[str, str | None]:
        runs = self.gh(DEVELOPER).get_commit(sha).get_check_runs()
        return {run.name: run.conclusion for run in runs if run.status == "completed"}

    def wait_for_checks(self, sha: str, names: set[str]) -> dict[str, str | None]:
        return wait_until(f"check runs {sorted(names)} on {sha[:12]}",
                          lambda: (lambda c: c if names <= set(c) else None)(self.checks(sha)), stack=self.stack)

    def comments(self, number: int) -> list[str]:
        return [c.body for c in self.gh(DEVELOPER).get_issue(number).get_comments()]

    def materialization(self, stage: str, change: str) -> dict | None:
        return self.gql.latest_materialization([UNIT, stage], change)

    def buckets(self, env: str) -> set[str]:
        return {b["Name"] for b in self.clouds[env].boto3_client("s3").list_buckets()["Buckets"]}

    def launch(self, job: str, stage: str, change: str, run_config: dict) -> dict:
        run_id = self.gql.launch(job, run_config=run_config, partition=change, asset_selection=[[UNIT, stage]],
                                 tags={"dagster/user": ALICE})
        return self.gql.wait_for_run(run_id, timeout=600)


@pytest.fixture
def chain(tmp_path, clouds, cloud_env, github_contract, postgres, pg_db):
    emu = Emulator(github_contract, root=tmp_path / "github")
    emu.start()
    emu.state.token_users["tok-bot"] = BOT
    files = {str(p.relative_to(SAMPLE)): p.read_text() for p in SAMPLE.rglob("*")
             if p.is_file() and ".terraform" not in p.parts}
    files["gitops.yaml"] = files["gitops.yaml"].replace("approvals:\n  required: 0\n", "approvals:\n  required: 1\n")
    files["gitops.yaml"] += (f"github:\n  repository: {REPO}\n  api_url: {emu.base_url}\n  web_url: https://github.com\n"
                             "  poll_seconds: 3\n")
    emu.create_repo("acme", "infra", files)
    checkout, dev = tmp_path / "checkout", tmp_path / "dev"
    for folder in (checkout, dev):
        subprocess.run(["git", "clone", "-q", str(emu.git_dir), str(folder)], check=True)

    home = tmp_path / "dagster_home"
    env = {**os.environ, **cloud_env, **postgres.env(pg_db),
           "GITOPS_CONFIG": str(checkout / "gitops.yaml"), "GITHUB_TOKEN": "tok-bot",
           "GITOPS_PLAN_KEY": base64.b64encode(b"chain-plan-key-0123456789abcdef!").decode()}
    env.update(install_instance_config(home, env))
    stack = DagsterProcesses(home, PROJECT_ROOT / "workspace.yaml", cwd=PROJECT_ROOT, env=env,
                             log_dir=tmp_path / "logs")
    env["GITOPS_DAGSTER_URL"] = stack.url
    stack.start()
    try:
        locations = stack.graphql().wait_for_locations()
        assert locations[LOCATION]["error"] is None, locations[LOCATION]["error"]
        yield Chain(emu, dev, stack, clouds)
    finally:
        stack.stop()
        emu.stop()


PR_CHECKS = {f"{UNIT}/syntax", f"{UNIT}/module_refs", f"{UNIT}/ephemeral_test", f"{UNIT}/plan (test)", f"{UNIT}/policy (test)", "work_item"}


def test_only_approved_code_reaches_an_environment(chain, browser):
    # -- a pull request: checks on its head, the stored test plan shown on it
    pr = chain.open_pr("logs", {"projects/storage/logs.tf": _bucket_file("logs")}, "Add a logs bucket")
    head = pr.head.sha
    change = f"pr-{pr.number}"
    checks = chain.wait_for_checks(head, PR_CHECKS)
    assert set(checks.values()) == {"success"}, checks
    # the check run is concluded just before the materialization is written
    test_plan = wait_until("test_plan", lambda: chain.materialization("test_plan", change), stack=chain.stack)["metadata"]
    assert test_plan["head_sha"] == head
    assert any(test_plan["plan_id"][:12] in body for body in chain.comments(pr.number)), "plan comment on the PR"

    # -- meanwhile main moves under the unit (a comment only); approve the head, merge: the merge commit holds
    # other code than was approved, so the unit is planned again there; the same resource changes apply by themselves
    chain.push_branch("main", {"projects/storage/main.tf": "# owned by the platform team\n" + (
        SAMPLE / "projects/storage/main.tf").read_text()}, "Say who owns the storage project")
    chain.gh(ALICE).get_pull(pr.number).create_review(event="APPROVE", body="looks right")
    merged = chain.gh(MAINTAINER).get_pull(pr.number).merge()
    test_deploy = wait_until("test_deploy", lambda: chain.materialization("test_deploy", change), stack=chain.stack)
    assert test_deploy["metadata"]["approved_plan_id"] == test_plan["plan_id"]
    assert "main moved under the unit" in test_deploy["metadata"]["replanned"]
    assert "identical resource changes" in test_deploy["metadata"]["result"]
    assert test_deploy["metadata"]["approved_by"] == ALICE
    assert "acme-test-logs" in chain.buckets("test") and "acme-prod-logs" not in chain.buckets("prod")
    deployments = list(chain.gh(DEVELOPER).get_deployments(sha=merged.sha, environment=f"{UNIT}/test"))
    assert deployments and [s.state for s in deployments[0].get_statuses()][0] == "success"  # newest first
    prod_plan = wait_until("prod_plan", lambda: chain.materialization("prod_plan", change), stack=chain.stack)
    prod_plan_id = prod_plan["metadata"]["plan_id"]
    wait_until("the prod plan on the merged pull request",
               lambda: any(prod_plan_id[:12] in body for body in chain.comments(pr.number)), stack=chain.stack)

    # -- release and production deploy, launched as a person does; a name GitHub cannot vouch for is refused
    approval = {"approved_by": ALICE, "reason": "CHG-7 reviewed", "plan_id": prod_plan_id}
    impostor = chain.launch("release", "release", change,
                            {"ops": {f"{UNIT}__release": {"config": dict(approval, approved_by="mallory")}}})
    assert impostor["status"] == "FAILURE"
    assert "GitHub has no approving review by them" in chain.gql.run_failure_text(impostor["runId"])
    release = chain.launch("release", "release", change, {"ops": {f"{UNIT}__release": {"config": approval}}})
    assert release["status"] == "SUCCESS", chain.gql.run_failure_text(release["runId"])[-3000:]
    # the release is the project's first version: an annotated tag on the merge commit and a GitHub Release that
    # says what production gets
    tag = chain.materialization("release", change)["metadata"]["tag"]
    assert tag == f"{UNIT}/v0.1.0" and chain.gh(DEVELOPER).get_git_ref(f"tags/{tag}").object.type == "tag"
    notes = chain.gh(DEVELOPER).get_release(tag).body
    assert prod_plan_id in notes and f"approved for `prod` by {ALICE}" in notes and f"(#{pr.number})" in notes
    # the production deploy by hand in a browser: the prod plan's page, the launchpad, the pull request's page
    prod = deploy_to_prod_in_the_browser(browser, chain.stack.url, chain.gql, f"{chain.emu.base_url}/ui/{REPO}/pull/"
                                         f"{pr.number}", UNIT, change, approval)
    assert prod["status"] == "SUCCESS", chain.gql.run_failure_text(prod["runId"])[-3000:]
    assert chain.materialization("prod_deploy", change)["metadata"]["plan_id"] == prod_plan_id
    assert "acme-prod-logs" in chain.buckets("prod")
    assert "Deployed to `prod`" in chain.gh(DEVELOPER).get_release(tag).body, "the Release says the deploy's result"
    # the daemon's audit_after_deploys sensor refreshes the audit table: the prod apply, its plan and who released
    audit = wait_until("audit/production_changes lists the prod apply", lambda: (
        lambda m: m if m and m["metadata"]["applies"] >= 1 else None)(chain.gql.latest_materialization(
            ["audit", "production_changes"], None)), stack=chain.stack)
    assert prod_plan_id[:12] in audit["metadata"]["table"] and ALICE in audit["metadata"]["table"]

    # -- five more pull requests side by side: one is merged without approval; one is approved, then pushed to and
    # merged at once; one is approved although its syntax check failed; two are approved and pass every check
    unapproved = chain.open_pr("audit", {"projects/storage/audit.tf": _bucket_file("audit")}, "Add an audit bucket")
    pushed = chain.open_pr("cache", {"projects/storage/cache.tf": _bucket_file("cache")}, "Add a cache bucket")
    failing = chain.open_pr("media", {"projects/storage/media.tf": _bucket_file("media").replace(" = ", "   =  ")},
                            "Add a media bucket")
    moved = chain.open_pr("backup", {"projects/storage/backup.tf": _bucket_file("backup")}, "Add a backup bucket")
    locked = chain.open_pr("assets", {"projects/storage/assets.tf": _bucket_file("assets")}, "Add an assets bucket")
    for ready in (unapproved, moved, locked):
        chain.wait_for_checks(ready.head.sha, PR_CHECKS)
    assert chain.wait_for_checks(failing.head.sha, PR_CHECKS)[f"{UNIT}/syntax"] == "failure"
    first_head = pushed.head.sha
    chain.wait_for_checks(first_head, PR_CHECKS)
    for approved in (failing, pushed, moved, locked):
        chain.gh(ALICE).get_pull(approved.number).create_review(event="APPROVE")

    # the push after the approval is merged while its checks still run: the merge waits for them, then the gate
    # refuses for the one reason left, the approval of the older head
    second_head = chain.push_branch("cache", {"projects/storage/cache.tf": _bucket_file("cache") + "# tidy\n"},
                                    "Tidy the cache bucket", base="cache")
    wait_until("the checks to start on the pushed head",
               lambda: chain.gh(DEVELOPER).get_commit(second_head).get_check_runs().totalCount, stack=chain.stack)
    chain.gh(MAINTAINER).get_pull(pushed.number).merge()
    assert not PR_CHECKS <= set(chain.checks(second_head)), "merged while the checks of its head still run"
    why = _refusal(chain, pushed)
    assert f"{ALICE} approved an older commit" in why and why.count("\n- ") == 1, why  # the one reason left
    assert set(chain.checks(second_head).values()) == {"success"}, "the gate decided after the checks finished"

    for refused, reason in ((unapproved, "0 of 1 required approving review"),
                            (failing, f"syntax failed for pr-{failing.number}")):
        chain.gh(MAINTAINER).get_pull(refused.number).merge()
        assert reason in _refusal(chain, refused)
    refused_buckets = {"acme-test-audit", "acme-test-cache", "acme-test-media"}
    assert not refused_buckets & chain.buckets("test"), "a refused change reached the cloud"

    # main moves under the unit (a tag of the existing bucket) before the approved change merges: the re-plan on the
    # merge commit differs, so nothing applies until a person reads the diff and launches the deploy with its plan
    chain.push_branch("main", {"projects/storage/main.tf": (SAMPLE / "projects/storage/main.tf").read_text().replace(
        'team        = "platform"', 'team        = "storage"')}, "The storage team owns the artifacts bucket")
    chain.gh(MAINTAINER).get_pull(moved.number).merge()
    diff = wait_until(f"the re-plan's diff on #{moved.number}",
                      lambda: [b for b in chain.comments(moved.number) if "differs from the approved plan" in b],
                      stack=chain.stack)[0]
    assert "module.artifacts" in diff, diff
    # main also holds the code of the three refused changes (merged, never applied): the diff shows them too
    assert all(f"module.{name}" in diff for name in ("audit", "cache", "media")), diff
    assert "acme-test-backup" not in chain.buckets("test")
    new_plan = re.search(r"with plan\\?_id `?([0-9a-f]{64})", diff).group(1)  # the re-plan a person may choose
    by_hand = chain.launch("merge", "test_deploy", f"pr-{moved.number}", {"ops": {f"{UNIT}__test_deploy": {
        "config": {"plan_id": new_plan, "approved_by": ALICE, "reason": "the team tag is wanted"}}}})
    assert by_hand["status"] == "SUCCESS", chain.gql.run_failure_text(by_hand["runId"])[-3000:]
    assert chain.materialization("test_deploy", f"pr-{moved.number}")["metadata"]["plan_id"] == new_plan
    assert "acme-test-backup" in chain.buckets("test")

    # main commits a lock file that selects another aws provider after the last change was planned: refused, with
    # the provider named, rather than re-planned onto the upgrade
    chain.push_branch("main", {"projects/storage/.terraform.lock.hcl": LOCK_UPGRADE}, "Upgrade the aws provider")
    chain.gh(MAINTAINER).get_pull(locked.number).merge()
    assert "hashicorp/aws: version 5.100.0 in the plan, 5.101.0 in the checkout" in _refusal(chain, locked)

    assert "acme-test-assets" not in chain.buckets("test"), "a refused change reached the cloud"


LOCK_UPGRADE = """provider "registry.terraform.io/hashicorp/aws" {
  version     = "5.101.0"
  constraints = "~> 5.0"
  hashes = [
    "h1:0000000000000000000000000000000000000000000=",
  ]
}
"""


def _refusal(chain: Chain, pr) -> str:
    """The gate's refusal on the pull request; nothing of the change reached the test environment."""
    comment = wait_until(f"the refusal on #{pr.number}",
                         lambda: [b for b in chain.comments(pr.number) if "was not deployed to" in b],
                         stack=chain.stack)[0]
    assert chain.materialization("test_deploy", f"pr-{pr.number}") is None
    return comment
