"""`make run`: the sample infrastructure on moto, and Dagster (webserver + daemon) on 127.0.0.1.

`python -m gitops_pipelines_dev.run --github-contract DIR` (or $GITOPS_GITHUB_CONTRACT; the Makefile passes the
checkout's `../shared/github-contract`). Everything lives under .run/ and starts fresh each time (moto keeps no state
across restarts, so neither do the plans). Ctrl-C (or SIGTERM) stops Dagster first, then the clouds.
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from gitops_pipelines_dev.checkout import CHECKOUT_ROOT
from gitops_pipelines_dev.contract import GitHubContract, add_contract_argument, contract_from_args
from gitops_pipelines_dev.infra import SAMPLE, cloud_environ, make_infra_repo
from gitops_pipelines_dev.instance import install_instance_config
from gitops_pipelines_dev.moto import MotoServer
from gitops_pipelines_dev.ports import wait_for_http

CLOUDS = ("test", "prod", "sandbox")
STATE_BUCKETS = {"test": "tfstate-test", "prod": "tfstate-prod"}


DEMO_PEOPLE = ("alice", "maintainer")
NO_REVIEWS, ONE_REVIEW = "approvals:\n  required: 0\n", "approvals:\n  required: 1\n"
DEMO_GITHUB = """
github:
  repository: acme/infra
  api_url: "${GITHUB_API_URL}"
"""
DEMO_CHANGE = """module "logs" {
  source = "../../modules/bucket"

  name = "${local.prefix}-logs"
  tags = { environment = var.environment }
}
"""


class Stopped(Exception):
    """SIGINT or SIGTERM reached the launcher."""


def start_clouds(stack: ExitStack, log_dir: Path) -> dict[str, MotoServer]:
    """One moto server per environment, with the state buckets gitops.yaml names."""
    log_dir.mkdir(parents=True, exist_ok=True)
    servers = {}
    for name in CLOUDS:
        servers[name] = MotoServer(name, log_dir=log_dir).start()
        stack.callback(servers[name].stop)
    for name, bucket in STATE_BUCKETS.items():
        servers[name].create_bucket(bucket)
    return servers


def gitops_environ(run_dir: Path, servers: dict[str, MotoServer], infra: Path | None = None) -> dict[str, str]:
    """What the code location and its runs need: the sample's cloud settings, gitops.yaml, a plan key."""
    infra = infra or make_infra_repo(run_dir / "infra")
    key_file = run_dir / "plan.key"
    key_file.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
    key_file.chmod(0o600)
    return {**cloud_environ(servers), "GITOPS_CONFIG": str(infra / "gitops.yaml"),
            "GITOPS_PLAN_KEY": key_file.read_text()}


def start_github(stack: ExitStack, run_dir: Path, contract: GitHubContract) -> tuple[Path, dict[str, str]]:
    """The GitHub emulator with the sample as repository acme/infra, a working copy cloned from it (so checkouts
    of pull request heads fetch from it, as from GitHub), and one demo pull request the sensor will pick up."""
    from gitops_pipelines_dev.github_emulator import Emulator

    emulator = Emulator(contract, root=run_dir / "github")
    url = emulator.start()
    stack.callback(emulator.stop)
    files = {str(p.relative_to(SAMPLE)): p.read_text() for p in sorted(SAMPLE.rglob("*")) if p.is_file()}
    files["gitops.yaml"] = files["gitops.yaml"].replace(NO_REVIEWS, ONE_REVIEW) + DEMO_GITHUB
    emulator.create_repo("acme", "infra", files)
    infra = run_dir / "infra"
    subprocess.run(["git", "clone", "-q", str(emulator.git_dir), str(infra)], check=True)
    for login in DEMO_PEOPLE:  # people who review and merge in the demo, each with a token of their own
        emulator.register_user(login, f"{login}-token")
    issue = emulator.create_issue("Logs need their own bucket")
    emulator.commit("logs-bucket", {"projects/storage/logs.tf": DEMO_CHANGE}, "Add a logs bucket")
    emulator.open_pull("logs-bucket", "Add a logs bucket", f"Fixes #{issue}")
    return infra, {"GITHUB_API_URL": url, "GITHUB_TOKEN": "demo-token"}


def start_extra_services(stack: ExitStack, run_dir: Path, env: dict[str, str]) -> None:
    """Hook for more local services (a webhook receiver, say): register their stop with stack.callback and add
    their settings to env before Dagster starts. The sensors poll the emulator by default."""


def start_dagster(stack: ExitStack, env: dict[str, str], port: int) -> subprocess.Popen:
    """`dagster dev` in its own process group, so a signal reaches it (and its webserver and daemon) only when we
    forward it; it starts with default signal handlers because ours are Python handlers, reset on exec."""
    dagster = Path(sys.executable).parent / "dagster"
    proc = subprocess.Popen([str(dagster), "dev", "-w", str(CHECKOUT_ROOT / "workspace.yaml"),
                             "-h", "127.0.0.1", "-p", str(port)],
                            cwd=env.get("DAGSTER_HOME", CHECKOUT_ROOT), env=env, stdin=subprocess.DEVNULL,
                            process_group=0)
    stack.callback(stop_process_group, proc)
    return proc


def stop_process_group(proc: subprocess.Popen, grace: float = 30.0) -> None:
    """SIGINT (what dagster dev handles), then SIGKILL after grace seconds."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


def _raise_stopped(signum, frame) -> None:
    raise Stopped(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gitops_pipelines_dev.run", description=__doc__.splitlines()[0])
    add_contract_argument(parser)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")),
                        help="Dagster's port on 127.0.0.1 (default: $PORT, else 3000)")
    args = parser.parse_args(argv)
    contract = contract_from_args(parser, args)
    return run(contract, args.port)


def run(contract: GitHubContract, port: int = 3000, run_dir: Path | None = None,
        on_ready: Callable[[str], None] | None = None) -> int:
    """Start everything, wait until Dagster answers, then block until Dagster exits or a signal arrives."""
    run_dir = (run_dir or CHECKOUT_ROOT / ".run").resolve()
    for name in ("infra", "dagster_home", "logs", "github"):
        shutil.rmtree(run_dir / name, ignore_errors=True)
    signal.signal(signal.SIGINT, _raise_stopped)
    signal.signal(signal.SIGTERM, _raise_stopped)
    with ExitStack() as stack:
        try:
            print("Starting moto (test, prod, sandbox) ...", flush=True)
            servers = start_clouds(stack, run_dir / "logs")
            print("Starting the GitHub emulator (acme/infra, one open pull request) ...", flush=True)
            infra, github_env = start_github(stack, run_dir, contract)
            env = {**os.environ, **gitops_environ(run_dir, servers, infra), **github_env,
                   "DAGSTER_HOME": str(run_dir / "dagster_home"), "GITOPS_DAGSTER_URL": f"http://127.0.0.1:{port}"}
            env.update(install_instance_config(Path(env["DAGSTER_HOME"]), env))
            start_extra_services(stack, run_dir, env)
            proc = start_dagster(stack, env, port)
            url = f"http://127.0.0.1:{port}"
            wait_for_http(url + "/server_info", timeout=180, proc=proc)
            api = github_env["GITHUB_API_URL"]
            print(f"\nDagster is up: {url}   (infra repo: {infra}; GitHub emulator: {api}; "
                  "Ctrl-C stops everything)\n"
                  "Pull request #2 is checked within a minute (runs in the Dagster UI, check runs on GitHub). Then, as\n"
                  "alice and the maintainer (tokens alice-token, maintainer-token), approve its head and merge it:\n"
                  f"  curl -s -H 'Authorization: token alice-token' -X POST {api}/repos/acme/infra/pulls/2/reviews"
                  " -d '{\"event\": \"APPROVE\"}'\n"
                  f"  curl -s -H 'Authorization: token maintainer-token' -X PUT {api}/repos/acme/infra/pulls/2/merge\n"
                  "The merge job then deploys the stored test plan and makes the prod plan; release and prod_deploy are\n"
                  "launched from the asset graph with approved_by: alice and the prod plan's plan_id.\n", flush=True)
            if on_ready:
                on_ready(url)
            return proc.wait()
        except Stopped as why:
            print(f"\n{why}: stopping Dagster and the clouds ...", flush=True)
            return 0
        finally:  # a second Ctrl-C must not cut the clean-up short
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)


if __name__ == "__main__":
    sys.exit(main())
