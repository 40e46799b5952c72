"""Every asset, check, job and schedule that one gitops.yaml describes."""

from __future__ import annotations

import dagster as dg

from gitops_pipelines.core.config import GitopsConfig
from gitops_pipelines.defs.drift import drift_asset, drift_schedule
from gitops_pipelines.defs.jobs import DRIFT_JOB, build_jobs
from gitops_pipelines.defs.module import module_assets
from gitops_pipelines.defs.project import project_assets


def build_unit_defs(config: GitopsConfig) -> dg.Definitions:
    """Per unit: its stage assets (group = unit); then the jobs over them and the drift schedule."""
    assets: list[dg.AssetsDefinition] = []
    for unit in config.units:
        if unit.is_project:
            assets += [*project_assets(config, unit), drift_asset(config, unit)]
        else:
            assets += module_assets(unit)
    jobs = build_jobs(config)
    schedules = [drift_schedule(config, jobs[DRIFT_JOB])] if DRIFT_JOB in jobs else []
    return dg.Definitions(assets=assets, jobs=list(jobs.values()), schedules=schedules)
