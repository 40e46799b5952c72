"""Session-wide real services: one moto server per environment, reset between tests; GitHub's published contract."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gitops_pipelines_dev.contract import ENV_VAR, GitHubContract
from gitops_pipelines_dev.moto import MotoServer

pytest_plugins = ["gitops_pipelines_tests.conftest_services"]

CLOUDS = ("test", "prod", "sandbox")
STATE_BUCKETS = {"test": "tfstate-test", "prod": "tfstate-prod"}
# The contract folder beside the checkout, unless $GITOPS_GITHUB_CONTRACT names another.
GITHUB_CONTRACT_DIR = Path(os.environ.get(ENV_VAR) or Path(__file__).resolve().parents[2] / "shared" / "github-contract")


@pytest.fixture(scope="session")
def github_contract() -> GitHubContract:
    """GitHub's published contract (OpenAPI subset, webhook examples and schemas), read once per session."""
    return GitHubContract(GITHUB_CONTRACT_DIR)


@pytest.fixture(scope="session")
def moto_servers(tmp_path_factory):
    """One moto server per environment for the whole session (starting one costs about a second)."""
    logs = tmp_path_factory.mktemp("moto-logs")
    servers = {name: MotoServer(name, log_dir=logs).start() for name in CLOUDS}
    yield servers
    for server in servers.values():
        server.stop()


def reset_clouds(moto_servers) -> dict:
    """Every moto server reset and the state buckets created again; module fixtures call it for a shared start."""
    for name, server in moto_servers.items():
        server.reset()
        if name in STATE_BUCKETS:
            server.create_bucket(STATE_BUCKETS[name])
    return moto_servers


@pytest.fixture
def clouds(moto_servers):
    """Fresh clouds for one test."""
    return reset_clouds(moto_servers)


@pytest.fixture(scope="session")
def cloud_env(moto_servers, tmp_path_factory):
    """The sample's gitops.yaml reads endpoints and credentials from the process environment, and the git config
    that serves its module release (github.com/acme/infra, bucket/v0.1.0) from a local repository."""
    import os

    from gitops_pipelines_tests.fixtures.infra_repo import cloud_environ, module_releases

    values = {**cloud_environ(moto_servers),
              "GITOPS_GIT_CONFIG": str(module_releases(tmp_path_factory.mktemp("module-releases")))}
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    yield values
    for key, old in saved.items():
        if old is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = old


@pytest.fixture(scope="session")
def infra_root(tmp_path_factory, cloud_env):
    """One copy of the sample repository per session, so initialised Terraform folders are reused."""
    from gitops_pipelines_tests.fixtures.infra_repo import make_infra_repo

    return make_infra_repo(tmp_path_factory.mktemp("infra") / "repo")


@pytest.fixture
def workspace(infra_root, clouds, tmp_path):
    """A Workspace on the sample repository with fresh clouds and its own plan store; log lines are kept."""
    from gitops_pipelines.core.config import load_config
    from gitops_pipelines.core.plan_store import open_plan_store
    from gitops_pipelines.core.workspace import Workspace

    lines: list[str] = []
    config = load_config(infra_root / "gitops.yaml")
    ws = Workspace(config, log=lines.append)
    ws._store = open_plan_store(str(tmp_path / "plans"), infra_root, key=b"k" * 32)
    ws.log_lines = lines
    return ws
