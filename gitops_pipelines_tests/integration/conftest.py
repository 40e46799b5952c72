"""The emulator a module of emulator tests shares: one repository (the module's OWNER, NAME and FILES), every answer
checked against GitHub's published contract (modules opt in with `usefixtures("every_answer_meets_the_contract")`)."""

from __future__ import annotations

import pytest

from gitops_pipelines_dev.github_emulator import Emulator
from gitops_pipelines_dev.github_emulator.openapi_check import check


@pytest.fixture(scope="module")
def emulator(request, github_contract):
    module = request.module
    with Emulator(github_contract) as emu:
        emu.create_repo(module.OWNER, module.NAME, module.FILES)
        yield emu


@pytest.fixture
def every_answer_meets_the_contract(emulator):
    """Validate every exchange of the test against the OpenAPI subset (openapi-core)."""
    start = len(emulator.exchanges)
    yield
    report = check(emulator.exchanges[start:], emulator.contract)
    assert not report.failures, report.summary()
