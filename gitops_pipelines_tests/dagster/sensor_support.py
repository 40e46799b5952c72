"""Helpers for tests of the GitHub sensors on the emulator: tick a sensor as the daemon does, run what it asks for
at its head commit, read the check runs of a commit."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from gitops_pipelines.defs.github.sensors import POLL_SENSOR
from gitops_pipelines_dev.infra import SAMPLE, git

REPO = "acme/infra"
FAST_STAGES = {"syntax", "test_plan"}  # ephemeral_test deploys for real (20 s+); its own tests cover it


def sample_files(api_url: str) -> dict[str, str]:
    files = {str(p.relative_to(SAMPLE)): p.read_text() for p in SAMPLE.rglob("*")
             if p.is_file() and ".terraform" not in p.parts}
    files["gitops.yaml"] += f"github:\n  repository: {REPO}\n  api_url: {api_url}\n  web_url: https://github.com\n"
    return files


class Sensor:
    """Ticks one sensor the way the daemon does: cursor in, result out, dynamic partitions applied."""

    def __init__(self, defs, instance, github, name=POLL_SENSOR):
        self.defs, self.instance, self.github, self.name, self.cursor = defs, instance, github, name, None

    def tick(self, cursor: str | None = "keep"):
        sensor = self.defs.resolve_sensor_def(self.name)
        context = dg.build_sensor_context(instance=self.instance, cursor=self.cursor if cursor == "keep" else cursor,
                                          resources={"github": self.github}, definitions=self.defs)
        result = sensor(context)
        if isinstance(result, dg.SkipReason):
            return dg.SensorResult(run_requests=[], skip_reason=result)
        for request in result.dynamic_partitions_requests or []:
            self.instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        for event in result.asset_events or []:
            self.instance.report_runless_asset_event(event)
        if result.cursor is not None:
            self.cursor = result.cursor
        return result


def execute(defs, instance, checkout: Path, request: dg.RunRequest, must_succeed: bool = True,
            stages: frozenset[str] | set[str] = FAST_STAGES):
    """Run a request as the daemon would (its run_key tag included), at its head commit, fast stages by default."""
    git(checkout, "fetch", "-q", "origin", "+refs/heads/*:refs/remotes/origin/*")
    git(checkout, "checkout", "-q", "--detach", request.tags["gitops/head_sha"])
    selection = [k for k in request.asset_selection if k.path[-1] in stages]
    result = defs.resolve_job_def(request.job_name).execute_in_process(
        instance=instance, partition_key=request.partition_key, asset_selection=selection,
        tags={**request.tags, "dagster/run_key": request.run_key}, raise_on_error=False)
    assert result.success or not must_succeed
    return result


def check_runs(emu, sha: str) -> dict[str, tuple[str, str | None]]:
    latest = {}
    for run in sorted(emu.repo.check_runs.values(), key=lambda r: r.id):
        if run.head_sha == sha:
            latest[run.name] = (run.status, run.conclusion)
    return latest
