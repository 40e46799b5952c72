"""The source of a unit by content: one sha256 over what Terraform reads when it plans the unit, so a plan can be
bound to the code itself and not only to a commit ("the merge commit holds exactly the code that was approved").

What counts, as paths relative to the checkout root (the folder of gitops.yaml), each with its content:
- every file under the unit's folder, except Terraform's own `.terraform/` folders, git's and the pipeline's
  folders (`.git`, `.gitops`), local state files, and folders of other declared units nested inside it;
- every file of each module it sources by local path, followed transitively with the same module-source parsing
  as change detection, except the module's own tests/ and examples/ and a lock file it may hold (neither is used
  when this unit plans);
- the var files the unit's environments name that live outside those folders;
- the provider lock file in use, by the providers it selects (versions, constraints, package hashes: what
  Terraform compares, so comments and spacing do not count). That is the unit folder's `.terraform.lock.hcl` when
  the checkout has one; otherwise the `lock_file` the caller passes, because a repository that commits none gets
  the one sealed with the plan restored before its apply. A plan made where `init` wrote the lock file and a merge
  commit with no lock file therefore hash the same, while a merge commit that commits another selection does not.

Files anywhere else (another project, a README, gitops.yaml itself) never change the hash.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from gitops_pipelines.core.changes.detection import MODULE_PRIVATE_DIRS, module_refs
from gitops_pipelines.core.config import GitopsConfig, UnitConfig
from gitops_pipelines.core.plan_store.lock_file import LockFileUnreadable, read_lock_file

LOCK_FILE = ".terraform.lock.hcl"
SKIPPED_DIRS = frozenset({".terraform", ".git", ".gitops"})
# state, not code: a local backend keeps it beside the code, and whether it moved is the staleness check's job
SKIPPED_FILES = frozenset({"terraform.tfstate", "terraform.tfstate.backup", ".terraform.tfstate.lock.info"})
_VERSION = "gitops-pipelines unit source v1"  # changes only if what counts changes


def source_hash(config: GitopsConfig, unit: UnitConfig | str, checkout_root: str | os.PathLike | None = None, *,
                lock_file: bytes | None = None) -> str:
    """sha256 hex of the unit's source in the checkout at checkout_root (default: config.root); lock_file: the
    lock file in use when the unit folder has none (the plan's sealed one, for a merge commit that commits none)."""
    digest = hashlib.sha256(_VERSION.encode() + b"\n")
    for name, content_hash in source_manifest(config, unit, checkout_root, lock_file=lock_file):
        digest.update(json.dumps([name, content_hash]).encode() + b"\n")
    return digest.hexdigest()


def source_manifest(config: GitopsConfig, unit: UnitConfig | str, checkout_root: str | os.PathLike | None = None,
                    *, lock_file: bytes | None = None) -> list[tuple[str, str]]:
    """(relative path, sha256 of its content) of everything source_hash covers, sorted; the lock file in use is
    the entry `(lock file in use)`, by its provider selection, or `none`."""
    unit_cfg = config.unit(unit) if isinstance(unit, str) else unit
    root = Path(checkout_root if checkout_root is not None else config.root).resolve()
    unit_dir = (root / unit_cfg.path).resolve()
    others = {(root / u.path).resolve() for u in config.units if u.name != unit_cfg.name} - {unit_dir}

    files: dict[str, str] = {}
    _add_folder(files, root, unit_dir, skip=others)
    files.pop(_relative(root, unit_dir / LOCK_FILE), None)  # counted below, as the lock file in use
    for module_dir in local_modules(unit_dir):
        if module_dir != unit_dir:
            _add_folder(files, root, module_dir, skip=others - {module_dir}, private=MODULE_PRIVATE_DIRS,
                        without_lock=True)
    for env in config.unit_environments(unit_cfg):
        for name in env.var_files:
            path = (unit_dir / name).resolve()
            if path.is_file():
                files.setdefault(_relative(root, path), _sha256(path.read_bytes()))

    in_use = unit_dir / LOCK_FILE
    lock = in_use.read_bytes() if in_use.is_file() else lock_file
    entries = sorted(files.items())
    entries.append(("(lock file in use)", lock_selection(lock) if lock is not None else "none"))
    return entries


def local_modules(unit_dir: Path) -> list[Path]:
    """Every folder the unit sources by local path, directly or through other modules (cycles are fine)."""
    seen: list[Path] = []
    stack = [unit_dir]
    while stack:
        folder = stack.pop()
        for ref in module_refs(folder):
            path = Path(ref.path)
            if ref.kind == "local" and path not in seen and path != unit_dir:
                seen.append(path)
                stack.append(path)
    return seen


def _add_folder(files: dict[str, str], root: Path, folder: Path, *, skip: set[Path],
                private: frozenset[str] = frozenset(), without_lock: bool = False) -> None:
    if not folder.is_dir():
        return  # a module source that does not exist: the plan fails on it, the hash has nothing to add
    visited: set[Path] = set()
    for current, dirs, names in os.walk(folder, followlinks=True):
        here = Path(current)
        real = here.resolve()
        if real in visited:  # a symlink loop
            dirs[:] = []
            continue
        visited.add(real)
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and (here / d).resolve() not in skip
                         and not (here == folder and d in private))
        for name in names:
            if name in SKIPPED_FILES or (without_lock and name == LOCK_FILE and here == folder):
                continue
            path = here / name
            if path.is_file():
                files.setdefault(_relative(root, path), _sha256(path.read_bytes()))


def _relative(root: Path, path: Path) -> str:
    """The path from the checkout root, `/`-separated; `..` parts for a module above it (same in every checkout)."""
    return Path(os.path.relpath(path, root)).as_posix()


def lock_selection(data: bytes) -> str:
    """sha256 of what the lock file selects; of its bytes when it is no lock file Terraform would read."""
    try:
        providers = read_lock_file(data)
    except LockFileUnreadable:
        return "bytes:" + _sha256(data)
    canonical = [[p.source, p.version, p.constraints, sorted(p.hashes)] for _, p in sorted(providers.items())]
    return "providers:" + _sha256(json.dumps(canonical).encode())


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
