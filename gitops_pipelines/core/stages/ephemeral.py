"""ephemeral_test(unit): deploy into a throwaway sandbox, check, and always destroy; anything left is a leak."""

from __future__ import annotations

import re
import secrets
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from gitops_pipelines.core.config import UnitConfig
from gitops_pipelines.core.errors import GitopsError, StageFailed
from gitops_pipelines.core.workspace import Workspace
from gitops_pipelines.core.security import check_code

OVERRIDE_FILE = "_gitops_override.tf"
_COPY_IGNORE = shutil.ignore_patterns(".git", ".gitops", ".terraform", ".terraform-*", "*.tfstate*", "__pycache__")


class EphemeralStep(BaseModel):
    name: str  # test, apply, check, destroy, leak-check (with the example or folder it ran in)
    passed: bool
    detail: str = ""


class EphemeralResult(BaseModel):
    unit: str
    passed: bool
    suffix: str
    steps: list[EphemeralStep]
    outputs: dict = {}
    leaked: list[str] = []

    def summary(self) -> str:
        if self.passed:
            return f"{self.unit}: ephemeral test passed ({', '.join(s.name for s in self.steps)})"
        failed = [f"{s.name}: {s.detail}" for s in self.steps if not s.passed]
        leak = f"; LEAKED (destroy by hand): {', '.join(self.leaked)}" if self.leaked else ""
        return f"{self.unit}: ephemeral test failed: " + "; ".join(failed) + leak


def ephemeral_test(ws: Workspace, unit: UnitConfig) -> EphemeralResult:
    """Modules: `terraform test` if tests/*.tftest.hcl exist, else apply+destroy each examples/*.
    Projects: apply into a sandbox with local state and a unique suffix, check outputs, always destroy."""
    check_code(ws.config, unit)  # before anything of the change runs, even in the sandbox
    suffix = "-e" + secrets.token_hex(3)
    result = EphemeralResult(unit=unit.name, passed=False, suffix=suffix, steps=[])
    steps = result.steps  # the stages below append to the result's own list
    with tempfile.TemporaryDirectory(prefix=f"gitops-ephemeral-{unit.name}-") as tmp:
        # A copy of the whole repository keeps relative module sources working and the real folder untouched.
        root = Path(tmp) / "repo"
        shutil.copytree(ws.config.root, root, ignore=_COPY_IGNORE, symlinks=True)
        unit_dir = root / unit.path
        tests = sorted((unit_dir / "tests").glob("*.tftest.hcl"))
        if unit.kind == "module" and tests:
            _run_tests(ws, unit_dir, Path(tmp), steps, "test")
        elif unit.kind == "module":
            examples = sorted(p for p in (unit_dir / "examples").glob("*") if p.is_dir())
            if not examples:
                steps.append(EphemeralStep(name="test", passed=False, detail=(
                    "module has neither tests/*.tftest.hcl nor examples/*: add one so it can be tested")))
            for example in examples:
                _deploy_and_destroy(ws, unit, example, Path(tmp) / example.name, suffix, steps, result,
                                    label=f"examples/{example.name}")
        else:
            _deploy_and_destroy(ws, unit, unit_dir, Path(tmp) / "project", suffix, steps, result, label="",
                                after_apply=lambda: _run_tests(ws, unit_dir, Path(tmp), steps, "test") if tests else None)
    result.passed = bool(steps) and all(s.passed for s in steps) and not result.leaked
    return result


def _run_tests(ws: Workspace, unit_dir: Path, tmp: Path, steps: list[EphemeralStep], name: str) -> None:
    data_dir = tmp / "tfdata-test"
    env = ws.config.ephemeral.process_env()
    try:
        ws.runner.init(unit_dir, data_dir=data_dir, backend=False, env=env)
        result = ws.runner.test(unit_dir, data_dir=data_dir, env=env, junit_xml=tmp / "junit.xml")
    except GitopsError as exc:
        steps.append(EphemeralStep(name=name, passed=False, detail=str(exc)))
        return
    passed = result.returncode == 0
    tail = [line for line in result.stdout.splitlines() if line.strip()][-1:] or [""]
    steps.append(EphemeralStep(name=name, passed=passed, detail=ws.runner.redactor(tail[0].strip())))


def _deploy_and_destroy(ws: Workspace, unit: UnitConfig, workdir: Path, tmp: Path, suffix: str,
                        steps: list[EphemeralStep], result: EphemeralResult, label: str,
                        after_apply: Callable[[], None] | None = None) -> None:
    tmp.mkdir(parents=True, exist_ok=True)
    settings = ws.config.ephemeral
    env = settings.process_env()
    data_dir = tmp / "tfdata"
    prefix = f"{label} " if label else ""
    (workdir / OVERRIDE_FILE).write_text(
        'terraform {\n  backend "local" {\n    path = "%s"\n  }\n}\n' % (tmp / "ephemeral.tfstate"))
    extra = {settings.suffix_var: suffix} if _declares_variable(workdir, settings.suffix_var) else {}
    with ws.var_files(workdir, settings, extra) as var_files:
        try:
            ws.runner.init(workdir, data_dir=data_dir, env=env)
            ws.runner.apply_auto(workdir, data_dir=data_dir, env=env, var_files=var_files)
            steps.append(EphemeralStep(name=f"{prefix}apply", passed=True))
            outputs = ws.runner.outputs(workdir, data_dir=data_dir, env=env)
            result.outputs = {k: "(sensitive value)" if v.get("sensitive") else v.get("value") for k, v in outputs.items()}
            missing = [name for name in unit.expect_outputs if result.outputs.get(name) in (None, "", [], {})]
            steps.append(EphemeralStep(name=f"{prefix}check", passed=not missing, detail=(
                f"expected outputs missing or empty: {', '.join(missing)}" if missing else
                f"{len(result.outputs)} output(s) present")))
            if after_apply is not None:
                after_apply()
        except GitopsError as exc:
            steps.append(EphemeralStep(name=f"{prefix}apply", passed=False, detail=str(exc)))
        finally:
            _destroy(ws, workdir, data_dir, env, var_files, steps, result, prefix)


def _destroy(ws, workdir, data_dir, env, var_files, steps, result, prefix) -> None:
    """Destroy even after a failure; then the state must be empty, else the leftovers are reported as leaked."""
    try:
        ws.runner.destroy(workdir, data_dir=data_dir, env=env, var_files=var_files)
        steps.append(EphemeralStep(name=f"{prefix}destroy", passed=True))
    except GitopsError as exc:
        steps.append(EphemeralStep(name=f"{prefix}destroy", passed=False, detail=str(exc)))
    try:
        left = ws.runner.state_list(workdir, data_dir=data_dir, env=env)
    except StageFailed as exc:
        steps.append(EphemeralStep(name=f"{prefix}leak-check", passed=False, detail=f"could not read state: {exc}"))
        return
    left = [a for a in left if not a.startswith("data.") and ".data." not in a]
    result.leaked.extend(left)
    steps.append(EphemeralStep(name=f"{prefix}leak-check", passed=not left,
                               detail=f"left behind: {', '.join(left)}" if left else "state is empty"))


def _declares_variable(folder: Path, name: str) -> bool:
    pattern = re.compile(r'^\s*variable\s+"%s"' % re.escape(name), re.MULTILINE)
    return any(pattern.search(f.read_text(errors="replace")) for f in folder.glob("*.tf"))
