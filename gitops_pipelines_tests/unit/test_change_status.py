"""Where a change stands (core/promotion/status.py), assembled from handmade facts: pull requests, reviews, check runs
and plan records as the gateway and the plan store return them. No GitHub, no Terraform."""

from __future__ import annotations

import json

import pytest

from gitops_pipelines.core.config import GitopsConfig
from gitops_pipelines.core.errors import UsageError
from gitops_pipelines.core.github.checks_read import CheckRun, check_runs
from gitops_pipelines.core.github.errors import GitHubError
from gitops_pipelines.core.github.models import PullRequest, Review, Tag
from gitops_pipelines.core.plan_store import AppliedRecord, PlanBinding, PlanRecord
from gitops_pipelines.core.plan_store.models import PlanSummary
from gitops_pipelines.core.promotion.status import (AUTHOR, PEOPLE, PIPELINE, ChangeFacts, assemble, change_status,
                                                    stage_checks)

HEAD, NEW_HEAD, BASE, MERGE = "a" * 40, "b" * 40, "c" * 40, "d" * 40
CHANGE = "pr-7"


def make_config(*, github: bool = True, prod_approvals: int | None = None) -> GitopsConfig:
    prod = {"name": "prod", "auto_apply": False}
    if prod_approvals is not None:
        prod["approvals"] = {"required": prod_approvals}
    raw = {"environments": [{"name": "test", "auto_apply": True}, prod], "approvals": {"required": 1},
           "units": [{"name": "bucket", "kind": "module", "path": "modules/bucket"},
                     {"name": "storage", "kind": "project", "path": "projects/storage"}]}
    if github:
        raw["github"] = {"repository": "acme/infra"}
    return GitopsConfig.model_validate(raw)


def pull(*, head: str = HEAD, merged: bool = False, state: str = "open") -> PullRequest:
    return PullRequest(number=7, title="Bigger bucket", body="Fixes #1", state="closed" if merged else state,
                       merged=merged, head_sha=head, head_ref="bigger", base_sha=BASE, base_ref="main",
                       author="dev", merge_commit_sha=MERGE if merged else None)


def run(name: str, conclusion: str | None = "success", *, sha: str = HEAD, id: int = 1) -> CheckRun:
    status = "completed" if conclusion else "in_progress"
    return CheckRun(id=id, name=name, head_sha=sha, status=status, conclusion=conclusion)


STORAGE_CHECKS = ("storage/syntax", "storage/module_refs", "storage/ephemeral_test", "storage/plan (test)", "storage/policy (test)",
                  "work_item")


def passing(*names: str, sha: str = HEAD) -> tuple[CheckRun, ...]:
    return tuple(run(name, sha=sha, id=i) for i, name in enumerate(names or STORAGE_CHECKS, 1))


def review(who: str, state: str = "APPROVED", commit: str = HEAD, at: str = "2026-11-02T10:00:00Z") -> Review:
    return Review(reviewer=who, state=state, commit_id=commit, submitted_at=at)


def plan(env: str = "test", *, head: str = HEAD, unit: str = "storage", char: str = "1",
         created: str = "2026-11-02T09:00:00Z", commit: str | None = None) -> PlanRecord:
    binding = PlanBinding(unit=unit, environment=env, change=CHANGE, head_sha=head, base_sha=BASE,
                          terraform_version="1.11.0", commit=commit)
    return PlanRecord(plan_id=char * 64, binding=binding, summary=PlanSummary(add=2, has_changes=True),
                      created_at=created, plan_size=1, artifacts={})


def applied(record: PlanRecord, by: str = "merge-job") -> dict[str, AppliedRecord]:
    return {record.plan_id: AppliedRecord(plan_id=record.plan_id, applied_at="2026-11-02T12:00:00Z", applied_by=by,
                                          state_serial=3)}


def facts(**kwargs) -> ChangeFacts:
    defaults = dict(change=CHANGE, pull=pull(), reviews=(review("alice"),), check_runs=passing(), units=("storage",),
                    plans=(plan(),))
    return ChangeFacts(**{**defaults, **kwargs})


def env_of(status, unit: str = "storage", environment: str = "test"):
    found = next(u for u in status.units if u.unit == unit)
    return next(e for e in found.environments if e.environment == environment)


def conditions(env) -> list[str]:
    return [w.condition for w in env.waits]


# -- an open pull request ----------------------------------------------------------------------------------------
def test_everything_passed_at_the_head_waits_only_for_the_merge():
    status = assemble(make_config(), facts())
    (unit,) = status.units
    assert [(s.stage, s.state, s.head_sha) for s in unit.stages] == [
        ("syntax", "passed", HEAD), ("module_refs", "passed", HEAD), ("ephemeral_test", "passed", HEAD),
        ("test_plan", "passed", HEAD), ("policy", "passed", HEAD), ("work_item", "passed", HEAD)]
    test = env_of(status)
    assert test.plan.plan_id == "1" * 64 and test.plan.head_sha == HEAD and test.plan_ids == ("1" * 64,)
    assert test.approvals.approvers == ("alice",) and test.approvals.approved
    assert conditions(test) == ["merge"] and test.waits[0].by == PEOPLE and test.next == "merge the pull request"
    prod = env_of(status, environment="prod")  # planned after the merge: no prod plan yet is not a wait
    assert prod.plan is None and conditions(prod) == ["merge"] and "planned after the merge" in prod.waits[0].message
    assert status.waits_only_on_people and not status.done


def test_check_names_are_the_ones_the_flow_reports():
    config = make_config()
    assert stage_checks(config, config.unit("storage")) == {
        "syntax": "storage/syntax", "module_refs": "storage/module_refs", "ephemeral_test": "storage/ephemeral_test",
        "test_plan": "storage/plan (test)", "policy": "storage/policy (test)", "work_item": "work_item"}
    assert stage_checks(make_config(github=False), config.unit("bucket")) == {
        "syntax": "bucket/syntax", "module_refs": "bucket/module_refs", "ephemeral_test": "bucket/ephemeral_test"}


def test_after_a_push_nothing_has_run_at_the_new_head():
    status = assemble(make_config(), facts(pull=pull(head=NEW_HEAD)))  # the check runs and review are of HEAD
    (unit,) = status.units
    assert {s.state for s in unit.stages} == {"not run"} and {s.head_sha for s in unit.stages} == {None}
    test = env_of(status)
    assert conditions(test) == ["syntax", "module_refs", "ephemeral_test", "test_plan", "policy", "work_item",
                                "approval", "plan"]
    by = {w.condition: w.by for w in test.waits}
    assert by["syntax"] == PIPELINE and by["approval"] == PEOPLE and by["plan"] == PIPELINE
    assert "alice approved an older commit" in next(w.message for w in test.waits if w.condition == "approval")
    assert f"made at {HEAD[:12]}" in test.waits[-1].message
    assert not status.waits_only_on_people


def test_a_failed_stage_is_on_the_author_and_a_running_one_on_the_pipeline():
    runs = passing("storage/syntax", "storage/module_refs", "storage/ephemeral_test", "work_item") + (
        run("storage/plan (test)", "failure", id=10), run("storage/policy (test)", None, id=11))
    test = env_of(assemble(make_config(), facts(check_runs=runs)))
    waits = {w.condition: w for w in test.waits}
    assert set(waits) == {"test_plan", "policy"}
    assert waits["test_plan"].by == AUTHOR and "failed" in waits["test_plan"].message
    assert waits["policy"].by == PIPELINE and "is running" in waits["policy"].message


def test_the_authors_own_approval_never_counts_and_changes_requested_block():
    test = env_of(assemble(make_config(), facts(reviews=(review("dev"), review("bob", "CHANGES_REQUESTED")))))
    assert test.approvals.approvers == () and test.approvals.changes_requested == ("bob",)
    (wait,) = test.waits
    assert wait.condition == "approval" and wait.by == PEOPLE and "own approval does not count" in wait.message


def test_each_environment_counts_its_own_required_approvals():
    status = assemble(make_config(prod_approvals=2), facts())
    assert conditions(env_of(status)) == ["merge"]
    prod = env_of(status, environment="prod")
    assert prod.approvals.short() == "1 of 2 alice" and conditions(prod) == ["approval"]


def test_a_closed_pull_request_waits_for_nothing_but_a_reopen():
    test = env_of(assemble(make_config(), facts(pull=pull(state="closed"))))
    assert conditions(test) == ["closed"] and test.waits[0].by == PEOPLE


# -- after the merge ---------------------------------------------------------------------------------------------
def test_merged_the_test_deploy_is_the_pipelines_and_prod_waits_for_it():
    status = assemble(make_config(), facts(pull=pull(merged=True)))
    test, prod = env_of(status), env_of(status, environment="prod")
    assert conditions(test) == ["deploy"] and test.waits[0].by == PIPELINE and "storage/test_deploy" in test.next
    assert conditions(prod) == ["previous"] and "storage/test_deploy" in prod.waits[0].action
    assert not status.waits_only_on_people


def test_applied_to_test_prod_is_planned_then_launched_by_a_person():
    test_plan = plan()
    merged = facts(pull=pull(merged=True), applied=applied(test_plan))
    status = assemble(make_config(), merged)
    assert env_of(status).next == "nothing: applied" and env_of(status).applied.applied_by == "merge-job"
    prod = env_of(status, environment="prod")
    assert conditions(prod) == ["plan"] and "storage/prod_plan" in prod.waits[0].action

    prod_plan = plan("prod", char="2", commit=MERGE, created="2026-11-02T13:00:00Z")
    status = assemble(make_config(), ChangeFacts(**{**merged.__dict__, "plans": (prod_plan, test_plan)}))
    prod = env_of(status, environment="prod")
    assert prod.plan.plan_id == "2" * 64 and conditions(prod) == ["launch"] and prod.waits[0].by == PEOPLE
    assert prod.next == ("a person launches storage/release, then storage/prod_deploy for "
                         f"{CHANGE} with plan_id {'2' * 64}")
    assert status.waits_only_on_people and not status.done

    status = assemble(make_config(), ChangeFacts(**{**merged.__dict__, "plans": (prod_plan, test_plan),
                                                    "applied": {**applied(test_plan), **applied(prod_plan, "ops")}}))
    assert status.done and [e.next for e in status.units[0].environments] == ["nothing: applied"] * 2


def test_a_newer_plan_of_the_change_does_not_hide_the_applied_one():
    first, second = plan(), plan(char="3", created="2026-11-02T11:00:00Z")
    test = env_of(assemble(make_config(), facts(pull=pull(merged=True), plans=(second, first), applied=applied(first))))
    assert test.done and test.plan.plan_id == "3" * 64 and test.applied.plan_id == "1" * 64


# -- modules -----------------------------------------------------------------------------------------------------
def module_facts(**kwargs) -> ChangeFacts:
    return facts(units=("bucket",), plans=(), check_runs=passing("bucket/syntax", "bucket/module_refs", "bucket/ephemeral_test",
                                                                     "work_item"),
                 **kwargs)


def test_a_module_is_released_on_merge():
    (release,) = assemble(make_config(), module_facts()).units[0].environments
    assert release.environment == "release" and conditions(release) == ["merge"]
    (release,) = assemble(make_config(), module_facts(pull=pull(merged=True))).units[0].environments
    assert conditions(release) == ["release"] and release.waits[0].by == PIPELINE
    tags = (Tag("other/v9.0.0", MERGE), Tag("bucket/v1.3.0", MERGE))
    (release,) = assemble(make_config(), module_facts(pull=pull(merged=True), tags=tags)).units[0].environments
    assert release.released == "bucket/v1.3.0" and release.next == "nothing: released as bucket/v1.3.0"


# -- without GitHub ----------------------------------------------------------------------------------------------
def test_without_github_it_reports_what_the_plan_store_knows():
    record = plan()
    status = assemble(make_config(github=False), ChangeFacts(CHANGE, plans=(record,), applied=applied(record)))
    assert not status.github and "GitHub is not configured" in status.notes[0]
    (unit,) = status.units
    assert unit.stages == () and env_of(status).done and env_of(status, environment="prod").next.startswith("unknown")
    assert "GitHub not configured" in status.text()


def test_no_unit_and_no_plan_is_said_in_a_note():
    status = assemble(make_config(), facts(units=(), plans=(), check_runs=()))
    assert status.units == () and "no unit of gitops.yaml is touched by pr-7" in status.notes[0]


# -- text and JSON -----------------------------------------------------------------------------------------------
def test_text_is_a_compact_table_and_json_is_plain_data():
    status = assemble(make_config(), facts())
    text = status.text()
    assert text.splitlines()[0].startswith("pr-7 'Bigger bucket' by dev: open, head aaaaaaaaaaaa")
    assert "storage (project)" in text and "PR stages at aaaaaaaaaaaa: syntax passed, module_refs passed, ephemeral_test passed" in text
    header = next(line for line in text.splitlines() if "environment" in line)
    assert header.split() == ["environment", "plan", "approvals", "applied", "waits", "for"]
    assert any(line.split()[:2] == ["test", "1" * 12] and line.endswith("merge") for line in text.splitlines())
    payload = json.loads(json.dumps(status.to_json()))
    test = payload["units"][0]["environments"][0]
    assert test["plan"]["plan_id"] == "1" * 64 and test["approvals"]["approvers"] == ["alice"]
    assert [w["condition"] for w in test["waits_for"]] == ["merge"] and payload["waits_only_on_people"] is True
    assert payload["pull_request"]["head_sha"] == HEAD


# -- gathering: the use case over a gateway and a store ----------------------------------------------------------
class FakeStore:
    def __init__(self, records, applied_records=None):
        self.records, self.applied_records = list(records), applied_records or {}

    def list(self, unit=None, environment=None, change=None):
        return [r for r in self.records if change is None or r.binding.change == change]

    def applied(self, plan_id):
        return self.applied_records.get(plan_id)


class FakeGateway:
    repository, per_page = "acme/infra", 2

    def __init__(self, pr: PullRequest | None, runs: list[dict] = ()):
        self.pr, self.runs, self.asked = pr, list(runs), []

    def pull(self, number):
        if self.pr is None:
            raise GitHubError("not found", repository=self.repository, action="reading", status=404)
        return self.pr

    def reviews(self, number):
        return [review("alice")]

    def changed_files(self, number):
        return ["projects/storage/main.tf"]

    def tags(self):
        return []

    def _api(self, action, verb, url, params=None):
        self.asked.append((url, params))
        page = int(url.rsplit("=", 1)[1]) if "page=" in url else 1
        start = (page - 1) * self.per_page
        more = start + self.per_page < len(self.runs)
        link = f'<https://x/commits/{HEAD}/check-runs?per_page=2&page={page + 1}>; rel="next"'
        headers = {"Link": link} if more else {}
        return headers, {"total_count": len(self.runs), "check_runs": self.runs[start:start + self.per_page]}


def run_json(id: int, name: str, conclusion: str = "success") -> dict:
    return {"id": id, "name": name, "head_sha": HEAD, "status": "completed", "conclusion": conclusion,
            "output": {"title": "ok"}, "completed_at": "2026-11-02T10:00:00Z", "html_url": f"https://x/runs/{id}"}


def test_check_runs_reads_every_page_and_keeps_the_latest_run_of_each_name():
    gw = FakeGateway(pull(), [run_json(1, "storage/syntax", "failure"), run_json(2, "work_item"),
                              run_json(3, "storage/syntax")])
    found = check_runs(gw, HEAD)
    assert [(r.name, r.id, r.passed) for r in found] == [("storage/syntax", 3, True), ("work_item", 2, True)]
    assert gw.asked[0] == (f"/commits/{HEAD}/check-runs", {"filter": "latest", "per_page": 2})
    assert gw.asked[1][1] is None  # the next link carries the parameters


def test_change_status_gathers_from_the_gateway_and_the_store(tmp_path):
    config = make_config().model_copy(update={"root": tmp_path})
    runs = [run_json(i, name) for i, name in enumerate(STORAGE_CHECKS, 1)]
    status = change_status(config, FakeStore([plan(), plan(unit="storage", char="9").model_copy(
        update={"binding": plan().binding.model_copy(update={"change": "pr-8"})})]), FakeGateway(pull(), runs), CHANGE)
    assert [u.unit for u in status.units] == ["storage"] and env_of(status).plan_ids == ("1" * 64,)
    assert conditions(env_of(status)) == ["merge"]


def test_a_bad_change_key_or_a_missing_pull_request_is_a_usage_error(tmp_path):
    config = make_config().model_copy(update={"root": tmp_path})
    with pytest.raises(UsageError, match="pr-<number>"):
        change_status(config, FakeStore([]), FakeGateway(pull()), "12")
    with pytest.raises(UsageError, match="no pull request #7 in acme/infra"):
        change_status(config, FakeStore([]), FakeGateway(None), CHANGE)
    assert change_status(config, FakeStore([plan()]), None, CHANGE).units[0].unit == "storage"
