"""Plans in S3 (or anything that speaks its API): `s3://bucket/prefix/<plan_id>/<file>`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from gitops_pipelines.core.errors import ConfigError
from gitops_pipelines.core.plan_store.keys import PlanKey
from gitops_pipelines.core.plan_store.store import PlanStore, check_plan_id, is_plan_id

_EXISTS = ("PreconditionFailed", "ConditionalRequestConflict", "412", "409")  # If-None-Match: someone was first


class S3PlanStore(PlanStore):
    """boto3 picks endpoint, region and credentials from the environment (AWS_ENDPOINT_URL included)."""

    def __init__(self, bucket: str, prefix: str, key: PlanKey, warn: Callable[[str], object] = print, client=None):
        super().__init__(key, warn)
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        if client is None:
            import boto3  # only stores on S3 need it loaded

            client = boto3.client("s3")
        self._s3 = client

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    def _key(self, plan_id: str, name: str = "") -> str:
        return "/".join(p for p in (self.prefix, check_plan_id(plan_id), name) if p)

    def _beside(self, name: str) -> str:
        return "/".join(p for p in (self.prefix, name) if p)

    @contextmanager
    def _bucket_must_exist(self) -> Iterator[None]:
        try:
            yield
        except self._s3.exceptions.NoSuchBucket:
            raise ConfigError(f"the plan store bucket {self.bucket!r} does not exist (endpoint "
                              f"{self._s3.meta.endpoint_url}): create it, or fix the plan store url",
                              field="plan_store") from None

    def _read(self, plan_id: str, name: str) -> bytes | None:
        with self._bucket_must_exist():
            try:
                return self._s3.get_object(Bucket=self.bucket, Key=self._key(plan_id, name))["Body"].read()
            except self._s3.exceptions.NoSuchKey:
                return None

    def _write(self, plan_id: str, name: str, data: bytes) -> None:
        with self._bucket_must_exist():
            self._s3.put_object(Bucket=self.bucket, Key=self._key(plan_id, name), Body=data)

    def _plan_ids(self) -> list[str]:
        base = f"{self.prefix}/" if self.prefix else ""
        with self._bucket_must_exist():
            return self._common_prefixes(base)

    def _common_prefixes(self, base: str) -> list[str]:
        ids = []
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=base,
                                                                        Delimiter="/"):
            for common in page.get("CommonPrefixes") or []:
                name = common["Prefix"][len(base):].rstrip("/")
                if is_plan_id(name):
                    ids.append(name)
        return ids

    def _read_beside(self, name: str) -> bytes | None:
        with self._bucket_must_exist():
            try:
                return self._s3.get_object(Bucket=self.bucket, Key=self._beside(name))["Body"].read()
            except self._s3.exceptions.NoSuchKey:
                return None

    def _create_beside(self, name: str, data: bytes) -> bool:
        """A conditional put (If-None-Match: *): of two racing writers S3 keeps the first, the second is told."""
        with self._bucket_must_exist():
            try:
                self._s3.put_object(Bucket=self.bucket, Key=self._beside(name), Body=data, IfNoneMatch="*")
            except self._s3.exceptions.ClientError as exc:
                if str(exc.response.get("Error", {}).get("Code")) in _EXISTS:
                    return False
                raise
            return True
