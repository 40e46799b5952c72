"""GitHub -> runs: the pull-request poll and the webhook sensors."""

from gitops_pipelines.defs.github.sensors import build_sensors as build_defs

__all__ = ["build_defs"]
