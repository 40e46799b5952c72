"""Which stored plan a deploy applies: the one the plan stage recorded for the change, still the newest for it,
and not made stale by another apply to the same unit and environment."""

from __future__ import annotations

from gitops_pipelines.core.errors import PlanNotFound, PlanRefused, PlanStale
from gitops_pipelines.core.plan_store import PlanRecord
from gitops_pipelines.core.timestamps import parse_time
from gitops_pipelines.core.vocabulary import plan_stage as plan_stage_of
from gitops_pipelines.core.workspace import Workspace


def deployable_plan(ws: Workspace, unit: str, environment: str, change: str,
                    recorded_plan_id: str | None) -> PlanRecord:
    """The stored plan a deploy must apply: the one the plan stage recorded for this change, if it is still the
    newest stored plan for it and nothing was applied to the environment since it was made."""
    plan_stage = f"{unit}/{plan_stage_of(environment)}"
    if not recorded_plan_id:
        raise PlanNotFound(f"{unit}/{environment}: no stored {environment} plan for {change}; run the plan first "
                           f"(materialize {plan_stage} for {change}), review it, then deploy")
    newest = ws.store.latest(unit, environment, change)
    if newest is None:
        raise PlanNotFound(f"{unit}/{environment}: {plan_stage} recorded plan {recorded_plan_id} for {change}, but the "
                           f"plan store {ws.store.location} has no plan for it; run the plan again "
                           f"(materialize {plan_stage} for {change})")
    if newest.plan_id != recorded_plan_id:
        raise PlanRefused(f"{unit}/{environment}: {plan_stage} recorded plan {recorded_plan_id[:12]} for {change}, but "
                          f"the newest stored plan for it is {newest.plan_id[:12]}; re-run {plan_stage} for {change} "
                          "so the plan applied is the one shown in the asset's materialization")
    record = ws.store.get(recorded_plan_id).record  # verifies every stored byte
    if ws.store.applied(record.plan_id) is None:
        _refuse_if_stale(ws, record)
    return record


def _refuse_if_stale(ws: Workspace, record: PlanRecord) -> None:
    why = stale_reason(ws, record)
    if why:
        b = record.binding
        raise PlanStale(f"{b.unit}/{b.environment}: plan {record.short_id} for {b.change} is stale: {why}. Re-plan: "
                        f"materialize {b.unit}/{b.environment}_plan for {b.change} again and review the new plan_id")


def stale_reason(ws: Workspace, record: PlanRecord) -> str | None:
    """Why a plan is stale (another plan was applied to the same unit and environment after it was made), or None."""
    b = record.binding
    made = parse_time(record.created_at)
    for other in ws.store.list(unit=b.unit, environment=b.environment):
        if other.plan_id == record.plan_id:
            continue
        applied = ws.store.applied(other.plan_id)
        if applied is not None and parse_time(applied.applied_at) > made:
            by = f" for {other.binding.change}" if other.binding.change else ""
            return f"plan {other.short_id}{by} was applied at {applied.applied_at}, after it was made"
    return None
