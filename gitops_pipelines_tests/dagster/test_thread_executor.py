"""The thread executor pr_checks and drift run on (defs/threads.py), on a real Dagster instance: steps run side by
side up to max_concurrent in the run's own process, a failing step fails the run without stopping the others,
pools still bound steps, and the run log shows each step's events."""


import os
import threading
import time

import dagster as dg

from gitops_pipelines.defs.threads import side_by_side_threads

HOLD_S = 0.6
_now: dict[str, int] = {"running": 0, "most": 0}
_lock = threading.Lock()


def _step(name: str, *, fail: bool = False, pool: str | None = None) -> dg.AssetsDefinition:
    @dg.asset(name=name, pool=pool)
    def _asset(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        with _lock:
            _now["running"] += 1
            _now["most"] = max(_now["most"], _now["running"])
        try:
            context.log.info(f"{name} working in pid {os.getpid()}")
            time.sleep(HOLD_S)
            if fail:
                raise dg.Failure(description=f"{name} failed on purpose")
            return dg.MaterializeResult(metadata={"pid": os.getpid()})
        finally:
            with _lock:
                _now["running"] -= 1

    return _asset


ASSETS = [_step(f"unit_{i}") for i in range(4)]


def _job_for_test():
    job = dg.define_asset_job("checks", executor_def=side_by_side_threads)
    return dg.Definitions(assets=[*ASSETS, _step("broken", fail=True)], jobs=[job]).resolve_job_def("checks")


def test_steps_run_side_by_side_in_the_run_process_up_to_the_limit():
    with dg.instance_for_test() as instance:
        with dg.execute_job(dg.reconstructable(_job_for_test), instance=instance,
                            run_config={"execution": {"config": {"max_concurrent": 2}}},
                            asset_selection=[a.key for a in ASSETS]) as result:
            assert result.success
            pids = {m.metadata["pid"].value for m in (e.materialization for e in result.get_asset_materialization_events())}
        assert pids == {os.getpid()}, "no step process: every step ran in the run's own process"
        assert _now["most"] == 2, "four steps, at most two at once"


def test_a_failing_step_fails_the_run_and_the_others_still_materialize():
    with dg.instance_for_test() as instance:
        _now.update(running=0, most=0)
        with dg.execute_job(dg.reconstructable(_job_for_test), instance=instance,
                            run_config={"execution": {"config": {"max_concurrent": 5}}}) as result:
            assert not result.success
            failures = result.get_step_failure_events()
            failed = [e.step_key for e in failures]
            why = failures[0].step_failure_data.user_failure_data.description
            done = {e.asset_key.path[-1] for e in result.get_asset_materialization_events()}
        assert failed == ["broken"] and done == {f"unit_{i}" for i in range(4)}
        assert _now["most"] == 5, "all five at once"
        assert why == "broken failed on purpose"
        logs = [e.user_message for e in instance.all_logs(result.run_id)]
        assert any(f"unit_3 working in pid {os.getpid()}" in m for m in logs), "each step's log reaches the run log"
