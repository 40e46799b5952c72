"""drift(unit, env): has the real infrastructure moved away from the state, or the code away from both? Never applies.

On drift, the normal plan (what applying main's code would do: undo the drift, and apply what is merged) is kept in
the plan store like any plan, bound to its commit and source, so a person can review it by plan_id. Nothing in the
promotion chain applies it: deploys apply only the plan their change recorded."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from gitops_pipelines.core.changes.source import source_hash
from gitops_pipelines.core.config import CredentialSet, UnitConfig
from gitops_pipelines.core.git import head_sha
from gitops_pipelines.core.plan_diff import attribute_changes
from gitops_pipelines.core.plan_store import PlanBinding
from gitops_pipelines.core.stages.plan import check_policy, init_for, stage_env
from gitops_pipelines.core.workspace import LOCK_FILE, Workspace

DriftStatus = Literal["no_drift", "drift", "pending_change", "locked"]


class DriftResult(BaseModel):
    unit: str
    environment: str
    status: DriftStatus
    drifted: list[str]  # addresses changed outside Terraform
    pending: list[str]  # addresses the code would change
    changes: dict[str, list[str]] = {}  # per drifted address: the attributes changed, sensitive values masked
    detail: str = ""  # why it could not be checked (locked)
    plan_id: str | None = None  # on drift: the stored plan that would undo it (main's code), for a person to review
    policy_passed: bool = True  # the security policy's verdict on that plan, as on every plan
    policy_violations: list[str] = []  # `rule: address: message` of each error-level violation

    def summary(self) -> str:
        if self.status == "locked":
            return (f"{self.unit}/{self.environment}: not checked: another run holds the state lock (the lock is "
                    f"left alone; the next drift check tries again). {self.detail}")
        stored = f" (plan {self.plan_id[:12]} stored for review)" if self.plan_id else ""
        denied = "" if self.policy_passed else (
            f"; the policy denies the plan to main's code ({len(self.policy_violations)} violation(s): "
            f"{'; '.join(self.policy_violations[:3])}): fix the code before anyone applies it")
        if self.status == "drift":
            return f"{self.unit}/{self.environment}: drift in {', '.join(self.drifted)}{stored}{denied}"
        if self.status == "pending_change":
            return (f"{self.unit}/{self.environment}: no drift; code not yet applied changes "
                    f"{', '.join(self.pending)}{denied}")
        return f"{self.unit}/{self.environment}: no drift{denied}"


def drift(ws: Workspace, unit: UnitConfig, env_name: str, *, credentials: CredentialSet = "plan") -> DriftResult:
    """One normal plan answers both: its `resource_drift` is what changed outside Terraform (found while it
    refreshes, whether or not the code would undo it), its other changes are code merged but not applied.

    A plan that is never applied, so it runs with the environment's plan_credentials when it names some."""
    env = ws.project_environment(unit, env_name)
    unit_dir = ws.unit_dir(unit)
    run_env = stage_env(ws, unit, env, credentials)
    data_dir = init_for(ws, unit, env, unit_dir, run_env=run_env, reuse=True)  # main's folder, kept between checks
    with tempfile.TemporaryDirectory(prefix="gitops-drift-") as tmp, ws.var_files(unit_dir, env) as var_files:
        planfile = Path(tmp) / "drift.tfplan"
        made = ws.runner.make_plan(unit_dir, planfile, data_dir=data_dir, env=run_env, var_files=var_files,
                                   lock_timeout=ws.config.terraform.lock_timeout)
        # the exit code does not tell drift the code agrees with (only the state would change): read the JSON
        report = ws.runner.show_json(unit_dir, planfile, data_dir=data_dir, env=run_env)
        found = report.get("resource_drift") or []
        drifted = sorted({d["address"] for d in found})
        changes = {d["address"]: attribute_changes(d.get("change") or {}) for d in found}
        pending = sorted(rc["address"] for rc in report.get("resource_changes") or []
                         if set(rc["change"]["actions"]) - {"no-op", "read"} and rc["address"] not in drifted)
        # code merged but not applied is the promotion chain's to plan; a drift's remediation is kept for review
        plan_id = None
        if drifted:
            text = made.text if made.text is not None else ws.runner.show_text(unit_dir, planfile,
                                                                               data_dir=data_dir, env=run_env)
            plan_id = _store(ws, unit, env.name, planfile, report, text)
    policy = check_policy(ws, report, env.name)  # a plan that is never applied is still judged like every plan
    status: DriftStatus = "drift" if drifted else ("pending_change" if pending else "no_drift")
    return DriftResult(unit=unit.name, environment=env.name, status=status, drifted=drifted, pending=pending,
                       changes=changes, plan_id=plan_id, policy_passed=policy.passed,
                       policy_violations=[f"{v.rule_id}: {v.address}: {v.message}" for v in policy.violations
                                          if v.severity == "error"])


def _store(ws: Workspace, unit: UnitConfig, environment: str, planfile: Path, plan_json: dict, text: str) -> str:
    """The drift's normal plan in the plan store, bound like a plan after the merge (no change: change=None)."""
    unit_dir = ws.unit_dir(unit)
    lock_path = unit_dir / LOCK_FILE
    lock_file = lock_path.read_bytes() if lock_path.is_file() else None
    commit = head_sha(unit_dir)
    binding = PlanBinding(
        unit=unit.name, environment=environment, change=None, head_sha=commit, commit=commit,
        terraform_version=ws.runner.version(),
        lock_hash=hashlib.sha256(lock_file).hexdigest() if lock_file is not None else None,
        source_hash=source_hash(ws.config, unit, ws.config.root, lock_file=lock_file))
    record = ws.store.save(planfile.read_bytes(), plan_json, ws.runner.redactor(text), binding, lock_file=lock_file)
    return record.plan_id
