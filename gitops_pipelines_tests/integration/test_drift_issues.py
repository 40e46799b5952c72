"""Drift on GitHub (the emulator): an issue per unit and environment opened, updated while the drift lasts, closed
with a comment when it is gone; an issue someone else wrote with the bot's marker is never taken for the bot's."""

from __future__ import annotations

from gitops_pipelines.core.github.drift_issues import DRIFT_LABEL, drift_marker, publish_drift
from gitops_pipelines.core.redact import Redactor
from gitops_pipelines.core.stages import DriftResult
from gitops_pipelines_dev.github_emulator import Emulator
from gitops_pipelines_tests.integration.test_github_gateway import assert_contract, gateway

RUN = "http://127.0.0.1:3000/runs/abc"


def _result(status: str, changes: dict[str, list[str]] | None = None) -> DriftResult:
    changes = changes or {}
    return DriftResult(unit="storage", environment="test", status=status, drifted=sorted(changes), pending=[],
                       changes=changes)


def test_drift_opens_updates_and_closes_one_issue(github_contract):
    with Emulator(github_contract) as emu:
        emu.create_repo("acme", "infra", {"README.md": "# infra\n"})
        gw = gateway(emu)
        impostor = emu.create_issue("Drift: storage in test", f"{drift_marker('storage', 'test')}\nfake",
                                    user="mallory", labels=[DRIFT_LABEL])
        tagged = {"module.artifacts.aws_s3_bucket.this": ['tags.team: "platform" -> "changed-by-hand"']}

        opened = publish_drift(gw, _result("drift", tagged), RUN)
        assert opened.action == "opened" and opened.number != impostor
        issue = emu.repo.issues[opened.number]
        assert issue.labels == [DRIFT_LABEL]
        assert "module.artifacts.aws_s3_bucket.this" in issue.body and "changed-by-hand" in issue.body
        assert RUN in issue.body and issue.state == "open"

        secret = {"aws_ssm_parameter.api_token": ['value: "tok-live-secret" -> "tok-other"']}
        again = publish_drift(gw, _result("drift", secret), RUN, Redactor(["tok-live-secret"]))
        assert (again.action, again.number) == ("updated", opened.number), "one issue per unit and environment"
        assert "tok-live-secret" not in emu.repo.issues[opened.number].body

        gone = publish_drift(gw, _result("no_drift"), RUN)
        assert (gone.action, gone.number) == ("closed", opened.number)
        assert emu.repo.issues[opened.number].state == "closed"
        assert "The drift is gone" in emu.repo.comments_on(opened.number)[-1].body
        assert publish_drift(gw, _result("no_drift"), RUN).action == "none"
        assert emu.repo.issues[impostor].state == "open" and emu.repo.issues[impostor].body.endswith("fake")
        assert_contract(emu)
