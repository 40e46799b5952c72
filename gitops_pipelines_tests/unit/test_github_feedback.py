"""Rendering what the pipeline says on a pull request: plan comments, parts, check summaries, annotations."""

from __future__ import annotations

import re

import pytest

from gitops_pipelines.core.github.comments import cleared_body, marker_key, parts_of, plan_upsert, render_parts
from gitops_pipelines.core.github.rendering import (check_name, check_outcome, check_summary, comment_marker,
                                                   plan_comment, split_comment, syntax_annotations)
from gitops_pipelines.core.github.rendering import (APPLIED_END, APPLIED_START, apply_section, code_span,
                                                   gate_marker, refusal_comment, refusal_resolved, rejoin_parts,
                                                   status_description, with_apply_section)
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
    conclusion, title, summary = check_summary("ephemeral_test", failed)
    assert conclusion == "failure" and "1 resource(s) leaked" in title and "`aws_vpc.main`" in summary
    assert "a\\|b" in summary
    assert check_summary("ephemeral_test", EphemeralResult(unit="net", passed=True, suffix="-e1", steps=steps[:1]))[0] == "success"

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
    outcome = check_outcome("ephemeral_test", result, redactor=Redactor(["hunter2-secret"]))
    assert "hunter2-secret" not in outcome.summary
    assert check_name("storage", "plan", "test") == "storage/plan (test)" and check_name("net", "syntax") == "net/syntax"


# -- after the merge: the apply section, refusals, deployment-status lines --------------------------------------------
def test_code_span_cannot_be_closed_by_what_it_holds():
    assert code_span("storage") == "`storage`"
    assert code_span("a`b") == "``a`b``" and code_span("x ``` y") == "````x ``` y````"
    assert code_span("`edge`") == "`` `edge` ``"  # a space keeps a leading/trailing backtick inside
    assert code_span("two\nlines") == "`two lines`" and code_span("") == "` `"
    assert code_span(" both ") == "`  both  `"  # CommonMark strips one space each side back off


def test_status_description_is_one_line_of_at_most_140_characters():
    assert status_description("applied\n  (state serial 3)") == "applied (state serial 3)"
    long = status_description("word " * 100)
    assert len(long) == 140 and long.endswith("\u2026") and "\n" not in long
    assert len(status_description("x" * 500, limit=20)) == 20


def test_apply_section_fences_terraform_text_and_redacts():
    output = "Apply complete!\n```\ninjected\n```\npassword = hunter2-secret\n" + APPLIED_END
    section = apply_section("storage", "prod", output, PLAN_ID, run_url="http://dagster/runs/1 (x)",
                            redactor=Redactor(["hunter2-secret"]))
    assert section.startswith(f"{APPLIED_START}\n### :rocket: Applied `storage` in `prod`")
    assert section.endswith(f"{APPLIED_END}\n") and section.count(APPLIED_END) == 1
    assert "````text\n" in section and fences_balanced(section) and "hunter2-secret" not in section
    assert f"Plan `{PLAN_ID[:12]}` was applied" in section and "(http://dagster/runs/1%20%28x%29)" in section
    failed = apply_section("storage", "prod", "Error: boom", PLAN_ID, ok=False)
    assert "### :x: Apply of `storage` in `prod` failed" in failed and "re-execute the deploy" in failed
    many = apply_section("storage", "prod", "\n".join(f"line {i}" for i in range(50)), PLAN_ID)
    assert "<details><summary>Apply output (50 lines)</summary>" in many
    huge = apply_section("storage", "prod", "y" * 50_000, PLAN_ID)
    assert len(huge) < 21_000 and "(cut: the full output is in the run's log)" in huge


def test_with_apply_section_adds_then_replaces_and_keeps_the_plan():
    marker = comment_marker("storage", "test")
    plan = plan_comment("storage", "test", make_plan())
    content = plan.split("\n", 1)[1]
    first = with_apply_section(marker, content, apply_section("storage", "test", "first", PLAN_ID))
    assert first.startswith(f"{marker}\n{APPLIED_START}\n") and first.endswith(content)
    second = with_apply_section(marker, first.split("\n", 1)[1], apply_section("storage", "test", "second", PLAN_ID))
    assert second.count(APPLIED_START) == 1 and "second" in second and "first" not in second
    assert second.endswith(content)
    alone = with_apply_section(marker, "", apply_section("storage", "test", "only", PLAN_ID))
    assert alone.startswith(marker) and alone.rstrip().endswith(APPLIED_END)
    # A plan that merely quotes the start marker lower down is never taken for an apply section.
    quoted = content + f"\n{APPLIED_START}\nnot ours\n{APPLIED_END}\n"
    assert with_apply_section(marker, quoted, "S\n").endswith(quoted)


def test_rejoin_parts_gives_back_exactly_what_was_split():
    key = marker_key(comment_marker("storage", "test"))
    text = "".join(f"  + line {i:06d} {'x' * 90}\n" for i in range(1500))
    content = plan_comment("storage", "test", make_plan(text)).split("\n", 1)[1]
    parts = render_parts(key, content)
    assert len(parts) == 3
    comments = [Comment(100 + i, body, "bot") for i, body in enumerate(parts)]
    assert rejoin_parts(comments, key) == content
    assert rejoin_parts(comments[:1], key).startswith("### Plan for")  # a part deleted by hand: what is left
    single = render_parts(key, "short body\n")
    assert rejoin_parts([Comment(1, single[0], "bot")], key) == "short body\n"
    # surplus parts cleared after a shrink are not content
    cleared = [Comment(1, single[0], "bot"), Comment(2, cleared_body(key, 2), "bot")]
    assert rejoin_parts(cleared, key) == "short body\n"
    assert rejoin_parts([Comment(1, "<!-- someone-else -->\nhi", "bob")], key) is None


def test_refusal_comment_says_why_as_code_and_what_to_do():
    body = refusal_comment("storage", "prod", ["not approved at `abc` by @octocat", "plan is stale\nre-plan"],
                           "approve the merged head, then launch `storage/prod_deploy` again",
                           run_url="http://dagster/runs/9", redactor=Redactor(["abc-secret"]))
    assert body.startswith(gate_marker("storage", "prod") + "\n### :no_entry: `storage` was not deployed to `prod`")
    assert "- ``not approved at `abc` by @octocat``" in body and "- `plan is stale re-plan`" in body
    assert "**What to do:** approve the merged head" in body and "[Dagster run](http://dagster/runs/9)" in body
    assert "(no reason was given)" in refusal_comment("storage", "prod", [], "try again")
    assert "abc-secret" not in refusal_comment("s", "p", ["token abc-secret"], "x", redactor=Redactor(["abc-secret"]))
    assert marker_key(gate_marker("storage", "prod")) != marker_key(comment_marker("storage", "prod"))
    resolved = refusal_resolved("storage", "prod", PLAN_ID)
    assert resolved.startswith(gate_marker("storage", "prod")) and f"`{PLAN_ID[:12]}` has been applied" in resolved


# -- the bot's comments are the ones the bot wrote ----------------------------------------------------------------
def test_a_comment_by_someone_else_with_our_marker_is_never_ours():
    forged = Comment(5, f"<!-- {KEY} -->\nApprove freely.\n", "mallory")
    forged_part = Comment(6, f"<!-- {KEY} part=2 -->\n**Part 2 of 2**\n\nmore", "mallory")
    ours = Comment(10, f"<!-- {KEY} -->\nold\n", "gitops-pipelines[bot]")
    assert parts_of([forged, forged_part, ours], KEY, "gitops-pipelines[bot]") == {1: [ours]}
    plan = plan_upsert([forged, forged_part, ours], KEY, "new\n", author="gitops-pipelines[bot]")
    assert plan.update == ((10, f"<!-- {KEY} -->\nnew\n"),) and plan.order == (10,)  # mallory's are not cleared
    alone = plan_upsert([forged], KEY, "new\n", author="gitops-pipelines[bot]")
    assert alone.update == () and alone.create == (f"<!-- {KEY} -->\nnew\n",)  # the bot makes its own
    assert plan_upsert([ours], KEY, "new\n", author="GitOps-Pipelines[bot]").order == (10,)  # logins ignore case
    assert rejoin_parts([forged, ours], KEY, "gitops-pipelines[bot]") == "old\n"
    assert rejoin_parts([forged], KEY, "gitops-pipelines[bot]") is None


def test_a_failed_stage_check_fences_and_redacts_terraforms_error():
    from gitops_pipelines.core.github import reporter
    from gitops_pipelines.core.vocabulary import Stage

    class Gateway:
        def __init__(self):
            self.checks = []

        def set_check(self, head, name, status, conclusion=None, **output):
            self.checks.append((name, conclusion, output))

    gw = Gateway()
    error = "Error: bad password hunter2-secret\n```\n<!-- @team"
    reporter.fail(gw, "a" * 40, "storage", Stage("syntax"), error, redactor=Redactor(["hunter2-secret"]))
    [(name, conclusion, output)] = gw.checks
    assert (name, conclusion) == ("storage/syntax", "failure")
    assert "hunter2-secret" not in output["summary"] and "````text\n" in output["summary"]
    assert fences_balanced(output["summary"])


def test_a_plan_made_after_the_merge_names_the_merge_commit_it_planned_and_the_head():
    result = make_plan()
    merged = result.model_copy(update={"record": result.record.model_copy(update={
        "binding": result.record.binding.model_copy(update={"commit": "d" * 40})})})
    body = plan_comment("storage", "prod", merged)
    assert f"of merge commit `{'d' * 12}` (head `{'c0ffee' * 2}`)" in body
    assert "for commit" in plan_comment("storage", "test", make_plan())


def test_a_policy_violation_is_annotated_at_the_block_that_declares_its_resource(tmp_path):
    from gitops_pipelines.core.github.rendering import policy_annotations
    from gitops_pipelines.core.policy.locations import declaration_sites, locate

    (tmp_path / "modules" / "bucket").mkdir(parents=True)
    (tmp_path / "projects" / "site").mkdir(parents=True)
    (tmp_path / "modules" / "bucket" / "main.tf").write_text(
        'variable "name" {}\n\nresource "aws_s3_bucket" "this" {\n  bucket = var.name\n}\n')
    (tmp_path / "projects" / "site" / "main.tf").write_text(
        'module "logs" {\n  source = "../../modules/bucket"\n  name   = "logs"\n}\n\n'
        'resource "aws_ssm_parameter" "p" {\n  for_each = toset(["a"])\n}\n')
    sites = declaration_sites(tmp_path / "projects" / "site", tmp_path)
    assert locate("module.logs.aws_s3_bucket.this", sites) == ("modules/bucket/main.tf", 3)
    assert locate('aws_ssm_parameter.p["a"]', sites) == ("projects/site/main.tf", 6)
    assert locate("module.remote.aws_s3_bucket.x", sites) is None
    found = policy_annotations([
        {"rule_id": "s3-public", "severity": "error", "address": "module.logs.aws_s3_bucket.this",
         "message": "public @team", "file": "modules/bucket/main.tf", "line": 3},
        {"rule_id": "tags", "severity": "warning", "address": "x.y", "message": "no file"}])
    assert found == [{"path": "modules/bucket/main.tf", "start_line": 3, "end_line": 3,
                      "annotation_level": "failure", "title": "s3-public: module.logs.aws_s3_bucket.this",
                      "message": found[0]["message"]}]
    assert "@team" not in found[0]["message"]
