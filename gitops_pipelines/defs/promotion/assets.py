"""A project's promotion chain: plan, deploy and release assets, one pair per environment in promotion order.

The sample (test auto-applied, prod manual) gives: test_plan -> test_deploy -> prod_plan -> release -> prod_deploy.
"""


import dagster as dg

from gitops_pipelines.core import promotion
from gitops_pipelines.core import stages as core
from gitops_pipelines.core.config import EnvironmentConfig, GitopsConfig, UnitConfig
from gitops_pipelines.core.errors import PlanRefused
from gitops_pipelines.core.promotion.commits import AFTER_MERGE, PR_TIME
from gitops_pipelines.core.vocabulary import POLICY, RELEASE, deploy_stage, plan_stage
from gitops_pipelines.defs.checkouts import merged_checkout
from gitops_pipelines.defs.keys import apply_pool, key
from gitops_pipelines.defs.lineage import latest_metadata, recorded_plan_id
from gitops_pipelines.defs.metadata import deploy_metadata, plan_metadata
from gitops_pipelines.defs.partitions import changes
from gitops_pipelines.defs.pr_checks.reporting import reporting
from gitops_pipelines.defs.promotion.feedback import deploy_feedback
from gitops_pipelines.defs.promotion.gating import gate, proven_approver
from gitops_pipelines.defs.promotion.releasing import make_release, release_metadata, release_note
from gitops_pipelines.defs.refusals import refusals
from gitops_pipelines.defs.run_config import ApprovalConfig, MergeDeployConfig
from gitops_pipelines.defs.run_tags import refuse_untrusted, run_commits, triggered_by
from gitops_pipelines.resources import GitopsResource
from gitops_pipelines.resources.github import OptionalGitHub

POLICY_CHECK = POLICY


def project_assets(config: GitopsConfig, unit: UnitConfig) -> list[dg.AssetsDefinition]:
    """Per environment `<env>_plan` and `<env>_deploy`, and `release` before the last environment's deploy."""
    envs = config.unit_environments(unit)
    last = envs[-1]
    release_key = key(unit.name, RELEASE)
    assets: list[dg.AssetsDefinition] = []
    for i, env in enumerate(envs):
        previous = envs[i - 1] if i else None
        plan_deps = [key(unit.name, deploy_stage(previous.name))] if previous else []
        assets.append(plan_asset(unit, env, plan_deps, phase=AFTER_MERGE if previous else PR_TIME))
        if env.auto_apply:
            assets.append(auto_deploy_asset(unit, env))
        else:
            assets.append(approved_deploy_asset(unit, env, previous, release_key, released=env is last))
    assets.append(release_asset(unit, last, envs[-2] if len(envs) > 1 else None))
    return assets


def plan_asset(unit: UnitConfig, env: EnvironmentConfig, deps: list[dg.AssetKey], phase: str) -> dg.AssetsDefinition:
    """The first environment is planned at PR time on the head; a later one after the merge, on the merge commit."""
    asset_key = key(unit.name, plan_stage(env.name))

    @dg.asset(key=asset_key, group_name=unit.name, partitions_def=changes, deps=deps, kinds={"terraform"},
              description=f"the stored {env.name} plan of {unit.name} for a change: made once, applied byte for byte",
              check_specs=[dg.AssetCheckSpec(POLICY_CHECK, asset=asset_key, blocking=True,
                                             description="security policy; a failing plan is never applied")])
    def _plan(context: dg.AssetExecutionContext, gitops: GitopsResource,
              github: OptionalGitHub) -> dg.MaterializeResult:
        with refusals():
            commits = run_commits(context, github)
        if phase == PR_TIME:  # a fork's code is not planned unless main allows it
            refuse_untrusted(context, github, gitops, unit.name, plan_stage(env.name), commits)
        with refusals():
            ws = gitops.workspace(context.log.info, commits.for_phase(phase))
        with reporting(context, github, ws.config, unit.name, plan_stage(env.name), commits.head_sha) as report, \
                refusals():
            # PR code plans with the environment's plan-only credentials; merged (reviewed) code with the deploy ones
            result = core.plan(ws, ws.config.unit(unit.name), env.name, context.partition_key,
                               head_sha=commits.head_sha, base_sha=commits.base_sha,
                               credentials="plan" if phase == PR_TIME else "deploy")
            report(result)
        context.log.info(result.summary())
        return dg.MaterializeResult(metadata=plan_metadata(result, ws.store.location), check_results=[
            dg.AssetCheckResult(check_name=POLICY_CHECK, passed=result.policy_passed,
                                severity=dg.AssetCheckSeverity.ERROR, metadata={
                                    "plan_id": result.plan_id, "violations": len(result.violations),
                                    "report": dg.MetadataValue.md(result.policy_markdown)})])

    return _plan


def auto_deploy_asset(unit: UnitConfig, env: EnvironmentConfig) -> dg.AssetsDefinition:
    plan_key = key(unit.name, plan_stage(env.name))

    @dg.asset(key=key(unit.name, deploy_stage(env.name)), group_name=unit.name, partitions_def=changes,
              deps=[plan_key], pool=apply_pool(unit.name, env.name), kinds={"terraform"},
              description=f"applies the stored {env.name} plan recorded by {plan_key.to_user_string()}")
    def _deploy(context: dg.AssetExecutionContext, config: MergeDeployConfig, gitops: GitopsResource,
                github: OptionalGitHub) -> dg.MaterializeResult:
        change, who = context.partition_key, triggered_by(context)
        commits, ws = merged_checkout(context, gitops, github)
        with deploy_feedback(context, github, unit.name, env.name, commits.merge_sha or commits.head_sha,
                             ws.config.environment(env.name).secret_values()) as report, refusals():
            chosen = config.plan_id.strip() or None
            if chosen:  # a person chose a re-plan that differs: GitHub must vouch for them
                who = proven_approver(context, ws, github, unit.name, env.name, commits, config.approved_by)
            recorded = recorded_plan_id(context, plan_key, change)
            # the gate first, on the approved plan: no re-plan is made for a change that may not be applied
            verdict = gate(context, ws, github, unit.name, env.name, commits,
                           ws.store.get(recorded).record if recorded else None)
            context.log.info(verdict.explain())
            picked = promotion.merge_deploy_plan(
                ws, unit.name, env.name, change, recorded, head_sha=commits.head_sha, base_sha=commits.base_sha,
                merge_sha=commits.for_phase(AFTER_MERGE), chosen_plan_id=chosen)
            context.log.info(picked.message())
            if picked.waits_for_person:
                report.waiting(picked.message(), picked.replanned.diff.markdown())
                raise PlanRefused(picked.message())
            report.applying(picked.record.plan_id)
            result = core.apply(ws, picked.record.plan_id, environment=env.name, unit=unit.name, change=change,
                                applied_by=who)
            report.applied(result.summary() + _replanned_note(picked))
        context.log.info(result.summary())
        approval = {"approved_by": who if chosen else ", ".join(verdict.approvers), "head_sha": commits.head_sha,
                    "merge_sha": commits.merge_sha or "", "reviewed_by": ", ".join(verdict.approvers),
                    "approved_plan_id": picked.approved.plan_id}
        if picked.replanned is not None:
            approval.update({"replanned": picked.decision.reason or "", "reason": config.reason,
                             "result": result.summary() + _replanned_note(picked),
                             "diff": dg.MetadataValue.md(picked.replanned.diff.markdown())})
        return dg.MaterializeResult(metadata=deploy_metadata(result, plan_key, who, approval))

    return _deploy


def _replanned_note(picked) -> str:
    if picked.replanned is None:
        return ""
    return (f" (re-planned on the merge commit: {picked.decision.reason}; {picked.replanned.diff.summary()}; "
            f"approved plan {picked.approved.short_id})")


def approved_deploy_asset(unit: UnitConfig, env: EnvironmentConfig, previous: EnvironmentConfig | None,
                          release_key: dg.AssetKey, released: bool) -> dg.AssetsDefinition:
    plan_key = key(unit.name, plan_stage(env.name))

    @dg.asset(key=key(unit.name, deploy_stage(env.name)), group_name=unit.name, partitions_def=changes,
              deps=[plan_key, release_key], pool=apply_pool(unit.name, env.name), kinds={"terraform"},
              description=f"applies exactly the stored {env.name} plan a person approved (launch with its plan_id)")
    def _deploy(context: dg.AssetExecutionContext, config: ApprovalConfig, gitops: GitopsResource,
                github: OptionalGitHub) -> dg.MaterializeResult:
        change = context.partition_key
        commits, ws = merged_checkout(context, gitops, github)
        with deploy_feedback(context, github, unit.name, env.name, commits.merge_sha or commits.head_sha,
                             ws.config.environment(env.name).secret_values(), production=released) as report, \
                refusals():
            record = _approved_plan(context, ws, unit, env, previous, config)
            approver = proven_approver(context, ws, github, unit.name, env.name, commits, config.approved_by)
            if released:
                promotion.check_released(record, recorded_plan_id(context, release_key, change))
            verdict = gate(context, ws, github, unit.name, env.name, commits, record)
            context.log.info(verdict.explain())
            report.applying(record.plan_id)
            result = core.apply(ws, record.plan_id, environment=env.name, unit=unit.name, change=change,
                                applied_by=approver)
            report.applied(result.summary())
        context.log.info(result.summary())
        if released:
            release_note(context, github, latest_metadata(context, release_key, change) or {}, env.name,
                         result.summary())
        approval = {"approved_by": approver, "reason": config.reason, "approved_plan_id": config.plan_id,
                    "reviewed_by": ", ".join(verdict.approvers), "head_sha": commits.head_sha,
                    "merge_sha": commits.merge_sha or ""}
        return dg.MaterializeResult(metadata=deploy_metadata(result, plan_key, triggered_by(context), approval))

    return _deploy


def _approved_plan(context: dg.AssetExecutionContext, ws, unit: UnitConfig, env: EnvironmentConfig,
                   previous: EnvironmentConfig | None, config: ApprovalConfig):
    """The core's approved-plan check, fed with what this change's materializations recorded."""
    change = context.partition_key
    previous_id = (recorded_plan_id(context, key(unit.name, deploy_stage(previous.name)), change)
                   if previous is not None else None)
    recorded = recorded_plan_id(context, key(unit.name, plan_stage(env.name)), change)
    return promotion.approved_plan(
        ws, unit.name, env.name, change, recorded_plan_id=recorded, approved_plan_id=config.plan_id,
        approved_by=config.approved_by, previous_environment=previous.name if previous is not None else None,
        previous_deployed_plan_id=previous_id)


def release_asset(unit: UnitConfig, env: EnvironmentConfig, previous: EnvironmentConfig | None) -> dg.AssetsDefinition:
    """The decision to take a change to the last environment, bound to the plan the person reviewed: the next
    version tagged on the merge commit, and a GitHub Release that says what that environment gets."""
    plan_key = key(unit.name, plan_stage(env.name))

    @dg.asset(key=key(unit.name, RELEASE), group_name=unit.name, partitions_def=changes, deps=[plan_key],
              kinds={"terraform"}, description=f"a person approves the stored {env.name} plan (typed run config)")
    def _release(context: dg.AssetExecutionContext, config: ApprovalConfig, gitops: GitopsResource,
                 github: OptionalGitHub) -> dg.MaterializeResult:
        change = context.partition_key
        commits, ws = merged_checkout(context, gitops, github)
        with refusals():
            record = _approved_plan(context, ws, unit, env, previous, config)
            approver = proven_approver(context, ws, github, unit.name, env.name, commits, config.approved_by)
        context.log.info(f"{unit.name}: plan {record.short_id} for {change} approved by {approver}")
        summary = (f"{record.summary.add} to add, {record.summary.change} to change, "
                   f"{record.summary.destroy} to destroy, {record.summary.replace} to replace")
        tested = {}  # what the deploy to the environment before recorded
        if previous is not None:
            tested = latest_metadata(context, key(unit.name, deploy_stage(previous.name)), change) or {}
        facts = promotion.ProductionFacts(env.name, record.plan_id, summary, str(tested.get("result") or ""),
                                          approver, config.reason, str(tested.get("approved_by") or ""))
        sha = commits.for_phase(AFTER_MERGE)
        with refusals():
            release = make_release(context, ws, github, unit.name, sha, production=facts)
        return dg.MaterializeResult(metadata={
            "decision": "approved", "plan_id": record.plan_id, "plan_asset": plan_key.to_user_string(),
            "approved_by": approver, "reason": config.reason, "head_sha": record.binding.head_sha or "",
            "summary": summary, **release_metadata(release, sha),
        })

    return _release
