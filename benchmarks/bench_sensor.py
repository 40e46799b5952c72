"""Sensor tick cost with 500 open pull requests in the GitHub emulator: wall time and counted GitHub requests.

    .venv/bin/python benchmarks/bench_sensor.py [--pulls 500] [--repeat 5]

Targets (issue 4): nothing changed <= 1 s and <= 1 counted request; one pull request changed <= 2 s and <= 5.
Issue 12: the first tick on a fresh cursor is bounded (the poll's page plus the backlog's BACKLOG_REQUESTS); the
pull requests already open are looked at over the following ticks, and the figures say how many and at what cost.
The tick is the real `github_pull_requests` sensor evaluated on a real DagsterInstance (build_sensor_context), the
GitHub client built with no PyGithub throttle (seconds_between_requests=0), as in the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(CHECKOUT))

import dagster as dg  # noqa: E402

from gitops_pipelines.core.config import load_config  # noqa: E402
from gitops_pipelines.core.triggers import BACKLOG_REQUESTS  # noqa: E402
from gitops_pipelines.defs.github.sensors import POLL_SENSOR, build_sensors  # noqa: E402
from gitops_pipelines.resources.github import GitHubResource  # noqa: E402
from gitops_pipelines_dev.contract import ENV_VAR, GitHubContract  # noqa: E402
from gitops_pipelines_dev.github_emulator import Emulator  # noqa: E402
from gitops_pipelines_dev.infra import SAMPLE  # noqa: E402

REPO = "acme/infra"
FAKE_ENV = {"TF_PROVIDER_MIRROR": "/nonexistent", "TEST_AWS_ENDPOINT": "http://127.0.0.1:1",
            "PROD_AWS_ENDPOINT": "http://127.0.0.1:2", "SANDBOX_AWS_ENDPOINT": "http://127.0.0.1:3",
            "GITOPS_GIT_CONFIG": "/nonexistent/gitconfig"}


def setup(emu: Emulator, root: Path, pulls: int) -> Path:
    files = {str(p.relative_to(SAMPLE)): p.read_text() for p in SAMPLE.rglob("*")
             if p.is_file() and ".terraform" not in p.parts}
    files["gitops.yaml"] += f"github:\n  repository: {REPO}\n  api_url: {emu.base_url}\n"
    emu.create_repo("acme", "infra", files)
    checkout = root / "checkout"
    subprocess.run(["git", "clone", "-q", str(emu.git_dir), str(checkout)], check=True)
    # one commit that changes the module, then `pulls` branches at it (one update-ref call), one PR per branch
    sha = emu.commit("pr-0", {"modules/bucket/main.tf": files["modules/bucket/main.tf"] + "\n# change\n"})
    refs = "".join(f"create refs/heads/pr-{i} {sha}\n" for i in range(1, pulls))
    subprocess.run(["git", "update-ref", "--stdin"], input=refs, text=True, check=True, cwd=emu.git_dir)
    emu.refresh()
    for i in range(pulls):
        emu.open_pull(f"pr-{i}", f"Change {i}", "Fixes #1")
    return checkout / "gitops.yaml"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pulls", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--github-contract", metavar="DIR",
                        default=os.environ.get(ENV_VAR) or str(CHECKOUT.parent / "shared" / "github-contract"),
                        help=f"GitHub's published contract folder (default: ${ENV_VAR}, else ../shared/github-contract)")
    args = parser.parse_args()
    os.environ.update({k: os.environ.get(k, v) for k, v in FAKE_ENV.items()})

    contract = GitHubContract(args.github_contract)
    with tempfile.TemporaryDirectory() as tmp, Emulator(contract) as emu, dg.instance_for_test() as inst:
        t0 = time.perf_counter()
        config_path = setup(emu, Path(tmp), args.pulls)
        print(f"setup: {args.pulls} open pull requests in {time.perf_counter() - t0:.1f}s")
        config = load_config(config_path)
        defs = build_sensors(config)
        sensor = defs.resolve_sensor_def(POLL_SENSOR)
        github = GitHubResource(repository=REPO, api_url=emu.base_url, token="ghp_bench",
                                seconds_between_requests=0, seconds_between_writes=0)
        cursor: list[str | None] = [None]

        def tick() -> tuple[float, int, int]:
            before = emu.counted_requests
            start = time.perf_counter()
            ctx = dg.build_sensor_context(instance=inst, cursor=cursor[0], resources={"github": github},
                                          definitions=defs)
            result = sensor(ctx)
            elapsed = time.perf_counter() - start
            runs = 0
            if isinstance(result, dg.SensorResult):
                cursor[0] = result.cursor or cursor[0]
                runs = len(result.run_requests or [])
                for request in result.dynamic_partitions_requests or []:
                    inst.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
            return elapsed, emu.counted_requests - before, runs

        first = tick()
        print(f"first tick (fresh cursor, every PR new): {first[0]:.2f}s, {first[1]} counted requests, "
              f"{first[2]} runs [target <= {BACKLOG_REQUESTS + 2} counted]")
        backlog = [first]
        while json.loads(cursor[0] or "{}").get("backlog") and len(backlog) < 10 * args.pulls:
            backlog.append(tick())
        print(f"backlog: {len(backlog)} ticks (the first included) until every open PR was looked at: "
              f"{sum(b[0] for b in backlog):.2f}s and {sum(b[1] for b in backlog)} counted requests in all, "
              f"at most {max(b[0] for b in backlog):.2f}s and {max(b[1] for b in backlog)} per tick, "
              f"{sum(b[2] for b in backlog)} runs")
        time.sleep(6)  # past the updated_at recheck window of the freshly created PRs
        elapsed, counted, runs = tick()
        print(f"next tick (recheck of PRs updated just before they were looked at): {elapsed:.2f}s, "
              f"{counted} counted")

        unchanged = [tick() for _ in range(args.repeat)]
        changed = []
        for i in range(args.repeat):
            emu.push(i + 1, {"modules/bucket/main.tf": f"# push {i}\n" + (SAMPLE / "modules/bucket/main.tf").read_text()})
            changed.append(tick())
            time.sleep(6)
            tick()  # the one recheck after a change (<= 1 counted request); not part of either figure

        def report(name, samples, max_s, max_req):
            times, reqs = [s[0] for s in samples], [s[1] for s in samples]
            ok = statistics.median(times) <= max_s and max(reqs) <= max_req
            print(f"{name}: median {statistics.median(times) * 1000:.0f} ms (max {max(times) * 1000:.0f} ms), "
                  f"counted requests max {max(reqs)}, runs requested {samples[0][2]} "
                  f"[target <= {max_s:g} s, <= {max_req}] {'OK' if ok else 'MISSED'}")

        print(f"\n{args.pulls} open pull requests, {args.repeat} ticks each:")
        report("nothing changed", unchanged, 1.0, 1)
        report("one PR changed ", changed, 2.0, 5)


if __name__ == "__main__":
    main()
