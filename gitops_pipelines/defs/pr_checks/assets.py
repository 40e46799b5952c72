"""The checks every unit gets on a pull request: syntax and an ephemeral test deploy."""


import dagster as dg

from gitops_pipelines.core import stages as core
from gitops_pipelines.core.config import UnitConfig
from gitops_pipelines.core.promotion.commits import deploys_nothing
from gitops_pipelines.core.rules import rules_change
from gitops_pipelines.core.stages.module_refs import module_refs
from gitops_pipelines.core.vocabulary import EPHEMERAL_TEST, MODULE_REFS, RULES_CHANGED, SYNTAX, WORK_ITEM, Stage
from gitops_pipelines.defs.checkouts import head_checkout
from gitops_pipelines.defs.keys import key
from gitops_pipelines.defs.lineage import record_failure
from gitops_pipelines.defs.partitions import changes
from gitops_pipelines.defs.pr_checks.reporting import reporting
from gitops_pipelines.defs.refusals import refusals
from gitops_pipelines.resources import GitopsResource
from gitops_pipelines.resources.github import OptionalGitHub


def syntax_asset(unit: UnitConfig) -> dg.AssetsDefinition:
    asset_key = key(unit.name, SYNTAX)

    @dg.asset(key=asset_key, group_name=unit.name, partitions_def=changes, kinds={"terraform"},
              description=f"`terraform fmt -check`, `init -backend=false`, `validate` of {unit.path}, and its "
                          "module references (each a pinned release)",
              check_specs=[dg.AssetCheckSpec(MODULE_REFS, asset=asset_key,
                                             description="modules from outside the unit are used by release tag")])
    def _syntax(context: dg.AssetExecutionContext, gitops: GitopsResource,
                github: OptionalGitHub) -> dg.MaterializeResult:
        commits, ws = head_checkout(context, gitops, github, unit.name, Stage(SYNTAX))
        head = commits.head_sha
        with reporting(context, github, ws.config, unit.name, Stage(SYNTAX), head) as report, refusals():
            rules = rules_change(ws.config)
            report.rules(rules)
            refs = module_refs(ws, ws.config.unit(unit.name))  # no Terraform: before init fetches any of them
            report.module_refs(refs)
            result = core.syntax(ws, ws.config.unit(unit.name))
            report(result)
        (context.log.info if refs.passed else context.log.error)(refs.summary())
        diagnostics = "\n".join(f"- {d}" for d in result.diagnostics) or "none"
        extra = {WORK_ITEM: report.work_item} if report.work_item else {}
        extra[RULES_CHANGED] = rules is not None
        extra[MODULE_REFS] = "success" if refs.passed else "failure"
        elsewhere = deploys_nothing(commits, ws.config)
        if elsewhere:  # checked like any other, but nothing deploys it: say so where people look
            context.log.warning(elsewhere)
            extra.update({"deploys": False, "deploys_note": elsewhere})
        if not result.passed:
            record_failure(context, key(unit.name, SYNTAX), head, extra)
            raise dg.Failure(description=result.summary(), allow_retries=False,
                             metadata={"diagnostics": dg.MetadataValue.md(diagnostics), "fmt_diff": result.fmt_diff})
        return dg.MaterializeResult(metadata={
            "result": result.summary(), "diagnostics": dg.MetadataValue.md(diagnostics),
            "head_sha": head, **extra,
        }, check_results=[dg.AssetCheckResult(check_name=MODULE_REFS, passed=refs.passed,
                                              severity=dg.AssetCheckSeverity.ERROR,
                                              metadata={"report": dg.MetadataValue.md(refs.markdown())})])

    return _syntax


def ephemeral_test_asset(unit: UnitConfig) -> dg.AssetsDefinition:
    @dg.asset(key=key(unit.name, EPHEMERAL_TEST), group_name=unit.name, partitions_def=changes, kinds={"terraform"},
              description=f"deploy {unit.path} into a throwaway sandbox, check it, always destroy")
    def _ephemeral_test(context: dg.AssetExecutionContext, gitops: GitopsResource,
                        github: OptionalGitHub) -> dg.MaterializeResult:
        commits, ws = head_checkout(context, gitops, github, unit.name, Stage(EPHEMERAL_TEST))
        head = commits.head_sha
        with reporting(context, github, ws.config, unit.name, Stage(EPHEMERAL_TEST), head) as report, refusals():
            result = core.ephemeral_test(ws, ws.config.unit(unit.name))
            report(result)
        steps = "\n".join(f"- {'ok' if s.passed else 'FAILED'} {s.name} {s.detail}".rstrip() for s in result.steps)
        if not result.passed:
            record_failure(context, key(unit.name, EPHEMERAL_TEST), head)
            raise dg.Failure(description=result.summary(), allow_retries=False,
                             metadata={"steps": dg.MetadataValue.md(steps), "leaked": result.leaked})
        return dg.MaterializeResult(metadata={
            "result": result.summary(), "steps": dg.MetadataValue.md(steps), "suffix": result.suffix,
            "outputs": dg.MetadataValue.json(result.outputs),
            "head_sha": head,
        })

    return _ephemeral_test
