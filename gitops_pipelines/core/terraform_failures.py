"""What a failed Terraform command means for the person reading it: a stale plan, a held lock (with who holds
it and the exact command that releases it), an unreachable cloud, and what the failure left behind (a lock it
could not release, a state saved to errored.tfstate), each named with the command that recovers it."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from gitops_pipelines.core.errors import LockHeld, PlanStale, StageFailed

_LOCK_ERROR = re.compile(r"Error acquiring the state lock|Error locking state|PreconditionFailed|StatusCode: 412")
_STALE = "Saved plan is stale"
_LOCK_INFO = re.compile(r"^\s*(ID|Operation|Who|Created):[ \t]*(\S.*?)\s*$", re.MULTILINE)
_UNRELEASED = "Error releasing the state lock"
_ERRORED_STATE = "errored.tfstate"  # where Terraform saves a new state the backend did not take
_UNREACHABLE = re.compile(r"connection refused|dial tcp|no such host|timeout awaiting|i/o timeout", re.IGNORECASE)
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def failure(output: str, returncode: int, command: str, what: str, redactor: Callable[[str], str], *,
            workdir: Path | None = None, data_dir: Path | None = None) -> Exception:
    """The exception for `terraform <command>` that exited `returncode` printing `output` (what: its label)."""
    text = ANSI.sub("", output)
    summary = _first_error(text) or f"terraform {command} exited with code {returncode}"
    label = what or f"terraform {command}"
    if _STALE in text:
        return PlanStale(f"{label}: the saved plan is stale (the state changed after it was made); "
                         "make a new plan and review it again")
    if _LOCK_ERROR.search(text) and _UNRELEASED not in text:
        return LockHeld(f"{label}: {_lock_held(text, workdir, data_dir)} {summary}", output=redactor(text))
    if _UNREACHABLE.search(text):
        message = (f"{label}: the cloud API or state backend could not be reached; check the environment's "
                   f"endpoint and network. {summary}")
    else:
        message = f"{label} failed: {summary}"
    return StageFailed(message + _left_behind(text, workdir, data_dir), output=redactor(text))


def error_blocks(output: str) -> str:
    """Terraform's diagnostics from its first `Error:` on, as it printed them (colour codes dropped): what a person
    needs to fix the code, beyond the one-line summary. Empty when the output holds no error."""
    lines = ANSI.sub("", output).splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip(" │╷╵").startswith("Error:")), None)
    if start is None:
        return ""
    while start > 0 and lines[start - 1].strip().startswith("╷"):
        start -= 1
    return "\n".join(lines[start:]).strip("\n")


def _by_hand(command: str, workdir: Path | None, data_dir: Path | None) -> str:
    """A command for a person, in the folder (and data folder) this runner initialised for the backend."""
    if data_dir is not None:
        command = f"TF_DATA_DIR={data_dir} {command}"
    return f"`{command}`" + (f" in {workdir}" if workdir is not None else "")


def _unlock_command(lock_id: str, workdir: Path | None, data_dir: Path | None) -> str:
    return _by_hand(f"terraform force-unlock -force {lock_id}", workdir, data_dir)


def _lock_held(text: str, workdir: Path | None, data_dir: Path | None) -> str:
    """Who holds the lock (Terraform's `Lock Info`), and how to release it when that run is dead."""
    info = dict(_LOCK_INFO.findall(text.split("Lock Info:", 1)[1])) if "Lock Info:" in text else {}
    lock_id = info.get("ID")
    if lock_id is None:
        return ("the state is locked by another run; wait for it to finish, or, if it died, release the lock with "
                "`terraform force-unlock` and the lock ID below.")
    holder = "".join(f", {what} {info[key]}" for key, what in (("Operation", "for"), ("Who", "by"),
                                                               ("Created", "since")) if key in info)
    return (f"the state is locked by another run (lock ID {lock_id}{holder}). If a run is still applying, "
            "wait for it to finish. If the run that took the lock died (it failed or was terminated without "
            f"finishing), release the lock with {_unlock_command(lock_id, workdir, data_dir)}, using the "
            "environment's deploy credentials, then re-execute.")


def _left_behind(text: str, workdir: Path | None, data_dir: Path | None) -> str:
    """What a failed command left for a person to recover: a state lock it could not release, a state it saved
    to a local file because the backend would not take it."""
    notes = []
    if _ERRORED_STATE in text:
        where = workdir / _ERRORED_STATE if workdir is not None else _ERRORED_STATE
        push = _by_hand(f"terraform state push {_ERRORED_STATE}", workdir, data_dir)
        notes.append(f"Terraform could not write the new state to the backend and saved it as {where}: once the "
                     f"backend answers, push it with {push} before anything applies again, or the resources it "
                     "created are unknown to Terraform.")
    if _UNRELEASED in text:
        notes.append("The state lock could not be released and may still be held: once the backend answers, the "
                     "next run names its lock ID; if no run is applying, release it with "
                     f"{_unlock_command('<lock ID>', workdir, data_dir)}.")
    return "".join(" " + note for note in notes)


def _first_error(text: str) -> str:
    """The first `Error: ...` line of Terraform output and the line after it, for a one-line summary."""
    lines = [line.strip(" │╷╵") .strip() for line in text.splitlines()]
    for i, line in enumerate(lines):
        if line.startswith("Error:"):
            rest = next((l for l in lines[i + 1:] if l), "")
            return f"{line} {rest}".strip()
    return ""
