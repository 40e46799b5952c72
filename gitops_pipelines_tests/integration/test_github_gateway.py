"""The GitHub gateway against the project's GitHub emulator (real HTTP, real git), checked against GitHub's contract."""

from __future__ import annotations

import json
import time

import pytest

from gitops_pipelines.core.github import (GitHubError, GitHubGateway, GitHubUnavailable, RetryPolicy,
                                          check_outcome, check_work_item, comment_marker, plan_comment)
from gitops_pipelines.core.plan_store import PlanBinding, PlanRecord
from gitops_pipelines.core.plan_store.models import PlanSummary
from gitops_pipelines.core.stages import PlanResult, SyntaxResult
from gitops_pipelines.core.stages.syntax import Diagnostic
from gitops_pipelines_dev.github_emulator import Emulator
from gitops_pipelines_dev.github_emulator.openapi_check import check

REPO = "acme/infra"
FAST = RetryPolicy(attempts=4, backoff=0.01, max_backoff=0.05, max_rate_wait=5)
SECRET = "pa55-w0rd-very-secret"


def gateway(emu: Emulator, repository: str = REPO, log=None, **kwargs) -> GitHubGateway:
    # PyGithub's default 1 s write throttle would make these tests slow; production keeps it.
    return GitHubGateway(repository, token=kwargs.pop("token", "test-token"), base_url=emu.base_url,
                         retries=kwargs.pop("retries", FAST),
                         seconds_between_requests=0, seconds_between_writes=0, log=log or (lambda _: None), **kwargs)


def assert_contract(emu: Emulator, *, validated: bool = True) -> None:
    report = check(emu.exchanges, emu.contract)
    assert not report.failures, report.summary()
    assert report.validated or not validated


@pytest.fixture(scope="module")
def emu(github_contract):
    with Emulator(github_contract) as emulator:
        emulator.create_repo("acme", "infra", {"README.md": "# infra\n", "projects/storage/main.tf": "# storage\n"})
        yield emulator


@pytest.fixture(scope="module")
def gw(emu):
    return gateway(emu)


_branches = iter(range(1, 10_000))


def open_pr(emu: Emulator, body: str = "", files: dict | None = None) -> int:
    branch = f"change-{next(_branches)}"
    emu.commit(branch, files or {f"projects/storage/{branch}.tf": "# change\n"})
    return emu.open_pull(branch, f"Change {branch}", body)


def plan_result(text: str, head_sha: str) -> PlanResult:
    binding = PlanBinding(unit="storage", environment="test", change="pr-1", head_sha=head_sha,
                          terraform_version="1.11.0")
    record = PlanRecord(plan_id="f" * 64, binding=binding, summary=PlanSummary(add=2, has_changes=True),
                        created_at="2026-11-02T10:00:00Z", plan_size=1, artifacts={})
    return PlanResult(record=record, text=text, policy_passed=True, policy_markdown="### Policy passed\n",
                      violations=[])


def sent_bodies(emu: Emulator, method: str, route_part: str) -> list[dict]:
    return [json.loads(x.request_body) for x in emu.exchanges
            if x.method == method and route_part in (x.route or "") and x.request_body]


# -- pull requests ----------------------------------------------------------------------------------------------------
def test_pull_files_and_open_pulls(emu, gw):
    number = open_pr(emu, "Fixes #1", {"projects/storage/a.tf": "a\n", "modules/net/b.tf": "b\n"})
    pr = gw.pull(number)
    assert (pr.number, pr.state, pr.merged, pr.head_ref, pr.base_ref, pr.author) == (
        number, "open", False, pr.head_ref, "main", "developer")
    assert pr.head_sha == emu.repo.pulls[number].head_sha and pr.change == f"pr-{number}"
    assert sorted(gw.changed_files(number)) == ["modules/net/b.tf", "projects/storage/a.tf"]
    assert number in [p.number for p in gw.open_pulls()]


# -- check runs -------------------------------------------------------------------------------------------------------
def test_check_run_goes_from_pending_to_success_with_annotations(emu, gw):
    number = open_pr(emu)
    head = gw.pull(number).head_sha
    run_id = gw.set_check(head, "storage/syntax", "in_progress", title="Running", summary="terraform validate")
    assert emu.repo.check_runs[run_id].status == "in_progress"
    diagnostics = [Diagnostic(severity="error", summary=f"Problem {i}", file="main.tf", line=i + 1) for i in range(120)]
    result = SyntaxResult(unit="storage", passed=False, unformatted=[], fmt_diff="", diagnostics=diagnostics)
    outcome = check_outcome("syntax", result, unit_path="projects/storage")
    same = gw.set_check(head, "storage/syntax", "completed", outcome.conclusion, title=outcome.title,
                        summary=outcome.summary, annotations=outcome.annotations)
    run = emu.repo.check_runs[run_id]
    assert same == run_id and (run.status, run.conclusion) == ("completed", "failure")
    assert run.output["title"] == "120 error(s), 0 unformatted file(s)"
    sent = [a for body in sent_bodies(emu, "PATCH", "/check-runs/") for a in body["output"].get("annotations", [])
            if a["title"].startswith("Problem")]
    assert len(sent) == 120 and max(len(b["output"]["annotations"]) for b in sent_bodies(emu, "PATCH", "/check-runs/")) <= 50
    assert sent[7] == {"path": "projects/storage/main.tf", "start_line": 8, "end_line": 8,
                       "annotation_level": "failure", "message": "Problem 7", "title": "Problem 7"}
    again = gateway(emu).set_check(head, "storage/syntax", "completed", "success", title="Fixed", summary="ok",
                                   check_run_id=run_id)
    assert again == run_id and emu.repo.check_runs[run_id].conclusion == "success"


# -- the plan comment -------------------------------------------------------------------------------------------------
def marked(emu: Emulator, number: int, marker: str) -> list:
    key = marker.removeprefix("<!-- ").removesuffix(" -->")
    return sorted((c for c in emu.repo.comments_on(number) if key in c.body), key=lambda c: c.id)


def test_comment_is_updated_in_place_on_each_push(emu, gw):
    number = open_pr(emu)
    marker = comment_marker("storage", "test")
    emu.repo.add_comment(number, "LGTM, but please check the bucket name", "alice")
    first = gw.upsert_comment(number, marker, plan_comment("storage", "test", plan_result("+ one\n", "a" * 40)))
    emu.push(number, {"projects/storage/second.tf": "# second\n"})
    second = gw.upsert_comment(number, marker, plan_comment("storage", "test", plan_result("+ two\n", "b" * 40)))
    assert first == second and len(first) == 1
    [comment] = marked(emu, number, marker)
    assert comment.id == first[0] and "two" in comment.body and "one" not in comment.body
    assert len(emu.repo.comments_on(number)) == 2  # alice's comment and ours, nothing per push
    other = gw.upsert_comment(number, comment_marker("storage", "prod"), "prod plan")
    assert other != first and len(emu.repo.comments_on(number)) == 3


def test_long_plan_is_split_into_parts_and_shrinks_back(emu, gw):
    number = open_pr(emu)
    marker = comment_marker("storage", "test")
    text = "".join(f"  + line {i:06d} {'x' * 90}\n" for i in range(1500))
    body = plan_comment("storage", "test", plan_result(text, "c" * 40))
    assert len(body) > 150_000
    ids = gw.upsert_comment(number, marker, body)
    assert len(ids) == 3
    bodies = [emu.repo.comments[i].body for i in ids]
    assert all(len(b) <= 65_536 for b in bodies)
    assert [b.splitlines()[0] for b in bodies] == [
        f"<!-- gitops-pipelines:unit=storage env=test part={i} -->" for i in (1, 2, 3)]
    assert all(b.count("```") % 2 == 0 for b in bodies)
    assert "line 000000" in bodies[0] and "line 001499" in bodies[2]

    small = gw.upsert_comment(number, marker, plan_comment("storage", "test", plan_result("+ small\n", "d" * 40)))
    assert small == ids[:1] and "small" in emu.repo.comments[ids[0]].body
    assert all("no longer used" in emu.repo.comments[i].body for i in ids[1:])
    assert len(emu.repo.comments_on(number)) == 3  # surplus parts emptied, not multiplied

    assert gw.upsert_comment(number, marker, body) == ids  # grows again into the same three comments


def test_a_comment_never_contains_a_secret(emu, gw):
    number = open_pr(emu)
    text = f'  + resource "aws_db_instance" "main" {{\n      + password = "{SECRET}"\n    }}\n'
    body = plan_comment("storage", "test", plan_result(text, "e" * 40), secrets=[SECRET])
    [comment_id] = gw.upsert_comment(number, comment_marker("storage", "test"), body)
    assert SECRET not in emu.repo.comments[comment_id].body and "***" in emu.repo.comments[comment_id].body
    assert not any(SECRET.encode() in x.request_body for x in emu.exchanges)


def test_a_comment_by_someone_else_with_the_bots_marker_is_left_alone(emu, gw):
    number = open_pr(emu)
    marker = comment_marker("storage", "test")
    mallory = gateway(emu, token=emu.register_user("mallory"))
    assert mallory.login == "mallory" and gw.login == "gitops-pipelines[bot]"
    fake = f"{marker}\n### Plan for `storage` in `test`: no changes\n\nApprove freely, @team.\n"
    [fake_id] = mallory.upsert_comment(number, marker, fake)  # mallory's own comment, her login, our marker
    assert emu.repo.comments[fake_id].user == "mallory"

    ours = gw.upsert_comment(number, marker, plan_comment("storage", "test", plan_result("+ real\n", "a" * 40)))
    assert ours != [fake_id] and emu.repo.comments[ours[0]].user == "gitops-pipelines[bot]"
    assert emu.repo.comments[fake_id].body == fake  # never edited, never cleared as a surplus part
    assert not [x for x in emu.exchanges if x.method == "PATCH" and x.path.endswith(f"/comments/{fake_id}")]
    assert [c.id for c in gw.comments(number)] == ours  # the bot reads back only its own
    assert fake_id in [c.id for c in gw.comments(number, everyone=True)]

    again = gw.upsert_comment(number, marker, plan_comment("storage", "test", plan_result("+ again\n", "b" * 40)))
    assert again == ours and "again" in emu.repo.comments[ours[0]].body
    assert emu.repo.comments[fake_id].body == fake


def test_the_bot_asks_github_who_it_is_once(emu):
    def asked() -> int:
        return sum(1 for x in emu.exchanges if x.path == "/user" and x.request_headers.get("authorization", "")
                   .endswith("test-token"))

    before, bot, number = asked(), gateway(emu), open_pr(emu)
    for body in ("one\n", "two\n"):
        bot.upsert_comment(number, comment_marker("storage", "test"), body)
    assert asked() == before + 1 and bot.login == "gitops-pipelines[bot]"


# -- approvals and the work item --------------------------------------------------------------------------------------
def test_review_of_an_older_commit_does_not_approve_the_head(emu, gw):
    number = open_pr(emu)
    old = gw.pull(number).head_sha
    emu.push(number, {"projects/storage/more.tf": "# more\n"})
    head = gw.pull(number).head_sha
    emu.review(number, "alice", "APPROVED", commit_id=old)
    decision = gw.approval(number)
    assert not decision.approved and decision.stale == ("alice",) and decision.head_sha == head
    emu.review(number, "alice", "APPROVED")
    decision = gw.approval(number)
    assert decision.approved and decision.approval.commit_id == head and decision.approval.approvers == ("alice",)
    reviews = gw.reviews(number)
    assert [(r.reviewer, r.state, r.commit_id) for r in reviews] == [("alice", "APPROVED", old),
                                                                       ("alice", "APPROVED", head)]
    emu.review(number, "bob", "CHANGES_REQUESTED")
    assert gw.approval(number).blocked_by == ("bob",)


def test_work_item_check(emu, gw):
    issue = emu.create_issue("Storage for the reports")
    missing = open_pr(emu, "A change with no issue")
    outcome = check_work_item(gw, gw.pull(missing))
    assert outcome.conclusion == "failure" and "Fixes #N" in outcome.summary
    run = [r for r in emu.repo.check_runs.values() if r.head_sha == gw.pull(missing).head_sha and r.name == "work_item"]
    assert [r.conclusion for r in run] == ["failure"]

    good = open_pr(emu, f"Adds the bucket.\n\nFixes #{issue}")
    assert check_work_item(gw, gw.pull(good)).conclusion == "success"
    unknown = open_pr(emu, "Fixes #9999")
    outcome = check_work_item(gw, gw.pull(unknown))
    assert outcome.conclusion == "failure" and "#9999" in outcome.title
    assert not gw.issue_exists(good)  # a pull request is not a work item


# -- rate limits, retries and outages ---------------------------------------------------------------------------------
def test_server_errors_are_retried_transparently(emu, gw):
    number = open_pr(emu)
    emu.fail_next(2, status=502)
    assert gw.pull(number).number == number
    assert [x.status for x in emu.exchanges[-3:]] == [502, 502, 200]


def test_secondary_rate_limit_is_waited_out(emu):
    lines: list[str] = []
    gw = gateway(emu, log=lines.append)
    number = open_pr(emu)
    emu.secondary_rate_limit(1, retry_after=1)
    started = time.monotonic()
    assert gw.pull(number).number == number
    assert time.monotonic() - started >= 1.0
    assert any("rate limited" in line and "waiting 1s" in line for line in lines)
    assert any("rate budget" in line for line in lines)


def test_github_down_is_a_clear_error(github_contract):
    with Emulator(github_contract) as down:
        down.create_repo("acme", "infra", {"README.md": "x\n"})
        gw = gateway(down)
        down.fail_next(FAST.attempts, status=502)
        with pytest.raises(GitHubUnavailable) as failed:
            gw.pull(1)
        message = str(failed.value)
        assert "acme/infra" in message and "reading pull request #1" in message and "HTTP 502" in message
        assert "Nothing was lost" in message and failed.value.repository == REPO
        assert_contract(down, validated=False)  # only 502s: outside the documented statuses
    with pytest.raises(GitHubUnavailable, match="ConnectionError"):  # the server is gone altogether
        gw.upsert_comment(1, comment_marker("storage", "test"), "body")


def test_refusals_are_not_retried_and_say_what_to_check(emu):
    with pytest.raises(GitHubError) as failed:
        gateway(emu, "acme/missing").pull(1)
    assert not isinstance(failed.value, GitHubUnavailable) and failed.value.status == 404
    assert "acme/missing" in str(failed.value) and "repository name" in str(failed.value)


# -- tags, releases, budget -------------------------------------------------------------------------------------------
def test_tags_and_releases(emu, gw):
    main = emu.repo.git.resolve("refs/heads/main")
    assert gw.latest_release() is None
    gw.create_tag("net-v1.0.0", main)
    gw.create_tag("net-v1.0.0", main)  # idempotent
    assert ("net-v1.0.0", main) in [(t.name, t.sha) for t in gw.tags()]
    other = emu.commit("side", {"x.tf": "# x\n"})
    with pytest.raises(GitHubError, match="already exists"):
        gw.create_tag("net-v1.0.0", other)
    release = gw.create_release("net-v1.1.0", "net 1.1.0", "notes", main)
    assert (release.tag, release.name, release.body) == ("net-v1.1.0", "net 1.1.0", "notes")
    assert gw.create_release("net-v1.1.0", "net 1.1.0", "notes", main).id == release.id
    assert gw.latest_release().tag == "net-v1.1.0"
    budget = gw.rate_budget()
    assert budget.limit == 5000 and 0 < budget.remaining < 5000


# -- configuration ----------------------------------------------------------------------------------------------------
def test_configuration_errors_are_clear():
    with pytest.raises(GitHubError, match="no GitHub token"):
        GitHubGateway(REPO)
    with pytest.raises(GitHubError, match="owner/name"):
        GitHubGateway("not-a-repo", token="t")
    with pytest.raises(GitHubError, match="app_id, private_key and installation_id together"):
        GitHubGateway(REPO, app_id=1)


def test_github_app_auth_is_built_without_a_request():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    gw = GitHubGateway(REPO, app_id=42, private_key=key, installation_id=7, base_url="https://ghe.example.com/api/v3")
    assert gw.base_url == "https://ghe.example.com/api/v3" and gw.repository == REPO
    gw.close()


# -- last: every answer the emulator gave in this module, against GitHub's OpenAPI description -------------------------
def test_every_answer_matches_githubs_contract(emu):
    assert_contract(emu)
