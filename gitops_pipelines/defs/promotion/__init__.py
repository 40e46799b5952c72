"""Promotion of a project: per environment its stored plan and its deploy, and the release decision before the
last environment."""

import dagster as dg

from gitops_pipelines.core.config import GitopsConfig
from gitops_pipelines.defs.promotion.assets import project_assets


def build_defs(config: GitopsConfig) -> dg.Definitions:
    return dg.Definitions(assets=[a for unit in config.units if unit.is_project for a in project_assets(config, unit)])
