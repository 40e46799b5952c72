"""`make run`: the sample infrastructure on moto, and Dagster (webserver + daemon) on 127.0.0.1.

`python -m gitops_pipelines_dev.run --github-contract DIR` (or $GITOPS_GITHUB_CONTRACT; the Makefile passes the
checkout's `../shared/github-contract`). Everything lives under .run/ and starts fresh each time (moto keeps no state
across restarts, so neither do the plans). The emulator delivers signed webhooks to the webhook receiver and the
webhook sensor reads what it stored (`--no-webhooks`: the polling sensor instead). Ports: DAGSTER_PORT (or PORT,
--port) and WEBHOOK_PORT. Ctrl-C (or SIGTERM) stops Dagster first, then the receiver, the emulator and the clouds.
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
from dataclasses import dataclass
from pathlib import Path

from gitops_pipelines.demo import DemoState
from gitops_pipelines_dev.checkout import CHECKOUT_ROOT
from gitops_pipelines_dev.contract import GitHubContract, add_contract_argument, contract_from_args
from gitops_pipelines_dev.infra import (MODULES_REPOSITORY, SAMPLE_REPOSITORY_NAME, cloud_environ, github_url,
                                        make_infra_repo, mixed_layout, release_tag, serve_repositories)
from gitops_pipelines_dev.instance import install_instance_config
from gitops_pipelines_dev.moto import MotoServer
from gitops_pipelines_dev.ports import free_port, wait_for_http
from gitops_pipelines_dev.workspaces import write_workspace

CLOUDS = ("test", "prod", "sandbox")
STATE_BUCKETS = {"test": "tfstate-test", "prod": "tfstate-prod"}


DEMO_PEOPLE = ("alice", "maintainer", "developer")  # reviewer, merger, author
DEMO_CHANGE = """module "logs" {{
  source = "git::{modules}//modules/bucket?ref=bucket/v0.1.0"

  name = "${{local.prefix}}-logs"
  tags = {{ environment = var.environment }}
}}
"""


def demo_state(emulator, test_cloud, *, tokens: dict[str, str], dagster_url: str | None = None,
               modules_repository: str | None = None) -> DemoState:
    """What `gitops-pipelines demo` reads: the emulator (its first repository: the projects'), the repository of
    the modules, each person's token, Dagster, and the test cloud (a gitops_pipelines_dev.moto server)."""
    env = test_cloud.aws_env()
    modules = emulator.state.repo(*(modules_repository or emulator.repo.full_name).split("/"))
    return DemoState(api_url=emulator.base_url, repository=emulator.repo.full_name, git_dir=str(emulator.git_dir),
                     tokens=dict(tokens), dagster_url=dagster_url, modules_repository=modules.full_name,
                     modules_git_dir=str(modules.git.path),
                     test_cloud={"endpoint_url": env["AWS_ENDPOINT_URL"], "region_name": env["AWS_REGION"],
                                 "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
                                 "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"]})


def demo_token(login: str) -> str:
    """The emulator token of one of the demo's people (as printed in the next steps: nothing real)."""
    return f"{login}-token"


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


def gitops_environ(run_dir: Path, servers: dict[str, MotoServer], repos: dict[str, Path] | None = None,
                   workspace: Path | None = None) -> dict[str, str]:
    """What the code locations and their runs need: the sample's cloud settings, a plan key, and which gitops.yaml
    each location reads: with `workspace`, one location per repository (written there), else $GITOPS_CONFIG for
    the project's workspace.yaml and its one repository (default: a fresh copy of the sample)."""
    repos = repos or {SAMPLE_REPOSITORY_NAME: make_infra_repo(run_dir / "infra")}
    key_file = run_dir / "plan.key"
    key_file.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
    key_file.chmod(0o600)
    configs = {name: repo / "gitops.yaml" for name, repo in repos.items()}
    locations = (write_workspace(workspace, configs) if workspace else
                 {"GITOPS_CONFIG": str(next(iter(configs.values())))})
    return {**cloud_environ(servers), **locations, "GITOPS_PLAN_KEY": key_file.read_text()}


def start_github(stack: ExitStack, run_dir: Path, contract: GitHubContract, hook: "WebhookReceiver | None" = None,
                 layout: dict[str, dict[str, str]] | None = None):
    """The GitHub emulator with the sample's repositories (default: the mixed layout, acme/modules and
    acme/projects), a working copy of each cloned from it (so checkouts of pull request heads fetch from it, as
    from GitHub), the bucket module's first release, and one demo pull request the sensor will pick up, in the
    repository of the storage project. hook: the receiver the emulator delivers signed webhooks to, registered
    before the pull request opens so its `opened` reaches the webhook sensor.
    Returns the emulator, {owner/name: working copy} and the settings for Dagster."""
    from gitops_pipelines_dev.github_emulator import Emulator

    layout = layout or mixed_layout()
    projects = next(name for name, files in layout.items() if "projects/storage/main.tf" in files)
    modules = next(name for name, files in layout.items() if "modules/bucket/main.tf" in files)
    emulator = Emulator(contract, root=run_dir / "github")
    url = emulator.start()
    stack.callback(emulator.stop)
    repos, copies = {}, {}
    for name in sorted(layout, key=lambda n: n != projects):  # the first is the emulator's (the demo's) own
        owner, short = name.split("/")
        repos[name] = emulator.create_repo(owner, short, layout[name])
        copies[name] = run_dir / short
        subprocess.run(["git", "clone", "-q", str(repos[name].git.path), str(copies[name])], check=True)
    release_tag(repos[modules].git.path)  # the bucket module's first release, which the projects pin
    git_config = serve_repositories({github_url(n): r.git.path for n, r in repos.items()}, run_dir / "gitconfig")
    for login in DEMO_PEOPLE:  # people who review and merge in the demo, each with a token of their own
        emulator.register_user(login, demo_token(login))
    if hook is not None:
        emulator.add_webhook(hook.url, hook.secret)
    issue = emulator.create_issue("Logs need their own bucket")
    emulator.commit("logs-bucket", {"projects/storage/logs.tf": DEMO_CHANGE.format(modules=github_url(modules))},
                    "Add a logs bucket")
    emulator.open_pull("logs-bucket", "Add a logs bucket", f"Fixes #{issue}")
    return emulator, copies, {"GITHUB_API_URL": url, "GITHUB_TOKEN": "demo-token",
                              "GITOPS_GIT_CONFIG": str(git_config)}


@dataclass(frozen=True)
class WebhookReceiver:
    """The running receiver: where the emulator posts, the secret it signs with, the store the sensor reads."""

    url: str
    secret: str
    db: Path


def start_webhook_receiver(stack: ExitStack, run_dir: Path, port: int | None = None) -> WebhookReceiver:
    """`python -m gitops_pipelines.webhooks` on 127.0.0.1 with a fresh secret (given through the environment only,
    as the product expects), its own process group and its log in logs/webhooks.log."""
    from gitops_pipelines.webhooks import WEBHOOK_PATH
    from gitops_pipelines.webhooks.__main__ import SECRET_ENV

    port = port or free_port()
    secret, db = secrets.token_hex(32), run_dir / "webhooks" / "deliveries.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    (run_dir / "logs").mkdir(parents=True, exist_ok=True)
    with open(run_dir / "logs" / "webhooks.log", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "gitops_pipelines.webhooks", "--host", "127.0.0.1",
                                 "--port", str(port), "--db", str(db), "--log-level", "warning"],
                                env={**os.environ, SECRET_ENV: secret}, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, process_group=0)
    stack.callback(stop_process_group, proc, 10.0)
    base = f"http://127.0.0.1:{port}"
    wait_for_http(base + "/healthz", timeout=30, proc=proc)
    return WebhookReceiver(base + WEBHOOK_PATH, secret, db)


def webhook_environ(receiver: WebhookReceiver | None) -> dict[str, str]:
    """What Dagster needs for the webhook sensor: the store's path. Without it the polling sensor runs."""
    from gitops_pipelines.resources.github import WEBHOOK_DB_ENV

    return {WEBHOOK_DB_ENV: str(receiver.db)} if receiver else {}


def start_dagster(stack: ExitStack, env: dict[str, str], port: int, workspace: Path) -> subprocess.Popen:
    """`dagster dev` in its own process group, so a signal reaches it (and its webserver and daemon) only when we
    forward it; it starts with default signal handlers because ours are Python handlers, reset on exec."""
    dagster = Path(sys.executable).parent / "dagster"
    proc = subprocess.Popen([str(dagster), "dev", "-w", str(workspace),
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
    parser.add_argument("--port", type=int, default=_env_port("DAGSTER_PORT", "PORT") or 3000,
                        help="Dagster's port on 127.0.0.1 (default: $DAGSTER_PORT, else $PORT, else 3000)")
    parser.add_argument("--webhook-port", type=int, default=_env_port("WEBHOOK_PORT"),
                        help="the webhook receiver's port (default: $WEBHOOK_PORT, else a free one)")
    parser.add_argument("--no-webhooks", action="store_true",
                        help="no webhook receiver: the polling sensor watches the emulator instead")
    args = parser.parse_args(argv)
    contract = contract_from_args(parser, args)
    return run(contract, args.port, webhooks=not args.no_webhooks, webhook_port=args.webhook_port)


def _env_port(*names: str) -> int | None:
    for name in names:
        if os.environ.get(name, "").strip():
            return int(os.environ[name])
    return None


def run(contract: GitHubContract, port: int = 3000, run_dir: Path | None = None,
        on_ready: Callable[[str], None] | None = None, *, webhooks: bool = True,
        webhook_port: int | None = None) -> int:
    """Start everything, wait until Dagster answers, then block until Dagster exits or a signal arrives."""
    run_dir = (run_dir or CHECKOUT_ROOT / ".run").resolve()
    for name in ("infra", "modules", "projects", "dagster_home", "logs", "github", "webhooks"):
        shutil.rmtree(run_dir / name, ignore_errors=True)
    signal.signal(signal.SIGINT, _raise_stopped)
    signal.signal(signal.SIGTERM, _raise_stopped)
    with ExitStack() as stack:
        try:
            print("Starting moto (test, prod, sandbox) ...", flush=True)
            servers = start_clouds(stack, run_dir / "logs")
            receiver = None
            if webhooks:
                print("Starting the webhook receiver ...", flush=True)
                try:
                    receiver = start_webhook_receiver(stack, run_dir, webhook_port)
                except RuntimeError as exc:  # a taken WEBHOOK_PORT, say: the demo still works, by polling
                    print(f"The webhook receiver did not start ({exc}; see {run_dir / 'logs' / 'webhooks.log'}):"
                          " the sensors poll the emulator instead.", flush=True)
            print("Starting the GitHub emulator (acme/modules and acme/projects, one open pull request) ...",
                  flush=True)
            emulator, repos, github_env = start_github(stack, run_dir, contract, receiver)
            url = f"http://127.0.0.1:{port}"
            workspace = run_dir / "workspace.yaml"
            env = {**os.environ, **gitops_environ(run_dir, servers, repos, workspace), **github_env,
                   **webhook_environ(receiver), "DAGSTER_HOME": str(run_dir / "dagster_home"),
                   "GITOPS_DAGSTER_URL": url}
            env.update(install_instance_config(Path(env["DAGSTER_HOME"]), env))
            demo_state(emulator, servers["test"], dagster_url=url, modules_repository=MODULES_REPOSITORY,
                              tokens={login: demo_token(login) for login in DEMO_PEOPLE}).save(run_dir / "demo.json")
            proc = start_dagster(stack, env, port, workspace)
            print(f"Starting Dagster on {url} (a minute or so) ...", flush=True)
            wait_for_http(url + "/server_info", timeout=180, proc=proc)
            print(next_steps(url, github_env["GITHUB_API_URL"], repos, servers, receiver), flush=True)
            if on_ready:
                on_ready(url)
            return proc.wait()
        except Stopped as why:
            print(f"\n{why}: stopping Dagster, the receiver, the emulator and the clouds ...", flush=True)
            return 0
        finally:  # a second Ctrl-C must not cut the clean-up short
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)


def next_steps(url: str, api: str, repos: dict[str, Path], servers: dict[str, MotoServer],
               receiver: WebhookReceiver | None) -> str:
    """Every service's address, then what to do."""
    demo = f"{Path(sys.executable).parent}/gitops-pipelines demo"
    watching = (f"webhooks: {receiver.url} (the github_webhooks sensors; deliveries in {receiver.db})"
                if receiver else "webhooks: off (the github_pull_requests sensors poll the emulator)")
    clouds = "\n".join(f"  moto {name:<8} {server.url}" for name, server in servers.items())
    projects = next(iter(repos))  # start_github puts the projects' repository first
    listed = "\n".join(f"  repository      {api}/ui/{name}   (issues, pulls, releases; working copy {path})"
                       for name, path in repos.items())
    modules = "" if len(repos) == 1 else " --repo modules"
    return f"""
Everything is up on 127.0.0.1 (Ctrl-C stops it all):
  Dagster         {url}   (one code location per repository)
  GitHub API      {api}
{listed}
  pull request    {api}/ui/{projects}/pull/2
  {watching}
{clouds}

Next:
  1. Pull request {projects}#2 (a logs bucket, fixing issue #1) starts its PR checks within a minute: watch the
     run in {url}/runs and the check runs and plan comment on its page.
  2. Approve its head as alice and merge it as the maintainer, with the buttons on its page or:
       {demo} approve 2
       {demo} merge 2
     The merge job deploys the stored test plan and makes the prod plan; release and prod_deploy are launched
     from the asset graph with approved_by: alice and the prod plan's plan_id.
  3. A pull request of your own (a new issue, a branch changing projects/storage, "Fixes #N"):
       {demo} pr
  4. A fix to the bucket module: merged, it is released by itself (the next patch tag and a GitHub Release), and
     the release opens a pull request in {projects} for each project still on the old tag:
       {demo} module      then: approve N{modules} / merge N{modules}
  5. Once test is deployed, change the storage bucket out of band and let drift find it:
       {demo} drift
"""


if __name__ == "__main__":
    sys.exit(main())
