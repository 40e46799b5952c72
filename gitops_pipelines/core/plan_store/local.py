"""Plans in a folder: one sub-folder per plan id, every file written whole (temp file + rename)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

from gitops_pipelines.core.plan_store.keys import PlanKey, create_file_once
from gitops_pipelines.core.plan_store.store import PlanStore, check_plan_id, is_plan_id


class LocalPlanStore(PlanStore):
    """`<folder>/<plan_id>/{plan.bin.enc, plan.json, plan.txt, terraform.lock.hcl, record.json, applied.json}`,
    and `<folder>/plan-key.salt` when the key is a passphrase."""

    def __init__(self, folder: Path, key: PlanKey, warn: Callable[[str], object] = print):
        super().__init__(key, warn)
        self.folder = Path(folder)

    @property
    def location(self) -> str:
        return str(self.folder)

    def _read(self, plan_id: str, name: str) -> bytes | None:
        try:
            return (self.folder / check_plan_id(plan_id) / name).read_bytes()
        except FileNotFoundError:
            return None

    def _write(self, plan_id: str, name: str, data: bytes) -> None:
        target = self.folder / check_plan_id(plan_id) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{name}.{secrets.token_hex(6)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def _plan_ids(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        return [p.name for p in self.folder.iterdir() if is_plan_id(p.name) and p.is_dir()]

    def _read_beside(self, name: str) -> bytes | None:
        try:
            return (self.folder / name).read_bytes()
        except FileNotFoundError:
            return None

    def _create_beside(self, name: str, data: bytes) -> bool:
        return create_file_once(self.folder / name, data)
