"""The rules come from main: only the units (and their code) come from the commit under test (pure, on files)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from gitops_pipelines.core.config import load_config
from gitops_pipelines.core.errors import ConfigError
from gitops_pipelines.core.github.models import Review
from gitops_pipelines.core.promotion.gate import GateInputs, StageResult, evaluate_gate
from gitops_pipelines.core.rules import judged_config, rules_change, rules_diff

MAIN = {
    "environments": [{"name": "test", "auto_apply": True, "env": {"AWS_ENDPOINT_URL": "${TEST_ENDPOINT}"}}],
    "units": [{"name": "storage", "kind": "project", "path": "projects/storage"}],
    "policy": {"rego_dir": "policies"},
    "rules_owners": ["carol"],
}


def _repo(root: Path, config: dict, policy: str | None = "package gitops\n") -> Path:
    (root / "projects/storage").mkdir(parents=True)
    (root / "projects/network").mkdir(parents=True)
    if policy is not None:
        (root / "policies").mkdir()
        (root / "policies/deny.rego").write_text(policy)
    (root / "gitops.yaml").write_text(yaml.safe_dump(config))
    return root / "gitops.yaml"


def test_the_units_come_from_the_change_and_everything_else_from_main(tmp_path):
    main = load_config(_repo(tmp_path / "main", MAIN), environ={"TEST_ENDPOINT": "http://moto:1"})
    head = dict(MAIN, units=[*MAIN["units"], {"name": "network", "kind": "project", "path": "projects/network"}],
                environments=[{"name": "test", "auto_apply": True, "env": {"AWS_ENDPOINT_URL": "${GITHUB_TOKEN}"}}],
                policy={"allow": ["no-public-tag"], "rego_dir": "policies"})
    judged = judged_config(main, _repo(tmp_path / "head", head, policy=None))
    assert [u.name for u in judged.units] == ["storage", "network"]
    assert judged.environment("test").env == {"AWS_ENDPOINT_URL": "http://moto:1"}  # main's, not ${GITHUB_TOKEN}
    assert judged.policy.allow == [] and judged.policy_root == main.root
    assert judged.unit_dir(judged.unit("network")) == (tmp_path / "head/projects/network").resolve()


def test_a_unit_with_an_environment_main_lacks_is_refused_naming_it(tmp_path):
    main = load_config(_repo(tmp_path / "main", MAIN), environ={"TEST_ENDPOINT": "x"})
    head = dict(MAIN, units=[{"name": "storage", "kind": "project", "path": "projects/storage",
                              "environments": ["test", "staging"]}])
    with pytest.raises(ConfigError, match="names environments main does not have: staging") as caught:
        judged_config(main, _repo(tmp_path / "head", head))
    assert caught.value.field == "units[0].environments"


def test_what_a_change_does_to_the_rules_is_shown_and_unit_edits_are_not_rules(tmp_path):
    main_cfg = _repo(tmp_path / "main", MAIN)
    same = _repo(tmp_path / "same", dict(MAIN, units=[*MAIN["units"], {"name": "network", "kind": "project",
                                                                      "path": "projects/network"}]))
    assert rules_diff(main_cfg, same, "policies") is None
    lowered = _repo(tmp_path / "lowered", dict(MAIN, approvals={"required": 0}), policy="package gitops # off\n")
    diff = rules_diff(main_cfg, lowered, "policies")
    assert "+approvals:" in diff and "+  required: 0" in diff and "policy file changed: policies/deny.rego" in diff
    main = load_config(main_cfg, environ={"TEST_ENDPOINT": "x"})
    assert "policy file removed" in rules_change(judged_config(main, _repo(tmp_path / "gone", MAIN, policy=None)))


def _gate(**changes) -> GateInputs:
    head = "b" * 40
    good = GateInputs(unit="storage", environment="test", change="pr-7", head_sha=head, merge_sha="c" * 40,
                      required_stages=("syntax",), stages={"syntax": StageResult("syntax", True, head)},
                      reviews=[Review("alice", "APPROVED", head, "2026-11-02T10:00:00Z")], author="dave",
                      approvals_required=1, plan_id="d" * 64, plan_head_sha=head, plan_commit=head,
                      rules_changed=True, rules_owners=("carol",))
    return replace(good, **changes)


def test_a_change_to_the_rules_needs_a_rules_owners_approval_of_its_head():
    refused = evaluate_gate(_gate())
    assert [r.condition for r in refused.refusals] == ["rules"]
    assert "ask one of carol to review and approve the head" in str(refused.refusals[0])
    owner = Review("Carol", "APPROVED", "b" * 40, "2026-11-02T11:00:00Z")
    assert evaluate_gate(_gate(reviews=[*_gate().reviews, owner])).passed
    assert evaluate_gate(_gate(rules_changed=False)).passed
