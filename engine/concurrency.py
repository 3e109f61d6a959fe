"""Parallel and Map: branches and iterations in anyio task groups (ASL-SPEC.md section 11).

Structured concurrency: each run of a Parallel or Map state owns a task group; the first
failing branch/iteration cancels its siblings, and the group's failure is turned back into
that branch's own ASL error here, at one boundary. Results keep their order whatever order
the work finishes in. Map concurrency is bounded (a semaphore for MaxConcurrency, and a
fixed pool of workers pulling items, so 50,000 items never mean 50,000 tasks).
"""
from __future__ import annotations

from collections import deque
from typing import Any

import anyio

from ..errors import PathNotFoundError, StatesError
from ..templates import Template, dumps, expect_kind
from .observe import IterationChanged, MapStarted
from .scope import Scope
from .staterun import Frame, Result, StateRun, locate, with_retries

INLINE_WORKERS = 40  # AWS runs up to about 40 inline iterations at once


class _BranchFailed(Exception):
    def __init__(self, err: StatesError):
        self.err = err


def _branch_variables(frame: Frame) -> dict:
    # Inner scopes read the outer variables; their own assignments die with them.
    return dict(frame.variables) if frame.variables else {}


async def _gather(jobs: list, limit: int) -> list:
    """Run coroutine factories with at most `limit` at once; results in order; first failure cancels."""
    results: list[Any] = [None] * len(jobs)
    failure: list[StatesError] = []
    position = iter(range(len(jobs)))

    async def worker() -> None:
        for i in position:
            try:
                results[i] = await jobs[i]()
            except StatesError as err:
                if not failure:
                    failure.append(err)
                raise _BranchFailed(err) from None

    try:
        async with anyio.create_task_group() as tg:
            for _ in range(max(1, min(limit, len(jobs)))):
                tg.start_soon(worker)
    except BaseExceptionGroup as group:  # noqa: F821 - builtin in 3.11
        if failure:
            raise failure[0] from None
        raise group.exceptions[0] from None
    except _BranchFailed:
        raise failure[0] from None
    return results


# --------------------------------------------------------------------------------------------
# Parallel
# --------------------------------------------------------------------------------------------

async def run_parallel(run: StateRun) -> Result:
    state = run.state
    ex = run.ex
    jsonata = state.is_jsonata

    async def attempt() -> list:
        if jsonata:
            branch_input = state.arguments.evaluate(run.scope(run.raw)) if state.arguments is not None else run.raw
        else:
            effective = run.effective_input()
            branch_input = state.parameters.evaluate(run.scope(effective)) if state.parameters is not None \
                else effective
        if run.ex.observer is not None:
            run.note("afterArguments" if jsonata else "afterParameters", branch_input)
        run.event("ParallelStateStarted")
        forked = Frame(run.frame.variables, run.frame.last, None, run.frame.path, run.frame.key)
        forked.seq = run.frame.seq  # branches fork here, whatever the parent records meanwhile

        def job(index: int, branch: Any) -> Any:
            async def go() -> Any:
                frame = forked.child(_branch_variables(run.frame), index, (run.name, index), run.frame.map_item)
                return await ex.run_block(branch, branch_input, frame)
            return go

        results = await _gather([job(i, b) for i, b in enumerate(state.branches)], len(state.branches))
        run.event("ParallelStateSucceeded")
        return results

    result = await _attempts(run, attempt, "ParallelStateFailed")
    return run.finish(result)


async def _attempts(run: StateRun, attempt: Any, failed_event: str) -> Any:
    """Retries, then one ``*StateFailed`` event when the state gives up (not one per attempt)."""
    try:
        return await with_retries(run, attempt)
    except StatesError as err:
        err = locate(err, run)
        if err.error != "States.Runtime":  # a runtime error ends the execution at once
            run.event(failed_event)
        raise err


# --------------------------------------------------------------------------------------------
# Map
# --------------------------------------------------------------------------------------------

def _quoted(value: Any) -> str:
    # AWS quotes the offending value as text: "{}", "abc", "1.5"
    return f'"{value if isinstance(value, str) else dumps(value)}"'


def _path_number(run: StateRun, path: Any, scope: Any, name: str, kind: str) -> Any:
    """A number read through a ``...Path`` field; numeric strings count (AWS parses the text)."""
    value = run.read_path(path, scope.input)
    if isinstance(value, str):
        try:
            value = int(value) if kind == "integer" else float(value)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            kind == "integer" and isinstance(value, float) and not value.is_integer()):
        raise StatesError("States.Runtime", f"The {name}Path field refers to value {_quoted(value)} which is not "
                          f"a valid {kind}: {path.text}")
    return int(value) if kind == "integer" else value


def _positive_int(run: StateRun, literal: Any, path: Any, name: str, scope: Any, default: int) -> int:
    if literal is not None:
        value = literal.evaluate(scope) if isinstance(literal, Template) else literal
        value = int(expect_kind(literal, value, "integer", name))
    elif path is not None:
        value = _path_number(run, path, scope, name, "integer")
    else:
        return default
    if value < 0:
        raise StatesError("States.QueryEvaluationError" if isinstance(literal, Template) else "States.Runtime",
                          f"{name} must be a non-negative integer, but was: {dumps(value)}")
    return value


def _items(run: StateRun, effective: Any) -> list:
    state = run.state
    if state.is_jsonata:
        if state.items is not None and state.items is not _unset():
            return expect_kind(state.items, state.items.evaluate(run.scope(run.raw)), "array", "Items")
        value = run.raw
        if not isinstance(value, list):
            raise StatesError("States.QueryEvaluationError",
                              f"Map state input must be an array but was: {dumps(value)}")
        return value
    path = state.items_path
    try:
        value = run.read_path(path, effective) if path is not None else effective
    except PathNotFoundError:
        raise StatesError("States.Runtime", f"Reference path \"{path.text}\" must point to array.") from None
    if not isinstance(value, list):
        raise StatesError("States.Runtime", f"Reference path \"{path.text}\" must point to array.")
    return value


def _unset() -> Any:
    from ..model import UNSET
    return UNSET


async def run_map(run: StateRun) -> Result:
    state = run.state
    ex = run.ex
    jsonata = state.is_jsonata
    distributed = state.is_distributed

    async def attempt() -> list:
        effective = run.raw if jsonata else run.effective_input()
        scope = run.scope(effective)
        items = _items(run, effective)
        limit = _positive_int(run, state.max_concurrency, state.max_concurrency_path, "MaxConcurrency", scope, 0)
        selector = state.item_selector or state.parameters
        processor = state.processor

        def item_input(index: int, item: Any) -> Any:
            if selector is None:
                return item
            map_item = {"Index": index, "Value": item}
            make = lambda: {**run.context(), "Map": {"Item": map_item}}  # noqa: E731
            return selector.evaluate(Scope(effective if not jsonata else run.raw, run.frame.variables, run.rng, make,
                                           now=run.now))

        inputs = [item_input(i, item) for i, item in enumerate(items)]
        observer = ex.observer
        if observer is not None:
            if not jsonata:
                run.note("afterItemsPath", items)
            if selector is not None:
                run.note("afterItemSelector", inputs)
        run.event("MapStateStarted", {"length": len(items)})
        if observer is not None:
            run.tell(MapStarted, len(items))
        if distributed:
            tolerated_count, tolerated_pct = _tolerance(run, scope)
            results = await _distributed(run, processor, inputs, limit, tolerated_count, tolerated_pct)
        else:
            results = await _inline(run, processor, inputs, limit)
        run.event("MapStateSucceeded")
        return results

    result = await _attempts(run, attempt, "MapStateFailed")
    return run.finish(result)


def _tolerance(run: StateRun, scope: Any) -> tuple[int | None, float | None]:
    """(ToleratedFailureCount, ToleratedFailurePercentage); None for one the state does not set."""
    state = run.state
    count: Any = None
    pct: Any = None
    if state.tolerated_failure_count is not None:
        count = state.tolerated_failure_count
        if isinstance(count, Template):
            count = int(expect_kind(count, count.evaluate(scope), "integer", "ToleratedFailureCount"))
    elif state.tolerated_failure_count_path is not None:
        count = _path_number(run, state.tolerated_failure_count_path, scope, "ToleratedFailureCount", "integer")
    if count is not None and count < 0:
        raise StatesError("States.Runtime", "ToleratedFailureCount cannot be negative.")
    if state.tolerated_failure_percentage is not None:
        pct = state.tolerated_failure_percentage
        if isinstance(pct, Template):
            pct = expect_kind(pct, pct.evaluate(scope), "number", "ToleratedFailurePercentage")
    elif state.tolerated_failure_percentage_path is not None:
        pct = _path_number(run, state.tolerated_failure_percentage_path, scope, "ToleratedFailurePercentage",
                           "float")
    if pct is not None and not 0 <= pct <= 100:
        raise StatesError("States.Runtime", "ToleratedFailurePercentage must be between 0 and 100.")
    return count, pct


async def _inline(run: StateRun, processor: Any, inputs: list, limit: int) -> list:
    ex = run.ex
    forked = Frame(run.frame.variables, run.frame.last, None, run.frame.path, run.frame.key)
    forked.seq = run.frame.seq  # items fork here (after MapStateStarted)
    name = run.name
    failed = False

    def job(index: int, value: Any) -> Any:
        async def go() -> Any:
            nonlocal failed
            frame = forked.child(_branch_variables(run.frame), index, (name, index))
            observer = ex.observer
            ex.emit(frame, "MapIterationStarted", {"index": index, "name": name})
            if observer is not None:
                run.tell(IterationChanged, index, "started")
            try:
                out = await ex.run_block(processor, value, frame)
            except StatesError:
                if not failed:
                    failed = True
                    ex.emit(frame, "MapIterationFailed", {"index": index, "name": name})
                    if observer is not None:
                        run.tell(IterationChanged, index, "failed")
                raise
            except anyio.get_cancelled_exc_class():
                with anyio.CancelScope(shield=True):
                    ex.emit(frame, "MapIterationAborted", {"index": index, "name": name})
                    if observer is not None:
                        run.tell(IterationChanged, index, "aborted")
                raise
            ex.emit(frame, "MapIterationSucceeded", {"index": index, "name": name})
            if observer is not None:
                run.tell(IterationChanged, index, "succeeded")
            run.frame.last = frame.last
            return out
        return go

    jobs = [job(i, v) for i, v in enumerate(inputs)]
    return await _gather(jobs, limit or INLINE_WORKERS)


class MapRunControl:
    """A running Map Run's settings, changeable while it runs (UpdateMapRun): the window of
    child executions in flight (`max_concurrency`, 0: no explicit limit) and the tolerance,
    read when the run ends."""

    UNLIMITED = 10_000  # AWS: without MaxConcurrency, at most 10,000 children run at once

    def __init__(self, max_concurrency: int, tolerated_count: int | None, tolerated_pct: float | None):
        self.max_concurrency = max_concurrency
        self.tolerated_count = tolerated_count
        self.tolerated_pct = tolerated_pct
        self.active = 0
        self._waiting: deque = deque()  # [event, still waiting] of each task waiting for a slot, in order

    def update(self, max_concurrency: int | None = None, tolerated_count: int | None = None,
               tolerated_pct: float | None = None) -> None:
        if max_concurrency is not None:
            self.max_concurrency = max_concurrency
        if tolerated_count is not None:
            self.tolerated_count = tolerated_count
        if tolerated_pct is not None:
            self.tolerated_pct = tolerated_pct
        self._wake()

    def _wake(self) -> None:
        waiting, self._waiting = self._waiting, deque()
        for entry in waiting:
            entry[0].set()

    def _wake_one(self) -> None:
        """Wake the longest waiting task (one slot came free: waking every waiter for each
        would cost the square of the items)."""
        waiting = self._waiting
        while waiting:
            event, alive = waiting.popleft()
            if alive:
                event.set()
                return

    async def acquire(self) -> None:
        while self.active >= (self.max_concurrency or self.UNLIMITED):
            entry = [anyio.Event(), True]
            self._waiting.append(entry)
            try:
                await entry[0].wait()
            except BaseException:
                entry[1] = False
                if entry[0].is_set():  # woken, but leaving: the slot goes to the next one
                    self._wake_one()
                raise
        self.active += 1

    def release(self) -> None:
        self.active -= 1
        self._wake_one()

    def exceeded(self, failed: int, total: int) -> bool:
        """Whether `failed` of `total` items (a failed batch: all its items) break the tolerance: more
        than ToleratedFailureCount, or a greater share than ToleratedFailurePercentage (when both
        are set, either); neither set: any failure."""
        count, pct = self.tolerated_count, self.tolerated_pct
        if count is None and pct is None:
            return failed > 0
        return (count is not None and failed > count) or (
            pct is not None and total > 0 and failed * 100.0 / total > pct)


async def _distributed(run: StateRun, processor: Any, inputs: list, limit: int, tolerated_count: int | None,
                       tolerated_pct: float | None) -> list:
    """Each item runs as its own child execution; failures count against the tolerance."""
    ex = run.ex
    state = run.state
    label = state.label or run.name
    map_run_arn = ex.map_run_arn(label)
    run.event("MapRunStarted", {"mapRunArn": map_run_arn})
    items = len(inputs)
    batcher = state.item_batcher
    if batcher is not None:
        inputs = _batches(run, inputs)
    results: list[Any] = [None] * len(inputs)
    failures: list[int] = []  # the children that failed
    control = MapRunControl(limit, tolerated_count, tolerated_pct)
    sizes = [len(v["Items"]) if batcher is not None else 1 for v in inputs]
    listener = ex.map_runs
    if listener is not None:
        await listener.map_run_started(ex, map_run_arn, run.name, label, control, items, sizes)

    observer = ex.observer

    async def child(index: int, value: Any) -> None:
        await control.acquire()
        try:
            if observer is not None:
                run.tell(IterationChanged, index, "started")
            try:
                results[index] = await ex.run_child(processor, value, index, run.frame, run.name, map_run_arn)
            except StatesError:
                failures.append(index)
                results[index] = None
                if observer is not None:
                    run.tell(IterationChanged, index, "failed")
                return
            except anyio.get_cancelled_exc_class():
                if observer is not None:
                    run.tell(IterationChanged, index, "aborted")
                raise
            if observer is not None:
                run.tell(IterationChanged, index, "succeeded")
        finally:
            control.release()

    status, err = "SUCCEEDED", None
    try:
        async with anyio.create_task_group() as tg:
            for i, v in enumerate(inputs):
                tg.start_soon(child, i, v)
        if failures and control.exceeded(sum(sizes[i] for i in failures), items):
            err = StatesError("States.ExceedToleratedFailureThreshold",
                              "The specified tolerated failure threshold was exceeded")
            status = "FAILED"
            run.event("MapRunFailed", {"error": err.error, "cause": err.cause})
            raise err
    except anyio.get_cancelled_exc_class():
        status = "ABORTED"
        raise
    finally:
        if listener is not None:
            with anyio.CancelScope(shield=True):
                await listener.map_run_finished(map_run_arn, status, err)
    run.event("MapRunSucceeded")
    return results


def _batches(run: StateRun, inputs: list) -> list:
    batcher = run.state.item_batcher
    scope = run.scope(run.raw)
    size = batcher.max_items_per_batch
    size = size.evaluate(scope) if isinstance(size, Template) else size
    if size is None and batcher.max_items_per_batch_path is not None:
        size = run.read_path(batcher.max_items_per_batch_path, run.raw)
    size = size or len(inputs) or 1
    batch_input = batcher.batch_input.evaluate(scope) if batcher.batch_input is not None else None
    out = []
    for i in range(0, len(inputs), size):
        entry: dict = {"Items": inputs[i:i + size]}
        if batch_input is not None:
            entry = {"BatchInput": batch_input, **entry}
        out.append(entry)
    return out
