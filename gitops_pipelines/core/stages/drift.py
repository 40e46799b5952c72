"""drift(unit, env): has the real infrastructure moved away from the state, or the code away from both? Never applies."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from gitops_pipelines.core.config import CredentialSet, UnitConfig
from gitops_pipelines.core.plan_diff import attribute_changes
from gitops_pipelines.core.stages.plan import init_for, stage_env
from gitops_pipelines.core.workspace import Workspace

DriftStatus = Literal["no_drift", "drift", "pending_change", "locked"]


class DriftResult(BaseModel):
    unit: str
    environment: str
    status: DriftStatus
    drifted: list[str]  # addresses changed outside Terraform
    pending: list[str]  # addresses the code would change
    changes: dict[str, list[str]] = {}  # per drifted address: the attributes changed, sensitive values masked
    detail: str = ""  # why it could not be checked (locked)

    def summary(self) -> str:
        if self.status == "locked":
            return (f"{self.unit}/{self.environment}: not checked: another run holds the state lock (the lock is "
                    f"left alone; the next drift check tries again). {self.detail}")
        if self.status == "drift":
            return f"{self.unit}/{self.environment}: drift in {', '.join(self.drifted)}"
        if self.status == "pending_change":
            return f"{self.unit}/{self.environment}: no drift; code not yet applied changes {', '.join(self.pending)}"
        return f"{self.unit}/{self.environment}: no drift"


def drift(ws: Workspace, unit: UnitConfig, env_name: str, *, credentials: CredentialSet = "plan") -> DriftResult:
    """A refresh-only plan finds drift; a normal plan finds code that was merged but not applied.

    Both are plans that are never applied, so they run with the environment's plan_credentials when it names some."""
    env = ws.project_environment(unit, env_name)
    unit_dir = ws.unit_dir(unit)
    run_env = stage_env(ws, unit, env, credentials)
    data_dir = init_for(ws, unit, env, unit_dir, run_env=run_env)
    with tempfile.TemporaryDirectory(prefix="gitops-drift-") as tmp, ws.var_files(unit_dir, env) as var_files:
        refresh = Path(tmp) / "refresh.tfplan"
        drifted: list[str] = []
        changes: dict[str, list[str]] = {}
        if ws.runner.plan(unit_dir, refresh, data_dir=data_dir, env=run_env, var_files=var_files,
                          lock_timeout=ws.config.terraform.lock_timeout, refresh_only=True):
            report = ws.runner.show_json(unit_dir, refresh, data_dir=data_dir, env=run_env)
            drifted = sorted({d["address"] for d in report.get("resource_drift") or []})
            changes = {d["address"]: attribute_changes(d.get("change") or {}) for d in report.get("resource_drift") or []}
        normal = Path(tmp) / "normal.tfplan"
        pending: list[str] = []
        if ws.runner.plan(unit_dir, normal, data_dir=data_dir, env=run_env, var_files=var_files,
                          lock_timeout=ws.config.terraform.lock_timeout):
            report = ws.runner.show_json(unit_dir, normal, data_dir=data_dir, env=run_env)
            pending = sorted(rc["address"] for rc in report.get("resource_changes") or []
                             if set(rc["change"]["actions"]) - {"no-op", "read"} and rc["address"] not in drifted)
    status: DriftStatus = "drift" if drifted else ("pending_change" if pending else "no_drift")
    return DriftResult(unit=unit.name, environment=env.name, status=status, drifted=drifted, pending=pending,
                       changes=changes)
