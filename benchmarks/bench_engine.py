"""Syntax + plan stages for the sample project: raw Terraform against `gitops-pipelines`, same run, medians.

    .venv/bin/python benchmarks/bench_engine.py [--reps 5]

Starts its own moto servers and its own copy of the sample repository. Each repetition times the raw commands
of the two stages (fmt -check, init -backend=false, validate, init with the backend, plan -out, show -json, show)
and the two CLI commands (`gitops-pipelines syntax storage`, `gitops-pipelines plan storage --env test`), in
alternating order. Prints medians, the ratio (target <= 1.10), and the CLI process's own peak memory.
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gitops_pipelines.core.terraform import TerraformRunner  # noqa: E402
from gitops_pipelines_dev.moto import MotoServer  # noqa: E402
from gitops_pipelines_tests.fixtures.infra_repo import cloud_environ, make_infra_repo  # noqa: E402

UNIT = "projects/storage"
BACKEND = ["bucket=tfstate-test", "region=us-east-1", "use_lockfile=true", "use_path_style=true",
           "skip_credentials_validation=true", "skip_requesting_account_id=true", "skip_metadata_api_check=true",
           "skip_region_validation=true", "key=storage/terraform.tfstate"]

# Runs the CLI in-process and reports this Python process's own peak RSS (terraform children are not counted).
_CLI_WRAPPER = (
    "import os, resource, sys\n"
    "from gitops_pipelines.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "open(os.environ['BENCH_MAXRSS_FILE'], 'w').write(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))\n"
    "sys.exit(code)\n"
)


def run(argv: list[str], cwd: Path, env: dict[str, str], ok: tuple[int, ...] = (0,)) -> tuple[float, int]:
    """Seconds the command took and the peak RSS (KiB) of its largest descendant."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code not in ok:
        raise SystemExit(f"{' '.join(argv)} exited {code}: {proc.stderr.read().decode()[-2000:]}")
    proc.stderr.close()
    return elapsed, usage.ru_maxrss


def raw_stages(repo: Path, env: dict[str, str], work: Path) -> float:
    """The commands the two stages run, straight to terraform, as a script would."""
    unit = repo / UNIT
    total = 0.0
    syntax_env = {**env, "TF_DATA_DIR": str(work / "raw-syntax")}
    plan_env = {**env, "TF_DATA_DIR": str(work / "raw-test")}
    planfile = work / "raw.tfplan"
    steps = [
        (["terraform", "fmt", "-check", "-diff", "-recursive", "-no-color"], syntax_env, (0, 3)),
        (["terraform", "init", "-input=false", "-no-color", "-backend=false"], syntax_env, (0,)),
        (["terraform", "validate", "-json", "-no-color"], syntax_env, (0, 1)),
        (["terraform", "init", "-input=false", "-no-color", "-reconfigure",
          *(f"-backend-config={c}" for c in BACKEND)], plan_env, (0,)),
        (["terraform", "plan", "-input=false", "-no-color", "-detailed-exitcode", f"-out={planfile}",
          "-lock-timeout=30s", "-var-file=env/test.tfvars"], plan_env, (0, 2)),
        (["terraform", "show", "-json", "-no-color", str(planfile)], plan_env, (0,)),
        (["terraform", "show", "-no-color", str(planfile)], plan_env, (0,)),
    ]
    for argv, step_env, ok in steps:
        total += run(argv, unit, step_env, ok)[0]
    return total


def cli_stages(repo: Path, env: dict[str, str], peaks: list[int], tf_peaks: list[int]) -> float:
    total = 0.0
    for args in (["syntax", "storage"], ["plan", "storage", "--env", "test"]):
        with tempfile.NamedTemporaryFile("r", suffix=".maxrss") as out:
            elapsed, tree_peak = run([sys.executable, "-c", _CLI_WRAPPER, *args], repo,
                                     {**env, "BENCH_MAXRSS_FILE": out.name})
            total += elapsed
            peaks.append(int(out.read() or 0))
            tf_peaks.append(tree_peak)
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()

    servers = {name: MotoServer(name).start() for name in ("test", "prod", "sandbox")}
    try:
        servers["test"].create_bucket("tfstate-test")
        with tempfile.TemporaryDirectory(prefix="bench-engine-") as tmp:
            work = Path(tmp)
            repo = make_infra_repo(work / "repo")
            env = {**os.environ, **cloud_environ(servers), "GITOPS_PLAN_KEY": "bench-plan-key",
                   "GITOPS_CONFIG": str(repo / "gitops.yaml")}
            # raw terraform gets exactly what the runner gives it: automation flags, its CLI config, the endpoint
            runner = TerraformRunner(provider_mirror=env["TF_PROVIDER_MIRROR"] or None)
            raw_env = {**env, "TF_IN_AUTOMATION": "1", "TF_INPUT": "0", "CHECKPOINT_DISABLE": "1",
                       "TF_CLI_CONFIG_FILE": str(runner.cli_config()), "AWS_ENDPOINT_URL": env["TEST_AWS_ENDPOINT"]}
            # warm-up: both paths initialise their folders once, so every timed repetition is a re-run
            raw_stages(repo, raw_env, work)
            cli_stages(repo, env, [], [])
            raw_times: list[float] = []
            cli_times: list[float] = []
            peaks: list[int] = []
            tf_peaks: list[int] = []
            for rep in range(args.reps):
                order = ("raw", "cli") if rep % 2 == 0 else ("cli", "raw")
                for which in order:
                    if which == "raw":
                        raw_times.append(raw_stages(repo, raw_env, work))
                    else:
                        cli_times.append(cli_stages(repo, env, peaks, tf_peaks))
                print(f"rep {rep + 1}/{args.reps}: raw {raw_times[-1]:.2f}s  cli {cli_times[-1]:.2f}s", flush=True)
    finally:
        for server in servers.values():
            server.stop()

    raw_median = statistics.median(raw_times)
    cli_median = statistics.median(cli_times)
    ratio = cli_median / raw_median
    result = {
        "reps": args.reps,
        "raw_terraform_median_s": round(raw_median, 2),
        "gitops_pipelines_median_s": round(cli_median, 2),
        "ratio": round(ratio, 3),
        "target": 1.10,
        "cli_python_peak_rss_mib": round(max(peaks) / 1024, 1),
        "largest_child_peak_rss_mib": round(max(tf_peaks) / 1024, 1),
    }
    print()
    print(f"syntax + plan, sample project, {args.reps} repetitions (medians)")
    print(f"  raw terraform commands : {raw_median:7.2f} s")
    print(f"  gitops-pipelines CLI   : {cli_median:7.2f} s")
    print(f"  ratio                  : {ratio:7.3f}  (target <= 1.10: {'met' if ratio <= 1.10 else 'NOT met'})")
    print(f"  CLI process peak RSS   : {result['cli_python_peak_rss_mib']:7.1f} MiB (Python process itself)")
    print(f"  largest child peak RSS : {result['largest_child_peak_rss_mib']:7.1f} MiB (terraform or its provider)")
    print(json.dumps(result))
    return 0 if ratio <= 1.10 else 1


if __name__ == "__main__":
    sys.exit(main())
