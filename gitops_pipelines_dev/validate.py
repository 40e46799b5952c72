"""`make validate`: `dagster definitions validate` on the sample gitops.yaml, the way CI checks that the code
location loads. Every `${VAR}` the sample reads gets a placeholder; nothing is started or contacted."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from gitops_pipelines_dev.checkout import CHECKOUT_ROOT, python_env
from gitops_pipelines_dev.infra import SAMPLE

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def main() -> int:
    config = SAMPLE / "gitops.yaml"
    placeholders = {name: "http://127.0.0.1:1" if name.endswith("ENDPOINT") else "placeholder"
                    for name in _VAR.findall(config.read_text())}
    with tempfile.TemporaryDirectory(prefix="gitops-validate-") as home:
        env = python_env({**os.environ, **placeholders, "GITOPS_CONFIG": str(config), "DAGSTER_HOME": home})
        Path(home, "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        proc = subprocess.run([sys.executable, "-m", "dagster", "definitions", "validate", "-w",
                               str(CHECKOUT_ROOT / "workspace.yaml")], cwd=CHECKOUT_ROOT, env=env)
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
