"""Dagster objects only, one folder per concern, each wiring itself from gitops.yaml: `pr_checks` (PR stages and
approvals), `promotion` (plans, deploys, release), `modules` (module releases), `drift`, `github` (sensors),
`audit` (what changed production).
Shared: asset `keys`, `partitions`, `jobs`, `run_tags`, `run_config`, `lineage`, `metadata`, `refusals`."""

import dagster as dg

from gitops_pipelines.core.config import GitopsConfig
from gitops_pipelines.defs import drift, github, modules, pr_checks, promotion
from gitops_pipelines.defs.audit import audit_defs
from gitops_pipelines.defs.jobs import build_jobs


def build_defs(config: GitopsConfig) -> dg.Definitions:
    """Every asset, check, job, schedule and sensor that one gitops.yaml describes."""
    jobs = build_jobs(config)
    return dg.Definitions.merge(
        pr_checks.build_defs(config), promotion.build_defs(config), modules.build_defs(config),
        drift.build_defs(config, jobs), github.build_defs(config, jobs=list(jobs.values())),
        dg.Definitions(jobs=list(jobs.values())), audit_defs(config))


__all__ = ["build_defs"]
