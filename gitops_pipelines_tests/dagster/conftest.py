"""Dagster on a real instance in a temp dir, against the sample repository, real Terraform and moto."""

from __future__ import annotations

import subprocess

import dagster as dg
import pytest

from gitops_pipelines.defs.github.sensors import POLL_SENSOR, WEBHOOK_SENSOR
from gitops_pipelines.definitions import build_definitions
from gitops_pipelines.resources import GitopsResource
from gitops_pipelines.resources.github import GitHubResource
from gitops_pipelines_dev.github_emulator import Emulator
from gitops_pipelines_tests.dagster.sensor_support import REPO, sample_files

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


@pytest.fixture
def github_env(tmp_path, clouds, cloud_env, github_contract):
    """The emulator serving the sample repository, a working copy of it, and Definitions with the sensors."""
    emu = Emulator(github_contract)
    emu.start()
    emu.create_repo("acme", "infra", sample_files(emu.base_url))
    checkout = tmp_path / "checkout"
    subprocess.run(["git", "clone", "-q", str(emu.git_dir), str(checkout)], check=True)
    config_path = checkout / "gitops.yaml"
    github = GitHubResource(repository=REPO, api_url=emu.base_url, token="ghp_test", seconds_between_requests=0,
                            seconds_between_writes=0)
    gitops = GitopsResource(config_path=str(config_path), plan_key=PLAN_KEY, plan_store_url=str(tmp_path / "plans"))
    def make_defs(github: GitHubResource) -> dg.Definitions:
        return build_definitions(config_path, gitops=gitops, github=github)

    defs = make_defs(github)
    assert {s.name for s in defs.sensors} == {POLL_SENSOR, WEBHOOK_SENSOR, "audit_after_deploys"}
    yield emu, checkout, defs, github, make_defs
    emu.stop()
