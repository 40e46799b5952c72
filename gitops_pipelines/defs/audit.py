"""The audit trail from the Dagster event log (SQLite or PostgreSQL): every deploy's materialization and the
change's release, handed to the core's audit rows; and `audit/production_changes`, an asset whose
materialization is that table, so the UI answers "what changed production" too."""


from typing import Any

import dagster as dg

from gitops_pipelines.core.audit import DeployEvent, audit_rows, to_markdown
from gitops_pipelines.core.config import GitopsConfig
from gitops_pipelines.core.vocabulary import RELEASE, deploy_stage
from gitops_pipelines.defs.keys import key
from gitops_pipelines.resources import GitopsResource

PAGE = 500


def deploy_events(instance: dg.DagsterInstance, config: GitopsConfig) -> tuple[list[DeployEvent], dict]:
    """Every deploy materialization of every project and environment, and each change's newest release."""
    events, releases = [], {}
    for unit in config.projects:
        for env in config.unit_environments(unit):
            for record in _all(instance, key(unit.name, deploy_stage(env.name))):
                events.append(DeployEvent(record.timestamp, unit.name, env.name, record.partition_key or "",
                                          _metadata(record)))
        for record in _all(instance, key(unit.name, RELEASE)):  # newest first: the first one counts
            releases.setdefault((unit.name, record.partition_key or ""), _metadata(record))
    return events, releases


def _all(instance: dg.DagsterInstance, asset_key: dg.AssetKey):
    cursor = None
    while True:
        page = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=asset_key), limit=PAGE,
                                               cursor=cursor)
        yield from page.records
        if not page.has_more:
            return
        cursor = page.cursor


def _metadata(record) -> dict[str, Any]:
    return {name: value.value for name, value in record.asset_materialization.metadata.items()}


def audit_key(config: GitopsConfig) -> dg.AssetKey:
    """`audit/production_changes`; in a layout of several repositories (gitops.yaml lists `repositories:`), each
    one's code location has its own: `audit/<owner>/<name>/production_changes`, since asset keys are
    instance-wide."""
    if config.repositories and config.github is not None:
        return dg.AssetKey(["audit", *config.github.repository.split("/"), "production_changes"])
    return dg.AssetKey(["audit", "production_changes"])


def audit_asset(config: GitopsConfig) -> dg.AssetsDefinition:
    last = config.environments[-1].name

    @dg.asset(key=audit_key(config), group_name="audit",
              description=f"every apply to {last}: when, the change, who approved on GitHub, who released, the "
                          "plan_id and what it changed (refreshed after every deploy by the audit_after_deploys "
                          "sensor; the CLI: gitops-pipelines audit)")
    def _audit(context: dg.AssetExecutionContext, gitops: GitopsResource) -> dg.MaterializeResult:
        ws = gitops.workspace(context.log.info, gitops.main_commit())  # reads the plan store, runs nothing
        events, releases = deploy_events(context.instance, ws.config)
        rows = audit_rows(events, releases, ws.store, environment=last)
        context.log.info(f"{len(rows)} apply(s) to {last}")
        return dg.MaterializeResult(metadata={
            "applies": len(rows), "table": dg.MetadataValue.md(to_markdown(rows)),
            "rows": dg.MetadataValue.json([r.__dict__ for r in rows])})

    return _audit


AUDIT_JOB = "audit"


def audit_defs(config: GitopsConfig) -> dg.Definitions:
    """The audit asset, its job, and a sensor that refreshes it after every run that deployed something."""
    if not config.projects:
        return dg.Definitions()
    asset = audit_asset(config)
    job = dg.define_asset_job(AUDIT_JOB, selection=[asset.key], description=f"refresh {asset.key.to_user_string()}")
    deploys = {key(unit.name, deploy_stage(env.name)) for unit in config.projects
               for env in config.unit_environments(unit)}

    @dg.run_status_sensor(name="audit_after_deploys", run_status=dg.DagsterRunStatus.SUCCESS, request_job=job,
                          default_status=dg.DefaultSensorStatus.RUNNING, minimum_interval_seconds=15,
                          description="refreshes audit/production_changes after each run that deployed a plan")
    def _after_deploys(context: dg.RunStatusSensorContext):
        run = context.dagster_run
        if run.job_name == AUDIT_JOB or not _deployed(context.instance, run, deploys):
            return dg.SkipReason(f"run {run.run_id[:8]} ({run.job_name}) deployed nothing")
        return dg.RunRequest(run_key=f"audit-after-{run.run_id}")

    return dg.Definitions(assets=[asset], jobs=[job], sensors=[_after_deploys])


def _deployed(instance: dg.DagsterInstance, run: dg.DagsterRun, deploys: set[dg.AssetKey]) -> bool:
    """Whether the run materialized one of the deploy assets (a merge, prod_deploy, or a launch from the graph)."""
    materialized = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records
    return any(r.event_log_entry.dagster_event.asset_key in deploys for r in materialized)
