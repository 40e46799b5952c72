"""Everything a stage needs to run Terraform for one unit: config, runner, plan store, working folders."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitops_pipelines.core.config import EnvironmentConfig, GitopsConfig, RunSettings, UnitConfig
from gitops_pipelines.core.errors import ConfigError
from gitops_pipelines.core.redact import Redactor
from gitops_pipelines.core.terraform import TerraformRunner

LOCK_FILE = ".terraform.lock.hcl"  # sealed with each plan, restored before its apply
INIT_STAMP = "gitops-init.sha256"  # in a data folder: what its `init` was made for (written once init succeeded)
INIT_LOCK_FILE = "gitops-init.lock.hcl"  # in a data folder: the lock file its init wrote, where none is committed


@dataclass
class Workspace:
    """Binds a GitopsConfig to a TerraformRunner and a plan store; stages take one of these."""

    config: GitopsConfig
    log: Callable[[str], None] | None = None
    runner: TerraformRunner | None = None
    _store: Any = field(default=None, repr=False)
    plan_key: bytes | None = field(default=None, repr=False)  # None: the development key file
    home_root: Path | None = None  # the repository's own checkout (config.root may be a commit's checkout)

    def __post_init__(self) -> None:
        if self.runner is None:
            tf = self.config.terraform
            self.runner = TerraformRunner(binary=tf.binary, provider_mirror=tf.provider_mirror or None, log=self.log,
                                          redactor=Redactor(self._all_secrets()), pass_env=tuple(tf.pass_env),
                                          git_config=tf.git_config or None)

    def _all_secrets(self) -> list[str]:
        """Every target's credential values, plan credentials included, masked in whatever any stage prints."""
        values: list[str] = []
        for settings in [*self.config.environments, self.config.ephemeral]:
            values += settings.secret_values()
        return values

    @property
    def store(self):
        """The plan store named by plan_store.url (opened on first use)."""
        if self._store is None:
            from gitops_pipelines.core.plan_store import open_plan_store

            self._store = open_plan_store(self.config.plan_store.url, self.config.root, key=self.plan_key,
                                          warn=self.log or (lambda m: None))
        return self._store

    # -- folders -------------------------------------------------------------------------------------------------
    def unit_dir(self, unit: UnitConfig) -> Path:
        return self.config.unit_dir(unit)

    def data_dir(self, unit: UnitConfig, target: str) -> Path:
        """Terraform's data folder per unit and target, so test and prod initialise side by side and are reused."""
        path = self.config.root / ".gitops" / "work" / unit.name / target
        path.mkdir(parents=True, exist_ok=True)
        return path

    def work_root(self) -> Path:
        """Where initialised data folders are kept for reuse: the repository's own `.gitops/work`, shared by
        every commit's checkout (the checkouts live under it, so one commit's init serves the next)."""
        return (self.home_root or self.config.root) / ".gitops" / "work"

    def initialised(self, unit: UnitConfig, unit_dir: Path, target: str, *, backend: bool = True,
                    backend_config: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None) -> Path:
        """A data folder initialised for the unit at unit_dir against `target`'s backend (or none), returned.

        The folder is named by what `init` depends on (core/changes/init_inputs.py: providers, module calls,
        backend, lock file; plus Terraform, its CLI config and the backend config), so any commit that asks the
        same of init reuses it and `init` runs only for a new combination. Where the repository commits no lock
        file, the one init wrote is kept with the folder and put back beside the code, as init would write it."""
        key = self._init_key(unit, unit_dir, backend, backend_config)
        if key is None:  # not readable (validate reports it) or a copy of the code: a folder of its own, afresh
            data_dir = self.data_dir(unit, target)
            self.runner.init(unit_dir, data_dir=data_dir, backend=backend, backend_config=backend_config, env=env)
            return data_dir
        data_dir = self.work_root() / unit.name / target / key[:24]
        from gitops_pipelines.core.checkout import exclusive

        with exclusive(data_dir.with_name(f"{data_dir.name}.lock"), 600.0, f"the init of {unit.name} ({target})"):
            if (data_dir / INIT_STAMP).is_file():
                os.utime(data_dir / INIT_STAMP)  # used now: kept by prune_unused_folders
                self._restore_lock_file(unit_dir, data_dir)
                if self.log is not None:
                    self.log(f"{unit.name}: terraform init not repeated: {data_dir} is initialised for the same "
                             "providers, modules, backend and lock file")
                return data_dir
            committed = (unit_dir / LOCK_FILE).is_file()
            _remove(data_dir)  # what a killed init left behind, or an alias of a folder deleted since
            data_dir.mkdir(parents=True)
            self.runner.init(unit_dir, data_dir=data_dir, backend=backend, backend_config=backend_config, env=env)
            if not committed and (unit_dir / LOCK_FILE).is_file():
                shutil.copyfile(unit_dir / LOCK_FILE, data_dir / INIT_LOCK_FILE)
            (data_dir / INIT_STAMP).write_text(key)  # last: a folder without it is initialised again
        after = self._init_key(unit, unit_dir, backend, backend_config)
        if after is not None and after != key:  # init wrote the lock file: the same folder serves it from now on
            alias = data_dir.with_name(after[:24])
            if not alias.exists():
                tmp = data_dir.with_name(f"{alias.name}.{os.getpid()}.{threading.get_ident()}")
                tmp.symlink_to(data_dir.name)
                tmp.replace(alias)
        prune_unused_folders(data_dir.parent, keep=data_dir)
        return data_dir

    @staticmethod
    def _restore_lock_file(unit_dir: Path, data_dir: Path) -> None:
        written = data_dir / INIT_LOCK_FILE
        if written.is_file() and not (unit_dir / LOCK_FILE).is_file():
            tmp = unit_dir / f"{LOCK_FILE}.{os.getpid()}.{threading.get_ident()}"
            shutil.copyfile(written, tmp)
            tmp.replace(unit_dir / LOCK_FILE)

    def _init_key(self, unit: UnitConfig, unit_dir: Path, backend: bool,
                  backend_config: Mapping[str, Any] | None) -> str | None:
        """What `init` depends on, hashed; None (never reused) when the unit's code cannot be read or unit_dir is
        not the unit's folder of this checkout."""
        if unit_dir.resolve() != self.unit_dir(unit).resolve():
            return None
        from gitops_pipelines.core.changes.init_inputs import InitInputsUnknown, init_inputs_hash

        try:
            inputs = init_inputs_hash(self.config, unit, self.config.root)
        except (InitInputsUnknown, OSError):
            return None
        # Terraform records local modules relative to the code and remote ones by absolute path in the folder,
        # so a commit's checkout anywhere can use a folder another checkout initialised
        facts = [self.runner.version(), str(self.runner.cli_config()), unit.path, backend,
                 sorted((k, str(v)) for k, v in (backend_config or {}).items()), inputs]
        return hashlib.sha256(json.dumps(facts).encode()).hexdigest()

    def project_environment(self, unit: UnitConfig, env_name: str) -> EnvironmentConfig:
        """The environment, checked to be one this unit deploys to."""
        env = self.config.environment(env_name)
        allowed = [e.name for e in self.config.unit_environments(unit)]
        if env_name not in allowed:
            kind = "a module is never deployed" if unit.kind == "module" else f"it deploys to {', '.join(allowed)}"
            raise ConfigError(f"unit {unit.name!r} has no environment {env_name!r}: {kind}",
                              file=self.config.source, field="units")
        return env

    def backend_config(self, unit: UnitConfig, env: EnvironmentConfig) -> dict[str, Any]:
        config: dict[str, Any] = dict(env.backend_config)
        if env.backend_config and "key" not in config and "path" not in config and "conn_str" not in config:
            config["key"] = f"{unit.name}/terraform.tfstate"
        return config

    @contextmanager
    def var_files(self, unit_dir: Path, settings: RunSettings,
                  extra: Mapping[str, Any] | None = None) -> Iterator[list[str]]:
        """The target's var files, plus its variables written to a temporary JSON var file."""
        files = [str((unit_dir / f).resolve()) for f in settings.var_files]
        for f in files:
            if not Path(f).is_file():
                raise ConfigError(f"var file {f} does not exist", file=self.config.source, field="var_files")
        variables = {**settings.variables, **(extra or {})}
        if not variables:
            yield files
            return
        with tempfile.NamedTemporaryFile("w", suffix=".tfvars.json", delete=True) as tmp:
            json.dump(variables, tmp)
            tmp.flush()
            yield [*files, tmp.name]


KEEP_UNUSED_DAYS = 14  # an initialised folder no check has used for this long is deleted when a new one is made


def prune_unused_folders(parent: Path, *, keep: Path, days: float = KEEP_UNUSED_DAYS) -> list[Path]:
    """Delete the initialised folders in `parent` (one unit and target) that no stage used for `days`, and aliases
    of folders gone; never `keep`, and never one a stage holds the lock of (it is being made or reused right now).
    Returns what was deleted."""
    from gitops_pipelines.core.checkout import CheckoutFailed, exclusive

    cutoff, deleted = time.time() - days * 86400, []
    for entry in sorted(parent.iterdir()):
        if entry.name == keep.name or "." in entry.name:  # lock files and half-made aliases
            continue
        if entry.is_symlink():
            if not entry.exists():
                entry.unlink(missing_ok=True)
                deleted.append(entry)
            continue
        try:
            with exclusive(entry.with_name(f"{entry.name}.lock"), 0.0, f"the init folder {entry}"):
                stamp = entry / INIT_STAMP
                used = (stamp if stamp.is_file() else entry).stat().st_mtime
                if used < cutoff:
                    _remove(entry)
                    deleted.append(entry)
        except (CheckoutFailed, OSError):  # in use, or gone already
            continue
    return deleted


def _remove(path: Path) -> None:
    if path.is_symlink():
        path.unlink(missing_ok=True)
    elif path.exists():
        shutil.rmtree(path, ignore_errors=True)


def open_workspace(config_path: str | Path, *, plan_key: str | None = None, plan_store_url: str | None = None,
                   log: Callable[[str], None] | None = None, commit: str | None = None,
                   rules_commit: str | None = None) -> Workspace:
    """A Workspace for gitops.yaml; plan_key is the GITOPS_PLAN_KEY value (None: the development key file).

    With `commit`, the units' code is that commit's; the rules (every other setting, and the policy files) are
    those of `rules_commit` (the tip of main), else of gitops.yaml as it is at config_path, never the commit's own
    (core/rules.py). The plan store stays where the repository's own gitops.yaml says, so every commit's plans
    land in one store."""
    from gitops_pipelines.core.checkout import at_commit
    from gitops_pipelines.core.config import load_config
    from gitops_pipelines.core.plan_store import open_plan_store
    from gitops_pipelines.core.plan_store.keys import key_from_setting
    from gitops_pipelines.core.rules import judged_config

    home = load_config(config_path)
    key = key_from_setting(plan_key.strip()) if plan_key and plan_key.strip() else None
    if not commit and not plan_store_url:  # the store opens on first use: `config check` writes no key file
        return Workspace(home, log=log, plan_key=key, home_root=home.root)
    rules = load_config(at_commit(Path(config_path), rules_commit)) if rules_commit else home
    config = judged_config(rules, at_commit(Path(config_path), commit)) if commit else rules
    store = open_plan_store(plan_store_url or home.plan_store.url, home.root, key=key,
                            warn=log or (lambda message: None))
    return Workspace(config, log=log, _store=store, home_root=home.root)
