"""A module's assets: PR checks, then a release that records the next semver (tag and GitHub Release come later)."""


import dagster as dg

from gitops_pipelines.core import flow
from gitops_pipelines.core.config import UnitConfig
from gitops_pipelines.defs.approvals import ModuleReleaseConfig
from gitops_pipelines.defs.lineage import latest_metadata
from gitops_pipelines.defs.partitions import changes
from gitops_pipelines.defs.pr_stages import ephemeral_test_asset, syntax_asset
from gitops_pipelines.defs.refusals import refusals
from gitops_pipelines.defs.stages import EPHEMERAL_TEST, RELEASE, SYNTAX, key
from gitops_pipelines.defs.run_tags import bound_commit
from gitops_pipelines.resources import GitopsResource


def module_assets(unit: UnitConfig) -> list[dg.AssetsDefinition]:
    return [syntax_asset(unit), ephemeral_test_asset(unit), module_release_asset(unit)]


def module_release_asset(unit: UnitConfig) -> dg.AssetsDefinition:
    checks = [key(unit.name, SYNTAX), key(unit.name, EPHEMERAL_TEST)]

    @dg.asset(key=key(unit.name, RELEASE), group_name=unit.name, partitions_def=changes, deps=checks,
              kinds={"terraform"}, description=f"the next `{unit.name}-v<semver>` release of the module")
    def _release(context: dg.AssetExecutionContext, config: ModuleReleaseConfig,
                 gitops: GitopsResource) -> dg.MaterializeResult:
        ws, change = gitops.workspace(context.log.info, bound_commit(context)), context.partition_key
        with refusals():
            passed = {check.path[-1]: latest_metadata(context, check, change) is not None for check in checks}
            flow.check_passed(unit.name, change, passed)
            bump = config.bump.value if config.bump else None
            release = flow.next_module_release(ws.config, ws.config.unit(unit.name), bump=bump)
        context.log.info(f"{unit.name}: release {release.tag} ({release.bump}) for {change}")
        return dg.MaterializeResult(metadata={
            "decision": "released", "version": release.version, "tag": release.tag,
            "previous": release.previous or "", "bump": release.bump,
            "approved_by": config.approved_by, "reason": config.reason,
        })

    return _release
