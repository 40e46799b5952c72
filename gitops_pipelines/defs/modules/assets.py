"""A module's release after merge: the next semver as a git tag and a GitHub Release."""


import dagster as dg

from gitops_pipelines.core import promotion
from gitops_pipelines.core.config import UnitConfig
from gitops_pipelines.core.promotion.commits import AFTER_MERGE
from gitops_pipelines.core.vocabulary import EPHEMERAL_TEST, RELEASE, SYNTAX
from gitops_pipelines.defs.checkouts import merged_checkout
from gitops_pipelines.defs.keys import key
from gitops_pipelines.defs.partitions import changes
from gitops_pipelines.defs.promotion.gating import gate
from gitops_pipelines.defs.refusals import refusals
from gitops_pipelines.defs.run_config import ModuleReleaseConfig
from gitops_pipelines.resources import GitopsResource
from gitops_pipelines.resources.github import OptionalGitHub


def module_release_asset(unit: UnitConfig) -> dg.AssetsDefinition:
    checks = [key(unit.name, SYNTAX), key(unit.name, EPHEMERAL_TEST)]

    @dg.asset(key=key(unit.name, RELEASE), group_name=unit.name, partitions_def=changes, deps=checks,
              kinds={"terraform"}, description=f"the next `{unit.name}-v<semver>` release of the module")
    def _release(context: dg.AssetExecutionContext, config: ModuleReleaseConfig, gitops: GitopsResource,
                 github: OptionalGitHub) -> dg.MaterializeResult:
        change = context.partition_key
        gateway = github.gateway(context.log.debug) if github is not None else None
        commits, ws = merged_checkout(context, gitops, github)
        sha = commits.for_phase(AFTER_MERGE)
        with refusals():
            verdict = gate(context, ws, github, unit.name, RELEASE, commits, None)  # released only when it holds
            context.log.info(verdict.explain())
            bump = config.bump.value if config.bump else None
            tags = [t.name for t in gateway.tags()] if gateway is not None else None
            release = promotion.next_module_release(ws.config, ws.config.unit(unit.name), bump=bump, tags=tags)
            url = promotion.publish_module_release(release, sha, change=change, repo=ws.config.root, gateway=gateway,
                                              repository=github.repository if github is not None else None,
                                              module_path=unit.path)
        context.log.info(f"{unit.name}: released {release.tag} ({release.bump}) at {sha[:12]} for {change}")
        return dg.MaterializeResult(metadata={
            "decision": "released", "version": release.version, "tag": release.tag, "commit": sha,
            "previous": release.previous or "", "bump": release.bump, "release_url": url or "",
            "approved_by": config.approved_by, "reason": config.reason, "head_sha": commits.head_sha,
            "reviewed_by": ", ".join(verdict.approvers),
        })

    return _release
