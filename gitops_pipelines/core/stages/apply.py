"""apply(plan_id): applies exactly one stored plan, after checking it is intact and bound to what the caller expects."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import BaseModel

from gitops_pipelines.core.config import UnitConfig
from gitops_pipelines.core.errors import LockFileChanged, PlanBindingMismatch, PlanRefused, PlanStale, StageFailed
from gitops_pipelines.core.git import is_tracked
from gitops_pipelines.core.plan_store import AppliedRecord, PlanRecord, StoredPlan
from gitops_pipelines.core.plan_store.lock_file import LockFileUnreadable, ProviderChange, compare_lock_files
from gitops_pipelines.core.stages.plan import check_policy, init_for
from gitops_pipelines.core.workspace import LOCK_FILE, Workspace
from gitops_pipelines.core.security import check_code


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
    check_code(ws.config, unit_cfg)  # again before every apply, from main's rules
    env = ws.project_environment(unit_cfg, record.binding.environment)
    done = ws.store.applied(record.plan_id)
    if done is not None:
        return ApplyResult(plan_id=record.plan_id, unit=unit_cfg.name, environment=env.name, already_applied=True,
                           state_serial=done.state_serial, outputs=done.outputs, applied_by=done.applied_by)
    unit_dir = ws.unit_dir(unit_cfg)
    report = check_policy(ws, stored.plan_json(), env.name)
    if not report.passed:
        rules = ", ".join(sorted({f"{v.rule_id} ({v.address})" for v in report.errors}))
        raise PlanRefused(f"{unit_cfg.name}/{env.name}: plan {record.plan_id[:12]} fails security policy: {rules}; "
                          "fix the code, or waive a rule under policy.allow in gitops.yaml, and plan again")
    lock = _LockCheck(ws, unit_cfg, env.name, stored, unit_dir / LOCK_FILE)
    lock.before_init()
    # an apply is the one step that gets the environment's deploy credentials (a plan gets its plan_credentials)
    deploy_env = env.process_env(credentials="deploy")
    with _naming(unit_cfg.name, env.name):
        data_dir = init_for(ws, unit_cfg, env, unit_dir, run_env=deploy_env)
        lock.after_init()
        with tempfile.TemporaryDirectory(prefix="gitops-apply-") as tmp:
            planfile = Path(tmp) / "plan.tfplan"
            planfile.write_bytes(stored.plan_bytes())
            ws.runner.apply_plan(unit_dir, planfile, data_dir=data_dir, env=deploy_env)
        # Providers fill computed attributes only when they read back; without this the next drift check would
        # report those as changes made outside Terraform.
        with ws.var_files(unit_dir, env) as var_files:
            ws.runner.refresh_state(unit_dir, data_dir=data_dir, env=deploy_env, var_files=var_files)
        state = ws.runner.state_pull(unit_dir, data_dir=data_dir, env=deploy_env)
    outputs = _public_outputs(state)
    applied = AppliedRecord(plan_id=record.plan_id, applied_at=dt.datetime.now(dt.timezone.utc).isoformat(),
                            applied_by=applied_by, state_serial=state.get("serial"), outputs=outputs)
    ws.store.mark_applied(applied)
    return ApplyResult(plan_id=record.plan_id, unit=unit_cfg.name, environment=env.name, already_applied=False,
                       state_serial=applied.state_serial, outputs=outputs, applied_by=applied_by)


@contextmanager
def _naming(unit: str, environment: str) -> Iterator[None]:
    """Terraform's failures name no unit or environment; the person reading the failed step needs both."""
    try:
        yield
    except StageFailed as exc:
        if exc.unit is not None:
            raise
        raise type(exc)(str(exc), unit=unit, environment=environment, output=exc.output) from None
    except PlanStale as exc:
        raise PlanStale(f"{unit}/{environment}: {exc}") from None


def refuse_changed_lock_file(ws: Workspace, stored: StoredPlan) -> None:
    """Refuse, before anything re-plans or applies, a checkout that commits a lock file selecting other providers
    than the plan was made with: a provider upgrade on main is a change of its own, for a person to review (a
    re-plan would quietly take it). A checkout that commits none, or the same selection, passes."""
    unit_cfg = ws.config.unit(stored.record.binding.unit)
    path = ws.unit_dir(unit_cfg) / LOCK_FILE
    found = _read(path)
    check = _LockCheck(ws, unit_cfg, stored.record.binding.environment, stored, path)
    if found is None or check.sealed is None or check.planned_hash is None or is_tracked(path) is False:
        return
    if _sha256(found) != check.planned_hash:
        check.refuse_if_changed(found, before_init=True)


def _public_outputs(state: dict) -> dict:
    """Output values from the new state, with sensitive ones masked."""
    return {name: ("(sensitive value)" if out.get("sensitive") else out.get("value"))
            for name, out in (state.get("outputs") or {}).items()}


class _LockCheck:
    """The provider lock file travels with the plan: restored into a checkout that commits none, and a committed
    one that selects other providers is refused before Terraform runs (Terraform would refuse the saved plan
    later, with no word on which provider changed)."""

    def __init__(self, ws: Workspace, unit: UnitConfig, environment: str, stored: StoredPlan, path: Path):
        self.ws, self.unit, self.environment, self.path = ws, unit, environment, path
        self.record = stored.record
        self.sealed = stored.lock_file()
        self.planned_hash = stored.record.binding.lock_hash

    def before_init(self) -> None:
        if self.planned_hash is None:
            return  # planned without a lock file: nothing to hold the checkout to
        found = _read(self.path)
        if found is not None and _sha256(found) == self.planned_hash:
            return
        if self.sealed is None:
            state = "is missing" if found is None else "differs"
            raise self._refusal(f"{self._where()} {state}, and the plan was stored without its lock file (by an "
                                "older version), so it cannot be restored", [])
        if found is None or is_tracked(self.path) is False:
            # none came with the commit (at most one an earlier `init` wrote here): the plan's own goes in
            _write_whole(self.path, self.sealed)
            if self.ws.log is not None:
                self.ws.log(f"{self.unit.name}/{self.environment}: restored the provider lock file of plan "
                            f"{self.record.short_id} into {self.unit.path}/{LOCK_FILE}")
            return
        self.refuse_if_changed(found, before_init=True)

    def after_init(self) -> None:
        """`init` may add package hashes to a committed lock file; what it left must be what the plan used."""
        if self.sealed is None or self.planned_hash is None:
            return
        found = _read(self.path)
        if found is None:
            raise self._refusal(f"{self._where()} is missing after terraform init", [])
        if _sha256(found) != self.planned_hash:
            self.refuse_if_changed(found, before_init=False)

    def refuse_if_changed(self, found: bytes, *, before_init: bool) -> None:
        try:
            changes = compare_lock_files(self.sealed, found, before_init=before_init)
        except LockFileUnreadable as broken:
            raise self._refusal(f"{self._where()} cannot be read ({broken})", []) from None
        if changes:
            raise self._refusal(f"{self._where()} selects other providers than the plan was made with: "
                                f"{'; '.join(c.describe() for c in changes)}", changes)

    def _where(self) -> str:
        return f"the provider lock file {self.unit.path}/{LOCK_FILE} of this checkout"

    def _refusal(self, problem: str, changes: list[ProviderChange]) -> LockFileChanged:
        b = self.record.binding
        change = f" for {b.change}" if b.change else ""
        return LockFileChanged(
            f"{self.unit.name}/{self.environment}: refusing plan {self.record.short_id} (plan_id "
            f"{self.record.plan_id}){change}: {problem}. Terraform applies a saved plan only with the providers it "
            f"was made with. Re-plan: run the {self.environment} plan stage of {self.unit.name} again on this "
            "commit, review the new plan and apply that one.",
            unit=self.unit.name, environment=self.environment, plan_id=self.record.plan_id,
            providers=[c.source for c in changes])


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_whole(path: Path, data: bytes) -> None:
    """Written to a temporary name and renamed, so a concurrent `init` never reads half a file."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
