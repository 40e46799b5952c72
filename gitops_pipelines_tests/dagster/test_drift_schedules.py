"""One drift schedule per environment, on its own cron, planning only the projects deployed there, with at most
drift.parallelism drift plans at once. Definitions only: no Terraform."""

from __future__ import annotations

import textwrap

import dagster as dg

from gitops_pipelines.definitions import build_definitions

CONFIG = """\
environments:
  - name: dev
  - name: test
  - name: prod
    drift: {cron: "0 5 * * 1-5"}
drift: {cron: "30 6 * * *", parallelism: 3}
units:
  - {name: bucket, kind: module, path: modules/bucket}
  - {name: storage, kind: project, path: projects/storage, environments: [test, prod]}
  - {name: network, kind: project, path: projects/network, environments: [dev, test]}
"""


def _checks(job: dg.JobDefinition) -> set[str]:
    return {f"{c.asset_key.to_user_string()}:{c.name}" for c in job.asset_layer.asset_graph.asset_check_keys}


def _max_concurrent(job: dg.JobDefinition) -> int:
    return job.executor_def.apply_config_mapping({}).value["config"]["max_concurrent"]


def test_each_environment_has_a_schedule_that_plans_only_its_own_projects(tmp_path):
    for folder in ("modules/bucket", "projects/storage", "projects/network"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "gitops.yaml").write_text(textwrap.dedent(CONFIG))
    repo = build_definitions(tmp_path / "gitops.yaml").get_repository_def()

    schedules = {s.name: (s.cron_schedule, s.job_name, s.default_status) for s in repo.schedule_defs}
    running = dg.DefaultScheduleStatus.RUNNING
    assert schedules == {"drift_dev_schedule": ("30 6 * * *", "drift_dev", running),
                         "drift_test_schedule": ("30 6 * * *", "drift_test", running),
                         "drift_prod_schedule": ("0 5 * * 1-5", "drift_prod", running)}
    assert _checks(repo.get_job("drift_dev")) == {"network/drift:no_drift_dev"}
    assert _checks(repo.get_job("drift_test")) == {"storage/drift:no_drift_test", "network/drift:no_drift_test"}
    assert _checks(repo.get_job("drift_prod")) == {"storage/drift:no_drift_prod"}
    assert set(repo.get_job("drift_prod").graph.node_names()) == {"storage__drift"}
    # by hand: every environment of every project, bounded the same way
    assert _checks(repo.get_job("drift")) == {"storage/drift:no_drift_test", "storage/drift:no_drift_prod",
                                               "network/drift:no_drift_dev", "network/drift:no_drift_test"}
    assert {_max_concurrent(repo.get_job(j)) for j in ("drift", "drift_dev", "drift_test", "drift_prod")} == {3}
