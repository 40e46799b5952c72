"""Reads what an upstream asset recorded for a change: that metadata is the audit lineage deploys follow."""

from __future__ import annotations

from typing import Any

import dagster as dg


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
