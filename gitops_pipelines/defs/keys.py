"""Stage names: the second part of every asset key `[unit, stage]`, in the user's words."""

import dagster as dg

SYNTAX = "syntax"
EPHEMERAL_TEST = "ephemeral_test"
RELEASE = "release"
DRIFT = "drift"


def plan_stage(environment: str) -> str:
    return f"{environment}_plan"


def deploy_stage(environment: str) -> str:
    return f"{environment}_deploy"


def key(unit: str, stage: str) -> dg.AssetKey:
    return dg.AssetKey([unit, stage])


def apply_pool(unit: str, environment: str) -> str:
    """Applies to one unit and environment run one at a time (limit set in dagster.yaml)."""
    return f"apply_{unit}_{environment}"
