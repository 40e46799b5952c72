"""The default policy pack's required-tags rule, and rules on resources inside modules, under count and for_each,
and with values unknown until apply (plan JSON built by hand, as in test_policy.py)."""

from __future__ import annotations

import pytest

from gitops_pipelines.core.policy import evaluate
from gitops_pipelines_tests.unit.test_policy import ADMIN, PAB, PAB_ON, change, ids, plan, sg_rule

pytest.importorskip("regopy")


# -- required tags ---------------------------------------------------------------------------------------------------
def tagged(address, tags, after_unknown=None):
    return change(address, {"name": "x", "tags": tags}, after_unknown=after_unknown)


def test_required_tags_come_from_gitops_yaml_and_are_off_by_default():
    p = plan(tagged("aws_sqs_queue.jobs", {"team": "x"}), tagged('module.app["eu"].aws_sns_topic.events[0]', None),
             tagged("aws_sqs_queue.ok", {"owner": "a", "cost-center": "1"}),
             change("terraform_data.untaggable", {"input": None}))
    assert evaluate(p, "test").violations == []
    report = evaluate(p, "test", required_tags=["owner", "cost-center"])
    assert ids(report) == [("required-tags", "aws_sqs_queue.jobs"), ("required-tags", 'module.app["eu"].aws_sns_topic.events[0]')]
    assert not report.passed
    assert "missing required tag(s) cost-center, owner" in report.violations[0].message

    from gitops_pipelines.core.settings import PolicySettings
    assert PolicySettings.model_validate({"required_tags": ["owner"]}).required_tags == ["owner"]
    assert PolicySettings().required_tags == []


def test_required_tags_count_the_providers_default_tags_and_skip_tags_unknown_until_apply():
    configuration = {"provider_config": {"aws": {"name": "aws", "full_name": "registry.terraform.io/hashicorp/aws",
                                                 "expressions": {"default_tags": [{"tags": {"references": ["var.default_tags"]}}]}}},
                     "root_module": {}}
    p = plan(tagged("aws_sqs_queue.jobs", {"team": "x"}),
             tagged("aws_sqs_queue.later", None, after_unknown={"tags": True, "id": True}),
             configuration=configuration)
    p["variables"] = {"default_tags": {"value": {"owner": "platform"}}}
    assert evaluate(p, "test", required_tags=["owner"]).violations == []  # the provider adds owner to every resource
    report = evaluate(p, "test", required_tags=["owner", "service"])
    assert ids(report) == [("required-tags", "aws_sqs_queue.jobs")]  # not the one whose tags come after apply
    assert "tag(s) service;" in report.violations[0].message


# -- modules, count and for_each -----------------------------------------------------------------------------------
def test_rules_see_resources_inside_modules_and_under_count_and_for_each():
    report = evaluate(plan(
        change('module.db["eu"].aws_db_instance.main[0]', {"engine": "postgres", "storage_encrypted": False}),
        change('module.net.module.sg.aws_security_group_rule.ssh["office"]', {"type": "ingress", **sg_rule(22, 22)}),
        change("module.iam.aws_iam_policy.admin[1]", {"name": "admin", "policy": ADMIN}),
        change('module.db["eu"].aws_db_instance.main[1]', None, actions=("delete",), before={"engine": "postgres"}),
    ), "prod-eu")
    assert ids(report) == [
        ("destroy-in-prod", 'module.db["eu"].aws_db_instance.main[1]'),
        ("iam-wildcard-admin", "module.iam.aws_iam_policy.admin[1]"),
        ("sg-open-ingress", 'module.net.module.sg.aws_security_group_rule.ssh["office"]'),
        ("unencrypted-storage", 'module.db["eu"].aws_db_instance.main[0]'),
    ]


def test_an_unknown_bucket_name_is_matched_through_configuration_not_guessed():
    """Both the bucket's name and the block's `bucket` are unknown until apply: only `configuration` links them."""
    config = {"root_module": {"resources": [
        {"address": "aws_s3_bucket.data", "mode": "managed", "type": "aws_s3_bucket", "name": "data",
         "expressions": {"bucket_prefix": {"constant_value": "data-"}}, "count_expression": {"constant_value": 2}},
        {"address": "aws_s3_bucket_public_access_block.data", "mode": "managed",
         "type": "aws_s3_bucket_public_access_block", "name": "data",
         "expressions": {"bucket": {"references": ["aws_s3_bucket.data[count.index].id", "aws_s3_bucket.data"]}}},
        {"address": "aws_s3_bucket_public_access_block.other", "mode": "managed",
         "type": "aws_s3_bucket_public_access_block", "name": "other",
         "expressions": {"bucket": {"references": ["aws_s3_bucket.unrelated.id", "aws_s3_bucket.unrelated"]}}},
        {"address": "aws_s3_bucket_server_side_encryption_configuration.data", "mode": "managed",  # count = 0
         "type": "aws_s3_bucket_server_side_encryption_configuration", "name": "data",
         "expressions": {"bucket": {"references": ["aws_s3_bucket.data[count.index].id", "aws_s3_bucket.data"]}}},
    ]}}
    unknown = {"bucket": True, "id": True}
    report = evaluate(plan(
        change("aws_s3_bucket.data[0]", {"bucket_prefix": "data-"}, after_unknown=unknown),
        change("aws_s3_bucket.data[1]", {"bucket_prefix": "data-"}, after_unknown=unknown),
        change("aws_s3_bucket.logs", {"bucket_prefix": "logs-"}, after_unknown=unknown),
        change("aws_s3_bucket_public_access_block.data[0]", PAB_ON, after_unknown=unknown),
        change("aws_s3_bucket_public_access_block.other", PAB_ON, after_unknown=unknown),
        configuration=config,
    ), "test")
    assert ids(report, PAB) == [(PAB, "aws_s3_bucket.logs")]
    assert [a for _, a in ids(report, "s3-bucket-encryption")] == [  # a block with no instance covers nothing
        "aws_s3_bucket.data[0]", "aws_s3_bucket.data[1]", "aws_s3_bucket.logs"]
