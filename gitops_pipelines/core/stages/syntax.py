"""syntax(unit): formatting, initialisation without a backend, and validation, as file/line diagnostics."""

from __future__ import annotations

import re

from pydantic import BaseModel

from gitops_pipelines.core.config import UnitConfig
from gitops_pipelines.core.errors import StageFailed
from gitops_pipelines.core.workspace import Workspace
from gitops_pipelines.core.security import check_code

# `fmt -check -diff` prints each file name alone, then its diff (whose ---/+++ headers name the file too)
_FMT_FILE = re.compile(r"^[^\s+\-@].*\.(tf|tfvars|tftest\.hcl)$")


class Diagnostic(BaseModel):
    severity: str  # error | warning
    summary: str
    detail: str = ""
    file: str | None = None  # relative to the unit folder
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = ":".join(str(p) for p in (self.file, self.line, self.column) if p is not None)
        return f"{where + ': ' if where else ''}{self.severity}: {self.summary}"


class SyntaxResult(BaseModel):
    unit: str
    passed: bool
    unformatted: list[str]
    fmt_diff: str
    diagnostics: list[Diagnostic]

    def summary(self) -> str:
        if self.passed:
            return f"{self.unit}: formatted and valid"
        parts = []
        if self.unformatted:
            parts.append(f"{len(self.unformatted)} file(s) not formatted ({', '.join(self.unformatted)}): "
                         "run `terraform fmt -recursive`")
        errors = [d for d in self.diagnostics if d.severity == "error"]
        if errors:
            parts.append(f"{len(errors)} error(s): " + "; ".join(str(d) for d in errors[:5]))
        return f"{self.unit}: " + "; ".join(parts)


def syntax(ws: Workspace, unit: UnitConfig) -> SyntaxResult:
    """`fmt -check -diff -recursive`, `init -backend=false`, `validate -json`; never touches any cloud."""
    check_code(ws.config, unit, unreadable_ok=True)  # before `init` downloads and runs anything the change names
    unit_dir = ws.unit_dir(unit)
    fmt = ws.runner.fmt_check(unit_dir)
    unformatted = [line.strip() for line in fmt.stdout.splitlines() if _FMT_FILE.match(line.strip())]
    init_error = ""
    try:  # not repeated for code that asks the same of init (a re-run, or a change to resources only)
        data_dir = ws.initialised(unit, unit_dir, "syntax", backend=False)
    except StageFailed as exc:  # validate still reports parse errors with file and line
        init_error, data_dir = str(exc), ws.data_dir(unit, "syntax")
    report = ws.runner.validate_json(unit_dir, data_dir=data_dir)
    diagnostics = [_diagnostic(d) for d in report.get("diagnostics", [])]
    if init_error and not any(d.severity == "error" for d in diagnostics):
        diagnostics.append(Diagnostic(severity="error", summary=init_error))
    if fmt.returncode == 2 and not diagnostics:  # fmt could not parse a file that validate did not load
        diagnostics.append(Diagnostic(severity="error", summary=fmt.stderr.strip()[:500] or "terraform fmt failed"))
    passed = not unformatted and fmt.returncode == 0 and not any(d.severity == "error" for d in diagnostics)
    return SyntaxResult(unit=unit.name, passed=passed, unformatted=unformatted, fmt_diff=fmt.stdout,
                        diagnostics=diagnostics)


def _diagnostic(raw: dict) -> Diagnostic:
    rng = raw.get("range") or {}
    start = rng.get("start") or {}
    return Diagnostic(severity=raw.get("severity", "error"), summary=raw.get("summary", ""),
                      detail=raw.get("detail", ""), file=rng.get("filename"), line=start.get("line"),
                      column=start.get("column"))
