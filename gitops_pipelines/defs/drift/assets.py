"""Drift: every environment of a project planned on a schedule; reported as asset checks, never applied."""


import dagster as dg

from gitops_pipelines.core import promotion
from gitops_pipelines.core.config import GitopsConfig, UnitConfig
from gitops_pipelines.core.vocabulary import DRIFT
from gitops_pipelines.defs.keys import key
from gitops_pipelines.defs.refusals import refusals
from gitops_pipelines.resources import GitopsResource


def drift_check_name(environment: str) -> str:
    return f"no_drift_{environment}"


def drift_asset(config: GitopsConfig, unit: UnitConfig) -> dg.AssetsDefinition:
    asset_key = key(unit.name, DRIFT)
    envs = [env.name for env in config.unit_environments(unit)]

    @dg.asset(key=asset_key, group_name=unit.name, kinds={"terraform"},
              description=f"whether {unit.name}'s real infrastructure still matches its state, per environment",
              check_specs=[dg.AssetCheckSpec(drift_check_name(env), asset=asset_key,
                                             description=f"fails when {env} was changed outside Terraform")
                           for env in envs])
    def _drift(context: dg.AssetExecutionContext, gitops: GitopsResource) -> dg.MaterializeResult:
        with refusals():
            ws = gitops.workspace(context.log.info, gitops.main_commit())
            results = promotion.drift_all(ws, ws.config.unit(unit.name))
        for result in results:
            (context.log.warning if result.status == "drift" else context.log.info)(result.summary())
        return dg.MaterializeResult(
            metadata={r.environment: r.status for r in results},
            check_results=[dg.AssetCheckResult(
                check_name=drift_check_name(r.environment), passed=r.status != "drift",
                severity=dg.AssetCheckSeverity.ERROR, description=r.summary(),
                metadata={"status": r.status, "drifted": r.drifted, "pending": r.pending}) for r in results])

    return _drift


def drift_schedule(config: GitopsConfig, job) -> dg.ScheduleDefinition:
    """Runs the drift job on gitops.yaml's drift.cron."""
    return dg.ScheduleDefinition(name="drift_schedule", job=job, cron_schedule=config.drift.cron,
                                 default_status=dg.DefaultScheduleStatus.RUNNING,
                                 description="plan every environment of every project; report drift, never apply")
