"""Stages run on the commit they are bound to: worktrees of the real repository, fetched when missing."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gitops_pipelines.core.checkout import CheckoutFailed, at_commit
from gitops_pipelines.core.flow import open_workspace
from gitops_pipelines.core.git import head_sha

GIT_ID = ["-c", "user.name=t", "-c", "user.email=t@example.com"]


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *GIT_ID, *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def commit(repo: Path, files: dict[str, str], message: str) -> str:
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


GITOPS = """
plan_store: {url: .gitops/plans}
environments: [{name: test}]
units: [{name: app, kind: project, path: app}]
"""


@pytest.fixture
def origin(tmp_path):
    repo = tmp_path / "origin"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    first = commit(repo, {"gitops.yaml": GITOPS, "app/main.tf": "# version 1\n"}, "first")
    second = commit(repo, {"app/main.tf": "# version 2\n"}, "second")
    return repo, first, second


def test_a_run_bound_to_an_older_commit_sees_that_commit(origin):
    repo, first, second = origin
    config = at_commit(repo / "gitops.yaml", first)
    assert config != repo / "gitops.yaml"
    assert (config.parent / "app" / "main.tf").read_text() == "# version 1\n"
    assert head_sha(config.parent) == first
    assert (repo / "app" / "main.tf").read_text() == "# version 2\n", "the working copy itself is left alone"
    assert at_commit(repo / "gitops.yaml", first) == config, "the checkout is reused"
    assert at_commit(repo / "gitops.yaml", second) == (repo / "gitops.yaml").resolve(), "HEAD needs no checkout"


def test_a_commit_only_on_origin_is_fetched(origin, tmp_path):
    repo, _, _ = origin
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    git(repo, "checkout", "-q", "-b", "feature")
    pushed = commit(repo, {"app/main.tf": "# from a pull request\n"}, "pr")
    config = at_commit(clone / "gitops.yaml", pushed)
    assert (config.parent / "app" / "main.tf").read_text() == "# from a pull request\n"


def test_an_unknown_commit_is_a_clear_error(origin):
    repo, _, _ = origin
    with pytest.raises(CheckoutFailed, match="deadbeef.*could not be fetched"):
        at_commit(repo / "gitops.yaml", "deadbeef" * 5)


def test_workspace_at_a_commit_keeps_one_plan_store(origin):
    repo, first, _ = origin
    ws = open_workspace(repo / "gitops.yaml", plan_key="k" * 32, commit=first)
    assert ws.config.root != repo.resolve()
    assert head_sha(ws.config.root) == first
    assert str(repo.resolve() / ".gitops" / "plans") in str(ws.store.location)
