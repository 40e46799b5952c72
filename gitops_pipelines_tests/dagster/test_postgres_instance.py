"""A Dagster instance on dagster-postgres keeps its runs and materializations in the real PostgreSQL server."""

from __future__ import annotations

import dagster as dg



@dg.asset(key=["demo", "trivial"])
def trivial() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"plan_id": "sha256:0123"})


def test_instance_on_postgres_stores_run_and_materialization(pg_instance, postgres, pg_db):
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage

    assert isinstance(pg_instance.run_storage, PostgresRunStorage)
    assert isinstance(pg_instance.event_log_storage, PostgresEventLogStorage)

    result = dg.materialize([trivial], instance=pg_instance)
    assert result.success

    # what Dagster reads back
    record = pg_instance.get_latest_materialization_event(dg.AssetKey(["demo", "trivial"]))
    assert record is not None and record.run_id == result.run_id
    assert record.asset_materialization.metadata["plan_id"].value == "sha256:0123"

    # what is really in PostgreSQL
    runs = postgres.query("SELECT run_id, status FROM runs WHERE run_id = %s", (result.run_id,), db_name=pg_db)
    assert runs == [(result.run_id, "SUCCESS")]
    events = postgres.query(
        "SELECT asset_key, event FROM event_logs WHERE run_id = %s AND dagster_event_type = 'ASSET_MATERIALIZATION'",
        (result.run_id,), db_name=pg_db,
    )
    assert len(events) == 1
    asset_key, body = events[0]
    assert "trivial" in asset_key and "sha256:0123" in body
