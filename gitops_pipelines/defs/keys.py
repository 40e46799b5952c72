"""Asset keys `[unit, stage]` and the apply pools: the Dagster names of the core vocabulary."""

import dagster as dg

from gitops_pipelines.core.vocabulary import Stage


def key(unit: str, stage: Stage | str) -> dg.AssetKey:
    return dg.AssetKey([unit, str(stage)])


def apply_pool(unit: str, environment: str) -> str:
    """Applies to one unit and environment run one at a time (limit set in dagster.yaml)."""
    return f"apply_{unit}_{environment}"
