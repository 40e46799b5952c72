"""Stored plans: made once, kept by sha256, encrypted and signed, applied byte for byte or not at all."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from gitops_pipelines.core.errors import ConfigError
from gitops_pipelines.core.plan_store.keys import load_plan_key
from gitops_pipelines.core.plan_store.local import LocalPlanStore
from gitops_pipelines.core.plan_store.models import (
    AppliedRecord, PlanBinding, PlanRecord, PlanSummary, StoredArtifact,
)
from gitops_pipelines.core.plan_store.redact import SENSITIVE, redact_plan_json
from gitops_pipelines.core.plan_store.s3 import S3PlanStore
from gitops_pipelines.core.plan_store.store import PlanStore, StoredPlan

__all__ = [
    "AppliedRecord", "LocalPlanStore", "PlanBinding", "PlanRecord", "PlanStore", "PlanSummary", "S3PlanStore",
    "SENSITIVE", "StoredArtifact", "StoredPlan", "load_plan_key", "open_plan_store", "redact_plan_json",
]


def open_plan_store(url: str, root: Path, key: bytes | None = None,
                    warn: Callable[[str], object] = print) -> PlanStore:
    """A store for `s3://bucket/prefix` or a folder (relative to root); key None: the development key file."""
    if key is None:
        key = load_plan_key(Path(root), warn)
    if url.startswith("s3://"):
        bucket, _, prefix = url[len("s3://"):].partition("/")
        if not bucket:
            raise ConfigError(f"{url!r} names no bucket: use s3://bucket/prefix or a folder", field="plan_store")
        return S3PlanStore(bucket, prefix, key, warn)
    folder = url[len("file://"):] if url.startswith("file://") else url
    return LocalPlanStore(Path(root) / folder, key, warn)
