"""The code location: gitops.yaml ($GITOPS_CONFIG) -> Definitions, plus the rules that apply to everything.

A broken gitops.yaml raises the core ConfigError here, so it shows as a code-location load error naming the field.
"""

from __future__ import annotations

import os
import warnings

import dagster as dg

from gitops_pipelines.core.config import load_config, resolve_config_path
from gitops_pipelines.defs import build_unit_defs
from gitops_pipelines.resources import GitopsResource

PLAN_KEY_ENV = "GITOPS_PLAN_KEY"


def build_definitions(config_path: str | os.PathLike | None = None, *,
                      gitops: GitopsResource | None = None) -> dg.Definitions:
    """Definitions for one gitops.yaml (default: $GITOPS_CONFIG, else ./gitops.yaml); tests pass their own resource."""
    path = resolve_config_path(config_path).resolve()
    config = load_config(path)
    resource = gitops or GitopsResource(config_path=str(path), plan_key=dg.EnvVar(PLAN_KEY_ENV))
    # Materializing from the asset graph runs in-process too: no step process to start (see defs/jobs.py).
    rules = dg.Definitions(resources={"gitops": resource}, executor=dg.in_process_executor)
    defs = dg.Definitions.merge(build_unit_defs(config), rules)
    with warnings.catch_warnings():  # map_asset_specs is marked preview in 1.13; its behaviour here is plain
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return defs.map_asset_specs(func=_project_rules)


def _project_rules(spec: dg.AssetSpec) -> dg.AssetSpec:
    """Every stage is tagged with its unit and stage, so the UI and sensors can select by either."""
    return spec.merge_attributes(tags={"gitops/unit": spec.key.path[0], "gitops/stage": spec.key.path[-1]})


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()
