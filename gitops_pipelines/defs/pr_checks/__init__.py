"""PR checks and approvals: syntax and ephemeral_test of every unit, what they say on GitHub while they run, and
the `[unit, approval]` assets the GitHub sensors record reviews on."""

import dagster as dg

from gitops_pipelines.core.config import GitopsConfig
from gitops_pipelines.defs.pr_checks.approvals import approval_specs
from gitops_pipelines.defs.pr_checks.assets import ephemeral_test_asset, syntax_asset


def build_defs(config: GitopsConfig) -> dg.Definitions:
    assets = [a for unit in config.units for a in (syntax_asset(unit), ephemeral_test_asset(unit))]
    approvals = approval_specs(config) if config.github is not None else []
    return dg.Definitions(assets=[*assets, *approvals])
