"""The promotion gate before every apply: PR stages, approvals and the plan, all bound to the merged head (pure)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gitops_pipelines.core.config import GitopsConfig
from gitops_pipelines.core.errors import GateRefused, PlanRefused
from gitops_pipelines.core.github.models import Review
from gitops_pipelines.core.promotion import (GateInputs, StageResult, enforce_gate, evaluate_gate,
                                             required_pr_stages)

OLD, HEAD, MERGE = "a" * 40, "b" * 40, "c" * 40
PLAN_ID = "d" * 64
STAGES = ("syntax", "ephemeral_test", "test_plan", "policy", "work_item")


def review(who: str, state: str = "APPROVED", commit: str | None = HEAD, at: str = "01") -> Review:
    return Review(reviewer=who, state=state, commit_id=commit, submitted_at=f"2026-11-02T10:{at}:00Z")


def passed(at: str | None = HEAD, ok: bool = True) -> dict[str, StageResult]:
    return {name: StageResult(name, ok, at) for name in STAGES}


def inputs(**changes) -> GateInputs:
    """A change that passes the gate; each test breaks one thing."""
    good = GateInputs(unit="storage", environment="test", change="pr-7", head_sha=HEAD, merge_sha=MERGE,
                      required_stages=STAGES, stages=passed(), reviews=[review("alice")], author="carol",
                      approvals_required=1, plan_id=PLAN_ID, plan_head_sha=HEAD, plan_commit=HEAD)
    return replace(good, **changes)


def conditions(verdict) -> list[str]:
    return [r.condition for r in verdict.refusals]


def test_all_good_passes_and_lists_the_approvers():
    verdict = evaluate_gate(inputs(reviews=[review("bob"), review("alice")]))
    assert verdict.passed and verdict.refusals == ()
    assert verdict.approvers == ("alice", "bob")
    text = verdict.explain()
    assert "storage/test: pr-7 may be applied at the merged head bbbbbbbbbbbb" in text
    assert "approved by alice, bob" in text and "dddddddddddd" in text
    assert enforce_gate(inputs()).passed


def test_merged_without_approval_is_refused():
    verdict = evaluate_gate(inputs(reviews=[]))
    assert not verdict.passed and conditions(verdict) == ["approval"]
    (refusal,) = verdict.refusals
    assert refusal.message == ("storage/test: pr-7 is not approved: 0 of 1 required approving review of the merged "
                               "head bbbbbbbbbbbb")
    assert refusal.action == "ask for 1 more approving review of bbbbbbbbbbbb"


def test_merged_with_a_failing_stage_is_refused():
    stages = {**passed(), "ephemeral_test": StageResult("ephemeral_test", False, HEAD)}
    verdict = evaluate_gate(inputs(stages=stages))
    assert conditions(verdict) == ["ephemeral_test"]
    assert "storage/test: ephemeral_test failed for pr-7 at bbbbbbbbbbbb" in verdict.refusals[0].message
    assert "storage/ephemeral_test" in verdict.refusals[0].action


def test_a_stage_that_has_not_run_is_refused():
    stages = {k: v for k, v in passed().items() if k != "policy"}
    (refusal,) = evaluate_gate(inputs(stages=stages)).refusals
    assert refusal.condition == "policy"
    assert str(refusal) == ("storage/test: policy has not run for pr-7 at bbbbbbbbbbbb: run the PR checks for pr-7 "
                            "(the pr_checks job) at bbbbbbbbbbbb")


def test_an_approval_of_an_older_head_does_not_count():
    verdict = evaluate_gate(inputs(reviews=[review("alice", commit=OLD)]))
    assert conditions(verdict) == ["approval"] and verdict.approvers == ()
    (refusal,) = verdict.refusals
    assert "alice approved an older commit, not bbbbbbbbbbbb (stale)" in refusal.message
    assert "ask for 1 more approving review of bbbbbbbbbbbb (alice may re-review)" == refusal.action


def test_a_push_after_the_approval_needs_a_new_approval():
    # alice approved A; then B was pushed (and merged): every stage re-ran at B, the plan too, but nobody approved B
    verdict = evaluate_gate(inputs(reviews=[review("alice", commit=OLD), review("alice", "COMMENTED", HEAD, "05")]))
    assert conditions(verdict) == ["approval"]
    assert "alice approved an older commit" in verdict.refusals[0].message


def test_the_authors_own_approval_does_not_count():
    verdict = evaluate_gate(inputs(reviews=[review("carol")], author="carol"))
    assert conditions(verdict) == ["approval"] and verdict.approvers == ()
    assert "the author carol's own approval does not count" in verdict.refusals[0].message
    # logins compare case-insensitively, as on GitHub
    assert not evaluate_gate(inputs(reviews=[review("Carol")], author="carol")).passed


def test_changes_requested_blocks_even_with_enough_approvals():
    reviews = [review("alice"), review("bob"), review("dave", "CHANGES_REQUESTED", OLD)]
    verdict = evaluate_gate(inputs(reviews=reviews, approvals_required=2))
    assert conditions(verdict) == ["approval"]
    (refusal,) = verdict.refusals
    assert "changes requested by dave" in refusal.message and "2 of 2 required" in refusal.message
    assert refusal.action == "ask dave to approve bbbbbbbbbbbb or dismiss their review"


def test_two_required_with_one_approval():
    verdict = evaluate_gate(inputs(approvals_required=2))
    (refusal,) = verdict.refusals
    assert "1 of 2 required approving reviews of the merged head bbbbbbbbbbbb (approved by alice)" in refusal.message
    assert refusal.action == "ask for 1 more approving review of bbbbbbbbbbbb"
    assert evaluate_gate(inputs(approvals_required=2, reviews=[review("alice"), review("bob")])).passed


def test_zero_required_passes_unless_blocked():
    assert evaluate_gate(inputs(approvals_required=0, reviews=[])).passed
    blocked = evaluate_gate(inputs(approvals_required=0, reviews=[review("bob", "CHANGES_REQUESTED")]))
    assert conditions(blocked) == ["approval"]


def test_a_stage_that_passed_at_an_older_head_is_refused():
    stages = {**passed(), "syntax": StageResult("syntax", True, OLD)}
    (refusal,) = evaluate_gate(inputs(stages=stages)).refusals
    assert refusal.condition == "syntax"
    assert str(refusal) == ("storage/test: syntax passed at aaaaaaaaaaaa but the merged head of pr-7 is bbbbbbbbbbbb: "
                            "re-run the PR checks for pr-7 (the pr_checks job) at bbbbbbbbbbbb")


def test_a_plan_bound_to_an_older_head_is_refused():
    (refusal,) = evaluate_gate(inputs(plan_head_sha=OLD, plan_commit=OLD)).refusals
    assert refusal.condition == "plan"
    assert refusal.message == ("storage/test: plan dddddddddddd was made at aaaaaaaaaaaa, not at the merged head "
                               "bbbbbbbbbbbb or the merge commit cccccccccccc")
    assert refusal.action.startswith("re-plan: materialize storage/test_plan for pr-7 again")


def test_a_plan_made_on_the_merge_commit_is_accepted():
    assert evaluate_gate(inputs(plan_head_sha=OLD, plan_commit=MERGE)).passed
    # before a merge there is no merge commit: an unknown plan commit must not match it
    assert conditions(evaluate_gate(inputs(merge_sha=None, plan_head_sha=OLD, plan_commit=None))) == ["plan"]


def test_no_stored_plan_is_refused():
    (refusal,) = evaluate_gate(inputs(plan_id=None, plan_head_sha=None, plan_commit=None)).refusals
    assert refusal.condition == "plan" and "no stored test plan for pr-7" in refusal.message


def test_what_applies_no_plan_is_gated_on_stages_and_approvals_alone():
    module = inputs(plan_id=None, plan_head_sha=None, plan_commit=None, plan_required=False,
                    required_stages=("syntax", "ephemeral_test"))
    assert evaluate_gate(module).passed
    assert conditions(evaluate_gate(replace(module, reviews=[]))) == ["approval"]
    assert conditions(evaluate_gate(replace(module, plan_required=True))) == ["plan"]


def test_an_unknown_head_is_refused_outright():
    verdict = evaluate_gate(inputs(head_sha="", plan_head_sha=""))
    assert conditions(verdict) == ["head"]


def test_several_failures_are_reported_together():
    stages = {**passed(), "syntax": StageResult("syntax", True, OLD), "policy": StageResult("policy", False, HEAD)}
    del stages["work_item"]
    verdict = evaluate_gate(inputs(stages=stages, reviews=[review("alice", commit=OLD)], plan_head_sha=OLD,
                                   plan_commit=OLD))
    assert conditions(verdict) == ["syntax", "policy", "work_item", "approval", "plan"]
    lines = verdict.explain().splitlines()
    assert lines[0] == "storage/test: pr-7 may not be applied at the merged head bbbbbbbbbbbb (5 problems):"
    assert lines[1:] == [f"- {r}" for r in verdict.refusals]


def test_enforce_gate_raises_with_every_message_and_exit_code_3():
    with pytest.raises(GateRefused) as caught:
        enforce_gate(inputs(reviews=[], stages={}, plan_id=None))
    error = caught.value
    assert isinstance(error, PlanRefused) and error.exit_code == 3
    assert (error.unit, error.environment, error.change) == ("storage", "test", "pr-7")
    assert len(error.refusals) == len(STAGES) + 2
    for refusal in error.refusals:
        assert refusal.message in str(error) and refusal.action in str(error)


def _config(github: bool) -> GitopsConfig:
    raw = {"environments": [{"name": "test"}, {"name": "prod"}],
           "units": [{"name": "bucket", "kind": "module", "path": "modules/bucket"},
                     {"name": "storage", "kind": "project", "path": "projects/storage", "environments": ["prod"]}]}
    if github:
        raw["github"] = {"repository": "acme/infra"}
    return GitopsConfig.model_validate(raw)


def test_required_pr_stages_follow_the_config():
    assert required_pr_stages(_config(github=False), "bucket") == ("syntax", "module_refs", "ephemeral_test")
    with_github = _config(github=True)
    assert required_pr_stages(with_github, "bucket") == ("syntax", "module_refs", "ephemeral_test", "work_item")
    # a project's PR plan is its first environment's
    assert required_pr_stages(with_github, with_github.unit("storage")) == (
        "syntax", "module_refs", "ephemeral_test", "prod_plan", "policy", "work_item")
