"""Pull requests from forks on the GitHub emulator, through PyGithub: a second repository with its own git is the
head; `head.repo` names it in every answer and webhook; its commits are fetchable from the base repository at
`refs/pull/<n>/head`, as on GitHub. Every exchange is checked against the OpenAPI subset, every webhook against the
octokit schemas."""

from __future__ import annotations

import subprocess
from pathlib import Path

import github
import pytest

from gitops_pipelines.core.github.events import parse_event
from gitops_pipelines.core.github.models import PullRequest
from gitops_pipelines_dev.github_emulator import Emulator
from gitops_pipelines_dev.github_emulator.openapi_check import check

FILES = {"README.md": "# infra\n", "projects/app/main.tf": 'resource "null_resource" "a" {}\n'}


@pytest.fixture
def emu(github_contract):
    with Emulator(github_contract) as emulator:
        emulator.create_repo("acme", "infra", FILES)
        yield emulator
        report = check(emulator.exchanges, emulator.contract)
        assert not report.failures, report.summary()
        for delivery in emulator.deliveries():
            errors = emulator.contract.webhook_errors(delivery.payload, delivery.event, delivery.action)
            assert not errors, (delivery.event, delivery.action, errors)


def client(emu: Emulator, login: str) -> github.Github:
    return github.Github(base_url=emu.base_url, auth=github.Auth.Token(emu.register_user(login)), retry=None,
                         seconds_between_requests=0, seconds_between_writes=0)


def git(path: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(path), *args], check=True, capture_output=True, text=True).stdout.strip()


def test_a_fork_is_its_own_repository_and_the_first_one_stays_the_default(emu):
    fork = emu.create_repo("eve", "infra", fork_of="acme/infra")
    assert emu.repo.full_name == "acme/infra" and fork.parent is emu.repo
    assert fork.git.path != emu.git_dir and fork.git.resolve("main") == emu.repo.git.resolve("main")
    assert not (fork.git.path / "objects" / "info" / "alternates").exists()  # no objects shared
    eve = client(emu, "eve")
    assert eve.get_repo("eve/infra").fork and not eve.get_repo("acme/infra").fork
    with pytest.raises(ValueError, match="no such repository"):
        emu.create_repo("mallory", "infra", fork_of="acme/nothing")


def test_a_pull_request_from_a_fork_through_the_api(emu, tmp_path):
    fork = emu.create_repo("eve", "infra", fork_of="acme/infra")
    head = fork.commit("feature", {"projects/app/main.tf": 'resource "null_resource" "b" {}\n'}, "From the fork",
                       author="eve")
    assert emu.repo.git.resolve(head) is None  # only in the fork so far

    eve = client(emu, "eve").get_repo("acme/infra")
    pr = eve.create_pull(base="main", head="eve:feature", title="A change from a fork", body="")
    assert (pr.head.repo.full_name, pr.head.label, pr.head.user.login, pr.head.sha) == (
        "eve/infra", "eve:feature", "eve", head)
    assert pr.base.repo.full_name == "acme/infra" and pr.user.login == "eve"
    assert (pr.mergeable, pr.commits, pr.changed_files) == (True, 1, 1)
    assert [f.filename for f in pr.get_files()] == ["projects/app/main.tf"]
    assert [c.sha for c in pr.get_commits()] == [head]

    # the product's model of it: a fork, and the same through the webhook
    model = PullRequest.from_json(pr.raw_data)
    assert (model.fork, model.head_repository, model.base_ref) == (True, "eve/infra", "main")
    listed = eve.get_pulls(state="open", head="eve:feature")
    assert [PullRequest.from_json(p.raw_data).fork for p in listed] == [True]
    assert list(eve.get_pulls(state="open", head="acme:feature")) == []
    opened = emu.deliveries("pull_request", "opened")[-1].payload
    assert opened["pull_request"]["head"]["repo"]["full_name"] == "eve/infra"
    assert opened["pull_request"]["head"]["repo"]["fork"] is True
    event = parse_event("pull_request", opened)
    assert (event.fork, event.head_repository, event.repository) == (True, "eve/infra", "acme/infra")

    # the head is fetchable from the base repository, where the product's checkout looks for it
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(emu.git_dir), str(clone)], check=True, capture_output=True)
    git(clone, "fetch", "-q", "origin", "+refs/pull/*/head:refs/remotes/origin/pr/*")
    assert git(clone, "rev-parse", f"refs/remotes/origin/pr/{pr.number}") == head
    assert eve.get_git_ref(f"pull/{pr.number}/head").object.sha == head

    # a push to the fork's branch moves the pull request (synchronize) and its pull ref
    second = fork.commit("feature", {"projects/app/extra.tf": "# more\n"}, "More", author="eve")
    assert eve.get_pull(pr.number).head.sha == second
    sync = emu.deliveries("pull_request", "synchronize")[-1].payload
    assert (sync["before"], sync["after"]) == (head, second)
    assert sync["pull_request"]["head"]["repo"]["full_name"] == "eve/infra"
    assert emu.repo.git.resolve(f"refs/pull/{pr.number}/head") == second

    # a maintainer merges it: a real merge commit on acme/infra's main naming the fork
    merged = client(emu, "maintainer").get_repo("acme/infra").get_pull(pr.number).merge()
    assert merged.merged and emu.repo.git.resolve("main") == merged.sha
    assert emu.repo.git.commit_info(merged.sha).message.startswith(f"Merge pull request #{pr.number} from eve/feature")
    closed = emu.deliveries("pull_request", "closed")[-1].payload
    assert closed["pull_request"]["merged"] and closed["pull_request"]["head"]["repo"]["full_name"] == "eve/infra"


def test_helpers_open_and_push_a_fork_pull_request_and_refuse_unknown_heads(emu):
    fork = emu.create_repo("eve", "infra", fork_of="acme/infra")
    fork.commit("tweak", {"README.md": "# infra, from eve\n"}, author="eve")
    number = emu.open_pull("tweak", "Tweak", head_repo="eve/infra", user="eve")
    pr = emu.repo.pull(number)
    assert pr.head_repo == "eve/infra" and emu.repo.git.resolve(f"refs/pull/{number}/head") == pr.head_sha
    moved = emu.push(number, {"README.md": "# infra, again\n"})
    assert fork.git.resolve("tweak") == moved == emu.repo.pull(number).head_sha
    assert emu.repo.git.resolve("tweak") is None  # acme/infra never got the branch

    # a same-repository pull request keeps a pull ref too, and stays no fork
    emu.commit("own", {"README.md": "# own\n"})
    own = emu.open_pull("own", "Own branch")
    own_model = PullRequest.from_json(client(emu, "developer").get_repo("acme/infra").get_pull(own).raw_data)
    assert (own_model.fork, own_model.head_repository) == (False, "acme/infra")
    assert emu.repo.git.resolve(f"refs/pull/{own}/head") == emu.repo.pull(own).head_sha

    with pytest.raises(ValueError, match="no repository mallory/infra"):
        emu.open_pull("tweak", "Nope", head_repo="mallory/infra")
    developer = client(emu, "developer").get_repo("acme/infra")
    with pytest.raises(github.GithubException) as caught:
        developer.create_pull(base="main", head="mallory:tweak", title="Nope", body="")
    assert caught.value.status == 422
