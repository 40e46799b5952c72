"""What changed an environment, from which pull request, approved by whom, with which plan: one row per apply.

The rows are built from what each deploy recorded (its materialization: the plan applied, who approved on GitHub at
the head, who launched it, the commits) joined with the change's release (who released it, the tag) and the plan
store (what the plan changes, and its applied record). Plain data in, plain data out: the Dagster layer reads the
event log (SQLite or PostgreSQL); this module never touches it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from gitops_pipelines.core.errors import GitopsError, UsageError
from gitops_pipelines.core.vocabulary import pr_number


@dataclass(frozen=True)
class DeployEvent:
    """One deploy materialization: when, of what unit, environment and change, and its metadata."""

    timestamp: float
    unit: str
    environment: str
    change: str
    metadata: Mapping[str, Any]


@dataclass(frozen=True)
class AuditRow:
    applied_at: str
    unit: str
    environment: str
    change: str
    pull_request: str
    head_sha: str
    merge_sha: str
    approved_on_github: str
    released_by: str
    triggered_by: str
    plan_id: str
    resources: str
    result: str
    release: str


COLUMNS = [f.name for f in fields(AuditRow)]


def parse_since(value: str | None) -> dt.datetime | None:
    """`2026-11-30` or an ISO timestamp (UTC unless it says otherwise); None for no bound."""
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--since {value!r} is not a date: use YYYY-MM-DD or an ISO timestamp") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def audit_rows(deploys: Iterable[DeployEvent], releases: Mapping[tuple[str, str], Mapping[str, Any]],
               store: Any = None, *, environment: str | None = None, unit: str | None = None,
               since: dt.datetime | None = None) -> list[AuditRow]:
    """Every apply (newest first) that matches the filters; `releases` by (unit, change) -> release metadata.
    A re-execution that applied nothing (the plan was already applied) is not a change and is left out."""
    rows = []
    for event in deploys:
        meta = event.metadata
        when = dt.datetime.fromtimestamp(event.timestamp, dt.timezone.utc)
        if (environment and event.environment != environment) or (unit and event.unit != unit) or (
                since and when < since) or meta.get("already_applied") is True:
            continue
        released = releases.get((event.unit, event.change)) or {}
        number = pr_number(event.change)
        plan_id = str(meta.get("plan_id") or "")
        rows.append(AuditRow(
            applied_at=when.strftime("%Y-%m-%dT%H:%M:%SZ"), unit=event.unit, environment=event.environment,
            change=event.change, pull_request=f"#{number}" if number else "",
            head_sha=str(meta.get("head_sha") or ""), merge_sha=str(meta.get("merge_sha") or ""),
            approved_on_github=str(meta.get("reviewed_by") or ""),
            released_by=str(released.get("approved_by") or "") if released.get("plan_id") == plan_id else "",
            triggered_by=str(meta.get("triggered_by") or ""),
            plan_id=plan_id, resources=_resources(store, plan_id), result=str(meta.get("result") or ""),
            release=str(released.get("tag") or "") if released.get("plan_id") == plan_id else ""))
    return sorted(rows, key=lambda r: r.applied_at, reverse=True)


def _resources(store: Any, plan_id: str) -> str:
    if store is None or not plan_id:
        return ""
    try:
        s = store.get(plan_id).record.summary
    except GitopsError:
        return "(plan not in the store)"
    return f"+{s.add} ~{s.change} -{s.destroy} ±{s.replace}"


def to_csv(rows: list[AuditRow]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(asdict(r) for r in rows)
    return out.getvalue()


def to_text(rows: list[AuditRow]) -> str:
    if not rows:
        return "no applies recorded"
    return "\n".join(
        f"{r.applied_at}  {r.unit}/{r.environment}  {r.change} {r.pull_request}  plan {r.plan_id[:12]} {r.resources}  "
        f"approved on GitHub by {r.approved_on_github or '-'}; released by {r.released_by or '-'}; "
        f"launched by {r.triggered_by or '-'}  {r.release}".rstrip() for r in rows)


def to_markdown(rows: list[AuditRow]) -> str:
    """The table the audit asset shows in the Dagster UI (values are the pipeline's own: ids, logins, counts)."""
    head = ["applied", "unit/env", "change", "plan", "resources", "approved on GitHub", "released by", "release"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += [f"| {r.applied_at} | {r.unit}/{r.environment} | {r.change} | `{r.plan_id[:12]}` | {r.resources} | "
              f"{r.approved_on_github or '-'} | {r.released_by or '-'} | {r.release or '-'} |" for r in rows]
    return "\n".join(lines) + "\n"
