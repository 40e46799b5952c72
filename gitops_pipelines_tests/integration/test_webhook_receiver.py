"""The webhook receiver with GitHub's real example payloads, signed here: in-process (TestClient) and over real HTTP."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from starlette.testclient import TestClient

from gitops_pipelines.core.github.events import HANDLED_EVENTS, parse_event
from gitops_pipelines.core.github.webhook_store import WebhookStore
from gitops_pipelines.webhooks import WEBHOOK_PATH, create_app, sign

SECRET = "It's a Secret to Everybody 9f3c"
REPO_ROOT = Path(__file__).resolve().parents[2]


def contract_dir() -> Path:
    """../shared/github-contract beside the checkout, or $GITOPS_GITHUB_CONTRACT."""
    override = os.environ.get("GITOPS_GITHUB_CONTRACT")
    path = Path(override) if override else REPO_ROOT.parent / "shared" / "github-contract"
    if not (path / "webhooks").is_dir():
        raise RuntimeError(f"GitHub contract data not found at {path}: set GITOPS_GITHUB_CONTRACT to its folder")
    return path


EXAMPLES = sorted((contract_dir() / "webhooks").glob("*/*.json"))


def example_id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def headers(body: bytes, event: str, delivery: str | None = None, secret: str = SECRET) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(secret, body),
        "User-Agent": "GitHub-Hookshot/test",
    }


def padded_push(size: int) -> bytes:
    """The real branch push payload grown to just over `size` bytes (a push with a huge commit list is this big)."""
    payload = json.loads((contract_dir() / "webhooks" / "push" / "branch.json").read_text())
    payload["head_commit"]["message"] = "x" * size
    return json.dumps(payload).encode()


@pytest.fixture
def store(tmp_path) -> WebhookStore:
    return WebhookStore(tmp_path / "deliveries.db")


@pytest.fixture
def client(store):
    with TestClient(create_app(SECRET, store), raise_server_exceptions=False) as client:
        yield client


def post(client, body: bytes, event: str, **kw):
    return client.post(WEBHOOK_PATH, content=body, headers=headers(body, event, **kw))


@pytest.mark.parametrize("example", EXAMPLES, ids=example_id)
def test_every_real_example_signed(client, store, example):
    event, body = example.parent.name, example.read_bytes()
    response = post(client, body, event, delivery=f"d-{example_id(example)}")
    assert response.status_code == 202, response.text
    stored = store.get(f"d-{example_id(example)}")
    if event in HANDLED_EVENTS:
        assert response.json()["stored"] is True
        assert stored.payload == body and stored.event == event  # byte for byte
        assert parse_event(stored.event, stored.json()) is not None
    else:
        assert response.json() == {"ignored": True, "event": event}
        assert stored is None and store.count() == 0


def test_form_encoded_delivery(client, store):
    payload = (contract_dir() / "webhooks" / "ping" / "ping.json").read_bytes()
    body = urlencode({"payload": payload.decode()}).encode()
    hdrs = headers(body, "ping", delivery="form-1") | {"Content-Type": "application/x-www-form-urlencoded"}
    assert client.post(WEBHOOK_PATH, content=body, headers=hdrs).status_code == 202
    assert store.get("form-1").payload == payload


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        sign("the wrong secret", b"{}"),
        "sha256=" + "0" * 64,
        "sha1=0123456789abcdef0123456789abcdef01234567",
        b"sha256=\xff\xff",  # not ASCII: compare_digest would raise on a str
        "garbage",
    ],
)
def test_bad_signature_is_401_and_not_stored(client, store, signature):
    body = (contract_dir() / "webhooks" / "push" / "branch.json").read_bytes()
    hdrs = headers(body, "push")
    if signature is None:
        del hdrs["X-Hub-Signature-256"]
    else:
        hdrs["X-Hub-Signature-256"] = signature
    response = client.post(WEBHOOK_PATH, content=body, headers=hdrs)
    assert response.status_code == 401
    assert store.count() == 0


def test_tampered_body_is_401(client, store):
    body = (contract_dir() / "webhooks" / "pull_request" / "opened.json").read_bytes()
    hdrs = headers(body, "pull_request")
    tampered = body.replace(b'"number": 2', b'"number": 3')
    assert tampered != body
    assert client.post(WEBHOOK_PATH, content=tampered, headers=hdrs).status_code == 401
    assert store.count() == 0


def test_replayed_delivery_is_stored_once(client, store):
    body = (contract_dir() / "webhooks" / "pull_request" / "opened.json").read_bytes()
    first = post(client, body, "pull_request", delivery="replayed-1")
    again = post(client, body, "pull_request", delivery="replayed-1")
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json() == {"duplicate": True}
    assert store.count() == 1


@pytest.mark.parametrize(
    ("body", "event"),
    [
        (b'{"ref": "refs/heads/main", "before": ', "push"),  # truncated
        (b"", "push"),
        (b"\xff\xfe not utf-8", "push"),
        (b"[1, 2, 3]", "push"),  # JSON, but not an object
        (b"[" * 100_000 + b"]" * 100_000, "push"),  # nesting deep enough to exhaust the parser's recursion
        (b'{"zen": "hi"}', "ping"),  # a handled event missing a field the sensors need
        (b"not json at all", "check_run"),  # ignored events must still be JSON
    ],
    ids=["truncated", "empty", "not-utf8", "array", "deep-nesting", "missing-field", "unhandled-not-json"],
)
def test_malformed_signed_body_is_400(client, store, body, event):
    response = post(client, body, event)
    assert response.status_code == 400, response.text
    assert store.count() == 0


def test_truncated_real_payload_is_400(client, store):
    body = (contract_dir() / "webhooks" / "release" / "published.json").read_bytes()
    assert post(client, body[: len(body) // 2], "release").status_code == 400
    assert store.count() == 0


def test_parse_error_names_the_field(client):
    payload = json.loads((contract_dir() / "webhooks" / "push" / "branch.json").read_text())
    del payload["after"]
    response = post(client, json.dumps(payload).encode(), "push")
    assert response.status_code == 400 and "'after'" in response.json()["error"]


@pytest.mark.parametrize("missing", ["X-GitHub-Event", "X-GitHub-Delivery"])
def test_missing_github_headers_is_400(client, store, missing):
    body = (contract_dir() / "webhooks" / "ping" / "ping.json").read_bytes()
    hdrs = headers(body, "ping")
    del hdrs[missing]
    response = client.post(WEBHOOK_PATH, content=body, headers=hdrs)
    assert response.status_code == 400 and missing in response.json()["error"]
    assert store.count() == 0


def test_overlong_delivery_id_is_400(client, store):
    body = (contract_dir() / "webhooks" / "ping" / "ping.json").read_bytes()
    assert post(client, body, "ping", delivery="d" * 500).status_code == 400


def test_ten_megabytes_accepted_quickly(client, store):
    body = padded_push(10 * 1024 * 1024)
    assert len(body) >= 10 * 1024 * 1024
    started = time.monotonic()
    response = post(client, body, "push", delivery="big-1")
    assert response.status_code == 202
    assert time.monotonic() - started < 5
    assert store.get("big-1").payload == body


def test_body_over_limit_is_413(store):
    body = (contract_dir() / "webhooks" / "pull_request" / "opened.json").read_bytes()
    with TestClient(create_app(SECRET, store, max_body=4096)) as client:
        response = post(client, body, "pull_request")
        assert len(body) > 4096 and response.status_code == 413
        small = (contract_dir() / "webhooks" / "ping" / "ping.json").read_bytes()
        assert len(small) < 4096 * 2  # ping is under 8 KB; make sure a limit that fits it lets it through
    with TestClient(create_app(SECRET, store, max_body=len(small))) as client:
        assert post(client, small, "ping").status_code == 202
    assert store.count() == 1


def test_chunked_body_stops_at_the_limit(store):
    """Without Content-Length the app reads chunk by chunk and answers 413 as soon as the limit is passed."""
    app = create_app(SECRET, store, max_body=64 * 1024)
    chunk, consumed, sent = b"x" * 4096, 0, []

    async def receive():
        nonlocal consumed
        consumed += 1
        return {"type": "http.request", "body": chunk, "more_body": True}  # an endless body

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": WEBHOOK_PATH,
        "raw_path": WEBHOOK_PATH.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"x-hub-signature-256", sign(SECRET, b"whatever").encode()),
            (b"x-github-event", b"push"),
            (b"x-github-delivery", b"chunked-1"),
            (b"transfer-encoding", b"chunked"),
        ],
        "client": ("127.0.0.1", 1234),
        "server": ("127.0.0.1", 80),
    }
    asyncio.run(asyncio.wait_for(app(scope, receive, send), timeout=10))
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 413
    assert consumed <= 64 * 1024 // len(chunk) + 2
    assert store.count() == 0


def test_declared_length_over_limit_is_refused_unread(store):
    with TestClient(create_app(SECRET, store, max_body=100)) as client:
        body = b"{}" * 100
        assert post(client, body, "ping").status_code == 413


def test_random_bytes_never_break_it(client, store):
    rng = random.Random(1234)
    for n in range(50):
        body = rng.randbytes(rng.randint(0, 20_000))
        unsigned = client.post(WEBHOOK_PATH, content=body, headers={"X-GitHub-Event": "push"})
        assert unsigned.status_code == 401
        signed = post(client, body, rng.choice(["push", "pull_request", "ping", "issue_comment"]))
        assert signed.status_code == 400, (n, signed.text)
    assert client.get("/healthz").json() == {"status": "ok"}
    assert store.count() == 0


def test_store_failure_is_a_generic_500_and_the_app_keeps_serving(tmp_path, caplog):
    class BrokenStore(WebhookStore):
        fail = True

        def record(self, *args, **kwargs):
            if self.fail:
                raise RuntimeError(f"disk on fire; secret was {SECRET}")
            return super().record(*args, **kwargs)

    store = BrokenStore(tmp_path / "deliveries.db")
    body = (contract_dir() / "webhooks" / "ping" / "ping.json").read_bytes()
    with TestClient(create_app(SECRET, store), raise_server_exceptions=False) as client:
        response = post(client, body, "ping", delivery="p-1")
        assert response.status_code == 500 and response.json() == {"error": "internal error"}
        assert "fire" not in response.text and SECRET not in response.text
        assert "disk on fire" in caplog.text and SECRET not in caplog.text  # logged for us, secret masked
        assert client.get("/healthz").status_code == 200
        store.fail = False
        assert post(client, body, "ping", delivery="p-1").status_code == 202  # GitHub's redelivery then lands


def test_other_methods_and_paths(client):
    assert client.get(WEBHOOK_PATH).status_code == 405
    assert client.post("/elsewhere", content=b"{}").status_code == 404
    assert client.get("/healthz").status_code == 200


def test_secret_never_in_responses_or_logs(client, caplog):
    caplog.set_level(logging.DEBUG)
    responses = []
    for example in EXAMPLES:
        body = example.read_bytes()
        responses.append(post(client, body, example.parent.name))
        responses.append(post(client, body, example.parent.name, secret="wrong"))
    responses.append(post(client, b"{oops", "push"))
    responses.append(client.get("/healthz"))
    assert all(SECRET not in r.text and SECRET not in str(r.headers) for r in responses)
    assert caplog.records and SECRET not in caplog.text


def test_create_app_requires_a_secret(store):
    with pytest.raises(ValueError, match="secret"):
        create_app("", store)


# --- the real server, as it is run: python -m gitops_pipelines.webhooks, over real HTTP ------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    port, db = free_port(), tmp_path / "served.db"
    log = (tmp_path / "server.log").open("wb")
    env = os.environ | {"GITHUB_WEBHOOK_SECRET": SECRET}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitops_pipelines.webhooks", "--host", "127.0.0.1", "--port", str(port),
         "--db", str(db), "--max-body", str(12 * 1024 * 1024)],
        cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"receiver did not start: {(tmp_path / 'server.log').read_text()}")
        time.sleep(0.1)
    yield base, db, tmp_path / "server.log"
    proc.terminate()
    try:
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()


def test_real_server_over_http(server):
    base, db, log_file = server
    url = base + WEBHOOK_PATH
    with httpx.Client(timeout=10) as http:
        for example in EXAMPLES:
            body, event = example.read_bytes(), example.parent.name
            response = http.post(url, content=body, headers=headers(body, event, delivery=example_id(example)))
            assert response.status_code == 202, (example_id(example), response.text)

        body = (contract_dir() / "webhooks" / "push" / "branch.json").read_bytes()
        assert http.post(url, content=body, headers=headers(body, "push", secret="wrong")).status_code == 401
        replay = headers(body, "push", delivery="push/branch.json")
        assert http.post(url, content=body, headers=replay).json() == {"duplicate": True}
        assert http.post(url, content=body[:-10], headers=headers(body[:-10], "push")).status_code == 400

        big = padded_push(10 * 1024 * 1024)
        started = time.monotonic()
        assert http.post(url, content=big, headers=headers(big, "push", delivery="big")).status_code == 202
        assert time.monotonic() - started < 5
        huge = padded_push(13 * 1024 * 1024)
        assert http.post(url, content=huge, headers=headers(huge, "push")).status_code == 413

        rng = random.Random(99)
        for _ in range(20):
            junk = rng.randbytes(rng.randint(1, 5000))
            assert http.post(url, content=junk, headers={"X-Hub-Signature-256": sign(SECRET, junk)}).status_code == 400
            assert http.post(url, content=junk).status_code == 401
        assert http.get(f"{base}/healthz").json() == {"status": "ok"}

    store = WebhookStore(db)
    handled = [e for e in EXAMPLES if e.parent.name in HANDLED_EVENTS]
    assert store.count() == len(handled) + 1  # + the 10 MB push
    for delivery in store.pending(limit=1000):
        assert parse_event(delivery.event, delivery.json()) is not None
    assert store.get("big").payload == big
    assert SECRET not in log_file.read_text(errors="replace")


def test_server_refuses_to_start_without_secret(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_WEBHOOK_SECRET"}
    result = subprocess.run(
        [sys.executable, "-m", "gitops_pipelines.webhooks", "--port", str(free_port()), "--db", str(tmp_path / "x.db")],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 2
    assert "GITHUB_WEBHOOK_SECRET is not set" in result.stderr
    assert not (tmp_path / "x.db").exists()
