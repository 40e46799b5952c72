"""Real Terraform plans for the plan store tests (no provider: terraform_data is built in). No tests here."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from gitops_pipelines.core.plan_store import PlanBinding

MAIN_TF = """
variable "db_password" {
  type      = string
  sensitive = true
}
variable "name" {
  type    = string
  default = "app"
}
resource "terraform_data" "db" {
  input = {
    name     = var.name
    password = var.db_password
    replicas = [{ secret = var.db_password, zone = "a" }, { secret = "plain-b", zone = "b" }]
  }
}
module "child" {
  source = "./child"
  token  = var.db_password
}
output "connection" {
  value     = "postgres://app:${var.db_password}@db:5432/app"
  sensitive = true
}
output "name" {
  value = var.name
}
"""

CHILD_TF = """
variable "token" {
  type      = string
  sensitive = true
}
resource "terraform_data" "api" {
  input = { auth = { token = var.token, scheme = "bearer" } }
}
"""


@dataclass
class RealPlan:
    workdir: Path
    plan_file: bytes
    plan_json: dict
    text: str

    def binding(self, unit: str = "network", environment: str = "test", change: str | None = "pr-12") -> PlanBinding:
        return PlanBinding(unit=unit, environment=environment, change=change, head_sha="a" * 40,
                           base_sha="b" * 40, terraform_version=self.plan_json["terraform_version"],
                           lock_hash=None)


def terraform(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}
    return subprocess.run(["terraform", *args], cwd=workdir, env=env, capture_output=True, text=False, check=True)


def make_project(workdir: Path) -> Path:
    (workdir / "child").mkdir(parents=True, exist_ok=True)
    (workdir / "main.tf").write_text(MAIN_TF)
    (workdir / "child" / "main.tf").write_text(CHILD_TF)
    terraform(workdir, "init", "-input=false", "-no-color")
    return workdir


def make_plan(workdir: Path, password: str, name: str = "app", out: str = "plan.tfplan") -> RealPlan:
    """`terraform plan -out`, then `show -json` and the rendered text, as the plan stage does."""
    terraform(workdir, "plan", "-input=false", "-no-color", f"-out={out}",
              f"-var=db_password={password}", f"-var=name={name}")
    plan_json = json.loads(terraform(workdir, "show", "-json", out).stdout)
    text = terraform(workdir, "show", "-no-color", out).stdout.decode()
    return RealPlan(workdir, (workdir / out).read_bytes(), plan_json, text)


def apply_plan_file(workdir: Path, plan_file: bytes) -> subprocess.CompletedProcess:
    path = workdir / "from-store.tfplan"
    path.write_bytes(plan_file)
    return terraform(workdir, "apply", "-input=false", "-no-color", path.name)
