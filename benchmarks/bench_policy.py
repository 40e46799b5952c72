"""The default policy pack on a 200-resource plan: `evaluate` (every bundled Rego rule, waivers, the report).

    .venv/bin/python benchmarks/bench_policy.py [--resources 200] [--reps 15]

The plan JSON is synthetic but has the shape `terraform show -json` (1.11, AWS provider 5) prints: resources at
the root, in a module called with for_each and under count; S3 buckets with their public access blocks and
encryption configurations referring to them in `configuration`, security groups, IAM roles with inline policies,
databases, EBS volumes, SSM parameters; tags everywhere, required_tags on. Measured twice: every resource
created (the worst case, and the one the target is about), and 10% created with the rest unchanged (a usual
plan of a live stack). The first evaluation of the process (which compiles the pack) is timed apart; the target
is a median under 100 ms for the others, on an idle machine. Each line also gives the process's CPU time per
evaluation (time.process_time): on a loaded machine the wall time counts the waits for a CPU too, and the CPU
time is then the better guess of what an idle machine would take.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gitops_pipelines.core.policy import evaluate  # noqa: E402

TARGET_MS = 100.0
TAGS = {"owner": "platform", "environment": "test"}
ADMIN_FREE = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": ["arn:aws:s3:::acme-*/*"]}]})


def _change(address: str, rtype: str, after: dict[str, Any], unknown: dict[str, Any], module: str = "") -> dict:
    name = address.rsplit(".", 1)[-1].split("[", 1)[0]
    entry = {"address": address, "mode": "managed", "type": rtype, "name": name,
             "provider_name": "registry.terraform.io/hashicorp/aws",
             "change": {"actions": ["create"], "before": None, "after": after,
                        "after_unknown": {"id": True, "arn": True, "tags_all": True, **unknown},
                        "before_sensitive": False, "after_sensitive": {"tags": {}}}}
    if module:
        entry["module_address"] = module
    return entry


def _block(rtype: str, name: str, expressions: dict[str, Any], count: int | None = None) -> dict:
    block = {"address": f"{rtype}.{name}", "mode": "managed", "type": rtype, "name": name,
             "provider_config_key": "aws", "expressions": expressions, "schema_version": 0}
    if count is not None:
        block["count_expression"] = {"constant_value": count}
    return block


def _bucket_set(prefix: str, module: str, key: str) -> list[dict]:
    """A bucket with its public access block and encryption configuration: 3 resource changes."""
    bucket = {"bucket": f"acme-{key}", "force_destroy": False, "tags": TAGS, "timeouts": None, "object_lock_enabled": False}
    pab = {"block_public_acls": True, "block_public_policy": True, "ignore_public_acls": True,
           "restrict_public_buckets": True}
    sse = {"expected_bucket_owner": None, "rule": [{"apply_server_side_encryption_by_default": [
        {"kms_master_key_id": None, "sse_algorithm": "aws:kms"}], "bucket_key_enabled": True}]}
    return [
        _change(f"{prefix}aws_s3_bucket.this", "aws_s3_bucket", bucket,
                {"acceleration_status": True, "bucket_domain_name": True, "policy": True, "versioning": True,
                 "server_side_encryption_configuration": True}, module),
        _change(f"{prefix}aws_s3_bucket_public_access_block.this", "aws_s3_bucket_public_access_block", pab,
                {"bucket": True}, module),
        _change(f"{prefix}aws_s3_bucket_server_side_encryption_configuration.this",
                "aws_s3_bucket_server_side_encryption_configuration", sse, {"bucket": True, "rule": [{}]}, module),
    ]


def _root_set(i: int) -> list[dict]:
    """A security group, an IAM role with an inline policy, a database, a volume, a parameter: 5 changes."""
    sg = {"name": f"app-{i}", "description": "app", "revoke_rules_on_delete": False, "tags": TAGS, "vpc_id": "vpc-1",
          "ingress": [{"cidr_blocks": ["0.0.0.0/0"], "description": "", "from_port": 443, "to_port": 443,
                       "ipv6_cidr_blocks": [], "prefix_list_ids": [], "protocol": "tcp", "security_groups": [],
                       "self": False},
                      {"cidr_blocks": ["10.0.0.0/8"], "description": "", "from_port": 22, "to_port": 22,
                       "ipv6_cidr_blocks": [], "prefix_list_ids": [], "protocol": "tcp", "security_groups": [],
                       "self": False}],
          "egress": [{"cidr_blocks": ["0.0.0.0/0"], "description": "", "from_port": 0, "to_port": 0,
                      "ipv6_cidr_blocks": [], "prefix_list_ids": [], "protocol": "-1", "security_groups": [],
                      "self": False}]}
    role = {"name": f"app-{i}", "path": "/", "tags": TAGS, "max_session_duration": 3600,
            "assume_role_policy": json.dumps({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "ec2.amazonaws.com"}}]}),
            "inline_policy": [{"name": "data", "policy": ADMIN_FREE}]}
    db = {"engine": "postgres", "instance_class": "db.t3.micro", "allocated_storage": 20, "storage_encrypted": True,
          "tags": TAGS, "username": "app", "skip_final_snapshot": True}
    volume = {"availability_zone": "us-east-1a", "size": 10, "type": "gp3", "encrypted": True, "tags": TAGS}
    param = {"name": f"/app/{i}", "type": "String", "value": "x", "tags": TAGS, "tier": "Standard"}
    return [
        _change(f"aws_security_group.app[{i}]", "aws_security_group", sg, {"owner_id": True}),
        _change(f"aws_iam_role.app[{i}]", "aws_iam_role", role, {"unique_id": True, "managed_policy_arns": True}),
        _change(f"aws_db_instance.app[{i}]", "aws_db_instance", db, {"address": True, "endpoint": True}),
        _change(f"aws_ebs_volume.app[{i}]", "aws_ebs_volume", volume, {"iops": True, "kms_key_id": True}),
        _change(f"aws_ssm_parameter.app[{i}]", "aws_ssm_parameter", param, {"version": True}),
    ]


def synthetic_plan(resources: int = 200, changed: float = 1.0) -> dict[str, Any]:
    """About `resources` resource changes: half in `module.bucket["<key>"]` (for_each), half at the root (count);
    the first `changed` share of them created, the others unchanged (no-op), as when a plan touches a few."""
    changes: list[dict] = []
    buckets = resources // 2 // 3
    for n in range(buckets):
        module = f'module.bucket["b{n}"]'
        changes += _bucket_set(f"{module}.", module, f"b{n}")
    roots = (resources - len(changes)) // 5
    for i in range(roots):
        changes += _root_set(i)
    for rc in changes[int(len(changes) * changed):]:
        rc["change"].update(actions=["no-op"], before=rc["change"]["after"], after_unknown={})
    ref = {"references": ["aws_s3_bucket.this.id", "aws_s3_bucket.this"]}
    bucket_module = {"resources": [
        _block("aws_s3_bucket", "this", {"bucket": {"references": ["var.name"]}, "tags": {"references": ["var.tags"]}}),
        _block("aws_s3_bucket_public_access_block", "this", {"bucket": ref, **{
            flag: {"constant_value": True} for flag in ("block_public_acls", "block_public_policy",
                                                        "ignore_public_acls", "restrict_public_buckets")}}),
        _block("aws_s3_bucket_server_side_encryption_configuration", "this", {"bucket": ref}),
    ], "variables": {"name": {}, "tags": {}}}
    root_blocks = [_block(t, "app", {"tags": {"references": ["local.tags"]}}, count=roots) for t in (
        "aws_security_group", "aws_iam_role", "aws_db_instance", "aws_ebs_volume", "aws_ssm_parameter")]
    return {
        "format_version": "1.2", "terraform_version": "1.11.4", "applyable": True, "complete": True,
        "errored": False, "timestamp": "2026-11-02T10:00:00Z",
        "variables": {"environment": {"value": "test"}},
        "planned_values": {"root_module": {}},
        "resource_changes": changes,
        "configuration": {
            "provider_config": {"aws": {"name": "aws", "full_name": "registry.terraform.io/hashicorp/aws",
                                        "expressions": {"region": {"constant_value": "us-east-1"}}}},
            "root_module": {"resources": root_blocks, "module_calls": {"bucket": {
                "source": "./modules/bucket", "for_each_expression": {"references": ["local.buckets"]},
                "module": bucket_module}}},
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=200)
    parser.add_argument("--reps", type=int, default=15)
    args = parser.parse_args(argv)
    print(f"default policy pack, {args.resources} resources, {args.reps} repetitions, target {TARGET_MS:.0f} ms")
    medians = [_measure(synthetic_plan(args.resources, share), share, args.reps) for share in (1.0, 0.1)]
    return 0 if medians[0] <= TARGET_MS else 1


def _measure(plan: dict[str, Any], share: float, reps: int) -> float:
    """Print and return the median wall time of `reps` evaluations, after a first one that compiles the pack."""

    def once() -> tuple[float, float]:
        started, cpu = time.perf_counter(), time.process_time()
        report = evaluate(plan, "test", required_tags=["owner"])
        elapsed = ((time.perf_counter() - started) * 1000, (time.process_time() - cpu) * 1000)
        assert report.passed and not report.violations, [(v.rule_id, v.address) for v in report.violations]
        return elapsed

    first, _ = once()
    runs = [once() for _ in range(reps)]
    wall, cpu = [w for w, _ in runs], [c for _, c in runs]
    median = statistics.median(wall)
    verdict = "meets the target" if median <= TARGET_MS else "MISSES the target"
    print(f"  {share:4.0%} created: first {first:7.1f} ms, median {median:7.1f} ms "
          f"(min {min(wall):.1f}, max {max(wall):.1f}), CPU median {statistics.median(cpu):6.1f} ms "
          f"(min {min(cpu):.1f}): {verdict}")
    return median


if __name__ == "__main__":
    sys.exit(main())
