"""gitops.yaml: every broken config names the file, the field and what is allowed; no Terraform needed."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gitops_pipelines.core.config import load_config, resolve_config_path
from gitops_pipelines.core.errors import ConfigError

GOOD = """\
environments:
  - name: test
    auto_apply: true
    env: {AWS_ENDPOINT_URL: "${TEST_ENDPOINT}"}
  - name: prod
units:
  - {name: bucket, kind: module, path: modules/bucket}
  - {name: storage, kind: project, path: projects/storage, environments: [test, prod]}
"""
ENVIRON = {"TEST_ENDPOINT": "http://127.0.0.1:5000"}


def _write(folder: Path, text: str, name: str = "gitops.yaml") -> Path:
    for unit in ("modules/bucket", "projects/storage"):
        (folder / unit).mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def _cli(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gitops_pipelines.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, **ENVIRON, **(env or {})}, timeout=60)


def test_good_config_loads(tmp_path):
    config = load_config(_write(tmp_path, GOOD), environ=ENVIRON)
    assert [e.name for e in config.environments] == ["test", "prod"]
    assert config.environment("test").env == {"AWS_ENDPOINT_URL": "http://127.0.0.1:5000"}
    assert config.unit_dir(config.unit("storage")) == (tmp_path / "projects" / "storage").resolve()
    assert [u.name for u in config.projects] == ["storage"]


def test_unknown_key_names_file_field_and_allowed_keys(tmp_path):
    path = _write(tmp_path, GOOD.replace("auto_apply: true", "auto_aply: true"))
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ=ENVIRON)
    message = str(caught.value)
    assert str(path) in message
    assert "environments[0].auto_aply" in message
    assert "unknown key 'auto_aply'" in message
    assert "allowed:" in message and "auto_apply" in message and "backend_config" in message
    assert caught.value.exit_code == 2


def test_unknown_key_exits_2_from_the_cli(tmp_path):
    path = _write(tmp_path, GOOD + "colour: blue\n")
    proc = _cli("config", "check", "--config", str(path))
    assert proc.returncode == 2
    assert str(path) in proc.stderr and "unknown key 'colour'" in proc.stderr and "environments" in proc.stderr
    proc = _cli("config", "check", "--json", "--config", str(path))
    assert proc.returncode == 2
    import json
    payload = json.loads(proc.stdout)
    assert payload["kind"] == "ConfigError" and "colour" in payload["error"]


def test_missing_unit_path(tmp_path):
    path = _write(tmp_path, GOOD.replace("path: projects/storage", "path: projects/storaeg"))
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ=ENVIRON)
    message = str(caught.value)
    assert "units[1].path" in message and "'projects/storaeg'" in message and "does not exist" in message
    assert str(path) in message


def test_unset_variable_is_named(tmp_path):
    path = _write(tmp_path, GOOD)
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    message = str(caught.value)
    assert "TEST_ENDPOINT is not set" in message
    assert "environments[0].env.AWS_ENDPOINT_URL" in message


def test_dollar_dollar_is_a_literal(tmp_path):
    path = _write(tmp_path, GOOD.replace('"${TEST_ENDPOINT}"', '"$${NOT_A_VAR}"'))
    config = load_config(path, environ={})
    assert config.environment("test").env["AWS_ENDPOINT_URL"] == "${NOT_A_VAR}"


def test_config_flag_beats_gitops_config_beats_default(tmp_path, monkeypatch):
    explicit = _write(tmp_path, GOOD, "explicit.yaml")
    from_env = _write(tmp_path, GOOD, "from-env.yaml")
    _write(tmp_path, GOOD)  # ./gitops.yaml
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITOPS_CONFIG", raising=False)
    assert resolve_config_path() == Path("gitops.yaml")
    monkeypatch.setenv("GITOPS_CONFIG", str(from_env))
    assert resolve_config_path() == from_env
    assert load_config(environ=ENVIRON).source == str(from_env)
    assert resolve_config_path(explicit) == explicit

    # the same order through the CLI
    both = _cli("config", "check", "--config", str(explicit), cwd=tmp_path, env={"GITOPS_CONFIG": str(from_env)})
    assert both.returncode == 0, both.stderr
    assert both.stdout.startswith(f"{explicit}: ok")
    env_only = _cli("config", "check", cwd=tmp_path, env={"GITOPS_CONFIG": str(from_env)})
    assert env_only.stdout.startswith(f"{from_env}: ok")
    default = _cli("config", "check", cwd=tmp_path, env={"GITOPS_CONFIG": ""})
    assert default.stdout.startswith("gitops.yaml: ok"), default.stderr


def test_missing_config_file_says_how_to_point_at_one(tmp_path):
    with pytest.raises(ConfigError, match="file not found; pass --config or set GITOPS_CONFIG"):
        load_config(tmp_path / "nope.yaml")


def test_duplicate_names(tmp_path):
    dup_unit = GOOD + "  - {name: bucket, kind: module, path: modules/bucket}\n"
    with pytest.raises(ConfigError, match=r"units: unit 'bucket' is declared twice"):
        load_config(_write(tmp_path, dup_unit), environ=ENVIRON)
    dup_env = GOOD.replace("  - name: prod\n", "  - name: prod\n  - name: prod\n")
    with pytest.raises(ConfigError, match=r"environments: environment 'prod' is declared twice"):
        load_config(_write(tmp_path, dup_env), environ=ENVIRON)


def test_unit_referencing_an_unknown_environment(tmp_path):
    path = _write(tmp_path, GOOD.replace("environments: [test, prod]", "environments: [test, staging]"))
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ=ENVIRON)
    message = str(caught.value)
    assert "units[1].environments" in message
    assert "unknown environment 'staging'" in message and "known: test, prod" in message


def test_wrong_kind_and_invalid_yaml(tmp_path):
    with pytest.raises(ConfigError, match=r"units\[0\]\.kind: .*'module' or 'project'.*'lib'"):
        load_config(_write(tmp_path, GOOD.replace("kind: module", "kind: lib")), environ=ENVIRON)
    with pytest.raises(ConfigError, match=r"line \d+, column \d+: not valid YAML"):
        load_config(_write(tmp_path, GOOD + "units: [\n"), environ=ENVIRON)
