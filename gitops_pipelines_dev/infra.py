"""The sample infrastructure repository (`sample_infra/`: one module, one project), as a real git repository, and
the environment its gitops.yaml reads; used by the tests and by `make run`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

SAMPLE = Path(__file__).resolve().parent / "sample_infra"
API_TOKEN = "tok-9f3b2c71-very-secret"  # a sensitive variable; must never show up in logs or stored JSON


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def make_infra_repo(dest: Path, source: Path = SAMPLE) -> Path:
    """Copy the sample into dest as a git repository with one commit on main."""
    shutil.copytree(source, dest)
    git(dest, "init", "-q", "-b", "main")
    git(dest, "-c", "user.name=test", "-c", "user.email=test@example.com", "add", "-A")
    git(dest, "-c", "user.name=test", "-c", "user.email=test@example.com", "commit", "-q", "-m", "initial")
    return dest


def cloud_environ(moto_servers) -> dict[str, str]:
    """What gitops.yaml of the sample reads from the environment: endpoints, credentials, the provider mirror."""
    from gitops_pipelines_dev.mirror import find_provider_mirror

    env = dict(moto_servers["test"].aws_env())
    env.pop("AWS_ENDPOINT_URL")
    env.update({
        "TF_PROVIDER_MIRROR": find_provider_mirror() or "",
        "TEST_AWS_ENDPOINT": moto_servers["test"].url,
        "PROD_AWS_ENDPOINT": moto_servers["prod"].url,
        "SANDBOX_AWS_ENDPOINT": moto_servers["sandbox"].url,
        "TF_VAR_api_token": API_TOKEN,
    })
    return env
