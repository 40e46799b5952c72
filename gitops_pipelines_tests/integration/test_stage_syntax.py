"""syntax(unit) on real Terraform: the sample passes, broken HCL and unformatted code are reported precisely."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from gitops_pipelines.core import stages
from gitops_pipelines.core.config import load_config
from gitops_pipelines.core.workspace import Workspace
from gitops_pipelines_tests.fixtures.infra_repo import make_infra_repo

pytestmark = pytest.mark.slow


def _workspace(root) -> Workspace:
    lines: list[str] = []
    ws = Workspace(load_config(root / "gitops.yaml"), log=lines.append)
    ws.log_lines = lines
    return ws


@pytest.fixture
def repo_copy(tmp_path, cloud_env):
    """A private copy of the sample repository, for tests that change its files."""
    return make_infra_repo(tmp_path / "repo")


def test_sample_units_are_formatted_and_valid(infra_root):
    ws = _workspace(infra_root)
    for name in ("bucket", "storage"):
        result = stages.syntax(ws, ws.config.unit(name))
        assert result.passed, result.summary()
        assert result.unformatted == [] and result.diagnostics == []
        assert result.summary() == f"{name}: formatted and valid"


def test_invalid_hcl_fails_with_file_line_and_column(repo_copy):
    unit_dir = repo_copy / "modules" / "bucket"
    (unit_dir / "broken.tf").write_text(
        'resource "aws_s3_bucket" "broken" {\n'
        '  bucket = "one" "two"\n'
        "}\n"
    )
    ws = _workspace(repo_copy)
    result = stages.syntax(ws, ws.config.unit("bucket"))

    assert not result.passed
    errors = [d for d in result.diagnostics if d.severity == "error"]
    assert errors, result.summary()
    located = [d for d in errors if d.file == "broken.tf"]
    assert located, [str(d) for d in errors]
    assert located[0].line == 2 and isinstance(located[0].column, int) and located[0].column > 1
    assert "broken.tf:2:" in result.summary()


def test_reference_to_undeclared_variable_is_located(repo_copy):
    unit_dir = repo_copy / "modules" / "bucket"
    (unit_dir / "extra.tf").write_text('output "oops" {\n  value = var.does_not_exist\n}\n')
    ws = _workspace(repo_copy)
    result = stages.syntax(ws, ws.config.unit("bucket"))

    assert not result.passed
    [diag] = [d for d in result.diagnostics if d.severity == "error"]
    assert (diag.file, diag.line) == ("extra.tf", 2)
    assert "undeclared" in diag.summary.lower()


def test_unformatted_code_lists_file_and_diff_and_cli_exits_1(repo_copy):
    (repo_copy / "modules" / "bucket" / "extra.tf").write_text(
        'variable "extra" {\n  type = string\n      default = "x"\n}\n'
    )
    env = {**os.environ, "GITOPS_PLAN_KEY": "syntax-test-key"}
    proc = subprocess.run(
        [sys.executable, "-m", "gitops_pipelines.cli", "syntax", "bucket", "--json",
         "--config", str(repo_copy / "gitops.yaml")],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert report["passed"] is False
    assert report["unformatted"] == ["extra.tf"]
    assert "extra.tf" in report["fmt_diff"] and '+  type    = string' in report["fmt_diff"]
    assert report["diagnostics"] == []  # the code is valid, only its layout is wrong


def test_init_runs_only_for_what_init_reads_a_new_module_call_or_lock_file(repo_copy):
    """One `init -backend=false` per unit and what init reads: a re-run, or code that changes only values,
    reuses the data folder; a new module call or another provider selection in the lock file initialises again."""
    ws = _workspace(repo_copy)
    unit = ws.config.unit("storage")

    def inits() -> int:
        ws.log_lines.clear()
        assert stages.syntax(ws, unit).passed, ws.log_lines
        return len([line for line in ws.log_lines if line.startswith("$ terraform init")])

    assert inits() == 1
    assert inits() == 0
    lock = repo_copy / unit.path / ".terraform.lock.hcl"
    (repo_copy / unit.path / "extra.tf").write_text('locals {\n  extra = "x"\n}\n')
    assert inits() == 0, "values only: the initialised folder serves"
    (repo_copy / unit.path / "naming").mkdir()
    (repo_copy / unit.path / "naming" / "main.tf").write_text('output "name" {\n  value = "x"\n}\n')
    (repo_copy / unit.path / "extra.tf").write_text('module "naming" {\n  source = "./naming"\n}\n')
    assert inits() == 1, "a new module call: init again"
    assert inits() == 0
    text = lock.read_text()
    lock.write_text(text.replace("hashes = [", 'hashes = [\n    "h1:bm90LWEtcmVhbC1oYXNoLWJ1dC1hbm90aGVyLW9uZQ==",', 1))
    assert inits() == 1, "another lock file: init again"
