"""GitHub -> runs. Two thin sensors over core/triggers/: `github_pull_requests` polls pull requests by last update
(one conditional request when nothing moved; the default; those already open at its first tick are looked at a few
per tick, core/triggers/backlog.py) and `github_webhooks` reads the webhook receiver's store by
row id (used instead when the resource has a `webhook_db`). Both keep a `TriggerCursor` and give every run a
deterministic run_key. A merge run starts only once the PR checks at the merged head finished
(`core/triggers/merge_wait.py`); until then it waits in the cursor and is asked about every tick."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

import dagster as dg

from gitops_pipelines.core.config import GitopsConfig
from gitops_pipelines.core.github.events import InvalidEventPayload, parse_event
from gitops_pipelines.core.github.polling import open_pulls_page, poll_pulls
from gitops_pipelines.core.triggers import (AddPartition, ChecksInFlight, CleanUp, Decision, MergedElsewhere,
                                            RecordApproval, RunMerge, RunPrChecks, TriggerCursor, decide_events,
                                            decide_poll, hold_merges, start_backlog, units_fn, work_backlog)
from gitops_pipelines.core.vocabulary import PR_CHECKS_JOB
from gitops_pipelines.defs.jobs import INTENT_JOBS, build_jobs, job_selections
from gitops_pipelines.defs.partitions import changes
from gitops_pipelines.defs.pr_checks.approvals import approval_event
from gitops_pipelines.defs.run_tags import HEAD_SHA, MERGE_SHA, change_tags
from gitops_pipelines.resources.github import GitHubResource

POLL_SENSOR, WEBHOOK_SENSOR = "github_pull_requests", "github_webhooks"
PR_TAG, RUN_KEY_TAG, PARTITION_TAG = "gitops/pr", "dagster/run_key", "dagster/partition"
REPOSITORY_TAG = "gitops/repository"  # owner/name: pull request numbers repeat across repositories
# a run in one of these has not finished: a merge of its head waits for it
IN_FLIGHT = (dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
             dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING, dg.DagsterRunStatus.SUSPENDED)
WEBHOOK_PAGE = 500

POLL_URL = "pulls?state=all&sort=updated"  # the cursor key of the poll's first-page ETag


def build_sensors(config: GitopsConfig, jobs: Sequence[Any] | None = None) -> dg.Definitions:
    """The GitHub sensors of one gitops.yaml; nothing without a `github:` section."""
    if config.github is None:
        return dg.Definitions()
    jobs = list(jobs) if jobs is not None else list(build_jobs(config).values())
    selections = job_selections(config)
    affected = units_fn(config)
    repository, main_branch = config.github.repository, config.github.main_branch
    fallback_seconds = config.github.webhook_fallback_poll_seconds

    @dg.sensor(name=POLL_SENSOR, jobs=jobs, minimum_interval_seconds=config.github.poll_seconds,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="polls open pull requests (conditional requests) and starts the PR, merge and release runs")
    def poll_sensor(context: dg.SensorEvaluationContext, github: GitHubResource):
        cursor = TriggerCursor.from_json(context.cursor)
        if github.webhook_db:
            if cursor.pending_merges:  # held before webhooks were configured: they still start here
                return sensor_result(context, [], cursor, selections, repository)
            return dg.SkipReason(f"webhooks are configured ({github.webhook_db}): {WEBHOOK_SENSOR} is used instead")
        gateway = github.gateway(context.log.debug, within_tick=True)
        polled = poll_pulls(gateway, cursor.etags.get(POLL_URL), cursor.since)
        if not polled.changed and not cursor.needs_recheck and cursor.backlog is None:
            if cursor.pending_merges:
                return sensor_result(context, [], cursor, selections, repository)
            return dg.SkipReason(f"no pull request changed since {cursor.since}")
        decisions, new_cursor = decide_poll(cursor, polled.pulls, gateway, affected, complete=False,
                                            main_branch=main_branch, merged_at=polled.merged_at)
        new_cursor.etags = {POLL_URL: polled.etag} if polled.etag else {}
        new_cursor.since = polled.since
        if polled.first:
            new_cursor = start_backlog(new_cursor, polled.since)
        looked_at, new_cursor = work_backlog(new_cursor, lambda page: open_pulls_page(gateway, page), gateway,
                                             affected, page_size=gateway.per_page, main_branch=main_branch)
        if new_cursor.backlog and not new_cursor.backlog.done:
            context.log.info(f"pull requests open before the first poll: looked at those up to "
                             f"#{new_cursor.backlog.after}, the others follow in the next ticks")
        return sensor_result(context, decisions + looked_at, new_cursor, selections, repository)

    @dg.sensor(name=WEBHOOK_SENSOR, jobs=jobs, minimum_interval_seconds=5,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="reads deliveries the webhook receiver stored and starts the PR, merge and release runs")
    def webhook_sensor(context: dg.SensorEvaluationContext, github: GitHubResource):
        store = github.webhook_store()
        if store is None:
            return dg.SkipReason(f"no webhook store configured: {POLL_SENSOR} polls instead")
        cursor = TriggerCursor.from_json(context.cursor)
        rows = store.pending(cursor.delivery, limit=WEBHOOK_PAGE)
        caught_up: list[Decision] = []
        polled = fallback_due(cursor, fallback_seconds)
        if polled:  # what no delivery told (the receiver was down, say)
            caught_up, cursor = fallback_poll(cursor, github.gateway(context.log.debug, within_tick=True), affected,
                                              main_branch)
            if caught_up:
                context.log.info(f"the fallback poll found {len(caught_up)} thing(s) no webhook delivered")
        if not rows:
            if cursor.pending_merges or polled:
                return sensor_result(context, caught_up, cursor, selections, repository)
            return dg.SkipReason(f"no new webhook deliveries after row {cursor.delivery}")
        events = []
        for row in rows:
            try:
                events.append((row.id, parse_event(row.event, row.json())))
            except (InvalidEventPayload, ValueError) as exc:
                context.log.warning(f"webhook delivery {row.delivery_id} ({row.event}) skipped: {exc}")
                events.append((row.id, None))
        gateway = github.gateway(context.log.debug, within_tick=True)
        decisions, new_cursor = decide_events(cursor, events, gateway, affected, repository=repository,
                                              main_branch=main_branch)
        return sensor_result(context, caught_up + decisions, new_cursor, selections, repository)

    return dg.Definitions(sensors=[poll_sensor, webhook_sensor])


def fallback_due(cursor: TriggerCursor, seconds: int) -> bool:
    return seconds > 0 and time.time() - (cursor.polled_at or 0) >= seconds


def fallback_poll(cursor: TriggerCursor, gateway, affected, main_branch: str) -> tuple[list[Decision], TriggerCursor]:
    """The webhook sensor's slow poll (one conditional request when nothing moved), on the same cursor, so what a
    delivery already started is not started again. Its first one only sets the watermark: webhooks ran since."""
    polled = poll_pulls(gateway, cursor.etags.get(POLL_URL), cursor.since)
    decisions: list[Decision] = []
    if polled.changed and not polled.first:
        decisions, cursor = decide_poll(cursor, polled.pulls, gateway, affected, complete=False,
                                        main_branch=main_branch, merged_at=polled.merged_at)
    cursor.etags = {**cursor.etags, POLL_URL: polled.etag} if polled.etag else cursor.etags
    cursor.since, cursor.polled_at = polled.since, time.time()
    return decisions, cursor


def sensor_result(context: dg.SensorEvaluationContext, decisions: Iterable[Decision], cursor: TriggerCursor,
                  selections: dict[str, list[dg.AssetKey]], repository: str | None = None) -> dg.SensorResult:
    """Decisions -> partitions to add, run requests (minus run keys the instance already ran), approval events.
    Merges whose head still has PR checks running wait in the returned cursor instead."""
    decisions, cursor, held = hold_merges(list(decisions), cursor, checks_in_flight(context.instance),
                                          datetime.now(timezone.utc))
    for line in held.waiting:
        context.log.info(line)
    for line in held.overdue:
        context.log.warning(line)
    partitions: list[str] = []
    runs: list[dg.RunRequest] = []
    events: list[dg.AssetMaterialization | dg.AssetObservation] = []
    for decision in decisions:
        if isinstance(decision, AddPartition):
            if decision.partition_key not in partitions:
                partitions.append(decision.partition_key)
        elif isinstance(decision, (RunPrChecks, RunMerge)):
            request = run_request(decision, selections, repository)
            if request is not None and not _already_run(context.instance, request.run_key):
                runs.append(request)
        elif isinstance(decision, RecordApproval):
            events.append(approval_event(decision))
        elif isinstance(decision, MergedElsewhere):
            context.log.info(decision.explain())
        elif isinstance(decision, CleanUp):
            cancelled = _cancel_pending(context.instance, decision.partition_key, selections, repository)
            context.log.info(f"#{decision.pr} closed without merge: {cancelled} queued run(s) cancelled")
    return dg.SensorResult(
        run_requests=runs, cursor=cursor.to_json(), asset_events=events,
        dynamic_partitions_requests=[changes.build_add_request(partitions)] if partitions else None)


def run_request(decision: RunPrChecks | RunMerge, selections: dict[str, list[dg.AssetKey]],
                repository: str | None = None) -> dg.RunRequest | None:
    """One run of the decision's job, narrowed to the decision's unit, tagged with its repository (pull request
    numbers repeat across repositories, so the UI and the sensors tell them apart by it)."""
    job = INTENT_JOBS[decision.intent]
    assets = [k for k in selections.get(job, []) if k.path[0] == decision.unit]
    if not assets:
        return None
    if isinstance(decision, RunPrChecks):
        tags = change_tags(decision.head_sha, decision.base_sha, f"github pull request #{decision.pr}",
                           fork=decision.fork, base_ref=decision.base_ref or None)
    else:
        tags = change_tags(decision.head_sha, None, f"github merge of #{decision.pr}")
        if decision.merge_sha:
            tags[MERGE_SHA] = decision.merge_sha
    tags[PR_TAG] = str(decision.pr)
    if repository:
        tags[REPOSITORY_TAG] = repository
    return dg.RunRequest(run_key=decision.run_key, job_name=job, partition_key=decision.partition_key,
                         asset_selection=assets, tags=tags)


def checks_in_flight(instance: dg.DagsterInstance) -> ChecksInFlight:
    """Whether a `pr_checks` run of a merge's change, head and unit has not finished. A run without a head tag
    (launched from the UI) checks the pull request's head, which is the merged one; one without an asset selection
    checks every unit."""

    def running(merge: RunMerge) -> str | None:
        records = instance.get_run_records(filters=dg.RunsFilter(
            job_name=PR_CHECKS_JOB, statuses=list(IN_FLIGHT), tags={PARTITION_TAG: merge.partition_key}))
        for record in records:
            run = record.dagster_run
            if run.tags.get(HEAD_SHA, merge.head_sha) != merge.head_sha:
                continue
            if run.asset_selection and not any(k.path[0] == merge.unit for k in run.asset_selection):
                continue
            return f"run {run.run_id[:8]} is {run.status.value}"
        return None

    return running


def _already_run(instance: dg.DagsterInstance, run_key: str) -> bool:
    return bool(instance.get_run_records(filters=dg.RunsFilter(tags={RUN_KEY_TAG: run_key}), limit=1))


def _cancel_pending(instance: dg.DagsterInstance, partition_key: str, selections: dict[str, list[dg.AssetKey]],
                    repository: str | None = None) -> int:
    """Cancel the change's runs that have not started; running ones finish (Terraform must not be killed). Only
    this repository's: another repository's pull request of the same number is another change."""
    units = {key.path[0] for keys in selections.values() for key in keys}
    records = instance.get_run_records(filters=dg.RunsFilter(
        tags={PARTITION_TAG: partition_key},
        statuses=[dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED]))
    ours = [r.dagster_run for r in records if _of_this_repository(r.dagster_run, units, repository)]
    for run in ours:
        instance.report_run_canceled(run, message=f"{partition_key} was closed without merging")
    return len(ours)


def _of_this_repository(run: dg.DagsterRun, units: set[str], repository: str | None) -> bool:
    if run.tags.get(REPOSITORY_TAG):
        return run.tags[REPOSITORY_TAG] == repository
    selection = run.asset_selection
    return bool(selection) and all(key.path[0] in units for key in selection)
