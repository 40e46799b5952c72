"""A throwaway PostgreSQL server on a free loopback port, for the tests and the demo.

`initdb`, `pg_ctl` and `postgres` refuse to run as root, so when we are root they run as the unprivileged
`postgres` user, in a temp dir that user owns (pytest's own tmp dirs are 0700 root, so they cannot be used).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from gitops_pipelines_dev.ports import free_port

PG_USER = "postgres"
SYSTEM_USER = "postgres"  # the account the server runs as when we are root


def find_pg_bin(name: str) -> str:
    """The path of a PostgreSQL program: PATH first, then the newest /usr/lib/postgresql/*/bin."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=_version_key, reverse=True)
    if not candidates:
        raise RuntimeError(f"PostgreSQL program {name!r} not found on PATH or under /usr/lib/postgresql/*/bin")
    return candidates[0]


def _version_key(path: str) -> tuple[int, ...]:
    part = Path(path).parents[1].name
    return tuple(int(x) for x in part.split(".") if x.isdigit())


class PostgresServer:
    """`initdb` + `pg_ctl start` under a temp dir; `stop()` shuts it down and removes the dir."""

    def __init__(self, db_name: str = "dagster", port: int | None = None, base_dir: str | None = None):
        self.db_name = db_name
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.user = PG_USER
        self.password = "postgres"  # ignored (trust authentication on loopback), but never empty for DAGSTER_PG_PASSWORD
        self._base_dir = base_dir
        self.root: Path | None = None
        self._as_root = os.geteuid() == 0

    # -- locations -------------------------------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        assert self.root is not None, "server not started"
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        assert self.root is not None, "server not started"
        return self.root / "postgres.log"

    @property
    def url(self) -> str:
        return self.url_for(self.db_name)

    def url_for(self, db_name: str) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{db_name}"

    def env(self, db_name: str | None = None) -> dict[str, str]:
        """The DAGSTER_PG_* variables that point dagster.yaml's postgres storage at this server."""
        return {
            "DAGSTER_PG_HOST": self.host,
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_USER": self.user,
            "DAGSTER_PG_PASSWORD": self.password,
            "DAGSTER_PG_DB": db_name or self.db_name,
        }

    def storage_config(self, db_name: str | None = None) -> dict:
        """The `storage: postgres:` block of a dagster.yaml for this server (literal values, no env vars)."""
        return {
            "postgres": {
                "postgres_db": {
                    "username": self.user,
                    "password": self.password,
                    "hostname": self.host,
                    "db_name": db_name or self.db_name,
                    "port": self.port,
                }
            }
        }

    # -- life cycle ------------------------------------------------------------------------------------------
    def start(self) -> "PostgresServer":
        # A short path in a world-traversable dir: the unix socket path must stay under 108 bytes.
        self.root = Path(tempfile.mkdtemp(prefix="gitops-pg-", dir=self._base_dir or "/tmp"))
        if self._as_root:
            shutil.chown(self.root, user=SYSTEM_USER, group=SYSTEM_USER)
        try:
            self._run(
                [find_pg_bin("initdb"), "-D", str(self.data_dir), "-U", self.user, "--auth=trust",
                 "--encoding=UTF8", "--no-sync"],
                what="initdb",
            )
            self._start_server()
            self.create_database(self.db_name)
        except Exception:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Fast shutdown (disconnects clients), then remove the temp dir."""
        if self.root is None:
            return
        if (self.data_dir / "postmaster.pid").exists():
            try:
                self._stop_server()
            except RuntimeError:
                pass
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None

    def restart(self, down_for: float = 0.0) -> None:
        """Stop the server (fast: every client is disconnected), stay down for down_for seconds, start it again on
        the same data and port: what an upgrade or a failover does to the clients."""
        assert self.root is not None, "server not started"
        self._stop_server()
        time.sleep(down_for)
        self._start_server()

    def _start_server(self) -> None:
        # fsync off: a throwaway server; durability costs seconds per test session.
        options = f"-h {self.host} -p {self.port} -k {self.data_dir} -c fsync=off -c full_page_writes=off"
        self._run([find_pg_bin("pg_ctl"), "-D", str(self.data_dir), "-o", options, "-l", str(self.log_file),
                   "-w", "-t", "60", "start"], what="pg_ctl start")

    def _stop_server(self) -> None:
        self._run([find_pg_bin("pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"],
                  what="pg_ctl stop", timeout=60)

    def __enter__(self) -> "PostgresServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- queries ---------------------------------------------------------------------------------------------
    def connect(self, db_name: str | None = None):
        """A psycopg2 connection in autocommit mode."""
        import psycopg2

        conn = psycopg2.connect(host=self.host, port=self.port, user=self.user, dbname=db_name or self.db_name)
        conn.autocommit = True
        return conn

    def query(self, sql: str, params=None, db_name: str | None = None) -> list[tuple]:
        """Run one statement and return its rows (empty for statements without a result)."""
        conn = self.connect(db_name)
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall() if cur.description else []
        finally:
            conn.close()

    def create_database(self, db_name: str) -> str:
        """Create a database (e.g. one per test) and return its name."""
        self._admin("CREATE DATABASE {}", db_name)
        return db_name

    def drop_database(self, db_name: str) -> None:
        self._admin("DROP DATABASE IF EXISTS {} WITH (FORCE)", db_name)

    def _admin(self, statement: str, db_name: str) -> None:
        """One statement about a database, run from the maintenance database (it cannot run inside a transaction)."""
        from psycopg2 import sql

        conn = self.connect("postgres")
        try:
            with conn.cursor() as cur:
                cur.execute(sql.SQL(statement).format(sql.Identifier(db_name)))
        finally:
            conn.close()

    # -- helpers ---------------------------------------------------------------------------------------------
    def _run(self, cmd: list[str], what: str, timeout: float = 120) -> None:
        if self._as_root:
            cmd = ["runuser", "-u", SYSTEM_USER, "--", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                              cwd=str(self.root))
        if proc.returncode != 0:
            log = ""
            if self.root is not None and self.log_file.exists():
                log = "\n--- server log ---\n" + self.log_file.read_text(errors="replace")[-4000:]
            raise RuntimeError(
                f"{what} failed with exit code {proc.returncode}:\n{proc.stdout}{proc.stderr}{log}"
            )
