"""apply(plan_id): applies exactly one stored plan, after checking it is intact and bound to what the caller expects."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

from pydantic import BaseModel

from gitops_pipelines.core.errors import PlanBindingMismatch, PlanRefused
from gitops_pipelines.core.plan_store import AppliedRecord, PlanRecord
from gitops_pipelines.core.stages.plan import check_policy, init_for
from gitops_pipelines.core.workspace import Workspace


class ApplyResult(BaseModel):
    plan_id: str
    unit: str
    environment: str
    already_applied: bool
    state_serial: int | None
    outputs: dict
    applied_by: str | None = None

    def summary(self) -> str:
        verb = "was already applied; nothing done" if self.already_applied else "applied"
        return f"{self.unit}/{self.environment}: plan {self.plan_id[:12]} {verb} (state serial {self.state_serial})"


def check_binding(record: PlanRecord, *, environment: str | None = None, unit: str | None = None,
                  change: str | None = None, head_sha: str | None = None) -> None:
    """Refuse a plan that was made for another environment, unit, change or commit than the caller expects."""
    b = record.binding
    expected = {"environment": environment, "unit": unit, "change": change, "head_sha": head_sha}
    for name, want in expected.items():
        have = getattr(b, name)
        if want is not None and want != have:
            raise PlanBindingMismatch(
                f"plan {record.plan_id[:12]} was made for {name} {have!r}, not {want!r}; "
                f"make a plan for {want!r} and apply that one"
            )


def apply(ws: Workspace, plan_id: str, *, environment: str | None = None, unit: str | None = None,
          change: str | None = None, head_sha: str | None = None, applied_by: str | None = None) -> ApplyResult:
    """Verify hash and binding, then `terraform apply` the stored plan file byte for byte."""
    stored = ws.store.get(plan_id)  # raises PlanNotFound / PlanTampered before anything runs
    record = stored.record
    check_binding(record, environment=environment, unit=unit, change=change, head_sha=head_sha)
    unit_cfg = ws.config.unit(record.binding.unit)
    env = ws.project_environment(unit_cfg, record.binding.environment)
    done = ws.store.applied(record.plan_id)
    if done is not None:
        return ApplyResult(plan_id=record.plan_id, unit=unit_cfg.name, environment=env.name, already_applied=True,
                           state_serial=done.state_serial, outputs=done.outputs, applied_by=done.applied_by)
    unit_dir = ws.unit_dir(unit_cfg)
    lock_hash = ws.lock_hash(unit_cfg, unit_dir)
    if record.binding.lock_hash and lock_hash != record.binding.lock_hash:
        raise PlanBindingMismatch(
            f"{unit_cfg.name}/{env.name}: the provider lock file changed since plan {record.plan_id[:12]} was made; "
            "make a new plan"
        )
    report = check_policy(ws, stored.plan_json(), env.name)
    if not report.passed:
        rules = ", ".join(sorted({f"{v.rule_id} ({v.address})" for v in report.errors}))
        raise PlanRefused(f"{unit_cfg.name}/{env.name}: plan {record.plan_id[:12]} fails security policy: {rules}; "
                          "fix the code, or waive a rule under policy.allow in gitops.yaml, and plan again")
    data_dir = init_for(ws, unit_cfg, env, unit_dir)
    with tempfile.TemporaryDirectory(prefix="gitops-apply-") as tmp:
        planfile = Path(tmp) / "plan.tfplan"
        planfile.write_bytes(stored.plan_bytes())
        ws.runner.apply_plan(unit_dir, planfile, data_dir=data_dir, env=env.process_env())
    # Providers fill computed attributes only when they read back; without this the next drift check would
    # report those as changes made outside Terraform.
    with ws.var_files(unit_dir, env) as var_files:
        ws.runner.refresh_state(unit_dir, data_dir=data_dir, env=env.process_env(), var_files=var_files)
    state = ws.runner.state_pull(unit_dir, data_dir=data_dir, env=env.process_env())
    outputs = _public_outputs(state)
    applied = AppliedRecord(plan_id=record.plan_id, applied_at=dt.datetime.now(dt.timezone.utc).isoformat(),
                            applied_by=applied_by, state_serial=state.get("serial"), outputs=outputs)
    ws.store.mark_applied(applied)
    return ApplyResult(plan_id=record.plan_id, unit=unit_cfg.name, environment=env.name, already_applied=False,
                       state_serial=applied.state_serial, outputs=outputs, applied_by=applied_by)


def _public_outputs(state: dict) -> dict:
    """Output values from the new state, with sensitive ones masked."""
    return {name: ("(sensitive value)" if out.get("sensitive") else out.get("value"))
            for name, out in (state.get("outputs") or {}).items()}
