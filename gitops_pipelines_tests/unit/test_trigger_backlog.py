"""The pull requests already open at the poll sensor's first tick, looked at a few per tick: bounded work per tick,
every one looked at once, none skipped when others close meanwhile, and a merge before it was looked at still runs."""

from __future__ import annotations

from datetime import timedelta

from gitops_pipelines.core.triggers import (AddPartition, RecordApproval, RunMerge, RunPrChecks, TriggerCursor,
                                            decide_poll, start_backlog, work_backlog)
from gitops_pipelines.core.github.models import Review
from gitops_pipelines_tests.unit.test_triggers import NOW, FakeGitHub, affected, pr

STARTED = "2026-11-02T09:00:00Z"  # the poll's watermark at the first tick
PAGE = 10


class OpenList:
    """GitHub's open pull requests, oldest first, a page at a time; remembers which pages were read."""

    def __init__(self, pulls):
        self.pulls = {p.number: p for p in pulls}
        self.reads: list[int] = []

    def read_page(self, page):
        self.reads.append(page)
        ordered = [self.pulls[n] for n in sorted(self.pulls)]
        return ordered[(page - 1) * PAGE: page * PAGE], len(ordered) > page * PAGE


def repository(count, every=3):
    """`count` open pull requests; every `every`-th touches the storage project, the others only the docs."""
    gh = FakeGitHub()
    heads = {n: f"{n:040x}" for n in range(1, count + 1)}
    for n in heads:
        gh.files[n] = ["projects/storage/main.tf"] if n % every == 0 else ["README.md"]
    return gh, OpenList([pr(n, head) for n, head in heads.items()]), heads


def tick(cursor, gh, open_list, budget=8):
    gh.calls.clear()
    reads = len(open_list.reads)
    decisions, cursor = work_backlog(cursor, open_list.read_page, gh, affected, page_size=PAGE, budget=budget,
                                     now=NOW)
    return decisions, cursor, len(gh.calls) + len(open_list.reads) - reads


def drain(cursor, gh, open_list, budget=8, limit=100):
    decisions, costs = [], []
    while cursor.backlog is not None and len(costs) < limit:
        more, cursor, cost = tick(cursor, gh, open_list, budget)
        decisions += more
        costs.append(cost)
    return decisions, cursor, costs


def checked(decisions):
    return [(d.pr, d.head_sha) for d in decisions if isinstance(d, RunPrChecks)]


def test_a_fresh_cursor_looks_at_the_open_pull_requests_a_few_per_tick_each_once():
    gh, open_list, heads = repository(35)
    cursor = start_backlog(TriggerCursor(), STARTED)
    decisions, cursor, costs = drain(cursor, gh, open_list)

    assert max(costs) <= 8 + 1  # the budget, give or take the one examination that crosses it
    assert len(costs) > 3 and cursor.backlog is None
    touching = [n for n in heads if n % 3 == 0]
    assert checked(decisions) == [(n, heads[n]) for n in touching]  # each once, oldest first
    assert [d.pr for d in decisions if isinstance(d, AddPartition)] == touching
    assert set(cursor.pulls) == set(heads) and cursor.pulls[3].units == {"storage": "project"}

    # afterwards the backlog costs nothing: the tick is the incremental poll's alone
    assert work_backlog(cursor, open_list.read_page, gh, affected, page_size=PAGE) == ([], cursor)


def test_reviews_are_asked_only_for_pull_requests_that_touch_a_unit():
    gh, open_list, heads = repository(12)
    gh.review_list[6] = [Review("alice", "APPROVED", heads[6], "2026-01-02T00:00:00Z", 1)]
    decisions, cursor, _ = tick(start_backlog(TriggerCursor(), STARTED), gh, open_list, budget=100)
    assert cursor.backlog.done
    asked = [n for kind, n in gh.calls if kind == "reviews"]
    assert asked == [3, 6, 9, 12] and len(gh.calls) == 12 + 4  # files of each, reviews of those four only
    approvals = [d for d in decisions if isinstance(d, RecordApproval)]
    assert [(d.pr, d.approved) for d in approvals] == [(6, True)]


def test_pull_requests_closed_meanwhile_do_not_make_the_next_ones_skipped():
    gh, open_list, heads = repository(40, every=1)  # every one touches storage
    _, cursor, _ = tick(start_backlog(TriggerCursor(), STARTED), gh, open_list, budget=25)
    looked_at = cursor.backlog.after
    assert 10 < looked_at < 40  # past the first page
    for n in range(1, 8):  # seven of those already looked at close: the later ones move forward on the list
        open_list.pulls.pop(n)
    decisions, cursor, _ = drain(cursor, gh, open_list, budget=6)
    assert [n for n, _ in checked(decisions)] == list(range(looked_at + 1, 41))


def test_a_pull_request_the_poll_already_looked_at_is_not_looked_at_again():
    gh, open_list, heads = repository(30, every=1)
    cursor = start_backlog(TriggerCursor(), STARTED)
    _, cursor, _ = tick(cursor, gh, open_list)
    # #25 is pushed before the backlog reached it: the incremental poll sees it move and checks the new head
    pushed = pr(25, "e" * 40, updated="2026-11-02T09:30:00Z")
    open_list.pulls[25] = pushed
    polled, cursor = decide_poll(cursor, [pushed], gh, affected, complete=False, now=NOW)
    assert checked(polled) == [(25, "e" * 40)]
    decisions, cursor, _ = drain(cursor, gh, open_list)
    assert 25 not in [n for n, _ in checked(decisions)] and cursor.backlog is None


def test_a_merge_before_the_backlog_reached_it_gets_its_checks_then_its_merge():
    gh, open_list, heads = repository(30, every=1)
    _, cursor, _ = tick(start_backlog(TriggerCursor(), STARTED), gh, open_list)
    assert cursor.backlog.after < 28
    merged = pr(28, heads[28], state="closed", merged=True, updated="2026-11-02T09:30:00Z")
    long_ago = pr(29, heads[29], state="closed", merged=True, updated="2026-11-02T09:30:00Z")  # a comment moved it
    open_list.pulls.pop(28)
    open_list.pulls.pop(29)
    decisions, cursor = decide_poll(cursor, [merged, long_ago], gh, affected, complete=False, now=NOW,
                                    merged_at={28: "2026-11-02T09:29:00Z", 29: "2026-10-01T00:00:00Z"})
    assert [type(d).__name__ for d in decisions] == ["AddPartition", "RunPrChecks", "RunMerge"]
    assert decisions[-1] == RunMerge(28, heads[28], None, "storage", "project")  # it waits for the checks
    assert 28 not in cursor.pulls and 29 not in cursor.pulls

    # without a backlog (the first tick looked at everything) an unknown merge stays unknown, as before
    decisions, _ = decide_poll(TriggerCursor(), [merged], gh, affected, complete=False, now=NOW,
                               merged_at={28: "2026-11-02T09:29:00Z"})
    assert decisions == []


def test_the_backlog_survives_the_cursor_round_trip():
    gh, open_list, heads = repository(25)
    _, cursor, _ = tick(start_backlog(TriggerCursor(), STARTED), gh, open_list)
    again = TriggerCursor.from_json(cursor.to_json())
    assert again.backlog == cursor.backlog and again.backlog.started == STARTED
    assert '"backlog"' not in TriggerCursor().to_json()
    assert start_backlog(TriggerCursor(), None).backlog is None  # no pull request at all: nothing to look at


def test_recently_updated_ones_are_rechecked_once_but_docs_only_ones_never():
    gh, open_list, heads = repository(6)
    just_now = (NOW - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    open_list.pulls = {n: pr(n, heads[n], updated=just_now) for n in heads}
    _, cursor, _ = drain(start_backlog(TriggerCursor(), STARTED), gh, open_list, budget=100)
    assert sorted(n for n, m in cursor.pulls.items() if m.recheck) == [3, 6]


def test_a_merge_while_the_last_page_was_read_still_runs_on_the_next_tick():
    gh, open_list, heads = repository(6, every=1)
    merged = pr(6, heads[6], state="closed", merged=True, updated="2026-11-02T09:30:00Z")
    open_list.pulls.pop(6)  # merged between the tick's poll and its read of the last page
    _, cursor, _ = tick(start_backlog(TriggerCursor(), STARTED), gh, open_list, budget=100)
    assert cursor.backlog.done and 6 not in cursor.pulls
    decisions, cursor = decide_poll(cursor, [merged], gh, affected, complete=False, now=NOW,
                                    merged_at={6: "2026-11-02T09:29:00Z"})
    assert [type(d).__name__ for d in decisions] == ["AddPartition", "RunPrChecks", "RunMerge"]
    _, cursor, cost = tick(cursor, gh, open_list)
    assert cursor.backlog is None and cost == 0
