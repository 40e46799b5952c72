"""Finds the provider filesystem mirror the machine carries, so `terraform init` works offline."""

from __future__ import annotations

import os
from pathlib import Path

_CANDIDATES = ("/opt/tf-plugins", "/usr/share/terraform/plugins", "/usr/local/share/terraform/plugins")


def find_provider_mirror() -> str | None:
    """$TF_PROVIDER_MIRROR, else a known folder holding registry.terraform.io, else a shallow search of /."""
    explicit = os.environ.get("TF_PROVIDER_MIRROR")
    if explicit:
        return explicit
    for candidate in _CANDIDATES:
        if (Path(candidate) / "registry.terraform.io").is_dir():
            return candidate
    for top in Path("/").iterdir():
        try:
            for child in top.iterdir() if top.is_dir() else ():
                if (child / "registry.terraform.io").is_dir():
                    return str(child)
        except OSError:
            continue
    return None
