"""The checks every unit gets on a pull request: syntax and an ephemeral test deploy."""


import dagster as dg

from gitops_pipelines.core import stages as core
from gitops_pipelines.core.config import UnitConfig
from gitops_pipelines.core.vocabulary import EPHEMERAL_TEST, SYNTAX, WORK_ITEM, Stage
from gitops_pipelines.defs.keys import key
from gitops_pipelines.defs.lineage import record_failure
from gitops_pipelines.defs.partitions import changes
from gitops_pipelines.defs.pr_checks.reporting import reporting
from gitops_pipelines.defs.refusals import refusals
from gitops_pipelines.defs.run_tags import run_commits
from gitops_pipelines.resources import GitopsResource
from gitops_pipelines.resources.github import OptionalGitHub


def syntax_asset(unit: UnitConfig) -> dg.AssetsDefinition:
    @dg.asset(key=key(unit.name, SYNTAX), group_name=unit.name, partitions_def=changes, kinds={"terraform"},
              description=f"`terraform fmt -check`, `init -backend=false`, `validate` of {unit.path}")
    def _syntax(context: dg.AssetExecutionContext, gitops: GitopsResource,
                github: OptionalGitHub) -> dg.MaterializeResult:
        with refusals():
            head = run_commits(context, github).head_sha
            ws = gitops.workspace(context.log.info, head)
        with reporting(context, github, ws.config, unit.name, Stage(SYNTAX), head) as report, refusals():
            result = core.syntax(ws, ws.config.unit(unit.name))
            report(result)
        diagnostics = "\n".join(f"- {d}" for d in result.diagnostics) or "none"
        work_item = {WORK_ITEM: report.work_item} if report.work_item else {}
        if not result.passed:
            record_failure(context, key(unit.name, SYNTAX), head, work_item)
            raise dg.Failure(description=result.summary(), allow_retries=False,
                             metadata={"diagnostics": dg.MetadataValue.md(diagnostics), "fmt_diff": result.fmt_diff})
        return dg.MaterializeResult(metadata={
            "result": result.summary(), "diagnostics": dg.MetadataValue.md(diagnostics),
            "head_sha": head, **work_item,
        })

    return _syntax


def ephemeral_test_asset(unit: UnitConfig) -> dg.AssetsDefinition:
    @dg.asset(key=key(unit.name, EPHEMERAL_TEST), group_name=unit.name, partitions_def=changes, kinds={"terraform"},
              description=f"deploy {unit.path} into a throwaway sandbox, check it, always destroy")
    def _ephemeral_test(context: dg.AssetExecutionContext, gitops: GitopsResource,
                        github: OptionalGitHub) -> dg.MaterializeResult:
        with refusals():
            head = run_commits(context, github).head_sha
            ws = gitops.workspace(context.log.info, head)
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
