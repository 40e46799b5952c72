"""The one place that runs Terraform.

Command lines are built by python-terraform; the process itself is run here, because python-terraform can
neither stream output line by line nor close stdin, and several of its helpers no longer match Terraform >= 0.15
(`destroy()` passes `-force`, `plan(dir)` passes a folder, `output()` raises TypeError).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from python_terraform import IsFlagged, Terraform

from gitops_pipelines.core.errors import TerraformNotFound
from gitops_pipelines.core.redact import Redactor, secret_env_values
from gitops_pipelines.core.terraform_failures import ANSI, error_blocks, failure  # noqa: F401 - error_blocks: re-exported

MIN_VERSION = (1, 6)
LineSink = Callable[[str], None]


# What a Terraform process takes from this process's environment, and why; nothing else of it ever reaches
# Terraform. Terraform runs code that nobody has reviewed yet (providers, `local-exec`, `external` data sources in a
# pull request), and this process holds the GitHub token, the webhook secret, the plan key and the credentials of
# every environment. A target's own `env` and `credentials` come on top (RunSettings.process_env); a repository adds
# exact names with `terraform.pass_env` in gitops.yaml. Files under HOME (~/.aws/credentials, ~/.kube/config) are
# not governed by this list: run the code location as a user whose home holds no cloud credentials.
PROCESS_ENV_ALLOWLIST: dict[str, str] = {
    "PATH": "terraform finds the commands that provisioners and `external` data sources run (sh, git, ...)",
    "HOME": "Terraform's per-user folder (~/.terraform.d) and the tools provisioners start expect one",
    "LANG": "the text encoding of what Terraform and provisioners print",
    "LC_ALL": "the same, when set to override LANG",
    "LC_CTYPE": "the same, for the character set alone",
    "TMPDIR": "where Terraform and providers write temporary files, when a machine moves them off /tmp",
    "TZ": "the time zone of timestamps that provisioners print",
    "SSL_CERT_FILE": "a private CA bundle, trusted by Go (Terraform, providers) for registry, state and cloud APIs",
    "SSL_CERT_DIR": "the same, as a folder of certificates",
    "REQUESTS_CA_BUNDLE": "the same CA for Python tools that provisioners run (the AWS CLI, for one)",
    "HTTPS_PROXY": "a network that reaches registries and cloud APIs only through a proxy (Go reads these names)",
    "HTTP_PROXY": "the same, for plain HTTP",
    "NO_PROXY": "the hosts reached directly (a local endpoint, a private registry) on such a network",
    "https_proxy": "the lowercase spelling, which curl and some provisioner tools read instead",
    "http_proxy": "the same",
    "no_proxy": "the same",
}
# Set by the runner on every process, over anything a target's `env` says. TF_LOG is deliberately not here nor in
# the allowlist: it is set only by gitops.yaml (a target's `env`, or `terraform.pass_env: [TF_LOG]`).
RUNNER_ENV: dict[str, str] = {
    "TF_IN_AUTOMATION": "1",  # output for a log, not "run terraform apply next" hints for a terminal
    "TF_INPUT": "0",  # never wait on a prompt; a missing variable fails at once
    "CHECKPOINT_DISABLE": "1",  # no version check calls to HashiCorp from every run
    "GIT_TERMINAL_PROMPT": "0",  # a git module source that needs a password fails instead of waiting for one
}


def terraform_env(environ: Mapping[str, str], target: Mapping[str, str] | None = None, *,
                  pass_env: Iterable[str] = (), cli_config: Path | None = None,
                  data_dir: Path | None = None) -> dict[str, str]:
    """The whole environment of one Terraform process: the allowlisted and `pass_env` names found in environ, then
    the target's env and credentials, then the runner's own settings (TF_CLI_CONFIG_FILE and TF_DATA_DIR too)."""
    env = {name: environ[name] for name in [*PROCESS_ENV_ALLOWLIST, *pass_env] if name in environ}
    env.update(target or {})
    env.update(RUNNER_ENV)
    if cli_config is not None:
        env["TF_CLI_CONFIG_FILE"] = str(cli_config)
    if data_dir is not None:
        env["TF_DATA_DIR"] = str(data_dir)
    return env


@dataclass
class PlanOutcome:
    changed: bool  # exit code 2 of -detailed-exitcode
    text: str | None  # the plan as `terraform show` renders it; None when plan's output was not recognised


@dataclass
class TerraformResult:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + ("\n" + self.stderr if self.stderr else "")


@dataclass
class TerraformRunner:
    """Runs terraform with -input=false, stdin closed, TF_IN_AUTOMATION=1, its own CLI config, output streamed,
    and an environment built from PROCESS_ENV_ALLOWLIST (terraform_env), never this process's whole one."""

    binary: str = "terraform"
    provider_mirror: str | None = None
    log: LineSink | None = None
    redactor: Redactor = field(default_factory=Redactor)
    pass_env: tuple[str, ...] = ()  # terraform.pass_env: names beside PROCESS_ENV_ALLOWLIST
    git_config: str | None = None  # terraform.git_config: GIT_CONFIG_GLOBAL of every Terraform process
    _version: str | None = field(default=None, init=False, repr=False)
    _cli_config: Path | None = field(default=None, init=False, repr=False)

    # -- setup ---------------------------------------------------------------------------------------------------
    def executable(self) -> str:
        found = shutil.which(self.binary)
        if not found:
            raise TerraformNotFound(
                f"terraform binary {self.binary!r} not found on PATH; install Terraform >= "
                f"{'.'.join(map(str, MIN_VERSION))} or set terraform.binary in gitops.yaml"
            )
        return found

    def version(self) -> str:
        """Terraform's version; refuses a binary older than MIN_VERSION."""
        if self._version is None:
            exe = self.executable()
            proc = subprocess.run([exe, "version", "-json"], capture_output=True, text=True,
                                  stdin=subprocess.DEVNULL, env=self._base_env())
            try:
                version = json.loads(proc.stdout)["terraform_version"]
            except (ValueError, KeyError):
                raise TerraformNotFound(f"{exe} did not report its version: {proc.stderr.strip()[:200]}") from None
            parts = tuple(int(p) for p in re.findall(r"\d+", version)[:2])
            if parts < MIN_VERSION:
                raise TerraformNotFound(f"Terraform {version} at {exe} is too old; {'.'.join(map(str, MIN_VERSION))} or newer is needed")
            self._version = version
        return self._version

    def cli_config(self) -> Path:
        """A CLI config of our own, so `init` finds providers in the mirror with no network."""
        if self._cli_config is None:
            if self.provider_mirror:
                body = (
                    "provider_installation {\n"
                    f'  filesystem_mirror {{\n    path    = "{self.provider_mirror}"\n'
                    '    include = ["registry.terraform.io/*/*"]\n  }\n'
                    '  direct {\n    exclude = ["registry.terraform.io/*/*"]\n  }\n}\n'
                )
            else:
                body = "# gitops-pipelines: providers from the public registry\n"
            folder = Path(tempfile.gettempdir()) / "gitops-pipelines"
            folder.mkdir(exist_ok=True)
            path = folder / f"terraformrc-{hashlib.sha256(body.encode()).hexdigest()[:12]}"
            if not path.exists():
                tmp = path.with_suffix(f".{os.getpid()}")
                tmp.write_text(body)
                tmp.replace(path)
            self._cli_config = path
        return self._cli_config

    def _base_env(self, extra: Mapping[str, str] | None = None, data_dir: Path | None = None) -> dict[str, str]:
        env = terraform_env(os.environ, extra, pass_env=self.pass_env, cli_config=self._cli_config,
                            data_dir=data_dir)
        if self.git_config:
            env["GIT_CONFIG_GLOBAL"] = self.git_config
        return env

    # -- running ---------------------------------------------------------------------------------------------------
    def run(self, workdir: Path, command: str, *args: str, env: Mapping[str, str] | None = None,
            data_dir: Path | None = None, ok_codes: tuple[int, ...] = (0,), what: str = "",
            **options: Any) -> TerraformResult:
        """Run one terraform command in workdir, streaming each line to the log as it comes."""
        exe = self.executable()
        self.version()
        self.cli_config()
        argv = Terraform(working_dir=str(workdir), terraform_bin_path=exe).generate_cmd_string(command, *args, **options)
        full_env = self._base_env(env, data_dir)
        # every secret-looking variable terraform can see, passed-through ones too: a provisioner may echo any of them
        redact = self.redactor.child(secret_env_values(full_env))
        self._emit(redact(f"$ terraform {' '.join(argv[1:])}"))
        proc = subprocess.Popen(argv, cwd=workdir, env=full_env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
        out: list[str] = []
        err: list[str] = []
        stderr_reader = threading.Thread(target=self._pump, args=(proc.stderr, err, redact), daemon=True)
        stderr_reader.start()
        self._pump(proc.stdout, out, redact, quiet=_returns_data(command, argv))
        stderr_reader.join()
        code = proc.wait()
        result = TerraformResult(argv, code, "".join(out), "".join(err))
        if code not in ok_codes:
            raise self._failure(result, command, what, workdir=workdir, data_dir=data_dir)
        return result

    def _pump(self, stream, sink: list[str], redact: Redactor, quiet: bool = False) -> None:
        for line in stream:
            sink.append(line)
            if not quiet:
                self._emit(redact(ANSI.sub("", line.rstrip("\n"))))

    def _emit(self, line: str) -> None:
        if self.log is not None:
            self.log(line)

    def _failure(self, result: TerraformResult, command: str, what: str, *, workdir: Path | None = None,
                 data_dir: Path | None = None) -> Exception:
        return failure(result.output, result.returncode, command, what, self.redactor, workdir=workdir,
                       data_dir=data_dir)

    # -- commands (each one a Terraform subcommand with the flags automation needs) --------------------------------
    def init(self, workdir: Path, *, data_dir: Path | None = None, backend: bool = True,
             backend_config: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None) -> TerraformResult:
        config = {k: _hcl_scalar(v) for k, v in (backend_config or {}).items()} or None
        return self.run(workdir, "init", env=env, data_dir=data_dir, what="terraform init",
                        input=False, no_color=IsFlagged, reconfigure=IsFlagged if backend else None,
                        backend=backend, backend_config=config)

    def fmt_check(self, workdir: Path) -> TerraformResult:
        # 3: files need formatting; 2: a file does not parse (the syntax stage reports it with file and line)
        return self.run(workdir, "fmt", ok_codes=(0, 2, 3), check=IsFlagged, diff=IsFlagged,
                        recursive=IsFlagged, no_color=IsFlagged)

    def validate_json(self, workdir: Path, *, data_dir: Path | None = None) -> dict:
        result = self.run(workdir, "validate", data_dir=data_dir, ok_codes=(0, 1), json=IsFlagged, no_color=IsFlagged)
        return json.loads(result.stdout)

    def plan(self, workdir: Path, out: Path, *, data_dir: Path | None = None, env: Mapping[str, str] | None = None,
             var_files: list[str] = (), lock_timeout: str = "30s", refresh_only: bool = False,
             destroy: bool = False, lock: bool = True) -> bool:
        """Make a plan file; True when it has changes (exit code 2 with -detailed-exitcode).

        lock=False: read the state without its lock (`-lock=false`), for plans made with read-only credentials,
        which cannot write a lock; such a plan writes no state, and Terraform refuses to apply it once the state
        has moved on (stale)."""
        return self.make_plan(workdir, out, data_dir=data_dir, env=env, var_files=var_files,
                              lock_timeout=lock_timeout, refresh_only=refresh_only, destroy=destroy,
                              lock=lock).changed

    def make_plan(self, workdir: Path, out: Path, *, data_dir: Path | None = None,
                  env: Mapping[str, str] | None = None, var_files: list[str] = (), lock_timeout: str = "30s",
                  refresh_only: bool = False, destroy: bool = False, lock: bool = True) -> PlanOutcome:
        """plan(), also keeping what `terraform show <planfile>` would print, cut from what `plan` printed."""
        locking = {"lock_timeout": lock_timeout} if lock else {"lock": False}
        result = self.run(workdir, "plan", env=env, data_dir=data_dir, ok_codes=(0, 2), what="terraform plan",
                          input=False, no_color=IsFlagged, detailed_exitcode=IsFlagged, out=str(out),
                          **locking, var_file=list(var_files) or None,
                          refresh_only=IsFlagged if refresh_only else None, destroy=IsFlagged if destroy else None)
        return PlanOutcome(changed=result.returncode == 2, text=rendered_plan(result.stdout))

    def show_json(self, workdir: Path, planfile: Path | None = None, *, data_dir: Path | None = None,
                  env: Mapping[str, str] | None = None) -> dict:
        args = [str(planfile)] if planfile else []
        return json.loads(self.run(workdir, "show", *args, env=env, data_dir=data_dir, json=IsFlagged,
                                   no_color=IsFlagged).stdout)

    def show_text(self, workdir: Path, planfile: Path, *, data_dir: Path | None = None,
                  env: Mapping[str, str] | None = None) -> str:
        result = self.run(workdir, "show", str(planfile), env=env, data_dir=data_dir, no_color=IsFlagged)
        return result.stdout

    def show_both(self, workdir: Path, planfile: Path, *, data_dir: Path | None = None,
                  env: Mapping[str, str] | None = None) -> tuple[dict, str]:
        """`show -json` and `show` of one plan file side by side: two provider starts, one wait."""
        self.version()
        self.cli_config()
        with ThreadPoolExecutor(max_workers=1) as pool:
            text = pool.submit(self.show_text, workdir, planfile, data_dir=data_dir, env=env)
            plan_json = self.show_json(workdir, planfile, data_dir=data_dir, env=env)
            return plan_json, text.result()

    def apply_plan(self, workdir: Path, planfile: Path, *, data_dir: Path | None = None,
                   env: Mapping[str, str] | None = None, lock_timeout: str = "0s") -> TerraformResult:
        """Apply exactly this saved plan (no -var, no -auto-approve needed for a plan file)."""
        return self.run(workdir, "apply", str(planfile), env=env, data_dir=data_dir, what="terraform apply",
                        input=False, no_color=IsFlagged, lock_timeout=lock_timeout)

    def refresh_state(self, workdir: Path, *, data_dir: Path | None = None, env: Mapping[str, str] | None = None,
                      var_files: list[str] = ()) -> TerraformResult:
        """`apply -refresh-only`: records what the provider reads back, changes no infrastructure."""
        return self.run(workdir, "apply", env=env, data_dir=data_dir, what="terraform refresh", input=False,
                        no_color=IsFlagged, auto_approve=IsFlagged, refresh_only=IsFlagged,
                        var_file=list(var_files) or None)

    def apply_auto(self, workdir: Path, *, data_dir: Path | None = None, env: Mapping[str, str] | None = None,
                   var_files: list[str] = ()) -> TerraformResult:
        return self.run(workdir, "apply", env=env, data_dir=data_dir, what="terraform apply", input=False,
                        no_color=IsFlagged, auto_approve=IsFlagged, var_file=list(var_files) or None)

    def destroy(self, workdir: Path, *, data_dir: Path | None = None, env: Mapping[str, str] | None = None,
                var_files: list[str] = ()) -> TerraformResult:
        return self.run(workdir, "destroy", env=env, data_dir=data_dir, what="terraform destroy", input=False,
                        no_color=IsFlagged, auto_approve=IsFlagged, var_file=list(var_files) or None)

    def test(self, workdir: Path, *, data_dir: Path | None = None, env: Mapping[str, str] | None = None,
             junit_xml: Path | None = None, var_files: list[str] = ()) -> TerraformResult:
        return self.run(workdir, "test", env=env, data_dir=data_dir, ok_codes=(0, 1), no_color=IsFlagged,
                        junit_xml=str(junit_xml) if junit_xml else None, var_file=list(var_files) or None)

    def state_list(self, workdir: Path, *, data_dir: Path | None = None,
                   env: Mapping[str, str] | None = None) -> list[str]:
        result = self.run(workdir, "state list", env=env, data_dir=data_dir, ok_codes=(0, 1))
        if result.returncode != 0 and "No state file was found" not in result.output:
            raise self._failure(result, "state list", "")
        return [line.strip() for line in result.stdout.splitlines() if line.strip()]

    def state_pull(self, workdir: Path, *, data_dir: Path | None = None,
                   env: Mapping[str, str] | None = None) -> dict:
        text = self.run(workdir, "state pull", env=env, data_dir=data_dir).stdout.strip()
        return json.loads(text) if text else {}

    def outputs(self, workdir: Path, *, data_dir: Path | None = None,
                env: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Output values by name (python-terraform's output() is broken on Terraform >= 0.15)."""
        result = self.run(workdir, "output", env=env, data_dir=data_dir, json=IsFlagged, no_color=IsFlagged)
        raw = json.loads(result.stdout or "{}")
        return {k: v for k, v in raw.items()}


def _returns_data(command: str, argv: list[str]) -> bool:
    """Commands whose stdout is data (state, plan JSON, outputs, diagnostics), not progress: it may hold sensitive
    values in clear, so it is captured but never streamed to the log."""
    return command in ("state pull", "output") or (command in ("show", "validate") and "-json" in argv)


# How the rendered plan opens (jsonformat's RenderHumanPlan, which both `plan` and `show <planfile>` call); `plan`
# prints only progress lines (`<address>: Refreshing state...`, lock messages) before it, never an empty line.
_PLAN_OPENINGS = ("Terraform used the selected providers", "No changes.", "Note: Objects have changed outside of",
                  "Changes to Outputs:", "Terraform will perform the following actions:")
_PLAN_SUMMARY = re.compile(r"^(Plan: \d+ to (add|import)|No changes\.|You can apply this plan|"
                           r"Would you like to update the Terraform state)", re.MULTILINE)


def rendered_plan(stdout: str) -> str | None:
    """What `terraform show -no-color <planfile>` prints, cut from the stdout of the `plan -no-color` that wrote the
    file (TF_IN_AUTOMATION: no "Saved the plan" footer): the text between the progress lines and the warnings
    printed after it. None when the output does not have that shape; the caller then runs `show`."""
    lines = stdout.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if not line.strip()), None)
    if start is None or start + 1 >= len(lines) or not lines[start + 1].startswith(_PLAN_OPENINGS):
        return None
    end = len(lines)
    for i in range(start + 1, len(lines) - 1):  # diagnostics (warnings) follow, each after an empty line
        if not lines[i].strip() and lines[i + 1].startswith(("Warning: ", "Error: ", "\u2577")):
            end = i
            break
    text = "".join(lines[start:end])
    return text if _PLAN_SUMMARY.search(text) else None


def _hcl_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
