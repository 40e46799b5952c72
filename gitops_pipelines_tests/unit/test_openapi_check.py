"""openapi_check's upstream quirk: null at a `nullable: true` field whose enum lists no null (GitHub answers it)."""

from __future__ import annotations

import json

import pytest

from gitops_pipelines_dev.github_emulator.openapi_check import check, with_null_in_nullable_enums
from gitops_pipelines_dev.github_emulator.state import Exchange

ISSUE_ROUTE = "/repos/{owner}/{repo}/issues/{issue_number}"
CHECK_RUNS_ROUTE = "/repos/{owner}/{repo}/check-runs"


def example(contract, name: str) -> dict:
    """One of GitHub's own response examples in the subset (`#/components/examples/<name>`)."""
    return json.loads(json.dumps(contract.openapi_document["components"]["examples"][name]["value"]))


def answer(route: str, path: str, body: dict, *, method: str = "GET", status: int = 200) -> Exchange:
    return Exchange(method=method, path=path, query="", request_headers={"accept": "application/vnd.github+json"},
                    request_body=b"", status=status, response_headers={"content-type": "application/json"},
                    response_body=json.dumps(body).encode(), route=route)


def issue_answer(contract, **changes) -> Exchange:
    body = {**example(contract, "issue"), **changes}
    return answer(ISSUE_ROUTE, f"/repos/octocat/Hello-World/issues/{body['number']}", body)


def test_githubs_own_issue_example_validates(github_contract):
    report = check([issue_answer(github_contract)], github_contract)
    assert (len(report.validated), report.quirks, report.failures) == (1, [], [])


def test_null_state_reason_of_an_open_issue_is_the_known_quirk(github_contract):
    exchange = issue_answer(github_contract, state="open", state_reason=None, closed_at=None, closed_by=None)
    report = check([exchange], github_contract)
    assert report.failures == [] and report.validated == [exchange]
    [(quirky, why)] = report.quirks
    assert quirky is exchange
    assert "state_reason" in why and "upstream schema quirk" in why and "conclusion" not in why


@pytest.mark.parametrize(("changes", "reason"), [
    ({"state_reason": "bogus"}, "'bogus' is not one of"),  # a value the enum does not list
    ({"state_reason": None, "title": None}, "None for not nullable"),  # the quirk excuses no other null
    ({"state_reason": None, "state": 3}, "3 is not of type 'string'"),  # nor any other break in the same answer
])
def test_other_breaks_still_fail(github_contract, changes, reason):
    report = check([issue_answer(github_contract, **changes)], github_contract)
    assert report.validated == [] and report.quirks == []
    [(_, why)] = report.failures
    assert reason in why


def test_in_progress_check_run_conclusion_null_is_the_same_quirk(github_contract):
    body = example(github_contract, "check-run-example-of-in-progress-conclusion")
    assert body["conclusion"] is None and body["status"] != "completed"
    exchange = answer(CHECK_RUNS_ROUTE, "/repos/octocat/Hello-World/check-runs", body, method="POST", status=201)
    report = check([exchange], github_contract)
    assert report.failures == [] and [why for _, why in report.quirks] == [
        "null at conclusion: nullable, but its enum lists no null (upstream schema quirk, see contract README)"
    ]


def test_wrong_check_run_conclusion_still_fails(github_contract):
    body = {**example(github_contract, "check-run-example-of-in-progress-conclusion"), "conclusion": "bogus"}
    exchange = answer(CHECK_RUNS_ROUTE, "/repos/octocat/Hello-World/check-runs", body, method="POST", status=201)
    report = check([exchange], github_contract)
    assert report.quirks == [] and len(report.failures) == 1


def test_patched_copy_adds_null_only_to_nullable_enums(github_contract):
    document = github_contract.openapi_document
    before = json.dumps(document, sort_keys=True)
    patched = with_null_in_nullable_enums(document)
    schemas = patched["components"]["schemas"]
    assert schemas["issue"]["properties"]["state_reason"]["enum"][-1] is None
    assert schemas["check-run"]["properties"]["conclusion"]["enum"][-1] is None
    assert None not in schemas["check-run"]["properties"]["status"]["enum"]  # not nullable: unchanged
    assert json.dumps(document, sort_keys=True) == before  # the contract's own document is left alone
