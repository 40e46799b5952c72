"""Use-case glue for whoever drives the flow (Dagster, later the CLI): which stored plan a deploy applies,
whether a person may release it, what version a module release gets. Plain Python; never imports dagster."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from gitops_pipelines.core.checkout import at_commit
from gitops_pipelines.core.config import GitopsConfig, UnitConfig, load_config
from gitops_pipelines.core.errors import PlanNotFound, PlanRefused, PlanStale, UsageError
from gitops_pipelines.core.plan_store import PlanRecord, open_plan_store
from gitops_pipelines.core.plan_store.keys import key_from_setting
from gitops_pipelines.core.stages import DriftResult, drift
from gitops_pipelines.core.versioning import bump_from_change, latest_version, module_tag, next_version, release_notes
from gitops_pipelines.core.workspace import Workspace


def open_workspace(config_path: str | Path, *, plan_key: str | None = None, plan_store_url: str | None = None,
                   log: Callable[[str], None] | None = None, commit: str | None = None) -> Workspace:
    """A Workspace for gitops.yaml; plan_key is the GITOPS_PLAN_KEY value (None: the core's own lookup).

    With `commit`, the stages run on a checkout of exactly that commit, while the plan store (and its development
    key) stay where the repository's own gitops.yaml says, so every commit's plans land in one store."""
    home = load_config(config_path)
    config = load_config(at_commit(Path(config_path), commit)) if commit else home
    key = key_from_setting(plan_key.strip()) if plan_key and plan_key.strip() else None
    store = open_plan_store(plan_store_url or home.plan_store.url, home.root, key=key,
                            warn=log or (lambda message: None))
    return Workspace(config, log=log, _store=store)


# -- deploys and approvals ------------------------------------------------------------------------------------
def deployable_plan(ws: Workspace, unit: str, environment: str, change: str,
                    recorded_plan_id: str | None) -> PlanRecord:
    """The stored plan a deploy must apply: the one the plan stage recorded for this change, if it is still the
    newest stored plan for it and nothing was applied to the environment since it was made."""
    plan_stage = f"{unit}/{environment}_plan"
    if not recorded_plan_id:
        raise PlanNotFound(f"{unit}/{environment}: no stored {environment} plan for {change}; run the plan first "
                           f"(materialize {plan_stage} for {change}), review it, then deploy")
    newest = ws.store.latest(unit, environment, change)
    if newest is None:
        raise PlanNotFound(f"{unit}/{environment}: {plan_stage} recorded plan {recorded_plan_id} for {change}, but the "
                           f"plan store {ws.store.location} has no plan for it; run the plan again "
                           f"(materialize {plan_stage} for {change})")
    if newest.plan_id != recorded_plan_id:
        raise PlanRefused(f"{unit}/{environment}: {plan_stage} recorded plan {recorded_plan_id[:12]} for {change}, but "
                          f"the newest stored plan for it is {newest.plan_id[:12]}; re-run {plan_stage} for {change} "
                          "so the plan applied is the one shown in the asset's materialization")
    record = ws.store.get(recorded_plan_id).record  # verifies every stored byte
    if ws.store.applied(record.plan_id) is None:
        _refuse_if_stale(ws, record)
    return record


def _refuse_if_stale(ws: Workspace, record: PlanRecord) -> None:
    """A plan is stale once another plan was applied to the same unit and environment after it was made."""
    b = record.binding
    made = _when(record.created_at)
    for other in ws.store.list(unit=b.unit, environment=b.environment):
        if other.plan_id == record.plan_id:
            continue
        applied = ws.store.applied(other.plan_id)
        if applied is not None and _when(applied.applied_at) > made:
            by = f" for {other.binding.change}" if other.binding.change else ""
            raise PlanStale(
                f"{b.unit}/{b.environment}: plan {record.short_id} for {b.change} is stale: plan {other.short_id}{by} "
                f"was applied at {applied.applied_at}, after it was made. Re-plan: materialize "
                f"{b.unit}/{b.environment}_plan for {b.change} again and review the new plan_id")


def _when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def check_approval(record: PlanRecord, approved_plan_id: str, approved_by: str) -> None:
    """A person approved exactly this stored plan, and said who they are."""
    b = record.binding
    if not approved_by.strip():
        raise UsageError(f"{b.unit}/{b.environment}: approved_by is empty; say who approves")
    if approved_plan_id.strip() != record.plan_id:
        raise PlanRefused(
            f"{b.unit}/{b.environment}: plan_id {approved_plan_id.strip()[:12] or '(empty)'} is not the stored "
            f"{b.environment} plan for {b.change}; the stored plan is {record.plan_id} (see the latest "
            f"{b.unit}/{b.environment}_plan materialization). Review that plan and launch again with its plan_id")


def check_deployed(ws: Workspace, unit: str, environment: str, change: str, deployed_plan_id: str | None) -> None:
    """The earlier environment's deploy succeeded for this change (its plan is recorded as applied)."""
    if not deployed_plan_id or ws.store.applied(deployed_plan_id) is None:
        raise PlanRefused(f"{unit}/{environment}: {environment}_deploy has not succeeded for {change}; deploy to "
                          f"{environment} first (the merge job runs {unit}/{environment}_deploy), then try again")


def check_released(record: PlanRecord, released_plan_id: str | None) -> None:
    """The release decision was made for this very plan."""
    b = record.binding
    if released_plan_id != record.plan_id:
        seen = f"it approved plan {released_plan_id[:12]}" if released_plan_id else "there is none"
        raise PlanRefused(f"{b.unit}/{b.environment}: no release approves plan {record.short_id} for {b.change} "
                          f"({seen}); launch {b.unit}/release for {b.change} with plan_id {record.plan_id} first")


def check_passed(unit: str, change: str, stages: dict[str, bool]) -> None:
    """Every named PR stage passed for this change."""
    missing = [name for name, passed in stages.items() if not passed]
    if missing:
        raise PlanRefused(f"{unit}: {', '.join(missing)} has not passed for {change}; run the PR checks "
                          f"({', '.join(f'{unit}/{m}' for m in missing)}) first")


# -- module releases ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModuleRelease:
    module: str
    version: str
    tag: str
    previous: str | None
    bump: str


def next_module_release(config: GitopsConfig, unit: UnitConfig, bump: str | None = None,
                        tags: list[str] | None = None) -> ModuleRelease:
    """The next `<module>-v<semver>` from the given tags (GitHub's), else the repository's own; the bump is given
    or read from the head commit."""
    root = config.root
    if tags is None:
        tags = _git(root, "tag", "--list").splitlines()
    if not bump:
        message = _git(root, "log", "-1", "--format=%B")
        bump = bump_from_change([], "", [message])
    version = next_version(unit.name, tags, bump)
    previous = latest_version(unit.name, tags)
    return ModuleRelease(module=unit.name, version=str(version), tag=module_tag(unit.name, version),
                         previous=str(previous) if previous else None, bump=bump)


def publish_module_release(release: ModuleRelease, sha: str, *, change: str, repo: Path, gateway=None,
                           repository: str | None = None, module_path: str | None = None) -> str | None:
    """Tag `sha` as the release: on GitHub (tag + published Release with notes) when a gateway is given, else as a
    local git tag in the repository. Safe to repeat. Returns the Release's URL, if any."""
    if gateway is None:
        proc = subprocess.run(["git", "tag", release.tag, sha], cwd=repo, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL)
        if proc.returncode != 0 and _git(repo, "rev-list", "-n1", release.tag) != sha:
            raise UsageError(f"{release.module}: cannot tag {sha[:12]} as {release.tag}: {proc.stderr.strip()}")
        return None
    number = int(change.removeprefix("pr-")) if change.startswith("pr-") and change[3:].isdigit() else 0
    notes = release_notes(release.module, release.version, number, f"{release.module} {release.version}",
                          previous=release.previous, repository=repository, module_path=module_path)
    gateway.create_tag(release.tag, sha)
    return gateway.create_release(release.tag, release.tag, notes, sha).html_url


def _git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    return proc.stdout.strip() if proc.returncode == 0 else ""


# -- drift ----------------------------------------------------------------------------------------------------
def drift_all(ws: Workspace, unit: UnitConfig) -> list[DriftResult]:
    """Drift of every environment of a project, checked side by side (each has its own Terraform data folder)."""
    envs = [env.name for env in ws.config.unit_environments(unit)]
    if not envs:
        return []
    with ThreadPoolExecutor(max_workers=len(envs), thread_name_prefix=f"drift-{unit.name}") as pool:
        return list(pool.map(lambda env: drift(ws, unit, env), envs))
