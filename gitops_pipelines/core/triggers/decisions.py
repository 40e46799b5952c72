"""What the triggers decide for a pull request: add its change, check a head, record an approval, act on a merge,
clean up. Each run decision carries its intent and a deterministic `run_key` (`<pr>:<head sha>:<unit>:<intent>`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from gitops_pipelines.core.vocabulary import Intent, change_key


@dataclass(frozen=True)
class UnitRef:
    """A unit a change touches: its name and kind (module | project)."""

    name: str
    kind: str


class _OfChange:
    """A decision about one pull request; its Dagster partition is that change."""

    pr: int

    @property
    def partition_key(self) -> str:
        return change_key(self.pr)


@dataclass(frozen=True)
class AddPartition(_OfChange):
    pr: int


@dataclass(frozen=True)
class RunPrChecks(_OfChange):
    """The PR-time stages of one unit at one head commit. `fork`: the head is in another repository, so its code
    is not run unless gitops.yaml allows fork pull requests; `base_ref`: the branch it would merge into."""

    pr: int
    head_sha: str
    base_sha: str
    unit: str
    kind: str
    intent: Intent = Intent.CHECK
    fork: bool = False
    base_ref: str = ""

    @property
    def run_key(self) -> str:
        return f"{self.pr}:{self.head_sha}:{self.unit}:{self.intent.value}"


@dataclass(frozen=True)
class RecordApproval(_OfChange):
    """A reviewer's approving review of commit_id; `approved` only when that commit is the head the checks ran on."""

    pr: int
    unit: str
    reviewer: str
    commit_id: str
    head_sha: str
    approved: bool
    approvers: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.pr}:{self.commit_id}:{self.unit}:approval:{self.reviewer}"


@dataclass(frozen=True)
class RunMerge(_OfChange):
    """After a merge: a project runs `merge` (test deploy, prod plan); a module runs `release` (its next version)."""

    pr: int
    head_sha: str
    merge_sha: str | None
    unit: str
    kind: str

    @property
    def intent(self) -> Intent:
        return Intent.RELEASE_MODULE if self.kind == "module" else Intent.PROMOTE

    @property
    def run_key(self) -> str:
        # the head, not the merge commit: the stored plans are bound to the head, and polling may not see the
        # merge commit; one merge per head is what must not repeat
        return f"{self.pr}:{self.head_sha}:{self.unit}:{self.intent.value}"


@dataclass(frozen=True)
class MergedElsewhere(_OfChange):
    """Merged into a branch that is not the deployed one (github.main_branch): nothing runs, the sensor says so."""

    pr: int
    head_sha: str
    base_ref: str
    main_branch: str

    def explain(self) -> str:
        return (f"#{self.pr} was merged into {self.base_ref!r}, not {self.main_branch!r}: only changes merged into "
                f"{self.main_branch!r} are deployed, so this merge deploys nothing")


@dataclass(frozen=True)
class CleanUp(_OfChange):
    """Closed without merge: pending work of the change is dropped."""

    pr: int
    head_sha: str


Decision = Union[AddPartition, RunPrChecks, RecordApproval, RunMerge, MergedElsewhere, CleanUp]


