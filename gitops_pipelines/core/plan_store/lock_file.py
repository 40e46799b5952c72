"""The provider lock file (.terraform.lock.hcl) a plan was made with: read into providers and compared, so a
refusal can say which provider changed. Terraform applies a saved plan only with the very same selections
(versions, constraints and package hashes); a lock file that differs in comments or spacing alone is the same."""

from __future__ import annotations

from dataclasses import dataclass

import hcl2

class LockFileUnreadable(ValueError):
    """The bytes are not a lock file Terraform writes."""


@dataclass(frozen=True)
class ProviderLock:
    """One `provider "<source>" { version, constraints, hashes }` block."""

    source: str  # registry.terraform.io/hashicorp/aws
    version: str | None
    constraints: str | None
    hashes: frozenset[str]


@dataclass(frozen=True)
class ProviderChange:
    """How one provider differs between the plan's lock file and the one found at apply."""

    source: str
    planned: ProviderLock | None
    found: ProviderLock | None

    def describe(self) -> str:
        p, f = self.planned, self.found
        if f is None:
            return f"{self.source} {p.version or ''}: in the plan's lock file, not in the checkout's"
        if p is None:
            return f"{self.source} {f.version or ''}: in the checkout's lock file, not in the plan's"
        if p.version != f.version:
            return f"{self.source}: version {p.version} in the plan, {f.version} in the checkout"
        if p.constraints != f.constraints:
            return (f"{self.source} {p.version}: constraints {p.constraints!r} in the plan, "
                    f"{f.constraints!r} in the checkout")
        return f"{self.source} {p.version}: other package hashes in the checkout than in the plan"


def read_lock_file(data: bytes) -> dict[str, ProviderLock]:
    """The providers a lock file selects, by source address; raises LockFileUnreadable."""
    try:
        doc = hcl2.loads(data.decode("utf-8"))
    except Exception as error:  # noqa: BLE001 - python-hcl2 raises lark's errors, of several kinds
        raise LockFileUnreadable(f"not valid HCL: {str(error).splitlines()[0][:200]}") from None
    providers: dict[str, ProviderLock] = {}
    for block in doc.get("provider") or []:
        for label, body in block.items():
            source = _text(label)
            if not isinstance(body, dict) or not source:
                raise LockFileUnreadable(f"provider block {label!r} has no body")
            providers[source] = ProviderLock(
                source=source, version=_text(body.get("version")), constraints=_text(body.get("constraints")),
                hashes=frozenset(_text(h) for h in body.get("hashes") or []),
            )
    return providers


def compare_lock_files(planned: bytes, found: bytes, *, before_init: bool = False) -> list[ProviderChange]:
    """Providers whose selection differs, sorted by source; empty when Terraform would treat both as the same.
    before_init: hashes missing from `found` are allowed, because `terraform init` adds those of the packages
    it installs (and never removes one)."""
    have, want = read_lock_file(found), read_lock_file(planned)
    changes = []
    for source in sorted(set(have) | set(want)):
        p, f = want.get(source), have.get(source)
        same = p is not None and f is not None and (p.version, p.constraints) == (f.version, f.constraints) and (
            f.hashes <= p.hashes if before_init else f.hashes == p.hashes)
        if not same:
            changes.append(ProviderChange(source, p, f))
    return changes


def _text(value: object) -> str | None:
    """python-hcl2 8 keeps the quotes of string literals (`"\\"5.100.0\\""`); 7 drops them."""
    if value is None:
        return None
    text = str(value)
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text
