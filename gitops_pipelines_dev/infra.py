"""The sample infrastructure repository (`sample_infra/`: one module, one project), as a real git repository, and
the environment its gitops.yaml reads; used by the tests and by `make run`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

SAMPLE = Path(__file__).resolve().parent / "sample_infra"
API_TOKEN = "tok-9f3b2c71-very-secret"  # a sensitive variable; must never show up in logs or stored JSON
# One AWS key pair per use, each under the names the sample's gitops.yaml maps to AWS_ACCESS_KEY_ID and
# AWS_SECRET_ACCESS_KEY, so a test can tell from what moto saw which credentials a Terraform process held.
ACCESS_KEYS = {
    "TEST": ("AKIAMOTOTESTDEPLOY", "moto-test-deploy-secret-not-real"),
    "TEST_PLAN": ("AKIAMOTOTESTPLAN", "moto-test-plan-secret-not-real"),
    "PROD": ("AKIAMOTOPRODDEPLOY", "moto-prod-deploy-secret-not-real"),
    "SANDBOX": ("AKIAMOTOSANDBOX", "moto-sandbox-secret-not-real"),
}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def make_infra_repo(dest: Path, source: Path = SAMPLE) -> Path:
    """Copy the sample into dest as a git repository with one commit on main."""
    shutil.copytree(source, dest)
    return _first_commit(dest)


def _first_commit(dest: Path) -> Path:
    git(dest, "init", "-q", "-b", "main")
    git(dest, "-c", "user.name=test", "-c", "user.email=test@example.com", "add", "-A")
    git(dest, "-c", "user.name=test", "-c", "user.email=test@example.com", "commit", "-q", "-m", "initial")
    return dest


def sample_files(root: Path = SAMPLE, under: str = "") -> dict[str, str]:
    """{path relative to root: text} of every file under root/under."""
    base = root / under if under else root
    return {str(p.relative_to(root)): p.read_text() for p in sorted(base.rglob("*")) if p.is_file()}


# The repository the sample's project names in its module source; `module_releases` serves it from a local copy.
SAMPLE_REPOSITORY = "https://github.com/acme/infra.git"
SAMPLE_REPOSITORY_NAME = "acme/infra"
SAMPLE_RELEASE = "bucket/v0.1.0"  # the module release the sample's project pins


def release_tag(repo: Path, tag: str = SAMPLE_RELEASE, ref: str = "HEAD") -> None:
    """An annotated release tag, as the release stage makes them."""
    git(repo, "-c", "user.name=release", "-c", "user.email=release@example.com", "tag", "-a", tag, "-m", tag, ref)


def serve_repository(repo: Path, config: Path, url: str = SAMPLE_REPOSITORY) -> Path:
    """A git config (for `terraform.git_config`) under which `url` is fetched from the local repository `repo`,
    so the sample's `git::https://github.com/acme/infra.git//...` module sources resolve with no network."""
    return serve_repositories({url: repo}, config)


def serve_repositories(repos: dict[str, Path], config: Path) -> Path:
    """serve_repository for several: {URL as module sources name it: local repository}."""
    config.write_text("".join(f'[url "file://{Path(repo).resolve()}"]\n\tinsteadOf = {url}\n'
                              for url, repo in repos.items()))
    return config


# The mixed layout (a modules repository and a projects repository), built from the sample and sample_mixed/.
SAMPLE_MIXED = Path(__file__).resolve().parent / "sample_mixed"
MODULES_REPOSITORY, PROJECTS_REPOSITORY = "acme/modules", "acme/projects"


def github_url(repository: str) -> str:
    return f"https://github.com/{repository}.git"


def mixed_layout() -> dict[str, dict[str, str]]:
    """{owner/name: {path: text}}: acme/modules holds the sample's bucket module; acme/projects its storage project,
    pinned to acme/modules' release instead of acme/infra's, and a web project; each its own gitops.yaml."""
    storage = {path: text.replace(SAMPLE_REPOSITORY, github_url(MODULES_REPOSITORY))
               for path, text in sample_files(SAMPLE, "projects").items()}
    return {MODULES_REPOSITORY: {**sample_files(SAMPLE, "modules"), **sample_files(SAMPLE_MIXED / "modules")},
            PROJECTS_REPOSITORY: {**storage, **sample_files(SAMPLE_MIXED / "projects")}}


# What the sample's gitops.yaml gets on the emulator as one repository: a `github:` section (last, so a caller can
# add keys to it) and one approving review asked for.
ONE_REPOSITORY_GITHUB = """
github:
  repository: acme/infra
  api_url: "${GITHUB_API_URL}"
  web_url: https://github.com  # as the sample's module sources name it (the git config maps it to the emulator)
"""


def one_repository_layout() -> dict[str, dict[str, str]]:
    """The sample as one repository holding everything (acme/infra), for the emulator: {owner/name: files}."""
    files = sample_files()
    files["gitops.yaml"] = (files["gitops.yaml"].replace("approvals:\n  required: 0\n", "approvals:\n  required: 1\n")
                            + ONE_REPOSITORY_GITHUB)
    return {SAMPLE_REPOSITORY_NAME: files}


def make_mixed_repos(dest: Path) -> dict[str, Path]:
    """The mixed layout as two git repositories under dest (`acme__modules`, `acme__projects`), one commit each on
    main, the module released as SAMPLE_RELEASE; returns {owner/name: path}."""
    made = {}
    for name, content in mixed_layout().items():
        repo = dest / name.replace("/", "__")
        for path, text in content.items():
            (repo / path).parent.mkdir(parents=True, exist_ok=True)
            (repo / path).write_text(text)
        made[name] = _first_commit(repo)
    release_tag(made[MODULES_REPOSITORY])
    return made


def module_releases(dest: Path) -> Path:
    """A copy of the sample with its module released as SAMPLE_RELEASE, and the git config that serves it as
    SAMPLE_REPOSITORY; returns the config's path (GITOPS_GIT_CONFIG)."""
    repo = make_infra_repo(dest / "acme-infra")
    release_tag(repo)
    return serve_repository(repo, dest / "gitconfig")


def cloud_environ(moto_servers) -> dict[str, str]:
    """What gitops.yaml of the sample reads from the environment: endpoints, credentials, the provider mirror.

    AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY stay set too, for boto3 and for configurations that name them."""
    from gitops_pipelines_dev.mirror import find_provider_mirror

    env = dict(moto_servers["test"].aws_env())
    env.pop("AWS_ENDPOINT_URL")
    for use, (key_id, secret) in ACCESS_KEYS.items():
        env[f"{use}_AWS_ACCESS_KEY_ID"] = key_id
        env[f"{use}_AWS_SECRET_ACCESS_KEY"] = secret
    env.update({
        "TF_PROVIDER_MIRROR": find_provider_mirror() or "",
        "TEST_AWS_ENDPOINT": moto_servers["test"].url,
        "PROD_AWS_ENDPOINT": moto_servers["prod"].url,
        "SANDBOX_AWS_ENDPOINT": moto_servers["sandbox"].url,
        "TF_VAR_api_token": API_TOKEN,
    })
    return env
