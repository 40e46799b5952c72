"""Drift: every project's environments planned on a schedule per environment, reported as asset checks, never
applied. The `drift` job (every environment) is built with the other jobs; the per-environment ones here."""

import dagster as dg

from gitops_pipelines.core.config import GitopsConfig
from gitops_pipelines.defs.drift.assets import drift_asset
from gitops_pipelines.defs.drift.schedules import drift_executor, drift_schedules

__all__ = ["build_defs", "drift_executor"]


def build_defs(config: GitopsConfig, jobs: dict | None = None) -> dg.Definitions:
    """The drift assets, and a job and schedule per environment (`jobs`, the shared ones, need nothing here)."""
    assets = [drift_asset(config, unit) for unit in config.units if unit.is_project]
    env_jobs, schedules = drift_schedules(config)
    return dg.Definitions(assets=assets, jobs=env_jobs, schedules=schedules)
