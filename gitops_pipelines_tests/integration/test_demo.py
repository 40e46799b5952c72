"""The demo `make run` starts, without Dagster: the emulator wired to the webhook receiver the way run.py wires them,
and `gitops-pipelines demo pr|module|approve|merge|drift` acting on it as its people."""

from __future__ import annotations

import json
from contextlib import ExitStack

import boto3
import github
import pytest

from gitops_pipelines.core.github.webhook_store import WebhookStore
from gitops_pipelines import demo
from gitops_pipelines_dev.infra import MODULES_REPOSITORY, PROJECTS_REPOSITORY
from gitops_pipelines_dev.run import (DEMO_PEOPLE, demo_state, demo_token, next_steps, start_github, start_webhook_receiver,
                                     webhook_environ)


@pytest.fixture(scope="module")
def running(tmp_path_factory, github_contract, moto_servers):
    """run.py's receiver and emulator (the mixed layout: acme/projects with pull request #2, acme/modules) and the
    state file it writes."""
    run_dir = tmp_path_factory.mktemp("run")
    with ExitStack() as stack:
        receiver = start_webhook_receiver(stack, run_dir)
        emulator, repos, _ = start_github(stack, run_dir, github_contract, receiver)
        assert list(repos) == [PROJECTS_REPOSITORY, MODULES_REPOSITORY]
        state = demo_state(emulator, moto_servers["test"], dagster_url="http://127.0.0.1:3999",
                                       tokens={login: demo_token(login) for login in DEMO_PEOPLE},
                                       modules_repository=MODULES_REPOSITORY)
        state.save(run_dir / "demo.json")
        yield emulator, receiver, run_dir / "demo.json"


def _client(emulator, repository: str, login: str = "alice"):
    return github.Github(base_url=emulator.base_url, auth=github.Auth.Token(demo_token(login))).get_repo(repository)


def test_the_demo_pull_request_pins_the_module_repositorys_release(running):
    emulator, _, _ = running
    modules = emulator.state.repo("acme", "modules")
    assert "bucket/v0.1.0" in modules.git.tags()
    projects = emulator.repo
    assert projects.full_name == PROJECTS_REPOSITORY
    logs = projects.git.show_file(projects.pull(2).head_sha, "projects/storage/logs.tf")
    assert 'source = "git::https://github.com/acme/modules.git//modules/bucket?ref=bucket/v0.1.0"' in logs
    assert "repository: acme/projects" in projects.git.show_file("main", "gitops.yaml")
    assert "repository: acme/modules" in modules.git.show_file("main", "gitops.yaml")


def stored(receiver, emulator) -> list[tuple[str, dict]]:
    emulator.wait_for_webhooks()
    return [(row.event, row.json()) for row in WebhookStore(receiver.db).pending(limit=500)]


def run_demo(*argv: str, state_file) -> tuple[int, str]:
    lines: list[str] = []
    return demo.main(["--state", str(state_file), *argv], out=lines.append), "\n".join(lines)


def test_the_emulator_signs_webhooks_the_receiver_stores_for_the_sensor(running):
    emulator, receiver, _ = running
    events = stored(receiver, emulator)
    assert ("pull_request", "opened", 2) in [(e, p.get("action"), p.get("number")) for e, p in events]
    assert all(status == 202 for d in emulator.deliveries("pull_request") for status in d.responses.values())
    # Dagster's code location finds the store through this variable, and then stands the polling sensor down
    assert webhook_environ(receiver) == {"GITOPS_WEBHOOK_DB": str(receiver.db)}
    assert webhook_environ(None) == {}


def test_pr_approve_merge_as_the_demo_people(running):
    emulator, receiver, state_file = running
    state = demo.DemoState.load(state_file)
    repo = _client(emulator, PROJECTS_REPOSITORY)

    code, said = run_demo("pr", state_file=state_file)
    assert code == 0, said
    pull = max(repo.get_pulls(state="open"), key=lambda p: p.number)
    issue = int(pull.body.split("Fixes #")[1].split()[0])
    assert repo.get_issue(issue).title == "Reports need a bucket of their own" and pull.user.login == "developer"
    assert [f.filename for f in pull.get_files()] == [f"projects/storage/reports_{issue}.tf"]
    assert state.page(pull.number) in said and f"approve {pull.number}" in said

    code, said = run_demo("approve", state_file=state_file)  # the newest open pull request
    assert code == 0, said
    (review,) = pull.get_reviews()
    assert (review.user.login, review.state, review.commit_id) == ("alice", "APPROVED", pull.head.sha)

    code, said = run_demo("merge", str(pull.number), state_file=state_file)
    assert code == 0, said
    merged = repo.get_pull(pull.number)
    assert merged.merged and merged.merged_by.login == "maintainer"
    assert repo.get_contents(f"projects/storage/reports_{issue}.tf").decoded_content.decode().startswith("module")

    events = [(e, p.get("action")) for e, p in stored(receiver, emulator)
              if p.get("pull_request", {}).get("number") == pull.number]
    assert ("pull_request", "opened") in events and ("pull_request_review", "submitted") in events
    assert ("pull_request", "closed") in events


def test_a_module_fix_is_opened_approved_and_merged_in_the_modules_repository(running):
    emulator, _, state_file = running
    repo = _client(emulator, MODULES_REPOSITORY)
    code, said = run_demo("module", state_file=state_file)
    assert code == 0, said
    (pull,) = repo.get_pulls(state="open")
    assert pull.title.startswith("fix:") and "Fixes #" in pull.body
    assert [f.filename for f in pull.get_files()] == ["modules/bucket/main.tf"]
    assert f"/ui/acme/modules/pull/{pull.number}" in said and f"approve {pull.number} --repo modules" in said
    assert not [p for p in _client(emulator, PROJECTS_REPOSITORY).get_pulls(state="open") if p.number == pull.number
                and p.title.startswith("fix:")], "nothing opened in the projects repository"

    assert run_demo("approve", str(pull.number), "--repo", "modules", state_file=state_file)[0] == 0
    assert [r.state for r in pull.get_reviews()] == ["APPROVED"]
    code, said = run_demo("merge", str(pull.number), "--repo", "modules", state_file=state_file)
    assert code == 0 and repo.get_pull(pull.number).merged, said
    assert 'module = "bucket"' in emulator.state.repo("acme", "modules").git.show_file("main", "modules/bucket/main.tf")


def test_an_unknown_repository_is_named(running, capsys):
    _, _, state_file = running
    assert run_demo("approve", "2", "--repo", "network", state_file=state_file)[0] == 1
    assert "no repository 'network' in this demo: name projects (acme/projects) or modules" in capsys.readouterr().err


def test_the_product_cli_runs_the_demo(running, tmp_path):
    import os
    import subprocess
    import sys

    _, _, state_file = running
    cli = [sys.executable, "-m", "gitops_pipelines.cli", "demo"]
    proc = subprocess.run([*cli, "approve", "2", "--repo", "network"], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, demo.STATE_ENV: str(state_file)})
    assert proc.returncode == 1 and "no repository 'network' in this demo" in proc.stderr, proc.stderr
    listed = subprocess.run([sys.executable, "-m", "gitops_pipelines.cli", "--help"], capture_output=True, text=True)
    assert "demo" in listed.stdout and "approve [N] [--repo modules]" in listed.stdout


def test_a_second_merge_is_refused_with_a_reason(running, capsys):
    _, _, state_file = running
    assert run_demo("merge", "2", state_file=state_file)[0] == 0
    code, _ = run_demo("merge", "2", state_file=state_file)
    assert code == 1 and "#2 is already merged" in capsys.readouterr().err


def test_without_a_running_demo_it_says_to_start_one(tmp_path, capsys):
    assert run_demo("pr", state_file=tmp_path / "demo.json")[0] == 1
    assert "start it with `make run`" in capsys.readouterr().err


def test_the_state_file_is_for_its_owner_only(running):
    _, _, state_file = running
    assert state_file.stat().st_mode & 0o077 == 0
    assert set(json.loads(state_file.read_text())["tokens"]) == set(DEMO_PEOPLE)


def test_drift_changes_the_storage_bucket_in_test_behind_terraform(clouds, tmp_path, running):
    _, _, state_file = running
    s3 = boto3.client("s3", **demo.DemoState.load(state_file).test_cloud)
    code, _ = run_demo("drift", state_file=state_file)
    assert code == 1  # nothing deployed yet: nothing to change

    s3.create_bucket(Bucket=demo.DRIFT_BUCKET)
    s3.put_bucket_tagging(Bucket=demo.DRIFT_BUCKET, Tagging={"TagSet": [
        {"Key": "environment", "Value": "test"}, {"Key": "team", "Value": "platform"}]})
    code, said = run_demo("drift", state_file=state_file)
    assert code == 0
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=demo.DRIFT_BUCKET)["TagSet"]}
    assert tags == {"environment": "test", "team": "data", "changed-by": "console"}
    assert "team: platform -> data" in said and "/assets/storage/drift" in said
    prod = clouds["prod"].boto3_client("s3")
    assert [b["Name"] for b in prod.list_buckets()["Buckets"]] == ["tfstate-prod"]  # only test was touched


def test_when_the_demo_has_stopped_it_says_so(tmp_path, capsys):
    from gitops_pipelines_dev.ports import free_port

    state = demo.DemoState(api_url=f"http://127.0.0.1:{free_port()}", repository="acme/infra", git_dir=str(tmp_path),
                           tokens={"alice": "alice-token"}, dagster_url=None, test_cloud={})
    state.save(tmp_path / "demo.json")
    assert run_demo("approve", state_file=tmp_path / "demo.json")[0] == 1
    assert "is `make run` still running?" in capsys.readouterr().err


def test_the_banner_names_every_service_and_the_demo_commands(running, moto_servers, tmp_path):
    emulator, receiver, _ = running
    repos = {PROJECTS_REPOSITORY: tmp_path / "projects", MODULES_REPOSITORY: tmp_path / "modules"}
    text = next_steps("http://127.0.0.1:3123", emulator.base_url, repos, moto_servers, receiver)
    for url in ["http://127.0.0.1:3123", f"{emulator.base_url}/ui/acme/projects/pull/2", receiver.url,
                f"{emulator.base_url}/ui/acme/modules", *(server.url for server in moto_servers.values())]:
        assert url in text
    assert all(f"gitops-pipelines demo {command}" in text
               for command in ("pr", "approve 2", "merge 2", "drift", "module"))
    assert "--repo modules" in text and receiver.secret not in text
    assert "poll the emulator" in next_steps("http://127.0.0.1:3123", emulator.base_url, repos, moto_servers, None)
