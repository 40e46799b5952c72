"""Several repositories, one Dagster instance: one code location per repository, each from its own gitops.yaml
(attribute `<name>` of gitops_pipelines.definitions reads $GITOPS_CONFIG_<NAME>). Their assets, jobs and audit
table do not collide; `dagster definitions validate` loads both in real processes."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from gitops_pipelines.core.errors import ConfigError
from gitops_pipelines_dev.infra import MODULES_REPOSITORY, PROJECTS_REPOSITORY, make_mixed_repos
from gitops_pipelines_dev.workspaces import write_workspace
from gitops_pipelines_tests.dagster.test_definitions import FAKE_ENV


@pytest.fixture
def locations(tmp_path, monkeypatch):
    repos = make_mixed_repos(tmp_path / "repos")
    env = write_workspace(tmp_path / "workspace.yaml", {n: r / "gitops.yaml" for n, r in repos.items()})
    for name, value in {**FAKE_ENV, **env, "GITHUB_API_URL": "http://127.0.0.1:1"}.items():
        monkeypatch.setenv(name, value)
    module = importlib.import_module("gitops_pipelines.definitions")
    monkeypatch.setattr(module, "_LOCATIONS", {})
    return module, tmp_path / "workspace.yaml"


def test_each_repository_is_a_location_of_its_own_with_nothing_shared(locations):
    module, _ = locations
    modules, projects = (getattr(module, name).get_repository_def() for name in ("modules", "projects"))
    module_keys = {k.to_user_string() for k in modules.assets_defs_by_key}
    project_keys = {k.to_user_string() for k in projects.assets_defs_by_key}
    assert module_keys == {"bucket/syntax", "bucket/ephemeral_test", "bucket/approval", "bucket/release"}
    assert {"storage/test_plan", "web/test_plan", "web/prod_deploy", "audit/acme/projects/production_changes"} \
        <= project_keys
    assert not module_keys & project_keys, "asset keys are instance-wide"
    assert {s.name for s in modules.sensor_defs} >= {"github_pull_requests", "github_webhooks"}
    assert {s.name for s in projects.sensor_defs} >= {"github_pull_requests", "github_webhooks"}
    assert set(modules.get_job("release").graph.node_names()) == {"bucket__release"}
    assert not modules.schedule_defs, "a repository of modules has no environment to check for drift"
    assert module.modules is getattr(module, "modules"), "built once per process"


def test_a_location_without_its_variable_says_which_to_set(locations):
    module, _ = locations
    with pytest.raises(ConfigError, match=r"\$GITOPS_CONFIG_NETWORK is not set: set it to that repository's"):
        getattr(module, "network")


def test_dagster_loads_both_locations_in_its_own_processes(locations, tmp_path):
    _, workspace = locations
    dagster = Path(sys.executable).parent / "dagster"
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    proc = subprocess.run([str(dagster), "definitions", "validate", "-w", str(workspace)], cwd=tmp_path,
                          env={**os.environ, "DAGSTER_HOME": str(home)}, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "modules" in out and "projects" in out
