"""`side_by_side_threads`: the run's steps in one process, up to `max_concurrent` at once, each in a thread.

A PR check is mostly waiting on Terraform subprocesses, so its steps (syntax, ephemeral_test and the first plan of
every unit a change touches) need no process of their own: a step process costs a new interpreter or a fork server
that imports Dagster and the code location again, seconds per run (benchmarks/bench_dagster.py). Here the run
worker, which has loaded everything already, runs the steps as the in-process executor does (one set of resources,
one log capture for the run, the same event handling), except that up to `max_concurrent` run at once.

Dagster has no thread executor of its own (dagster-io/dagster#4041); this one drives the same ActiveExecution
the in-process and multiprocess executors use, so pools, retries, skips and hooks behave as there. Stopping a run
stops starting steps; running ones finish their current Terraform command (as in-process steps do).
"""

from __future__ import annotations

import os
import queue
import sys
import threading
from collections.abc import Iterator

import dagster as dg
from dagster._core.events import DagsterEvent, EngineEventData
from dagster._core.execution.api import ExecuteRunWithPlanIterable
from dagster._core.execution.context.system import PlanExecutionContext, PlanOrchestrationContext
from dagster._core.execution.context_creation_job import PlanExecutionContextManager
from dagster._core.execution.plan.execute_plan import (_handle_compute_log_setup_error,
                                                        _handle_compute_log_teardown_error, _trigger_hook,
                                                        dagster_event_sequence_for_step)
from dagster._core.execution.compute_logs import create_compute_log_file_key
from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext
from dagster._core.execution.plan.plan import ExecutionPlan
from dagster._core.execution.retries import RetryMode, get_retries_config
from dagster._core.execution.step_dependency_config import StepDependencyConfig
from dagster._core.executor.base import Executor

_DONE = object()  # a step's thread has nothing more to say
_POLL_S = 0.05


class ThreadExecutor(Executor):
    def __init__(self, retries: RetryMode, max_concurrent: int):
        self._retries = retries
        self._max_concurrent = max(1, max_concurrent)

    @property
    def retries(self) -> RetryMode:
        return self._retries

    @property
    def step_dependency_config(self) -> StepDependencyConfig:
        return StepDependencyConfig.default()

    def execute(self, plan_context: PlanOrchestrationContext, execution_plan: ExecutionPlan) -> Iterator[DagsterEvent]:
        steps = execution_plan.step_keys_to_execute
        yield DagsterEvent.engine_event(
            plan_context, f"Executing steps in process (pid: {os.getpid()}), up to {self._max_concurrent} at once "
                          "in threads", event_specific_data=EngineEventData.in_process(os.getpid(), steps))
        limit = self._max_concurrent
        yield from iter(ExecuteRunWithPlanIterable(
            execution_plan=plan_context.execution_plan,
            iterator=lambda job_context, execution_plan: _side_by_side(job_context, execution_plan, limit),
            execution_context_manager=PlanExecutionContextManager(
                job=plan_context.job, retry_mode=plan_context.retry_mode, execution_plan=plan_context.execution_plan,
                run_config=plan_context.run_config, dagster_run=plan_context.dagster_run,
                instance=plan_context.instance, raise_on_error=plan_context.raise_on_error,
                output_capture=plan_context.output_capture, step_dependency_config=self.step_dependency_config)))


def _side_by_side(job_context: PlanExecutionContext, execution_plan: ExecutionPlan,
                  limit: int) -> Iterator[DagsterEvent]:
    """inner_plan_execution_iterator (dagster/_core/execution/plan/execute_plan.py), with each step's event
    sequence produced by a thread and handled here, in the run's thread, in the order events arrive."""
    compute_logs = job_context.instance.compute_log_manager
    step_keys = [step.key for step in execution_plan.get_steps_to_execute_in_topo_order()]
    events: queue.Queue = queue.Queue()
    running: dict[str, tuple[object, list[DagsterEvent]]] = {}
    with InstanceConcurrencyContext(job_context.instance, job_context.dagster_run) as concurrency, \
            execution_plan.start(retry_mode=job_context.retry_mode, instance_concurrency_context=concurrency,
                                 step_dependency_config=job_context.step_dependency_config) as active:
        log_key = compute_logs.build_log_key_for_run(job_context.run_id, create_compute_log_file_key())
        capture = None
        try:
            capture = compute_logs.capture_logs(log_key)
            yield DagsterEvent.capture_logs(job_context, step_keys, log_key, capture.__enter__())
        except Exception:  # noqa: BLE001 - as Dagster's own iterator: the run goes on without captured stdout
            capture = None
            yield from _handle_compute_log_setup_error(job_context, sys.exc_info())
        stopping = False
        try:
            while running or (not stopping and not active.is_complete):
                if active.check_for_interrupts():
                    stopping = True
                    active.mark_interrupted()
                    yield DagsterEvent.engine_event(
                        job_context, f"Stopping: no new step starts; {', '.join(running) or 'none'} finish first",
                        EngineEventData.interrupted(list(running)))
                if not stopping:
                    for step in active.get_steps_to_execute(limit=limit - len(running)):
                        step_context = job_context.for_step(step, active.get_known_state())
                        running[step.key] = (step_context, [])
                        threading.Thread(target=_run_step, args=(step.key, step_context, events),
                                         name=f"step {step.key}", daemon=True).start()
                    yield from active.concurrency_event_iterator(job_context)
                try:
                    key, event = events.get(timeout=_POLL_S)
                except queue.Empty:
                    continue
                if isinstance(event, BaseException):
                    raise event
                if event is _DONE:
                    step_context, step_events = running.pop(key)
                    active.verify_complete(job_context, key)
                    skipped = list(active.plan_events_iterator(job_context))
                    yield from skipped
                    yield from _trigger_hook(step_context, [*step_events, *skipped])
                    continue
                running[key][1].append(event)
                yield event
                active.handle_event(event)
        finally:
            if capture is not None:
                try:
                    capture.__exit__(None, None, None)
                except Exception:  # noqa: BLE001 - as Dagster's own iterator
                    yield from _handle_compute_log_teardown_error(job_context, sys.exc_info())
        if stopping:
            raise dg.DagsterExecutionInterruptedError()


def _run_step(key: str, step_context, events: queue.Queue) -> None:
    try:
        for event in dagster_event_sequence_for_step(step_context):
            events.put((key, event))
    except BaseException as exc:  # noqa: BLE001 - a framework error: the run's thread raises it
        events.put((key, exc))
    finally:
        events.put((key, _DONE))


@dg.executor(name="side_by_side_threads", config_schema={
    "max_concurrent": dg.Field(int, default_value=4, description="steps running at once"),
    "retries": get_retries_config()})
def side_by_side_threads(init_context) -> ThreadExecutor:
    config = init_context.executor_config
    return ThreadExecutor(retries=RetryMode.from_config(config["retries"]), max_concurrent=config["max_concurrent"])
