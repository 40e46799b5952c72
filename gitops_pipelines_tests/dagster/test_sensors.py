"""The GitHub sensors on a real instance, against the GitHub emulator, with the runs they ask for executed for real
(Terraform + moto): checks on the head commit, one plan comment per unit+environment, approvals bound to commits."""

from __future__ import annotations

import json

import dagster as dg

from gitops_pipelines.defs.github.sensors import WEBHOOK_SENSOR
from gitops_pipelines.resources.github import GitHubResource
from gitops_pipelines_dev.infra import SAMPLE

from .conftest import failure_messages, latest_metadata
from .sensor_support import REPO, Sensor, check_runs, execute

def plan_comments(emu, number: int):
    return [c for c in emu.repo.comments_on(number) if "gitops-pipelines:unit=storage env=test" in c.body]


def tweak(n: int) -> dict[str, str]:
    """A change to the bucket module and to the storage project (which uses the module's release by tag, so a
    change to the module alone would not touch it)."""
    return {path: (SAMPLE / path).read_text() + f"\n# tweak {n}\n"
            for path in ("modules/bucket/main.tf", "projects/storage/main.tf")}


def test_pull_request_flow_through_the_polling_sensor(github_env, instance):
    emu, checkout, defs, github, make_defs = github_env
    sensor = Sensor(defs, instance, github)
    assert not sensor.tick().run_requests  # nothing open yet

    issue = emu.create_issue("Bigger buckets")
    emu.commit("bucket-tweak", tweak(1))
    number = emu.open_pull("bucket-tweak", "Tweak the bucket module", f"Fixes #{issue}")
    head1 = emu.repo.pull(number).head_sha

    # PR opened -> its partition, and pr_checks for each unit it touches: the module and the project
    result = sensor.tick()
    assert f"pr-{number}" in instance.get_dynamic_partitions("changes")
    requests = {r.asset_selection[0].path[0]: r for r in result.run_requests}
    assert set(requests) == {"bucket", "storage"}
    storage = requests["storage"]
    assert storage.job_name == "pr_checks" and storage.partition_key == f"pr-{number}"
    assert storage.run_key == f"{number}:{head1}:storage:check"
    assert {k.to_user_string() for k in storage.asset_selection} == {
        "storage/syntax", "storage/ephemeral_test", "storage/test_plan"}
    assert storage.tags["gitops/head_sha"] == head1 and storage.tags["gitops/pr"] == str(number)
    assert storage.tags["gitops/base_sha"] == emu.repo.pull(number).base_sha
    for request in result.run_requests:
        execute(defs, instance, checkout, request)

    checks = check_runs(emu, head1)
    for name in ("bucket/syntax", "storage/syntax", "storage/plan (test)", "storage/policy (test)", "work_item"):
        assert checks[name] == ("completed", "success"), (name, checks)
    [comment] = plan_comments(emu, number)
    assert "Plan for `storage` in `test`" in comment.body and head1[:12] in comment.body
    assert "tok-9f3b2c71" not in comment.body

    # nothing new -> no runs; a push -> the checks again for the new head, and the SAME comment is edited
    assert not sensor.tick().run_requests
    before_push = sensor.cursor
    head2 = emu.push(number, tweak(2))
    result = sensor.tick()
    assert {r.run_key for r in result.run_requests} == {
        f"{number}:{head2}:bucket:check", f"{number}:{head2}:storage:check"}
    for request in result.run_requests:
        execute(defs, instance, checkout, request)
    [updated] = plan_comments(emu, number)
    assert updated.id == comment.id and head2[:12] in updated.body and head1[:12] not in updated.body
    assert check_runs(emu, head2)["storage/plan (test)"] == ("completed", "success")

    # a restarted sensor (same old cursor, no memory) asks for nothing twice
    assert not sensor.tick(cursor=before_push).run_requests

    # an approval of the old commit approves nothing; an approval of the head does
    sensor.tick()
    emu.review(number, "alice", "APPROVED", commit_id=head1)
    result = sensor.tick()
    assert not result.run_requests
    assert [(type(e).__name__, e.metadata["approved"].value, e.metadata["commit_id"].value)
            for e in result.asset_events] == [("AssetObservation", False, head1)] * 2
    assert not instance.fetch_materializations(dg.AssetKey(["storage", "approval"]), limit=1).records

    emu.review(number, "alice", "APPROVED")
    result = sensor.tick()
    approvals = {e.asset_key.path[0]: e for e in result.asset_events}
    assert set(approvals) == {"bucket", "storage"}
    assert all(isinstance(e, dg.AssetMaterialization) for e in approvals.values())
    meta = approvals["storage"].metadata
    assert meta["reviewer"].value == "alice" and meta["commit_id"].value == head2 and meta["approved"].value
    [record] = instance.fetch_materializations(dg.AssetRecordsFilter(
        asset_key=dg.AssetKey(["storage", "approval"]), asset_partitions=[f"pr-{number}"]), limit=1).records
    assert record.asset_materialization.metadata["reviewer"].value == "alice"

    # merge -> merge for the project, release for the module (modules release on merge)
    merge_sha = emu.merge(number)
    result = sensor.tick()
    by_job = {(r.job_name, r.asset_selection[0].path[0]) for r in result.run_requests}
    assert by_job == {("merge", "storage"), ("release", "bucket")}
    merge = next(r for r in result.run_requests if r.job_name == "merge")
    assert {k.to_user_string() for k in merge.asset_selection} == {"storage/test_deploy", "storage/prod_plan"}
    assert merge.run_key == f"{number}:{head2}:storage:promote" and merge.tags["gitops/head_sha"] == head2
    assert merge.tags["gitops/merge_sha"] == merge_sha, "runs after a merge are bound to the merge commit"

    # and then nothing more
    assert not sensor.tick().run_requests
    assert not sensor.tick().run_requests


def test_closed_without_merge_cancels_runs_not_started(github_env, instance):
    emu, checkout, defs, github, make_defs = github_env
    sensor = Sensor(defs, instance, github)
    emu.commit("p", {"projects/storage/main.tf": (SAMPLE / "projects/storage/main.tf").read_text() + "\n# x\n"})
    number = emu.open_pull("p", "Change storage", "no work item")
    [request] = sensor.tick().run_requests
    job = defs.resolve_job_def("pr_checks")
    assert request.tags["gitops/repository"] == REPO
    queued = instance.create_run_for_job(job, status=dg.DagsterRunStatus.NOT_STARTED,
                                         tags={**request.tags, "dagster/partition": request.partition_key})
    # the same pull request number in another repository (its own code location) is another change
    elsewhere = instance.create_run_for_job(job, status=dg.DagsterRunStatus.NOT_STARTED, tags={
        **request.tags, "dagster/partition": request.partition_key, "gitops/repository": "acme/modules"})
    emu.close(number)
    assert not sensor.tick().run_requests
    assert instance.get_run_by_id(queued.run_id).status == dg.DagsterRunStatus.CANCELED
    assert instance.get_run_by_id(elsewhere.run_id).status == dg.DagsterRunStatus.NOT_STARTED
    assert sensor.cursor and f'"{number}"' not in sensor.cursor.split('"pulls"')[1]


def test_webhook_sensor_reads_the_store_and_polling_stands_down(github_env, instance, tmp_path):
    from gitops_pipelines.core.github.webhook_store import WebhookStore

    emu, checkout, defs, github, make_defs = github_env
    store = WebhookStore(tmp_path / "webhooks.db")
    hooked = GitHubResource(repository=REPO, api_url=emu.base_url, token="ghp_test", webhook_db=str(store.path),
                            seconds_between_requests=0, seconds_between_writes=0)
    emu.commit("p", {"projects/storage/main.tf": (SAMPLE / "projects/storage/main.tf").read_text() + "\n# x\n"})
    number = emu.open_pull("p", "Change storage")
    for delivery in emu.deliveries():
        store.record(delivery.id, delivery.event, json.dumps(delivery.payload).encode())

    defs = make_defs(hooked)
    poll = Sensor(defs, instance, hooked)
    assert not poll.tick().run_requests  # stands down: webhooks are configured
    hooks = Sensor(defs, instance, hooked, WEBHOOK_SENSOR)
    [request] = hooks.tick().run_requests
    assert request.run_key == f"{number}:{emu.repo.pull(number).head_sha}:storage:check"
    assert not hooks.tick().run_requests  # the cursor moved past every delivery


def _queued_checks(defs, instance, request: dg.RunRequest, status=dg.DagsterRunStatus.NOT_STARTED):
    """The run the daemon would create for a pr_checks request, not finished yet."""
    return instance.create_run_for_job(
        defs.resolve_job_def("pr_checks"), status=status, asset_selection=frozenset(request.asset_selection),
        tags={**request.tags, "dagster/partition": request.partition_key, "dagster/run_key": request.run_key})


def test_a_merge_waits_until_the_checks_at_its_head_finished(github_env, instance, capfd):
    emu, checkout, defs, github, make_defs = github_env
    sensor = Sensor(defs, instance, github)
    emu.commit("p", {"projects/storage/main.tf": (SAMPLE / "projects/storage/main.tf").read_text() + "\n# x\n"})
    number = emu.open_pull("p", "Change storage", "no work item")
    head = emu.repo.pull(number).head_sha
    [check] = sensor.tick().run_requests
    assert check.job_name == "pr_checks"
    running = _queued_checks(defs, instance, check, dg.DagsterRunStatus.STARTED)

    # merged while its checks still run: no merge run, the merge waits in the cursor, and the log says why
    emu.merge(number)
    capfd.readouterr()
    assert not sensor.tick().run_requests
    assert json.loads(sensor.cursor)["pending"][0]["head"] == head
    assert (f"#{number} storage: merge of {head[:12]} waits for the PR checks at that head "
            f"(run {running.run_id[:8]} is STARTED") in capfd.readouterr().err  # the sensor's context.log
    assert not sensor.tick().run_requests  # asked again every tick, still waiting

    # the checks finished (failed: the promotion gate then refuses the deploy) -> the merge starts, once
    instance.report_run_failed(running, message="a stage failed")
    [merge] = sensor.tick().run_requests
    assert merge.job_name == "merge" and merge.run_key == f"{number}:{head}:storage:promote"
    assert "pending" not in json.loads(sensor.cursor)
    assert not sensor.tick().run_requests


def test_checks_and_a_merge_in_the_same_webhook_batch_run_in_order(github_env, instance, tmp_path):
    from gitops_pipelines.core.github.webhook_store import WebhookStore

    emu, checkout, defs, github, make_defs = github_env
    store = WebhookStore(tmp_path / "webhooks.db")
    hooked = GitHubResource(repository=REPO, api_url=emu.base_url, token="ghp_test", webhook_db=str(store.path),
                            seconds_between_requests=0, seconds_between_writes=0)
    emu.commit("p", {"projects/storage/main.tf": (SAMPLE / "projects/storage/main.tf").read_text() + "\n# x\n"})
    number = emu.open_pull("p", "Change storage")
    emu.merge(number)
    for delivery in emu.deliveries():
        store.record(delivery.id, delivery.event, json.dumps(delivery.payload).encode())

    hooks = Sensor(make_defs(hooked), instance, hooked, WEBHOOK_SENSOR)
    [check] = hooks.tick().run_requests  # opened and merged in one batch: the checks first, the merge waits
    assert check.job_name == "pr_checks" and len(json.loads(hooks.cursor)["pending"]) == 1
    queued = _queued_checks(defs, instance, check)
    assert not hooks.tick().run_requests  # no new delivery, the checks have not started: still waiting
    instance.report_run_canceled(queued)
    [merge] = hooks.tick().run_requests
    assert merge.job_name == "merge" and merge.run_key == f"{number}:{check.tags['gitops/head_sha']}:storage:promote"
    assert not hooks.tick().run_requests


# -- forks and other bases ------------------------------------------------------------------------------------------
def _run_stages(defs, instance, request: dg.RunRequest, stages: set[str]):
    """Run a request's stages without touching the working copy: the stages check out what they are bound to."""
    selection = [k for k in request.asset_selection if k.path[-1] in stages]
    return defs.resolve_job_def(request.job_name).execute_in_process(
        instance=instance, partition_key=request.partition_key, asset_selection=selection,
        tags={**request.tags, "dagster/run_key": request.run_key}, raise_on_error=False)


def test_a_fork_pull_request_is_not_planned_and_its_checks_say_why(github_env, instance, tmp_path):
    emu, checkout, defs, github, make_defs = github_env
    sensor = Sensor(defs, instance, github)
    fork = emu.create_repo("eve", "infra", fork_of=REPO)
    storage_tf = (SAMPLE / "projects/storage/main.tf").read_text()
    head = fork.commit("evil", {"projects/storage/main.tf": storage_tf + "\n# from a fork\n"}, "From a fork",
                       author="eve")
    number = emu.open_pull("evil", "From a fork", "no work item", head_repo="eve/infra", user="eve")

    [request] = sensor.tick().run_requests
    assert request.tags["gitops/fork"] == "true" and request.tags["gitops/base_ref"] == "main"
    assert request.tags["gitops/head_sha"] == head
    result = _run_stages(defs, instance, request, {"syntax", "ephemeral_test", "test_plan"})
    assert not result.success
    failures = failure_messages(result)
    assert "comes from the fork eve/infra" in failures and "github.allow_fork_prs" in failures

    # each stage's check run on the head failed and says why
    checks = check_runs(emu, head)
    for name in ("storage/syntax", "storage/ephemeral_test", "storage/plan (test)"):
        assert checks[name] == ("completed", "failure"), (name, checks)
    summaries = {r.name: r.output.get("summary") or "" for r in emu.repo.check_runs.values() if r.head_sha == head}
    assert all("fork" in summaries[name] and "allow_fork_prs" in summaries[name]
               for name in ("storage/syntax", "storage/ephemeral_test", "storage/plan (test)")), summaries

    # nothing was planned or stored, and the fork's code was never checked out
    for stage in ("syntax", "ephemeral_test", "test_plan"):
        assert not instance.fetch_materializations(dg.AssetRecordsFilter(
            asset_key=dg.AssetKey(["storage", stage]), asset_partitions=[f"pr-{number}"]), limit=1).records
    plans = tmp_path / "plans"
    assert not plans.exists() or not any(p.is_file() for p in plans.rglob("*"))
    assert not (checkout / ".gitops" / "checkouts" / head).exists()


def test_a_pull_request_into_another_branch_is_checked_and_its_merge_deploys_nothing(github_env, instance, capfd):
    emu, checkout, defs, github, make_defs = github_env
    sensor = Sensor(defs, instance, github)
    storage_tf = (SAMPLE / "projects/storage/main.tf").read_text()
    emu.commit("develop", {"README.md": "# the develop branch\n"})
    emu.commit("p", {"projects/storage/main.tf": storage_tf + "\n# for develop\n"})
    number = emu.open_pull("p", "Change storage on develop", "no work item", base="develop")

    [request] = sensor.tick().run_requests
    assert request.tags["gitops/base_ref"] == "develop" and request.tags["gitops/fork"] == "false"
    execute(defs, instance, checkout, request)
    head = request.tags["gitops/head_sha"]
    checks = check_runs(emu, head)
    assert checks["storage/syntax"] == checks["storage/plan (test)"] == ("completed", "success"), checks
    syntax = latest_metadata(instance, "storage/syntax", f"pr-{number}")
    assert syntax["deploys"] is False and "merging it deploys nothing" in syntax["deploys_note"]

    emu.merge(number)
    capfd.readouterr()
    assert not sensor.tick().run_requests  # no merge run: nothing deploys a merge into develop
    assert f"#{number} was merged into 'develop', not 'main'" in capfd.readouterr().err
    assert "pending" not in json.loads(sensor.cursor) and not sensor.tick().run_requests
