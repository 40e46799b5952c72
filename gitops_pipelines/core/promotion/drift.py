"""Drift fan-out: every environment of a project checked side by side; reported, never applied."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from gitops_pipelines.core.config import UnitConfig
from gitops_pipelines.core.stages import DriftResult, drift
from gitops_pipelines.core.workspace import Workspace


def drift_all(ws: Workspace, unit: UnitConfig) -> list[DriftResult]:
    """Drift of every environment of a project, checked side by side (each has its own Terraform data folder)."""
    envs = [env.name for env in ws.config.unit_environments(unit)]
    if not envs:
        return []
    with ThreadPoolExecutor(max_workers=len(envs), thread_name_prefix=f"drift-{unit.name}") as pool:
        return list(pool.map(lambda env: drift(ws, unit, env), envs))
