"""The code a stage runs on is the commit it is bound to: a git worktree of the infrastructure repository at
exactly that SHA, kept per commit and reused, so a plan's head SHA is the code that was planned."""

from __future__ import annotations

import subprocess
from pathlib import Path

from gitops_pipelines.core.errors import GitopsError
from gitops_pipelines.core.git import head_sha

CHECKOUTS = Path(".gitops") / "checkouts"


class CheckoutFailed(GitopsError):
    """The commit a run is bound to cannot be checked out."""


def _git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if check and proc.returncode != 0:
        raise CheckoutFailed(f"git {' '.join(args)} failed in {repo}: {proc.stderr.strip()[:300]}")
    return proc


def repository_root(path: Path) -> Path | None:
    proc = _git(path, "rev-parse", "--show-toplevel", check=False)
    return Path(proc.stdout.strip()) if proc.returncode == 0 else None


def has_commit(repo: Path, sha: str) -> bool:
    return _git(repo, "cat-file", "-e", f"{sha}^{{commit}}", check=False).returncode == 0


def checkout_commit(repo: Path, sha: str) -> Path:
    """A folder with the repository at `sha`: the repository itself when it is already there, else a detached
    worktree under .gitops/checkouts/<sha> (fetched from origin first when the commit is not known yet)."""
    if head_sha(repo) == sha:
        return repo
    dest = repo / CHECKOUTS / sha
    if head_sha(dest) == sha and (dest / ".git").exists():
        return dest
    if not has_commit(repo, sha):
        # GitHub serves any reachable commit by SHA, pull request heads included.
        _git(repo, "fetch", "--quiet", "origin", sha, check=False)
        _git(repo, "fetch", "--quiet", "origin", "+refs/pull/*/head:refs/remotes/origin/pr/*",
             "+refs/heads/*:refs/remotes/origin/*", check=False)
    if not has_commit(repo, sha):
        raise CheckoutFailed(f"commit {sha} is not in {repo} and could not be fetched from origin; push it (or "
                             "check the repository's remote) and re-run the step")
    _git(repo, "worktree", "prune")
    _git(repo, "worktree", "add", "--quiet", "--detach", "--force", str(dest), sha)
    return dest


def at_commit(config_path: Path, sha: str | None) -> Path:
    """The same gitops.yaml, as it is in a checkout of `sha` (unchanged when sha is None or not in a repository)."""
    config_path = config_path.resolve()
    repo = repository_root(config_path.parent) if sha else None
    if repo is None:
        return config_path
    return checkout_commit(repo, sha) / config_path.relative_to(repo)
