"""`gitops-pipelines`: the core use cases from a terminal or a script.

Exit codes: 0 ok, 1 the stage failed, 2 usage or config error, 3 refused (tampered, stale or wrongly bound
plan), 4 drift found (`drift` only). `change pr-N`: 0 when the change is applied or waits only on people (reviews,
the merge, a person launching a release or deploy), 1 when it waits on the pipeline or on a fix (a stage failed or
has not run at the head, a plan is missing), 2 for a bad change key, no such pull request, or no GitHub token.
`policy PLAN_ID`: 0 when the plan passes (warnings listed), 1 on a deny; `policy test`: 1 when a test fails.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from gitops_pipelines.core import stages
from gitops_pipelines.core.changes.consumers import module_consumers, repository_tags
from gitops_pipelines.core.changes.repositories import other_mains
from gitops_pipelines.core.audit import audit_rows, parse_since, to_csv, to_text
from gitops_pipelines.core.config import resolve_config_path
from gitops_pipelines.core.errors import ConfigError, GitopsError
from gitops_pipelines.core.github import GitHubGateway
from gitops_pipelines.core.plan_store.keys import ENV_VAR as PLAN_KEY_ENV
from gitops_pipelines.core.policy.testing import run_policy_tests
from gitops_pipelines.core.promotion.status import change_number, change_status
from gitops_pipelines.core.stages.module_refs import module_refs
from gitops_pipelines.core.stages.plan import check_policy
from gitops_pipelines.core.vocabulary import EPHEMERAL_TEST, SYNTAX
from gitops_pipelines.core.workspace import Workspace, open_workspace

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_REFUSED = 0, 1, 2, 3
EXIT_DRIFT = 4  # its own code: a script can tell drift from a typo in the command line


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own exit code is 2 as well; keep its message short
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help="path to gitops.yaml (default: $GITOPS_CONFIG, else ./gitops.yaml)")
    common.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    parser = _Parser(prog="gitops-pipelines", description=__doc__, parents=[common],
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    cfg = sub.add_parser("config", parents=[common], help="check gitops.yaml")
    cfg.add_argument("action", choices=["check"])
    at_commit = argparse.ArgumentParser(add_help=False)
    at_commit.add_argument("--commit", help="run on a checkout of this commit (a git worktree; fetched if missing)")
    for name, text, aliases in ((SYNTAX, "fmt, init without backend, validate", []),
                                (EPHEMERAL_TEST, "deploy to a throwaway sandbox, check, destroy", ["ephemeral"])):
        p = sub.add_parser(name, parents=[common, at_commit], help=text, description=text, aliases=aliases)
        p.add_argument("unit")
    p = sub.add_parser("plan", parents=[common, at_commit],
                       help="plan a project for one environment and store the plan")
    p.add_argument("unit")
    p.add_argument("--env", required=True)
    p.add_argument("--change", help="the change it belongs to, e.g. pr-12")
    p.add_argument("--base-sha", help="the base commit of the change (recorded in the binding)")
    p = sub.add_parser("apply", parents=[common], help="apply exactly one stored plan")
    p.add_argument("plan_id")
    p.add_argument("--env", help="refuse unless the plan was made for this environment")
    p.add_argument("--unit", help="refuse unless the plan was made for this unit")
    p.add_argument("--change", help="refuse unless the plan belongs to this change")
    p.add_argument("--head-sha", help="refuse unless the plan was made at this commit")
    p.add_argument("--by", help="who applies (recorded)")
    p = sub.add_parser("drift", parents=[common], help="report drift; never applies (exit 4 = drift found)")
    p.add_argument("unit")
    p.add_argument("--env", required=True)
    plans = sub.add_parser("plans", parents=[common], help="stored plans")
    psub = plans.add_subparsers(dest="plans_command", required=True, parser_class=_Parser)
    pl = psub.add_parser("list", parents=[common])
    pl.add_argument("--unit")
    pl.add_argument("--env")
    pl.add_argument("--change")
    ps = psub.add_parser("show", parents=[common])
    ps.add_argument("plan_id")
    pv = psub.add_parser("verify", parents=[common])
    pv.add_argument("plan_id", nargs="?")
    text = ("the security policy on a stored plan (exit 1 on deny; warnings listed), or `policy test`: the "
            "repository's Rego unit tests, like opa test")
    p = sub.add_parser("policy", parents=[common], help=text, description=text)
    p.add_argument("target", metavar="PLAN_ID|test", help="a stored plan's id, or `test`")
    text = ("every apply from the Dagster event log ($DAGSTER_HOME): when, the change, who approved on GitHub, who "
            "released, the plan_id, what it changed, the GitHub Release")
    p = sub.add_parser("audit", parents=[common], help=text, description=text)
    p.add_argument("--env", help="only this environment")
    p.add_argument("--unit", help="only this unit")
    p.add_argument("--since", help="only applies from this date (YYYY-MM-DD) or ISO timestamp on")
    p.add_argument("--csv", action="store_true", help="comma-separated values, one row per apply")
    text = "which units use a module, at which release, and which are behind its newest release"
    modules = sub.add_parser("modules", parents=[common], help=text, description=text)
    msub = modules.add_subparsers(dest="modules_command", required=True, parser_class=_Parser)
    mc = msub.add_parser("consumers", parents=[common], help=text, description=text)
    mc.add_argument("module", help="a module unit of gitops.yaml")
    text = "check that every module a unit uses from outside its folder is a release pinned by tag (exit 1 if not)"
    p = sub.add_parser("module-refs", parents=[common], help=text, description=text)
    p.add_argument("unit")
    text = ("act on the demo `make run` started, as its people: pr | module | approve [N] [--repo modules] | "
            "merge [N] | drift (`gitops-pipelines demo --help`)")
    sub.add_parser("demo", help=text, description=text)  # listed in --help; main() hands it its arguments
    text = "where a change stands: PR stages at their commit, plans, approvals, applies, what it waits for"
    p = sub.add_parser("change", parents=[common], help=text, description=text)
    p.add_argument("change", help="the pull request, pr-<number>")
    return parser


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["demo"]:  # its own arguments (--state, pr|module|approve|merge|drift), no gitops.yaml
        from gitops_pipelines.demo import main as demo

        return demo(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        # with --commit, the code planned is exactly the commit recorded in the binding
        ws = open_workspace(resolve_config_path(args.config), log=_stderr, commit=getattr(args, "commit", None),
                            plan_key=os.environ.get(PLAN_KEY_ENV))
        payload, text, code = COMMANDS[_command_name(args)](ws, args)
    except GitopsError as exc:
        if args.json:
            print(json.dumps({"error": str(exc), "kind": type(exc).__name__}))
        _stderr(f"error: {exc}")
        return exc.exit_code
    if args.json:
        print(json.dumps(payload, indent=2, default=str))
    else:
        print(text)
    return code


def _command_name(args) -> str:
    nested = {"plans": "plans_command", "modules": "modules_command"}.get(args.command)
    return f"{args.command} {getattr(args, nested)}" if nested else args.command


def _dump(model: Any) -> Any:
    return model.model_dump(mode="json") if hasattr(model, "model_dump") else model


def _config_check(ws: Workspace, args):
    c = ws.config
    text = (f"{c.source}: ok: {len(c.environments)} environment(s) ({', '.join(e.name for e in c.environments)}), "
            f"{len(c.modules)} module(s), {len(c.projects)} project(s)")
    return c.model_dump(mode="json"), text, EXIT_OK


def _syntax(ws: Workspace, args):
    r = stages.syntax(ws, ws.config.unit(args.unit))
    lines = [r.summary(), *(f"  {d}" for d in r.diagnostics)]
    return _dump(r), "\n".join(lines), EXIT_OK if r.passed else EXIT_FAILED


def _ephemeral(ws: Workspace, args):
    r = stages.ephemeral_test(ws, ws.config.unit(args.unit))
    lines = [r.summary(), *(f"  {'ok  ' if s.passed else 'FAIL'} {s.name} {s.detail}" for s in r.steps)]
    return _dump(r), "\n".join(lines), EXIT_OK if r.passed else EXIT_FAILED


def _plan(ws: Workspace, args):
    r = stages.plan(ws, ws.config.unit(args.unit), args.env, args.change, base_sha=args.base_sha)
    return {**_dump(r.record), "text": r.text}, f"{r.text}\n{r.summary()}\nplan_id: {r.plan_id}", EXIT_OK


def _apply(ws: Workspace, args):
    r = stages.apply(ws, args.plan_id, environment=args.env, unit=args.unit, change=args.change,
                     head_sha=args.head_sha, applied_by=args.by)
    return _dump(r), r.summary(), EXIT_OK


def _drift(ws: Workspace, args):
    r = stages.drift(ws, ws.config.unit(args.unit), args.env)
    return _dump(r), r.summary(), EXIT_DRIFT if r.status == "drift" else EXIT_OK


def _plans_list(ws: Workspace, args):
    records = ws.store.list(unit=args.unit, environment=args.env, change=args.change)
    lines = [f"{r.plan_id[:12]}  {r.binding.unit}/{r.binding.environment}  {r.binding.change or '-'}  "
             f"+{r.summary.add} ~{r.summary.change} -{r.summary.destroy} ±{r.summary.replace}  {r.created_at}"
             for r in records]
    return [_dump(r) for r in records], "\n".join(lines) or "no stored plans", EXIT_OK


def _plans_show(ws: Workspace, args):
    stored = ws.store.get(args.plan_id)
    applied = ws.store.applied(stored.record.plan_id)
    payload = {**_dump(stored.record), "applied": _dump(applied) if applied else None, "text": stored.text()}
    return payload, stored.text() + f"\nplan_id: {stored.record.plan_id}", EXIT_OK


def _plans_verify(ws: Workspace, args):
    if args.plan_id:
        ws.store.verify(args.plan_id)
        return {"plan_id": args.plan_id, "ok": True}, f"{args.plan_id}: intact", EXIT_OK
    results = ws.store.verify_all()
    bad = [(pid, problem) for pid, problem in results if problem]
    lines = [f"{pid[:12]}: {problem or 'intact'}" for pid, problem in results]
    payload = [{"plan_id": pid, "ok": problem is None, "problem": problem} for pid, problem in results]
    return payload, "\n".join(lines) or "no stored plans", EXIT_REFUSED if bad else EXIT_OK


def _policy(ws: Workspace, args):
    if args.target == "test":
        folder = ws.config.policy_root / (ws.config.policy.rego_dir or "policies")
        results = run_policy_tests(folder)
        lines = [f"{'PASS' if r.passed else 'FAIL'}: {r.name}" + (f" ({r.detail})" if r.detail else "")
                 for r in results]
        failed = sum(not r.passed for r in results)
        lines.append(f"{len(results) - failed}/{len(results)} policy tests passed in {folder}")
        payload = [{"name": r.name, "passed": r.passed, "detail": r.detail} for r in results]
        return payload, "\n".join(lines), EXIT_FAILED if failed else EXIT_OK
    stored = ws.store.get(args.target)  # verified before anything reads it
    report = check_policy(ws, stored.plan_json(), stored.record.binding.environment)
    b = stored.record.binding
    lines = [f"{b.unit}/{b.environment}: plan {stored.record.short_id}: policy "
             f"{'passed' if report.passed else 'FAILED'} ({len(report.errors)} error(s), "
             f"{len(report.warnings)} warning(s), {len(report.rules)} rule set(s))"]
    lines += [f"  {v.severity:7} {v.rule_id}  {v.address or '-'}  {v.message}" for v in report.violations]
    lines += [f"  waived  {v.rule_id}  {v.address or '-'}  {v.message}" for v in report.allowed]
    payload = {"plan_id": stored.record.plan_id, "passed": report.passed, "rules": report.rules,
               "violations": [v.__dict__ for v in report.violations], "waived": [v.__dict__ for v in report.allowed]}
    return payload, "\n".join(lines), EXIT_OK if report.passed else EXIT_FAILED


def _audit(ws: Workspace, args):
    since = parse_since(args.since)
    if not os.environ.get("DAGSTER_HOME"):
        raise ConfigError("$DAGSTER_HOME is not set: point it at the Dagster instance's folder (its dagster.yaml "
                          "names the SQLite or PostgreSQL storage the webserver and daemon use)")
    import dagster as dg  # the event log is Dagster's; the rows are the core's

    from gitops_pipelines.defs.audit import deploy_events

    with dg.DagsterInstance.get() as instance:
        events, releases = deploy_events(instance, ws.config)
    rows = audit_rows(events, releases, ws.store, environment=args.env, unit=args.unit, since=since)
    return [asdict(r) for r in rows], to_csv(rows) if args.csv else to_text(rows), EXIT_OK


def _module_refs(ws: Workspace, args):
    r = module_refs(ws, ws.config.unit(args.unit))
    lines = [r.summary(), *(f"  {f.describe()}" for f in r.findings)]
    payload = {"unit": r.unit, "passed": r.passed, "findings": [asdict(f) for f in r.findings],
               "pinned": [asdict(p) for p in r.pinned]}
    return payload, "\n".join(lines), EXIT_OK if r.passed else EXIT_FAILED


def _modules_consumers(ws: Workspace, args):
    report = module_consumers(ws.config, args.module, repository_tags(ws.config), elsewhere=other_mains(ws.config))
    return report.to_json(), report.text(), EXIT_OK


def _change(ws: Workspace, args):
    change_number(args.change)  # a typo is a usage error before anything is asked of GitHub
    gateway = _github_gateway(ws)
    try:
        status = change_status(ws.config, ws.store, gateway, args.change)
    finally:
        if gateway is not None:
            gateway.close()
    return status.to_json(), status.text(), EXIT_OK if status.waits_only_on_people else EXIT_FAILED


def _github_gateway(ws: Workspace):
    """The gateway gitops.yaml's `github:` section names, with the token from the variable github.token_env names;
    None without the section."""
    settings = ws.config.github
    if settings is None:
        return None
    token = os.environ.get(settings.token_env)
    if not token:
        raise ConfigError(f"${settings.token_env} is not set: export a token that can read the pull requests and "
                          f"checks of {settings.repository}", file=ws.config.source, field="github.token_env")
    return GitHubGateway.from_settings(settings, token=token, log=logging.getLogger(__name__).debug)


COMMANDS: dict[str, Callable] = {
    "config": _config_check, SYNTAX: _syntax, EPHEMERAL_TEST: _ephemeral, "ephemeral": _ephemeral, "plan": _plan,
    "apply": _apply, "drift": _drift, "plans list": _plans_list, "plans show": _plans_show, "plans verify": _plans_verify,
    "change": _change, "policy": _policy, "audit": _audit, "module-refs": _module_refs,
    "modules consumers": _modules_consumers,
}


if __name__ == "__main__":
    sys.exit(main())
