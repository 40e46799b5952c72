"""The project flow for one change on a Dagster instance whose storage is a real PostgreSQL server:
test_plan -> test_deploy -> prod_plan -> release -> prod_deploy, with real Terraform against moto.
Runs, materializations and their plan_id lineage must be rows in PostgreSQL, not just what Dagster says."""

from __future__ import annotations


import subprocess
from pathlib import Path

import dagster as dg
import pytest

from gitops_pipelines.core.audit import audit_rows
from gitops_pipelines.defs.audit import deploy_events
from gitops_pipelines.defs.run_tags import change_tags
from gitops_pipelines_tests.fixtures.infra_repo import API_TOKEN, git


pytestmark = pytest.mark.slow

CHANGE = "pr-7"
UNIT = "storage"


@pytest.fixture
def pg_env_instance(tmp_path, postgres, pg_db, monkeypatch):
    """An instance from the project's own dagster.postgres.yaml, its DAGSTER_PG_* pointing at the test server."""
    from pathlib import Path

    import gitops_pipelines

    source = Path(gitops_pipelines.__file__).resolve().parents[1] / "dagster.postgres.yaml"
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(source.read_text())
    for name, value in postgres.env(pg_db).items():
        monkeypatch.setenv(name, value)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        yield instance


@pytest.fixture
def project_defs(infra_root, clouds, tmp_path):
    from gitops_pipelines.definitions import build_definitions
    from gitops_pipelines.resources import GitopsResource

    config = str(infra_root / "gitops.yaml")
    resource = GitopsResource(config_path=config, plan_key="pg-test-plan-key", plan_store_url=str(tmp_path / "plans"))
    return build_definitions(config, gitops=resource)


def _run(defs, instance, job, assets, run_config=None):
    head = git(Path(defs.resources["gitops"].config_path).parent, "rev-parse", "HEAD")
    result = defs.resolve_job_def(job).execute_in_process(
        instance=instance, partition_key=CHANGE, run_config=run_config or {}, raise_on_error=False,
        tags=change_tags(head_sha=head, merge_sha=head),
        asset_selection=[dg.AssetKey([UNIT, a]) for a in assets],
    )
    if not result.success:
        failures = [str(e.event_specific_data.error.message) for e in result.all_events if e.is_step_failure]
        pytest.fail(f"{job} {assets} failed: {failures}")
    return result


def _meta(instance, stage):
    record = instance.get_latest_materialization_event(dg.AssetKey([UNIT, stage]))
    assert record is not None, f"{UNIT}/{stage} never materialized"
    return {k: v.value for k, v in record.asset_materialization.metadata.items()}


def test_project_flow_on_postgres_storage(project_defs, pg_env_instance, postgres, pg_db, clouds, infra_root,
                                          request):
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage

    instance = pg_env_instance
    # the release tags the session's shared repository: removed again at the end
    request.addfinalizer(lambda: subprocess.run(["git", "tag", "-d", f"{UNIT}/v0.1.0"], cwd=infra_root,
                                                capture_output=True))
    assert isinstance(instance.run_storage, PostgresRunStorage)
    assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
    instance.add_dynamic_partitions("changes", [CHANGE])

    runs = [_run(project_defs, instance, "pr_checks", ["syntax", "ephemeral_test", "test_plan"]).run_id]
    runs.append(_run(project_defs, instance, "merge", ["test_deploy", "prod_plan"]).run_id)
    prod_plan_id = _meta(instance, "prod_plan")["plan_id"]
    approval = {"approved_by": "alice", "reason": "CHG-42", "plan_id": prod_plan_id}
    runs.append(_run(project_defs, instance, "release", ["release"],
                     {"ops": {f"{UNIT}__release": {"config": approval}}}).run_id)
    runs.append(_run(project_defs, instance, "prod_deploy", ["prod_deploy"],
                     {"ops": {f"{UNIT}__prod_deploy": {"config": approval}}}).run_id)

    # lineage as Dagster reads it back from PostgreSQL
    test_plan, test_deploy = _meta(instance, "test_plan"), _meta(instance, "test_deploy")
    prod_deploy, release = _meta(instance, "prod_deploy"), _meta(instance, "release")
    assert test_deploy["plan_id"] == test_plan["plan_id"] and test_deploy["plan_asset"] == f"{UNIT}/test_plan"
    assert prod_deploy["plan_id"] == release["plan_id"] == prod_plan_id
    assert prod_deploy["approved_by"] == "alice" and prod_deploy["state_serial"] >= 1
    assert test_plan["plan_id"] != prod_plan_id

    # the rows themselves
    rows = postgres.query("SELECT run_id, status FROM runs ORDER BY id", db_name=pg_db)
    assert rows == [(run_id, "SUCCESS") for run_id in runs]
    tagged = postgres.query("SELECT DISTINCT value FROM run_tags WHERE key = 'dagster/partition'", db_name=pg_db)
    assert tagged == [(CHANGE,)]
    materializations = postgres.query(
        "SELECT asset_key, partition, event FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION'",
        db_name=pg_db,
    )
    by_stage = {dg.AssetKey.from_db_string(key).path[1]: (partition, body) for key, partition, body in materializations}
    assert set(by_stage) == {"syntax", "ephemeral_test", "test_plan", "test_deploy", "prod_plan", "release",
                             "prod_deploy"}
    assert all(partition == CHANGE for partition, _ in by_stage.values())
    for stage, plan_id in [("test_plan", test_plan["plan_id"]), ("test_deploy", test_plan["plan_id"]),
                           ("prod_plan", prod_plan_id), ("release", prod_plan_id), ("prod_deploy", prod_plan_id)]:
        assert plan_id in by_stage[stage][1], f"{stage} row does not carry plan_id {plan_id}"
    indexed = postgres.query("SELECT count(*) FROM asset_keys", db_name=pg_db)[0][0]
    assert indexed >= 5
    # Terraform's output reaches the event log line by line: the sensitive variable must not
    leaked = postgres.query("SELECT count(*) FROM event_logs WHERE event LIKE %s", (f"%{API_TOKEN}%",), db_name=pg_db)
    assert leaked == [(0,)], "the api_token variable's value is in the event log"

    # the audit trail, read back from PostgreSQL: both applies with the change, who approved, the plans
    events, releases = deploy_events(instance, project_defs.resources["gitops"].workspace().config)
    rows = {r.environment: r for r in audit_rows(events, releases)}
    assert set(rows) == {"test", "prod"} and rows["prod"].plan_id == prod_plan_id
    assert rows["test"].plan_id == test_plan["plan_id"] and rows["prod"].released_by == "alice"
    assert rows["prod"].change == CHANGE and rows["prod"].pull_request == "#7" and rows["prod"].release
    table = dg.materialize([project_defs.resolve_assets_def(dg.AssetKey(["audit", "production_changes"]))],
                           instance=instance)
    audited = table.asset_materializations_for_node("audit__production_changes")[0].metadata
    assert audited["applies"].value == 1 and prod_plan_id[:12] in audited["table"].value

    # and the cloud really changed
    buckets = {b["Name"] for b in clouds["prod"].boto3_client("s3").list_buckets()["Buckets"]}
    assert prod_deploy["outputs"]["artifacts_bucket"] in buckets
