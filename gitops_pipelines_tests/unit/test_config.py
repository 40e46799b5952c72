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
    assert caught.value.field == "environments[0].auto_aply"  # tools (and the JSON output) can point at it
    assert message.count("environments[0].auto_aply") == 1


def test_several_validation_errors_name_each_field_once(tmp_path):
    path = _write(tmp_path, GOOD.replace("auto_apply: true", "auto_aply: true") + "colour: blue\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ=ENVIRON)
    message = str(caught.value)
    assert caught.value.field == "environments[0].auto_aply"
    assert message.count("environments[0].auto_aply") == 1 and "colour: unknown key 'colour'" in message


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


# -- approvals: how many approving reviews of the merged head an environment needs ------------------------------
def test_approvals_default_to_one_and_approvers_to_anyone(tmp_path):
    config = load_config(_write(tmp_path, GOOD), environ=ENVIRON)
    assert config.approvals.required == 1
    assert [e.approvals.required for e in config.environments] == [1, 1]
    assert [e.approvers for e in config.environments] == [[], []]


def test_environments_inherit_the_top_level_approvals_unless_they_set_their_own(tmp_path):
    text = GOOD.replace("  - name: prod\n", "  - name: prod\n    approvals: {required: 0}\n"
                        "    approvers: [alice, acme/platform-team]\n")
    config = load_config(_write(tmp_path, "approvals: {required: 2}\n" + text), environ=ENVIRON)
    assert config.environment("test").approvals.required == 2
    assert config.environment("prod").approvals.required == 0
    assert config.environment("prod").approvers == ["alice", "acme/platform-team"]
    # a dump loads back to the same settings (resources hand the config around as data)
    again = type(config).model_validate(config.model_dump())
    assert [e.approvals for e in again.environments] == [e.approvals for e in config.environments]


@pytest.mark.parametrize("value, expected", [
    ("-1", "greater than or equal to 0"), ("two", "valid integer"), ("true", "whole number >= 0"),
])
def test_a_bad_approval_count_names_the_field(tmp_path, value, expected):
    path = _write(tmp_path, GOOD.replace("auto_apply: true", f"auto_apply: true\n    approvals: {{required: {value}}}"))
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ=ENVIRON)
    assert caught.value.field == "environments[0].approvals.required"
    assert expected in str(caught.value) and str(path) in str(caught.value)


def test_top_level_approvals_are_checked_too(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, "approvals: {requird: 2}\n" + GOOD), environ=ENVIRON)
    assert caught.value.field == "approvals.requird"
    assert "unknown key 'requird'; allowed: required" in str(caught.value)


def test_an_approver_that_is_no_github_login_or_team_is_named(tmp_path):
    path = _write(tmp_path, GOOD.replace("  - name: prod\n", "  - name: prod\n    approvers: [alice, 'bob smith']\n"))
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ=ENVIRON)
    assert caught.value.field == "environments[1].approvers"
    assert "'bob smith' is not a GitHub login (alice) or team (acme/platform)" in str(caught.value)


def test_a_secret_looking_variable_expands_only_when_allowed_and_never_shows_in_errors(tmp_path):
    token = "ghp_verysecretvalue123"
    leaky = GOOD.replace("auto_apply: true", "auto_apply: ${GITHUB_TOKEN}")
    with pytest.raises(ConfigError, match="secret-looking variable; list it under `allow_env`") as caught:
        load_config(_write(tmp_path, leaky), environ={**ENVIRON, "GITHUB_TOKEN": token})
    assert caught.value.field == "environments[0].auto_apply"
    allowed = "allow_env: [GITHUB_TOKEN]\n" + leaky
    with pytest.raises(ConfigError) as caught:  # allowed, expanded, then rejected as not a boolean
        load_config(_write(tmp_path, allowed), environ={**ENVIRON, "GITHUB_TOKEN": token})
    assert "auto_apply" in str(caught.value) and token not in str(caught.value)


def test_credentials_take_names_or_a_mapping_and_pass_env_takes_exact_names(tmp_path):
    mapped = GOOD.replace("  - name: prod\n", "  - name: prod\n    credentials: {AWS_ACCESS_KEY_ID: PROD_KEY_ID}\n"
                          "    plan_credentials: {AWS_ACCESS_KEY_ID: PROD_PLAN_KEY_ID}\n    plan_env: {AWS_REGION: x}\n")
    prod = load_config(_write(tmp_path, mapped), environ=ENVIRON).environment("prod")
    assert prod.credentials == {"AWS_ACCESS_KEY_ID": "PROD_KEY_ID"}
    assert prod.plan_credentials == {"AWS_ACCESS_KEY_ID": "PROD_PLAN_KEY_ID"} and prod.plan_env == {"AWS_REGION": "x"}

    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, "terraform: {pass_env: [PATH_EXTRA, 'AWS_*']}\n" + GOOD), environ=ENVIRON)
    assert caught.value.field == "terraform.pass_env"
    assert "'AWS_*' is not the exact name of an environment variable" in str(caught.value)

    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, GOOD.replace("  - name: prod\n", "  - name: prod\n    credentials: AWS_KEY\n")),
                    environ=ENVIRON)
    assert caught.value.field == "environments[1].credentials"
    assert "must be a list of variable names, or a mapping" in str(caught.value)


# -- several repositories ------------------------------------------------------------------------------------------
MODULES_ONLY = """\
github: {repository: acme/modules}
repositories:
  - name: acme/projects
units:
  - {name: bucket, kind: module, path: modules/bucket}
"""


def test_a_repository_of_modules_only_needs_no_environment_and_names_the_others(tmp_path):
    config = load_config(_write(tmp_path, MODULES_ONLY), environ={})
    assert config.environments == [] and [r.name for r in config.repositories] == ["acme/projects"]
    assert config.repositories[0].main_branch == "main"


def test_a_project_without_environments_is_refused(tmp_path):
    text = MODULES_ONLY + "  - {name: storage, kind: project, path: projects/storage}\n"
    with pytest.raises(ConfigError, match=r"project 'storage' is deployed somewhere, but no environment"):
        load_config(_write(tmp_path, text), environ={})


@pytest.mark.parametrize("change, expected", [
    (("github: {repository: acme/modules}\n", ""), "add a `github:` section naming this repository"),
    (("name: acme/projects", "name: acme/modules"), "acme/modules is this repository (github.repository)"),
    (("  - name: acme/projects\n", "  - name: acme/projects\n  - name: acme/projects\n"),
     "repository 'acme/projects' is declared twice"),
    (("name: acme/projects", "name: not-a-repository"), "repositories[0].name: String should match pattern"),
])
def test_a_wrong_repositories_list_says_what_to_change(tmp_path, change, expected):
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, MODULES_ONLY.replace(*change)), environ={})
    assert expected in str(caught.value) and "gitops.yaml" in str(caught.value)
