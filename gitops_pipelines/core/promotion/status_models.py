"""What `gitops-pipelines change pr-N` reports, as frozen dataclasses with their JSON and text forms (the deciding
is in status.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from gitops_pipelines.core.github.checks_read import CheckRun
from gitops_pipelines.core.github.models import PullRequest, Review, Tag
from gitops_pipelines.core.plan_store import AppliedRecord, PlanRecord

# What a PR stage's check run says at the head commit.
PASSED, FAILED, RUNNING, NOT_RUN = "passed", "failed", "running", "not run"
# Who a wait is on: people (reviewers, whoever merges or launches a release), the pipeline (a stage or deploy that
# runs, or re-runs, by itself), the author (something failed and needs a fix or a re-run).
PEOPLE, PIPELINE, AUTHOR = "people", "pipeline", "author"
# The waits that are not gate refusals (those carry the gate's condition: a stage name, `approval`, `plan`).
MERGE, DEPLOY, LAUNCH, PREVIOUS, CLOSED = "merge", "deploy", "launch", "previous", "closed"
NOT_CONFIGURED = ("GitHub is not configured (no `github:` section in gitops.yaml): the PR stages, reviews and merge "
                  "state are unknown; this is what the plan store knows")


@dataclass(frozen=True)
class StageStatus:
    """One PR stage the gate requires, as its check run on the head commit reports it."""

    stage: str  # the gate's name: syntax, ephemeral_test, test_plan, policy, work_item
    check: str  # the check-run name: storage/syntax, storage/plan (test), work_item
    state: str  # passed | failed | running | not run
    head_sha: str | None = None  # the commit it ran at
    conclusion: str | None = None


@dataclass(frozen=True)
class Approvals:
    """Approving reviews of the head commit against what the environment requires (the author's never counts)."""

    required: int
    approvers: tuple[str, ...] = ()
    stale: tuple[str, ...] = ()  # approved an older commit
    changes_requested: tuple[str, ...] = ()

    @property
    def approved(self) -> bool:
        return not self.changes_requested and len(self.approvers) >= self.required

    def short(self) -> str:
        text = f"{len(self.approvers)} of {self.required}" + (f" {', '.join(self.approvers)}" if self.approvers else "")
        if self.stale:
            text += f" (stale: {', '.join(self.stale)})"
        if self.changes_requested:
            text += f" (changes requested: {', '.join(self.changes_requested)})"
        return text


@dataclass(frozen=True)
class PlanInfo:
    """A stored plan of the change: its id, the head commit it is bound to, what it changes."""

    plan_id: str
    head_sha: str | None
    created_at: str
    add: int = 0
    change: int = 0
    destroy: int = 0
    replace: int = 0
    commit: str | None = None  # the commit planned, when not the head (the merge commit, after a merge)

    @classmethod
    def of(cls, record: PlanRecord) -> "PlanInfo":
        s, b = record.summary, record.binding
        return cls(record.plan_id, b.head_sha, record.created_at, s.add, s.change, s.destroy, s.replace,
                   getattr(b, "commit", None))

    def short(self) -> str:
        made = self.commit or self.head_sha
        at = f" at {made[:7]}" if made else ""
        return f"{self.plan_id[:12]} +{self.add} ~{self.change} -{self.destroy} ±{self.replace}{at}"


@dataclass(frozen=True)
class AppliedInfo:
    plan_id: str
    applied_at: str
    applied_by: str | None = None
    state_serial: int | None = None

    def short(self) -> str:
        return f"{self.plan_id[:12]} {self.applied_at}" + (f" by {self.applied_by}" if self.applied_by else "")


@dataclass(frozen=True)
class Wait:
    """One thing the change waits for in an environment: what (`condition`), why, what to do, and who it is on."""

    condition: str
    message: str
    action: str
    by: str  # people | pipeline | author

    def __str__(self) -> str:
        return f"{self.message}: {self.action}"


@dataclass(frozen=True)
class EnvironmentStatus:
    """One environment of a project (or `release` for a module): plans, approvals, what is applied, what is next."""

    environment: str
    auto_apply: bool
    plan: PlanInfo | None = None  # the newest stored plan of the change here (the one the gate checks)
    plan_ids: tuple[str, ...] = ()  # every stored plan of the change here, newest first
    approvals: Approvals | None = None  # None: GitHub is not configured
    applied: AppliedInfo | None = None
    released: str | None = None  # a module: the tag of its release at the merge commit
    waits: tuple[Wait, ...] = ()
    known: bool = True  # False: without GitHub, what it waits for is unknown

    @property
    def done(self) -> bool:
        return self.applied is not None or self.released is not None

    @property
    def next(self) -> str:
        if self.applied is not None:
            return "nothing: applied"
        if self.released is not None:
            return f"nothing: released as {self.released}"
        if not self.known:
            return "unknown: GitHub is not configured"
        return "; ".join(w.action for w in self.waits)


@dataclass(frozen=True)
class UnitStatus:
    unit: str
    kind: str  # project | module
    stages: tuple[StageStatus, ...]  # empty without GitHub
    environments: tuple[EnvironmentStatus, ...]


@dataclass(frozen=True)
class ChangeStatus:
    change: str
    pull: PullRequest | None  # None: GitHub is not configured
    units: tuple[UnitStatus, ...]
    notes: tuple[str, ...] = ()

    @property
    def github(self) -> bool:
        return self.pull is not None

    @property
    def done(self) -> bool:
        """Every environment of every unit of the change is applied (or, for a module, released)."""
        targets = [e for u in self.units for e in u.environments]
        return bool(targets) and all(e.done for e in targets)

    @property
    def waits_only_on_people(self) -> bool:
        """Nothing waits on the pipeline or on a fix: only on reviews, the merge, or a person launching a deploy."""
        return all(w.by == PEOPLE for u in self.units for e in u.environments for w in e.waits)

    def to_json(self) -> dict[str, Any]:
        pull = None
        if self.pull is not None:
            p = self.pull
            pull = {"number": p.number, "title": p.title, "state": p.state, "merged": p.merged, "author": p.author,
                    "head_sha": p.head_sha, "head_ref": p.head_ref, "base_sha": p.base_sha, "base_ref": p.base_ref,
                    "merge_commit_sha": p.merge_commit_sha}
        units = [{"unit": u.unit, "kind": u.kind, "stages": [asdict(s) for s in u.stages],
                  "environments": [_env_json(e) for e in u.environments]} for u in self.units]
        return {"change": self.change, "github": self.github, "pull_request": pull, "units": units,
                "done": self.done, "waits_only_on_people": self.waits_only_on_people, "notes": list(self.notes)}

    def text(self) -> str:
        """For a person: a headline, then per unit its PR stages and a table of its environments."""
        lines = [_headline(self)]
        lines += [f"note: {note}" for note in self.notes]
        for unit in self.units:
            lines += _unit_text(unit)
        return "\n".join(lines)


@dataclass(frozen=True)
class ChangeFacts:
    """What the sources say about a change, gathered once; `assemble` decides from these alone."""

    change: str
    pull: PullRequest | None = None  # None: GitHub is not configured
    reviews: tuple[Review, ...] = ()
    check_runs: tuple[CheckRun, ...] = ()  # on the pull request's head commit
    units: tuple[str, ...] = ()  # the units its changed files touch
    plans: tuple[PlanRecord, ...] = ()  # the stored plans of the change, newest first
    applied: Mapping[str, AppliedRecord] = field(default_factory=dict)  # by plan_id
    tags: tuple[Tag, ...] = ()  # read once a change of a module is merged


# -- text and JSON -----------------------------------------------------------------------------------------------
def _env_json(e: EnvironmentStatus) -> dict[str, Any]:
    return {"environment": e.environment, "auto_apply": e.auto_apply,
            "plan": asdict(e.plan) if e.plan else None, "plan_ids": list(e.plan_ids),
            "approvals": {**asdict(e.approvals), "approved": e.approvals.approved} if e.approvals else None,
            "applied": asdict(e.applied) if e.applied else None, "released": e.released,
            "waits_for": [asdict(w) for w in e.waits], "next": e.next, "done": e.done}


def _headline(status: ChangeStatus) -> str:
    p = status.pull
    if p is None:
        return f"{status.change}: GitHub not configured"
    state = (f"merged as {(p.merge_commit_sha or '')[:12]}" if p.merged else p.state)
    return (f"{status.change} {p.title!r} by {p.author or '?'}: {state}, head {p.head_sha[:12]} "
            f"(base {p.base_ref} {p.base_sha[:12]})")


def _unit_text(unit: UnitStatus) -> list[str]:
    lines = [f"{unit.unit} ({unit.kind})"]
    at = next((s.head_sha for s in unit.stages if s.head_sha), None)
    if unit.stages:
        lines.append(f"  PR stages{f' at {at[:12]}' if at else ''}: "
                     + ", ".join(f"{s.stage} {s.state}" for s in unit.stages))
    rows = [("environment", "plan", "approvals", "applied", "waits for")]
    for e in unit.environments:
        waits = ("nothing" if e.done else "unknown" if not e.known else ", ".join(w.condition for w in e.waits))
        applied = e.applied.short() if e.applied else (e.released or "-")
        rows.append((e.environment, e.plan.short() if e.plan else "-", e.approvals.short() if e.approvals else "-",
                     applied, waits))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines += ["  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    # one line per wait; the same wait of several environments (a PR stage, the review) once, naming them all
    details: dict[str, list[str]] = {}
    for e in unit.environments:
        for wait in e.waits:
            details.setdefault(str(wait).removeprefix(f"{unit.unit}/{e.environment}: "), []).append(e.environment)
    lines += [f"  - {', '.join(envs)}: {detail}" for detail, envs in details.items()]
    return lines
