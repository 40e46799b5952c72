"""Which plan the deploy after a merge applies. The approved PR plan, byte for byte, when the merge commit holds the
unit source it was made from and the state has not moved; otherwise a new plan made on the merge commit, applied
without a person only when its resource changes are identical to the approved ones. A merge commit that commits a
lock file selecting other providers than the plan's is refused, not re-planned: the upgrade gets its own review.
Safe to re-execute: a re-plan an earlier attempt made on the same merge commit is reused, never made twice."""

from __future__ import annotations

from dataclasses import dataclass

from gitops_pipelines.core.changes.source import source_hash
from gitops_pipelines.core.errors import PlanNotFound, PlanRefused
from gitops_pipelines.core.plan_store import PlanRecord
from gitops_pipelines.core.promotion.deploys import stale_reason
from gitops_pipelines.core.promotion.replan import (APPLY_STORED, REPLAN, WAIT_FOR_PERSON, Decision, Replanned, after_replan,
                                                    decide_after_merge)
from gitops_pipelines.core.stages import plan as make_plan
from gitops_pipelines.core.stages.apply import refuse_changed_lock_file
from gitops_pipelines.core.vocabulary import plan_stage
from gitops_pipelines.core.workspace import Workspace


@dataclass(frozen=True)
class MergeDeploy:
    """The plan to apply after the merge, the approved plan it stands for, and how it was chosen."""

    approved: PlanRecord
    record: PlanRecord
    decision: Decision
    replanned: Replanned | None = None

    @property
    def waits_for_person(self) -> bool:
        return self.replanned is not None and self.replanned.outcome == WAIT_FOR_PERSON

    def message(self) -> str:
        if self.replanned is None:
            return self.decision.message
        return f"{self.decision.message}\n{self.replanned.message(self.approved, self.record)}"


def merge_deploy_plan(ws: Workspace, unit: str, environment: str, change: str, recorded_plan_id: str | None, *,
                      head_sha: str, base_sha: str | None, merge_sha: str,
                      chosen_plan_id: str | None = None) -> MergeDeploy:
    """The plan the deploy of `environment` applies on the merge commit (the workspace's checkout).

    chosen_plan_id: a person's choice after reading the diff (the re-plan's plan_id); anything else is refused."""
    stage = f"{unit}/{plan_stage(environment)}"
    if not recorded_plan_id:
        raise PlanNotFound(f"{unit}/{environment}: no stored {environment} plan for {change}; run the PR checks "
                           f"(materialize {stage} for {change}), review the plan, then merge")
    approved_stored = ws.store.get(recorded_plan_id)  # verifies every stored byte
    approved = approved_stored.record
    newest = ws.store.latest(unit, environment, change)
    if newest is not None and newest.plan_id != approved.plan_id:
        if newest.binding.commit != merge_sha:
            raise PlanRefused(f"{unit}/{environment}: {stage} recorded plan {approved.short_id} for {change}, but the "
                              f"newest stored plan for it is {newest.short_id}; re-run {stage} for {change} so the "
                              "plan applied is the one shown in the asset's materialization")
        # an earlier attempt re-planned on this very merge commit: decide on that plan again, do not plan twice
        return _chosen(ws, approved, newest, chosen_plan_id, _replan_decision(approved, merge_sha))

    if ws.store.applied(approved.plan_id) is not None:  # re-executed after it was applied: apply says so
        return MergeDeploy(approved, approved, decide_after_merge(approved, approved.binding.source_hash or "",
                                                                  False, merge_commit=merge_sha))
    refuse_changed_lock_file(ws, approved_stored)  # a provider upgrade on main is not re-planned away
    unit_cfg = ws.config.unit(unit)
    merged_source = source_hash(ws.config, unit_cfg, lock_file=approved_stored.lock_file())
    decision = decide_after_merge(approved, merged_source, stale_reason(ws, approved) is not None,
                                  merge_commit=merge_sha)
    if decision.outcome == APPLY_STORED:
        if chosen_plan_id and chosen_plan_id.strip() != approved.plan_id:
            raise PlanRefused(f"{unit}/{environment}: plan_id {chosen_plan_id.strip()[:12]} is not the plan to apply "
                              f"for {change}: the approved plan {approved.short_id} applies as it is (launch without "
                              "a plan_id, or with that one)")
        return MergeDeploy(approved, approved, decision)
    new = make_plan(ws, unit_cfg, environment, change, head_sha=head_sha, base_sha=base_sha).record
    return _chosen(ws, approved, new, chosen_plan_id, decision)


def _replan_decision(approved: PlanRecord, merge_sha: str) -> Decision:
    return Decision(REPLAN, ("an earlier attempt re-planned it",),
                    f"{approved.binding.where}: the approved plan {approved.short_id} was re-planned on the merge "
                    f"commit {merge_sha[:12]} by an earlier attempt of this deploy; deciding on that plan.",
                    approved.plan_id)


def _chosen(ws: Workspace, approved: PlanRecord, new: PlanRecord, chosen_plan_id: str | None,
            decision: Decision) -> MergeDeploy:
    replanned = after_replan(ws.store.get(approved.plan_id).plan_json(), ws.store.get(new.plan_id).plan_json())
    if chosen_plan_id and chosen_plan_id.strip() != new.plan_id:
        b = new.binding
        raise PlanRefused(f"{b.unit}/{b.environment}: plan_id {chosen_plan_id.strip()[:12]} is not the re-plan of "
                          f"{b.change} on the merge commit; that plan is {new.plan_id} (see the diff on the pull "
                          "request). Read it and launch again with its plan_id")
    if chosen_plan_id:  # a person read the diff and chose exactly this plan
        return MergeDeploy(approved, new, decision, Replanned("apply_new", replanned.diff))
    return MergeDeploy(approved, new, decision, replanned)
