"""The code a stage runs on is the commit it is bound to: a git worktree of the infrastructure repository at
exactly that SHA, kept per commit and reused, so a plan's head SHA is the code that was planned.

Stages of one run execute in parallel processes and several runs may want the same commit at once, so a checkout
is made under an exclusive lock per commit and used only once it is marked complete; `git worktree` itself is
serialized per repository, because it shares the repository's own files (`.git/worktrees`, refs) across commits.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gitops_pipelines.core.errors import GitopsError
from gitops_pipelines.core.git import head_sha, run_git

CHECKOUTS = Path(".gitops") / "checkouts"
LOCK_TIMEOUT = 600.0  # seconds; a fetch of a large repository can take minutes
_POLL = 0.02
_ENTRY_NAME = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?[0-9]*$")  # git names an entry after the folder: <sha>[n]


class CheckoutFailed(GitopsError):
    """The commit a run is bound to cannot be checked out."""


def _git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = run_git(repo, *args)
    if check and proc.returncode != 0:
        raise CheckoutFailed(f"git {' '.join(args)} failed in {repo}: {proc.stderr.strip()[:300]}")
    return proc


def repository_root(path: Path) -> Path | None:
    proc = _git(path, "rev-parse", "--show-toplevel", check=False)
    return Path(proc.stdout.strip()) if proc.returncode == 0 else None


def has_commit(repo: Path, sha: str) -> bool:
    return _git(repo, "cat-file", "-e", f"{sha}^{{commit}}", check=False).returncode == 0


def checkout_commit(repo: Path, sha: str, *, timeout: float = LOCK_TIMEOUT) -> Path:
    """A folder with the repository at `sha`: the repository itself when it is already there, else a detached
    worktree under .gitops/checkouts/<sha> (fetched from origin first when the commit is not known yet).
    Safe to call from any number of threads and processes at once."""
    if head_sha(repo) == sha:
        return repo
    checkouts = repo / CHECKOUTS
    dest = checkouts / sha
    if _is_complete(dest, sha):
        return dest
    with exclusive(checkouts / f"{sha}.lock", timeout, f"the checkout of {sha[:12]}"):
        if _is_complete(dest, sha):  # made by whoever held the lock before
            return dest
        with exclusive(_repository_lock(repo), timeout, f"git worktree in {repo}"):
            _fetch_if_missing(repo, sha)
            _discard(repo, dest)
            # --force twice: also replaces the entry a killed `worktree add` leaves behind, locked "initializing"
            _git(repo, "worktree", "add", "--quiet", "--detach", "--force", "--force", str(dest), sha)
        _complete_marker(dest).touch()
    return dest


def at_commit(config_path: Path, sha: str | None) -> Path:
    """The same gitops.yaml, as it is in a checkout of `sha` (unchanged when sha is None or not in a repository)."""
    config_path = config_path.resolve()
    repo = repository_root(config_path.parent) if sha else None
    if repo is None:
        return config_path
    return checkout_commit(repo, sha) / config_path.relative_to(repo)


# -- making a checkout ----------------------------------------------------------------------------------------
def _complete_marker(dest: Path) -> Path:
    # beside the worktree, not in it: a file inside would show up in the unit folder Terraform reads
    return dest.with_name(f"{dest.name}.complete")


def _is_complete(dest: Path, sha: str) -> bool:
    """Marked complete after `git worktree add` returned; a worktree whose creation was killed has no marker,
    though its HEAD already names the commit (git writes HEAD before it checks out a single file)."""
    # without its own .git file, a folder inside the repository reports the repository's HEAD
    return _complete_marker(dest).exists() and (dest / ".git").is_file() and head_sha(dest) == sha


def _fetch_if_missing(repo: Path, sha: str) -> None:
    if has_commit(repo, sha):
        return
    # GitHub serves any reachable commit by SHA, pull request heads included.
    _git(repo, "fetch", "--quiet", "origin", sha, check=False)
    _git(repo, "fetch", "--quiet", "origin", "+refs/pull/*/head:refs/remotes/origin/pr/*",
         "+refs/heads/*:refs/remotes/origin/*", check=False)
    if not has_commit(repo, sha):
        raise CheckoutFailed(f"commit {sha} is not in {repo} and could not be fetched from origin; push it (or "
                             "check the repository's remote) and re-run the step")


def _discard(repo: Path, dest: Path) -> None:
    """Removes whatever an interrupted or damaged checkout left at dest, and its entry in .git/worktrees."""
    _complete_marker(dest).unlink(missing_ok=True)
    _sweep_killed_creations(repo, dest.parent)
    if (dest / ".git").is_file():
        _git(repo, "worktree", "remove", "--force", "--force", str(dest), check=False)
    _remove(dest)
    _git(repo, "worktree", "prune")


def _sweep_killed_creations(repo: Path, checkouts: Path) -> None:
    """Drops the .git/worktrees entries of our checkouts whose `git worktree add` was killed: git marks an entry
    locked "initializing" until it is done, and none of ours is under way while the repository lock is held. One
    killed early enough (an empty `commondir`) makes every later `git worktree` command of the repository fail."""
    entries = _common_dir(repo) / "worktrees"
    if not entries.is_dir():
        return
    checkouts = checkouts.resolve()
    for entry in entries.iterdir():
        if _read_text(entry / "locked") != "initializing":
            continue
        gitdir = _read_text(entry / "gitdir")  # <worktree>/.git, absolute (or relative to the entry)
        folder = (entry / gitdir).resolve().parent if gitdir else None
        ours = folder.parent == checkouts if folder is not None else bool(_ENTRY_NAME.match(entry.name))
        if not ours:
            continue  # another tool's worktree, perhaps being made right now
        shutil.rmtree(entry, ignore_errors=True)
        if folder is not None:
            _complete_marker(folder).unlink(missing_ok=True)
            _remove(folder)


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (FileNotFoundError, NotADirectoryError, UnicodeDecodeError):
        return None


def _common_dir(repo: Path) -> Path:
    """The repository's own git folder, which every worktree of it shares."""
    return (repo / _git(repo, "rev-parse", "--git-common-dir").stdout.strip()).resolve()


def _repository_lock(repo: Path) -> Path:
    """One lock per git repository, beside the files `git worktree` shares across all checkouts."""
    return _common_dir(repo) / "gitops-worktrees.lock"


@contextmanager
def exclusive(path: Path, timeout: float, what: str) -> Iterator[None]:
    """An exclusive flock on path; the kernel releases it when the holder exits, however it exits. After
    `timeout` seconds it raises CheckoutFailed naming `what` and the lock file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise CheckoutFailed(f"waited {timeout:.0f} s for {what}: another process holds {path}; "
                                         "if no stage is running, a git or terraform process may hang there") from None
                time.sleep(_POLL)
        yield
    finally:
        os.close(fd)
