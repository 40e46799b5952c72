"""What a person sees in a real browser: Playwright driving the distribution's Chromium ($CHROMIUM, else `chromium` on
PATH; Playwright's own browser download is never used), on the Dagster UI and the emulator's pull request pages.

`deploy_to_prod_in_the_browser` is the README's production deploy done by hand: the unit's stages in the asset graph,
the prod plan's materialization with its plan_id and summary, the `prod_deploy` launchpad for the change's partition
with the approval as run config, then the pull request page with the plan comment, the checks and the deployment.
Each step leaves a screenshot in the test's output folder (docs/screenshots/ keeps copies for the README).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml
from playwright.sync_api import Page, expect

from gitops_pipelines_dev.dagster_procs import DagsterGraphQL

# The machine running `make test` is shared: a page of the Dagster UI may take many seconds to settle.
TIMEOUT_MS = 120_000
LOCATION = "gitops_pipelines"
STAGES = ("syntax", "ephemeral_test", "test_plan", "test_deploy", "prod_plan", "release", "prod_deploy")


def chromium_executable() -> str | None:
    """$CHROMIUM, else `chromium` on PATH (Debian's package); None when neither is there."""
    return os.environ.get("CHROMIUM") or shutil.which("chromium")


@dataclass
class Browser:
    """One Chromium page, and the folder its screenshots go to."""

    page: Page
    shots: Path

    def __post_init__(self):
        self.page.set_default_timeout(TIMEOUT_MS)
        expect.set_options(timeout=TIMEOUT_MS)  # for every `expect` of the test process: 5 s is too short here

    def shot(self, name: str) -> Path:
        """A screenshot of the whole page as `<name>.png`."""
        self.shots.mkdir(parents=True, exist_ok=True)
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=path, full_page=True)
        return path


class DagsterUI:
    """The Dagster UI of one webserver, in a browser page."""

    def __init__(self, browser: Browser, url: str):
        self.browser, self.page, self.url = browser, browser.page, url.rstrip("/")
        # a fresh instance greets its first visitor with a newsletter dialog: Skip it whenever it covers the page
        skip = self.page.get_by_role("button", name="Skip", exact=True)
        self.page.add_locator_handler(skip, lambda button: button.click())

    def open(self, path: str) -> Page:
        self.page.goto(self.url + path, wait_until="networkidle", timeout=TIMEOUT_MS)
        return self.page

    def asset_group(self, group: str, assets: tuple[str, ...]) -> None:
        """The group's lineage graph showing these assets, every node's status loaded."""
        page = self.open(f"/locations/{LOCATION}/asset-groups/{group}")
        for name in assets:
            expect(page.get_by_text(name, exact=True).first).to_be_visible()
        expect(page.get_by_text("Loading...")).to_have_count(0)

    def materialization(self, asset: str, partition: str) -> None:
        """The asset's page (asset as `unit/stage`) on the partition's latest materialization."""
        page = self.open(f"/assets/{asset}?view=partitions&partition={partition}")
        expect(page.get_by_text("Latest materialization")).to_be_visible()

    def metadata_entry(self, label: str):
        """The row of a metadata entry of the materialization shown (its label and value)."""
        return self.page.get_by_role("row").filter(has=self.page.get_by_text(label, exact=True))

    def markdown_entry(self, label: str, shows: re.Pattern) -> str:
        """A markdown metadata entry of the page, opened with its [Show Markdown] link; the dialog's text once it
        shows `shows` (the dialog opens before its markdown is rendered)."""
        self.metadata_entry(label).get_by_text("[Show Markdown]").click()
        dialog = self.page.get_by_role("dialog")
        expect(dialog).to_contain_text(shows)
        return dialog.inner_text()

    def launch(self, job: str, partition: str, run_config_yaml: str) -> str:
        """The job's launchpad: pick the partition, add the run config to what it scaffolds, Launch Run. The run id."""
        page = self.open(f"/locations/{LOCATION}/jobs/{job}/playground")
        page.get_by_placeholder("Partition").click()
        page.get_by_role("menuitem", name=partition, exact=True).click()  # reloads the config for the partition
        page.wait_for_load_state("networkidle")
        editor = page.locator(".CodeMirror")
        expect(editor).to_contain_text("resources")
        editor.click()
        page.keyboard.press("Control+End")
        page.keyboard.insert_text("\n" + run_config_yaml)
        expect(editor).to_contain_text(run_config_yaml.splitlines()[-1].strip())
        expect(page.get_by_text("No errors")).to_be_visible()
        page.get_by_role("button", name="Launch Run").click()
        page.wait_for_url(re.compile(r"/runs/[0-9a-f-]{36}"))
        return page.url.rsplit("/runs/", 1)[1].split("?")[0]


def run_config_yaml(ops: dict) -> str:
    """`ops: {step: {config: {...}}}` as a person types it into the launchpad, strings quoted as the README has them
    (an unquoted plan_id of digits and one `e` would be read as a number)."""
    lines = ["ops:"]
    for step, body in ops.items():
        lines += [f"  {step}:", "    config:"]
        lines += [f"      {name}: {json.dumps(value)}" for name, value in body["config"].items()]
    return "\n".join(lines) + "\n"


def deploy_to_prod_in_the_browser(browser: Browser, dagster_url: str, gql: DagsterGraphQL, pull_request_url: str,
                                  unit: str, change: str, approval: dict) -> dict:
    """The README's production deploy by hand (module docstring); the finished run as `DagsterGraphQL.run` has it."""
    plan_id = approval["plan_id"]
    ui = DagsterUI(browser, dagster_url)
    ui.asset_group(unit, STAGES)
    expect(ui.page.get_by_text("100% filled").first).to_be_visible()  # the change's partition, materialized
    browser.shot("asset-graph")

    ui.materialization(f"{unit}/prod_plan", change)
    expect(ui.metadata_entry("plan_id")).to_contain_text(plan_id)
    browser.shot("prod-plan-materialization")
    summary_line = re.compile(rf"{unit}/prod: plan {plan_id[:12]}: \d+ to add, \d+ to change, \d+ to destroy")
    summary = ui.markdown_entry("plan", summary_line)
    assert summary_line.search(summary), summary[:2000]
    browser.shot("prod-plan-summary")

    step = f"{unit}__prod_deploy"
    run_id = ui.launch("prod_deploy", change, run_config_yaml({step: {"config": approval}}))
    expect(ui.page.get_by_text(f"partition: {change}").first).to_be_visible()  # the new run's page
    browser.shot("prod-deploy-launched")
    launched = gql.query("query R($id: ID!) { runOrError(runId: $id) { ... on Run { runConfigYaml } } }",
                         {"id": run_id})["runOrError"]["runConfigYaml"]
    assert yaml.safe_load(launched)["ops"][step]["config"] == approval, launched  # the run has what was typed
    info = gql.wait_for_run(run_id, timeout=600)
    assert info["tags"].get("dagster/partition") == change and info["tags"].get("dagster/from_ui") == "true", info
    assert info["status"] == "SUCCESS", gql.run_failure_text(run_id)[-3000:]

    # the pull request on the emulator's pages: the prod plan's comment, its check run and the prod deployment
    page = browser.page
    page.goto(pull_request_url, wait_until="networkidle", timeout=TIMEOUT_MS)
    comment = page.locator("[id^=comment-]").filter(has_text=f"Plan for {unit} in prod")
    expect(comment).to_contain_text(f"Full plan id {plan_id}")
    expect(page.get_by_role("heading", name=f"{unit}/plan (prod) success", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name=f"{unit}/prod success", exact=True)).to_be_visible()
    browser.shot("pull-request")
    return info
