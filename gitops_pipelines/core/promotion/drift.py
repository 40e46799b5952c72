"""Drift fan-out: a project's environments checked, each with its own Terraform data folder; reported, never
applied, never a lock broken."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from gitops_pipelines.core.config import UnitConfig
from gitops_pipelines.core.errors import LockHeld
from gitops_pipelines.core.stages import DriftResult, drift
from gitops_pipelines.core.workspace import Workspace


def drift_all(ws: Workspace, unit: UnitConfig, environments: Sequence[str] | None = None, *,
              parallelism: int | None = None) -> list[DriftResult]:
    """Drift of the project's environments (default: all of them), in promotion order.

    parallelism: environments checked at once (default: all). The Dagster drift jobs pass 1: there the executor
    bounds how many drift plans run at once (drift.parallelism), one step per unit."""
    known = [env.name for env in ws.config.unit_environments(unit)]
    envs = [env for env in known if environments is None or env in environments]
    if not envs:
        return []
    workers = max(1, min(parallelism or len(envs), len(envs)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"drift-{unit.name}") as pool:
        return list(pool.map(lambda env: _drift(ws, unit, env), envs))


def _drift(ws: Workspace, unit: UnitConfig, env: str) -> DriftResult:
    """One environment's drift; an apply holding the state lock (past terraform.lock_timeout) is reported, never
    broken: a drift check in the middle of an apply would report the apply's own half-done changes."""
    try:
        return drift(ws, unit, env)
    except LockHeld as held:
        return DriftResult(unit=unit.name, environment=env, status="locked", drifted=[], pending=[],
                           detail=str(held).split(". ", 1)[-1])
