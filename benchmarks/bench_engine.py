"""The PR check of one unit through `gitops-pipelines` against the naive raw Terraform sequence; same run, medians.

    .venv/bin/python benchmarks/bench_engine.py [--reps 5] [--scenario plan|ephemeral|both] [--fresh-code]

Starts its own moto servers and its own copy of the sample repository. Each repetition times, in alternating order:

- raw: the commands a script would run one after another, straight to terraform with the same environment, CLI
  config and provider mirror. `plan` scenario: fmt -check, init -backend=false, validate -json, init with the S3
  backend, plan -out, show -json, show. `ephemeral` scenario: those, then the sandbox deploy of a copy (init with a
  local backend, apply, output -json, destroy, state list);
- cli: the same stages as `gitops-pipelines` commands (`syntax storage`, `plan storage --env test`, and for the
  ephemeral scenario `ephemeral_test storage`), started side by side as the pr_checks job runs them (one step
  process each, no dependency between them). They also check the Terraform version, read the commit, store the
  plan encrypted and run the policy.

--fresh-code changes a tag value in the unit's main.tf before every repetition: new code, as a new commit is
(the product then reuses an initialised folder only because init reads nothing that changed: providers, module
calls, backend and lock file are the same); without it every repetition re-checks the same code (a re-run).
Prints medians, the ratio (target <= 0.75), and the CLI processes' own peak memory.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
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
from gitops_pipelines_tests.fixtures.infra_repo import cloud_environ, make_infra_repo, module_releases  # noqa: E402

UNIT = "projects/storage"
TARGET = 0.75
BACKEND = ["bucket=tfstate-test", "region=us-east-1", "use_lockfile=true", "use_path_style=true",
           "skip_credentials_validation=true", "skip_requesting_account_id=true", "skip_metadata_api_check=true",
           "skip_region_validation=true", "key=storage/terraform.tfstate"]
STAGES = {"plan": [["syntax", "storage"], ["plan", "storage", "--env", "test"]],
          "ephemeral": [["syntax", "storage"], ["ephemeral_test", "storage"], ["plan", "storage", "--env", "test"]]}

# Runs the CLI in-process and reports this Python process's own peak RSS (terraform children are not counted).
_CLI_WRAPPER = (
    "import os, resource, sys\n"
    "from gitops_pipelines.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "open(os.environ['BENCH_MAXRSS_FILE'], 'w').write(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))\n"
    "sys.exit(code)\n"
)


def run(argv: list[str], cwd: Path, env: dict[str, str], ok: tuple[int, ...] = (0,)) -> float:
    """Seconds the command took."""
    started = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE)
    if proc.returncode not in ok:
        raise SystemExit(f"{' '.join(argv)} in {cwd} exited {proc.returncode}: {proc.stderr.decode()[-2000:]}")
    return time.perf_counter() - started


def raw_plan(repo: Path, env: dict[str, str], work: Path, unit: str = UNIT, backend: list[str] = BACKEND) -> float:
    """The commands of syntax and plan of `unit` (a folder of repo), straight to terraform, one after another,
    with their data folders and plan file in `work`."""
    work.mkdir(parents=True, exist_ok=True)
    syntax_env = {**env, "TF_DATA_DIR": str(work / "raw-syntax")}
    plan_env = {**env, "TF_DATA_DIR": str(work / "raw-test"), "AWS_ENDPOINT_URL": env["TEST_AWS_ENDPOINT"]}
    planfile = work / "raw.tfplan"
    steps = [
        (["terraform", "fmt", "-check", "-diff", "-recursive", "-no-color"], syntax_env, (0, 3)),
        (["terraform", "init", "-input=false", "-no-color", "-backend=false"], syntax_env, (0,)),
        (["terraform", "validate", "-json", "-no-color"], syntax_env, (0, 1)),
        (["terraform", "init", "-input=false", "-no-color", "-reconfigure",
          *(f"-backend-config={c}" for c in backend)], plan_env, (0,)),
        (["terraform", "plan", "-input=false", "-no-color", "-detailed-exitcode", f"-out={planfile}",
          "-lock-timeout=30s", "-var-file=env/test.tfvars"], plan_env, (0, 2)),
        (["terraform", "show", "-json", "-no-color", str(planfile)], plan_env, (0,)),
        (["terraform", "show", "-no-color", str(planfile)], plan_env, (0,)),
    ]
    return sum(run(argv, repo / unit, step_env, ok) for argv, step_env, ok in steps)


def raw_ephemeral(repo: Path, env: dict[str, str], work: Path) -> float:
    """The sandbox deploy of a copy of the project, as a script would do it: init, apply, output, destroy, list."""
    copy = work / "raw-ephemeral"
    shutil.rmtree(copy, ignore_errors=True)
    for folder in (UNIT, "modules"):
        shutil.copytree(repo / folder, copy / folder, ignore=shutil.ignore_patterns(".terraform*", ".gitops"))
    unit = copy / UNIT
    (unit / "_override.tf").write_text('terraform {\n  backend "local" {\n    path = "%s"\n  }\n}\n'
                                       % (copy / "state.tfstate"))
    sandbox = {**env, "TF_DATA_DIR": str(copy / "tfdata"), "AWS_ENDPOINT_URL": env["SANDBOX_AWS_ENDPOINT"],
               "AWS_ACCESS_KEY_ID": env["SANDBOX_AWS_ACCESS_KEY_ID"],
               "AWS_SECRET_ACCESS_KEY": env["SANDBOX_AWS_SECRET_ACCESS_KEY"]}
    variables = ["-var=environment=ephemeral", "-var=api_token=raw", f"-var=name_suffix=-r{os.getpid()}"]
    steps = [
        ["terraform", "init", "-input=false", "-no-color"],
        ["terraform", "apply", "-input=false", "-no-color", "-auto-approve", *variables],
        ["terraform", "output", "-json", "-no-color"],
        ["terraform", "destroy", "-input=false", "-no-color", "-auto-approve", *variables],
        ["terraform", "state", "list"],
    ]
    return sum(run(argv, unit, sandbox) for argv in steps)


def cli_side_by_side(repo: Path, env: dict[str, str], commands: list[list[str]], peaks: list[int]) -> float:
    """The stages as CLI processes started together; seconds until the last one finished."""
    started = time.perf_counter()
    running = []
    for args in commands:
        out = tempfile.NamedTemporaryFile("r", suffix=".maxrss")
        proc = subprocess.Popen([sys.executable, "-c", _CLI_WRAPPER, *args], cwd=repo, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                env={**env, "BENCH_MAXRSS_FILE": out.name})
        running.append((args, proc, out))
    for args, proc, out in running:
        _, err = proc.communicate()
        if proc.returncode != 0:
            raise SystemExit(f"gitops-pipelines {' '.join(args)} exited {proc.returncode}: {err.decode()[-2000:]}")
        peaks.append(int(out.read() or 0))
        out.close()
    return time.perf_counter() - started


def touch_code(repo: Path, rep: int) -> None:
    """A new value in the unit's code (a tag of its bucket), as a typical pull request changes: a new plan."""
    main = repo / UNIT / "main.tf"
    text = re.sub(r'\n    revision    = "[^"]*"', "", main.read_text())
    main.write_text(text.replace('    team        = "platform"\n',
                                 f'    team        = "platform"\n    revision    = "{rep}-{time.monotonic_ns()}"\n', 1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--scenario", choices=["plan", "ephemeral", "both"], default="both")
    parser.add_argument("--fresh-code", action="store_true", help="new code before every repetition")
    args = parser.parse_args()
    scenarios = ["plan", "ephemeral"] if args.scenario == "both" else [args.scenario]

    servers = {name: MotoServer(name).start() for name in ("test", "prod", "sandbox")}
    times: dict[str, dict[str, list[float]]] = {s: {"raw": [], "cli": []} for s in scenarios}
    peaks: list[int] = []
    try:
        servers["test"].create_bucket("tfstate-test")
        with tempfile.TemporaryDirectory(prefix="bench-engine-") as tmp:
            work = Path(tmp)
            repo = make_infra_repo(work / "repo")
            git_config = module_releases(work / "module-releases")  # module sources' tags, served locally
            env = {**os.environ, **cloud_environ(servers), "GITOPS_PLAN_KEY": "bench-plan-key",
                   "GITOPS_CONFIG": str(repo / "gitops.yaml"), "GITOPS_GIT_CONFIG": str(git_config)}
            # raw terraform gets exactly what the runner gives it: automation flags, its CLI config, the endpoint
            runner = TerraformRunner(provider_mirror=env["TF_PROVIDER_MIRROR"] or None)
            raw_env = {**env, "TF_IN_AUTOMATION": "1", "TF_INPUT": "0", "CHECKPOINT_DISABLE": "1",
                       "TF_CLI_CONFIG_FILE": str(runner.cli_config()), "GIT_CONFIG_GLOBAL": str(git_config)}
            paths = {
                "plan": (lambda: raw_plan(repo, raw_env, work),
                         lambda: cli_side_by_side(repo, env, STAGES["plan"], peaks)),
                "ephemeral": (lambda: raw_plan(repo, raw_env, work) + raw_ephemeral(repo, raw_env, work),
                              lambda: cli_side_by_side(repo, env, STAGES["ephemeral"], peaks)),
            }
            for scenario in scenarios:  # warm-up: both paths initialise their folders once
                for path in paths[scenario]:
                    path()
            for rep in range(args.reps):
                for scenario in scenarios:
                    order = ("raw", "cli") if rep % 2 == 0 else ("cli", "raw")
                    for which in order:
                        if args.fresh_code:
                            touch_code(repo, rep)
                        times[scenario][which].append(paths[scenario][which == "cli"]())
                    print(f"rep {rep + 1}/{args.reps} {scenario:<9}: raw {times[scenario]['raw'][-1]:6.2f}s  "
                          f"cli {times[scenario]['cli'][-1]:6.2f}s", flush=True)
    finally:
        for server in servers.values():
            server.stop()

    result: dict = {"reps": args.reps, "fresh_code": args.fresh_code, "target": TARGET,
                    "cli_python_peak_rss_mib": round(max(peaks) / 1024, 1)}
    met = True
    print(f"\nPR check of one unit (storage), {args.reps} repetitions, medians"
          f"{', new code every repetition' if args.fresh_code else ', same code (re-run)'}")
    for scenario in scenarios:
        raw, cli = (statistics.median(times[scenario][k]) for k in ("raw", "cli"))
        ratio = cli / raw
        met &= ratio <= TARGET
        label = "syntax + plan" if scenario == "plan" else "syntax + ephemeral + plan"
        print(f"  {label:<26} raw {raw:6.2f} s   gitops-pipelines {cli:6.2f} s   ratio {ratio:5.3f}  "
              f"(target <= {TARGET}: {'met' if ratio <= TARGET else 'NOT met'})")
        result[scenario] = {"raw_median_s": round(raw, 2), "cli_median_s": round(cli, 2), "ratio": round(ratio, 3)}
    print(f"  CLI process peak RSS: {result['cli_python_peak_rss_mib']:.1f} MiB (Python process itself)")
    print(json.dumps(result))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
