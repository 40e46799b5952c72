"""Turns the core's actionable errors into a clean run failure: the message, not a stack trace, is the point."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from gitops_pipelines.core.errors import GitopsError, PlanRefused


@contextmanager
def refusals() -> Iterator[None]:
    """Re-raise a GitopsError as dg.Failure (no retries: the same input would be refused again)."""
    try:
        yield
    except GitopsError as exc:
        decision = "refused" if isinstance(exc, PlanRefused) else "failed"
        failure = dg.Failure(description=str(exc), metadata={"decision": decision, "error": type(exc).__name__},
                             allow_retries=False)
        failure.output = getattr(exc, "output", "")  # Terraform's redacted diagnostics, for the check run
        raise failure from None
