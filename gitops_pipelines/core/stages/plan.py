"""plan(unit, env, change): a plan made against the environment's real state, stored and bound to its commit."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Mapping
from pathlib import Path

from dataclasses import asdict

from pydantic import BaseModel

from gitops_pipelines.core.changes.source import source_hash
from gitops_pipelines.core.checkout import exclusive
from gitops_pipelines.core.config import CredentialSet, EnvironmentConfig, UnitConfig
from gitops_pipelines.core.git import head_sha as git_head_sha
from gitops_pipelines.core.plan_store import PlanBinding, PlanRecord
from gitops_pipelines.core.policy.locations import declaration_sites, locate
from gitops_pipelines.core.policy import PolicyReport, evaluate
from gitops_pipelines.core.workspace import LOCK_FILE, Workspace
from gitops_pipelines.core.security import check_code


class PlanResult(BaseModel):
    record: PlanRecord
    text: str  # Terraform's rendered plan; sensitive values already show as (sensitive value)
    policy_passed: bool
    policy_markdown: str
    violations: list[dict]

    @property
    def plan_id(self) -> str:
        return self.record.plan_id

    def summary(self) -> str:
        s = self.record.summary
        b = self.record.binding
        return (f"{b.unit}/{b.environment}: plan {self.plan_id[:12]}: {s.add} to add, {s.change} to change, "
                f"{s.destroy} to destroy, {s.replace} to replace")


def check_policy(ws: Workspace, plan_json: dict, environment: str) -> PolicyReport:
    """The security policy verdict on one plan: built-in rules plus the repository's Rego policies."""
    settings = ws.config.policy
    rego_dir = (ws.config.policy_root / settings.rego_dir) if settings.rego_dir else None
    return evaluate(plan_json, environment, allow=set(settings.allow), rego_dir=rego_dir,
                    namespaces=settings.namespaces, waivers=settings.waivers, required_tags=settings.required_tags)


def stage_env(ws: Workspace, unit: UnitConfig, env: EnvironmentConfig, credentials: CredentialSet) -> dict[str, str]:
    """What the environment adds to each Terraform process of a stage: its `plan` or `deploy` credentials."""
    if credentials == "plan" and env.plan_credentials is None and env.credentials and ws.log is not None:
        ws.log(f"{unit.name}/{env.name}: this plan runs with the deploy credentials, because environment "
               f"{env.name!r} names no plan_credentials; set them in gitops.yaml (a read-only role, say) to keep "
               "deploy credentials away from code that is not merged yet")
    return env.process_env(credentials=credentials)


def init_for(ws: Workspace, unit: UnitConfig, env: EnvironmentConfig, unit_dir: Path | None = None, *,
             run_env: Mapping[str, str] | None = None, reuse: bool = False) -> Path:
    """Initialise the unit against the environment's backend in its own data folder; returns that folder.

    run_env: what the stage's Terraform processes get (default: the deploy credentials). reuse: a folder shared
    by every commit that asks the same of init, initialised once (Workspace.initialised)."""
    unit_dir = unit_dir or ws.unit_dir(unit)
    options = dict(backend_config=ws.backend_config(unit, env), env=env.process_env() if run_env is None else run_env)
    if reuse:
        return ws.initialised(unit, unit_dir, env.name, **options)
    data_dir = ws.data_dir(unit, env.name)
    # two inits of one folder at once collide on the module download ("destination path already exists")
    with exclusive(data_dir.with_name(f"{data_dir.name}.lock"), 600.0, f"the init of {unit.name} ({env.name})"):
        ws.runner.init(unit_dir, data_dir=data_dir, **options)
    return data_dir


def plan(ws: Workspace, unit: UnitConfig, env_name: str, change: str | None = None, *,
         head_sha: str | None = None, base_sha: str | None = None,
         credentials: CredentialSet = "plan") -> PlanResult:
    """init (skipped when this data folder is initialised for the same code), `plan -out -detailed-exitcode`,
    `show -json`; the rendered text is cut from plan's output; stored by content hash.

    credentials: `plan` (the default) runs Terraform with the environment's plan_credentials (its deploy ones when
    it names none); that is what a plan made at PR time, on code not merged yet, must use. `deploy` is for a
    caller that plans merged code and wants the deploy credentials (a plan after the merge may use either)."""
    check_code(ws.config, unit)  # before `init` downloads and runs anything the change names
    env = ws.project_environment(unit, env_name)
    unit_dir = ws.unit_dir(unit)
    process_env = stage_env(ws, unit, env, credentials)
    data_dir = init_for(ws, unit, env, unit_dir, run_env=process_env, reuse=True)
    with tempfile.TemporaryDirectory(prefix="gitops-plan-") as tmp, ws.var_files(unit_dir, env) as var_files:
        planfile = Path(tmp) / "plan.tfplan"
        # a plan with plan-only (read-only) credentials cannot write the state lock, and any number of pull
        # requests plan the same state at once: it reads without the lock (the apply checks it is not stale)
        made = ws.runner.make_plan(unit_dir, planfile, data_dir=data_dir, env=process_env, var_files=var_files,
                                   lock_timeout=ws.config.terraform.lock_timeout, lock=credentials == "deploy")
        # the rendered text is what `plan` printed (the very text `show` renders): no third provider start
        if made.text is not None:
            plan_json, text = ws.runner.show_json(unit_dir, planfile, data_dir=data_dir, env=process_env), made.text
        else:
            plan_json, text = ws.runner.show_both(unit_dir, planfile, data_dir=data_dir, env=process_env)
        # as `init` left it (written by it when the repository commits none): sealed with the plan, so the
        # apply, on whatever checkout it runs, uses the very providers this plan was made with
        lock_file = _read(unit_dir / LOCK_FILE)
        commit = git_head_sha(unit_dir)
        binding = PlanBinding(
            unit=unit.name, environment=env.name, change=change,
            head_sha=head_sha or commit, base_sha=base_sha, terraform_version=ws.runner.version(),
            lock_hash=hashlib.sha256(lock_file).hexdigest() if lock_file is not None else None,
            # after `plan`: the lock file in use is then in the unit folder, as `init` found or wrote it
            source_hash=source_hash(ws.config, unit, ws.config.root, lock_file=lock_file), commit=commit,
        )
        record = ws.store.save(planfile.read_bytes(), plan_json, ws.runner.redactor(text), binding,
                               lock_file=lock_file)
    stored = ws.store.get(record.plan_id)
    report = check_policy(ws, stored.plan_json(), env.name)
    sites = declaration_sites(unit_dir, ws.config.root)  # each violation's resource block: an annotation there
    violations = [{**asdict(v), **_site(v.address, sites)} for v in report.violations]
    return PlanResult(record=record, text=stored.text(), policy_passed=report.passed,
                      policy_markdown=report.markdown(ws.runner.redactor), violations=violations)


def _site(address: str, sites: dict) -> dict:
    found = locate(address, sites) if address else None
    return {"file": found[0], "line": found[1]} if found else {}


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
