"""The jobs people and sensors launch; each selects stages across units, a run request narrows it to some units."""

from __future__ import annotations

import dagster as dg

from gitops_pipelines.core.config import GitopsConfig
from gitops_pipelines.core.vocabulary import (DRIFT, DRIFT_JOB, EPHEMERAL_TEST, MERGE_JOB, PR_CHECKS_JOB,
                                              PROD_DEPLOY_JOB, RELEASE, RELEASE_JOB, SYNTAX, Intent, deploy_stage,
                                              plan_stage)
from gitops_pipelines.defs.drift import drift_executor
from gitops_pipelines.defs.keys import key
from gitops_pipelines.defs.partitions import changes
from gitops_pipelines.defs.threads import side_by_side_threads

# What the triggers decide (core) -> the job that does it (here).
INTENT_JOBS = {Intent.CHECK: PR_CHECKS_JOB, Intent.PROMOTE: MERGE_JOB, Intent.RELEASE_MODULE: RELEASE_JOB}


def job_selections(config: GitopsConfig) -> dict[str, list[dg.AssetKey]]:
    """Asset keys per job: PR-time stages; what merging starts; the approvals; what a person deploys; drift."""
    jobs: dict[str, list[dg.AssetKey]] = {name: [] for name in (PR_CHECKS_JOB, MERGE_JOB, RELEASE_JOB, PROD_DEPLOY_JOB,
                                                                 DRIFT_JOB)}
    for unit in config.units:
        jobs[PR_CHECKS_JOB] += [key(unit.name, SYNTAX), key(unit.name, EPHEMERAL_TEST)]
        jobs[RELEASE_JOB].append(key(unit.name, RELEASE))
        envs = config.unit_environments(unit)
        if not envs:
            continue
        jobs[DRIFT_JOB].append(key(unit.name, DRIFT))
        jobs[PR_CHECKS_JOB].append(key(unit.name, plan_stage(envs[0].name)))
        for i, env in enumerate(envs):
            deploy = key(unit.name, deploy_stage(env.name))
            jobs[MERGE_JOB if env.auto_apply else PROD_DEPLOY_JOB].append(deploy)
            if i:  # a later environment is planned once the one before it is deployed
                after = MERGE_JOB if envs[i - 1].auto_apply else PROD_DEPLOY_JOB
                jobs[after].append(key(unit.name, plan_stage(env.name)))
    return jobs


# Checks of many units and drift of many projects are independent steps that mostly wait on Terraform processes:
# the run's own process runs them side by side, each in a thread (defs/threads.py), so no step process has to
# start and import Dagster and the code location again (seconds per run; benchmarks/bench_dagster.py).
# A person waits on merge, release and prod_deploy (one chain, one step at a time): in-process.
# Pools (the applies' `apply_<unit>_<env>`) are enforced by both executors.
def pr_checks_executor(config: GitopsConfig) -> dg.ExecutorDefinition:
    """At most pr_checks.parallelism steps (one unit's syntax, ephemeral_test or first plan each) at once, as
    drift.parallelism bounds drift."""
    return side_by_side_threads.configured({"max_concurrent": config.pr_checks.parallelism})


def _executor(config: GitopsConfig, job: str) -> dg.ExecutorDefinition:
    if job == DRIFT_JOB:
        return drift_executor(config)
    if job == PR_CHECKS_JOB:
        return pr_checks_executor(config)
    return dg.in_process_executor


def build_jobs(config: GitopsConfig) -> dict:
    descriptions = {
        PR_CHECKS_JOB: "PR-time stages (syntax, ephemeral_test, first plan) for the units a change touches",
        MERGE_JOB: "after merge: deploy the stored test plan, then make the prod plan",
        RELEASE_JOB: "a person approves a project's prod plan; a module gets its next version",
        PROD_DEPLOY_JOB: "a person applies exactly the approved prod plan",
        DRIFT_JOB: "plan every environment of every project; report drift, never apply",
    }
    return {
        name: dg.define_asset_job(name, selection=dg.AssetSelection.assets(*keys), description=descriptions[name],
                                  partitions_def=None if name == DRIFT_JOB else changes,
                                  executor_def=_executor(config, name))
        for name, keys in job_selections(config).items() if keys
    }
