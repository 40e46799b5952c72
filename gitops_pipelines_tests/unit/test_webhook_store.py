"""WebhookStore on a real SQLite file: dedupe, cursor paging, several processes writing at once."""

from __future__ import annotations

import multiprocessing
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest

from gitops_pipelines.core.github.webhook_store import Delivery, WebhookStore

WRITERS = 4
PER_WRITER = 150
SHARED = 60  # delivery ids every writer tries to store: GitHub redelivering while the first is being written


@pytest.fixture
def store(tmp_path) -> WebhookStore:
    return WebhookStore(tmp_path / "hooks" / "deliveries.db")


def test_record_and_get(store):
    when = datetime(2026, 11, 3, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    assert store.record("d-1", "push", b'{"ref": "refs/heads/main"}', when) is True
    got = store.get("d-1")
    assert isinstance(got, Delivery)
    assert (got.id, got.delivery_id, got.event, got.payload) == (1, "d-1", "push", b'{"ref": "refs/heads/main"}')
    assert got.received_at == when and got.received_at.tzinfo == timezone.utc
    assert got.json() == {"ref": "refs/heads/main"}
    assert store.get("d-2") is None


def test_received_at_defaults_to_now(store):
    before = datetime.now(timezone.utc)
    store.record("d-1", "ping", b"{}")
    assert before <= store.get("d-1").received_at <= datetime.now(timezone.utc)


def test_duplicate_delivery_is_stored_once(store):
    assert store.record("d-1", "push", b'{"n": 1}') is True
    assert store.record("d-1", "push", b'{"n": 2}') is False
    assert store.record("d-1", "release", b'{"n": 3}') is False
    assert store.count() == 1
    assert store.get("d-1").payload == b'{"n": 1}'  # the first one wins, never overwritten


def test_payload_kept_byte_for_byte(store):
    payload = bytes(range(256)) * 40_000  # 10 MB, every byte value
    store.record("big", "push", payload)
    assert store.get("big").payload == payload


def test_pending_pages_by_id_cursor(store):
    for i in range(250):
        store.record(f"d-{i}", "push", f'{{"i": {i}}}'.encode())
    cursor, seen = 0, []
    for expected in (100, 100, 50, 0):
        page = store.pending(after_id=cursor, limit=100)
        assert len(page) == expected
        seen += page
        if page:
            cursor = page[-1].id
    assert [d.delivery_id for d in seen] == [f"d-{i}" for i in range(250)]
    assert [d.id for d in seen] == sorted(d.id for d in seen)
    assert cursor == store.last_id() == 250
    store.record("late", "ping", b"{}")
    assert [d.delivery_id for d in store.pending(after_id=cursor)] == ["late"]


def test_pending_defaults_and_limits(store):
    assert store.pending() == [] and store.last_id() == 0
    for i in range(3):
        store.record(f"d-{i}", "push", b"{}")
    assert [d.delivery_id for d in store.pending()] == ["d-0", "d-1", "d-2"]
    assert [d.delivery_id for d in store.pending(after_id=1, limit=1)] == ["d-1"]
    with pytest.raises(ValueError, match="limit"):
        store.pending(limit=0)


def test_survives_reopening(tmp_path):
    path = tmp_path / "deliveries.db"
    WebhookStore(path).record("d-1", "push", b"{}")
    again = WebhookStore(path)
    assert again.count() == 1 and again.record("d-1", "push", b"{}") is False


def test_file_is_in_wal_mode(store):
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize(
    ("delivery_id", "event", "payload", "error"),
    [
        ("", "push", b"{}", ValueError),
        ("x" * 201, "push", b"{}", ValueError),
        ("bad\nid", "push", b"{}", ValueError),
        ("d-1", "", b"{}", ValueError),
        (None, "push", b"{}", ValueError),
        ("d-1", "push", "{}", TypeError),
    ],
)
def test_record_refuses_bad_input(store, delivery_id, event, payload, error):
    with pytest.raises(error):
        store.record(delivery_id, event, payload)
    assert store.count() == 0


def _writer(path: str, name: str, start, results) -> None:
    store = WebhookStore(path)  # each process opens the file itself, as the receiver and a sensor would
    start.wait()
    won = []
    for i in range(PER_WRITER):
        store.record(f"{name}-{i}", "push", f'{{"writer": "{name}", "i": {i}}}'.encode())
        if i < SHARED and store.record(f"shared-{i}", "push", name.encode()):
            won.append(i)
    results.put((name, won))


def test_several_processes_write_at_once(tmp_path):
    path = str(tmp_path / "deliveries.db")
    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Event(), ctx.Queue()
    writers = [ctx.Process(target=_writer, args=(path, f"w{n}", start, results)) for n in range(WRITERS)]
    for proc in writers:
        proc.start()
    start.set()
    outcomes = dict(results.get(timeout=120) for _ in writers)
    for proc in writers:
        proc.join(timeout=60)
        assert proc.exitcode == 0

    # every shared delivery id was won by exactly one writer
    won = [i for wins in outcomes.values() for i in wins]
    assert sorted(won) == list(range(SHARED))

    store = WebhookStore(path)
    assert store.count() == WRITERS * PER_WRITER + SHARED
    everything, cursor = [], 0
    while page := store.pending(after_id=cursor, limit=97):
        everything += page
        cursor = page[-1].id
    ids = [d.id for d in everything]
    assert ids == sorted(set(ids)) and len(ids) == store.count()
    # each writer's own deliveries come back in the order it wrote them
    for n in range(WRITERS):
        mine = [d.delivery_id for d in everything if d.delivery_id.startswith(f"w{n}-")]
        assert mine == [f"w{n}-{i}" for i in range(PER_WRITER)]


def test_threads_share_one_store(store):
    """The receiver calls the store from a thread pool: one store object, a connection per thread."""
    from concurrent.futures import ThreadPoolExecutor

    def write(n: int) -> bool:
        return store.record(f"t-{n % 50}", "push", b"{}")

    with ThreadPoolExecutor(max_workers=8) as pool:
        stored = list(pool.map(write, range(400)))
    assert stored.count(True) == 50 and store.count() == 50
    store.close()
    assert store.count() == 50  # a closed connection is reopened on the next call
