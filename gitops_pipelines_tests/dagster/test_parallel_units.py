"""Parallel units: one pr_checks run plans the units of a change side by side, at most `pr_checks.parallelism` steps
at once; an apply waits while another holds its unit and environment's pool. Real instance with the project's
dagster.yaml pool settings; the plans run real Terraform against moto."""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from pathlib import Path

import dagster as dg
import pytest
import yaml

from gitops_pipelines.definitions import build_definitions
from gitops_pipelines.defs.keys import apply_pool
from gitops_pipelines.defs.run_tags import change_tags
from gitops_pipelines.resources import GitopsResource
from gitops_pipelines_dev.infra import git, make_infra_repo
from gitops_pipelines_tests.dagster.conftest import PLAN_KEY

PROJECT_ROOT = Path(__file__).resolve().parents[2]
UNITS = ("storage", "storage2", "storage3")
STEP_END = (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE)


@pytest.fixture
def pool_instance(tmp_path):
    """An instance with the project's own pool settings (every pool not configured otherwise: limit 1)."""
    concurrency = yaml.safe_load((PROJECT_ROOT / "dagster.yaml").read_text())["concurrency"]
    home = tmp_path / "dagster_home"
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home), overrides={"concurrency": concurrency}) as instance:
        yield instance


@pytest.fixture(scope="module")
def three_units(tmp_path_factory, cloud_env) -> Path:
    """The sample with two more copies of its project, all three deployed to test: a change touching 3 units."""
    repo = make_infra_repo(tmp_path_factory.mktemp("parallel") / "repo")
    for name in UNITS[1:]:
        shutil.copytree(repo / "projects/storage", repo / "projects" / name)
        with (repo / "gitops.yaml").open("a") as f:
            f.write(f"  - name: {name}\n    kind: project\n    path: projects/{name}\n    environments: [test]\n")
    return repo


def _set_parallelism(repo: Path, limit: int) -> str:
    """gitops.yaml's pr_checks.parallelism, committed; returns the new head."""
    text = re.sub(r"(?m)^pr_checks:.*\n(?:[ ]+.*\n)*", "", (repo / "gitops.yaml").read_text())
    (repo / "gitops.yaml").write_text(f"{text}pr_checks: {{parallelism: {limit}}}\n")
    git(repo, "-c", "user.name=test", "-c", "user.email=test@example.com", "commit", "-qam", f"parallelism {limit}")
    return git(repo, "rev-parse", "HEAD")


def _pr_checks_job() -> dg.JobDefinition:
    """Module-level, so that step processes can rebuild the job (a reconstructable job)."""
    config = os.environ["GITOPS_TEST_CONFIG"]
    gitops = GitopsResource(config_path=config, plan_key=PLAN_KEY, plan_store_url=os.environ["GITOPS_TEST_PLANS"])
    return build_definitions(config, gitops=gitops).resolve_job_def("pr_checks")


def _windows(instance: dg.DagsterInstance, run_id: str) -> dict[str, tuple[float, float]]:
    """Step key -> (STEP_START, STEP_SUCCESS or STEP_FAILURE) timestamps, from the run's event log."""
    starts, ends = {}, {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type == dg.DagsterEventType.STEP_START:
            starts[event.step_key] = entry.timestamp
        elif event.event_type in STEP_END:
            ends[event.step_key] = entry.timestamp
    return {step: (starts[step], ends[step]) for step in starts}


def _most_at_once(windows: dict[str, tuple[float, float]]) -> int:
    """The most steps running at the same moment (a step that ends as another starts does not overlap it)."""
    edges = sorted([(start, 1) for start, _ in windows.values()] + [(end, -1) for _, end in windows.values()])
    running = most = 0
    for _, change in edges:  # at equal times -1 sorts first
        running += change
        most = max(most, running)
    return most


def test_pr_checks_parallelism_is_the_executors_max_concurrent(tmp_path):
    """Definitions only: each job its own setting, on the thread executor (defs/threads.py)."""

    (tmp_path / "projects/storage").mkdir(parents=True)
    (tmp_path / "gitops.yaml").write_text(
        "environments: [{name: test}]\nunits: [{name: storage, kind: project, path: projects/storage}]\n"
        "pr_checks: {parallelism: 3}\ndrift: {parallelism: 5}\n")
    repo = build_definitions(tmp_path / "gitops.yaml").get_repository_def()
    executor = repo.get_job("pr_checks").executor_def
    assert executor.name == "side_by_side_threads"
    assert executor.apply_config_mapping({}).value["config"]["max_concurrent"] == 3
    assert repo.get_job("drift").executor_def.apply_config_mapping({}).value["config"]["max_concurrent"] == 5


@pytest.mark.parametrize("limit, expected", [(2, 2), (3, 3)])
def test_a_change_touching_three_units_plans_at_most_parallelism_of_them_at_once(
        three_units, clouds, pool_instance, tmp_path, monkeypatch, limit, expected):
    """Plans are in no pool (the instance's default limit 1 would serialise them): only the executor bounds them."""
    from multiprocessing import forkserver

    head = _set_parallelism(three_units, limit)
    monkeypatch.setenv("GITOPS_TEST_CONFIG", str(three_units / "gitops.yaml"))
    monkeypatch.setenv("GITOPS_TEST_PLANS", str(tmp_path / "plans"))
    plans = [dg.AssetKey([unit, "test_plan"]) for unit in UNITS]
    pool_instance.add_dynamic_partitions("changes", ["pr-7"])
    try:
        with dg.execute_job(dg.reconstructable(_pr_checks_job), instance=pool_instance, asset_selection=plans,
                            tags={"dagster/partition": "pr-7", **change_tags(head_sha=head)},
                            raise_on_error=False) as result:
            run_id, success = result.run_id, result.success
            failures = [e.step_failure_data.error for e in result.all_events if e.is_step_failure]
    finally:
        forkserver._forkserver._stop()  # if the executor forks step processes from one: it lives as long as the run
    assert success, failures
    windows = _windows(pool_instance, run_id)
    assert sorted(windows) == sorted(f"{unit}__test_plan" for unit in UNITS)
    assert _most_at_once(windows) == expected, windows


def test_an_apply_waits_while_another_apply_of_its_unit_and_environment_holds_the_pool(gitops_defs, pool_instance):
    """Another run's apply of storage in test holds apply_storage_test's one slot: this run's test_deploy step does
    not start until it is freed."""
    pool, holder = apply_pool("storage", "test"), "another-run-applying-storage-to-test"
    pool_instance.event_log_storage.initialize_concurrency_limit_to_default(pool)
    assert pool_instance.event_log_storage.get_concurrency_info(pool).slot_count == 1
    assert pool_instance.event_log_storage.claim_concurrency_slot(pool, holder, "storage__test_deploy").is_claimed
    pool_instance.add_dynamic_partitions("changes", ["pr-8"])
    job = gitops_defs.resolve_job_def("merge")
    runner = threading.Thread(target=lambda: job.execute_in_process(
        instance=pool_instance, partition_key="pr-8", raise_on_error=False,
        asset_selection=[dg.AssetKey(["storage", "test_deploy"])]))
    runner.start()
    try:
        run_id = _wait_for_blocked_step(pool_instance, pool)
        time.sleep(2)  # several of the executor's claim attempts
        assert "storage__test_deploy" not in _windows(pool_instance, run_id)
        assert not any(e.dagster_event.event_type == dg.DagsterEventType.STEP_START
                       for e in pool_instance.all_logs(run_id) if e.dagster_event)
    finally:
        freed = time.time()
        pool_instance.event_log_storage.free_concurrency_slots_for_run(holder)
        runner.join(timeout=120)
    assert not runner.is_alive()
    starts = [e.timestamp for e in pool_instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_START)]
    assert len(starts) == 1 and starts[0] >= freed  # it ran (and failed: no stored plan), after the slot was free


def _wait_for_blocked_step(instance: dg.DagsterInstance, pool: str, timeout: float = 60) -> str:
    """The id of the run whose step says it is blocked by `pool`."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for run in instance.get_runs():
            if any(f"blocked by limit for pool {pool}" in (e.dagster_event.message or "")
                   for e in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT)):
                return run.run_id
        time.sleep(0.2)
    raise AssertionError(f"no step was blocked by pool {pool} within {timeout} s")
