"""Outages, rate limits and webhook deliveries of the GitHub emulator, and its command-line runner."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import github
import httpx
import pytest
from github.GithubRetry import GithubRetry

from gitops_pipelines_dev.checkout import python_env
from gitops_pipelines_dev.github_emulator import Emulator
from gitops_pipelines_dev.ports import free_port, wait_for_http

SECRET = "s3cret"


class Receiver(BaseHTTPRequestHandler):
    received: list[tuple[dict, bytes]] = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def receiver():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()


@pytest.fixture(scope="module")
def emulator(receiver, github_contract):
    with Emulator(github_contract, rate_limit=1000) as emu:
        emu.create_repo("acme", "infra", {"README.md": "# infra\n"})
        emu.add_webhook(receiver, SECRET)
        yield emu


def gh(emulator, retry=None):
    return github.Github(base_url=emulator.base_url, auth=github.Auth.Token("t"), retry=retry,
                         seconds_between_requests=0, seconds_between_writes=0)


def test_fail_next_without_retry_surfaces_the_status(emulator):
    emulator.fail_next(1, status=502)
    with pytest.raises(github.GithubException) as failed:
        gh(emulator).get_repo("acme/infra")
    assert failed.value.status == 502
    assert gh(emulator).get_repo("acme/infra").name == "infra"


def test_retry_rides_out_outages_and_secondary_rate_limits(emulator):
    retry = GithubRetry(total=3, backoff_factor=0.01)
    emulator.fail_next(2, status=503)
    assert gh(emulator, retry).get_repo("acme/infra").name == "infra"
    emulator.secondary_rate_limit(1, retry_after=1)
    response = httpx.get(f"{emulator.base_url}/repos/acme/infra", headers={"Authorization": "token t"})
    assert response.status_code == 403 and response.headers["Retry-After"] == "1"
    assert "secondary rate limit" in response.json()["message"]
    emulator.secondary_rate_limit(1, retry_after=1)
    assert gh(emulator, retry).get_repo("acme/infra").name == "infra"


def test_primary_rate_limit_runs_out(github_contract):
    with Emulator(github_contract, rate_limit=2) as emu:
        emu.create_repo("acme", "infra", {"README.md": "x\n"})
        client = gh(emu)
        client.get_repo("acme/infra")
        client.get_repo("acme/infra")
        assert emu.counted_requests == 2
        with pytest.raises(github.GithubException) as limited:
            client.get_repo("acme/infra")
        assert limited.value.status == 403
        assert client.get_rate_limit().rate.remaining == 0


def test_webhooks_are_signed_and_valid(emulator):
    Receiver.received.clear()
    emulator.commit("feature", {"main.tf": "# new\n"}, "Add main.tf")
    number = emulator.open_pull("feature", "Add main.tf")
    emulator.review(number, "alice")
    emulator.merge(number)
    emulator.wait_for_webhooks()
    seen = []
    for headers, body in Receiver.received:
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["X-Hub-Signature-256"], expected)
        uuid.UUID(headers["X-GitHub-Delivery"])
        payload = json.loads(body)
        emulator.contract.validate(payload, headers["X-GitHub-Event"], payload.get("action"))
        seen.append((headers["X-GitHub-Event"], payload.get("action"), payload.get("ref")))
    assert seen == [("push", None, "refs/heads/feature"), ("pull_request", "opened", None),
                    ("pull_request_review", "submitted", None), ("push", None, "refs/heads/main"),
                    ("pull_request", "closed", None)]
    assert all(d.responses for d in emulator.deliveries()[-5:])


def test_command_line_runner(tmp_path, github_contract):
    port = free_port()
    # From another directory: the checkout reaches the child through PYTHONPATH, not through its working directory.
    proc = subprocess.Popen([sys.executable, "-m", "gitops_pipelines_dev.github_emulator", "--port", str(port),
                             "--repo", "acme/demo", "--git-dir", str(tmp_path / "demo.git"),
                             "--github-contract", str(github_contract.root)],
                            cwd=tmp_path, env=python_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/rate_limit", timeout=30, proc=proc)
        client = github.Github(base_url=f"http://127.0.0.1:{port}", auth=github.Auth.Token("t"), retry=None)
        assert client.get_repo("acme/demo").get_commits()[0].commit.message == "Initial commit"
    finally:
        proc.terminate()
        assert proc.wait(timeout=15) == 0
