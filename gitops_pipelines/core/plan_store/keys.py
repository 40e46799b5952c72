"""The plan key: GITOPS_PLAN_KEY's value in production (the caller reads it: a Dagster EnvVar, the CLI's
environment), a development key file otherwise. Nothing here reads the process environment.

A base64 value of 32 bytes is the key itself. Anything else is a passphrase, stretched with scrypt and a random
salt that the plan store keeps beside the plans (`plan-key.salt`, made once): a passphrase cannot be guessed
offline faster than scrypt allows, and two stores never share a key."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Union

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from gitops_pipelines.core.errors import ConfigError

ENV_VAR = "GITOPS_PLAN_KEY"
DEV_KEY_FILE = Path(".gitops") / "plan.key"
KEY_BYTES = 32
SALT_FILE = "plan-key.salt"  # beside the plans: <folder>/plan-key.salt, s3://bucket/prefix/plan-key.salt
SALT_BYTES = 16
SCRYPT = {"n": 2 ** 15, "r": 8, "p": 1}  # about 0.08 s and 32 MB here, once per store opened
_SCRYPT_N_ALLOWED = range(14, 21)  # log2 n a salt file may ask for: never cheaper, never a memory bomb


class Passphrase:
    """GITOPS_PLAN_KEY set to a passphrase rather than a key: it becomes a key only with a plan store's salt."""

    __slots__ = ("_value", "_keys")

    def __init__(self, value: str):
        if not value:
            raise ValueError("an empty passphrase")
        self._value = value
        self._keys: dict[bytes, bytes] = {}

    def key(self, salt_file: bytes, where: str = SALT_FILE) -> bytes:
        """The 32-byte key for the salt file's salt and scrypt parameters (computed once per salt)."""
        if salt_file not in self._keys:
            salt, params = read_salt(salt_file, where)
            self._keys[salt_file] = stretch(self._value, salt, **params)
        return self._keys[salt_file]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Passphrase) and hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Passphrase, self._value))

    def __repr__(self) -> str:
        return "Passphrase(***)"


PlanKey = Union[bytes, Passphrase]


def stretch(passphrase: str, salt: bytes, *, n: int = SCRYPT["n"], r: int = SCRYPT["r"], p: int = SCRYPT["p"]) -> bytes:
    """scrypt of the passphrase: 32 key bytes that cost n*r*128 bytes of memory per guess."""
    return Scrypt(salt=salt, length=KEY_BYTES, n=n, r=r, p=p).derive(passphrase.encode())


def new_salt() -> bytes:
    """A salt file's bytes: a random salt and the scrypt parameters, so they can be raised later."""
    body = {"kdf": "scrypt", **SCRYPT, "salt": base64.b64encode(secrets.token_bytes(SALT_BYTES)).decode()}
    return json.dumps(body, sort_keys=True).encode() + b"\n"


def read_salt(raw: bytes, where: str = SALT_FILE) -> tuple[bytes, dict[str, int]]:
    """(salt, scrypt parameters) from a salt file, checked: a damaged one is refused, never replaced."""
    try:
        data = json.loads(raw)
        salt = base64.b64decode(data["salt"], validate=True)
        params = {name: int(data[name]) for name in ("n", "r", "p")}
        ok = data.get("kdf") == "scrypt" and len(salt) >= SALT_BYTES and params["r"] == 8 \
            and 1 <= params["p"] <= 4 and params["n"] in {2 ** e for e in _SCRYPT_N_ALLOWED}
    except (ValueError, KeyError, TypeError, binascii.Error):
        ok = False
    if not ok:
        raise ConfigError(f"is not a plan key salt (scrypt, n a power of two from 2^14 to 2^20, r 8): restore it "
                          f"from a backup; deleting it makes every plan sealed with the {ENV_VAR} passphrase "
                          "unreadable (they must then be made again)", file=where)
    return salt, params


def load_plan_key(root: Path, warn: Callable[[str], object] = print, setting: str | None = None) -> PlanKey:
    """The key from `setting` (GITOPS_PLAN_KEY's value: base64 of 32 bytes, or a Passphrase that the plan store
    stretches with its salt), else the 32 bytes of the development key file under root."""
    configured = (setting or "").strip()
    if configured:
        return key_from_setting(configured)
    path = Path(root) / DEV_KEY_FILE
    created = _create_key_file(path)
    key = _read_key_file(path)
    verb = "created" if created else "using"
    warn(f"Plan store: {verb} the development key {path} (not for shared use): "
         f"set {ENV_VAR} in production, the same value wherever plans are made and applied.")
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        warn(f"Plan store: {path} is readable by other users; run `chmod 600 {path}`.")
    return key


def derive(key: bytes, purpose: str) -> bytes:
    """A separate 32-byte key per purpose, so the encryption key never doubles as the signing key."""
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=b"gitops-pipelines plan store",
                info=purpose.encode()).derive(key)


def key_from_setting(value: str) -> PlanKey:
    """GITOPS_PLAN_KEY's value: base64 of 32 bytes is the key itself; anything else is a Passphrase (no longer
    HKDF of the passphrase: plans sealed that way are refused as sealed with another key, and made again)."""
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) == KEY_BYTES:
        return raw
    return Passphrase(value)


def _create_key_file(path: Path) -> bool:
    """Writes a new random key unless one exists; safe when two processes race to create it."""
    return create_file_once(path, base64.b64encode(secrets.token_bytes(KEY_BYTES)) + b"\n")


def create_file_once(path: Path, data: bytes) -> bool:
    """Writes path (mode 600) unless it exists; True if this call made it. When two processes race, exactly one
    file wins whole (written aside, then hard-linked into place) and both then read that one."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # fails if another process created it first: then theirs is used
        return True
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)


def _read_key_file(path: Path) -> bytes:
    text = path.read_text().strip()
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != KEY_BYTES:
        raise ConfigError(f"does not hold a base64 plan key of {KEY_BYTES} bytes: delete it to make a new one "
                          f"(plans stored with it can then no longer be applied), or set {ENV_VAR}.", file=str(path))
    return raw
