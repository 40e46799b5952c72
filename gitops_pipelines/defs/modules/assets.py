"""A module's release after merge, once the promotion gate holds for its head: the next semantic version as an
annotated git tag on the merge commit and a GitHub Release."""


import dagster as dg

from gitops_pipelines.core.changes.consumers import consumers_markdown, module_consumers, repository_tags
from gitops_pipelines.core.changes.repositories import RepositoryMain, RepositoryUnreadable, read_main
from gitops_pipelines.core.config import UnitConfig
from gitops_pipelines.core.promotion.consumer_bumps import OtherRepository, bump_consumers
from gitops_pipelines.core.promotion.commits import AFTER_MERGE
from gitops_pipelines.core.vocabulary import EPHEMERAL_TEST, RELEASE, SYNTAX
from gitops_pipelines.defs.checkouts import merged_checkout
from gitops_pipelines.defs.keys import key
from gitops_pipelines.defs.partitions import changes
from gitops_pipelines.defs.promotion.gating import gate
from gitops_pipelines.defs.promotion.releasing import make_release, release_metadata
from gitops_pipelines.defs.refusals import refusals
from gitops_pipelines.defs.run_config import ModuleReleaseConfig
from gitops_pipelines.resources import GitopsResource
from gitops_pipelines.resources.github import OptionalGitHub


def module_release_asset(unit: UnitConfig) -> dg.AssetsDefinition:
    checks = [key(unit.name, SYNTAX), key(unit.name, EPHEMERAL_TEST)]

    @dg.asset(key=key(unit.name, RELEASE), group_name=unit.name, partitions_def=changes, deps=checks,
              kinds={"terraform"},
              description=f"the next semantic version of module {unit.name}: a git tag and a GitHub Release")
    def _release(context: dg.AssetExecutionContext, config: ModuleReleaseConfig, gitops: GitopsResource,
                 github: OptionalGitHub) -> dg.MaterializeResult:
        commits, ws = merged_checkout(context, gitops, github)
        sha = commits.for_phase(AFTER_MERGE)
        with refusals():
            verdict = gate(context, ws, github, unit.name, RELEASE, commits, None)  # released only when it holds
            context.log.info(verdict.explain())
            bump = config.bump.value if config.bump else None
            release = make_release(context, ws, github, unit.name, sha, bump=bump)
        elsewhere = other_repositories(context, ws)
        users = module_consumers(ws.config, unit.name, [*repository_tags(ws.config), release.tag],
                                 elsewhere=elsewhere)
        if users.behind:
            context.log.info(f"{len(users.behind)} use(s) of {unit.name} are behind {release.tag}:\n{users.text()}")
        bumps = (open_bump_pulls(context, ws, github, users, release.tag, sha, elsewhere)
                 if ws.config.releases.bump_consumers else [])
        return dg.MaterializeResult(metadata={
            "decision": "released", **release_metadata(release, sha),
            "consumers": dg.MetadataValue.md(consumers_markdown(users)), "consumers_behind": len(users.behind),
            "consumer_prs": dg.MetadataValue.json([b.__dict__ for b in bumps]),
            "approved_by": config.approved_by, "reason": config.reason, "head_sha": commits.head_sha,
            "reviewed_by": ", ".join(verdict.approvers),
        })

    return _release


def other_repositories(context: dg.AssetExecutionContext, ws) -> list[RepositoryMain]:
    """The repositories of `repositories:` at their main; one that cannot be read is named in the log and left
    out (the release is made already: its consumers there are listed on the next release)."""
    found = []
    for repo in ws.config.repositories:
        try:
            found.append(read_main(ws.config, repo, ws.home_root))
        except RepositoryUnreadable as exc:
            context.log.warning(f"consumers of this release in {repo.name} are not listed: {exc}")
    return found


def open_bump_pulls(context: dg.AssetExecutionContext, ws, github, users, tag: str, sha: str, elsewhere) -> list:
    """`releases.bump_consumers`: a pull request per unit behind the new release, in this repository or another
    one of `repositories:` (needs GitHub)."""
    if github is None:
        context.log.warning("releases.bump_consumers is set, but gitops.yaml has no github: section to open them on")
        return []
    gateway = github.gateway(context.log.info)
    others = {main.name: OtherRepository(main, github.gateway(context.log.info, repository=main.name),
                                         ws.config.terraform.git_config) for main in elsewhere}
    try:
        release = gateway.release_by_tag(tag)
        done = bump_consumers(ws.config.root, users, tag, ws.config.unit(users.module).path, sha, gateway=gateway,
                              base=ws.config.github.main_branch, release_url=release.html_url if release else None,
                              elsewhere=others)
    finally:
        gateway.close()
        for other in others.values():
            other.gateway.close()
    for item in done:
        context.log.info(f"{item.unit}: {item.note} ({item.branch})")
    return done
