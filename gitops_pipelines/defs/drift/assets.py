"""Drift: every environment of a project planned on a schedule; reported as asset checks and as one GitHub issue
per unit and environment while it lasts, never applied."""


import dagster as dg

from gitops_pipelines.core import promotion
from gitops_pipelines.core.config import GitopsConfig, UnitConfig
from gitops_pipelines.core.errors import GitopsError
from gitops_pipelines.core.github.drift_issues import publish_drift
from gitops_pipelines.core.redact import Redactor
from gitops_pipelines.core.vocabulary import DRIFT
from gitops_pipelines.defs.keys import key
from gitops_pipelines.defs.refusals import refusals
from gitops_pipelines.resources import GitopsResource
from gitops_pipelines.resources.github import OptionalGitHub


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
    def _drift(context: dg.AssetExecutionContext, gitops: GitopsResource,
               github: OptionalGitHub) -> dg.MaterializeResult:
        with refusals():
            ws = gitops.workspace(context.log.info, gitops.main_commit())
            results = promotion.drift_all(ws, ws.config.unit(unit.name))
        for result in results:
            (context.log.info if result.status in ("no_drift", "pending_change") else context.log.warning)(
                result.summary())
        issues = _tell_github(context, github, ws, results)
        return dg.MaterializeResult(
            metadata={**{r.environment: r.status for r in results}, **issues},
            check_results=[dg.AssetCheckResult(
                check_name=drift_check_name(r.environment), passed=r.status not in ("drift", "locked"),
                severity=dg.AssetCheckSeverity.WARN if r.status == "locked" else dg.AssetCheckSeverity.ERROR,
                description=r.summary(),
                metadata={"status": r.status, "drifted": r.drifted, "pending": r.pending,
                          "changes": dg.MetadataValue.json(r.changes)}) for r in results])

    return _drift


def _tell_github(context: dg.AssetExecutionContext, github, ws, results) -> dict[str, str]:
    """Each environment's drift issue opened, updated or closed; GitHub being down is logged, never a failure
    of the drift check (the next one tells GitHub again)."""
    if github is None:
        return {}
    redact = Redactor([value for env in ws.config.environments for value in env.secret_values()])
    gateway = github.gateway(context.log.debug)
    told = {}
    for result in results:
        try:
            issue = publish_drift(gateway, result, github.run_url(context.run.run_id), redact)
        except GitopsError as exc:
            context.log.warning(f"{result.unit}/{result.environment}: could not update the drift issue: {exc}")
            continue
        context.log.info(issue.describe(result.unit, result.environment))
        if issue.number is not None:
            told[f"{result.environment}_issue"] = f"#{issue.number} {issue.action}"
    return told


def drift_schedule(config: GitopsConfig, job) -> dg.ScheduleDefinition:
    """Runs the drift job on gitops.yaml's drift.cron."""
    return dg.ScheduleDefinition(name="drift_schedule", job=job, cron_schedule=config.drift.cron,
                                 default_status=dg.DefaultScheduleStatus.RUNNING,
                                 description="plan every environment of every project; report drift, never apply")
