"""A change touching 5 project units: their PR checks through Dagster's pr_checks job against the sum of their naive
raw Terraform sequences; same run, medians.

    .venv/bin/python benchmarks/bench_units.py [--reps 1] [--units 5] [--limits 4] [--fresh-code]

Starts its own moto servers and writes a private copy of the sample repository whose gitops.yaml lists N copies of
the sample project (storage, storage2, ...), each with its own state key. Each repetition times, in alternating
order:

- raw: per unit, the commands a script would run one after another (fmt -check, init -backend=false,
  validate -json, init with the S3 backend, plan -out, show -json, show), straight to terraform with the same
  environment, CLI config, provider mirror and module git config; the units one after another, summed;
- dagster: one run of the pr_checks job (as the sensor launches it: a new `changes` partition, the head commit in
  its tags) selecting `syntax` and `test_plan` of every unit: the executor defs/jobs.py gives pr_checks (printed)
  with `pr_checks.parallelism` from gitops.yaml as max_concurrent, on an instance with the project's dagster.yaml
  pool settings. The steps also check the Terraform version, check out the commit,
  run the static security checks, store the plan encrypted and run the policy. `ephemeral_test` is left out:
  the raw sequence has no sandbox deploy.

--limits runs the Dagster path once per pr_checks.parallelism value (`4,1`: 1 is what a plan pool at the instance's
default limit 1 would do). --fresh-code commits a comment to every unit's main.tf before each repetition (new
code, as a new commit is: no checkout or init of an earlier one is reused). Prints medians, the speed-up (sum of
raw sequences / Dagster wall time), the most steps seen running at once, and the 1-minute load
average sampled while the paths ran.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from multiprocessing import forkserver
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import dagster as dg  # noqa: E402
import yaml  # noqa: E402

from gitops_pipelines.core.terraform import TerraformRunner  # noqa: E402
from gitops_pipelines.definitions import build_definitions  # noqa: E402
from gitops_pipelines.defs.run_tags import change_tags  # noqa: E402
from gitops_pipelines.resources import GitopsResource  # noqa: E402
from gitops_pipelines_dev.infra import cloud_environ, git, make_infra_repo, module_releases  # noqa: E402
from gitops_pipelines_dev.moto import start_clouds  # noqa: E402
from bench_engine import BACKEND as ENGINE_BACKEND, raw_plan  # noqa: E402

PLAN_KEY = "bench-plan-key"
SAMPLE_UNIT = "storage"
STEP_END = (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE)
# the test environment's backend, as gitops.yaml of the sample gives it, without bench_engine.py's state key
BACKEND = [c for c in ENGINE_BACKEND if not c.startswith("key=")]


def unit_names(count: int) -> list[str]:
    return [SAMPLE_UNIT] + [f"{SAMPLE_UNIT}{i}" for i in range(2, count + 1)]


def make_repo(dest: Path, names: list[str]) -> Path:
    """The sample repository with its project copied to every name (test environment only), one commit."""
    repo = make_infra_repo(dest)
    with (repo / "gitops.yaml").open("a") as f:
        for name in names[1:]:
            shutil.copytree(repo / "projects" / SAMPLE_UNIT, repo / "projects" / name)
            f.write(f"  - name: {name}\n    kind: project\n    path: projects/{name}\n    environments: [test]\n")
    commit(repo, f"{len(names)} projects")
    return repo


def commit(repo: Path, message: str) -> str:
    git(repo, "-c", "user.name=bench", "-c", "user.email=bench@example.com", "add", "-A")
    git(repo, "-c", "user.name=bench", "-c", "user.email=bench@example.com", "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def set_parallelism(repo: Path, limit: int) -> None:
    """pr_checks.parallelism in the code location's gitops.yaml (the working copy, as GITOPS_CONFIG names it); the
    steps judge by main's committed one, which differs in nothing else."""
    path = repo / "gitops.yaml"
    text = re.sub(r"(?m)^pr_checks:.*\n(?:[ ]+.*\n)*", "", path.read_text())
    path.write_text(f"{text}pr_checks: {{parallelism: {limit}}}\n")


def raw_unit(repo: Path, env: dict[str, str], work: Path, name: str) -> float:
    """The naive sequence of one unit's syntax and plan (bench_engine.py's), one command after another."""
    return raw_plan(repo, env, work / name, unit=f"projects/{name}", backend=[*BACKEND, f"key={name}/terraform.tfstate"])


def pr_checks_job() -> dg.JobDefinition:
    """Module-level so that the multiprocess run rebuilds the job in its step processes."""
    config = os.environ["GITOPS_CONFIG"]
    gitops = GitopsResource(config_path=config, plan_key=PLAN_KEY, plan_store_url=os.environ["BENCH_PLAN_STORE"])
    return build_definitions(config, gitops=gitops).resolve_job_def("pr_checks")


def run_dagster(instance: dg.DagsterInstance, names: list[str], change: str, head: str) -> tuple[float, int]:
    """Wall time of one pr_checks run over every unit's syntax and test_plan, and the most steps at once."""
    instance.add_dynamic_partitions("changes", [change])
    selection = [dg.AssetKey([name, stage]) for name in names for stage in ("syntax", "test_plan")]
    start = time.perf_counter()
    try:
        with dg.execute_job(dg.reconstructable(pr_checks_job), instance=instance, asset_selection=selection,
                            tags={"dagster/partition": change, **change_tags(head_sha=head)}) as result:
            elapsed = time.perf_counter() - start
            if not result.success:
                raise SystemExit(f"the pr_checks run for {change} failed; see the step logs above")
            run_id = result.run_id
    finally:
        forkserver._forkserver._stop()  # if the executor forks steps from one: it lives as long as the run worker
    return elapsed, most_at_once(instance, run_id)


def most_at_once(instance: dg.DagsterInstance, run_id: str) -> int:
    """The most steps between their STEP_START and STEP_SUCCESS at one moment, from the run's event log."""
    edges = []
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is not None and event.step_key and event.event_type == dg.DagsterEventType.STEP_START:
            edges.append((entry.timestamp, 1))
        elif event is not None and event.step_key and event.event_type in STEP_END:
            edges.append((entry.timestamp, -1))
    running = most = 0
    for _, change in sorted(edges):
        running += change
        most = max(most, running)
    return most


class LoadSampler:
    """The 1-minute load average every few seconds while the timed paths run (other work on the machine)."""

    def __init__(self, every: float = 5.0):
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, args=(every,), daemon=True)

    def _sample(self, every: float) -> None:
        while not self._stop.wait(every):
            self.samples.append(os.getloadavg()[0])

    def __enter__(self) -> "LoadSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def touch_code(repo: Path, names: list[str], rep: int) -> str:
    for name in names:
        with (repo / "projects" / name / "main.tf").open("a") as f:
            f.write(f"# benchmark repetition {rep}\n")
    return commit(repo, f"repetition {rep}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--units", type=int, default=5)
    parser.add_argument("--limits", default="4", help="pr_checks.parallelism values, comma-separated (e.g. 4,1)")
    parser.add_argument("--fresh-code", action="store_true", help="new code in every unit before each repetition")
    args = parser.parse_args()
    names = unit_names(args.units)
    limits = [int(v) for v in args.limits.split(",")]
    raw: list[float] = []
    dagster: dict[int, list[float]] = {limit: [] for limit in limits}
    peaks: dict[int, int] = {limit: 0 for limit in limits}
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-units-")))
        servers = start_clouds(stack, tmp)
        repo = make_repo(tmp / "infra", names)
        git_config = module_releases(tmp / "module-releases")
        os.environ.update({**cloud_environ(servers), "GITOPS_GIT_CONFIG": str(git_config),
                           "GITOPS_CONFIG": str(repo / "gitops.yaml"), "BENCH_PLAN_STORE": str(tmp / "plans")})
        # raw terraform gets exactly what the runner gives it: automation flags, its CLI config, the module git config
        runner = TerraformRunner(provider_mirror=os.environ["TF_PROVIDER_MIRROR"] or None)
        raw_env = {**os.environ, "TF_IN_AUTOMATION": "1", "TF_INPUT": "0", "CHECKPOINT_DISABLE": "1",
                   "TF_CLI_CONFIG_FILE": str(runner.cli_config()), "GIT_CONFIG_GLOBAL": str(git_config)}
        home = tmp / "dagster_home"
        home.mkdir()
        concurrency = yaml.safe_load((ROOT / "dagster.yaml").read_text())["concurrency"]
        instance = stack.enter_context(dg.instance_for_test(temp_dir=str(home), overrides={"concurrency": concurrency}))
        head, n = git(repo, "rev-parse", "HEAD"), 0
        executor = pr_checks_job().executor_def.name

        def raw_all() -> float:
            return sum(raw_unit(repo, raw_env, tmp / "raw", name) for name in names)

        def dagster_at(limit: int) -> float:
            nonlocal n
            n += 1
            set_parallelism(repo, limit)
            elapsed, most = run_dagster(instance, names, f"pr-{n}", head)
            peaks[limit] = max(peaks[limit], most)
            return elapsed

        print(f"warm-up: {len(names)} units, raw and pr_checks once each (initialises folders)", flush=True)
        raw_all()
        dagster_at(limits[0])
        sampler = stack.enter_context(LoadSampler())
        for rep in range(args.reps):
            if args.fresh_code:
                head = touch_code(repo, names, rep)
            order = ["raw", *limits] if rep % 2 == 0 else [*limits, "raw"]
            for which in order:
                if which == "raw":
                    raw.append(raw_all())
                else:
                    dagster[which].append(dagster_at(which))
            print(f"rep {rep + 1}/{args.reps}: raw sum {raw[-1]:6.1f}s  "
                  + "  ".join(f"pr_checks(parallelism {lim}) {dagster[lim][-1]:6.1f}s" for lim in limits), flush=True)

    raw_median = statistics.median(raw)
    load = sampler.samples or [os.getloadavg()[0]]
    print(f"\nA change touching {len(names)} project units, syntax + test_plan each, {args.reps} repetition(s), "
          f"medians, {os.cpu_count()} CPUs{', new code every repetition' if args.fresh_code else ', same code'}")
    print(f"  pr_checks executor: {executor}")
    print(f"  sum of {len(names)} raw sequences (one after another)   : {raw_median:7.1f} s")
    result = {"units": len(names), "reps": args.reps, "fresh_code": args.fresh_code, "cpus": os.cpu_count(),
              "executor": executor, "raw_sum_median_s": round(raw_median, 1),
              "load_1m_while_timed": {"mean": round(statistics.mean(load), 1), "max": round(max(load), 1)}}
    for limit in limits:
        median = statistics.median(dagster[limit])
        print(f"  pr_checks through Dagster, parallelism {limit}, wall time : {median:7.1f} s   speed-up "
              f"{raw_median / median:4.2f}x  (at most {peaks[limit]} steps at once)")
        result[f"parallelism_{limit}"] = {"wall_median_s": round(median, 1), "speedup": round(raw_median / median, 2),
                                          "most_steps_at_once": peaks[limit]}
    print(f"  1-minute load average while timed: mean {statistics.mean(load):.1f}, max {max(load):.1f} "
          f"({os.cpu_count()} CPUs; idle is below 1)")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
