"""Whether a run's worker is alive (gitops_pipelines/run_launcher.py), on real processes: what run monitoring asks
before it marks a run failed whose worker died with the daemon."""

from __future__ import annotations

import subprocess
import sys
import time

from gitops_pipelines.run_launcher import worker_alive

def _sleeper(*argv: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", "import time; print(flush=True); time.sleep(60)", *argv],
                            stdout=subprocess.PIPE)
    proc.stdout.readline()  # it runs: past exec, its command line is its own
    return proc


def test_a_running_worker_is_alive_and_a_dead_one_is_not():
    worker = _sleeper()
    started = time.time()  # the run's start, recorded by the worker after it began
    try:
        assert worker_alive(worker.pid, started)
    finally:
        worker.kill()
        worker.wait()
    assert not worker_alive(worker.pid, started), "its pid names no process any more"


def test_a_pid_reused_by_a_newer_process_is_not_the_worker():
    newer = _sleeper()
    try:
        assert not worker_alive(newer.pid, time.time() - 60), "started after the run did: not its worker"
    finally:
        newer.kill()
        newer.wait()


def test_a_zombie_is_not_alive():
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    started = time.time()
    deadline = time.monotonic() + 10
    while "Z" not in open(f"/proc/{zombie.pid}/stat").read().split(")")[-1][:3] and time.monotonic() < deadline:
        time.sleep(0.05)  # exited, not yet reaped: a zombie
    try:
        assert not worker_alive(zombie.pid, started)
    finally:
        zombie.wait()
