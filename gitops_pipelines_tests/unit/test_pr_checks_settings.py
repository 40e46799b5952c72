"""gitops.yaml's `pr_checks.parallelism`: how many PR-time stage steps one pr_checks run has going at once; a broken
value names its field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from gitops_pipelines.core.config import load_config
from gitops_pipelines.core.errors import ConfigError

CONFIG = """\
environments:
  - name: test
units:
  - {name: storage, kind: project, path: projects/storage, environments: [test]}
"""


def _write(folder: Path, text: str) -> Path:
    (folder / "projects" / "storage").mkdir(parents=True, exist_ok=True)
    path = folder / "gitops.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_pr_checks_parallelism_defaults_to_four_and_is_read_from_gitops_yaml(tmp_path):
    assert load_config(_write(tmp_path, CONFIG), environ={}).pr_checks.parallelism == 4
    config = load_config(_write(tmp_path, CONFIG + "pr_checks: {parallelism: 2}\n"), environ={})
    assert config.pr_checks.parallelism == 2


@pytest.mark.parametrize("text, field, says", [
    (CONFIG + "pr_checks: {parallelism: 0}\n", "pr_checks.parallelism", "greater than or equal to 1"),
    (CONFIG + "pr_checks: {parallelism: yes}\n", "pr_checks.parallelism", "whole number >= 1"),
    (CONFIG + "pr_checks: {parallelism: many}\n", "pr_checks.parallelism", "valid integer"),
    (CONFIG + "pr_checks: {paralelism: 2}\n", "pr_checks.paralelism", "allowed: parallelism"),
])
def test_a_bad_pr_checks_setting_names_its_field(tmp_path, text, field, says):
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, text), environ={})
    assert caught.value.field == field
    assert says in str(caught.value)

