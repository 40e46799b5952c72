"""What a stored plan is bound to, what it changes, and the records kept beside it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

_IGNORED = {"no-op", "read"}


class PlanBinding(BaseModel):
    """What a plan was made for; applying it anywhere else is refused."""

    model_config = ConfigDict(frozen=True)

    unit: str
    environment: str
    change: str | None = None  # "pr-12"; None for plans made outside a pull request (drift, main)
    head_sha: str | None = None
    base_sha: str | None = None
    terraform_version: str
    lock_hash: str | None = None  # sha256 of .terraform.lock.hcl
    # added later, so records saved before them still load (None) and their signatures still hold:
    source_hash: str | None = None  # the unit's source by content (core/changes/source.py) when it was planned
    commit: str | None = None  # the commit actually planned (after a merge, the merge commit; head_sha: the PR's)

    @property
    def where(self) -> str:
        return f"{self.unit}/{self.environment}" + (f" ({self.change})" if self.change else "")


class PlanSummary(BaseModel):
    """Counts a reviewer reads first: what the plan adds, changes, destroys and replaces."""

    model_config = ConfigDict(frozen=True)

    add: int = 0
    change: int = 0
    destroy: int = 0
    replace: int = 0
    has_changes: bool = False

    @classmethod
    def from_plan_json(cls, plan_json: dict) -> "PlanSummary":
        """Counts from resource_changes[].change.actions; a delete+create pair counts only as a replace."""
        counts = {"add": 0, "change": 0, "destroy": 0, "replace": 0}
        other = False  # forget, import, output changes: not counted, but `apply` would still do something
        for rc in plan_json.get("resource_changes") or []:
            change = rc.get("change") or {}
            actions = set(change.get("actions") or [])
            if actions == {"create", "delete"}:
                counts["replace"] += 1
            elif "create" in actions:
                counts["add"] += 1
            elif "update" in actions:
                counts["change"] += 1
            elif "delete" in actions:
                counts["destroy"] += 1
            elif actions - _IGNORED or change.get("importing"):
                other = True
        for oc in (plan_json.get("output_changes") or {}).values():
            if set(oc.get("actions") or []) - _IGNORED:
                other = True
        return cls(**counts, has_changes=other or any(counts.values()))


def changed_addresses(plan_json: dict) -> list[str]:
    """Addresses of resources the plan changes or found drifted, in plan order, each once."""
    seen: dict[str, None] = {}
    for key in ("resource_drift", "resource_changes"):
        for rc in plan_json.get(key) or []:
            actions = set((rc.get("change") or {}).get("actions") or [])
            if rc.get("address") and (key == "resource_drift" or actions - _IGNORED):
                seen.setdefault(rc["address"], None)
    return list(seen)


class StoredArtifact(BaseModel):
    """Size and sha256 of one stored file, as written."""

    model_config = ConfigDict(frozen=True)

    sha256: str
    size: int


class PlanRecord(BaseModel):
    """Everything known about a stored plan; signed in record.json so no field can be changed unseen."""

    model_config = ConfigDict(frozen=True)

    plan_id: str  # sha256 hex of the plain plan file
    binding: PlanBinding
    summary: PlanSummary
    created_at: str  # ISO 8601 UTC
    plan_size: int  # bytes of the plain plan file
    artifacts: dict[str, StoredArtifact]  # "plan.bin.enc", "plan.json", "plan.txt"[, "terraform.lock.hcl"]
    addresses: list[str] = Field(default_factory=list)

    @property
    def short_id(self) -> str:
        return self.plan_id[:12]


class AppliedRecord(BaseModel):
    """That a plan was applied, when, by whom, and the state serial it produced."""

    model_config = ConfigDict(frozen=True)

    plan_id: str
    applied_at: str  # ISO 8601 UTC
    applied_by: str | None = None
    state_serial: int | None = None
    outputs: dict[str, Any] = Field(default_factory=dict)  # redacted before it is stored
