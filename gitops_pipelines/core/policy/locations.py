"""Where a resource is declared: the `.tf` file and line of the `resource` block behind a plan address, so a policy
violation becomes a check-run annotation at that line. Resources inside local modules are followed through their
`module` blocks (`module.artifacts.aws_s3_bucket.this` -> the bucket module's file); instance keys (`[0]`,
`["a"]`) and data sources are matched by their block. Module calls are read with python-hcl2 (as change detection
does); the line of a block is the line its header starts on."""

from __future__ import annotations

import re
from pathlib import Path

from gitops_pipelines.core.changes.detection import (is_local_source, module_blocks, parse_terraform_file,
                                                     resolve_local_source, terraform_files)

_BLOCK = re.compile(r'^[ \t]*(resource|data)\s+"([^"]+)"\s+"([^"]+)"', re.MULTILINE)
_KEY = re.compile(r'\[(?:"(?:[^"\\]|\\.)*"|[^\]]*)\]')
_MAX_DEPTH = 10


def declaration_sites(unit_dir: Path, repo_root: Path) -> dict[str, tuple[str, int]]:
    """`[module.<name>.]*<type>.<name>` (and `data.<type>.<name>`) -> (path from the repository root, line)."""
    sites: dict[str, tuple[str, int]] = {}
    _collect(unit_dir.resolve(), repo_root.resolve(), "", sites, 0)
    return sites


def locate(address: str, sites: dict[str, tuple[str, int]]) -> tuple[str, int] | None:
    """The declaration of one plan address, None when it is not declared in this checkout (a remote module)."""
    return sites.get(_KEY.sub("", address))


def _collect(folder: Path, root: Path, prefix: str, sites: dict[str, tuple[str, int]], depth: int) -> None:
    if depth > _MAX_DEPTH:
        return
    for file in terraform_files(folder):
        if file.name.endswith(".tf.json"):
            continue
        text = file.read_text(encoding="utf-8", errors="replace")
        try:
            relative = str(file.relative_to(root))
        except ValueError:
            continue
        for match in _BLOCK.finditer(text):
            kind, rtype, name = match.groups()
            line = text.count("\n", 0, match.start()) + 1
            address = f"{prefix}{'data.' if kind == 'data' else ''}{rtype}.{name}"
            sites.setdefault(address, (relative, line))
        try:
            calls = list(module_blocks(parse_terraform_file(file)))
        except Exception:  # noqa: BLE001 - a file the parser cannot read is the syntax stage's to report
            continue
        for label, body in calls:
            source = body.get("source")
            if isinstance(source, str) and is_local_source(source):
                _collect(resolve_local_source(folder, source), root, f"{prefix}module.{label}.", sites, depth + 1)
