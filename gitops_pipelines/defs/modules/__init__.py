"""Modules: after a merge, the next semantic version as a git tag and a GitHub Release."""

import dagster as dg

from gitops_pipelines.core.config import GitopsConfig
from gitops_pipelines.defs.modules.assets import module_release_asset


def build_defs(config: GitopsConfig) -> dg.Definitions:
    return dg.Definitions(assets=[module_release_asset(unit) for unit in config.units if not unit.is_project])
