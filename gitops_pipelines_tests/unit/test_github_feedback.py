"""Rendering what the pipeline says on a pull request: plan comments, parts, check summaries, annotations."""

from __future__ import annotations

import re

import pytest

from gitops_pipelines.core.github.comments import cleared_body, marker_key, parts_of, plan_upsert, render_parts
from gitops_pipelines.core.github.feedback import (check_name, check_outcome, check_summary, comment_marker,
                                                   plan_comment, split_comment, syntax_annotations)
from gitops_pipelines.core.github.models import Comment
from gitops_pipelines.core.plan_store import PlanBinding, PlanRecord
from gitops_pipelines.core.plan_store.models import PlanSummary
from gitops_pipelines.core.redact import Redactor
from gitops_pipelines.core.stages import DriftResult, EphemeralResult, PlanResult, SyntaxResult
from gitops_pipelines.core.stages.ephemeral import EphemeralStep
from gitops_pipelines.core.stages.syntax import Diagnostic

PLAN_ID = "ab" * 32
PLAN_TEXT = """Terraform will perform the following actions:

  # aws_s3_bucket.data will be created
  + resource "aws_s3_bucket" "data" {
      + bucket = "data-test"
    }

  # aws_db_instance.main will be updated in-place
  ~ resource "aws_db_instance" "main" {
      ~ password = (sensitive value)
      - tags     = {} -> null
    }

Plan: 1 to add, 1 to change, 0 to destroy.
"""


def make_plan(text: str = PLAN_TEXT, *, passed: bool = True, add: int = 1, change: int = 1) -> PlanResult:
    binding = PlanBinding(unit="storage", environment="test", change="pr-7", head_sha="c0ffee" * 6 + "abcd",
                          base_sha="b" * 40, terraform_version="1.11.0")
    summary = PlanSummary(add=add, change=change, has_changes=bool(add or change))
    record = PlanRecord(plan_id=PLAN_ID, binding=binding, summary=summary, created_at="2026-11-02T10:00:00Z",
                        plan_size=10, artifacts={})
    markdown = "### :white_check_mark: Policy passed\n" if passed else "### :x: Policy failed\n\n| error | `r1` | x | y |\n"
    violations = [] if passed else [{"rule_id": "r1", "severity": "error", "address": "x", "message": "y"}]
    return PlanResult(record=record, text=text, policy_passed=passed, policy_markdown=markdown, violations=violations)


def fences_balanced(part: str) -> bool:
    open_fence = None
    for line in part.splitlines():
        m = re.match(r"^ {0,3}(`{3,}|~{3,})(.*)$", line)
        if not m:
            continue
        if open_fence is None:
            open_fence = m.group(1)
        elif m.group(1)[0] == open_fence[0] and len(m.group(1)) >= len(open_fence) and not m.group(2).strip():
            open_fence = None
    return open_fence is None


# -- plan comment ---------------------------------------------------------------------------------------------------
def test_plan_comment_has_marker_counts_plan_id_verdict_and_collapsed_diff():
    body = plan_comment("storage", "test", make_plan())
    assert body.startswith(comment_marker("storage", "test") + "\n")
    assert comment_marker("storage", "test") == "<!-- gitops-pipelines:unit=storage env=test -->"
    assert "1 to add, 1 to change, 0 to destroy, 0 to replace" in body
    assert PLAN_ID[:12] in body and PLAN_ID in body
    assert "policy passed" in body and "c0ffeec0ffee" in body
    assert "<details><summary>Show plan" in body and "</details>" in body
    assert "```diff\n" in body
    assert '\n+   resource "aws_s3_bucket" "data" {' in body  # sign moved to column 0 for diff colouring
    assert '\n!   resource "aws_db_instance" "main" {' in body
    assert fences_balanced(body)


def test_plan_comment_hcl_and_policy_failure():
    body = plan_comment("storage", "test", make_plan(passed=False), syntax="hcl")
    assert "```hcl\n" in body and ":x: policy failed" in body and "| error | `r1`" in body
    assert '  + resource "aws_s3_bucket" "data" {' in body


def test_plan_comment_never_shows_a_secret():
    leaked = PLAN_TEXT + '\n  + password = "hunter2-secret"\n'
    body = plan_comment("storage", "test", make_plan(leaked), secrets=["hunter2-secret"])
    assert "hunter2-secret" not in body and "***" in body
    body = plan_comment("storage", "test", make_plan(leaked), redactor=Redactor(["hunter2-secret"]))
    assert "hunter2-secret" not in body


def test_plan_comment_without_changes_and_with_backticks_in_the_plan():
    text = 'No changes.\n  + description = "```not a fence```"\n```\n'
    body = plan_comment("storage", "prod", make_plan(text, add=0, change=0))
    assert "no changes" in body and "````diff" in body and fences_balanced(body)


# -- splitting ------------------------------------------------------------------------------------------------------
def test_split_keeps_a_short_body_whole():
    assert split_comment("hello\n", 100_000) == ["hello\n"]


def test_split_cuts_on_lines_and_keeps_fences_and_details_balanced():
    lines = [f"  + line {i:06d} " + "x" * 80 for i in range(1700)]
    body = plan_comment("storage", "test", make_plan("\n".join(lines)))
    assert len(body) > 150_000
    parts = split_comment(body, 65_536)
    assert len(parts) == 3
    for part in parts:
        assert len(part) <= 65_536
        assert fences_balanced(part)
        assert part.count("<details") == part.count("</details>")
    joined = "".join(parts)
    for i in (0, 850, 1699):
        assert f"line {i:06d} " in joined
    assert all(line.endswith("x" * 80) for p in parts for line in p.splitlines() if "line 0" in line)


def test_split_cuts_an_overlong_line():
    parts = split_comment("y" * 5000, 1000)
    assert all(len(p) <= 1000 for p in parts) and "".join(p.replace("\n", "") for p in parts) == "y" * 5000


def test_split_refuses_a_tiny_limit():
    with pytest.raises(ValueError):
        split_comment("z" * 500, 50)


# -- comment parts (what upsert does, pure) -------------------------------------------------------------------------
KEY = "gitops-pipelines:unit=storage env=test"


def test_marker_key_accepts_markers_and_keys():
    assert marker_key(comment_marker("storage", "test")) == KEY == marker_key(KEY)
    with pytest.raises(ValueError):
        marker_key("a-->b")


def test_render_parts_single_and_numbered():
    assert render_parts(KEY, comment_marker("storage", "test") + "\nhi\n") == [f"<!-- {KEY} -->\nhi\n"]
    parts = render_parts(KEY, "line\n" * 40_000)
    assert len(parts) == 4 and all(len(p) <= 65_536 for p in parts)
    assert [marker_key(p.splitlines()[0]) for p in parts] == [KEY] * 4
    assert parts[2].startswith(f"<!-- {KEY} part=3 -->\n**Part 3 of 4**")


def test_plan_upsert_edits_in_place_creates_missing_and_clears_surplus():
    plain = Comment(10, f"<!-- {KEY} -->\nold\n", "bot")
    other = Comment(11, "<!-- gitops-pipelines:unit=storage env=prod -->\nprod\n", "bot")
    quoted = Comment(12, f"> <!-- {KEY} -->\nsomeone quoting us", "alice")
    plan = plan_upsert([plain, other, quoted], KEY, "new\n")
    assert plan.update == ((10, f"<!-- {KEY} -->\nnew\n"),) and not plan.create and plan.order == (10,)
    assert plan_upsert([Comment(10, f"<!-- {KEY} -->\nnew\n", "bot")], KEY, "new\n").keep == (10,)

    big = "line\n" * 30_000
    grown = plan_upsert([plain], KEY, big)
    assert grown.order == (10, None, None) and len(grown.create) == 2
    three = [Comment(10 + i, p, "bot") for i, p in enumerate(render_parts(KEY, big))]
    assert set(parts_of(three, KEY)) == {1, 2, 3}
    shrunk = plan_upsert(three, KEY, "small\n")
    assert shrunk.order == (10,)
    assert dict(shrunk.update) == {10: f"<!-- {KEY} -->\nsmall\n", 11: cleared_body(KEY, 2), 12: cleared_body(KEY, 3)}
    cleared = [Comment(10, f"<!-- {KEY} -->\nsmall\n", "bot"), Comment(11, cleared_body(KEY, 2), "bot")]
    assert plan_upsert(cleared, KEY, "small\n").update == ()


# -- check runs -----------------------------------------------------------------------------------------------------
def syntax_result(passed: bool = False) -> SyntaxResult:
    diagnostics = [] if passed else [
        Diagnostic(severity="error", summary="Unsupported argument", detail='An argument named "foo" is not expected.',
                   file="main.tf", line=12, column=3),
        Diagnostic(severity="warning", summary="Deprecated", file="../../modules/net/vars.tf", line=4),
        Diagnostic(severity="warning", summary="Inner", file="sub/x.tf", line=2),
        Diagnostic(severity="error", summary="Module not installed"),
    ]
    return SyntaxResult(unit="storage", passed=passed, unformatted=[] if passed else ["outputs.tf"],
                        fmt_diff="" if passed else "-a=1\n+a = 1\n", diagnostics=diagnostics)


def test_syntax_annotations_point_at_files_from_the_repository_root():
    annotations = syntax_annotations(syntax_result(), "projects/storage")
    by_path = {a["path"]: a for a in annotations}
    error = by_path["projects/storage/main.tf"]
    assert (error["start_line"], error["end_line"], error["annotation_level"]) == (12, 12, "failure")
    assert error["title"] == "Unsupported argument" and 'named "foo"' in error["message"]
    assert by_path["modules/net/vars.tf"]["annotation_level"] == "warning"
    assert by_path["projects/storage/sub/x.tf"]["start_line"] == 2
    assert by_path["projects/storage/outputs.tf"]["message"].startswith("This file is not in canonical format")
    assert len(annotations) == 4  # the diagnostic without a file stays in the summary


def test_check_summaries_for_each_stage():
    conclusion, title, summary = check_summary("syntax", syntax_result())
    assert conclusion == "failure" and title == "2 error(s), 1 unformatted file(s)"
    assert "terraform fmt -recursive" in summary and "Module not installed" in summary
    outcome = check_outcome("syntax", syntax_result(), unit_path="projects/storage")
    assert outcome.text.startswith("```diff") and len(outcome.annotations) == 4
    assert check_summary("syntax", syntax_result(True))[0] == "success"

    steps = [EphemeralStep(name="apply", passed=True), EphemeralStep(name="destroy", passed=False, detail="a|b")]
    failed = EphemeralResult(unit="net", passed=False, suffix="-e1", steps=steps, leaked=["aws_vpc.main"])
    conclusion, title, summary = check_summary("ephemeral", failed)
    assert conclusion == "failure" and "1 resource(s) leaked" in title and "`aws_vpc.main`" in summary
    assert "a\\|b" in summary
    assert check_summary("ephemeral", EphemeralResult(unit="net", passed=True, suffix="-e1", steps=steps[:1]))[0] == "success"

    conclusion, title, summary = check_summary("plan", make_plan())
    assert conclusion == "success" and title == "1 to add, 1 to change, 0 to destroy, 0 to replace"
    assert PLAN_ID in summary
    assert check_summary("plan", make_plan(add=0, change=0))[1] == "No changes"
    assert check_summary("policy", make_plan())[:2] == ("success", "Policy passed")
    assert check_summary("policy", make_plan(passed=False))[:2] == ("failure", "Policy failed: 1 error(s)")

    drift = DriftResult(unit="storage", environment="prod", status="drift", drifted=["aws_s3_bucket.data"], pending=[])
    assert check_summary("drift", drift)[:2] == ("failure", "Drift in 1 resource(s)")
    with pytest.raises(ValueError, match="no check summary"):
        check_summary("deploy", drift)


def test_check_outcome_redacts_and_names_are_stable():
    steps = [EphemeralStep(name="apply", passed=False, detail="password hunter2-secret rejected")]
    result = EphemeralResult(unit="net", passed=False, suffix="-e1", steps=steps)
    outcome = check_outcome("ephemeral", result, redactor=Redactor(["hunter2-secret"]))
    assert "hunter2-secret" not in outcome.summary
    assert check_name("storage", "plan", "test") == "storage/plan (test)" and check_name("net", "syntax") == "net/syntax"
