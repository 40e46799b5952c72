"""Drift: every environment of a project planned on that environment's schedule; reported as asset checks and
as one GitHub issue per unit and environment while it lasts, never applied."""


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
    """`[unit, drift]` with one check per environment; a run that selects some checks (a per-environment drift
    schedule) plans only those environments, so the asset can be subset."""
    asset_key = key(unit.name, DRIFT)
    envs = [env.name for env in config.unit_environments(unit)]

    @dg.multi_asset(
        name=f"{unit.name}__{DRIFT}", can_subset=True,
        specs=[dg.AssetSpec(asset_key, group_name=unit.name, kinds={"terraform"},
                            description=f"whether {unit.name}'s real infrastructure still matches its state, "
                                        "per environment")],
        check_specs=[dg.AssetCheckSpec(drift_check_name(env), asset=asset_key,
                                       description=f"fails when {env} was changed outside Terraform")
                     for env in envs])
    def _drift(context: dg.AssetExecutionContext, gitops: GitopsResource, github: OptionalGitHub):
        selected = {check.name for check in context.selected_asset_check_keys}
        chosen = [env for env in envs if drift_check_name(env) in selected] or envs
        with refusals():
            ws = gitops.workspace(context.log.info, gitops.main_commit())
            # one environment after another: the executor bounds the drift plans at once (drift.parallelism)
            results = promotion.drift_all(ws, ws.config.unit(unit.name), chosen, parallelism=1)
        for result in results:
            (context.log.info if result.status in ("no_drift", "pending_change") else context.log.warning)(
                result.summary())
        issues = _tell_github(context, github, ws, results)
        checks = [_check_result(r) for r in results if drift_check_name(r.environment) in selected]
        if asset_key not in context.selected_asset_keys:
            yield from checks
            return
        plans = {f"{r.environment}_plan_id": r.plan_id for r in results if r.plan_id}
        yield dg.MaterializeResult(asset_key=asset_key, check_results=checks,
                                   metadata={**{r.environment: r.status for r in results}, **plans, **issues})

    return _drift


def _check_result(result) -> dg.AssetCheckResult:
    """One environment's verdict; a locked state is a warning (not checked), drift an error."""
    metadata = {"status": result.status, "drifted": result.drifted, "pending": result.pending,
                "changes": dg.MetadataValue.json(result.changes)}
    if result.plan_id:  # what applying main's code would do, stored for review; applied only if a person chooses
        metadata["plan_id"] = result.plan_id
    if result.status != "locked":  # the policy's verdict on that plan, as on every plan
        metadata["policy"] = "passed" if result.policy_passed else "denied"
        metadata["policy_violations"] = result.policy_violations
    return dg.AssetCheckResult(
        check_name=drift_check_name(result.environment), passed=result.status not in ("drift", "locked"),
        severity=dg.AssetCheckSeverity.WARN if result.status == "locked" else dg.AssetCheckSeverity.ERROR,
        description=result.summary(), metadata=metadata)


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
