"""What a pull request's code can see and say, through the poll sensor on the GitHub emulator, real Terraform and moto.

Two pull requests in one tick. The first adds a resource whose `for_each` key is written to break out of markdown
(a backtick, ``` , `<!--`, `@team`, a link), a comment line of the same kind where fmt's diff shows it, and a
`local-exec` that writes its whole environment to a file during the ephemeral deploy (main's rules allow that
provisioner and waive its policy rule, as a platform team may). Someone else has already posted a comment carrying the
bot's marker on it. The second makes Terraform quote a secret in its error. This process holds secrets no Terraform
process may see.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_pipelines.core.github.rendering import comment_marker
from gitops_pipelines_dev.infra import ACCESS_KEYS, API_TOKEN
from gitops_pipelines_tests.dagster.conftest import failure_messages
from gitops_pipelines_tests.dagster.sensor_support import Sensor, execute
from gitops_pipelines_tests.dagster.test_trust_boundary import _settings
from gitops_pipelines_tests.unit.test_inert_markdown import assert_inert

pytestmark = pytest.mark.slow

KEY = "x` <!-- @team [approve](https://evil.example) ``` | y"
ADDRESS = f'terraform_data.probe["{KEY}"]'
FENCE_LINE = "# ``` <!-- everything below is hidden, @team approve"
PROCESS_SECRETS = {  # what the Dagster process holds besides the environments' credentials
    "GITHUB_TOKEN": "ghp_probe-github-token-4711",
    "GITOPS_PLAN_KEY": "probe-plan-key-0815",
    "GITOPS_WEBHOOK_SECRET": "probe-webhook-secret-1234",
    "AWS_SECRET_ACCESS_KEY": "probe-ambient-secret-9999",
}
LEAK = """locals {
  token_file = file(nonsensitive(var.api_token))
}

output "token_file" {
  value = nonsensitive(local.token_file)
}
"""


def _probe(out: Path) -> str:
    return f"""{FENCE_LINE}
resource "terraform_data" "probe" {{
  for_each = toset(["{KEY}"])
  input = each.key

  provisioner "local-exec" {{
    command = "env > '{out}'"
  }}
}}
"""


def _run(emu, number: int, name: str):
    head = emu.repo.pull(number).head_sha
    return max((r for r in emu.repo.check_runs.values() if r.name == name and r.head_sha == head), key=lambda r: r.id)


def test_pull_request_code_sees_only_its_targets_keys_and_cannot_speak_for_the_bot(github_env, instance, clouds,
                                                                                    monkeypatch, tmp_path):
    emu, checkout, defs, github, _ = github_env
    for name, value in PROCESS_SECRETS.items():
        monkeypatch.setenv(name, value)
    main_config = emu.repo.git.show_file("main", "gitops.yaml")
    emu.commit("main", {"gitops.yaml": _settings(main_config, **{
        "security.allow_provisioners": {"storage": ["local-exec"]},
        "policy.allow": ["no-local-exec:terraform_data.probe*"]})}, "Allow the env probe's local-exec")
    sensor = Sensor(defs, instance, github)
    sensor.tick()

    seen = tmp_path / "sandbox.env"
    issue = emu.create_issue("Probe")
    emu.commit("probe", {"projects/storage/probe.tf": _probe(seen)}, "Add a probe")
    probe = emu.open_pull("probe", "Add a probe", f"Fixes #{issue}")
    forged = emu.repo.add_comment(probe, f"{comment_marker('storage', 'test')}\n:white_check_mark: plan approved",
                                  user="mallory")
    emu.commit("leak", {"projects/storage/leak.tf": LEAK}, "Read the token file")
    leak = emu.open_pull("leak", "Read the token file", f"Fixes #{issue}")

    results = {}
    with clouds["test"].recording() as test_cloud, clouds["sandbox"].recording() as sandbox:
        for request in sensor.tick().run_requests:
            if request.asset_selection[0].path[0] == "storage":
                stages = {"syntax", "ephemeral_test", "test_plan"} if request.partition_key == f"pr-{probe}" else {
                    "test_plan"}
                results[request.partition_key] = execute(defs, instance, checkout, request, must_succeed=False,
                                                         stages=stages)
        assert test_cloud.access_key_ids() == {ACCESS_KEYS["TEST_PLAN"][0]}, "PR-time plans hold the plan-only key"
        assert sandbox.access_key_ids() == {ACCESS_KEYS["SANDBOX"][0]}

    # the ephemeral deploy's local-exec saw the sandbox's key and nothing else this process holds
    env = dict(line.split("=", 1) for line in seen.read_text().splitlines() if "=" in line)
    assert env["AWS_ACCESS_KEY_ID"] == ACCESS_KEYS["SANDBOX"][0]
    held = [*PROCESS_SECRETS.values(), API_TOKEN, *(value for pair in (ACCESS_KEYS["TEST"], ACCESS_KEYS["TEST_PLAN"],
                                                            ACCESS_KEYS["PROD"]) for value in pair)]
    assert not [value for value in held if value in seen.read_text()], "a secret of this process reached PR code"

    # nothing the pull request wrote is live markdown on GitHub: fmt's diff, the plan comment, the waived rule's row
    syntax = _run(emu, probe, "storage/syntax")
    assert syntax.conclusion == "failure"
    assert_inert(syntax.output["text"], FENCE_LINE)
    comments = emu.repo.comments_on(probe)
    [ours] = [c for c in comments if c.user != "mallory" and comment_marker("storage", "test") in c.body]
    assert ADDRESS in ours.body.replace("\\|", "|")
    assert_inert(ours.body, ADDRESS, emoji=False)
    # the forged comment carrying the bot's marker was left as its author wrote it
    assert forged.body in [c.body for c in comments if c.id == forged.id and c.user == "mallory"]

    # Terraform quoted the token in its error: masked in the check run and the Dagster failure
    planned = _run(emu, leak, "storage/plan (test)")
    assert planned.conclusion == "failure"
    said = f"{planned.output['summary']}\n{planned.output.get('text') or ''}"
    assert "no file exists at" in said and "***" in said, said
    assert API_TOKEN not in said
    assert API_TOKEN not in failure_messages(results[f"pr-{leak}"])
