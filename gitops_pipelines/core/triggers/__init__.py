"""GitHub state -> what the flow should do about it (pure: the caller fetches, this decides).

`cursor` remembers what was already done, `decisions` are what deciding returns, `deciding` compares a poll or a
batch of webhook deliveries with the cursor, `backlog` looks at the pull requests already open at the first tick a
few per tick, `merge_wait` holds a merge until the PR checks at its head finished."""

from gitops_pipelines.core.triggers.backlog import BACKLOG_REQUESTS, OpenPage, start_backlog, work_backlog
from gitops_pipelines.core.triggers.cursor import CURSOR_VERSION, Backlog, PendingMerge, PullMemory, TriggerCursor
from gitops_pipelines.core.triggers.deciding import (MAIN_BRANCH, RECHECK_WINDOW, AffectedUnits, GitHubReads,
                                                     decide_events, decide_poll, units_fn)
from gitops_pipelines.core.triggers.decisions import (AddPartition, CleanUp, Decision, MergedElsewhere,
                                                      RecordApproval, RunMerge, RunPrChecks, UnitRef)
from gitops_pipelines.core.triggers.merge_wait import (MERGE_WAIT_LIMIT, ChecksInFlight, MergeRelease, hold_merges,
                                                       release_merges)

__all__ = [
    "CURSOR_VERSION", "PendingMerge", "PullMemory", "TriggerCursor", "MAIN_BRANCH", "RECHECK_WINDOW", "AffectedUnits",
    "GitHubReads", "decide_events", "decide_poll", "units_fn", "AddPartition", "CleanUp", "Decision",
    "MergedElsewhere", "RecordApproval", "RunMerge", "RunPrChecks", "UnitRef", "MERGE_WAIT_LIMIT", "ChecksInFlight",
    "MergeRelease", "hold_merges", "release_merges", "BACKLOG_REQUESTS", "Backlog", "OpenPage", "start_backlog",
    "work_backlog",
]
