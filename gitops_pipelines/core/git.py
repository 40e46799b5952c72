"""Reads the commit a working copy is at; the plan binding needs it."""

from __future__ import annotations

import subprocess
from pathlib import Path


def head_sha(path: Path) -> str | None:
    """The commit checked out at path, or None when path is not in a git repository."""
    if not Path(path).is_dir():
        return None
    proc = subprocess.run(["git", "rev-parse", "HEAD"], cwd=path, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)
    return proc.stdout.strip() if proc.returncode == 0 else None
