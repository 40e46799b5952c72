"""Drift: every project's environments planned on a schedule, reported as asset checks, never applied."""

import dagster as dg

from gitops_pipelines.core.config import GitopsConfig
from gitops_pipelines.core.vocabulary import DRIFT_JOB
from gitops_pipelines.defs.drift.assets import drift_asset, drift_schedule


def build_defs(config: GitopsConfig, jobs: dict) -> dg.Definitions:
    assets = [drift_asset(config, unit) for unit in config.units if unit.is_project]
    schedules = [drift_schedule(config, jobs[DRIFT_JOB])] if DRIFT_JOB in jobs else []
    return dg.Definitions(assets=assets, schedules=schedules)
