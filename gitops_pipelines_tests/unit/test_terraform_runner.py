"""TerraformRunner on the real binary: a clear error without it, streamed output, no secrets in logs, no prompts.

The Terraform configurations here use only the built-in `terraform_data` resource: no provider, no cloud.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gitops_pipelines.core.errors import StageFailed, TerraformNotFound
from gitops_pipelines.core.terraform import TerraformRunner, error_blocks


class TimedLog:
    def __init__(self):
        self.lines: list[tuple[float, str]] = []

    def __call__(self, line: str) -> None:
        self.lines.append((time.monotonic(), line))

    def text(self) -> str:
        return "\n".join(line for _, line in self.lines)

    def first(self, needle: str) -> float:
        return next(t for t, line in self.lines if needle in line)


def _project(tmp_path: Path, body: str) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "main.tf").write_text(body)
    return folder


def test_missing_binary_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no terraform anywhere
    with pytest.raises(TerraformNotFound) as caught:
        TerraformRunner().version()
    assert "terraform binary 'terraform' not found on PATH" in str(caught.value)
    assert "install Terraform >= 1.6" in str(caught.value)
    assert caught.value.exit_code == 2


def test_missing_binary_exits_2_from_the_cli(tmp_path):
    (tmp_path / "modules" / "bucket").mkdir(parents=True)
    (tmp_path / "gitops.yaml").write_text(
        "environments: [{name: test}]\nunits: [{name: bucket, kind: module, path: modules/bucket}]\n")
    proc = subprocess.run([sys.executable, "-m", "gitops_pipelines.cli", "syntax", "bucket", "--json",
                           "--config", str(tmp_path / "gitops.yaml")],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PATH": str(tmp_path / "empty")})
    assert proc.returncode == 2, proc.stderr
    assert "not found on PATH" in proc.stderr
    assert '"kind": "TerraformNotFound"' in proc.stdout


def test_too_old_terraform_is_refused(tmp_path):
    fake = tmp_path / "terraform"
    fake.write_text('#!/bin/sh\necho \'{"terraform_version": "1.5.7"}\'\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    with pytest.raises(TerraformNotFound, match=r"Terraform 1\.5\.7 .* is too old; 1\.6 or newer"):
        TerraformRunner(binary=str(fake)).version()


def test_output_streams_line_by_line_and_secrets_never_reach_the_log(tmp_path, monkeypatch):
    passed = "passed-secret-1234"
    inherited = "inherited-secret-5678"
    withheld = "ghp_withheld-secret-9012"
    monkeypatch.setenv("GITOPS_TEST_API_TOKEN", inherited)  # in the process environment, passed by pass_env
    monkeypatch.setenv("GITHUB_TOKEN", withheld)  # in the process environment only: Terraform never sees it
    folder = _project(tmp_path, """
resource "terraform_data" "ticker" {
  provisioner "local-exec" {
    command = "echo key=$AWS_SECRET_ACCESS_KEY token=$GITOPS_TEST_API_TOKEN github=[$GITHUB_TOKEN]; for i in 1 2 3; do echo tick-$i; sleep 1; done"
  }
}
""")
    log = TimedLog()
    runner = TerraformRunner(log=log, pass_env=("GITOPS_TEST_API_TOKEN",))
    data_dir = tmp_path / "data"
    runner.init(folder, data_dir=data_dir)
    result = runner.apply_auto(folder, data_dir=data_dir, env={"AWS_SECRET_ACCESS_KEY": passed})
    finished = time.monotonic()

    # a person watching sees each line when Terraform prints it, not all at the end
    assert log.first("tick-3") - log.first("tick-1") >= 1.5
    assert finished - log.first("tick-1") >= 1.5
    assert "Apply complete! Resources: 1 added" in result.stdout  # and the output is captured as well

    text = log.text()
    assert "key=*** token=*** github=[]" in text
    assert passed not in text and inherited not in text and withheld not in text


def test_input_false_makes_a_missing_variable_fail_fast(tmp_path):
    folder = _project(tmp_path, 'variable "who" {\n  type = string\n}\n\noutput "greeting" {\n  value = var.who\n}\n')
    log = TimedLog()
    runner = TerraformRunner(log=log)
    data_dir = tmp_path / "data"
    runner.init(folder, data_dir=data_dir)
    started = time.monotonic()
    with pytest.raises(StageFailed) as caught:
        runner.plan(folder, tmp_path / "plan.tfplan", data_dir=data_dir)
    assert time.monotonic() - started < 30
    assert "No value for required variable" in str(caught.value)
    assert any(line.startswith("$ terraform plan -input=false") for _, line in log.lines)


def test_version_and_offline_cli_config(tmp_path):
    runner = TerraformRunner(provider_mirror="/nonexistent/mirror")
    assert tuple(int(p) for p in runner.version().split(".")[:2]) >= (1, 6)
    config = runner.cli_config().read_text()
    assert 'path    = "/nonexistent/mirror"' in config and "direct" in config


def test_the_whole_diagnostic_is_kept_for_the_check_run_not_only_its_first_line():
    output = ("\x1b[0mPlanning failed.\n\n╷\n│ \x1b[31mError: \x1b[0mInvalid function argument\n│\n"
              "│   on leak.tf line 2, in locals:\n│ Invalid value for \"path\" parameter: no file exists at \"x\".\n╵\n")
    blocks = error_blocks(output)
    assert blocks.startswith("╷\n│ Error: Invalid function argument") and "\x1b" not in blocks
    assert 'no file exists at "x"' in blocks and "Planning failed" not in blocks
    assert error_blocks("Success! The configuration is valid.\n") == ""


_RENDERED = """
variable "secret" {
  type      = string
  default   = "s3cr3t"
  sensitive = true
}

resource "terraform_data" "kept" {
  input = { name = "kept", secret = var.secret }
}

resource "terraform_data" "moved" {
  input = "%(value)s"
}

output "secret" {
  value     = terraform_data.kept.output
  sensitive = true
}
%(extra)s
"""
_FAILING_CHECK = """
check "moved_is_z" {
  assert {
    condition     = terraform_data.moved.input == "z"
    error_message = "moved is not z"
  }
}
"""


@pytest.mark.parametrize("step", ["create", "update with a warning after it", "no changes", "outputs only"])
def test_the_plan_text_cut_from_plan_output_is_what_terraform_show_prints(tmp_path, step):
    """The rendered plan kept with a stored plan is taken from `plan`'s own output; it must be byte for byte what
    `terraform show <planfile>` prints, whatever came before it (refresh lines) or after it (warnings)."""
    folder = _project(tmp_path, "")
    runner = TerraformRunner(log=lambda line: None)
    data_dir = tmp_path / "data"
    states = {"create": [], "update with a warning after it": [("x", "")],
              "no changes": [("x", "")], "outputs only": [("x", "")]}
    final = {"create": ("x", ""), "update with a warning after it": ("y", _FAILING_CHECK),
             "no changes": ("x", ""), "outputs only": ("x", 'output "plain" {\n  value = "new"\n}\n')}
    steps = [*states[step], final[step]]
    for i, (value, extra) in enumerate(steps):
        (folder / "main.tf").write_text(_RENDERED % {"value": value, "extra": extra})
        runner.init(folder, data_dir=data_dir)
        planfile = tmp_path / "plan.tfplan"
        made = runner.make_plan(folder, planfile, data_dir=data_dir)
        shown = runner.show_text(folder, planfile, data_dir=data_dir)
        assert made.text == shown
        if i < len(steps) - 1:  # the state the last plan starts from
            runner.apply_plan(folder, planfile, data_dir=data_dir)
    assert "s3cr3t" not in made.text and ("(sensitive value)" in made.text) == (step == "create")
    assert made.changed == (step != "no changes")
    plan_json, text = runner.show_both(folder, planfile, data_dir=data_dir)
    assert text == made.text and plan_json["format_version"]


def test_plan_output_of_an_unknown_shape_gives_no_text_so_the_stage_runs_show():
    from gitops_pipelines.core.terraform import rendered_plan

    assert rendered_plan("") is None
    assert rendered_plan("x: Refreshing state... [id=1]\n\nWarning: something first\n\nPlan: 1 to add\n") is None
    assert rendered_plan("\nTerraform used the selected providers to generate\n  a half-printed plan\n") is None
    assert rendered_plan("a: Reading...\n\nNo changes. Your infrastructure matches the configuration.\n") == (
        "\nNo changes. Your infrastructure matches the configuration.\n")
