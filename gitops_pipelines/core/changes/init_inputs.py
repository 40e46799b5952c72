"""What `terraform init` of a unit depends on, as one sha256, so an initialised data folder serves every commit
that asks the same of init: a pull request that changes a resource's arguments plans without a new `init`.

What counts, read with python-hcl2 from the unit's folder and every folder it sources by local path (the same
closure as core/changes/source.py), each with its path from the checkout root:
- `terraform` blocks whole (required providers and version, backend, cloud);
- the provider a configuration asks init to install: `provider` block labels, the `provider` argument of
  resources, data sources and ephemeral resources, else the first word of their type (`aws_s3_bucket` -> aws);
- each module call's label, `source` and `version` (init installs the module tree);
- any other block that may name a provider (`check`, `import`, an unknown one) whole;
- the provider lock file in use, by the providers it selects.
Arguments of resources, variables, outputs and locals do not count: `init` never reads them. A file that does
not parse raises InitInputsUnknown, and the caller initialises afresh (validate reports the file). A remote module
is fetched again only when its source or version changes: a branch ref or a version range would keep what the
first init fetched, which is one more reason the module_refs check accepts only release tags and exact versions.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from gitops_pipelines.core.changes.detection import module_blocks, parse_terraform_file, terraform_files, unquote
from gitops_pipelines.core.changes.source import LOCK_FILE, local_modules, lock_selection
from gitops_pipelines.core.config import GitopsConfig, UnitConfig

_VERSION = "gitops-pipelines init inputs v1"
_RESOURCE_BLOCKS = ("resource", "data", "ephemeral")
_IGNORED_BLOCKS = frozenset({"variable", "output", "locals", "moved", "removed"})  # never read by init


class InitInputsUnknown(Exception):
    """A file of the unit could not be read, so what init needs is not known."""


def init_inputs_hash(config: GitopsConfig, unit: UnitConfig, checkout_root: str | os.PathLike | None = None) -> str:
    """sha256 hex of what `init` reads of the unit in the checkout at checkout_root (default: config.root)."""
    root = Path(checkout_root if checkout_root is not None else config.root).resolve()
    unit_dir = (root / unit.path).resolve()
    digest = hashlib.sha256(_VERSION.encode() + b"\n")
    for folder in [unit_dir, *local_modules(unit_dir)]:
        entry = [Path(os.path.relpath(folder, root)).as_posix(), folder_inputs(folder)]
        digest.update(json.dumps(entry, sort_keys=True, default=str).encode() + b"\n")
    lock = unit_dir / LOCK_FILE
    digest.update(("lock " + (lock_selection(lock.read_bytes()) if lock.is_file() else "none")).encode())
    return digest.hexdigest()


def folder_inputs(folder: Path) -> dict[str, Any]:
    """What init reads of one Terraform folder (one module): see the module docstring."""
    found: dict[str, Any] = {"terraform": [], "providers": set(), "modules": [], "other": []}
    for file in terraform_files(folder):
        try:
            doc = parse_terraform_file(file)
        except Exception as exc:  # noqa: BLE001 - whatever the parser raises: init runs, validate reports it
            raise InitInputsUnknown(f"{file}: {exc}") from exc
        _collect(doc, found)
    found["providers"] = sorted(found["providers"])
    return found


def _collect(doc: dict[str, Any], found: dict[str, Any]) -> None:
    for block, value in doc.items():
        if block == "terraform":
            found["terraform"].append(value)
        elif block == "provider":
            found["providers"].update(unquote(label) for entry in _entries(value) for label in entry)
        elif block == "module":
            found["modules"] += sorted((label, body.get("source"), body.get("version"))
                                       for label, body in module_blocks(doc))
        elif block in _RESOURCE_BLOCKS:
            found["providers"].update(_resource_providers(value))
        elif block not in _IGNORED_BLOCKS:
            found["other"].append([block, value])


def _resource_providers(value: Any):
    """The provider local name of each resource: its `provider` argument (`aws.west` -> aws), else its type's
    first word."""
    for entry in _entries(value):
        for rtype, named in entry.items():
            for body in (b for instance in _entries(named) for b in _entries(list(instance.values()))):
                provider = unquote(body.get("provider")) if isinstance(body, dict) else None
                name = provider if isinstance(provider, str) and provider else unquote(rtype)
                yield str(name).split(".")[0].split("_")[0]


def _entries(value: Any) -> list:
    """python-hcl2 gives a block as a list of dicts, .tf.json as a dict or a list of them."""
    items = value if isinstance(value, list) else [value]
    return [item for item in items if isinstance(item, dict)]
