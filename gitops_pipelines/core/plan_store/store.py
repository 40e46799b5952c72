"""The plan store: content-addressed, encrypted, signed; one implementation per place it keeps bytes."""

from __future__ import annotations

import copy
import json
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import datetime, timezone

from pydantic import ValidationError

from gitops_pipelines.core.errors import ConfigError, PlanNotFound, PlanRefused, PlanTampered
from gitops_pipelines.core.plan_store import problems
from gitops_pipelines.core.plan_store.keys import SALT_FILE, Passphrase, PlanKey, new_salt
from gitops_pipelines.core.plan_store.models import (
    AppliedRecord, PlanBinding, PlanRecord, PlanSummary, StoredArtifact, changed_addresses,
)
from gitops_pipelines.core.plan_store.redact import redact_outputs, redact_with_secrets, scrub_text
from gitops_pipelines.core.plan_store.sealing import Sealer, sha256_hex

PLAN_FILE = "plan.bin.enc"
PLAN_JSON = "plan.json"
PLAN_TEXT = "plan.txt"
LOCK_FILE = "terraform.lock.hcl"  # the provider lock file the plan was made with, when it had one
RECORD = "record.json"
APPLIED = "applied.json"
ARTIFACTS = (PLAN_FILE, PLAN_JSON, PLAN_TEXT)
OPTIONAL_ARTIFACTS = (LOCK_FILE,)  # verified when the signed record lists them; older plans have none
_PLAN_ID = re.compile(r"[0-9a-f]{64}")
_SHOWN = 80  # characters of a bad plan id quoted back


class InvalidPlanId(PlanNotFound):
    """Not a plan id at all (a plan id is 64 lowercase hex characters): refused before the store is touched."""


def is_plan_id(value: object) -> bool:
    return isinstance(value, str) and _PLAN_ID.fullmatch(value) is not None


def check_plan_id(value: object) -> str:
    """value if it is a plan id, else InvalidPlanId quoting it (cut): nothing else ever names a file or S3 key."""
    if is_plan_id(value):
        return value  # type: ignore[return-value]
    shown = value[:_SHOWN] + "\u2026" if isinstance(value, str) and len(value) > _SHOWN else value
    raise InvalidPlanId(f"{shown!r} is not a plan id: a plan id is the sha256 of the plan file, 64 lowercase hex "
                        "characters, as the plan stage prints it and the pull request comment shows it in full. "
                        "Copy it from there (or from `gitops-pipelines plans list`).")


class StoredPlan:
    """A plan read back from the store, every byte already checked against its signed record."""

    def __init__(self, record: PlanRecord, plan_file: bytes, plan_json: dict, text: str,
                 lock_file: bytes | None = None):
        self.record = record
        self._plan_file = plan_file
        self._plan_json = plan_json
        self._text = text
        self._lock_file = lock_file

    def plan_bytes(self) -> bytes:
        """The plain `terraform plan -out` file, byte for byte as it was saved."""
        return self._plan_file

    def plan_json(self) -> dict:
        """`terraform show -json` of the plan, sensitive values removed."""
        return copy.deepcopy(self._plan_json)

    def text(self) -> str:
        """The rendered plan as a reviewer saw it."""
        return self._text

    def lock_file(self) -> bytes | None:
        """The `.terraform.lock.hcl` the plan was made with, byte for byte; None for a plan stored without one."""
        return self._lock_file


class PlanStore(ABC):
    """Keeps plans by sha256; `get` hands a plan back only if nothing about it changed since `save`."""

    def __init__(self, key: PlanKey, warn: Callable[[str], object] = print):
        self._plan_key = key
        self._sealer_made: Sealer | None = None if isinstance(key, Passphrase) else Sealer(key)
        self._warn = warn

    @property
    def _sealer(self) -> Sealer:
        """From the key; a passphrase is stretched with this store's salt first (on first use, once)."""
        key = self._plan_key
        if self._sealer_made is None and isinstance(key, Passphrase):
            self._sealer_made = Sealer(key.key(self._salt(), f"{self.location}/{SALT_FILE}"))
        assert self._sealer_made is not None  # bytes keys made theirs in __init__
        return self._sealer_made

    def _salt(self) -> bytes:
        """The store's passphrase salt file, made on first use; when two processes race, both use the one kept."""
        where = f"{self.location}/{SALT_FILE}"
        raw = self._read_beside(SALT_FILE)
        if raw is None:
            if self._create_beside(SALT_FILE, new_salt()):
                self._warn(f"Plan store: created {where}, the salt that stretches the GITOPS_PLAN_KEY passphrase: "
                           "keep it with the plans (without it no plan sealed with the passphrase can be read; "
                           "plans sealed before passphrases were salted must be made again).")
            raw = self._read_beside(SALT_FILE)
        if raw is None:
            raise ConfigError("could not be created or read back: check the plan store's permissions", file=where)
        return raw

    # -- what a backend provides ---------------------------------------------------------------------------
    @property
    @abstractmethod
    def location(self) -> str:
        """Where the plans are, for messages: a folder or s3://bucket/prefix."""

    @abstractmethod
    def _read(self, plan_id: str, name: str) -> bytes | None:
        """The object's bytes, or None if it does not exist."""

    @abstractmethod
    def _write(self, plan_id: str, name: str, data: bytes) -> None:
        """Replaces the object whole: a reader sees the old bytes or the new, never a mix."""

    @abstractmethod
    def _plan_ids(self) -> list[str]:
        """Every plan id that has at least one object stored."""

    @abstractmethod
    def _read_beside(self, name: str) -> bytes | None:
        """An object beside the plans (not in a plan's folder), or None if it does not exist."""

    @abstractmethod
    def _create_beside(self, name: str, data: bytes) -> bool:
        """Writes the object beside the plans unless it exists; True if this call made it (race-safe)."""

    # -- the use cases --------------------------------------------------------------------------------------
    def save(self, plan_file: bytes, plan_json: dict, text: str, binding: PlanBinding,
             lock_file: bytes | None = None) -> PlanRecord:
        """Stores a plan (JSON and text redacted, binary encrypted) with the provider lock file it was made with
        (sealed by its sha256 in the signed record, as the binding's lock_hash); saving the same bytes again is a
        no-op."""
        if lock_file is not None and binding.lock_hash != sha256_hex(lock_file):
            raise ValueError("binding.lock_hash must be the sha256 of the lock file stored with the plan")
        plan_id = sha256_hex(plan_file)
        if self._read(plan_id, RECORD) is not None:
            try:
                existing = self._load(plan_id).record
            except PlanTampered as broken:
                self._warn(f"Plan store: replacing a damaged copy of plan {plan_id[:12]}: {broken}")
            else:
                if existing.binding != binding:
                    raise problems.binding_mismatch(plan_id, existing.binding.where, binding.where)
                return existing
        redacted, secrets = redact_with_secrets(plan_json)
        blobs = {
            PLAN_FILE: self._sealer.encrypt(plan_file, plan_id),
            PLAN_JSON: json.dumps(redacted, sort_keys=True).encode(),
            PLAN_TEXT: scrub_text(text, secrets).encode(),
        }
        if lock_file is not None:
            # provider versions and package hashes, nothing secret: kept readable, sealed by the signed record
            blobs[LOCK_FILE] = lock_file
        record = PlanRecord(
            plan_id=plan_id, binding=binding, summary=PlanSummary.from_plan_json(plan_json),
            created_at=_now(), plan_size=len(plan_file), addresses=changed_addresses(plan_json),
            artifacts={name: StoredArtifact(sha256=sha256_hex(data), size=len(data)) for name, data in blobs.items()},
        )
        for name, data in blobs.items():
            self._write(plan_id, name, data)
        # the record goes last: a plan without one is an interrupted save, never a usable plan
        self._write(plan_id, RECORD, self._sealer.sign(record.model_dump(mode="json")))
        return record

    def get(self, plan_id: str) -> StoredPlan:
        """The plan, verified in full; raises InvalidPlanId, PlanNotFound or PlanTampered."""
        return self._load(check_plan_id(plan_id))

    def verify(self, plan_id: str) -> None:
        """Raises PlanTampered naming the stored file that changed, PlanNotFound, or InvalidPlanId."""
        self._load(check_plan_id(plan_id))

    def verify_all(self) -> list[tuple[str, str | None]]:
        """(plan_id, problem or None) for every plan in the store."""
        results: list[tuple[str, str | None]] = []
        for plan_id in sorted(self._plan_ids()):
            try:
                self._load(plan_id)
            except PlanRefused as problem:
                results.append((plan_id, str(problem)))
            else:
                results.append((plan_id, None))
        return results

    def list(self, unit: str | None = None, environment: str | None = None,
             change: str | None = None) -> list[PlanRecord]:
        """Records of the stored plans, newest first; plans whose record fails its signature are left out."""
        records = []
        for plan_id in self._plan_ids():
            raw = self._read(plan_id, RECORD)
            if raw is None:
                continue  # a save in progress, or one that was interrupted
            try:
                record = self._open_record(plan_id, raw)
            except PlanTampered as broken:
                self._warn(f"Plan store: leaving out a plan: {broken}")
                continue
            b = record.binding
            if (unit is None or b.unit == unit) and (environment is None or b.environment == environment) \
                    and (change is None or b.change == change):
                records.append(record)
        return sorted(records, key=lambda r: (r.created_at, r.plan_id), reverse=True)

    def latest(self, unit: str, environment: str, change: str | None = None) -> PlanRecord | None:
        """The newest plan for this unit and environment (and change, if given)."""
        found = self.list(unit=unit, environment=environment, change=change)
        return found[0] if found else None

    def mark_applied(self, record: AppliedRecord) -> None:
        """Records that the plan was applied; sensitive outputs are removed first. A plan is applied once."""
        plan = self._load(check_plan_id(record.plan_id))
        stored = record.model_copy(update={"outputs": redact_outputs(record.outputs, plan.plan_json())})
        existing = self.applied(record.plan_id)
        if existing is not None:
            if existing == stored:
                return  # a rerun of the same deploy
            raise problems.already_applied(record.plan_id, plan.record.binding.where,
                                           existing.applied_at, existing.applied_by)
        self._write(record.plan_id, APPLIED, self._sealer.sign(stored.model_dump(mode="json")))

    def applied(self, plan_id: str) -> AppliedRecord | None:
        """How the plan was applied, or None if it has not been; raises PlanNotFound for an unknown plan."""
        plan_record = self._record(check_plan_id(plan_id))
        raw = self._read(plan_id, APPLIED)
        if raw is None:
            return None
        where = plan_record.binding.where
        data, signed = self._sealer.open_signed(raw)
        if data is None or not signed:
            raise problems.tampered(plan_id, where, APPLIED, "does not carry a valid signature")
        try:
            applied = AppliedRecord.model_validate(data)
        except ValidationError:
            raise problems.tampered(plan_id, where, APPLIED, "does not hold a valid applied record") from None
        if applied.plan_id != plan_id:
            raise problems.tampered(plan_id, where, APPLIED, f"belongs to another plan ({applied.plan_id[:12]})")
        return applied

    # -- verification ---------------------------------------------------------------------------------------
    def _record(self, plan_id: str) -> PlanRecord:
        raw = self._read(check_plan_id(plan_id), RECORD)
        if raw is None:
            if any(self._read(plan_id, name) is not None for name in ARTIFACTS):
                raise problems.tampered(plan_id, None, RECORD, "is missing (deleted, or the save was interrupted)")
            raise problems.not_found(plan_id, self.location)
        return self._open_record(plan_id, raw)

    def _open_record(self, plan_id: str, raw: bytes) -> PlanRecord:
        data, signed = self._sealer.open_signed(raw)
        if data is None:
            raise problems.tampered(plan_id, problems.claimed_where_text(raw), RECORD, "is not valid JSON")
        claimed = problems.claimed_where(data)
        if not signed:
            raise problems.tampered(
                plan_id, claimed, RECORD,
                "does not match its signature: a field was changed after saving, or the store was opened with "
                "another plan key than the one that saved the plan (check GITOPS_PLAN_KEY)")
        try:
            record = PlanRecord.model_validate(data)
        except ValidationError:
            raise problems.tampered(plan_id, claimed, RECORD, "does not hold a valid plan record") from None
        if record.plan_id != plan_id:
            raise problems.tampered(plan_id, claimed, RECORD, f"belongs to another plan ({record.plan_id[:12]})")
        return record

    def _load(self, plan_id: str) -> StoredPlan:
        record = self._record(plan_id)
        where = record.binding.where
        blobs: dict[str, bytes] = {}
        for name in (*ARTIFACTS, *(n for n in OPTIONAL_ARTIFACTS if n in record.artifacts)):
            data = self._read(plan_id, name)
            expected = record.artifacts.get(name)
            if data is None:
                raise problems.tampered(plan_id, where, name, "is missing")
            if expected is None:
                raise problems.tampered(plan_id, where, RECORD, f"does not list {name}")
            if len(data) != expected.size or sha256_hex(data) != expected.sha256:
                raise problems.tampered(plan_id, where, name,
                                        "does not match the sha256 recorded when the plan was saved")
            blobs[name] = data
        plain = self._sealer.decrypt(blobs[PLAN_FILE], plan_id)
        if plain is None:
            raise problems.tampered(plan_id, where, PLAN_FILE, "cannot be decrypted with this plan key")
        if sha256_hex(plain) != plan_id:
            raise problems.tampered(plan_id, where, PLAN_FILE, "decrypts to a file whose sha256 is not the plan id")
        try:
            plan_json = json.loads(blobs[PLAN_JSON])
        except ValueError:
            raise problems.tampered(plan_id, where, PLAN_JSON, "is not valid JSON") from None
        try:
            text = blobs[PLAN_TEXT].decode("utf-8")
        except ValueError:
            raise problems.tampered(plan_id, where, PLAN_TEXT, "is not UTF-8 text") from None
        lock_file = blobs.get(LOCK_FILE)
        if lock_file is not None and sha256_hex(lock_file) != record.binding.lock_hash:
            raise problems.tampered(plan_id, where, LOCK_FILE, "is not the lock file the plan is bound to")
        return StoredPlan(record, plain, plan_json, text, lock_file)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")
