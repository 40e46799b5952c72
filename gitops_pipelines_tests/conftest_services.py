"""Session-wide PostgreSQL for the tests that need it; a test module opts in with
`pytest_plugins = ["gitops_pipelines_tests.conftest_services"]` (or the root conftest lists it).

One server per session (about 2 s to start); every test gets its own database, so tests never see each other's rows.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from gitops_pipelines_dev.postgres import PostgresServer


@pytest.fixture(scope="session")
def postgres():
    """A throwaway PostgreSQL server for the whole session (`initdb` + `pg_ctl` under a temp dir)."""
    server = PostgresServer(db_name="gitops").start()
    yield server
    server.stop()


@pytest.fixture
def pg_db(postgres, request):
    """A fresh, empty database on the session server for one test; its name."""
    name = "t_" + re.sub(r"[^a-z0-9_]", "_", request.node.name.lower())[:40]
    postgres.drop_database(name)
    postgres.create_database(name)
    yield name
    postgres.drop_database(name)


def write_pg_dagster_yaml(home: Path, server: PostgresServer, db_name: str, extra: dict | None = None) -> Path:
    """A DAGSTER_HOME whose dagster.yaml keeps runs, events and schedules in PostgreSQL (literal values)."""
    home.mkdir(parents=True, exist_ok=True)
    config = {"storage": server.storage_config(db_name), "telemetry": {"enabled": False}}
    config.update(extra or {})
    (home / "dagster.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return home


@pytest.fixture
def pg_dagster_home(tmp_path, postgres, pg_db):
    """A temp DAGSTER_HOME configured for dagster-postgres on this test's own database."""
    return write_pg_dagster_yaml(tmp_path / "dagster_home", postgres, pg_db)


@pytest.fixture
def pg_instance(pg_dagster_home):
    """A DagsterInstance on PostgreSQL storage (this test's database)."""
    from dagster import DagsterInstance

    with DagsterInstance.from_config(str(pg_dagster_home)) as instance:
        yield instance
