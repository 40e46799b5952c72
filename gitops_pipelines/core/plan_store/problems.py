"""Messages for plans that cannot be used: which plan, for what, which file, and what to do next."""

from __future__ import annotations

import re

from gitops_pipelines.core.errors import PlanBindingMismatch, PlanNotFound, PlanStale, PlanTampered

NEXT_STEP = "Make a new plan (re-run the plan stage) and apply that one."


def plan_label(plan_id: str, where: str | None = None) -> str:
    label = f"stored plan {plan_id[:12]} (plan_id {plan_id})"
    return f"{label} for {where}" if where else label


def not_found(plan_id: str, location: str) -> PlanNotFound:
    return PlanNotFound(f"No {plan_label(plan_id)} in the plan store {location}. "
                        f"It was never saved there, or the store or its prefix differs. {NEXT_STEP}")


def tampered(plan_id: str, where: str | None, artifact: str, problem: str) -> PlanTampered:
    return PlanTampered(f"Refusing the {plan_label(plan_id, where)}: {artifact} {problem}. "
                        f"The stored plan is not what was reviewed, so it will not be applied. {NEXT_STEP}")


def already_applied(plan_id: str, where: str, applied_at: str, applied_by: str | None) -> PlanStale:
    by = f" by {applied_by}" if applied_by else ""
    return PlanStale(f"The {plan_label(plan_id, where)} was already applied at {applied_at}{by}; "
                     f"a plan is applied once. {NEXT_STEP}")


def binding_mismatch(plan_id: str, stored: str, requested: str) -> PlanBindingMismatch:
    return PlanBindingMismatch(f"The {plan_label(plan_id, stored)} is already stored with a different binding "
                               f"than the one given now ({requested}); one plan file belongs to one unit, "
                               f"environment and change. {NEXT_STEP}")


def claimed_where(data: dict) -> str | None:
    binding = data.get("binding") if isinstance(data.get("binding"), dict) else {}
    if binding.get("unit") and binding.get("environment"):
        return f"{binding['unit']}/{binding['environment']} (as the unverified record says)"
    return None


def claimed_where_text(raw: bytes) -> str | None:
    """unit/environment from a record too broken to parse, so the message still says which plan it was."""
    text = raw.decode("utf-8", "replace")
    found = [re.search(rf'"{field}"\s*:\s*"([^"]*)"', text) for field in ("unit", "environment")]
    if all(found):
        return f"{found[0].group(1)}/{found[1].group(1)} (as the unreadable record says)"
    return None
