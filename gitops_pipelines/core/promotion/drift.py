"""Drift fan-out: every environment of a project checked side by side; reported, never applied, never a lock broken."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from gitops_pipelines.core.config import UnitConfig
from gitops_pipelines.core.errors import LockHeld
from gitops_pipelines.core.stages import DriftResult, drift
from gitops_pipelines.core.workspace import Workspace


def drift_all(ws: Workspace, unit: UnitConfig) -> list[DriftResult]:
    """Drift of every environment of a project, checked side by side (each has its own Terraform data folder)."""
    envs = [env.name for env in ws.config.unit_environments(unit)]
    if not envs:
        return []
    with ThreadPoolExecutor(max_workers=len(envs), thread_name_prefix=f"drift-{unit.name}") as pool:
        return list(pool.map(lambda env: _drift(ws, unit, env), envs))


def _drift(ws: Workspace, unit: UnitConfig, env: str) -> DriftResult:
    """One environment's drift; an apply holding the state lock (past terraform.lock_timeout) is reported, never
    broken: a drift check in the middle of an apply would report the apply's own half-done changes."""
    try:
        return drift(ws, unit, env)
    except LockHeld as held:
        return DriftResult(unit=unit.name, environment=env, status="locked", drifted=[], pending=[],
                           detail=str(held).split(". ", 1)[-1])
