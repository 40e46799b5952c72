"""From a pull request opened in the GitHub emulator to its first check run and to its plan comment, through the
webhook path and through polling, against the raw Terraform time of the same stages in the same run; medians.

    .venv/bin/python benchmarks/bench_pr_latency.py [--reps 2] [--path webhook|polling|both] [--poll-seconds N]

Starts what `make run` starts, with run.py's own helpers: moto servers (test, prod, sandbox), the GitHub emulator
with the sample as acme/infra, the webhook receiver (webhook path only) and `dagster-daemon` on the project's
workspace.yaml and dagster.yaml, in a DAGSTER_HOME of its own (no webserver: nothing here needs it). Each path gets a
fresh emulator, receiver and daemon:

- webhook: the emulator delivers signed webhooks to the receiver, the `github_webhooks` sensor reads its store;
- polling: no receiver, the `github_pull_requests` sensor polls every `github.poll_seconds` of gitops.yaml (its
  minimum_interval_seconds; unless --poll-seconds, the default, what a user who configures nothing gets). Where
  in that interval a pull request opens is chance, so its share of the latency is anywhere from 0 to one interval.

The demo pull request run.py opens (#2, before the daemon starts) is the warm-up. Then each repetition opens a pull
request the way `demo pr` does (an issue, a branch adding a bucket to projects/storage, a pull request fixing the
issue) and watches the emulator's REST API every POLL_S seconds, with ETags so watching costs no rate limit: (a) the
first check run on the head, any status; (b) the storage/test plan comment. The run's own times come from the
instance: created (the sensor's tick), launched (dequeued), started (its run worker is up), ended. Once the run has
finished, the raw commands of the same stages (bench_engine.py's `raw_plan`: fmt -check, init -backend=false,
validate, init, plan -out, show -json, show) run on the same head in a working copy of their own, one after another,
and the ratios latency / raw are printed.
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
import urllib.error
import urllib.request
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import dagster as dg  # noqa: E402
import github  # noqa: E402
from dagster._core.scheduler.instigation import InstigatorType  # noqa: E402
from dagster._daemon.sensor import MIN_INTERVAL_LOOP_TIME  # noqa: E402

from bench_engine import raw_plan  # noqa: E402
from gitops_pipelines.core.config import load_config  # noqa: E402
from gitops_pipelines.core.github.rendering import comment_marker  # noqa: E402
from gitops_pipelines.core.terraform import TerraformRunner  # noqa: E402
from gitops_pipelines.defs.github.sensors import POLL_SENSOR, PR_TAG, WEBHOOK_SENSOR, build_sensors  # noqa: E402
from gitops_pipelines_dev.contract import ENV_VAR, GitHubContract  # noqa: E402
from gitops_pipelines_dev.dagster_procs import ManagedProcess  # noqa: E402
from gitops_pipelines.demo import AUTHOR, REPORTS, push_branch  # noqa: E402
from gitops_pipelines_dev.instance import install_instance_config  # noqa: E402
from gitops_pipelines_dev.infra import SAMPLE_REPOSITORY, one_repository_layout  # noqa: E402
from gitops_pipelines_dev.run import (demo_token, gitops_environ, start_clouds, start_github,  # noqa: E402
                                      start_webhook_receiver, webhook_environ)

REPO = "acme/infra"
UNIT, ENV = "storage", "test"
WARMUP_PR = 2  # the pull request run.py's start_github opens
POLL_S = 0.5  # how often the emulator and the instance are read (the resolution of every figure)
TIMEOUT_S = 420.0  # per pull request, from its opening to its run's end
TERMINAL = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
LABELS = {"created": "run created (the sensor's tick)", "launched": "run launched (dequeued)",
          "started": "run started (its worker is up)", "check": "(a) first check run on the head",
          "comment": "(b) plan comment storage/test", "ended": "run ended"}
MILESTONES = tuple(LABELS)  # seconds after the opening


class ApiWatch:
    """GETs on the emulator's REST API with If-None-Match: a 304 is free, as on GitHub, so watching every half
    second does not eat the rate limit the sensors and the runs share."""

    def __init__(self, api_url: str, token: str):
        self.api_url, self.token = api_url.rstrip("/"), token
        self._etags: dict[str, str] = {}
        self._bodies: dict[str, object] = {}

    def get(self, path: str):
        headers = {"Authorization": f"token {self.token}", "Accept": "application/vnd.github+json"}
        if path in self._etags:
            headers["If-None-Match"] = self._etags[path]
        request = urllib.request.Request(self.api_url + path, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as resp:
                self._etags[path] = resp.headers.get("ETag", "")
                self._bodies[path] = json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            if exc.code != 304:
                raise
        return self._bodies[path]

    def first_check(self, sha: str) -> bool:
        return bool(self.get(f"/repos/{REPO}/commits/{sha}/check-runs?filter=all")["check_runs"])

    def plan_comment(self, number: int) -> bool:
        marker = comment_marker(UNIT, ENV).removeprefix("<!-- ").removesuffix(" -->")  # a split comment adds part=
        return any(marker in (c.get("body") or "")
                   for c in self.get(f"/repos/{REPO}/issues/{number}/comments?per_page=100"))


def run_times(instance: dg.DagsterInstance, number: int) -> dict[str, float] | None:
    """The pull request's runs (by its gitops/pr tag): first created (the sensor's tick), launched (dequeued, its
    run worker starting), started (the worker running it), and the last one's end once all have ended."""
    records = instance.get_run_records(filters=dg.RunsFilter(tags={PR_TAG: str(number)}))
    if not records:
        return None
    times = {"created": min(r.create_timestamp.timestamp() for r in records)}
    launches = [e.timestamp for r in records for e in instance.get_records_for_run(
        r.dagster_run.run_id, of_type=dg.DagsterEventType.RUN_STARTING, limit=1).records]
    if launches:
        times["launched"] = min(launches)
    starts = [r.start_time for r in records if r.start_time]
    if starts:
        times["started"] = min(starts)
    if all(r.dagster_run.status in TERMINAL for r in records):
        times["ended"] = max(r.end_time or time.time() for r in records)
        times["status"] = ",".join(sorted({r.dagster_run.status.value for r in records}))
    return times


def tick_interval(instance: dg.DagsterInstance, sensor: str) -> float | None:
    """Median seconds between the sensor's recorded ticks: the interval the daemon actually kept."""
    for state in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR):
        if state.name == sensor:
            ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=500)
            stamps = sorted(t.timestamp for t in ticks)
            gaps = [b - a for a, b in zip(stamps, stamps[1:])]
            return statistics.median(gaps) if gaps else None
    return None


def watch(api: ApiWatch, instance: dg.DagsterInstance, daemon: ManagedProcess, number: int, sha: str,
          opened: float) -> dict:
    """Seconds from the opening to each milestone; returns once the plan comment is there and the runs ended."""
    seen: dict = {}
    grace = 3  # reads after the runs ended: the comment, posted before the end, may land between two reads
    while True:
        now = time.time()
        if "check" not in seen and api.first_check(sha):
            seen["check"] = now - opened
        if "comment" not in seen and api.plan_comment(number):
            seen["comment"] = now - opened
        runs = run_times(instance, number) or {}
        for name in ("created", "launched", "started", "ended"):
            if name in runs and name not in seen:
                seen[name] = runs[name] - opened
        if "ended" in seen:
            seen["status"] = runs["status"]
            if "comment" in seen:
                return seen
            grace -= 1
            if grace < 0:
                    raise SystemExit(f"#{number}: its runs ended ({runs['status']}) with no plan comment; "
                                 f"daemon log:\n{daemon.log_tail()}")
        if not daemon.running:
            raise SystemExit(f"dagster-daemon exited with {daemon.proc.returncode}:\n{daemon.log_tail()}")
        if now - opened > TIMEOUT_S:
            raise SystemExit(f"#{number}: after {TIMEOUT_S:.0f} s only {sorted(seen)}; daemon log:\n"
                             f"{daemon.log_tail()}")
        time.sleep(POLL_S)


def open_pull(repo, git_dir: str) -> tuple[int, str, float]:
    """As `demo pr`: an issue, a branch adding a bucket to projects/storage (new code: no init can be reused),
    and the pull request that fixes the issue. Returns its number, head and the moment it was opened."""
    issue = repo.create_issue(title="Reports need a bucket of their own", body="Benchmark change.").number
    branch = f"bench/reports-{issue}"
    change = REPORTS.format(n=issue, modules=SAMPLE_REPOSITORY)
    push_branch(git_dir, branch, {f"projects/storage/reports_{issue}.tf": change},
                f"Add a reports bucket (#{issue})", AUTHOR)
    opened = time.time()
    pull = repo.create_pull(base="main", head=branch, title=f"Add a reports bucket (#{issue})",
                            body=f"Fixes #{issue}")
    return pull.number, pull.head.sha, opened


def raw_at(head: str, checkout: Path, env: dict[str, str], work: Path) -> float:
    """The raw commands of syntax and plan on the pull request's head, in a working copy of their own."""
    subprocess.run(["git", "fetch", "-q", "origin", head], cwd=checkout, check=True)
    subprocess.run(["git", "checkout", "-q", "--detach", head], cwd=checkout, check=True)
    return raw_plan(checkout, env, work)


def measure_path(path: str, reps: int, contract: GitHubContract, servers, tmp: Path,
                 poll_seconds: int | None = None) -> dict:
    """One fresh emulator (+ receiver) and daemon; the warm-up pull request, then `reps` timed ones.
    poll_seconds: github.poll_seconds for the code location (None: what gitops.yaml says, its default)."""
    run_dir = tmp / path
    run_dir.mkdir()
    with ExitStack() as stack:
        receiver = start_webhook_receiver(stack, run_dir) if path == "webhook" else None
        emulator, repos, github_env = start_github(stack, run_dir, contract, receiver, one_repository_layout())
        infra = repos[REPO]
        if poll_seconds is not None:  # the `github:` section is the last one run.py writes
            with (infra / "gitops.yaml").open("a") as f:
                f.write(f"  poll_seconds: {poll_seconds}\n")
        home = run_dir / "dagster_home"
        env = {**os.environ, **gitops_environ(run_dir, servers, repos), **github_env, **webhook_environ(receiver),
               "DAGSTER_HOME": str(home), "PYTHONUNBUFFERED": "1"}
        env.update(install_instance_config(home, env))
        sensors = build_sensors(load_config(infra / "gitops.yaml", environ=env))  # as the code location builds them
        sensor = sensors.resolve_sensor_def(WEBHOOK_SENSOR if path == "webhook" else POLL_SENSOR)

        # raw terraform gets what the runner gives it: automation flags, its CLI config, the module sources' git
        runner = TerraformRunner(provider_mirror=env["TF_PROVIDER_MIRROR"] or None)
        raw_env = {**env, "TF_IN_AUTOMATION": "1", "TF_INPUT": "0", "CHECKPOINT_DISABLE": "1",
                   "TF_CLI_CONFIG_FILE": str(runner.cli_config()), "GIT_CONFIG_GLOBAL": env["GITOPS_GIT_CONFIG"]}
        checkout = run_dir / "raw-checkout"
        subprocess.run(["git", "clone", "-q", str(emulator.git_dir), str(checkout)], check=True)
        raw_plan(checkout, raw_env, run_dir)  # warm-up: providers into the raw data folders, before the daemon

        instance = stack.enter_context(dg.DagsterInstance.from_config(str(home)))
        instance.get_runs(limit=1)  # the storage exists before the daemon opens it: one process creates it
        dequeue_s = instance.run_coordinator.dequeue_interval_seconds
        daemon = ManagedProcess("dagster-daemon", [str(Path(sys.executable).parent / "dagster-daemon"), "run",
                                                   "-w", str(ROOT / "workspace.yaml")],
                                env, ROOT, run_dir / "logs" / "dagster-daemon.log").start()
        stack.callback(daemon.stop)
        api = ApiWatch(emulator.base_url, emulator.register_user("bench"))
        started = time.time()
        head = emulator.repo.pull(WARMUP_PR).head_sha
        warm = watch(api, instance, daemon, WARMUP_PR, head, started)
        print(f"{path}: warm-up #{WARMUP_PR} (opened before the daemon started): daemon start to plan comment "
              f"{warm['comment']:.1f} s, run ended at {warm['ended']:.1f} s ({warm['status']})", flush=True)

        client = github.Github(base_url=emulator.base_url, auth=github.Auth.Token(demo_token(AUTHOR)), retry=None,
                               seconds_between_requests=0, seconds_between_writes=0)
        repo = client.get_repo(REPO)
        samples, raws = [], []
        for rep in range(reps):
            number, head, opened = open_pull(repo, str(emulator.git_dir))
            samples.append(watch(api, instance, daemon, number, head, opened))
            raws.append(raw_at(head, checkout, raw_env, run_dir))
            s = samples[-1]
            print(f"{path} rep {rep + 1}/{reps} #{number}: run created {s['created']:5.1f} s, launched "
                  f"{s['launched']:5.1f} s, started {s['started']:5.1f} s, first check {s['check']:5.1f} s, "
                  f"plan comment {s['comment']:5.1f} s, run ended {s['ended']:5.1f} s ({s['status']}); "
                  f"raw terraform {raws[-1]:5.1f} s  [load {os.getloadavg()[0]:.1f}]", flush=True)
        ticked = tick_interval(instance, sensor.name)
    return {"samples": samples, "raw": raws, "sensor": sensor.name, "interval_s": sensor.minimum_interval_seconds,
            "dequeue_s": dequeue_s, "ticked_s": ticked}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--path", choices=["webhook", "polling", "both"], default="both")
    parser.add_argument("--poll-seconds", type=int, default=None,
                        help="github.poll_seconds of gitops.yaml (default: not set, so its default)")
    parser.add_argument("--github-contract", metavar="DIR",
                        default=os.environ.get(ENV_VAR) or str(ROOT.parent / "shared" / "github-contract"),
                        help=f"GitHub's published contract folder (default: ${ENV_VAR}, else ../shared/github-contract)")
    args = parser.parse_args()
    paths = ["webhook", "polling"] if args.path == "both" else [args.path]
    contract = GitHubContract(args.github_contract)
    load_before, began = os.getloadavg(), time.time()
    results = {}
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="bench-pr-latency-") as tmp:
        servers = start_clouds(stack, Path(tmp) / "logs")
        for path in paths:
            results[path] = measure_path(path, args.reps, contract, servers, Path(tmp), args.poll_seconds)
    load_after = os.getloadavg()

    print(f"\nPR opened -> first check run / plan comment (storage, test), {args.reps} repetitions each, medians; "
          f"whole run {time.time() - began:.0f} s, load average {load_before[0]:.1f} before, "
          f"{load_after[0]:.1f} / {load_after[1]:.1f} / {load_after[2]:.1f} after")
    summary: dict = {"reps": args.reps, "load_before": round(load_before[0], 1),
                     "load_after_1_5_15": [round(x, 1) for x in load_after]}
    for path, result in results.items():
        med = {m: statistics.median(s[m] for s in result["samples"]) for m in MILESTONES}
        raw = statistics.median(result["raw"])
        what = "poll_seconds = minimum_interval_seconds" if path == "polling" else "minimum_interval_seconds"
        ticked = f"{result['ticked_s']:.1f} s" if result["ticked_s"] else "?"
        print(f"  {path}: sensor {result['sensor']}, {what} {result['interval_s']} s (it ticked every {ticked}, "
              f"median); the daemon evaluates sensors at most every {MIN_INTERVAL_LOOP_TIME} s and dequeues runs "
              f"every {result['dequeue_s']} s")
        for name, label in LABELS.items():
            ratio = f"   ratio to raw {med[name] / raw:5.2f}" if name in ("check", "comment") else ""
            print(f"    {label:<36} {med[name]:6.1f} s{ratio}")
        print(f"    {'raw terraform, same stages and head':<36} {raw:6.1f} s   "
              f"(min {min(result['raw']):.1f}, max {max(result['raw']):.1f})")
        summary[path] = {**{f"{m}_s": round(v, 1) for m, v in med.items()}, "raw_s": round(raw, 1),
                         "check_ratio": round(med["check"] / raw, 2), "comment_ratio": round(med["comment"] / raw, 2),
                         "sensor_interval_s": result["interval_s"],
                         "ticked_s": round(result["ticked_s"], 1) if result["ticked_s"] else None}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
