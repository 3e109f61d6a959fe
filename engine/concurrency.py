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

from ..errors import StatesError
from ..history.events import CALL_FAILURES
from .mapfields import item_context, map_items, positive_int
from .observe import IterationChanged, MapStarted
from .scope import Scope
from .staterun import Frame, Result, StateRun, locate, with_retries, write_aborted

INLINE_WORKERS = 40  # AWS runs up to about 40 inline iterations at once


class _BranchFailed(Exception):
    def __init__(self, err: StatesError):
        self.err = err


def _aside(run: StateRun, event_type: str) -> None:
    """Record a ``*StateSucceeded`` event that the chain of previousEventIds passes by: AWS's
    ``*StateExited`` follows the event that event follows (recorded in LocalStack's AWS snapshots:
    ``MapStateExited`` names the last ``MapIterationSucceeded``, or ``MapStateStarted`` for no
    items; ``ParallelStateExited`` the last event of the branches)."""
    last = run.frame.last
    run.event(event_type)
    run.frame.last = last


def _close_failed_task(ex: Any, frame: Frame, tail: int) -> None:
    """AWS records ``TaskStateAborted`` for the Task whose failure (no catcher took it) ended a
    Parallel branch or a Map iteration, following that failure (LocalStack's AWS snapshots:
    TaskFailed in a branch, then TaskStateAborted, then ParallelStateFailed; TaskTimedOut in an
    iteration, then MapIterationFailed, then TaskStateAborted). `tail` is the branch's last event."""
    if ex.history.type_of(tail) in CALL_FAILURES:
        frame.last = tail
        ex.emit(frame, "TaskStateAborted")


class _Siblings:
    """The branches or iterations of one attempt of a Parallel or Map state, for what AWS writes
    when one of them fails: after that failure's own events, each other one that had not
    finished, in index order: ``MapIterationAborted`` (a Map's), then the abort events of the
    states it was in (``TaskStateAborted``, ...), all following the first failure's event, as
    ``*StateFailed`` does (LocalStack's AWS snapshot timeouts/test_timeouts
    test_service_lambda_map_timeout: iteration 0's TaskTimedOut #20, MapIterationFailed and
    TaskStateAborted <-20, then MapIterationAborted and TaskStateAborted <-20 for iterations 1,
    2 and 3, whose tasks had timed out too, then MapStateFailed <-20). A container that is
    itself cut short hands its part up to the one that failed."""

    __slots__ = ("event", "name", "failed", "cut")

    def __init__(self, event: str | None = None, name: str = ""):
        self.event = event  # "MapIterationAborted" (a Map's), else None
        self.name = name
        self.failed = False
        self.cut: dict[int, Frame] = {}  # index -> frame, of those cut short

    def fail(self, ex: Any, frame: Frame, index: int) -> bool:
        """A branch or iteration failed: True for the first failure, which the container reports;
        a later one (it failed before it could be stopped) counts as cut short."""
        if not self.failed:
            self.failed = True
            return True
        if ex.history.type_of(frame.last) in CALL_FAILURES:
            frame.leave_aborted("TaskStateAborted")
        self.cut[index] = frame
        return False

    def abort(self, ex: Any, frame: Frame, index: int) -> None:
        """A branch or iteration was cancelled. A stop or the execution's timeout writes the
        Map's MapIterationAborted at once; a failing sibling's abort is written later."""
        if ex.aborting_branches() or frame.aborted:  # (the latter: a failure cut it short, and a
            self.cut[index] = frame  # stop or timeout came before it ended: the failing container writes)
        elif self.event is not None:
            ex.emit(frame, self.event, {"index": index, "name": self.name})

    def notes(self) -> list:
        """The abort events of those cut short, in the order AWS writes them."""
        notes: list = []
        for index in sorted(self.cut):
            frame = self.cut[index]
            if self.event is not None:
                notes.append((frame, self.event, {"index": index, "name": self.name}))
            notes.extend(frame.aborted or ())
            frame.aborted = None
        return notes

    def write(self, ex: Any, container: Frame) -> None:
        """Write the abort events in the `container`'s frame, each following the first
        failure's event (the container's last)."""
        write_aborted(ex, self.notes(), container)

    def hand_up(self, frame: Frame) -> None:
        """Cut short itself: leave the abort events to the frame the container runs in."""
        notes = self.notes()
        if notes:
            frame.aborted = (frame.aborted or []) + notes


async def _gather_siblings(run: StateRun, siblings: _Siblings, jobs: list, limit: int) -> list:
    """`_gather`, then the abort events of the siblings a failure cut short (see `_Siblings`)."""
    try:
        return await _gather(run.ex.clock, jobs, limit)
    except StatesError:
        siblings.write(run.ex, run.frame)  # the failure set the state's last event
        raise
    except anyio.get_cancelled_exc_class():
        siblings.hand_up(run.frame)
        raise


def _branch_variables(frame: Frame) -> dict:
    # Inner scopes read the outer variables; their own assignments die with them.
    return dict(frame.variables) if frame.variables else {}


async def _gather(clock: Any, jobs: list, limit: int) -> list:
    """Run coroutine factories with at most `limit` at once; results in order; first failure cancels.
    The workers are tasks of the run on `clock` (`Clock.task_group`)."""
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
        async with clock.task_group() as tg:
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
        siblings = _Siblings()

        def job(index: int, branch: Any) -> Any:
            async def go() -> Any:
                frame = forked.child(_branch_variables(run.frame), index, (run.name, index), run.frame.map_item)
                observer = ex.observer
                if observer is not None:
                    run.tell(IterationChanged, index, "started")
                try:
                    out = await ex.run_block(branch, branch_input, frame)
                except StatesError:
                    if siblings.fail(ex, frame, index):
                        # AWS: ParallelStateFailed (or the retry's Started) follows the failure
                        tail = run.frame.last = frame.last
                        _close_failed_task(ex, frame, tail)
                    if observer is not None:
                        run.tell(IterationChanged, index, "failed")
                    raise
                except anyio.get_cancelled_exc_class():
                    siblings.abort(ex, frame, index)
                    if observer is not None:
                        run.tell(IterationChanged, index, "aborted")
                    raise
                run.frame.last = frame.last  # the state goes on from the last branch event
                if observer is not None:
                    run.tell(IterationChanged, index, "succeeded")
                return out
            return go

        results = await _gather_siblings(run, siblings, [job(i, b) for i, b in enumerate(state.branches)],
                                         len(state.branches))
        _aside(run, "ParallelStateSucceeded")
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

async def run_map(run: StateRun) -> Result:
    state = run.state
    ex = run.ex
    jsonata = state.is_jsonata

    async def attempt() -> list:
        effective = run.raw if jsonata else run.effective_input()
        scope = run.scope(effective)
        if state.is_distributed:  # a Map Run: asl.engine.distributed
            limit = positive_int(run, state.max_concurrency, state.max_concurrency_path, "MaxConcurrency", scope, 0)
            from .distributed.maprun import run_distributed

            results, opened = await run_distributed(run, effective, scope, MapRunControl(limit, None, None))
            run.event("MapStateSucceeded")
            # AWS: MapStateExited follows the Map Run's first event, MapRunStarted. Every recording
            # since November 2024 shows it (13 LocalStack snapshots validated on AWS, 2024-11 to
            # 2025-10, JSONPath and JSONata, with and without ItemReader, ItemBatcher, earlier
            # states); the 36 recorded from 2023-09 to 2024-08 show MapRunSucceeded instead: AWS
            # changed it in between (no recording shows both in one period).
            run.frame.last = opened
            return results
        items = map_items(run, effective)
        limit = positive_int(run, state.max_concurrency, state.max_concurrency_path, "MaxConcurrency", scope, 0)
        selector = state.item_selector or state.parameters
        processor = state.processor

        if selector is None:
            inputs = items
        else:
            base: list = []  # $$ without Map, made once for all the items (documents are never mutated)
            selected = effective if not jsonata else run.raw
            variables, rng, now = run.frame.variables, run.rng, run.now

            def item_input(index: int, item: Any) -> Any:
                def context() -> dict:
                    if not base:
                        base.append(run.context())
                    return {**base[0], "Map": item_context(index, item, None)}  # inline: no Source
                return selector.evaluate(Scope(selected, variables, rng, context, now=now))

            try:
                inputs = [item_input(i, item) for i, item in enumerate(items)]
            except StatesError:
                # AWS selects each item as its iteration starts: a failing ItemSelector comes
                # after MapStateStarted, and ends the run with no iteration event (raw AWS
                # capture, radkawar/stackd testdata/aws/stepfunctions/dataflow_execution.json
                # "history-sequential-map": MapStateStarted, then ExecutionFailed)
                run.event("MapStateStarted", {"length": len(items)})
                raise
        observer = ex.observer
        if observer is not None:
            if not jsonata:
                run.note("afterItemsPath", items)
            if selector is not None:
                run.note("afterItemSelector", inputs)
        run.event("MapStateStarted", {"length": len(items)})
        if observer is not None:
            run.tell(MapStarted, len(items))
        results = await _inline(run, processor, inputs, limit)
        _aside(run, "MapStateSucceeded")
        return results

    result = await _attempts(run, attempt, "MapStateFailed")
    return run.finish(result)


async def _inline(run: StateRun, processor: Any, inputs: list, limit: int) -> list:
    ex = run.ex
    forked = Frame(run.frame.variables, run.frame.last, None, run.frame.path, run.frame.key)
    forked.seq = run.frame.seq  # items fork here (after MapStateStarted)
    name = run.name
    siblings = _Siblings("MapIterationAborted", name)

    def job(index: int, value: Any) -> Any:
        async def go() -> Any:
            frame = forked.child(_branch_variables(run.frame), index, (name, index))
            observer = ex.observer
            ex.emit(frame, "MapIterationStarted", {"index": index, "name": name})
            if observer is not None:
                run.tell(IterationChanged, index, "started")
            try:
                out = await ex.run_block(processor, value, frame)
            except StatesError:
                if siblings.fail(ex, frame, index):
                    # AWS: MapStateFailed (or the retry's MapStateStarted) follows the event the
                    # iteration failed at, as MapIterationFailed does
                    tail = run.frame.last = frame.last
                    ex.emit(frame, "MapIterationFailed", {"index": index, "name": name})
                    _close_failed_task(ex, frame, tail)
                    if observer is not None:
                        run.tell(IterationChanged, index, "failed")
                raise
            except anyio.get_cancelled_exc_class():
                with anyio.CancelScope(shield=True):
                    siblings.abort(ex, frame, index)
                    if observer is not None:
                        run.tell(IterationChanged, index, "aborted")
                raise
            # AWS: an iteration started later follows this one's last event, MapStateSucceeded
            # follows its MapIterationSucceeded
            forked.last = frame.last
            ex.emit(frame, "MapIterationSucceeded", {"index": index, "name": name})
            if observer is not None:
                run.tell(IterationChanged, index, "succeeded")
            run.frame.last = frame.last
            return out
        return go

    jobs = [job(i, v) for i, v in enumerate(inputs)]
    return await _gather_siblings(run, siblings, jobs, limit or INLINE_WORKERS)


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
