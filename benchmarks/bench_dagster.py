"""Materializing storage/test_plan through Dagster against running the core plan stage directly; same run, medians.

    .venv/bin/python benchmarks/bench_dagster.py [--reps 5] [--executor in_process|spawn|forkserver|threads|all]

Starts its own moto servers, its own copy of the sample repository and a Dagster instance (SQLite) in a temp dir.
Each repetition runs the core `plan()` and the Dagster run(s) in alternating order, each for a new change
(`pr-<n>`), so all pay for the same Terraform work. Target: Dagster adds at most 1 s per run.

in_process (the default) is what merge, release, prod_deploy and the asset graph's Materialize use: the step
runs in the run's own process, so the overhead is Dagster's bookkeeping (run, events, one log event per Terraform
line). pr_checks and drift run many independent steps side by side: `threads` is what defs/jobs.py configures
(each step a thread of the run's process, defs/threads.py); for comparison, `spawn` is Dagster's multiprocess
default (every step process a new interpreter importing dagster and the code location) and `forkserver` forks
step processes from a server that imported them once. A run worker starts its own forkserver, so this script stops
it after every run: each run pays for that start, as it does in a deployment.
"""

from __future__ import annotations

import argparse
import os
from multiprocessing import forkserver
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import dagster as dg  # noqa: E402

from gitops_pipelines.core import stages  # noqa: E402
from gitops_pipelines.core.workspace import open_workspace  # noqa: E402
from gitops_pipelines.definitions import build_definitions  # noqa: E402
from gitops_pipelines.defs import jobs  # noqa: E402
from gitops_pipelines.core.vocabulary import PR_CHECKS_JOB  # noqa: E402
from gitops_pipelines.defs.run_tags import change_tags  # noqa: E402
from gitops_pipelines.resources import GitopsResource  # noqa: E402
from gitops_pipelines_dev.infra import cloud_environ, git, make_infra_repo, module_releases  # noqa: E402
from gitops_pipelines_dev.moto import start_clouds  # noqa: E402

PLAN_KEY = "bench-plan-key"
TEST_PLAN = dg.AssetKey(["storage", "test_plan"])
TARGET_S = 1.0
# what pr_checks ran on before the thread executor: step processes forked from a server that preloaded the code
FORKSERVER = dg.multiprocess_executor.configured(
    {"start_method": {"forkserver": {"preload_modules": ["gitops_pipelines.definitions"]}}})


def _resource() -> GitopsResource:
    return GitopsResource(config_path=os.environ["GITOPS_CONFIG"], plan_key=PLAN_KEY,
                          plan_store_url=os.environ["BENCH_PLAN_STORE"])


def pr_checks_job():
    """Module-level so a multiprocess run can rebuild the job in its step processes; BENCH_START_METHOD picks
    the executor: Dagster's default multiprocess one (spawn), the forkserver one, or the configured threads."""
    executors = {"spawn": dg.multiprocess_executor, "forkserver": FORKSERVER}
    if os.environ.get("BENCH_START_METHOD") in executors:  # else the configured threads
        chosen = executors[os.environ["BENCH_START_METHOD"]]
        jobs.pr_checks_executor = lambda config: chosen
    return build_definitions(os.environ["GITOPS_CONFIG"], gitops=_resource()).resolve_job_def(PR_CHECKS_JOB)


def run_core(n: int) -> float:
    ws = open_workspace(os.environ["GITOPS_CONFIG"], plan_key=PLAN_KEY, plan_store_url=os.environ["BENCH_PLAN_STORE"])
    start = time.perf_counter()
    stages.plan(ws, ws.config.unit("storage"), "test", f"pr-{n}")
    return time.perf_counter() - start


_inner: list[float] = []  # time the in-process asset spent inside the core plan stage, per run


def _timed_plan(plan):
    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return plan(*args, **kwargs)
        finally:
            _inner.append(time.perf_counter() - start)
    return timed


def run_dagster(instance: dg.DagsterInstance, n: int, executor: str) -> float:
    key = f"pr-{n}"
    instance.add_dynamic_partitions("changes", [key])
    tags = change_tags(head_sha=git(Path(os.environ["GITOPS_CONFIG"]).parent, "rev-parse", "HEAD"))  # as the sensor
    start = time.perf_counter()
    if executor == "in_process":
        result = pr_checks_job().execute_in_process(instance=instance, partition_key=key, asset_selection=[TEST_PLAN],
                                                    tags=tags)
        ok = result.success
    else:
        os.environ["BENCH_START_METHOD"] = executor
        try:
            with dg.execute_job(dg.reconstructable(pr_checks_job), instance=instance, asset_selection=[TEST_PLAN],
                                tags={"dagster/partition": key, **tags}) as result:
                ok = result.success
        finally:
            if executor != "threads":
                forkserver._forkserver._stop()  # a run worker's forkserver lives as long as the run worker
    elapsed = time.perf_counter() - start
    if not ok:
        raise SystemExit(f"the Dagster run for {key} failed")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--executor", choices=["in_process", "spawn", "forkserver", "threads", "all"],
                        default="in_process")
    args = parser.parse_args()
    executors = ["in_process", "spawn", "forkserver", "threads"] if args.executor == "all" else [args.executor]
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-dagster-")))
        servers = start_clouds(stack, tmp)
        infra = make_infra_repo(tmp / "infra")
        os.environ.update({**cloud_environ(servers), "GITOPS_CONFIG": str(infra / "gitops.yaml"),
                           "BENCH_PLAN_STORE": str(tmp / "plans"),
                           "GITOPS_GIT_CONFIG": str(module_releases(tmp / "module-releases"))})
        home = tmp / "dagster_home"
        home.mkdir()
        instance = stack.enter_context(dg.instance_for_test(temp_dir=str(home)))
        stages.plan = _timed_plan(stages.plan)  # the asset looks it up at call time (in-process runs only)
        n = 0
        run_core(n)  # warm-up: the first init installs the providers into the data folder
        for executor in executors:  # warm-up: imports, instance tables, the code location's first load
            n += 1
            run_dagster(instance, n, executor)
        times: dict[str, list[float]] = {"core": [], **{e: [] for e in executors}}
        overhead: list[float] = []
        for _ in range(args.reps):
            for executor in executors:
                n += 1
                _inner.clear()
                times[executor].append(run_dagster(instance, n, executor))
                if executor == "in_process":
                    overhead.append(times[executor][-1] - _inner[-1])
            n += 1
            times["core"].append(run_core(n))
            print("  " + "  ".join(f"{k} {v[-1]:.2f}s" for k, v in times.items()), flush=True)
    core = statistics.median(times["core"])
    print(f"\nstorage/test_plan, {args.reps} reps, medians:")
    print(f"  core plan() directly      {core:6.2f} s")
    for executor in executors:
        median = statistics.median(times[executor])
        verdict = "ok" if median - core <= TARGET_S else f"OVER the {TARGET_S:g} s target"
        print(f"  Dagster, {executor:<13}    {median:6.2f} s   "
              f"(+{median - core:.2f} s, ratio {median / core:.2f}; {verdict})")
    if overhead:
        print(f"  in_process run minus the plan stage inside it (Dagster's own cost, load-independent): "
              f"median {statistics.median(overhead):.2f} s, max {max(overhead):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
