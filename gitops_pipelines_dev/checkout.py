"""The checkout this package runs from: it is never installed, so a child Python finds it only through PYTHONPATH."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

CHECKOUT_ROOT = Path(__file__).resolve().parents[1]


def python_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """environ (default: os.environ) with the checkout first on PYTHONPATH, so a child
    `python -m gitops_pipelines_dev...` imports this package whatever its working directory."""
    env = dict(os.environ if environ is None else environ)
    rest = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != str(CHECKOUT_ROOT)]
    env["PYTHONPATH"] = os.pathsep.join([str(CHECKOUT_ROOT), *rest])
    return env
