"""The mixed layout through Dagster: the modules repository's code location sees a fix pull request on the GitHub
emulator, runs its PR checks for real (terraform test in the sandbox), counts alice's approval, and after the merge
releases the module by itself; the release opens a bump pull request in the projects repository for each project
still on the old tag, and its materialization lists those consumers."""

from __future__ import annotations

import subprocess

import dagster as dg
import pytest

from gitops_pipelines.definitions import build_definitions
from gitops_pipelines.resources import GitopsResource
from gitops_pipelines.resources.github import GitHubResource
from gitops_pipelines.demo import MODULE_CHANGE
from gitops_pipelines_dev.github_emulator import Emulator
from gitops_pipelines_dev.github_emulator.openapi_check import check
from gitops_pipelines_dev.infra import (MODULES_REPOSITORY, PROJECTS_REPOSITORY, github_url, mixed_layout,
                                        release_tag, serve_repositories)
from gitops_pipelines_tests.dagster.conftest import PLAN_KEY, latest_metadata
from gitops_pipelines_tests.dagster.sensor_support import Sensor, execute

pytestmark = pytest.mark.slow


@pytest.fixture
def modules_location(github_contract, cloud_env, clouds, tmp_path, monkeypatch):
    with Emulator(github_contract) as emu:
        repos = {}
        for name, files in mixed_layout().items():
            repos[name] = emu.create_repo(*name.split("/"), files)
        release_tag(repos[MODULES_REPOSITORY].git.path)
        git_config = serve_repositories({github_url(n): r.git.path for n, r in repos.items()}, tmp_path / "gitconfig")
        monkeypatch.setenv("GITOPS_GIT_CONFIG", str(git_config))
        monkeypatch.setenv("GITHUB_API_URL", emu.base_url)
        for login in ("alice", "maintainer", "developer"):
            emu.register_user(login, f"{login}-token")
        checkout = tmp_path / "modules"
        subprocess.run(["git", "clone", "-q", str(repos[MODULES_REPOSITORY].git.path), str(checkout)], check=True)
        github = GitHubResource(repository=MODULES_REPOSITORY, api_url=emu.base_url, token="ghp_test",
                                seconds_between_requests=0, seconds_between_writes=0)
        gitops = GitopsResource(config_path=str(checkout / "gitops.yaml"), plan_key=PLAN_KEY,
                                plan_store_url=str(tmp_path / "plans"))
        defs = build_definitions(checkout / "gitops.yaml", gitops=gitops, github=github)
        yield emu, repos, checkout, defs, github
        report = check(emu.exchanges, emu.contract)
        assert not report.failures, report.summary()


def test_a_module_fix_is_released_and_bumped_in_the_projects_repository(modules_location, instance):
    emu, repos, checkout, defs, github = modules_location
    modules, projects = repos[MODULES_REPOSITORY], repos[PROJECTS_REPOSITORY]
    sensor = Sensor(defs, instance, github)
    sensor.tick()

    issue = modules.create_issue("Buckets should say which module made them")
    text = modules.git.show_file("main", "modules/bucket/main.tf")
    modules.commit("module-tag", {"modules/bucket/main.tf": text.replace(*MODULE_CHANGE)}, "fix: tag buckets")
    number = modules.open_pull("module-tag", "fix: tag buckets with their module", f"Fixes #{issue}")
    (checks,) = [r for r in sensor.tick().run_requests if r.job_name == "pr_checks"]
    assert {k.to_user_string() for k in checks.asset_selection} >= {"bucket/syntax", "bucket/ephemeral_test"}
    execute(defs, instance, checkout, checks, stages={"syntax", "ephemeral_test"})
    assert "passed" in latest_metadata(instance, "bucket/ephemeral_test", f"pr-{number}")["result"]

    modules.review(number, "alice")
    sensor.tick()
    modules.merge(number, user="maintainer")
    (release,) = [r for r in sensor.tick().run_requests if r.job_name == "release"]
    execute(defs, instance, checkout, release, stages={"release"})

    assert "bucket/v0.1.1" in modules.git.tags(), "a fix is a patch release"
    assert [r.tag_name for r in modules.releases.values()] == ["bucket/v0.1.1"]
    metadata = latest_metadata(instance, "bucket/release", f"pr-{number}")
    assert metadata["tag"] == "bucket/v0.1.1" and metadata["consumers_behind"] == 2
    assert "| `acme/projects:storage` | `artifacts` | `bucket/v0.1.0` | behind |" in metadata["consumers"]
    assert "| `acme/projects:web` | `site` | `bucket/v0.1.0` | behind |" in metadata["consumers"]

    opened = {p["unit"]: p["number"] for p in metadata["consumer_prs"]}
    assert set(opened) == {"acme/projects:storage", "acme/projects:web"}
    for unit, path in (("storage", "projects/storage/main.tf"), ("web", "projects/web/main.tf")):
        pull = projects.pull(opened[f"acme/projects:{unit}"])
        assert pull.issue.title == f"{unit}: use bucket bucket/v0.1.1" and "bucket/v0.1.1" in pull.issue.body
        assert "?ref=bucket/v0.1.1" in projects.git.show_file(pull.head_sha, path)
        work_item = int(pull.issue.body.split("Fixes #")[1].split()[0])  # its work_item check can pass
        assert projects.issues[work_item].title == pull.issue.title
    assert list(modules.pulls) == [number], "the bumps open in the projects repository only"
    assert dg.AssetKey(["bucket", "release"]) in defs.resolve_job_def("release").asset_layer.executable_asset_keys
