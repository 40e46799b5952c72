"""module_refs(unit): the PR stage that holds every module a unit uses from outside its folder to a pinned release
(see core/changes/pinning.py for the rule); no Terraform runs, only `git ls-remote` of the sources named."""

from __future__ import annotations

from gitops_pipelines.core.changes.pinning import (ModuleRefsResult, check_module_refs, git_remote_refs,
                                                       released_module_files)
from gitops_pipelines.core.config import UnitConfig
from gitops_pipelines.core.workspace import Workspace


def module_refs(ws: Workspace, unit: UnitConfig) -> ModuleRefsResult:
    """Check the unit's module sources in the workspace's checkout; copies of released module files are flagged."""
    config = ws.config
    return check_module_refs(config, unit, config.root, remote_refs=git_remote_refs(config.terraform.git_config),
                             released_files=released_module_files(config, config.root))
