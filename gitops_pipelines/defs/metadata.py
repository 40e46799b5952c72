"""Materialization metadata: what a reviewer or an auditor reads in the asset's history."""

from __future__ import annotations

from typing import Any

import dagster as dg

from gitops_pipelines.core.stages import ApplyResult, PlanResult

_MAX_MD = 60_000  # keep the event log small; the full plan stays in the plan store


def plan_metadata(result: PlanResult, store_location: str) -> dict[str, Any]:
    """plan_id, counts, commits, Terraform version, policy verdict and the rendered (redacted) plan."""
    record, b, s = result.record, result.record.binding, result.record.summary
    text = result.text if len(result.text) <= _MAX_MD else result.text[:_MAX_MD] + "\n... (truncated; see the store)"
    return {
        "plan_id": record.plan_id,
        "add": s.add, "change": s.change, "destroy": s.destroy, "replace": s.replace,
        "has_changes": s.has_changes,
        "head_sha": b.head_sha or "", "base_sha": b.base_sha or "",
        "terraform_version": b.terraform_version,
        "policy": "passed" if result.policy_passed else "failed",
        "stored_at": dg.MetadataValue.path(f"{store_location}/{record.plan_id}"),
        "plan": dg.MetadataValue.md(f"### {result.summary()}\n\n```text\n{text}\n```\n\n{result.policy_markdown}"),
    }


def deploy_metadata(result: ApplyResult, plan_key: dg.AssetKey, triggered_by: str,
                    approval: dict[str, str] | None = None) -> dict[str, Any]:
    """The plan applied (and the asset that recorded it), who triggered or approved, the new state serial."""
    meta: dict[str, Any] = {
        "plan_id": result.plan_id,
        "plan_asset": plan_key.to_user_string(),
        "triggered_by": triggered_by,
        "state_serial": result.state_serial if result.state_serial is not None else -1,
        "already_applied": result.already_applied,
        "result": result.summary(),
        "outputs": dg.MetadataValue.json(result.outputs or {}),
    }
    if approval:
        meta.update({"decision": "approved", **approval})
    return meta
