"""Picks the Dagster instance settings for a DAGSTER_HOME: SQLite by default, PostgreSQL when DAGSTER_PG_* are set.

dagster.yaml cannot be conditional, so the project ships both files and this copies the right one.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

from gitops_pipelines_dev.checkout import CHECKOUT_ROOT

SQLITE_YAML = CHECKOUT_ROOT / "dagster.yaml"
POSTGRES_YAML = CHECKOUT_ROOT / "dagster.postgres.yaml"
PG_DEFAULTS = {"DAGSTER_PG_PORT": "5432", "DAGSTER_PG_USER": "postgres", "DAGSTER_PG_PASSWORD": "",
               "DAGSTER_PG_DB": "dagster"}


def uses_postgres(environ: Mapping[str, str]) -> bool:
    return bool(environ.get("DAGSTER_PG_HOST"))


def install_instance_config(dagster_home: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """Write dagster.yaml into dagster_home; returns the DAGSTER_PG_* defaults the chosen file still needs."""
    dagster_home.mkdir(parents=True, exist_ok=True)
    postgres = uses_postgres(environ)
    shutil.copyfile(POSTGRES_YAML if postgres else SQLITE_YAML, dagster_home / "dagster.yaml")
    if not postgres:
        return {}
    return {name: value for name, value in PG_DEFAULTS.items() if name not in environ}
