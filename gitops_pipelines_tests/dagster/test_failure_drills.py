"""Failure drills that need no Terraform (issue #11): GitHub answering 500s and rate limits under the polling sensor,
and webhook deliveries replayed or sent while the receiver is down. Each drill asserts what a person sees (the tick's
message, the runs started) and that no pull request is lost and no run is asked for twice."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import dagster as dg
import pytest

from gitops_pipelines.core.github.errors import GitHubUnavailable
from gitops_pipelines.core.github.gateway import GitHubGateway
from gitops_pipelines.core.github.transport import RetryPolicy
from gitops_pipelines.core.github.webhook_store import WebhookStore
from gitops_pipelines.defs.github.sensors import WEBHOOK_SENSOR
from gitops_pipelines.definitions import build_definitions
from gitops_pipelines.resources import GitopsResource
from gitops_pipelines.resources.github import SENSOR_RETRIES, GitHubResource
from gitops_pipelines.webhooks import WEBHOOK_PATH
from gitops_pipelines.webhooks.__main__ import SECRET_ENV
from gitops_pipelines_dev.checkout import python_env
from gitops_pipelines_dev.github_emulator import Emulator
from gitops_pipelines_dev.infra import SAMPLE
from gitops_pipelines_dev.ports import free_port, wait_for_http
from gitops_pipelines_dev.run import stop_process_group

from .conftest import PLAN_KEY
from .sensor_support import REPO, Sensor, sample_files

STORAGE = "projects/storage/main.tf"
STORAGE_TF = (SAMPLE / STORAGE).read_text()
SECRET = "drill-webhook-secret"


class Runs:
    """What the daemon does with a tick's run requests: one run each, tagged with its run_key, all kept to count."""

    def __init__(self, defs: dg.Definitions, instance: dg.DagsterInstance):
        self.defs, self.instance, self.requested = defs, instance, []

    def launch(self, result: dg.SensorResult) -> list[str]:
        for request in result.run_requests or []:
            self.requested.append(request.run_key)
            self.instance.create_run_for_job(
                self.defs.resolve_job_def(request.job_name), status=dg.DagsterRunStatus.NOT_STARTED,
                asset_selection=frozenset(request.asset_selection),
                tags={**request.tags, "dagster/partition": request.partition_key, "dagster/run_key": request.run_key})
        return [r.run_key for r in result.run_requests or []]

    def of_pull(self, number: int) -> list[dg.DagsterRun]:
        records = self.instance.get_run_records(filters=dg.RunsFilter(tags={"gitops/pr": str(number)}))
        return [r.dagster_run for r in records]


def failed_tick(sensor: Sensor) -> str:
    """A tick while GitHub fails: the message the daemon shows for it. It asks for nothing and keeps its cursor,
    whether it fails (the daemon then keeps the old cursor) or skips."""
    before = sensor.cursor
    try:
        result = sensor.tick()
    except GitHubUnavailable as exc:
        return str(exc)
    assert not result.run_requests and result.skip_reason is not None, "a tick GitHub failed must not move on"
    assert sensor.cursor == before
    return result.skip_reason.skip_message


def check_key(emu, number: int) -> str:
    return f"{number}:{emu.repo.pull(number).head_sha}:storage:check"


@pytest.fixture
def drill_env(tmp_path, cloud_env, github_contract):
    """The emulator serving the sample repository and a function building Definitions for a GitHub resource; no
    clouds: nothing here runs Terraform (the sample's gitops.yaml still reads their endpoints from the environment)."""
    with Emulator(github_contract) as emu:
        emu.create_repo("acme", "infra", sample_files(emu.base_url))
        checkout = tmp_path / "checkout"
        subprocess.run(["git", "clone", "-q", str(emu.git_dir), str(checkout)], check=True)
        gitops = GitopsResource(config_path=str(checkout / "gitops.yaml"), plan_key=PLAN_KEY,
                                plan_store_url=str(tmp_path / "plans"))

        def make_defs(webhook_db: str | None = None) -> tuple[dg.Definitions, GitHubResource]:
            github = GitHubResource(repository=REPO, api_url=emu.base_url, token="ghp_test", webhook_db=webhook_db,
                                    seconds_between_requests=0, seconds_between_writes=0)
            return build_definitions(checkout / "gitops.yaml", gitops=gitops, github=github), github

        yield emu, make_defs


@pytest.fixture
def waits(monkeypatch) -> list[float]:
    """The back-off waits of every gateway, recorded instead of slept (the drills would otherwise wait minutes)."""
    recorded: list[float] = []
    monkeypatch.setitem(GitHubGateway.__init__.__kwdefaults__, "sleep", recorded.append)
    return recorded


def test_github_down_then_rate_limited_then_back_starts_each_pull_request_once(drill_env, instance, waits):
    emu, make_defs = drill_env
    defs, github = make_defs()
    sensor, runs = Sensor(defs, instance, github), Runs(defs, instance)
    runs.launch(sensor.tick())  # the first tick: nothing open yet
    emu.commit("first", {STORAGE: STORAGE_TF + "\n# first\n"})
    first = emu.open_pull("first", "Bigger bucket", "no work item")
    attempts = SENSOR_RETRIES.attempts  # a sensor retries briefly: Dagster cancels a tick after 60 s

    # 500s: each tick retries with growing waits, then fails saying GitHub is unavailable; nothing is asked for
    emu.fail_next(2 * attempts, status=500)
    for tick in range(2):
        waits.clear()
        before = emu.state.requests
        message = failed_tick(sensor)
        assert "is unavailable" in message and "HTTP 500" in message and "Nothing was lost" in message, message
        assert emu.state.requests - before == attempts
        assert len(waits) == attempts - 1 and waits == sorted(waits) and waits[0] < waits[-1], waits
        if tick == 0:  # opened while GitHub is down
            emu.commit("second", {STORAGE: STORAGE_TF + "\n# second\n"})
            second = emu.open_pull("second", "Smaller bucket", "no work item")

    # the rate limit ran out (resets in an hour): one request per tick, no waiting, and it says until when
    with emu.state.lock:
        emu.state.rate.used = emu.state.rate.limit
    for tick in range(2):
        waits.clear()
        before = emu.state.requests
        message = failed_tick(sensor)
        assert emu.state.requests - before == 1 and waits == [], "a rate-limited tick must not hammer GitHub"
        assert "rate limited" in message and "API rate limit exceeded" in message, message
        resets_in = float(re.search(r"resets in (\d+)s", message).group(1))
        assert abs(resets_in - (emu.state.rate.reset - time.time())) < 15, message
        if tick == 0:  # pushed to while rate limited: the checks run on this head, not the first one
            emu.push(first, {STORAGE: STORAGE_TF + "\n# first, again\n"})
    with emu.state.lock:
        emu.state.rate.used = 0

    # a short secondary rate limit on the way back: waited out as Retry-After says (a sensor waits at most
    # SENSOR_RETRIES.max_rate_wait), then both pull requests start
    emu.secondary_rate_limit(2, retry_after=3)
    waits.clear()
    assert sorted(runs.launch(sensor.tick())) == sorted([check_key(emu, first), check_key(emu, second)])
    assert waits[:2] == [3, 3]
    for _ in range(3):
        assert runs.launch(sensor.tick()) == []

    assert {f"pr-{first}", f"pr-{second}"} <= set(instance.get_dynamic_partitions("changes"))
    assert [k for k, n in Counter(runs.requested).items() if n > 1] == []
    for number in (first, second):
        [run] = runs.of_pull(number)
        assert run.job_name == "pr_checks" and run.tags["gitops/head_sha"] == emu.repo.pull(number).head_sha


class Receiver:
    """`python -m gitops_pipelines.webhooks` as deployed, stopped and started again on the same port and store."""

    def __init__(self, folder: Path):
        self.port, self.db, self.log = free_port(), folder / "deliveries.db", folder / "receiver.log"
        self.url = f"http://127.0.0.1:{self.port}{WEBHOOK_PATH}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gitops_pipelines.webhooks", "--host", "127.0.0.1", "--port", str(self.port),
                 "--db", str(self.db), "--log-level", "warning"],
                env={**python_env(), SECRET_ENV: SECRET}, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, process_group=0)
        wait_for_http(f"http://127.0.0.1:{self.port}/healthz", timeout=60, proc=self.proc)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process_group(self.proc, 15)
            self.proc = None


@pytest.fixture
def receiver(tmp_path):
    receiver = Receiver(tmp_path)
    receiver.start()
    yield receiver
    receiver.stop()


def test_a_replayed_delivery_and_one_sent_while_the_receiver_is_down_start_one_run_each(drill_env, instance,
                                                                                         receiver, waits):
    emu, make_defs = drill_env
    defs, hooked = make_defs(webhook_db=str(receiver.db))
    hooks, runs = Sensor(defs, instance, hooked, WEBHOOK_SENSOR), Runs(defs, instance)
    store = WebhookStore(receiver.db)
    emu.add_webhook(receiver.url, SECRET)

    emu.commit("p", {STORAGE: STORAGE_TF + "\n# bigger\n"})
    number = emu.open_pull("p", "Bigger bucket", "no work item")
    emu.wait_for_webhooks()
    [opened] = emu.deliveries("pull_request", "opened")
    assert opened.responses == {receiver.url: 202}

    # replayed with the same X-GitHub-Delivery: the receiver says it has it, stores nothing, and one run starts
    stored = store.count()
    emu.state.webhooks.redeliver(opened)
    emu.wait_for_webhooks()
    assert opened.responses == {receiver.url: 200} and store.count() == stored
    first_head = check_key(emu, number)
    assert runs.launch(hooks.tick()) == [first_head]
    assert runs.launch(hooks.tick()) == []

    # pushed while the receiver is down: GitHub could not deliver, so nothing starts yet
    receiver.stop()
    emu.push(number, {STORAGE: STORAGE_TF + "\n# bigger still\n"})
    emu.wait_for_webhooks()
    missed = [d for d in emu.deliveries() if d.responses.get(receiver.url) != 202 and d is not opened]
    assert {(d.event, d.action) for d in missed} == {("push", None), ("pull_request", "synchronize")}, missed
    assert all("Connection" in str(d.responses[receiver.url]) for d in missed)
    assert runs.launch(hooks.tick()) == []

    # back up, the failed deliveries redelivered (GitHub's "Redeliver"): the new head's checks start, once
    receiver.start()
    assert {d.id for d in emu.state.webhooks.redeliver_failed()} == {d.id for d in missed}
    emu.wait_for_webhooks()
    assert all(d.responses[receiver.url] == 202 for d in missed)
    emu.fail_next(SENSOR_RETRIES.attempts, status=500)  # and GitHub fails the tick that reads them: read again later
    assert "is unavailable" in failed_tick(hooks)
    assert runs.launch(hooks.tick()) == [check_key(emu, number)]
    emu.state.webhooks.redeliver_failed()  # nothing failed any more: redelivers nothing
    for delivery in missed:  # redelivered once more by hand: duplicates
        emu.state.webhooks.redeliver(delivery)
    emu.wait_for_webhooks()
    assert all(d.responses[receiver.url] == 200 for d in missed)
    assert runs.launch(hooks.tick()) == []

    assert runs.requested == [first_head, check_key(emu, number)]
    assert [r.tags["gitops/head_sha"] for r in runs.of_pull(number)].count(emu.repo.pull(number).head_sha) == 1
    assert len(runs.of_pull(number)) == 2

    # down again, and this time nobody redelivers: the webhook sensor's slow fallback poll catches up, once
    receiver.stop()
    emu.push(number, {STORAGE: STORAGE_TF + "\n# bigger yet\n"})
    emu.wait_for_webhooks()
    receiver.start()
    assert runs.launch(hooks.tick()) == [], "the fallback poll is not due yet (github.webhook_fallback_poll_seconds)"
    hooks.cursor = rewind_fallback_poll(hooks.cursor)  # five minutes later
    assert runs.launch(hooks.tick()) == [check_key(emu, number)]
    assert runs.launch(hooks.tick()) == []
    assert len(runs.of_pull(number)) == 3


def rewind_fallback_poll(cursor: str) -> str:
    data = json.loads(cursor)
    data["polled_at"] = data["polled_at"] - 301
    return json.dumps(data)


def test_a_sensor_never_waits_out_a_long_rate_limit_inside_its_tick():
    """Dagster cancels a sensor tick after 60 s: a sensor's gateway gives up on a rate limit longer than 10 s, so the
    tick fails at once with the reset time and the next tick tries again."""
    github = GitHubResource(repository="acme/infra", token="t")
    within = github.gateway(within_tick=True)._call.policy
    assert within.max_rate_wait <= 10 and within.attempts * 15 + within.max_rate_wait < 60
    assert github.gateway()._call.policy.max_rate_wait == RetryPolicy().max_rate_wait  # runs may wait longer
