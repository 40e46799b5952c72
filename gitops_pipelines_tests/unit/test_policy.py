"""The default policy pack (Rego files in core/policy/rules) over plan JSON in the shape `terraform show -json`
(1.11) prints, built by hand; test_policy_pack.py runs it on plans real Terraform made."""

from __future__ import annotations

import json

import pytest

from gitops_pipelines.core.policy import (
    BUNDLED_POLICIES,
    PolicyReport,
    Rule,
    RuleRegistry,
    Violation,
    evaluate,
    is_production,
    pack_rules,
)

pytest.importorskip("regopy")


def change(address, after, actions=("create",), after_unknown=None, before=None):
    """One `resource_changes` entry as Terraform 1.11 prints it for the AWS provider."""
    parts = address.split(".")
    module_address = ".".join(parts[:-2])  # module.<name>[key] in front of <type>.<name>, if any
    rtype, name = parts[-2], parts[-1].split("[")[0]
    entry = {
        "address": address,
        "mode": "managed",
        "type": rtype,
        "name": name,
        "provider_name": "registry.terraform.io/hashicorp/aws",
        "change": {
            "actions": list(actions),
            "before": before,
            "after": after,
            "after_unknown": after_unknown or {"id": True, "arn": True, "tags_all": True},
            "before_sensitive": False if before is None else {},
            "after_sensitive": {} if after is not None else False,
        },
    }
    if module_address:
        entry["module_address"] = module_address
    if "[" in parts[-1]:
        entry["index"] = json.loads(parts[-1].split("[", 1)[1].rstrip("]"))
    return entry


def plan(*changes, configuration=None):
    return {
        "format_version": "1.2",
        "terraform_version": "1.11.4",
        "planned_values": {"root_module": {}},
        "resource_changes": list(changes),
        "configuration": configuration or {"provider_config": {"aws": {"name": "aws", "full_name": "registry.terraform.io/hashicorp/aws"}}, "root_module": {}},
        "timestamp": "2026-11-02T10:00:00Z",
        "applyable": True,
        "complete": True,
        "errored": False,
    }


def ids(report: PolicyReport, *rules: str) -> list[tuple[str, str]]:
    """(rule, address) of each violation, sorted; only those of `rules` when named."""
    return sorted((v.rule_id, v.address) for v in report.violations if not rules or v.rule_id in rules)


BUCKET = {"bucket": "acme-logs", "force_destroy": False, "tags": None, "timeouts": None}
PAB_ON = {"block_public_acls": True, "block_public_policy": True, "ignore_public_acls": True, "restrict_public_buckets": True}
SSE = {"bucket": "acme-logs", "expected_bucket_owner": None, "rule": [{"apply_server_side_encryption_by_default": [
    {"kms_master_key_id": None, "sse_algorithm": "aws:kms"}], "bucket_key_enabled": True}]}
PAB = "s3-bucket-public-access-block"


def bucket_config(prefix_resources):
    """`configuration` where the access block's `bucket` refers to the bucket resource."""
    return {
        "root_module": {
            "resources": [
                {"address": "aws_s3_bucket.logs", "mode": "managed", "type": "aws_s3_bucket", "name": "logs",
                 "provider_config_key": "aws", "expressions": {"bucket": {"constant_value": "acme-logs"}}, "schema_version": 0},
            ],
            "module_calls": {
                "storage": {
                    "source": "../../modules/bucket",
                    "module": {"resources": prefix_resources},
                }
            },
        }
    }


# -- S3 ------------------------------------------------------------------------------------------------------------
def test_clean_plan_passes():
    report = evaluate(plan(
        change("aws_s3_bucket.logs", BUCKET),
        change("aws_s3_bucket_public_access_block.logs", {"bucket": "acme-logs", **PAB_ON}),
        change("aws_s3_bucket_acl.logs", {"bucket": "acme-logs", "acl": "private", "expected_bucket_owner": None}),
        change("aws_s3_bucket_server_side_encryption_configuration.logs", SSE),
    ), "test")
    assert report.passed and report.violations == []
    assert set(report.rules) == {
        "s3-bucket-public-access-block", "s3-bucket-encryption", "s3-public-acl", "s3-public-access-block-disabled",
        "sg-open-ingress", "iam-wildcard-admin", "destroy-in-prod", "unencrypted-storage", "no-local-exec"}
    assert set(evaluate(plan(), "test", required_tags=["owner"]).rules) == set(pack_rules())


def test_the_pack_is_one_rego_file_per_rule_beside_the_shared_helpers():
    files = sorted(p.stem for p in BUNDLED_POLICIES.glob("*.rego"))
    assert files == sorted(["terraform", *(rule.replace("-", "_") for rule in pack_rules())])
    assert not list(BUNDLED_POLICIES.glob("*.py"))


def test_bucket_without_public_access_block_or_encryption_is_a_warning():
    report = evaluate(plan(change("aws_s3_bucket.logs", BUCKET)), "test")
    assert ids(report) == [("s3-bucket-encryption", "aws_s3_bucket.logs"), (PAB, "aws_s3_bucket.logs")]
    assert report.passed  # a warning does not fail the plan
    assert len(report.warnings) == 2 and not report.errors


def test_access_block_found_through_configuration_references_in_a_module():
    block_config = [
        {"address": "aws_s3_bucket.this", "mode": "managed", "type": "aws_s3_bucket", "name": "this",
         "provider_config_key": "aws", "expressions": {"bucket": {"references": ["var.name"]}}, "count_expression": {"constant_value": 2}},
        {"address": "aws_s3_bucket_public_access_block.this", "mode": "managed", "type": "aws_s3_bucket_public_access_block",
         "name": "this", "provider_config_key": "aws",
         "expressions": {"bucket": {"references": ["aws_s3_bucket.this[count.index].id", "aws_s3_bucket.this[count.index]", "aws_s3_bucket.this"]},
                         "block_public_acls": {"constant_value": True}}},
    ]
    unknown_bucket = {"id": True, "bucket": True}
    report = evaluate(plan(
        change('module.storage["eu"].aws_s3_bucket.this[0]', {"bucket_prefix": "a-"}, after_unknown={"bucket": True, "id": True}),
        change('module.storage["eu"].aws_s3_bucket_public_access_block.this[0]', PAB_ON, after_unknown=unknown_bucket),
        change("aws_s3_bucket.logs", BUCKET),
        configuration=bucket_config(block_config),
    ), "test")
    assert ids(report, PAB) == [(PAB, "aws_s3_bucket.logs")]


def test_an_unchanged_access_block_still_covers_its_bucket():
    block = {"bucket": "acme-logs", **PAB_ON}
    report = evaluate(plan(
        change("aws_s3_bucket.logs", BUCKET),  # created again after a manual delete, say
        change("aws_s3_bucket_public_access_block.logs", block, actions=("no-op",), before=block, after_unknown={}),
    ), "test")
    assert ids(report, PAB) == []


def test_account_level_block_covers_every_bucket():
    report = evaluate(plan(
        change("aws_s3_account_public_access_block.this", {"account_id": None, **PAB_ON}),
        change("aws_s3_bucket.logs", BUCKET),
        change("aws_s3_bucket_server_side_encryption_configuration.logs", SSE),
    ), "test")
    assert report.violations == []


@pytest.mark.parametrize("acl", ["public-read", "public-read-write"])
def test_public_bucket_acl_is_an_error(acl):
    report = evaluate(plan(
        change("aws_s3_bucket.site", {**BUCKET, "bucket": "site"}),
        change("aws_s3_bucket_public_access_block.site", {"bucket": "site", **PAB_ON}),
        change("aws_s3_bucket_acl.site", {"bucket": "site", "acl": acl}, after_unknown={"id": True, "access_control_policy": True}),
    ), "test")
    assert ids(report) == [("s3-bucket-encryption", "aws_s3_bucket.site"), ("s3-public-acl", "aws_s3_bucket_acl.site")]
    assert not report.passed
    assert acl in report.errors[0].message


def test_acl_grant_to_all_users_is_an_error():
    grants = [{"grant": [{"grantee": [{"type": "Group", "uri": "http://acs.amazonaws.com/groups/global/AllUsers",
                                         "id": "", "email_address": "", "display_name": ""}], "permission": "READ"}],
               "owner": [{"id": "abc", "display_name": ""}]}]
    report = evaluate(plan(change("aws_s3_bucket_acl.site", {"bucket": "site", "acl": None, "access_control_policy": grants})), "test")
    assert ids(report) == [("s3-public-acl", "aws_s3_bucket_acl.site")]
    assert "READ to AllUsers" in report.violations[0].message


def test_access_block_with_a_flag_off_is_an_error():
    after = {"bucket": "acme-logs", **PAB_ON, "block_public_policy": False, "restrict_public_buckets": False}
    report = evaluate(plan(change("aws_s3_bucket_public_access_block.logs", after, actions=("update",), before={**after, **PAB_ON})), "test")
    assert ids(report) == [("s3-public-access-block-disabled", "aws_s3_bucket_public_access_block.logs")]
    assert "block_public_policy, restrict_public_buckets" in report.violations[0].message


# -- security groups -----------------------------------------------------------------------------------------------
def sg_rule(from_port, to_port, protocol="tcp", cidrs=("0.0.0.0/0",), ipv6=()):
    return {"cidr_blocks": list(cidrs), "description": "", "from_port": from_port, "ipv6_cidr_blocks": list(ipv6),
            "prefix_list_ids": [], "protocol": protocol, "security_groups": [], "self": False, "to_port": to_port}


def test_security_group_open_ingress():
    sg = {"name": "web", "description": "web", "revoke_rules_on_delete": False, "vpc_id": "vpc-1", "egress": [sg_rule(0, 0, "-1")],
          "ingress": [sg_rule(443, 443), sg_rule(80, 80, ipv6=("::/0",)), sg_rule(22, 22, cidrs=("10.0.0.0/8",)),
                      sg_rule(8, 0, "icmp")]}
    assert evaluate(plan(change("aws_security_group.web", sg)), "test").violations == []

    sg["ingress"].append(sg_rule(22, 22))
    report = evaluate(plan(change("aws_security_group.web", sg)), "test")
    assert ids(report) == [("sg-open-ingress", "aws_security_group.web")]
    assert "0.0.0.0/0 on port 22" in report.violations[0].message


@pytest.mark.parametrize(
    ("resource", "after", "message"),
    [
        ("aws_security_group_rule.ssh", {"type": "ingress", **sg_rule(22, 22), "security_group_id": "sg-1"}, "port 22"),
        ("aws_security_group_rule.range", {"type": "ingress", **sg_rule(80, 443), "security_group_id": "sg-1"}, "ports 80-443"),
        ("aws_security_group_rule.all", {"type": "ingress", **sg_rule(0, 0, "-1", cidrs=(), ipv6=("::/0",))}, "::/0 on all ports"),
        ("aws_vpc_security_group_ingress_rule.db", {"cidr_ipv4": "0.0.0.0/0", "cidr_ipv6": None, "from_port": 5432,
                                                    "to_port": 5432, "ip_protocol": "tcp", "security_group_id": "sg-1"}, "port 5432"),
        ("aws_vpc_security_group_ingress_rule.any", {"cidr_ipv4": "0.0.0.0/0", "cidr_ipv6": None, "from_port": None,
                                                     "to_port": None, "ip_protocol": "-1", "security_group_id": "sg-1"}, "all ports"),
    ],
)
def test_open_ingress_rule_resources(resource, after, message):
    report = evaluate(plan(change(resource, after)), "test")
    assert ids(report) == [("sg-open-ingress", resource)]
    assert message in report.violations[0].message


def test_egress_rule_and_https_rule_pass():
    report = evaluate(plan(
        change("aws_security_group_rule.out", {"type": "egress", **sg_rule(0, 0, "-1")}),
        change("aws_vpc_security_group_ingress_rule.https", {"cidr_ipv4": "0.0.0.0/0", "from_port": 443, "to_port": 443, "ip_protocol": "tcp"}),
    ), "test")
    assert report.violations == []


# -- IAM -----------------------------------------------------------------------------------------------------------
ADMIN = json.dumps({"Version": "2012-10-17", "Statement": [{"Sid": "Admin", "Effect": "Allow", "Action": "*", "Resource": "*"}]})
READ = json.dumps({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["*"]}})


def test_iam_wildcard_policy():
    report = evaluate(plan(
        change("aws_iam_policy.admin", {"name": "admin", "path": "/", "policy": ADMIN, "description": None}),
        change("aws_iam_role_policy.read", {"name": "read", "role": "app", "policy": READ}),
        change("aws_iam_role.app", {"name": "app", "assume_role_policy": json.dumps({"Statement": [{"Effect": "Allow", "Action": "*", "Principal": "*"}]}),
                                    "inline_policy": [{"name": "inline", "policy": json.dumps({"Statement": [{"Effect": "Allow", "Action": ["*"], "Resource": ["*"]}]})}]}),
        change("aws_iam_policy.deny", {"name": "deny", "policy": json.dumps({"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]})}),
        change("aws_iam_policy.later", {"name": "later"}, after_unknown={"policy": True}),
    ), "test")
    assert ids(report) == [("iam-wildcard-admin", "aws_iam_policy.admin"), ("iam-wildcard-admin", "aws_iam_role.app")]
    messages = {v.address: v.message for v in report.violations}
    assert "statement 'Admin'" in messages["aws_iam_policy.admin"]
    assert messages["aws_iam_role.app"].startswith("inline_policy[0].policy")


def test_a_policy_that_is_not_json_is_skipped_without_noise_on_stdout(capfd):
    report = evaluate(plan(change("aws_iam_policy.x", {"name": "x", "policy": "{not json"}),
                           change("aws_iam_role.r", {"name": "r", "inline_policy": [{"name": "i", "policy": "{["}]})), "test")
    assert report.violations == []
    assert capfd.readouterr().out == ""  # the CLI prints its JSON there


# -- destroy in production -----------------------------------------------------------------------------------------
def destroy_plan():
    return plan(
        change("aws_s3_bucket.old", None, actions=("delete",), before=BUCKET),
        change("aws_instance.web", {"ami": "ami-2", "instance_type": "t3.micro"}, actions=("delete", "create"), before={"ami": "ami-1"}),
        change("aws_s3_bucket.kept", BUCKET, actions=("no-op",), before=BUCKET),
    )


def test_destroy_in_prod_needs_an_explicit_allow():
    report = evaluate(destroy_plan(), "prod")
    assert ids(report) == [("destroy-in-prod", "aws_instance.web"), ("destroy-in-prod", "aws_s3_bucket.old")]
    assert not report.passed
    assert "replaced" in {v.address: v.message for v in report.violations}["aws_instance.web"]

    partly = evaluate(destroy_plan(), "prod", allow={"destroy-in-prod:aws_s3_bucket.old"})
    assert ids(partly) == [("destroy-in-prod", "aws_instance.web")] and not partly.passed
    assert [v.address for v in partly.allowed] == ["aws_s3_bucket.old"]

    allowed = evaluate(destroy_plan(), "prod", allow={"destroy-in-prod:aws_*"})
    assert allowed.passed and allowed.violations == [] and len(allowed.allowed) == 2
    assert evaluate(destroy_plan(), "prod", allow={"destroy-in-prod"}).passed
    assert not evaluate(destroy_plan(), "prod", allow={"iam-wildcard-admin", "aws_s3_bucket.old"}).passed


def test_destroy_outside_prod_is_fine():
    assert evaluate(destroy_plan(), "test").passed
    assert [is_production(e) for e in ("prod", "PROD", "production", "prod-eu", "test", "preprod", "sandbox")] == [
        True, True, True, True, False, False, False]


# -- encryption ----------------------------------------------------------------------------------------------------
def test_unencrypted_storage():
    report = evaluate(plan(
        change("aws_db_instance.main", {"engine": "postgres", "instance_class": "db.t3.micro", "storage_encrypted": False}),
        change("aws_db_instance.ok", {"engine": "postgres", "storage_encrypted": True}),
        change("aws_rds_cluster.main", {"engine": "aurora-postgresql", "storage_encrypted": None}),
        change("aws_ebs_volume.data", {"availability_zone": "eu-west-1a", "size": 10, "encrypted": False}),
        change("aws_ebs_volume.default", {"availability_zone": "eu-west-1a", "size": 10}, after_unknown={"encrypted": True, "id": True}),
    ), "test")
    assert ids(report) == [
        ("unencrypted-storage", "aws_db_instance.main"),
        ("unencrypted-storage", "aws_ebs_volume.data"),
        ("unencrypted-storage", "aws_rds_cluster.main"),
    ]


def test_untouched_resources_are_not_judged():
    report = evaluate(plan(change("aws_ebs_volume.legacy", {"encrypted": False}, actions=("no-op",), before={"encrypted": False})), "prod")
    assert report.violations == []


# -- report and registry -------------------------------------------------------------------------------------------
def test_markdown_for_a_pr_comment():
    report = evaluate(plan(
        change("aws_s3_bucket.logs", BUCKET),
        change("aws_s3_bucket_acl.logs", {"bucket": "acme-logs", "acl": "public-read"}),
        change("aws_s3_bucket.old", None, actions=("delete",), before=BUCKET),
    ), "prod", allow={"destroy-in-prod:aws_s3_bucket.old"})
    text = report.markdown()
    assert text.startswith("### :x: Policy failed for `prod`")
    assert "1 error(s), 2 warning(s)" in text
    lines = text.splitlines()
    acl_row = lines.index("| error | `s3-public-acl` | `aws_s3_bucket_acl.logs` | canned ACL 'public-read' makes the bucket public; use private and grant access by policy |")
    warn_row = next(i for i, line in enumerate(lines) if line.startswith("| warning | `s3-bucket-public-access-block`"))
    assert acl_row < warn_row  # errors first
    assert "- `destroy-in-prod` on `aws_s3_bucket.old`" in text
    assert "waive one under `policy.waivers`" in text
    assert evaluate(plan(), "test").markdown().startswith("### :white_check_mark: Policy passed for `test`")


def test_plan_json_as_text_and_custom_rules():
    registry = RuleRegistry()  # Python rules instead of the default pack

    @registry.rule("required-tags", "error", "Every resource has an owner tag.")
    def _tags(view):
        for res in view.changing():
            if "owner" not in (res.known("tags") or {}):
                yield res.address, "no owner tag"

    text = json.dumps(plan(change("aws_s3_bucket.logs", {**BUCKET, "tags": {"team": "x"}})))
    report = evaluate(text, "test", rules=registry)
    assert report.violations == [Violation("required-tags", "error", "aws_s3_bucket.logs", "no owner tag")]
    assert report.rules == ["required-tags"]
    with pytest.raises(ValueError, match="twice"):
        registry.add(Rule("required-tags", "warning", "dup", _tags))


def test_plan_without_changes_or_with_data_sources():
    assert evaluate({"format_version": "1.2"}, "prod").passed
    data = change("aws_iam_policy.x", {"policy": ADMIN})
    data["mode"] = "data"
    assert evaluate(plan(data), "prod").violations == []

