"""`gitops-pipelines policy test`: the repository's Rego unit tests run like `opa test` does. Every rule whose name
starts with `test_` in a package of the policy folder (usually in `*_test.rego` beside the policy it tests) must be
true; one that is false or undefined fails, and so does a file that does not compile."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from gitops_pipelines.core.errors import ConfigError
from gitops_pipelines.core.policy.rego import policy_data

_PACKAGE = re.compile(r"^\s*package\s+([\w.]+)", re.MULTILINE)
_TEST = re.compile(r"^(test_\w+)\b", re.MULTILINE)


@dataclass(frozen=True)
class PolicyTest:
    name: str  # data.<package>.<test>
    passed: bool
    detail: str = ""


def run_policy_tests(folder: Path) -> list[PolicyTest]:
    """Every `test_` rule of the folder's Rego files, evaluated with the folder's data files. Each test runs in a
    process of its own: regopy 1.5.2 crashes (SIGSEGV) on some tests that use `with input as` together with a
    builtin such as concat or sprintf, and such a crash is one failed test, not the end of the run."""
    files = sorted(folder.rglob("*.rego"))
    if not files:
        raise ConfigError(f"no Rego files under {folder}: write policies (and their *_test.rego tests) there",
                          file=str(folder))
    tests: list[str] = []
    for file in files:
        source = file.read_text(encoding="utf-8")
        package = _PACKAGE.search(source)
        if package:
            tests += [f"data.{package.group(1)}.{name}" for name in _TEST.findall(source)]
    return [_in_own_process(folder, name) for name in dict.fromkeys(tests)]


def _in_own_process(folder: Path, name: str) -> PolicyTest:
    proc = subprocess.run([sys.executable, "-m", __name__, str(folder), name], capture_output=True, text=True,
                          timeout=300)
    last = proc.stdout.strip().splitlines()[-1:] if proc.stdout.strip() else []
    if proc.returncode == 0 and last:
        found = json.loads(last[0])
        return PolicyTest(name, bool(found["passed"]), found["detail"])
    why = f"signal {-proc.returncode}" if proc.returncode < 0 else f"exit {proc.returncode}"
    return PolicyTest(name, False, f"the Rego engine (regopy) crashed evaluating it ({why}): regopy 1.5.2 does on "
                                   "`with input as` around a rule that calls a builtin (concat, sprintf); "
                                   f"opa test runs it. {proc.stderr.strip()[-200:]}".rstrip())


def evaluate_test(folder: Path, name: str) -> PolicyTest:
    """One test rule: true passes; false, undefined or an error fails."""
    try:
        from regopy import Interpreter, RegoError
    except ImportError:
        raise ConfigError("Rego policies need the regopy package: pip install regopy", file=str(folder)) from None
    rego = Interpreter()
    for file in sorted(folder.rglob("*.rego")):
        rego.add_module(str(file.relative_to(folder)), file.read_text(encoding="utf-8"))
    rego.add_data_json(json.dumps(policy_data(folder)))
    try:
        output = rego.query(name)
    except RegoError as exc:
        return PolicyTest(name, False, str(exc).strip().splitlines()[0][:300])
    text = str(output)
    value = json.loads(text).get("expressions", [None])[0] if output.ok() and text != "undefined" else None
    return PolicyTest(name, value is True, "" if value is True else f"got {json.dumps(value)}")


if __name__ == "__main__":  # one test, in its own process (see run_policy_tests)
    result = evaluate_test(Path(sys.argv[1]), sys.argv[2])
    print(json.dumps({"passed": result.passed, "detail": result.detail}))
