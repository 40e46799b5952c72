"""The plan key: GITOPS_PLAN_KEY's value in production (the caller reads it: a Dagster EnvVar, the CLI's
environment), a development key file otherwise. Nothing here reads the process environment."""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from gitops_pipelines.core.errors import ConfigError

ENV_VAR = "GITOPS_PLAN_KEY"
DEV_KEY_FILE = Path(".gitops") / "plan.key"
KEY_BYTES = 32


def load_plan_key(root: Path, warn: Callable[[str], object] = print, setting: str | None = None) -> bytes:
    """32 key bytes from `setting` (GITOPS_PLAN_KEY's value: base64 of 32 bytes, or a passphrase), else the
    development key file under root."""
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


def key_from_setting(value: str) -> bytes:
    """GITOPS_PLAN_KEY's value: base64 of 32 bytes is the key itself; anything else is a passphrase."""
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) == KEY_BYTES:
        return raw
    return derive(value.encode(), "passphrase")


def _create_key_file(path: Path) -> bool:
    """Writes a new random key unless one exists; safe when two processes race to create it."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        os.write(fd, base64.b64encode(secrets.token_bytes(KEY_BYTES)) + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # fails if another process created the key first: then theirs is used
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
