"""The product's wheel ships the product only (no GitHub emulator, no dev services, no tests), and the product's
code never imports the packages that are used only from the checkout."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parents[2]
PRODUCT = CHECKOUT / "gitops_pipelines"
CHECKOUT_ONLY = ("gitops_pipelines_dev", "gitops_pipelines_tests")
CHECKOUT_ONLY_MODULE = re.compile(rf"^({'|'.join(CHECKOUT_ONLY)})(\.\w+)*$")
# Not copied for the build: setuptools' build/ would carry files of earlier builds into the wheel.
NOT_SOURCE = {".git", ".venv", "build", "dist", ".run", ".gitops", ".dagster_home", "__pycache__", ".terraform"}


def _ignore(folder: str, names: list[str]) -> set[str]:
    return {n for n in names if n in NOT_SOURCE or n.endswith(".egg-info")}


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory) -> list[str]:
    """Every file name in the wheel setup.py builds, from a clean copy of the checkout (the checkout is not touched)."""
    root = tmp_path_factory.mktemp("packaging")
    source, dist = root / "source", root / "dist"
    shutil.copytree(CHECKOUT, source, ignore=_ignore)
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--disable-pip-version-check",
         "-q", "-w", str(dist), str(source)],
        capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, f"pip wheel failed:\n{proc.stdout}\n{proc.stderr}"
    (wheel,) = dist.glob("gitops_pipelines-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


def test_wheel_ships_the_product(wheel_names):
    assert "gitops_pipelines/definitions.py" in wheel_names
    assert "gitops_pipelines/core/__init__.py" in wheel_names
    assert any(n.startswith("gitops_pipelines/core/plan_store/") for n in wheel_names)
    assert any(n.startswith("gitops_pipelines/webhooks/") for n in wheel_names)
    # the default policy pack is data the evaluation loads at run time: an installed product must carry it
    bundled = {f"gitops_pipelines/core/policy/rules/{p.name}" for p in (PRODUCT / "core/policy/rules").glob("*.rego")}
    assert bundled and bundled <= set(wheel_names)


def test_wheel_ships_no_dev_tooling_and_no_tests(wheel_names):
    top_level = {n.split("/")[0] for n in wheel_names if not n.split("/")[0].endswith(".dist-info")}
    assert top_level == {"gitops_pipelines"}
    leaked = [n for n in wheel_names if "github_emulator" in n or "sample_infra" in n or "contract.py" in n]
    assert not leaked, f"dev tooling in the product's wheel: {leaked}"


def _checkout_only_uses(path: Path, root: Path = CHECKOUT) -> list[str]:
    """Imports of (and module paths to, e.g. for `python -m`) the checkout-only packages in one source file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names = [node.value]
        else:
            continue
        found += [f"{path.relative_to(root)}:{node.lineno}: {name}" for name in names
                  if CHECKOUT_ONLY_MODULE.match(name)]
    return found


def test_the_product_never_imports_dev_tooling_or_tests():
    sources = sorted(PRODUCT.rglob("*.py"))
    assert len(sources) > 20, f"found only {len(sources)} sources under {PRODUCT}"
    uses = [use for path in sources for use in _checkout_only_uses(path)]
    assert not uses, "the shipped package uses packages that exist only in the checkout:\n" + "\n".join(uses)


def test_the_scan_sees_each_kind_of_use(tmp_path):
    """Guards the scan above against finding nothing because it looks for the wrong thing."""
    sample = tmp_path / "sample.py"
    sample.write_text('"""Mentions gitops_pipelines_dev in prose, which is fine."""\n'
                      "import gitops_pipelines_dev.moto\nfrom gitops_pipelines_tests.fixtures import infra_repo\n"
                      "CMD = ['python', '-m', 'gitops_pipelines_dev.github_emulator']\n")
    assert [use.split(": ")[1] for use in _checkout_only_uses(sample, tmp_path)] == [
        "gitops_pipelines_dev.moto", "gitops_pipelines_tests.fixtures", "gitops_pipelines_dev.github_emulator"]
