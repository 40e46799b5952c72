"""A module's assets: PR checks, then a release: the next semver as a git tag and a GitHub Release."""


import dagster as dg

from gitops_pipelines.core import flow
from gitops_pipelines.core.config import UnitConfig
from gitops_pipelines.core.git import head_sha
from gitops_pipelines.defs.approvals import ModuleReleaseConfig
from gitops_pipelines.defs.lineage import latest_metadata
from gitops_pipelines.defs.partitions import changes
from gitops_pipelines.defs.pr_stages import ephemeral_test_asset, syntax_asset
from gitops_pipelines.defs.refusals import refusals
from gitops_pipelines.defs.stages import EPHEMERAL_TEST, RELEASE, SYNTAX, key
from gitops_pipelines.defs.run_tags import bound_commit
from gitops_pipelines.resources import GitopsResource
from gitops_pipelines.resources.github import OptionalGitHub


def module_assets(unit: UnitConfig) -> list[dg.AssetsDefinition]:
    return [syntax_asset(unit), ephemeral_test_asset(unit), module_release_asset(unit)]


def module_release_asset(unit: UnitConfig) -> dg.AssetsDefinition:
    checks = [key(unit.name, SYNTAX), key(unit.name, EPHEMERAL_TEST)]

    @dg.asset(key=key(unit.name, RELEASE), group_name=unit.name, partitions_def=changes, deps=checks,
              kinds={"terraform"}, description=f"the next `{unit.name}-v<semver>` release of the module")
    def _release(context: dg.AssetExecutionContext, config: ModuleReleaseConfig, gitops: GitopsResource,
                 github: OptionalGitHub) -> dg.MaterializeResult:
        ws, change = gitops.workspace(context.log.info, bound_commit(context)), context.partition_key
        gateway = github.gateway(context.log.debug) if github is not None else None
        with refusals():
            passed = {check.path[-1]: latest_metadata(context, check, change) is not None for check in checks}
            flow.check_passed(unit.name, change, passed)
            bump = config.bump.value if config.bump else None
            tags = [t.name for t in gateway.tags()] if gateway is not None else None
            release = flow.next_module_release(ws.config, ws.config.unit(unit.name), bump=bump, tags=tags)
            sha = bound_commit(context) or head_sha(ws.config.root) or ""
            url = flow.publish_module_release(release, sha, change=change, repo=ws.config.root, gateway=gateway,
                                              repository=github.repository if github is not None else None,
                                              module_path=unit.path)
        context.log.info(f"{unit.name}: released {release.tag} ({release.bump}) at {sha[:12]} for {change}")
        return dg.MaterializeResult(metadata={
            "decision": "released", "version": release.version, "tag": release.tag, "commit": sha,
            "previous": release.previous or "", "bump": release.bump, "release_url": url or "",
            "approved_by": config.approved_by, "reason": config.reason,
        })

    return _release
