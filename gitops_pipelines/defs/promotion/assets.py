"""A project's promotion chain: plan, deploy and release assets, one pair per environment in promotion order.

The sample (test auto-applied, prod manual) gives: test_plan -> test_deploy -> prod_plan -> release -> prod_deploy.
"""


import dagster as dg

from gitops_pipelines.core import flow
from gitops_pipelines.core import stages as core
from gitops_pipelines.core.config import EnvironmentConfig, GitopsConfig, UnitConfig
from gitops_pipelines.defs.approvals import ApprovalConfig
from gitops_pipelines.defs.lineage import recorded_plan_id
from gitops_pipelines.defs.metadata import deploy_metadata, plan_metadata
from gitops_pipelines.defs.github_feedback import reporting
from gitops_pipelines.defs.partitions import changes
from gitops_pipelines.defs.pr_stages import ephemeral_test_asset, syntax_asset
from gitops_pipelines.defs.refusals import refusals
from gitops_pipelines.defs.run_tags import BASE_SHA, HEAD_SHA, bound_commit, tag, triggered_by
from gitops_pipelines.defs.stages import RELEASE, apply_pool, deploy_stage, key, plan_stage
from gitops_pipelines.resources import GitopsResource
from gitops_pipelines.resources.github import OptionalGitHub

POLICY_CHECK = "policy"


def project_assets(config: GitopsConfig, unit: UnitConfig) -> list[dg.AssetsDefinition]:
    """syntax, ephemeral_test, then per environment `<env>_plan` and `<env>_deploy`, and `release` before the
    last environment's deploy."""
    envs = config.unit_environments(unit)
    last = envs[-1]
    release_key = key(unit.name, RELEASE)
    assets = [syntax_asset(unit), ephemeral_test_asset(unit)]
    for i, env in enumerate(envs):
        previous = envs[i - 1] if i else None
        plan_deps = [key(unit.name, deploy_stage(previous.name))] if previous else []
        assets.append(plan_asset(unit, env, plan_deps))
        if env.auto_apply:
            assets.append(auto_deploy_asset(unit, env))
        else:
            assets.append(approved_deploy_asset(unit, env, previous, release_key, released=env is last))
    assets.append(release_asset(unit, last, envs[-2] if len(envs) > 1 else None))
    return assets


def plan_asset(unit: UnitConfig, env: EnvironmentConfig, deps: list[dg.AssetKey]) -> dg.AssetsDefinition:
    asset_key = key(unit.name, plan_stage(env.name))

    @dg.asset(key=asset_key, group_name=unit.name, partitions_def=changes, deps=deps, kinds={"terraform"},
              description=f"the stored {env.name} plan of {unit.name} for a change: made once, applied byte for byte",
              check_specs=[dg.AssetCheckSpec(POLICY_CHECK, asset=asset_key, blocking=True,
                                             description="security policy; a failing plan is never applied")])
    def _plan(context: dg.AssetExecutionContext, gitops: GitopsResource,
              github: OptionalGitHub) -> dg.MaterializeResult:
        ws = gitops.workspace(context.log.info, bound_commit(context))
        with reporting(context, github, ws.config, unit.name, plan_stage(env.name)) as report, refusals():
            result = core.plan(ws, ws.config.unit(unit.name), env.name, context.partition_key,
                               head_sha=tag(context, HEAD_SHA), base_sha=tag(context, BASE_SHA))
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
    def _deploy(context: dg.AssetExecutionContext, gitops: GitopsResource) -> dg.MaterializeResult:
        ws = gitops.workspace(context.log.info, bound_commit(context))
        change, who = context.partition_key, triggered_by(context)
        with refusals():
            record = flow.deployable_plan(ws, unit.name, env.name, change, recorded_plan_id(context, plan_key, change))
            result = core.apply(ws, record.plan_id, environment=env.name, unit=unit.name, change=change,
                                applied_by=who)
        context.log.info(result.summary())
        return dg.MaterializeResult(metadata=deploy_metadata(result, plan_key, who))

    return _deploy


def approved_deploy_asset(unit: UnitConfig, env: EnvironmentConfig, previous: EnvironmentConfig | None,
                          release_key: dg.AssetKey, released: bool) -> dg.AssetsDefinition:
    plan_key = key(unit.name, plan_stage(env.name))

    @dg.asset(key=key(unit.name, deploy_stage(env.name)), group_name=unit.name, partitions_def=changes,
              deps=[plan_key, release_key], pool=apply_pool(unit.name, env.name), kinds={"terraform"},
              description=f"applies exactly the stored {env.name} plan a person approved (launch with its plan_id)")
    def _deploy(context: dg.AssetExecutionContext, config: ApprovalConfig,
                gitops: GitopsResource) -> dg.MaterializeResult:
        ws, change = gitops.workspace(context.log.info, bound_commit(context)), context.partition_key
        with refusals():
            record = _approved_plan(context, ws, unit, env, previous, config)
            if released:
                flow.check_released(record, recorded_plan_id(context, release_key, change))
            result = core.apply(ws, record.plan_id, environment=env.name, unit=unit.name, change=change,
                                applied_by=config.approved_by)
        context.log.info(result.summary())
        approval = {"approved_by": config.approved_by, "reason": config.reason, "approved_plan_id": config.plan_id}
        return dg.MaterializeResult(metadata=deploy_metadata(result, plan_key, triggered_by(context), approval))

    return _deploy


def _approved_plan(context: dg.AssetExecutionContext, ws, unit: UnitConfig, env: EnvironmentConfig,
                   previous: EnvironmentConfig | None, config: ApprovalConfig):
    """The stored plan this person approved: the one the plan asset recorded for this change, exactly the plan_id
    they saw, and (when there is an environment before this one) already deployed there."""
    change = context.partition_key
    plan_key = key(unit.name, plan_stage(env.name))
    record = flow.deployable_plan(ws, unit.name, env.name, change, recorded_plan_id(context, plan_key, change))
    flow.check_approval(record, config.plan_id, config.approved_by)
    if previous is not None:
        previous_key = key(unit.name, deploy_stage(previous.name))
        flow.check_deployed(ws, unit.name, previous.name, change, recorded_plan_id(context, previous_key, change))
    return record


def release_asset(unit: UnitConfig, env: EnvironmentConfig, previous: EnvironmentConfig | None) -> dg.AssetsDefinition:
    """The decision to take a change to the last environment, bound to the plan the person reviewed."""
    plan_key = key(unit.name, plan_stage(env.name))

    @dg.asset(key=key(unit.name, RELEASE), group_name=unit.name, partitions_def=changes, deps=[plan_key],
              kinds={"terraform"}, description=f"a person approves the stored {env.name} plan (typed run config)")
    def _release(context: dg.AssetExecutionContext, config: ApprovalConfig,
                 gitops: GitopsResource) -> dg.MaterializeResult:
        ws, change = gitops.workspace(context.log.info, bound_commit(context)), context.partition_key
        with refusals():
            record = _approved_plan(context, ws, unit, env, previous, config)
        context.log.info(f"{unit.name}: plan {record.short_id} for {change} approved by {config.approved_by}")
        return dg.MaterializeResult(metadata={
            "decision": "approved", "plan_id": record.plan_id, "plan_asset": plan_key.to_user_string(),
            "approved_by": config.approved_by, "reason": config.reason, "head_sha": record.binding.head_sha or "",
            "summary": f"{record.summary.add} to add, {record.summary.change} to change, "
                       f"{record.summary.destroy} to destroy, {record.summary.replace} to replace",
        })

    return _release
