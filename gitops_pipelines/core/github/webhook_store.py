"""Durable store of received webhook deliveries: the receiver writes, sensors page through it with an id cursor.

SQLite in WAL mode with a busy timeout, so several processes (receiver workers, a sensor, the CLI) can write and
read the same file at once. Each thread keeps its own connection: closing the last connection checkpoints and
fsyncs the WAL, which made a connection per call cost about 10 ms. SQLite serialises writers, so ids are handed out in commit order: a reader
that has seen id N never later finds a new row with a smaller id, which makes `after_id` a safe cursor.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

_BUSY_TIMEOUT_MS = 30_000
MAX_DELIVERY_ID_LEN = 200  # GitHub sends a UUID; anything much longer is not GitHub
MAX_EVENT_LEN = 100

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: the sensors' cursor
    delivery_id  TEXT NOT NULL UNIQUE,               -- X-GitHub-Delivery
    event        TEXT NOT NULL,                      -- X-GitHub-Event
    payload      BLOB NOT NULL,                      -- the JSON body, byte for byte
    received_at  TEXT NOT NULL                       -- ISO 8601, UTC
)
"""


@dataclass(frozen=True)
class Delivery:
    """One stored webhook delivery."""

    id: int
    delivery_id: str
    event: str
    payload: bytes
    received_at: datetime

    def json(self) -> Any:
        """The payload decoded from JSON."""
        return json.loads(self.payload)


class WebhookStore:
    """Deliveries in one SQLite file, deduplicated on the GitHub delivery id."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._connect() as conn:
            self._initialise(conn)

    @staticmethod
    def _initialise(conn: sqlite3.Connection) -> None:
        """WAL and the schema. Switching to WAL needs the file to itself and SQLite answers "locked" at once,
        without waiting, when another process opens it at the same moment (the receiver and a sensor): retry."""
        deadline = time.monotonic() + _BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                # journal_mode is a property of the file: set once, every later connection uses WAL
                if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                    conn.execute("PRAGMA journal_mode=WAL")
                conn.execute(_SCHEMA)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():  # a connection must not cross a fork
            # isolation_level=None: autocommit; each statement below is its own transaction
            conn = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            conn.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA synchronous=NORMAL")  # survives a process crash; WAL keeps the file consistent
            self._local.conn, self._local.pid = conn, os.getpid()
        yield conn

    def close(self) -> None:
        """Close this thread's connection (others close when their thread ends)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            conn.close()
        self._local.conn = None

    def record(
        self, delivery_id: str, event: str, payload: bytes, received_at: datetime | None = None
    ) -> bool:
        """Store a delivery; False (and nothing written) if this delivery id is already stored."""
        _check_text("delivery_id", delivery_id, MAX_DELIVERY_ID_LEN)
        _check_text("event", event, MAX_EVENT_LEN)
        if not isinstance(payload, (bytes, bytearray, memoryview)):
            raise TypeError(f"payload must be bytes, not {type(payload).__name__}")
        when = (received_at or datetime.now(timezone.utc)).astimezone(timezone.utc)
        with self._connect() as conn:
            cursor = conn.execute(
                "INSERT INTO deliveries (delivery_id, event, payload, received_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(delivery_id) DO NOTHING",
                (delivery_id, event, bytes(payload), when.isoformat()),
            )
            return cursor.rowcount == 1

    def pending(self, after_id: int = 0, limit: int = 100) -> list[Delivery]:
        """Deliveries with id > after_id, oldest first, at most `limit`; keep the last id as the next cursor."""
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT id, delivery_id, event, payload, received_at FROM deliveries "
                "WHERE id > ? ORDER BY id LIMIT ?",
                (int(after_id), int(limit)),
            ).fetchall()
        return [_delivery(row) for row in rows]

    def get(self, delivery_id: str) -> Delivery | None:
        """The delivery stored under this GitHub delivery id, if any."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT id, delivery_id, event, payload, received_at FROM deliveries WHERE delivery_id = ?",
                (delivery_id,),
            ).fetchone()
        return _delivery(row) if row else None

    def count(self) -> int:
        """How many deliveries are stored."""
        with self._connect() as conn:
            return conn.execute("SELECT COUNT(*) FROM deliveries").fetchone()[0]

    def last_id(self) -> int:
        """The newest id (0 when empty): where a new sensor may start if it wants only future deliveries."""
        with self._connect() as conn:
            return conn.execute("SELECT COALESCE(MAX(id), 0) FROM deliveries").fetchone()[0]

    def __repr__(self) -> str:
        return f"WebhookStore({str(self.path)!r})"


def _check_text(name: str, value: object, max_len: int) -> None:
    if not isinstance(value, str) or not value or len(value) > max_len or not value.isprintable():
        raise ValueError(f"{name} must be a non-empty printable string of at most {max_len} characters")


def _delivery(row: tuple) -> Delivery:
    id_, delivery_id, event, payload, received_at = row
    return Delivery(id_, delivery_id, event, bytes(payload), datetime.fromisoformat(received_at))
