"""GitHub state -> decisions, with a fake GitHub: runs once per head, approvals bound to commits, merges, cursor,
merges that wait for the checks at their head."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from gitops_pipelines.core.github.models import PullRequest, Review
from gitops_pipelines.core.github.events import parse_event
from gitops_pipelines.core.vocabulary import Intent
from gitops_pipelines.core.triggers import (MERGE_WAIT_LIMIT, AddPartition, CleanUp, MergedElsewhere, PendingMerge,
                                            RecordApproval, RunMerge, RunPrChecks, TriggerCursor, UnitRef,
                                            decide_events, decide_poll, hold_merges, release_merges)

LONG_AGO = "2026-01-01T00:00:00Z"
NOW = datetime(2026, 11, 2, 10, 0, 0, tzinfo=timezone.utc)
A, B, C = "a" * 40, "b" * 40, "c" * 40
BASE = "0" * 39 + "1"


class FakeGitHub:
    def __init__(self):
        self.files: dict[int, list[str]] = {}
        self.review_list: dict[int, list[Review]] = {}
        self.pulls: dict[int, PullRequest] = {}
        self.calls: list[tuple[str, int]] = []

    def changed_files(self, number):
        self.calls.append(("files", number))
        return self.files.get(number, [])

    def reviews(self, number):
        self.calls.append(("reviews", number))
        return self.review_list.get(number, [])

    def pull(self, number):
        self.calls.append(("pull", number))
        return self.pulls[number]


def affected(files):
    units = []
    if any(f.startswith("modules/bucket/") for f in files):
        units += [UnitRef("bucket", "module"), UnitRef("storage", "project")]
    elif any(f.startswith("projects/storage/") for f in files):
        units.append(UnitRef("storage", "project"))
    return units


def pr(number, head, *, updated=LONG_AGO, state="open", merged=False, base_ref="main", fork=False):
    return PullRequest(number=number, title="t", body="", state=state, merged=merged, head_sha=head, head_ref="f",
                       base_sha=BASE, base_ref=base_ref, author="dev", updated_at=updated,
                       head_repository="eve/infra" if fork else "acme/infra", fork=fork)


def test_new_pull_request_adds_its_partition_and_checks_each_affected_unit_once():
    gh = FakeGitHub()
    gh.files[7] = ["modules/bucket/main.tf"]
    decisions, cursor = decide_poll(TriggerCursor(), [pr(7, A)], gh, affected, now=NOW)
    assert decisions[0] == AddPartition(7)
    runs = [d for d in decisions if isinstance(d, RunPrChecks)]
    assert [(r.unit, r.run_key, r.partition_key) for r in runs] == [
        ("bucket", f"7:{A}:bucket:check", "pr-7"), ("storage", f"7:{A}:storage:check", "pr-7")]

    gh.calls.clear()
    again, cursor2 = decide_poll(TriggerCursor.from_json(cursor.to_json()), [pr(7, A)], gh, affected, now=NOW)
    assert again == [] and gh.calls == []  # nothing moved: no decision and no GitHub request
    assert cursor2.to_json() == cursor.to_json()


def test_untouched_units_are_not_run_and_a_docs_only_change_runs_nothing():
    gh = FakeGitHub()
    gh.files.update({1: ["projects/storage/main.tf"], 2: ["README.md"]})
    decisions, _ = decide_poll(TriggerCursor(), [pr(1, A), pr(2, B)], gh, affected, now=NOW)
    assert [(d.pr, d.unit) for d in decisions if isinstance(d, RunPrChecks)] == [(1, "storage")]
    assert AddPartition(2) not in decisions


def test_a_push_runs_the_checks_again_for_the_new_head():
    gh = FakeGitHub()
    gh.files[3] = ["projects/storage/main.tf"]
    _, cursor = decide_poll(TriggerCursor(), [pr(3, A)], gh, affected, now=NOW)
    decisions, cursor = decide_poll(cursor, [pr(3, B, updated="2026-01-02T00:00:00Z")], gh, affected, now=NOW)
    assert [d.run_key for d in decisions if isinstance(d, RunPrChecks)] == [f"3:{B}:storage:check"]
    assert cursor.pulls[3].head == B


def test_an_approval_of_an_older_commit_does_not_approve_the_head():
    gh = FakeGitHub()
    gh.files[4] = ["projects/storage/main.tf"]
    _, cursor = decide_poll(TriggerCursor(), [pr(4, B)], gh, affected, now=NOW)
    gh.review_list[4] = [Review("alice", "APPROVED", A, "2026-01-02T00:00:00Z", 1)]
    decisions, cursor = decide_poll(cursor, [pr(4, B, updated="2026-01-02T00:00:00Z")], gh, affected, now=NOW)
    assert decisions == [RecordApproval(4, "storage", "alice", A, B, approved=False)]
    assert cursor.pulls[4].approved is None

    gh.review_list[4].append(Review("alice", "APPROVED", B, "2026-01-03T00:00:00Z", 2))
    decisions, cursor = decide_poll(cursor, [pr(4, B, updated="2026-01-03T00:00:00Z")], gh, affected, now=NOW)
    assert decisions == [RecordApproval(4, "storage", "alice", B, B, approved=True, approvers=("alice",))]
    assert cursor.pulls[4].approved == B

    # the same reviews seen again (another update of the PR) are not recorded twice
    decisions, _ = decide_poll(cursor, [pr(4, B, updated="2026-01-04T00:00:00Z")], gh, affected, now=NOW)
    assert decisions == []


def test_changes_requested_by_another_reviewer_blocks_the_approval():
    gh = FakeGitHub()
    gh.files[5] = ["projects/storage/main.tf"]
    gh.review_list[5] = [Review("bob", "CHANGES_REQUESTED", A, "2026-01-01T00:00:00Z", 1),
                         Review("alice", "APPROVED", A, "2026-01-02T00:00:00Z", 2)]
    decisions, _ = decide_poll(TriggerCursor(), [pr(5, A)], gh, affected, now=NOW)
    approvals = [d for d in decisions if isinstance(d, RecordApproval)]
    assert [(d.reviewer, d.approved) for d in approvals] == [("alice", False)]


def test_a_recently_updated_pull_request_is_looked_at_again_once():
    gh = FakeGitHub()
    gh.files[6] = ["projects/storage/main.tf"]
    just_now = (NOW - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    _, cursor = decide_poll(TriggerCursor(), [pr(6, A, updated=just_now)], gh, affected, now=NOW)
    assert cursor.needs_recheck
    gh.calls.clear()
    _, cursor = decide_poll(cursor, [pr(6, A, updated=just_now)], gh, affected, now=NOW + timedelta(seconds=30))
    assert gh.calls == [("reviews", 6)] and not cursor.needs_recheck


def test_merged_pull_request_runs_merge_for_projects_and_release_for_modules():
    gh = FakeGitHub()
    gh.files[8] = ["modules/bucket/variables.tf"]
    _, cursor = decide_poll(TriggerCursor(), [pr(8, A)], gh, affected, now=NOW)
    gh.pulls[8] = pr(8, A, state="closed", merged=True)
    gh.calls.clear()
    decisions, cursor = decide_poll(cursor, [], gh, affected, now=NOW)
    assert gh.calls == [("pull", 8)]  # the units come from the cursor
    assert [(d.unit, d.intent, d.run_key) for d in decisions] == [
        ("bucket", Intent.RELEASE_MODULE, f"8:{A}:bucket:release_module"),
        ("storage", Intent.PROMOTE, f"8:{A}:storage:promote")]
    assert all(isinstance(d, RunMerge) for d in decisions) and 8 not in cursor.pulls


def test_closed_without_merge_cleans_up():
    gh = FakeGitHub()
    gh.files[9] = ["projects/storage/main.tf"]
    _, cursor = decide_poll(TriggerCursor(), [pr(9, A)], gh, affected, now=NOW)
    gh.pulls[9] = pr(9, A, state="closed")
    decisions, cursor = decide_poll(cursor, [], gh, affected, now=NOW)
    assert decisions == [CleanUp(9, A)] and cursor.pulls == {}


def test_cursor_round_trips_and_an_unknown_version_starts_afresh():
    cursor = TriggerCursor(delivery=42, etags={"u": 'W/"x"'})
    gh = FakeGitHub()
    gh.files[1] = ["projects/storage/main.tf"]
    _, cursor = decide_poll(cursor, [pr(1, A)], gh, affected, now=NOW)
    again = TriggerCursor.from_json(cursor.to_json())
    assert again.to_json() == cursor.to_json() and again.delivery == 42 and again.pulls[1].units == {
        "storage": "project"}
    assert TriggerCursor.from_json('{"v": 999}').pulls == {}
    assert TriggerCursor.from_json(None).delivery == 0


def _pull_payload(action, number, head, *, merged=False, base_ref="main", head_repo="acme/infra"):
    return {"action": action, "repository": {"full_name": "acme/infra"}, "pull_request": {
        "number": number, "head": {"sha": head, "ref": "f", "repo": head_repo and {"full_name": head_repo}},
        "base": {"sha": BASE, "ref": base_ref}, "merged": merged, "merge_commit_sha": C if merged else None,
        "title": "t", "body": None, "user": {"login": "dev"}, "labels": []}}


def _review_payload(number, head, commit, state="approved", reviewer="alice", head_repo="acme/infra"):
    return {"action": "submitted", "repository": {"full_name": "acme/infra"},
            "review": {"state": state, "user": {"login": reviewer}, "commit_id": commit, "submitted_at": None},
            "pull_request": {"number": number, "head": {"sha": head, "repo": head_repo and {"full_name": head_repo}},
                             "base": {"ref": "main"}}}


def test_webhook_events_give_the_same_decisions_and_keep_the_delivery_id():
    gh = FakeGitHub()
    gh.files[3] = ["modules/bucket/main.tf"]
    events = [
        (10, parse_event("pull_request", _pull_payload("opened", 3, A))),
        (11, parse_event("pull_request", _pull_payload("synchronize", 3, B))),
        (12, parse_event("pull_request_review", _review_payload(3, B, A))),
        (13, parse_event("pull_request_review", _review_payload(3, B, B))),
        (14, None),  # an event the sensors do not handle
        (15, parse_event("pull_request", _pull_payload("closed", 3, B, merged=True))),
    ]
    decisions, cursor = decide_events(TriggerCursor(), events, gh, affected, repository="acme/infra")
    kinds = [(type(d).__name__, getattr(d, "unit", None), getattr(d, "head_sha", None)) for d in decisions]
    assert kinds == [
        ("AddPartition", None, None), ("RunPrChecks", "bucket", A), ("RunPrChecks", "storage", A),
        ("AddPartition", None, None), ("RunPrChecks", "bucket", B), ("RunPrChecks", "storage", B),
        ("RecordApproval", "bucket", B), ("RecordApproval", "storage", B),
        ("RecordApproval", "bucket", B), ("RecordApproval", "storage", B),
        ("RunMerge", "bucket", B), ("RunMerge", "storage", B),
    ]
    approvals = [d for d in decisions if isinstance(d, RecordApproval)]
    assert [(d.commit_id, d.approved) for d in approvals] == [(A, False), (A, False), (B, True), (B, True)]
    merges = [d for d in decisions if isinstance(d, RunMerge)]
    assert {m.merge_sha for m in merges} == {C} and {m.intent for m in merges} == {Intent.RELEASE_MODULE, Intent.PROMOTE}
    assert cursor.delivery == 15 and cursor.pulls == {}

    # replaying the same deliveries from the returned cursor's position does nothing
    again, _ = decide_events(cursor, [], gh, affected)
    assert again == []


def test_webhook_for_another_repository_is_ignored():
    gh = FakeGitHub()
    event = parse_event("pull_request", _pull_payload("opened", 3, A))
    decisions, cursor = decide_events(TriggerCursor(), [(1, event)], gh, affected, repository="acme/other")
    assert decisions == [] and cursor.delivery == 1


def test_incremental_poll_sees_a_merge_in_the_moved_list_without_another_request():
    gh = FakeGitHub()
    gh.files[8] = ["projects/storage/main.tf"]
    _, cursor = decide_poll(TriggerCursor(), [pr(8, A), pr(9, B)], gh, affected, now=NOW)
    gh.calls.clear()
    merged = pr(8, A, state="closed", merged=True, updated="2026-01-02T00:00:00Z")
    decisions, cursor = decide_poll(cursor, [merged], gh, affected, complete=False, now=NOW)
    assert gh.calls == [] and [d.run_key for d in decisions] == [f"8:{A}:storage:promote"]
    assert 9 in cursor.pulls and 8 not in cursor.pulls  # absent from a partial list is not closed


def test_a_recheck_happens_even_when_the_poll_saw_nothing_move():
    gh = FakeGitHub()
    gh.files[6] = ["projects/storage/main.tf"]
    just_now = (NOW - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    _, cursor = decide_poll(TriggerCursor(), [pr(6, A, updated=just_now)], gh, affected, now=NOW)
    gh.review_list[6] = [Review("alice", "APPROVED", A, just_now, 1)]  # same second: the list did not change
    decisions, cursor = decide_poll(cursor, [], gh, affected, complete=False, now=NOW + timedelta(seconds=30))
    assert [d.approved for d in decisions] == [True] and not cursor.needs_recheck


# -- merges wait for the checks at their head --------------------------------------------------------------------
def _merged_storage(gh, number=12, head=A):
    """A cursor that checked `head` of a storage change, and the merge decisions once it is merged."""
    gh.files[number] = ["projects/storage/main.tf"]
    _, cursor = decide_poll(TriggerCursor(), [pr(number, head)], gh, affected, now=NOW)
    gh.pulls[number] = pr(number, head, state="closed", merged=True)
    return decide_poll(cursor, [], gh, affected, now=NOW)


def test_a_merge_waits_in_the_cursor_while_the_checks_at_its_head_run():
    decisions, cursor = _merged_storage(FakeGitHub())
    asked = []

    def running(merge):
        asked.append((merge.pr, merge.head_sha, merge.unit))
        return "run 1a2b3c4d is STARTED"

    started, cursor, held = hold_merges(decisions, cursor, running, NOW)
    assert started == [] and asked == [(12, A, "storage")]
    assert [p.merge for p in cursor.pending_merges] == [RunMerge(12, A, None, "storage", "project")]
    assert held.waiting == [f"#12 storage: merge of {A[:12]} waits for the PR checks at that head "
                            "(run 1a2b3c4d is STARTED; waiting 0m of at most 2h00m)"]

    # a restarted sensor reads it back from the cursor and asks again; the checks finished: it starts, once
    cursor = TriggerCursor.from_json(cursor.to_json())
    assert cursor.pending_merges[0].since == "2026-11-02T10:00:00Z"
    started, cursor, held = hold_merges([], cursor, lambda merge: None, NOW + timedelta(minutes=5))
    assert started == [RunMerge(12, A, None, "storage", "project")] and held.waiting == held.overdue == []
    assert cursor.pending_merges == [] and '"pending"' not in cursor.to_json()
    again, cursor, _ = hold_merges([], cursor, lambda merge: None, NOW + timedelta(minutes=6))
    assert again == []


def test_a_merge_decided_again_keeps_the_time_it_was_first_seen():
    decisions, cursor = _merged_storage(FakeGitHub())
    _, cursor, _ = hold_merges(decisions, cursor, lambda merge: "run x is QUEUED", NOW)
    _, cursor, _ = hold_merges(decisions, cursor, lambda merge: "run x is QUEUED", NOW + timedelta(minutes=30))
    assert [(p.merge.run_key, p.since) for p in cursor.pending_merges] == [
        (f"12:{A}:storage:promote", "2026-11-02T10:00:00Z")]


def test_a_merge_that_waits_past_the_limit_starts_anyway():
    decisions, cursor = _merged_storage(FakeGitHub())
    stuck = lambda merge: "run 1a2b3c4d is STARTED"  # noqa: E731
    _, cursor, _ = hold_merges(decisions, cursor, stuck, NOW)
    started, cursor, held = hold_merges([], cursor, stuck, NOW + MERGE_WAIT_LIMIT - timedelta(seconds=1))
    assert started == [] and len(cursor.pending_merges) == 1
    started, cursor, held = hold_merges([], cursor, stuck, NOW + MERGE_WAIT_LIMIT)
    assert started == [RunMerge(12, A, None, "storage", "project")] and cursor.pending_merges == []
    [line] = held.overdue
    assert line.startswith(f"#12 storage: merge of {A[:12]} has waited 2h00m for the PR checks at that head "
                           "(run 1a2b3c4d is STARTED), past the 2h00m limit: starting it anyway")
    assert "promotion gate" in line


def test_release_merges_keeps_order_and_only_the_ones_still_running():
    first = PendingMerge(RunMerge(1, A, C, "storage", "project"), "2026-11-02T09:00:00Z")
    second = PendingMerge(RunMerge(2, B, None, "bucket", "module"), "2026-11-02T09:30:00Z")
    out = release_merges([first, second], lambda m: "run y is QUEUED" if m.pr == 2 else None, NOW,
                         limit=timedelta(hours=1))
    assert out.start == [first.merge] and out.pending == [second] and len(out.waiting) == 1 and out.overdue == []


def test_checks_asked_for_in_the_same_batch_as_the_merge_run_first():
    gh = FakeGitHub()
    gh.files[3] = ["projects/storage/main.tf"]
    events = [(1, parse_event("pull_request", _pull_payload("opened", 3, A))),
              (2, parse_event("pull_request", _pull_payload("closed", 3, A, merged=True)))]
    decisions, cursor = decide_events(TriggerCursor(), events, gh, affected, repository="acme/infra")
    nothing_running = lambda merge: None  # noqa: E731 - the instance has no run yet: it is asked for in this tick
    decisions, cursor, held = hold_merges(decisions, cursor, nothing_running, NOW)
    assert [type(d).__name__ for d in decisions] == ["AddPartition", "RunPrChecks"]
    assert held.waiting and "requested in this same tick" in held.waiting[0]
    assert [p.merge.merge_sha for p in cursor.pending_merges] == [C]
    decisions, cursor, _ = hold_merges([], cursor, nothing_running, NOW + timedelta(minutes=1))
    assert decisions == [RunMerge(3, A, C, "storage", "project")] and cursor.pending_merges == []


def test_pending_merges_round_trip_and_an_older_cursor_without_them_loads():
    old = ('{"delivery":3,"pulls":{"7":{"base":"' + BASE + '","head":"' + A + '","units":{"storage":"project"}}},'
           '"v":1}')
    cursor = TriggerCursor.from_json(old)
    assert cursor.pending_merges == [] and cursor.pulls[7].head == A and cursor.delivery == 3
    assert cursor.to_json() == old  # nothing pending: the JSON is what it was before pending merges existed
    cursor.pending_merges = [PendingMerge(RunMerge(7, A, C, "storage", "project"), "2026-11-02T10:00:00Z"),
                             PendingMerge(RunMerge(8, B, None, "bucket", "module"), "2026-11-02T10:01:00Z")]
    again = TriggerCursor.from_json(cursor.to_json())
    assert again.pending_merges == cursor.pending_merges and again.to_json() == cursor.to_json()


# -- forks and other bases ------------------------------------------------------------------------------------------
def test_checks_say_whether_the_head_is_a_forks_and_which_branch_it_merges_into():
    gh = FakeGitHub()
    gh.files.update({1: ["projects/storage/main.tf"], 2: ["projects/storage/main.tf"]})
    decisions, _ = decide_poll(TriggerCursor(), [pr(1, A, fork=True), pr(2, B, base_ref="develop")], gh, affected,
                               now=NOW)
    runs = {d.pr: d for d in decisions if isinstance(d, RunPrChecks)}
    assert (runs[1].fork, runs[1].base_ref) == (True, "main")
    assert (runs[2].fork, runs[2].base_ref) == (False, "develop")
    assert runs[1].run_key == f"1:{A}:storage:check"  # a fork's checks are asked for: the stages refuse and say why


def test_webhooks_carry_the_fork_and_the_base_too_a_review_first_included():
    gh = FakeGitHub()
    gh.files.update({3: ["projects/storage/main.tf"], 4: ["projects/storage/main.tf"]})
    events = [(1, parse_event("pull_request", _pull_payload("opened", 3, A, head_repo="eve/infra"))),
              (2, parse_event("pull_request", _pull_payload("opened", 5, B, head_repo=None))),  # a deleted fork
              (3, parse_event("pull_request_review", _review_payload(4, C, C, head_repo="eve/infra")))]
    gh.files[5] = ["projects/storage/main.tf"]
    decisions, _ = decide_events(TriggerCursor(), events, gh, affected, repository="acme/infra")
    runs = {d.pr: (d.fork, d.base_ref) for d in decisions if isinstance(d, RunPrChecks)}
    assert runs == {3: (True, "main"), 5: (True, "main"), 4: (True, "main")}


def test_a_merge_into_another_branch_deploys_nothing():
    gh = FakeGitHub()
    gh.files[8] = ["modules/bucket/main.tf"]
    _, cursor = decide_poll(TriggerCursor(), [pr(8, A, base_ref="develop")], gh, affected, now=NOW)
    gh.pulls[8] = pr(8, A, state="closed", merged=True, base_ref="develop")
    decisions, cursor = decide_poll(cursor, [], gh, affected, now=NOW)
    assert decisions == [MergedElsewhere(8, A, "develop", "main")] and 8 not in cursor.pulls
    assert "deploys nothing" in decisions[0].explain() and "'develop'" in decisions[0].explain()

    # the same through webhooks, and with another deployed branch: a merge into it does run
    events = [(1, parse_event("pull_request", _pull_payload("opened", 9, B, base_ref="trunk"))),
              (2, parse_event("pull_request", _pull_payload("closed", 9, B, merged=True, base_ref="trunk")))]
    gh.files[9] = ["projects/storage/main.tf"]
    decisions, _ = decide_events(TriggerCursor(), events, gh, affected, repository="acme/infra")
    assert [type(d).__name__ for d in decisions] == ["AddPartition", "RunPrChecks", "MergedElsewhere"]
    decisions, _ = decide_events(TriggerCursor(), events, gh, affected, repository="acme/infra",
                                 main_branch="trunk")
    assert [type(d).__name__ for d in decisions] == ["AddPartition", "RunPrChecks", "RunMerge"]


def test_an_incremental_poll_sees_a_merge_elsewhere_without_another_request():
    gh = FakeGitHub()
    gh.files[8] = ["projects/storage/main.tf"]
    _, cursor = decide_poll(TriggerCursor(), [pr(8, A, base_ref="release/1.x")], gh, affected, now=NOW)
    gh.calls.clear()
    merged = pr(8, A, state="closed", merged=True, base_ref="release/1.x", updated="2026-01-02T00:00:00Z")
    decisions, _ = decide_poll(cursor, [merged], gh, affected, complete=False, now=NOW)
    assert decisions == [MergedElsewhere(8, A, "release/1.x", "main")] and gh.calls == []
    assert not any(isinstance(d, RunMerge) for d in decisions)
