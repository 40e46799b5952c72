"""Reads what an upstream asset recorded for a change: that metadata is the audit lineage deploys follow."""

from __future__ import annotations

from typing import Any

import dagster as dg

from gitops_pipelines.core.promotion.gate import StageResult
from gitops_pipelines.core.vocabulary import MODULE_REFS, PLAN, POLICY, SYNTAX, WORK_ITEM

FAILED = "failed"  # the metadata key of a failure observation


def latest_metadata(context: dg.AssetExecutionContext, key: dg.AssetKey, partition: str) -> dict[str, Any] | None:
    """Metadata of the newest materialization of key for this partition, or None if it never materialized."""
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1).records
    if not records or records[0].asset_materialization is None:
        return None
    return {name: value.value for name, value in records[0].asset_materialization.metadata.items()}


def recorded_plan_id(context: dg.AssetExecutionContext, key: dg.AssetKey, partition: str) -> str | None:
    """The plan_id a plan, deploy or release materialization recorded for this partition."""
    metadata = latest_metadata(context, key, partition) or {}
    return metadata.get("plan_id")


def stage_results(context: dg.AssetExecutionContext, unit: str, names: tuple[str, ...],
                  change: str) -> dict[str, StageResult]:
    """What the PR stages recorded for the change: a passed stage materialized (with its head_sha); a failed one
    left an observation (`passed: false`); the newest of the two counts. `policy` is read from the first plan,
    `work_item` and `module_refs` from syntax (they run beside it)."""
    found: dict[str, StageResult] = {}
    for name in names:
        if name in (POLICY, WORK_ITEM, MODULE_REFS):
            continue
        latest = _latest_record(context, dg.AssetKey([unit, name]), change)
        if latest is not None:
            metadata, passed = latest
            found[name] = StageResult(name, passed, metadata.get("head_sha") or None)
            if name.endswith(f"_{PLAN}") and POLICY in names and "policy" in metadata:
                found[POLICY] = StageResult(POLICY, passed and metadata["policy"] == "passed",
                                            metadata.get("head_sha") or None)
            for beside in (WORK_ITEM, MODULE_REFS):  # checks that run in the syntax step
                if name == SYNTAX and beside in names and metadata.get(beside):
                    found[beside] = StageResult(beside, metadata[beside] == "success",
                                                metadata.get("head_sha") or None)
    return found


def _latest_record(context: dg.AssetExecutionContext, key: dg.AssetKey,
                   partition: str) -> tuple[dict[str, Any], bool] | None:
    """(metadata, passed) of the newest materialization or failure observation of key for the partition."""
    records_filter = dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition])
    candidates = []
    for record in context.instance.fetch_materializations(records_filter, limit=1).records:
        candidates.append((record.timestamp, record.asset_materialization.metadata, True))
    for record in context.instance.fetch_observations(records_filter, limit=1).records:
        observation = record.asset_observation
        if observation is not None and FAILED in observation.metadata:
            candidates.append((record.timestamp, observation.metadata, False))
    if not candidates:
        return None
    _, metadata, passed = max(candidates, key=lambda c: c[0])
    return {name: value.value for name, value in metadata.items()}, passed


def record_failure(context: dg.AssetExecutionContext, stage_key: dg.AssetKey, head_sha: str,
                   metadata: dict[str, Any] | None = None) -> None:
    """A PR stage that failed leaves an observation, so the gate can say it failed at that head."""
    context.log_event(dg.AssetObservation(asset_key=stage_key, partition=context.partition_key,
                                          metadata={FAILED: True, "head_sha": head_sha, **(metadata or {})}))
