"""Stages run on the commit they are bound to: worktrees of the real repository, fetched when missing."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from gitops_pipelines.core.checkout import CheckoutFailed, at_commit, checkout_commit
from gitops_pipelines.core.workspace import open_workspace
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


# -- many at once ------------------------------------------------------------------------------------------------
# Each racer is its own Python process, as two runs at once are (one run's steps are threads: tested below);
# all wait for one file so that they call checkout_commit in the same instant.
RACER = """
import json, os, sys, time
from pathlib import Path
from gitops_pipelines.core.checkout import checkout_commit
repo, sha, go = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
while not go.exists():
    time.sleep(0.001)
path = checkout_commit(repo, sha)
files = sum(len(names) for _, _, names in os.walk(path / "data"))
print(json.dumps({"path": str(path), "main": (path / "app" / "main.tf").read_text(), "files": files}))
"""
DATA_FILES = 1500  # enough that `git worktree add` takes a while, so the racers overlap


@pytest.fixture
def big_origin(tmp_path):
    """A repository whose commits differ in app/main.tf and each hold DATA_FILES more files."""
    repo = tmp_path / "big"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    data = {f"data/{i // 100}/f{i}.txt": f"{i}\n" for i in range(DATA_FILES)}
    shas = [commit(repo, {"gitops.yaml": GITOPS, "app/main.tf": "# version 0\n", **data}, "v0")]
    for n in range(1, 6):
        shas.append(commit(repo, {"app/main.tf": f"# version {n}\n"}, f"v{n}"))
    return repo, shas[:-1]  # the last one is HEAD, which needs no worktree


def _race(repo: Path, shas: list[str], tmp_path: Path) -> list[dict]:
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", RACER, str(repo), sha, str(go)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for sha in shas]
    time.sleep(1.0)  # every interpreter started and waiting
    go.touch()
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        results.append(json.loads(out))
    return results


def _assert_checked_out(repo: Path, sha: str, version: int, result: dict) -> None:
    assert result["path"] == str(repo / ".gitops" / "checkouts" / sha)
    assert result["main"] == f"# version {version}\n"
    assert result["files"] == DATA_FILES


def _worktrees(repo: Path) -> dict[str, str]:
    """path -> the rest of its `git worktree list --porcelain` entry, for the linked worktrees."""
    entries = git(repo, "worktree", "list", "--porcelain").split("\n\n")
    linked = {}
    for entry in entries[1:]:
        first, _, rest = entry.partition("\n")
        linked[first.removeprefix("worktree ")] = rest
    return linked


def test_parallel_processes_share_one_checkout_per_commit(big_origin, tmp_path):
    repo, shas = big_origin
    same = [shas[0]] * 8
    others = shas[1:]  # four more commits, each wanted by one process at the same moment
    results = _race(repo, same + others, tmp_path)
    for result in results[:8]:
        _assert_checked_out(repo, shas[0], 0, result)
    for n, (sha, result) in enumerate(zip(others, results[8:]), start=1):
        _assert_checked_out(repo, sha, n, result)
    worktrees = _worktrees(repo)
    assert sorted(worktrees) == sorted(str(repo / ".gitops" / "checkouts" / sha) for sha in shas)
    assert not [rest for rest in worktrees.values() if "locked" in rest or "prunable" in rest]
    for sha in shas:
        assert git(repo / ".gitops" / "checkouts" / sha, "status", "--porcelain") == ""


def test_parallel_threads_share_one_checkout_per_commit(big_origin):
    repo, shas = big_origin
    wanted = [shas[0]] * 8 + shas[1:3]
    with ThreadPoolExecutor(len(wanted)) as pool:
        paths = list(pool.map(lambda sha: checkout_commit(repo, sha), wanted))
    assert paths == [repo / ".gitops" / "checkouts" / sha for sha in wanted]
    assert (paths[0] / "app" / "main.tf").read_text() == "# version 0\n"
    assert (paths[-1] / "app" / "main.tf").read_text() == "# version 2\n"


def test_a_half_created_checkout_is_made_again(big_origin):
    repo, shas = big_origin
    dest = repo / ".gitops" / "checkouts" / shas[0]
    # what `git worktree add` leaves when killed before its first file: HEAD at the commit, no files, locked
    git(repo, "worktree", "add", "-q", "--no-checkout", "--detach", str(dest), shas[0])
    git(repo, "worktree", "lock", "--reason", "initializing", str(dest))
    assert head_sha(dest) == shas[0] and not (dest / "app").exists()

    assert checkout_commit(repo, shas[0]) == dest
    assert (dest / "app" / "main.tf").read_text() == "# version 0\n"
    assert git(dest, "status", "--porcelain") == ""
    assert "locked" not in _worktrees(repo)[str(dest)]


def test_a_checkout_killed_midway_is_made_again(big_origin):
    repo, shas = big_origin
    dest = repo / ".gitops" / "checkouts" / shas[1]
    racer = subprocess.Popen([sys.executable, "-c", RACER, str(repo), shas[1], str(repo)],  # go at once
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 30
    while not (dest / ".git").exists() and racer.poll() is None and time.monotonic() < deadline:
        time.sleep(0.0005)
    os.killpg(racer.pid, signal.SIGKILL)  # the interpreter and its `git worktree add`
    racer.wait()

    assert checkout_commit(repo, shas[1]) == dest
    assert (dest / "app" / "main.tf").read_text() == "# version 1\n"
    assert sum(len(names) for _, _, names in os.walk(dest / "data")) == DATA_FILES
    assert git(dest, "status", "--porcelain") == ""


def test_a_deleted_checkout_is_made_again(origin):
    repo, first, _ = origin
    dest = checkout_commit(repo, first)
    shutil.rmtree(dest)
    assert checkout_commit(repo, first) == dest
    assert (dest / "app" / "main.tf").read_text() == "# version 1\n"


def test_a_checkout_killed_at_its_first_file_does_not_break_the_others(big_origin):
    repo, shas = big_origin
    dest = repo / ".gitops" / "checkouts" / shas[2]
    git(repo, "worktree", "add", "-q", "--no-checkout", "--detach", str(dest), shas[2])
    git(repo, "worktree", "lock", "--reason", "initializing", str(dest))
    (repo / ".git" / "worktrees" / shas[2] / "commondir").write_text("")  # killed while git wrote it
    broken = subprocess.run(["git", "worktree", "list"], cwd=repo, capture_output=True, text=True)
    assert broken.returncode != 0 and "commondir" in broken.stderr, "every git worktree command fails now"

    other = checkout_commit(repo, shas[3])
    assert (other / "app" / "main.tf").read_text() == "# version 3\n"
    assert checkout_commit(repo, shas[2]) == dest
    assert (dest / "app" / "main.tf").read_text() == "# version 2\n"
    assert sorted(_worktrees(repo)) == sorted([str(dest), str(other)])
