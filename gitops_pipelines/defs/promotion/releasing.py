"""A unit's release from an asset: the core prepares and publishes it; here it is logged and recorded."""

from __future__ import annotations

from typing import Any

import dagster as dg

from gitops_pipelines.core import promotion
from gitops_pipelines.core.errors import GitopsError
from gitops_pipelines.core.promotion import ProductionFacts, UnitRelease
from gitops_pipelines.core.workspace import Workspace


def make_release(context: dg.AssetExecutionContext, ws: Workspace, github: Any, unit: str, sha: str, *,
                 bump: str | None = None, production: ProductionFacts | None = None) -> UnitRelease:
    """The next version of `unit` tagged on `sha`, with its GitHub Release when GitHub is configured."""
    gateway = github.gateway(context.log.debug) if github is not None else None
    unit_cfg = ws.config.unit(unit)
    release = promotion.prepare_release(ws.config, unit_cfg, sha, repo=ws.config.root, gateway=gateway, bump=bump)
    for tag in release.ignored_tags:
        context.log.warning(f"{unit}: tag {tag} is not a semantic version of {unit}; ignored")
    if release.existing:
        context.log.info(f"{unit}: {sha[:12]} is already released as {release.tag}; no new version is made")
    release = promotion.publish_release(release, sha, repo=ws.config.root, gateway=gateway,
                                        repository=github.repository if github is not None else None,
                                        unit_path=unit_cfg.path, production=production)
    context.log.info(f"{unit}: released {release.tag} ({release.bump.summary()}) at {sha[:12]}"
                     + (f": {release.url}" if release.url else ""))
    return release


def release_metadata(release: UnitRelease, sha: str) -> dict[str, Any]:
    return {"version": release.version, "tag": release.tag, "commit": sha, "previous": release.previous_tag or "",
            "bump": release.bump.bump, "bump_reason": release.bump.summary(),
            "pull_requests": ", ".join(f"#{c.number}" for c in release.changes if c.number),
            "release_url": release.url}


def release_note(context: dg.AssetExecutionContext, github: Any, released: dict[str, Any], environment: str,
                 summary: str) -> None:
    """The deploy's result added to the GitHub Release its release made. GitHub being down never fails a deploy
    that was applied: it is logged (re-execute the step to publish again; the apply is not repeated)."""
    tag = released.get("tag")
    if github is None or not tag:
        return
    try:
        url = promotion.record_deploy(github.gateway(context.log.debug), tag, environment, summary,
                                      github.run_url(context.run.run_id))
    except GitopsError as exc:
        context.log.warning(f"could not add the {environment} deploy to the Release {tag}: {exc}")
        return
    context.log.info(f"the Release {tag} says the {environment} deploy's result: {url}" if url else
                     f"no GitHub Release {tag} to add the {environment} deploy to")
