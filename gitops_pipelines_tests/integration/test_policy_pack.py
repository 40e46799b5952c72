"""The default policy pack on plans real Terraform made against moto: one configuration with a module under
for_each, a nested local module and resources under count, planned once breaking every rule and once clean."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from gitops_pipelines.core.policy import evaluate, pack_rules
from gitops_pipelines.core.terraform import TerraformRunner
from gitops_pipelines_dev.mirror import find_provider_mirror

pytestmark = pytest.mark.slow
pytest.importorskip("regopy")

REQUIRED_TAGS = ["owner"]

MAIN = """
terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 5.0" }
  }
}

variable "default_tags" {
  type    = map(string)
  default = {}
}

provider "aws" {
  region                      = "us-east-1"
  s3_use_path_style           = true
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
  default_tags {
    tags = var.default_tags
  }
}

module "store" {
  source   = "./store"
  for_each = toset(["logs", "data"])
  name     = each.key
  secure   = %(secure)s
}

module "platform" {
  source = "./platform"
  secure = %(secure)s
}

resource "aws_security_group" "web" {
  for_each = { ssh = 22, rdp = 3389 }
  name     = "web-${each.key}"
  ingress {
    from_port   = each.value
    to_port     = each.value
    protocol    = "tcp"
    cidr_blocks = [%(cidr)s]
  }
}

resource "terraform_data" "release" {
  for_each         = toset(["app"])
  triggers_replace = [%(release)s]
}
"""

EXTRA_BUCKET = """
resource "aws_s3_bucket" "extra" {
  count  = 1
  bucket = "acme-policy-extra"
}

resource "aws_s3_bucket_acl" "extra" {
  count  = 1
  bucket = aws_s3_bucket.extra[count.index].id
  acl    = "public-read"
}
"""

STORE = """
variable "name" { type = string }
variable "secure" { type = bool }

resource "aws_s3_bucket" "this" {
  bucket_prefix = "acme-${var.name}-"
}

# bucket is unknown until apply: the pack finds the bucket through configuration
resource "aws_s3_bucket_public_access_block" "this" {
  bucket                  = aws_s3_bucket.this.id
  block_public_acls       = true
  block_public_policy     = var.secure
  ignore_public_acls      = true
  restrict_public_buckets = var.secure
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  count  = var.secure ? 1 : 0
  bucket = aws_s3_bucket.this.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "aws:kms"
    }
  }
}
"""

PLATFORM = """
variable "secure" { type = bool }

module "network" {
  source = "./network"
  secure = var.secure
}

resource "aws_iam_policy" "admin" {
  name = "admin"
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = var.secure ? "s3:GetObject" : "*", Resource = "*" }]
  })
}

resource "aws_ebs_volume" "data" {
  count             = 1
  availability_zone = "us-east-1a"
  size              = 1
  encrypted         = var.secure
}
"""

HOOK = """
resource "terraform_data" "hook" {
  provisioner "local-exec" {
    command = "true"
  }
}
"""

NETWORK = """
variable "secure" { type = bool }

resource "aws_security_group" "this" {
  name = "network"
}

resource "aws_vpc_security_group_ingress_rule" "all" {
  count             = 1
  security_group_id = aws_security_group.this.id
  cidr_ipv6         = "::/0"
  ip_protocol       = var.secure ? "tcp" : "-1"
  from_port         = var.secure ? 443 : null
  to_port           = var.secure ? 443 : null
}
"""


def write_config(root, secure: bool) -> None:
    values = {"secure": str(secure).lower(), "cidr": '"10.0.0.0/8"' if secure else '"0.0.0.0/0"',
              "release": '"1"' if secure else '"2"'}
    (root / "platform" / "network").mkdir(parents=True, exist_ok=True)
    (root / "store").mkdir(exist_ok=True)
    (root / "main.tf").write_text(MAIN % values + ("" if secure else EXTRA_BUCKET))
    (root / "store" / "main.tf").write_text(STORE)
    (root / "platform" / "main.tf").write_text(PLATFORM + ("" if secure else HOOK))
    (root / "platform" / "network" / "main.tf").write_text(NETWORK)


@pytest.fixture(scope="module")
def plans(moto_servers, tmp_path_factory):
    """(violating plan, clean plan) as `terraform show -json` prints them; both replan one applied state."""
    root = tmp_path_factory.mktemp("policy-pack")
    cli_config = TerraformRunner(provider_mirror=find_provider_mirror()).cli_config()
    env = {**os.environ, **moto_servers["test"].aws_env(), "TF_CLI_CONFIG_FILE": str(cli_config),
           "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}

    def terraform(*args: str) -> str:
        proc = subprocess.run(["terraform", *args, "-no-color"], cwd=root, env=env, capture_output=True, text=True,
                              timeout=300, stdin=subprocess.DEVNULL)
        assert proc.returncode in (0, 2), f"terraform {args[0]}: {proc.stderr[-2000:]}"
        return proc.stdout

    def plan(secure: bool, tfvars: str) -> dict:
        write_config(root, secure)
        (root / "terraform.tfvars").write_text(tfvars)
        terraform("plan", "-input=false", "-out=tf.plan")
        return json.loads(terraform("show", "-json", "tf.plan"))

    write_config(root, secure=True)
    terraform("init", "-input=false")
    terraform("apply", "-input=false", "-auto-approve", "-target=terraform_data.release")  # something to replace
    violating = plan(False, "")
    clean = plan(True, 'default_tags = { owner = "platform" }\n')
    return violating, clean


def by_rule(report) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for v in report.violations:
        found.setdefault(v.rule_id, set()).add(v.address)
    return found


def test_every_default_rule_denies_and_names_the_module_or_instance_address(plans):
    violating, _ = plans
    report = evaluate(violating, "prod", required_tags=REQUIRED_TAGS)
    found = by_rule(report)
    assert set(found) == set(pack_rules()), "every rule of the pack finds something"
    expected = {
        "s3-public-access-block-disabled": {'module.store["data"].aws_s3_bucket_public_access_block.this',
                                            'module.store["logs"].aws_s3_bucket_public_access_block.this'},
        "s3-bucket-encryption": {'module.store["data"].aws_s3_bucket.this', 'module.store["logs"].aws_s3_bucket.this',
                                 "aws_s3_bucket.extra[0]"},
        "s3-bucket-public-access-block": {"aws_s3_bucket.extra[0]"},
        "s3-public-acl": {"aws_s3_bucket_acl.extra[0]"},
        "sg-open-ingress": {'aws_security_group.web["ssh"]', 'aws_security_group.web["rdp"]',
                            "module.platform.module.network.aws_vpc_security_group_ingress_rule.all[0]"},
        "iam-wildcard-admin": {"module.platform.aws_iam_policy.admin"},
        "unencrypted-storage": {"module.platform.aws_ebs_volume.data[0]"},
        "destroy-in-prod": {'terraform_data.release["app"]'},
        "no-local-exec": {"module.platform.terraform_data.hook"},
    }
    for rule, addresses in expected.items():
        assert found[rule] == addresses, rule
    assert {'module.store["logs"].aws_s3_bucket.this', 'aws_security_group.web["rdp"]',
            "module.platform.module.network.aws_security_group.this"} <= found["required-tags"]
    assert "terraform_data.release" not in " ".join(found["required-tags"])  # it has no tags
    messages = {(v.rule_id, v.address): v.message for v in report.violations}
    assert "on port 3389" in messages[("sg-open-ingress", 'aws_security_group.web["rdp"]')]
    assert "::/0 on all ports" in messages[("sg-open-ingress",
                                            "module.platform.module.network.aws_vpc_security_group_ingress_rule.all[0]")]
    assert "block_public_policy, restrict_public_buckets" in messages[
        ("s3-public-access-block-disabled", 'module.store["data"].aws_s3_bucket_public_access_block.this')]
    assert not report.passed
    assert "destroy-in-prod" not in by_rule(evaluate(violating, "test", required_tags=REQUIRED_TAGS))


def test_the_clean_plan_passes_with_buckets_found_through_configuration(plans):
    _, clean = plans
    blocks = [rc for rc in clean["resource_changes"] if rc["type"] == "aws_s3_bucket_public_access_block"]
    assert len(blocks) == 2 and all(rc["change"]["after_unknown"].get("bucket") is True for rc in blocks), \
        "the blocks' bucket is unknown until apply: only configuration references tie them to their bucket"
    report = evaluate(clean, "prod", required_tags=REQUIRED_TAGS)  # owner comes from the provider's default_tags
    assert report.violations == [] and report.passed
    assert set(report.rules) == set(pack_rules())
