"""GitHub's and the plan store's ISO-8601 times (`2026-11-01T10:00:00Z`), read in one place."""

from __future__ import annotations

from datetime import datetime


def parse_time(stamp: str | None) -> datetime | None:
    """An aware datetime for an ISO-8601 time (a trailing `Z` is UTC); None for an empty or malformed one."""
    if not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
