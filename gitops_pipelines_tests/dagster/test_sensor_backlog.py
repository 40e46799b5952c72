"""The polling sensor on a fresh cursor with many open pull requests, against the GitHub emulator: each tick does a
bounded amount of work, and over a few ticks every pull request that touches a unit gets its checks once, those
that change or merge meanwhile included; then a tick with nothing new costs at most one counted request."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections import Counter

from gitops_pipelines.core.triggers import BACKLOG_REQUESTS
from gitops_pipelines_dev.infra import SAMPLE

from .sensor_support import Sensor

OPEN = 120  # more than one page of 100
STORAGE_TF = (SAMPLE / "projects/storage/main.tf").read_text()


def open_many(emu, count: int) -> dict[int, bool]:
    """`count` + 1 open pull requests; every third changes the storage project, the others only the README.
    Returns number -> touches a unit."""
    unit_sha = emu.commit("unit-0", {"projects/storage/main.tf": STORAGE_TF + "\n# bigger\n"})
    docs_sha = emu.commit("docs-0", {"README.md": "# docs only\n"})
    branches = [f"unit-{i}" if i % 3 == 0 else f"docs-{i}" for i in range(count)]
    refs = "".join(f"create refs/heads/{b} {unit_sha if b.startswith('unit') else docs_sha}\n"
                   for b in branches if b not in ("unit-0", "docs-0"))
    subprocess.run(["git", "update-ref", "--stdin"], input=refs, text=True, check=True, cwd=emu.git_dir)
    emu.refresh()
    opened = {emu.open_pull(b, f"Change {b}", "no work item"): b.startswith("unit") for b in branches}
    # the newest one has a commit of its own: merging it leaves what the others change unmerged
    emu.commit("solo", {"projects/storage/main.tf": STORAGE_TF + "\n# solo\n"})
    opened[emu.open_pull("solo", "Change solo", "no work item")] = True
    return opened


def requests_to(emu, start: int, pattern: str) -> Counter:
    """How often each pull request's `pattern` endpoint was asked for, from exchange number `start` on."""
    found = Counter()
    for exchange in list(emu.state.exchanges)[start:]:
        match = re.fullmatch(rf"/repos/acme/infra/pulls/(\d+)/{pattern}", exchange.path)
        if match:
            found[int(match.group(1))] += 1
    return found


def test_a_fresh_cursor_looks_at_many_open_pull_requests_over_a_few_bounded_ticks(github_env, instance):
    emu, checkout, defs, github, make_defs = github_env
    touches = open_many(emu, OPEN)
    units = sorted(n for n, t in touches.items() if t)
    time.sleep(6)  # opened before the sensor's first tick, not within the seconds that are looked at twice
    sensor = Sensor(defs, instance, github)
    start = len(emu.state.exchanges)

    def tick():
        before = emu.counted_requests
        result = sensor.tick()
        return result, emu.counted_requests - before

    result, cost = tick()
    assert cost <= 1 + BACKLOG_REQUESTS + 1, cost  # the poll's page, then the backlog's share
    first = {r.run_key for r in result.run_requests}
    assert 0 < len(first) < len(units)
    looked_at = json.loads(sensor.cursor)["backlog"]["after"]

    # meanwhile, two not looked at yet change: one gets a new head, one is merged
    pushed, merged = units[-2], units[-1]
    assert looked_at < merged
    new_head = emu.push(pushed, {"projects/storage/main.tf": STORAGE_TF + "\n# bigger still\n"})
    merged_head = emu.repo.pull(merged).head_sha
    emu.merge(merged)

    runs, ticks = list(result.run_requests), 1
    while "backlog" in json.loads(sensor.cursor) and ticks < 20:
        result, cost = tick()
        ticks += 1
        assert cost <= BACKLOG_REQUESTS + 6, cost  # + the poll's page and what moved (files, reviews)
        runs += result.run_requests
    assert "backlog" not in json.loads(sensor.cursor) and ticks >= 4
    result, _ = tick()  # the held merge: its checks were asked for, none is running, so it starts
    runs += result.run_requests

    keys = [r.run_key for r in runs]
    assert len(keys) == len(set(keys)), "no run is asked for twice"
    heads = {n: emu.repo.pull(n).head_sha for n in units}
    assert sorted(k for k in keys if k.endswith(":check")) == sorted(
        f"{n}:{heads[n]}:storage:check" for n in units)
    assert heads[pushed] == new_head  # the pushed one is checked at its new head only
    assert [k for k in keys if k.endswith(":promote")] == [f"{merged}:{merged_head}:storage:promote"]

    # files once per pull request; reviews only for those that touch a unit
    assert requests_to(emu, start, "files") == Counter({n: 1 for n in touches})
    assert set(requests_to(emu, start, "reviews")) <= set(units)

    time.sleep(6)  # past the recheck window of the pull requests opened just now
    tick()
    result, cost = tick()
    assert cost <= 1 and not result.run_requests
