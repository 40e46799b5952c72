"""The Dagster webserver and daemon as real processes on the project's workspace.yaml and dagster.yaml, with the
sample infrastructure (its own copy: tests may break its gitops.yaml) and moto as its cloud."""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest

from gitops_pipelines_dev.dagster_procs import DagsterProcesses

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LOCATION = "gitops_pipelines"


@pytest.fixture
def e2e_infra(tmp_path, cloud_env):
    """A fresh copy of the sample infrastructure repository (a real git repository) for one test."""
    from gitops_pipelines_tests.fixtures.infra_repo import make_infra_repo

    return make_infra_repo(tmp_path / "infra")


@pytest.fixture
def e2e_dagster_home(tmp_path):
    """A DAGSTER_HOME with the project's own dagster.yaml (SQLite storage, pools, queued runs)."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    return home


@pytest.fixture
def dagster_stack(e2e_infra, e2e_dagster_home, clouds, cloud_env, tmp_path):
    """dagster-daemon + dagster-webserver on 127.0.0.1 for the project's workspace.yaml; stopped after the test.
    The code location reads gitops.yaml from $GITOPS_CONFIG, as `make run` does."""
    with running_stack(e2e_infra, e2e_dagster_home, cloud_env, tmp_path / "logs") as stack:
        yield stack


@contextmanager
def running_stack(infra: Path, home: Path, cloud_env: Mapping[str, str], log_dir: Path,
                  extra_env: Mapping[str, str] | None = None) -> Iterator[DagsterProcesses]:
    """dagster_stack for any DAGSTER_HOME and sample repository (a module-scoped drill has no tmp_path)."""
    env = dict(os.environ)
    env.update(cloud_env)
    env.update({
        "GITOPS_CONFIG": str(infra / "gitops.yaml"),
        "GITOPS_PLAN_KEY": base64.b64encode(b"e2e-plan-key-0123456789abcdef!!!").decode(),
    })
    env.update(extra_env or {})
    stack = DagsterProcesses(home, PROJECT_ROOT / "workspace.yaml", cwd=PROJECT_ROOT, env=env, log_dir=log_dir)
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def browser(tmp_path):
    """A headless Chromium page for one test (Debian's `chromium`, or $CHROMIUM); its screenshots go to the
    test's output folder (tmp_path/screenshots)."""
    from playwright.sync_api import sync_playwright

    from gitops_pipelines_tests.e2e.browser import Browser, chromium_executable

    executable = chromium_executable()
    if executable is None:
        pytest.fail("the browser test needs Chromium: `apt-get install chromium` (as .ci/run does), or set $CHROMIUM")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True)
        try:
            yield Browser(chromium.new_page(viewport={"width": 1600, "height": 1000}), tmp_path / "screenshots")
        finally:
            chromium.close()
