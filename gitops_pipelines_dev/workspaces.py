"""A workspace.yaml with one code location per repository (the mixed layout), as README's "Several repositories"
describes: `gitops_pipelines.definitions` once per repository, `attribute: <name>` reading $GITOPS_CONFIG_<NAME>."""

from __future__ import annotations

from pathlib import Path

import yaml

from gitops_pipelines_dev.checkout import CHECKOUT_ROOT


def location_name(repository: str) -> str:
    """acme/modules -> the code location (and attribute) `modules`; the owner is the same for all of them."""
    return repository.split("/", 1)[1].replace(".", "_").replace("-", "_")


def write_workspace(path: Path, repositories: dict[str, Path]) -> dict[str, str]:
    """workspace.yaml at path for {owner/name: its gitops.yaml}; returns the variables that name each file."""
    from gitops_pipelines.definitions import location_env

    locations, env = [], {}
    for repository, config in repositories.items():
        name = location_name(repository)
        locations.append({"python_module": {"module_name": "gitops_pipelines.definitions", "attribute": name,
                                            "working_directory": str(CHECKOUT_ROOT), "location_name": name}})
        env[location_env(name)] = str(config)
    path.write_text("# one code location per repository; each reads the gitops.yaml its variable names\n"
                    + yaml.safe_dump({"load_from": locations}, sort_keys=False))
    return env
