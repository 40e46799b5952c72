"""Where a change stands, per unit and environment: which PR stages passed at which commit, the stored plans, the
approvals, what was applied, and what it waits for next (the promotion gate's refusals, then merge, deploy, launch).

`gather_facts` reads GitHub (the pull request, its reviews, the check runs of its head) and the plan store;
`assemble` is pure and decides; `change_status` does both. Nothing here needs Dagster.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from gitops_pipelines.core.changes.detection import affected_units
from gitops_pipelines.core.changes.versioning import tag_format
from gitops_pipelines.core.config import EnvironmentConfig, GitopsConfig, UnitConfig
from gitops_pipelines.core.errors import UsageError
from gitops_pipelines.core.github.approvals import decide_required
from gitops_pipelines.core.github.checks_read import CheckRun, check_runs
from gitops_pipelines.core.github.errors import GitHubError
from gitops_pipelines.core.github.rendering import check_name
from gitops_pipelines.core.plan_store import PlanRecord
from gitops_pipelines.core.promotion.gate import GateInputs, GateRefusal, StageResult, evaluate_gate, required_pr_stages
from gitops_pipelines.core.promotion.status_models import (  # noqa: F401 - part of this module's API
    PASSED, FAILED, RUNNING, NOT_RUN, PEOPLE, PIPELINE, AUTHOR, MERGE, DEPLOY, LAUNCH, PREVIOUS, CLOSED, NOT_CONFIGURED, StageStatus, Approvals, PlanInfo, AppliedInfo, Wait, EnvironmentStatus, UnitStatus, ChangeStatus, ChangeFacts,
)
from gitops_pipelines.core.vocabulary import (APPROVAL, EPHEMERAL_TEST, MODULE_REFS, PLAN, POLICY, RELEASE, SYNTAX, WORK_ITEM,
                                              deploy_stage, plan_stage, pr_number)

# -- the use case ------------------------------------------------------------------------------------------------
def change_status(config: GitopsConfig, store: Any, gateway: Any, change: str) -> ChangeStatus:
    """Where the change stands; gateway None reports what the plan store knows."""
    return assemble(config, gather_facts(config, store, gateway, change))


def change_number(change: str) -> int:
    """The pull request number of a change key (`pr-12` -> 12); UsageError for anything else."""
    number = pr_number(change)
    if number is None:
        raise UsageError(f"{change!r} is not a change: name a pull request as pr-<number>, e.g. pr-12")
    return number


def gather_facts(config: GitopsConfig, store: Any, gateway: Any, change: str) -> ChangeFacts:
    """Read the pull request, its reviews and head check runs (when gateway is given) and the change's plans."""
    number = change_number(change)
    plans = tuple(store.list(change=change))
    applied = {p.plan_id: a for p in plans if (a := store.applied(p.plan_id)) is not None}
    if gateway is None:
        return ChangeFacts(change, plans=plans, applied=applied)
    try:
        pull = gateway.pull(number)
    except GitHubError as exc:
        if exc.status == 404:
            raise UsageError(f"{change}: there is no pull request #{number} in {gateway.repository} (or the token "
                             "cannot see it)") from exc
        raise
    units = tuple(u.name for u in affected_units(config, gateway.changed_files(number)))
    facts = ChangeFacts(change, pull, tuple(gateway.reviews(number)), tuple(check_runs(gateway, pull.head_sha)),
                        units, plans, applied)
    if pull.merged and any(u.kind == "module" for u in _units_of(config, facts)):  # is it released yet?
        facts = replace(facts, tags=tuple(gateway.tags()))
    return facts


# -- the decision (pure) -----------------------------------------------------------------------------------------
def assemble(config: GitopsConfig, facts: ChangeFacts) -> ChangeStatus:
    """The status of every unit of the change (the units its files touch, that have stored plans for it, or that
    reported checks on its head), in gitops.yaml order."""
    units = _units_of(config, facts)
    unknown = sorted({p.binding.unit for p in facts.plans} - {u.name for u in config.units})
    notes = [] if facts.pull is not None else [NOT_CONFIGURED]
    if unknown:
        notes.append(f"the plan store has plans of {facts.change} for units gitops.yaml no longer declares: "
                     f"{', '.join(unknown)}")
    if not units:
        notes.append(f"no unit of gitops.yaml is touched by {facts.change}, and the plan store has no plan for it")
    return ChangeStatus(facts.change, facts.pull, tuple(_unit_status(config, facts, u) for u in units), tuple(notes))


def _units_of(config: GitopsConfig, facts: ChangeFacts) -> list[UnitConfig]:
    named = {*facts.units, *(p.binding.unit for p in facts.plans)}
    return [u for u in config.units if u.name in named or _unit_has_checks(config, u, facts)]


def stage_checks(config: GitopsConfig, unit: UnitConfig) -> dict[str, str]:
    """The gate's required PR stages of the unit -> the check-run names the flow reports them under."""
    first = config.unit_environments(unit)[0].name if unit.is_project else None
    names = {SYNTAX: check_name(unit.name, SYNTAX), MODULE_REFS: check_name(unit.name, MODULE_REFS),
             EPHEMERAL_TEST: check_name(unit.name, EPHEMERAL_TEST), WORK_ITEM: WORK_ITEM}
    if first is not None:
        names |= {plan_stage(first).name: check_name(unit.name, PLAN, first),
                  POLICY: check_name(unit.name, POLICY, first)}
    return {stage: names[stage] for stage in required_pr_stages(config, unit)}


def _unit_has_checks(config: GitopsConfig, unit: UnitConfig, facts: ChangeFacts) -> bool:
    own = {name for stage, name in stage_checks(config, unit).items() if stage != WORK_ITEM}
    return any(run.name in own for run in facts.check_runs)


def _unit_status(config: GitopsConfig, facts: ChangeFacts, unit: UnitConfig) -> UnitStatus:
    stages: tuple[StageStatus, ...] = ()
    if facts.pull is not None:
        # what ran at another commit says nothing about the head (after a push, nothing has run there yet)
        runs = {run.name: run for run in facts.check_runs if run.head_sha == facts.pull.head_sha}
        stages = tuple(_stage(stage, name, runs.get(name)) for stage, name in stage_checks(config, unit).items())
    envs = config.unit_environments(unit)
    if not envs:
        return UnitStatus(unit.name, unit.kind, stages, (_module_release(config, facts, unit, stages),))
    found: list[EnvironmentStatus] = []
    for i, env in enumerate(envs):
        found.append(_environment(config, facts, unit, env, stages, previous=(envs[i - 1], found[-1]) if i else None))
    return UnitStatus(unit.name, unit.kind, stages, tuple(found))


def _stage(stage: str, name: str, run: CheckRun | None) -> StageStatus:
    if run is None:
        return StageStatus(stage, name, NOT_RUN)
    if run.status != "completed":
        return StageStatus(stage, name, RUNNING, run.head_sha)
    return StageStatus(stage, name, PASSED if run.passed else FAILED, run.head_sha, run.conclusion)


def _environment(config: GitopsConfig, facts: ChangeFacts, unit: UnitConfig, env: EnvironmentConfig,
                 stages: tuple[StageStatus, ...],
                 previous: tuple[EnvironmentConfig, EnvironmentStatus] | None) -> EnvironmentStatus:
    plans = [p for p in facts.plans if p.binding.unit == unit.name and p.binding.environment == env.name]
    newest = plans[0] if plans else None
    applied = next((AppliedInfo(a.plan_id, a.applied_at, a.applied_by, a.state_serial)
                    for p in plans if (a := facts.applied.get(p.plan_id)) is not None), None)
    base = EnvironmentStatus(env.name, env.auto_apply, PlanInfo.of(newest) if newest else None,
                             tuple(p.plan_id for p in plans), applied=applied)
    pull = facts.pull
    if pull is None:
        return replace(base, known=False)
    approvals = _approvals(facts, env.approvals.required)
    if applied is not None:
        return replace(base, approvals=approvals)
    waits = _closed(facts) or _env_waits(config, facts, unit, env, stages, newest, previous)
    return replace(base, approvals=approvals, waits=waits)


def _env_waits(config: GitopsConfig, facts: ChangeFacts, unit: UnitConfig, env: EnvironmentConfig,
               stages: tuple[StageStatus, ...], newest: PlanRecord | None,
               previous: tuple[EnvironmentConfig, EnvironmentStatus] | None) -> tuple[Wait, ...]:
    pull, change, where = facts.pull, facts.change, f"{unit.name}/{env.name}"
    previous_done = previous is None or previous[1].done
    # a later environment is planned after the merge, once the one before it is deployed: no plan yet is expected
    plan_due = newest is not None or previous is None or (pull.merged and previous_done)
    verdict = evaluate_gate(_gate_inputs(config, facts, unit.name, env.name, stages, newest,
                                         env.approvals.required, plan_required=True))
    waits = [_wait(r, stages, where, pull.head_sha) for r in verdict.refusals if plan_due or r.condition != PLAN]
    if previous is not None and pull.merged and not previous_done:
        prev = previous[0]
        waits.insert(0, Wait(PREVIOUS, f"{where}: {change} is not applied to {prev.name} yet",
                             f"deploy it to {prev.name} first ({unit.name}/{deploy_stage(prev.name)}); then "
                             f"{unit.name}/{plan_stage(env.name)} plans {env.name}",
                             PIPELINE if prev.auto_apply else PEOPLE))
    if waits:
        return tuple(waits)
    if not pull.merged:
        later = "" if previous is None else f" ({env.name} is planned after the merge)"
        return (Wait(MERGE, f"{where}: {change} is open and every condition holds{later}",
                     "merge the pull request", PEOPLE),)
    plan_id = newest.plan_id if newest else ""
    if env.auto_apply:
        return (Wait(DEPLOY, f"{where}: plan {plan_id[:12]} passes the gate and is not applied yet",
                     f"the merge job applies it ({unit.name}/{deploy_stage(env.name)} for {change}); re-execute that "
                     "step if it failed", PIPELINE),)
    is_last = env.name == config.unit_environments(unit)[-1].name
    steps = (f"{unit.name}/{RELEASE}, then " if is_last else "") + f"{unit.name}/{deploy_stage(env.name)}"
    return (Wait(LAUNCH, f"{where}: plan {plan_id[:12]} passes the gate and waits for a person",
                 f"a person launches {steps} for {change} with plan_id {plan_id}", PEOPLE),)


def _module_release(config: GitopsConfig, facts: ChangeFacts, unit: UnitConfig,
                    stages: tuple[StageStatus, ...]) -> EnvironmentStatus:
    pull = facts.pull
    if pull is None:
        return EnvironmentStatus(RELEASE, True, known=False)
    approvals = _approvals(facts, config.approvals.required)
    fmt = tag_format(config.releases.tag_format, len(config.units))
    released = next((t.name for t in facts.tags if pull.merged and t.sha == pull.merge_commit_sha
                     and fmt.versions(unit.name, [t.name])[0]), None)
    if released is not None:
        return EnvironmentStatus(RELEASE, True, approvals=approvals, released=released)
    waits = _closed(facts)
    if not waits:
        verdict = evaluate_gate(_gate_inputs(config, facts, unit.name, RELEASE, stages, None,
                                             config.approvals.required, plan_required=False))
        waits = tuple(_wait(r, stages, f"{unit.name}/{RELEASE}", pull.head_sha) for r in verdict.refusals)
    if not waits:
        where = f"{unit.name}/{RELEASE}"
        waits = ((Wait(MERGE, f"{where}: {facts.change} is open and every condition holds",
                       "merge the pull request (the module is released on merge)", PEOPLE),) if not pull.merged else
                 (Wait(RELEASE, f"{where}: {facts.change} is merged but {unit.name} is not released at "
                                f"{(pull.merge_commit_sha or '')[:12]} yet",
                       f"the merge job releases it ({where} for {facts.change}); re-execute that step if it failed",
                       PIPELINE),))
    return EnvironmentStatus(RELEASE, True, approvals=approvals, waits=waits)


def _gate_inputs(config: GitopsConfig, facts: ChangeFacts, unit: str, environment: str,
                 stages: tuple[StageStatus, ...], plan: PlanRecord | None, approvals_required: int, *,
                 plan_required: bool) -> GateInputs:
    pull = facts.pull
    # a running or missing stage gives no result: the gate then says it has not run at the head
    results = {s.stage: StageResult(s.stage, s.state == PASSED, s.head_sha) for s in stages
               if s.state in (PASSED, FAILED)}
    binding = plan.binding if plan is not None else None
    return GateInputs(unit=unit, environment=environment, change=facts.change, head_sha=pull.head_sha,
                      merge_sha=pull.merge_commit_sha if pull.merged else None,
                      required_stages=tuple(s.stage for s in stages), stages=results, reviews=facts.reviews,
                      author=pull.author or None, approvals_required=approvals_required,
                      plan_id=plan.plan_id if plan is not None else None,
                      plan_head_sha=binding.head_sha if binding is not None else None,
                      plan_commit=getattr(binding, "commit", None), plan_required=plan_required)


def _wait(refusal: GateRefusal, stages: tuple[StageStatus, ...], where: str, head_sha: str) -> Wait:
    """A gate refusal as a wait, with who it is on: a failed stage at the head needs a fix (or a re-run) by the
    author; a stage that has not run there, a plan to make or re-make are the pipeline's; approvals are people's."""
    stage = next((s for s in stages if s.stage == refusal.condition), None)
    if stage is None:
        return Wait(refusal.condition, refusal.message, refusal.action,
                    PEOPLE if refusal.condition == APPROVAL else PIPELINE)
    if stage.state == RUNNING:
        return Wait(stage.stage, f"{where}: {stage.stage} is running at {(stage.head_sha or head_sha)[:12]}",
                    "wait for the PR checks to finish", PIPELINE)
    failed_here = stage.state == FAILED and stage.head_sha == head_sha
    return Wait(stage.stage, refusal.message, refusal.action, AUTHOR if failed_here else PIPELINE)


def _approvals(facts: ChangeFacts, required: int) -> Approvals:
    tally = decide_required(facts.reviews, facts.pull.head_sha, required=required, author=facts.pull.author or None)
    return Approvals(required, tally.approvers, tally.stale, tally.blocked_by)


def _closed(facts: ChangeFacts) -> tuple[Wait, ...]:
    pull = facts.pull
    if pull.state == "closed" and not pull.merged:
        return (Wait(CLOSED, f"{facts.change} was closed without merging", "nothing to do; reopen it to go on",
                     PEOPLE),)
    return ()
