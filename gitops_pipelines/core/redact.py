"""Masks secret values in anything that leaves the process: logs, comments, stored text."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

MASK = "***"
_SECRET_NAME = re.compile(r"SECRET|TOKEN|PASSWORD|PASSWD|PRIVATE|CREDENTIAL|SESSION|_KEY$|^TF_VAR_", re.IGNORECASE)
MIN_SECRET_LEN = 4  # shorter values would mask ordinary words


def looks_secret(name: str) -> bool:
    """A variable whose name says it holds a secret (TOKEN, SECRET, PASSWORD, ..._KEY, TF_VAR_*)."""
    return bool(_SECRET_NAME.search(name))


def secret_env_values(env: Mapping[str, str], extra_names: Iterable[str] = ()) -> list[str]:
    """Values of variables whose names say they are secret, plus those named explicitly."""
    names = set(extra_names)
    return [v for k, v in env.items() if v and (k in names or looks_secret(k))]


class Redactor:
    """Replaces every known secret value with the mask (***); longest first so overlapping values mask fully,
    in one pass so a replacement is never matched again by a shorter secret."""

    def __init__(self, secrets: Iterable[str] = (), mask: str = MASK):
        self.mask = mask
        self._secrets: set[str] = set()
        self._pattern: re.Pattern | None = None
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> "Redactor":
        new = {s for s in secrets if s and len(s) >= MIN_SECRET_LEN}
        if new - self._secrets:
            self._secrets |= new
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(s) for s in ordered))
        return self

    def __call__(self, text: str) -> str:
        if not text or self._pattern is None:
            return text
        return self._pattern.sub(self.mask, text)

    def child(self, secrets: Iterable[str]) -> "Redactor":
        return Redactor(self._secrets, self.mask).add(secrets)
