"""When drift is checked: one job and one schedule per environment (its own `drift.cron`, else the top-level one),
each planning only the projects deployed there; every drift job runs at most `drift.parallelism` plans at once."""

import dagster as dg

from gitops_pipelines.core.config import GitopsConfig
from gitops_pipelines.core.vocabulary import DRIFT, DRIFT_JOB
from gitops_pipelines.defs.drift.assets import drift_check_name
from gitops_pipelines.defs.keys import key
from gitops_pipelines.defs.threads import side_by_side_threads


def drift_executor(config: GitopsConfig) -> dg.ExecutorDefinition:
    """One step per project, at most drift.parallelism at once, each in a thread of the run's process; each step
    plans its environments one after another, so no more than drift.parallelism drift plans (unit x environment)
    run in one drift run."""
    return side_by_side_threads.configured({"max_concurrent": config.drift.parallelism})


def drift_job_name(environment: str) -> str:
    return f"{DRIFT_JOB}_{environment}"


def drift_schedule_name(environment: str) -> str:
    return f"{drift_job_name(environment)}_schedule"


def environment_drift_job(config: GitopsConfig, environment: str):
    """The drift assets of the projects deployed to `environment` with only that environment's check: each step
    plans that one environment. None when no project is deployed there."""
    units = [u for u in config.projects if environment in {e.name for e in config.unit_environments(u)}]
    if not units:
        return None
    assets = dg.AssetSelection.assets(*(key(u.name, DRIFT) for u in units)).without_checks()
    checks = dg.AssetSelection.checks(*(dg.AssetCheckKey(key(u.name, DRIFT), drift_check_name(environment))
                                        for u in units))
    return dg.define_asset_job(drift_job_name(environment), selection=assets | checks,
                               executor_def=drift_executor(config),
                               description=f"plan every project deployed to {environment}; report drift, never apply")


def drift_schedules(config: GitopsConfig) -> tuple[list, list[dg.ScheduleDefinition]]:
    """(jobs, schedules): one of each per environment that has projects."""
    jobs, schedules = [], []
    for env in config.environments:
        job = environment_drift_job(config, env.name)
        if job is None:
            continue
        jobs.append(job)
        schedules.append(dg.ScheduleDefinition(
            name=drift_schedule_name(env.name), job=job, cron_schedule=config.drift_cron(env.name),
            default_status=dg.DefaultScheduleStatus.RUNNING,
            description=f"plan every project in {env.name} at the tip of main; report drift, never apply"))
    return jobs, schedules
