"""Read as an attacker: text from a pull request or from Terraform (a `for_each` key, an error, a fmt diff) cannot
close our code, @mention a team, link, or open an HTML comment that hides the rest of what the bot says."""

from __future__ import annotations

import re

import pytest

from gitops_pipelines.core.github.rendering import (apply_section, check_outcome, failure_summary, plan_comment,
                                                   refusal_comment, syntax_annotations)
from gitops_pipelines.core.markdown import ZWSP, cell, code_span, fenced, plain, prose, text
from gitops_pipelines.core.plan_store import PlanBinding, PlanRecord
from gitops_pipelines.core.plan_store.models import PlanSummary
from gitops_pipelines.core.policy.model import PolicyReport, Violation
from gitops_pipelines.core.redact import Redactor
from gitops_pipelines.core.stages import DriftResult, EphemeralResult, PlanResult, SyntaxResult
from gitops_pipelines.core.stages.ephemeral import EphemeralStep
from gitops_pipelines.core.stages.syntax import Diagnostic

markdown_it = pytest.importorskip("markdown_it")

# A for_each key can hold anything: a backtick ends a naive code span, ``` a naive fence, <!-- hides the rest.
ADDRESS = 'aws_s3_bucket.b["x` <!-- @team [approve](https://evil.example) ``` | y"]'
DIFF = "--- main.tf\n+++ main.tf\n```\n<!-- everything below is hidden\n@team please approve\n````\n+a = 1\n"
ERROR = ("Error: Invalid value `x` <!-- @team :white_check_mark: approved\n\n"
         "  on main.tf line 3: **bold** [link](https://evil.example) https://evil.example/bare www.evil.example")
OURS = re.compile(r"<!-- gitops-pipelines:[^\n>]*-->")  # the bot's own hidden markers
OUR_TAGS = {"<details>", "</details>", "<summary>", "</summary>", "<sub>", "</sub>"}


def tokens(markdown: str) -> list:
    """Every token GitHub-flavoured CommonMark makes of markdown, inline ones included."""
    parser = markdown_it.MarkdownIt("commonmark").enable(["table", "strikethrough"])
    out = []
    for token in parser.parse(markdown):
        out.append(token)
        out += token.children or []
    return out


def assert_inert(markdown: str, *quoted: str, emoji: bool = True) -> None:
    """No HTML but ours, no link but ours, no live @team, and each quoted text whole inside one code span or fence.
    emoji=False: the markdown may hold the bot's own :white_check_mark: (the quoted text has none)."""
    found = tokens(markdown)
    for t in found:
        if t.type in ("html_inline", "html_block"):
            rest = OURS.sub("", t.content)
            assert "<!--" not in rest, f"raw HTML comment outside code: {t.content!r}"
            assert set(re.findall(r"</?\w+>", rest)) <= OUR_TAGS, f"HTML that is not ours: {t.content!r}"
        if t.type == "text":
            assert "@team" not in t.content, f"a live mention: {t.content!r}"
            assert "://evil" not in t.content, f"a live link: {t.content!r}"
            assert not emoji or ":white_check_mark:" not in t.content, f"a live emoji: {t.content!r}"
        if t.type == "link_open":
            assert "evil.example" not in t.attrs.get("href", ""), "a link from the pull request"
    code = [t.content for t in found if t.type in ("code_inline", "fence")]
    for value in quoted:
        flat = " ".join(value.split("\n")) if "\n" not in value.strip("\n") else value.rstrip("\n")
        assert any(flat in c.replace("\\|", "|") for c in code), f"{value!r} is not whole inside code"


def assert_longer_ticks(markdown: str, value: str) -> None:
    """value sits between backtick runs longer than any run inside it."""
    longest = max(len(r) for r in re.findall(r"`+", value))
    i = markdown.index(value)
    before = re.search(r"(`+)[^`]*$", markdown[:i])
    assert before and len(before.group(1)) > longest


# -- the helpers ----------------------------------------------------------------------------------------------------
def test_code_spans_and_fences_are_longer_than_any_backtick_run_inside():
    assert code_span(ADDRESS).startswith("````") and code_span(ADDRESS).endswith("````")
    assert_inert(code_span(ADDRESS), ADDRESS)
    block = fenced(DIFF, "diff")
    assert block.startswith("`````diff\n") and block.endswith("\n`````")
    assert_inert(block, DIFF)
    with pytest.raises(ValueError):
        fenced("x", "diff`")


def test_text_outside_code_is_escaped_and_mentions_broken():
    said = text(ERROR)
    assert "\n" not in said and "@team" not in said and "@" + ZWSP + "team" in said
    assert "\\<!--" in said and "\\*\\*bold\\*\\*" in said and "\\[link\\]" in said
    assert_inert(said)
    assert text("# not a heading").startswith("\\#") and text("1. not a list").startswith("1\\.")
    assert text("#12 and owner/repo#12").count("#" + ZWSP) == 2  # no cross-reference to another issue
    assert "https:" + ZWSP + "//evil" in said and "www" + ZWSP + ".evil" in said  # no bare links
    assert ":" + ZWSP + "white\\_check\\_mark:" in said and text("errors: two") == "errors: two"


def test_prose_keeps_a_rules_code_spans_as_code_and_the_rest_as_text():
    said = prose(f"would be destroyed; allow `destroy-in-prod:{ADDRESS}` if intended <!-- @team")
    assert_inert(said)
    assert "`destroy-in-prod:aws_s3_bucket.b[\"x`" in said.replace("``", "`")  # the rule's quote is still code
    assert prose("plain words; no code") == "plain words; no code"


def test_table_cells_escape_pipes_even_in_code_and_stay_on_one_line():
    assert cell(code_span("a|b\nc")) == "`a\\|b c`"
    table = "| a | b |\n|---|---|\n| " + cell(code_span(ADDRESS)) + " | " + cell(text("x|y\nz")) + " |\n"
    rows = [t for t in tokens(table) if t.type == "td_open"]
    assert len(rows) == 2  # the pipes inside did not add cells
    assert_inert(table, ADDRESS)


def test_plain_fields_lose_control_characters_and_mentions():
    assert plain("a\x00b\x1b[31m @team\nnext", one_line=True) == "ab[31m @" + ZWSP + "team next"
    assert plain("x" * 10, 4) == "xxxx" and plain("two\nlines") == "two\nlines"


# -- every renderer ---------------------------------------------------------------------------------------------------
def plan_result(text_: str = "", policy: PolicyReport | None = None) -> PlanResult:
    binding = PlanBinding(unit="storage", environment="test", change="pr-7", head_sha="c0ffee" * 6 + "abcd",
                          terraform_version="1.11.0")
    record = PlanRecord(plan_id="ab" * 32, binding=binding, summary=PlanSummary(add=1, has_changes=True),
                        created_at="2026-11-02T10:00:00Z", plan_size=1, artifacts={})
    policy = policy or PolicyReport(violations=[], passed=True)
    return PlanResult(record=record, text=text_, policy_passed=policy.passed, policy_markdown=policy.markdown(),
                      violations=[v.__dict__ for v in policy.violations])


def evil_policy() -> PolicyReport:
    return PolicyReport(
        violations=[Violation("s3-public-acl", "error", ADDRESS, f"ACL of {ADDRESS} is public | <!-- @team"),
                    Violation("destroy-in-prod", "warning", ADDRESS, f"allow `destroy-in-prod:{ADDRESS}` if meant")],
        passed=False, allowed=[Violation("tags", "warning", ADDRESS, "no owner tag @team")],
        environment="prod <!--", rules=["s3-public-acl", "destroy-in-prod", "tags"])


def test_the_policy_table_keeps_a_backtick_address_inside_its_code_span():
    md = evil_policy().markdown()
    assert_inert(md, ADDRESS)
    assert_longer_ticks(md, ADDRESS)
    rows = [line for line in md.splitlines() if line.startswith("| error") or line.startswith("| warning")]
    assert len(rows) == 2 and all(re.sub(r"\\\|", "", r).count("|") == 5 for r in rows)  # four cells each
    assert "### :x: Policy failed for `prod <!--`" in md


def test_the_policy_table_is_redacted_before_it_is_escaped():
    secret = "s3cr_t*pass@word"
    report = PolicyReport([Violation("r1", "error", "aws_db.x", f"password {secret} in plain text")], False)
    assert secret not in report.markdown(Redactor([secret])) and "\\*\\*\\*" in report.markdown(Redactor([secret]))
    assert "s3cr" in report.markdown()  # without a redactor it is only escaped


def test_the_plan_comment_keeps_plan_text_and_policy_inert():
    body = plan_comment("storage", "test", plan_result(DIFF + f"  + resource {ADDRESS}\n", evil_policy()))
    assert body.startswith("<!-- gitops-pipelines:unit=storage env=test -->\n")
    assert_inert(body, ADDRESS)
    assert "`````diff\n" in body  # a fence longer than the four backticks in the plan


def test_check_runs_keep_diagnostics_fmt_diffs_and_addresses_inert():
    diagnostics = [Diagnostic(severity="error", summary=ERROR.splitlines()[0], detail=ERROR, file="main.tf", line=3),
                   Diagnostic(severity="error", summary=f"Invalid for_each key {ADDRESS}")]
    syntax = SyntaxResult(unit="storage", passed=False, unformatted=[f"odd`name<!--.tf"], fmt_diff=DIFF,
                          diagnostics=diagnostics)
    outcome = check_outcome("syntax", syntax, unit_path="projects/storage")
    assert_inert(outcome.summary, f"error: Invalid for_each key {ADDRESS}", "odd`name<!--.tf")
    assert_inert(outcome.text, DIFF)
    assert outcome.text.startswith("`````diff\n")

    steps = [EphemeralStep(name="apply <!--", passed=False, detail=ERROR)]
    ephemeral = check_outcome("ephemeral_test", EphemeralResult(unit="net", passed=False, suffix="-e", steps=steps,
                                                                leaked=[ADDRESS]))
    assert_inert(ephemeral.summary, ADDRESS)

    drift = check_outcome("drift", DriftResult(unit="storage", environment="prod", status="drift",
                                               drifted=[ADDRESS], pending=[]))
    assert_inert(drift.summary, ADDRESS)
    assert drift.title == "Drift in 1 resource(s)"

    policy = check_outcome("policy", plan_result(policy=evil_policy()))
    assert_inert(policy.summary, ADDRESS)
    assert_inert(check_outcome("plan", plan_result()).summary)


def test_annotations_are_plain_text_redacted_and_without_mentions():
    secret = "hunter2-secret"
    diagnostics = [Diagnostic(severity="error", summary=f"bad value {secret} @team\x1b[0m", detail="line\nline",
                              file="main.tf", line=3)]
    [annotation] = syntax_annotations(SyntaxResult(unit="storage", passed=False, unformatted=[], fmt_diff="",
                                                   diagnostics=diagnostics), "projects/storage",
                                      redactor=Redactor([secret]))
    assert secret not in annotation["title"] + annotation["message"]
    assert "@team" not in annotation["title"] + annotation["message"] and "\x1b" not in annotation["title"]
    outcome = check_outcome("syntax", SyntaxResult(unit="storage", passed=False, unformatted=[], fmt_diff="",
                                                   diagnostics=diagnostics), redactor=Redactor([secret]))
    assert all(secret not in a["title"] + a["message"] for a in outcome.annotations)


def test_failures_applies_and_refusals_keep_terraform_text_inert():
    secret = "hunter2-secret"
    summary = failure_summary("storage", "plan (test)", ERROR + f"\n```\npassword {secret}",
                              redactor=Redactor([secret]))
    assert_inert(summary, ERROR)
    assert secret not in summary
    assert_inert(apply_section("storage", "prod", DIFF, "ab" * 32), DIFF.rstrip("\n"))
    assert_inert(refusal_comment("storage", "prod", [ERROR, ADDRESS], "re-plan"), ADDRESS)
