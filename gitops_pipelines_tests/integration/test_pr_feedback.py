"""pr_feedback against the GitHub emulator: check runs per unit+stage, annotations, the work_item check."""

from __future__ import annotations

import pytest

from gitops_pipelines.core.github import reporter
from gitops_pipelines.core.vocabulary import Stage, plan_stage
from gitops_pipelines.core.config import load_config
from gitops_pipelines.core.github import GitHubGateway
from gitops_pipelines.core.stages import Diagnostic, SyntaxResult
from gitops_pipelines_dev.github_emulator import Emulator
from gitops_pipelines_dev.infra import SAMPLE

FAKE_ENV = {"TF_PROVIDER_MIRROR": "/x", "TEST_AWS_ENDPOINT": "http://127.0.0.1:1",
            "PROD_AWS_ENDPOINT": "http://127.0.0.1:2", "SANDBOX_AWS_ENDPOINT": "http://127.0.0.1:3",
            "GITOPS_GIT_CONFIG": "/x/gitconfig"}


@pytest.fixture
def emu(github_contract):
    with Emulator(github_contract) as emu:
        emu.create_repo("acme", "infra", {"README.md": "x"})
        yield emu


@pytest.fixture
def config(monkeypatch):
    for name, value in FAKE_ENV.items():
        monkeypatch.setenv(name, value)
    return load_config(SAMPLE / "gitops.yaml")


def gateway(emu):
    return GitHubGateway("acme/infra", token="t", base_url=emu.base_url, seconds_between_requests=0,
                         seconds_between_writes=0)


def latest(emu, sha):
    return {c.name: c for c in sorted(emu.repo.check_runs.values(), key=lambda c: c.id) if c.head_sha == sha}


def test_syntax_failure_sets_a_failed_check_with_file_and_line_annotations(emu, config):
    emu.commit("f", {"modules/bucket/main.tf": "x"})
    number = emu.open_pull("f", "t", "no reference")
    head = emu.repo.pull(number).head_sha
    gw = gateway(emu)
    reporter.start(gw, head, "bucket", Stage("syntax"))
    assert latest(emu, head)["bucket/syntax"].status == "in_progress"
    result = SyntaxResult(unit="bucket", passed=False, unformatted=["main.tf"], fmt_diff="-a\n+b",
                          diagnostics=[Diagnostic(severity="error", summary="Unsupported argument", file="main.tf",
                                                  line=3)])
    assert reporter.publish(gw, config, f"pr-{number}", head, "bucket", Stage("syntax"), result) == []
    check = latest(emu, head)["bucket/syntax"]
    assert (check.status, check.conclusion) == ("completed", "failure")
    assert {(a["path"], a["start_line"]) for a in check.output["annotations"]} == {
        ("modules/bucket/main.tf", 3), ("modules/bucket/main.tf", 1)}
    assert len([c for c in emu.repo.check_runs.values() if c.name == "bucket/syntax"]) == 1  # updated, not added


def test_work_item_check_fails_without_a_reference_and_passes_with_one(emu, config):
    issue = emu.create_issue("Work")
    emu.commit("a", {"a.tf": "x"})
    without = emu.open_pull("a", "t", "no reference")
    emu.commit("b", {"b.tf": "x"})
    with_ref = emu.open_pull("b", "t", f"Fixes #{issue}")
    gw = gateway(emu)
    assert reporter.work_item(gw, config, f"pr-{without}") == "failure"
    assert reporter.work_item(gw, config, f"pr-{with_ref}") == "success"
    assert "Fixes #N" in latest(emu, emu.repo.pull(without).head_sha)["work_item"].output["summary"]
    assert reporter.work_item(gw, config, "drift") is None


def test_a_stage_that_could_not_run_fails_its_checks_with_the_reason(emu, config):
    emu.commit("f", {"a.tf": "x"})
    head = emu.repo.pull(emu.open_pull("f", "t")).head_sha
    reporter.fail(gateway(emu), head, "storage", plan_stage("test"), "backend unreachable")
    checks = latest(emu, head)
    assert checks["storage/plan (test)"].conclusion == "failure"
    assert "backend unreachable" in checks["storage/policy (test)"].output["summary"]
