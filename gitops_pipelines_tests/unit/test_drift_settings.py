"""gitops.yaml's drift settings: a cron per environment with a top-level default, and the parallelism; a broken
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
  - name: prod
    drift: {cron: "0 5 * * 1-5"}
units:
  - {name: storage, kind: project, path: projects/storage}
"""


def _load(folder: Path, text: str):
    (folder / "projects" / "storage").mkdir(parents=True, exist_ok=True)
    path = folder / "gitops.yaml"
    path.write_text(textwrap.dedent(text))
    return load_config(path, environ={})


def test_an_environment_takes_its_own_drift_cron_else_the_top_level_one(tmp_path):
    config = _load(tmp_path, CONFIG)
    assert (config.drift_cron("test"), config.drift_cron("prod")) == ("0 6 * * *", "0 5 * * 1-5")
    assert config.drift.parallelism == 4
    config = _load(tmp_path, CONFIG + "drift: {cron: '@hourly', parallelism: 8}\n")
    assert (config.drift_cron("test"), config.drift_cron("prod"), config.drift.parallelism) == (
        "@hourly", "0 5 * * 1-5", 8)


@pytest.mark.parametrize("text, field, says", [
    (CONFIG.replace('"0 5 * * 1-5"', '"every morning"'), "environments[1].drift.cron", "is not a cron schedule"),
    (CONFIG + "drift: {cron: '0 6 * *'}\n", "drift.cron", "five fields"),
    (CONFIG + "drift: {parallelism: 0}\n", "drift.parallelism", "greater than or equal to 1"),
    (CONFIG + "drift: {parallelism: yes}\n", "drift.parallelism", "whole number >= 1"),
    (CONFIG + "drift: {parallelsim: 2}\n", "drift.parallelsim", "allowed: cron, parallelism"),
    (CONFIG.replace("drift: {cron:", "drift: {crn:"), "environments[1].drift.crn", "allowed: cron"),
])
def test_a_bad_drift_setting_names_its_field(tmp_path, text, field, says):
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, text)
    assert caught.value.field == field
    assert says in str(caught.value)
