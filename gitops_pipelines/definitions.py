"""The code location: gitops.yaml ($GITOPS_CONFIG) -> Definitions, plus the rules that apply to everything.

A broken gitops.yaml raises the core ConfigError here, so it shows as a code-location load error naming the field.
"""

from __future__ import annotations

import os
import warnings

import dagster as dg

from gitops_pipelines.core.config import load_config, resolve_config_path
from gitops_pipelines.core.errors import ConfigError
from gitops_pipelines.defs import build_defs
from gitops_pipelines.resources import GitopsResource
from gitops_pipelines.resources.github import WEBHOOK_DB_ENV, GitHubResource, no_github

PLAN_KEY_ENV = "GITOPS_PLAN_KEY"


def build_definitions(config_path: str | os.PathLike | None = None, *,
                      gitops: GitopsResource | None = None, github: GitHubResource | None = None) -> dg.Definitions:
    """Definitions for one gitops.yaml (default: $GITOPS_CONFIG, else ./gitops.yaml); tests pass their own resources.
    GitHub sensors and feedback exist only when gitops.yaml has a `github:` section."""
    path = resolve_config_path(config_path).resolve()
    config = load_config(path)
    # Bound only when set: without it the plan store falls back to the development key file (with a warning)
    # instead of every run failing at resource start.
    plan_key = dg.EnvVar(PLAN_KEY_ENV) if os.environ.get(PLAN_KEY_ENV) else None
    resource = gitops or GitopsResource(config_path=str(path), plan_key=plan_key)
    if github is None and config.github is not None:
        github = GitHubResource.from_settings(config.github, webhook_db=os.environ.get(WEBHOOK_DB_ENV))
    resources = {"gitops": resource, "github": github if config.github is not None else no_github()}
    # Materializing from the asset graph runs in-process too: no step process to start (see defs/jobs.py).
    rules = dg.Definitions(resources=resources, executor=dg.in_process_executor)
    defs = dg.Definitions.merge(build_defs(config), rules)
    with warnings.catch_warnings():  # map_asset_specs is marked preview in 1.13; its behaviour here is plain
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return defs.map_asset_specs(func=_project_rules)


def _project_rules(spec: dg.AssetSpec) -> dg.AssetSpec:
    """Every stage is tagged with its unit and stage, so the UI and sensors can select by either."""
    return spec.merge_attributes(tags={"gitops/unit": spec.key.path[0], "gitops/stage": spec.key.path[-1]})


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()


# One code location per repository (a layout of several): workspace.yaml names this module once per repository,
# with `attribute: <name>`; that location reads the gitops.yaml $GITOPS_CONFIG_<NAME> names (e.g. attribute
# `modules`: $GITOPS_CONFIG_MODULES). Each repository keeps its own gitops.yaml and is judged by it.
CONFIG_ENV_PREFIX = "GITOPS_CONFIG_"
_LOCATIONS: dict[str, dg.Definitions] = {}


def location_env(name: str) -> str:
    return CONFIG_ENV_PREFIX + name.upper().replace("-", "_")


def __getattr__(name: str) -> dg.Definitions:
    if name.startswith("_"):
        raise AttributeError(name)
    env = location_env(name)
    if not os.environ.get(env):
        raise ConfigError(f"workspace.yaml loads attribute {name!r} of gitops_pipelines.definitions, a code location "
                          f"per repository, but ${env} is not set: set it to that repository's gitops.yaml "
                          "(or use attribute `defs` with $GITOPS_CONFIG for one repository)", field="attribute")
    if name not in _LOCATIONS:
        _LOCATIONS[name] = build_definitions(os.environ[env])
    return _LOCATIONS[name]
