"""Dagster on a real instance in a temp dir, against the sample repository, real Terraform and moto."""

from __future__ import annotations

import dagster as dg
import pytest

from gitops_pipelines.definitions import build_definitions
from gitops_pipelines.resources import GitopsResource

PLAN_KEY = "dagster-tests-plan-key"


@pytest.fixture
def instance(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home)) as inst:
        yield inst


@pytest.fixture
def gitops_defs(infra_root, clouds, tmp_path):
    """Definitions for the sample, with a plan store of this test's own."""
    config_path = infra_root / "gitops.yaml"
    resource = GitopsResource(config_path=str(config_path), plan_key=PLAN_KEY, plan_store_url=str(tmp_path / "plans"))
    return build_definitions(config_path, gitops=resource)


def failure_messages(result) -> str:
    """Every step failure's message and description in one string, for asserting what a person would read."""
    texts = []
    for event in result.all_events:
        if event.is_step_failure:
            data = event.step_failure_data
            texts.append(data.error.message if data.error else "")
            if data.user_failure_data and data.user_failure_data.description:
                texts.append(data.user_failure_data.description)
    return "\n".join(texts)


def latest_metadata(instance, key: str, partition: str | None = None) -> dict:
    asset_key = dg.AssetKey(key.split("/"))
    partitions = [partition] if partition else None
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=partitions), limit=1).records
    assert records, f"{key} has no materialization for {partition}"
    return {name: value.value for name, value in records[0].asset_materialization.metadata.items()}
