"""Dagster objects only: per-unit assets built from gitops.yaml, asset checks, jobs and schedules."""

from gitops_pipelines.defs.build import build_unit_defs

__all__ = ["build_unit_defs"]
