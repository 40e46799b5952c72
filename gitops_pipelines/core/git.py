"""Git, the one way the core runs it: no stdin, output captured, a commit read from a working copy."""

from __future__ import annotations

import subprocess
from pathlib import Path


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
