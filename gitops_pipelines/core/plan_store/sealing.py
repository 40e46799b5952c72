"""Encryption of the binary plan and signatures over the records, both keyed from the plan key."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gitops_pipelines.core.plan_store.keys import derive

_NONCE = 12
SIGNATURE_FIELD = "hmac"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical_json(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


class Sealer:
    """AES-256-GCM for plan files (plan id as associated data) and HMAC-SHA256 for records."""

    def __init__(self, key: bytes):
        self._aead = AESGCM(derive(key, "plan encryption"))
        self._mac_key = derive(key, "record signature")

    def encrypt(self, plain: bytes, plan_id: str) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + self._aead.encrypt(nonce, plain, plan_id.encode())

    def decrypt(self, sealed: bytes, plan_id: str) -> bytes | None:
        """The plain bytes, or None if the ciphertext, the plan id or the key is not the one it was sealed with."""
        try:
            return self._aead.decrypt(sealed[:_NONCE], sealed[_NONCE:], plan_id.encode())
        except (InvalidTag, ValueError):
            return None

    def sign(self, data: dict) -> bytes:
        """data plus its signature, as the JSON bytes to store."""
        body = {k: v for k, v in data.items() if k != SIGNATURE_FIELD}
        signed = {**body, SIGNATURE_FIELD: self._mac(body)}
        return json.dumps(signed, indent=2, sort_keys=True).encode() + b"\n"

    def open_signed(self, raw: bytes) -> tuple[dict | None, bool]:
        """(parsed data without its signature, whether the signature holds); (None, False) if not JSON."""
        try:
            data = json.loads(raw)
        except ValueError:
            return None, False
        if not isinstance(data, dict):
            return None, False
        signature = data.pop(SIGNATURE_FIELD, None)
        ok = isinstance(signature, str) and hmac.compare_digest(signature, self._mac(data))
        # byte for byte too: even a change JSON ignores (spacing, key order) means someone edited the file
        return data, ok and self.sign(data) == raw

    def _mac(self, body: dict) -> str:
        return hmac.new(self._mac_key, canonical_json(body), hashlib.sha256).hexdigest()
