"""The code location: gitops.yaml ($GITOPS_CONFIG) -> Definitions, plus the rules that apply to everything.

A broken gitops.yaml raises the core ConfigError here, so it shows as a code-location load error naming the field.
"""

from __future__ import annotations

import os
import warnings

import dagster as dg

from gitops_pipelines.core.config import load_config, resolve_config_path
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
