"""Drift of N projects x 2 environments through the Dagster `drift` job against raw `terraform plan -refresh-only`.

    .venv/bin/python benchmarks/bench_drift.py [--projects 20] [--parallelism 4]

Starts its own two moto servers (test, prod) and writes a repository of N small projects (one aws_ssm_parameter
each), every one deployed to both environments with raw `terraform apply` (setup, not timed). One parameter per
environment is then changed by hand, so the run finds drift there. Timed, in the same run:

- **raw**: `terraform plan -refresh-only` of every unit x environment, one after another, in data folders that
  are already initialised: the least a drift check has to do;
- **drift**: the `drift` job (every environment of every project) on a Dagster instance in a temp dir, multiprocess
  executor, `drift.parallelism` from gitops.yaml. Each step is a new process that imports Dagster and loads the code
  location, then per environment runs init (its first in that data folder), a normal plan and its `show -json`, and
  on drift stores that plan (`show` and the encrypted plan store).

Prints both, their ratio (drift wall time / sum of raw refresh-only plans) and the parallelism used.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import dagster as dg  # noqa: E402

from gitops_pipelines.core.terraform import TerraformRunner  # noqa: E402
from gitops_pipelines.definitions import build_definitions  # noqa: E402
from gitops_pipelines.resources import GitopsResource  # noqa: E402
from gitops_pipelines_dev.infra import git  # noqa: E402
from gitops_pipelines_dev.mirror import find_provider_mirror  # noqa: E402
from gitops_pipelines_dev.moto import MotoServer  # noqa: E402

PLAN_KEY = "bench-plan-key"
ENVIRONMENTS = ("test", "prod")
BACKEND = ["region=us-east-1", "use_lockfile=true", "use_path_style=true", "skip_credentials_validation=true",
           "skip_requesting_account_id=true", "skip_metadata_api_check=true", "skip_region_validation=true"]

MAIN_TF = """\
terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 5.0" }
  }
  backend "s3" {}
}

provider "aws" {
  region                      = "us-east-1"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
}

variable "environment" { type = string }

resource "aws_ssm_parameter" "setting" {
  name  = "/bench/%(name)s/${var.environment}/setting"
  type  = "String"
  value = "as-deployed"
}
"""


def gitops_yaml(names: list[str], parallelism: int) -> str:
    envs = "".join(textwrap.dedent(f"""\
          - name: {env}
            env: {{AWS_ENDPOINT_URL: "${{{env.upper()}_AWS_ENDPOINT}}", AWS_REGION: us-east-1}}
            credentials: [AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY]
            variables: {{environment: {env}}}
            backend_config: {{bucket: tfstate-{env}, region: us-east-1, use_lockfile: true, use_path_style: true,
                             skip_credentials_validation: true, skip_requesting_account_id: true,
                             skip_metadata_api_check: true, skip_region_validation: true}}
        """) for env in ENVIRONMENTS)
    units = "".join(f"  - {{name: {n}, kind: project, path: projects/{n}}}\n" for n in names)
    return (f'terraform: {{provider_mirror: "${{TF_PROVIDER_MIRROR}}"}}\nplan_store: {{url: .gitops/plans}}\n'
            f"drift: {{cron: '0 6 * * *', parallelism: {parallelism}}}\nenvironments:\n{envs}units:\n{units}")


def make_repo(dest: Path, names: list[str], parallelism: int) -> Path:
    for name in names:
        (dest / "projects" / name).mkdir(parents=True)
        (dest / "projects" / name / "main.tf").write_text(MAIN_TF % {"name": name})
    (dest / "gitops.yaml").write_text(gitops_yaml(names, parallelism))
    (dest / ".gitignore").write_text(".gitops/\n.terraform*\n")
    git(dest, "init", "-q", "-b", "main")
    git(dest, "-c", "user.name=bench", "-c", "user.email=bench@example.com", "add", "-A")
    git(dest, "-c", "user.name=bench", "-c", "user.email=bench@example.com", "commit", "-q", "-m", "projects")
    return dest


def terraform(args: list[str], cwd: Path, env: dict[str, str], ok: tuple[int, ...] = (0,)) -> float:
    start = time.perf_counter()
    proc = subprocess.run(["terraform", *args, "-input=false", "-no-color"], cwd=cwd, env=env, capture_output=True,
                          text=True)
    if proc.returncode not in ok:
        raise SystemExit(f"terraform {args[0]} in {cwd} exited {proc.returncode}: {proc.stderr[-2000:]}")
    return time.perf_counter() - start


def raw_env(base: dict[str, str], env: str, name: str, work: Path) -> dict[str, str]:
    return {**base, "AWS_ENDPOINT_URL": base[f"{env.upper()}_AWS_ENDPOINT"],
            "TF_DATA_DIR": str(work / name / env), "TF_VAR_environment": env}


def deploy(repo: Path, base: dict[str, str], work: Path, name: str, env: str) -> None:
    """Setup, not timed: init and apply one project to one environment."""
    unit, run_env = repo / "projects" / name, raw_env(base, name=name, env=env, work=work)
    backend = [f"-backend-config={c}" for c in (*BACKEND, f"bucket=tfstate-{env}", f"key={name}/terraform.tfstate")]
    terraform(["init", *backend], unit, run_env)
    terraform(["apply", "-auto-approve"], unit, run_env)
    # as the apply stage does: read back what the provider fills only on read, or every check would find drift
    terraform(["apply", "-refresh-only", "-auto-approve"], unit, run_env)


def raw_refresh_only(repo: Path, base: dict[str, str], work: Path, pairs: list[tuple[str, str]]) -> float:
    """Sum of `terraform plan -refresh-only` over every pair, one after another."""
    total = 0.0
    for name, env in pairs:
        out = work / f"{name}-{env}.tfplan"
        total += terraform(["plan", "-refresh-only", "-detailed-exitcode", "-lock-timeout=30s", f"-out={out}"],
                           repo / "projects" / name, raw_env(base, name=name, env=env, work=work), ok=(0, 2))
    return total


def drift_job():
    """Module-level so that the multiprocess run rebuilds the job in its step processes."""
    resource = GitopsResource(config_path=os.environ["GITOPS_CONFIG"], plan_key=PLAN_KEY)
    return build_definitions(os.environ["GITOPS_CONFIG"], gitops=resource).resolve_job_def("drift")


def run_drift(instance: dg.DagsterInstance) -> tuple[float, dict[str, int], int]:
    """Wall time of one drift run, its check results by status, and the drift plans it stored."""
    start = time.perf_counter()
    with dg.execute_job(dg.reconstructable(drift_job), instance=instance) as result:
        elapsed = time.perf_counter() - start
        if not result.success:
            raise SystemExit("the drift run failed; see the step logs above")
        statuses: dict[str, int] = {}
        for check in result.get_asset_check_evaluations():
            status = check.metadata["status"].value
            statuses[status] = statuses.get(status, 0) + 1
        stored = sum(1 for c in result.get_asset_check_evaluations() if "plan_id" in c.metadata)
    return elapsed, statuses, stored


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--projects", type=int, default=20)
    parser.add_argument("--parallelism", type=int, default=4, help="drift.parallelism written to gitops.yaml")
    args = parser.parse_args()
    names = [f"app{i:02d}" for i in range(args.projects)]
    pairs = [(name, env) for name in names for env in ENVIRONMENTS]
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-drift-")))
        servers = {}
        for env in ENVIRONMENTS:
            servers[env] = MotoServer(env, log_dir=tmp).start()
            stack.callback(servers[env].stop)
            servers[env].create_bucket(f"tfstate-{env}")
        repo = make_repo(tmp / "infra", names, args.parallelism)
        mirror = find_provider_mirror() or ""
        os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                           "AWS_REGION": "us-east-1", "TF_PROVIDER_MIRROR": mirror,
                           "GITOPS_CONFIG": str(repo / "gitops.yaml"),
                           **{f"{env.upper()}_AWS_ENDPOINT": s.url for env, s in servers.items()}})
        runner = TerraformRunner(provider_mirror=mirror or None)
        base = {**os.environ, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1",
                "TF_CLI_CONFIG_FILE": str(runner.cli_config())}
        work = tmp / "raw"
        print(f"setup: deploying {len(names)} projects x {len(ENVIRONMENTS)} environments (not timed)", flush=True)
        with ThreadPoolExecutor(max_workers=args.parallelism) as pool:
            list(pool.map(lambda pair: deploy(repo, base, work, *pair), pairs))
        for env, server in servers.items():  # one change by hand per environment: drift for the run to find
            server.boto3_client("ssm").put_parameter(Name=f"/bench/{names[0]}/{env}/setting", Value="by-hand",
                                                     Type="String", Overwrite=True)
        raw = raw_refresh_only(repo, base, work, pairs)
        print(f"raw: {len(pairs)} refresh-only plans, one after another: {raw:.1f} s", flush=True)
        home = tmp / "dagster_home"
        home.mkdir()
        instance = stack.enter_context(dg.instance_for_test(temp_dir=str(home)))
        wall, statuses, stored = run_drift(instance)
    print(f"\ndrift of {len(names)} projects x {len(ENVIRONMENTS)} environments ({len(pairs)} unit x environment "
          f"pairs), {os.cpu_count()} CPUs")
    print(f"  sum of raw `terraform plan -refresh-only` : {raw:7.1f} s")
    print(f"  Dagster drift run, wall time               : {wall:7.1f} s   (parallelism {args.parallelism}: "
          "multiprocess max_concurrent)")
    print(f"  ratio wall / raw sum                       : {wall / raw:7.2f}")
    print(f"  results: {', '.join(f'{n} {s}' for s, n in sorted(statuses.items()))}; drift plans stored: {stored}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
