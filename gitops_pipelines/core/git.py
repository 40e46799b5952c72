"""Git, the one way the core runs it: no stdin, output captured, a commit read from a working copy."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REMOTE_TIMEOUT = 120  # seconds for one git command that talks to a remote


def run_git(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """`git ARGS` in cwd; the caller reads returncode, stdout and stderr."""
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL)


def git_output(cwd: Path, *args: str) -> str:
    """The stripped stdout of `git ARGS`, or "" when git fails."""
    proc = run_git(cwd, *args)
    return proc.stdout.strip() if proc.returncode == 0 else ""


def head_sha(path: Path) -> str | None:
    """The commit checked out at path, or None when path is not in a git repository."""
    if not Path(path).is_dir():
        return None
    return git_output(path, "rev-parse", "HEAD") or None


def is_tracked(path: Path) -> bool | None:
    """Whether git tracks the file at path (it came with the commit); None when path is not in a repository."""
    folder = Path(path).parent
    if not folder.is_dir():
        return None
    if run_git(folder, "ls-files", "--error-unmatch", "--", Path(path).name).returncode == 0:
        return True
    return False if git_output(folder, "rev-parse", "--is-inside-work-tree") == "true" else None


def remote_git_env(git_config: str | None = None) -> dict[str, str]:
    """The environment of a git command that reads a remote: no prompt, and `terraform.git_config` (insteadOf,
    credential helpers) as its global config, as Terraform's own git gets it."""
    env = {name: os.environ[name] for name in ("PATH", "HOME", "SSL_CERT_FILE", "HTTPS_PROXY", "NO_PROXY")
           if name in os.environ}
    env["GIT_TERMINAL_PROMPT"] = "0"
    if git_config:
        env["GIT_CONFIG_GLOBAL"] = git_config
    return env


def remote_git(cwd: Path, git_config: str | None, *args: str) -> subprocess.CompletedProcess:
    """`git ARGS` in cwd with remote_git_env; a remote that does not answer in REMOTE_TIMEOUT is a failure."""
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                              env=remote_git_env(git_config), timeout=REMOTE_TIMEOUT)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(["git", *args], 124, "", f"no answer in {REMOTE_TIMEOUT} s")
