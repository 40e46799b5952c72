"""The code location: every asset, dependency, job, schedule and pool that the sample gitops.yaml describes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from gitops_pipelines.core.errors import ConfigError
from gitops_pipelines.definitions import build_definitions
from gitops_pipelines_dev.checkout import CHECKOUT_ROOT
from gitops_pipelines_dev.infra import SAMPLE

FAKE_ENV = {
    "TF_PROVIDER_MIRROR": "/nonexistent", "TEST_AWS_ENDPOINT": "http://127.0.0.1:1",
    "PROD_AWS_ENDPOINT": "http://127.0.0.1:2", "SANDBOX_AWS_ENDPOINT": "http://127.0.0.1:3",
    "GITOPS_GIT_CONFIG": "/nonexistent/gitconfig",
}
PROJECT_DEPS = {
    "syntax": set(), "ephemeral_test": set(), "test_plan": set(),
    "test_deploy": {"test_plan"}, "prod_plan": {"test_deploy"}, "release": {"prod_plan"},
    "prod_deploy": {"prod_plan", "release"},
}
MODULE_DEPS = {"syntax": set(), "ephemeral_test": set(), "release": {"syntax", "ephemeral_test"}}


@pytest.fixture
def sample_env(monkeypatch):
    for name, value in FAKE_ENV.items():
        monkeypatch.setenv(name, value)
    return FAKE_ENV


def test_assets_jobs_and_schedule_follow_design(sample_env):
    repo = build_definitions(SAMPLE / "gitops.yaml").get_repository_def()
    graph = {key.to_user_string(): assets for key, assets in repo.assets_defs_by_key.items()}
    for unit, stages in (("storage", PROJECT_DEPS), ("bucket", MODULE_DEPS)):
        for stage, deps in stages.items():
            key = dg.AssetKey([unit, stage])
            assets = graph[f"{unit}/{stage}"]
            assert assets.group_names_by_key[key] == unit
            assert assets.partitions_def.name == "changes"
            assert {d.path[-1] for d in assets.asset_deps[key]} == deps, f"{unit}/{stage}"
            assert {d.path[0] for d in assets.asset_deps[key]} <= {unit}
        assert {k for k in graph if k.startswith(f"{unit}/")} - {f"{unit}/{s}" for s in stages} == (
            {"storage/drift"} if unit == "storage" else set())

    assert graph["storage/test_deploy"].op.pool == "apply_storage_test"
    assert graph["storage/prod_deploy"].op.pool == "apply_storage_prod"
    assert graph["storage/test_plan"].op.pool is None and graph["storage/prod_plan"].op.pool is None
    assert {c.name for c in graph["storage/test_plan"].check_specs} == {"policy"}
    assert {c.name for c in graph["storage/drift"].check_specs} == {"no_drift_test", "no_drift_prod"}

    jobs = {job: {n for n in repo.get_job(job).graph.node_names()}
            for job in ("pr_checks", "merge", "release", "prod_deploy", "drift")}
    assert jobs == {
        "pr_checks": {"storage__syntax", "storage__ephemeral_test", "storage__test_plan",
                      "bucket__syntax", "bucket__ephemeral_test"},
        "merge": {"storage__test_deploy", "storage__prod_plan"},
        "release": {"storage__release", "bucket__release"},
        "prod_deploy": {"storage__prod_deploy"},
        "drift": {"storage__drift"},
    }
    executors = {job: repo.get_job(job).executor_def.name for job in jobs}
    assert executors == {"pr_checks": "side_by_side_threads", "drift": "side_by_side_threads", "merge": "in_process",
                         "release": "in_process", "prod_deploy": "in_process"}
    assert {(s.name, s.cron_schedule, s.job_name) for s in repo.schedule_defs} == {
        ("drift_test_schedule", "0 6 * * *", "drift_test"), ("drift_prod_schedule", "0 5 * * *", "drift_prod")}

    # The launchpad asks for exactly these fields before a release or a production deploy.
    fields = repo.get_job("prod_deploy").run_config_schema.config_type.fields["ops"].config_type.fields
    approval = fields["storage__prod_deploy"].config_type.fields["config"].config_type.fields
    assert {name for name, f in approval.items() if f.is_required} == {"approved_by", "reason", "plan_id"}


def test_broken_gitops_yaml_raises_config_error_naming_the_field(sample_env, tmp_path):
    broken = tmp_path / "infra"
    shutil.copytree(SAMPLE, broken)
    text = (broken / "gitops.yaml").read_text().replace("kind: project", "kind: projekt")
    (broken / "gitops.yaml").write_text(text)
    with pytest.raises(ConfigError, match=r"units\[1\]\.kind"):
        build_definitions(broken / "gitops.yaml")


def _validate(config: Path, env_extra: dict) -> subprocess.CompletedProcess:
    env = {**os.environ, **env_extra, "GITOPS_CONFIG": str(config)}
    dagster = Path(sys.executable).parent / "dagster"
    return subprocess.run([str(dagster), "definitions", "validate", "-w", "workspace.yaml"], cwd=CHECKOUT_ROOT,
                          env=env, capture_output=True, text=True, timeout=180)


def test_dagster_definitions_validate(tmp_path):
    ok = _validate(SAMPLE / "gitops.yaml", FAKE_ENV)
    assert ok.returncode == 0, ok.stdout + ok.stderr

    broken = tmp_path / "infra"
    shutil.copytree(SAMPLE, broken)
    text = (broken / "gitops.yaml").read_text().replace("path: projects/storage", "path: projects/nowhere")
    (broken / "gitops.yaml").write_text(text)
    bad = _validate(broken / "gitops.yaml", FAKE_ENV)
    assert bad.returncode != 0
    assert "units[1].path" in bad.stdout + bad.stderr


def test_a_launch_that_cannot_know_its_commit_is_refused_before_anything_runs(sample_env, tmp_path):
    """Launched from the UI without the sensor's tags, in a repository without a `github:` section: the stage
    does not fall back to the working copy; it says how to name the commit."""
    from gitops_pipelines_dev.infra import make_infra_repo

    repo = make_infra_repo(tmp_path / "repo")
    (repo / "projects/storage/unreviewed.tf").write_text("# in the working copy only, never committed\n")
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("changes", ["pr-9"])
        defs = build_definitions(repo / "gitops.yaml")
        result = defs.resolve_job_def("pr_checks").execute_in_process(
            instance=instance, partition_key="pr-9", raise_on_error=False,
            asset_selection=[dg.AssetKey(["storage", "syntax"])])
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure).step_failure_data
    assert "does not say which commit" in failure.user_failure_data.description
    assert "gitops/head_sha" in failure.user_failure_data.description
    assert not result.get_asset_materialization_events()


def _pr_checks_job() -> dg.JobDefinition:
    """Module-level, so that step processes can rebuild the job (a reconstructable job)."""
    return build_definitions(os.environ["GITOPS_TEST_CONFIG"]).resolve_job_def("pr_checks")


def test_pr_checks_steps_run_side_by_side_in_the_run_process(sample_env, tmp_path, monkeypatch):
    """pr_checks runs each step in a thread of the run's own process (no step process imports the code location
    again); the steps still run at once, and their failures come back, each to its own step."""
    from gitops_pipelines_dev.infra import make_infra_repo

    repo = make_infra_repo(tmp_path / "repo")
    monkeypatch.setenv("GITOPS_TEST_CONFIG", str(repo / "gitops.yaml"))
    syntax = [dg.AssetKey(["storage", "syntax"]), dg.AssetKey(["bucket", "syntax"])]
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("changes", ["pr-9"])
        with dg.execute_job(dg.reconstructable(_pr_checks_job), instance=instance, raise_on_error=False,
                            tags={"dagster/partition": "pr-9"}, asset_selection=syntax) as result:
            events = result.all_events
    failures = {e.step_key: e.step_failure_data.user_failure_data.description for e in events if e.is_step_failure}
    assert set(failures) == {"storage__syntax", "bucket__syntax"}
    assert all("does not say which commit" in f for f in failures.values())
    assert {e.pid for e in events if e.is_step_start} == {os.getpid()}
