"""The coordinator's side of a remote executor: children go out in chunks, records come back.

`Execution.run_child` keeps doing everything a child execution means to its parent (its ARN,
its record in the store, the Map Run's counts and tolerance, the journal entry with its
outcome); only the states of the child run elsewhere. `ChunkedExecutor.run` takes one child,
queues it, and awaits its `ChildRecord`. Children queued together leave as one chunk (one
task for the backend: per-task overhead is paid per chunk), sized to about `TARGET` seconds of
work from how long the children took so far, and never larger than needed to keep every
worker busy. A chunk whose worker is lost is run again without the children whose records
already arrived; a chunk whose children were all withdrawn (StopExecution, a failed Map) is
cancelled on the backend.

Children stay in the parent's process when they cannot leave it: Tasks that wait for a task
token or an activity worker (the tokens live here), mocks (their call counts are the parent's),
and Wait states in real time (a worker would sit idle for the wait).
"""
from __future__ import annotations

import logging
import math
import sys
import uuid
from typing import Any

import anyio

from ..background import Background
from ..clock import Outcome
from .child import ChildRecord, ChildSpec, Job

MAX_ATTEMPTS = 3  # a chunk is sent again at most this many times after its worker was lost


class WorkLost(Exception):
    """The backend lost the chunk (its worker died): send its unfinished children again."""


def dumps_spec(spec: ChildSpec) -> bytes:
    """cloudpickle `spec`; the modules of handlers that are not installed packages (a test module,
    a ``--handlers`` file) travel by value, so workers need not be able to import them."""
    import cloudpickle

    modules = _user_modules(spec.handlers)
    for module in modules:
        cloudpickle.register_pickle_by_value(module)
    try:
        return cloudpickle.dumps(spec)
    finally:
        for module in modules:
            cloudpickle.unregister_pickle_by_value(module)


def _user_modules(handlers: Any) -> list:
    import sysconfig

    installed = {sysconfig.get_paths()[k] for k in ("purelib", "platlib", "stdlib", "platstdlib")}
    functions = [fn for table in ("_by_state", "_by_resource", "_by_function") for fn in
                 getattr(handlers, table, {}).values()] + [fn for _, fn in getattr(handlers, "_globs", [])]
    out = []
    for fn in functions:
        name = getattr(fn, "__module__", None)
        module = sys.modules.get(name or "")
        path = getattr(module, "__file__", None)
        if module is None or name == "__main__" or path is None or name.split(".")[0] == "asl":
            continue
        if not any(path.startswith(root) for root in installed) and module not in out:
            out.append(module)
    return out


def _fill(child: Any, record: ChildRecord, events: list, transitions: int) -> None:
    """The child's history, transitions and calls, from its record."""
    child.history._events.extend(events)
    child.transitions = transitions
    child.calls.extend(record.calls)
    child.unserved.extend(n for n in record.unserved if n not in child.unserved)


def _cut_short(child: Any, frame: Any, record: ChildRecord, now: float) -> None:
    """A child that ran to its end on a worker, cut short at virtual time `now` (before its end)
    in its parent: its history keeps the events written by then, and the state it was in is
    aborted, as inline (`interpreter.run_state`: the abort event its root `frame` leaves for
    `write_left`). Only for a child whose events so far are all in its root frame: the abort
    events of branches and iterations inside it are not rebuilt (its history then ends with the
    last event written by `now`). Its Task calls all happened on the worker: they stay."""
    from ...history.events import ABORTABLE

    events = [event for event in record.events if event[2] <= now]  # (in time order)
    _fill(child, record, events, sum(event[0].endswith("StateEntered") for event in events))
    open_kind, seq = None, 0
    for event_type, _previous, _time, _details, site in events:
        if site is None:
            continue
        if site[0] != frame.key:
            return  # a branch or iteration inside the child: not rebuilt
        seq = site[1]
        if event_type.endswith("StateEntered"):
            open_kind = event_type[:-len("StateEntered")]
        elif event_type.endswith("StateExited"):
            open_kind = None
    if open_kind in ABORTABLE and child.aborting_branches():
        frame.last, frame.seq = len(child.history), seq
        frame.leave_aborted(f"{open_kind}StateAborted")


def _stays_home(ex: Any, processor: Any) -> bool:
    """Whether children of `processor` must run in the parent's process (see the module's doc)."""
    if ex.mocks is not None:
        return True
    stack = [processor]
    while stack:
        block = stack.pop()
        for state in block.states.values():
            kind = state.type
            if kind == "Task":
                resource = str(getattr(state, "resource", "") or "")
                if resource.endswith(".waitForTaskToken") or ":activity:" in resource:
                    return True
            elif kind == "Wait" and not ex.clock.virtual:
                return True
            elif kind == "Parallel":
                stack.extend(state.branches)
            elif kind == "Map" and state.processor is not None:
                stack.append(state.processor)
    return False


log = logging.getLogger(__name__)


class _Run:
    """The children of one Map state of one execution, while they run."""

    def __init__(self, spec: ChildSpec, blob: bytes):
        self.spec = spec
        self.blob = blob
        self.handle: Any = None     # the backend's reference to the shipped spec
        self.shipping: Outcome | None = None  # ... while it is being shipped
        self.pending: list[Job] = []
        self.waiting: dict[int, Outcome] = {}
        self.seq = 0
        self.flush_at: anyio.CancelScope | None = None  # the delayed flush, while one is due
        self.per_child = 0.0        # seconds a child took, on average (0: not known yet)
        self.out = 0                # chunks sent and not back
        self.chunks: dict[str, set[int]] = {}  # chunks in flight: their children still awaited
        self.handles: dict[str, Any] = {}      # ... and the backend's handle of each


class ChunkedExecutor:
    """Base of the remote backends; subclasses ship specs and chunks (`_ship`, `_submit`, `_cancel`).

    The executor's own work (chunks in flight, delayed flushes, shipping a spec, cancelling a
    chunk on the backend) runs in its `background` (`asl.engine.background`), served from
    `start` to `aclose`: its owner opens it with ``async with executor:`` (or calls `start` and
    later `aclose` in the same task, nothing opened in between still open), and every execution
    using it runs inside."""

    name = "chunked"
    TARGET = 0.2      # seconds a chunk takes on its worker
    SPREAD = 4        # chunks per worker thread before the children's duration is known
    MAX_CHUNK = 1000
    KEEP_RUNS = 64    # Map processors whose shipped spec is kept

    def __init__(self) -> None:
        self._runs: dict[tuple, _Run] = {}
        self._by_id: dict[str, _Run] = {}
        self.background = Background(log, f"the {self.name} executor is not open: use it as `async with executor:`")
        self._serving: Any = None  # `background.serving()`, while it is entered
        self._stays: dict[tuple, tuple] = {}

    # ---- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> "ChunkedExecutor":
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Enter the executor's `background`, then open the backend (`_open`)."""
        serving = self.background.serving()
        await serving.__aenter__()
        self._serving = serving
        try:
            await self._open()
        except BaseException:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        """Cancel the executor's work still under way and leave its `background`, then close the
        backend (`_close`). The owner's exception, if any, goes on as it was (not in an exception
        group: the background's tasks raise nothing)."""
        serving, self._serving = self._serving, None
        try:
            if serving is not None:  # (tasks spawned while it closes start cancelled)
                await serving.__aexit__(None, None, None)
        finally:
            self._runs.clear()
            self._by_id.clear()
            with anyio.CancelScope(shield=True):  # the backend stops even when the owner is cancelled
                await self._close()

    def slots(self) -> int:
        """Children that can run at once on the backend (worker threads or processes)."""
        return 1

    # ---- what backends provide ---------------------------------------------------------------

    async def _open(self) -> None:
        """Start the backend (workers, a cluster, a client)."""

    async def _close(self) -> None:
        """Stop the backend."""

    async def _ship(self, run: _Run) -> Any:
        """Make the spec available to the workers; returns the handle `_submit` passes on."""
        return run.blob

    async def _submit(self, run: _Run, chunk: str, jobs: list[Job]) -> list[ChildRecord]:
        raise NotImplementedError

    async def _cancel(self, run: _Run, chunk: str) -> None:
        pass

    async def _forget(self, run: _Run) -> None:
        pass

    def _finished(self, chunk: str) -> None:
        """`chunk` is no longer out."""

    # ---- the engine's side -------------------------------------------------------------------

    def takes(self, ex: Any, processor: Any) -> bool:
        """Whether the children of `processor` in `ex` run on the backend (see the module's doc)."""
        key = (id(processor), ex.mocks is None, ex.clock.virtual)
        found = self._stays.get(key)
        if found is None or found[0] is not processor:
            found = self._stays[key] = (processor, _stays_home(ex, processor))
            if len(self._stays) > 1024:
                self._stays.pop(next(iter(self._stays)))
        return not found[1]

    async def run(self, ex: Any, child: Any, processor: Any, value: Any, frame: Any) -> Any:
        """Run the child `child` (its ARN, name and start set, its history begun) on the backend;
        its history, transitions and calls are filled in from its record. Returns its output;
        raises its error as a StatesError.

        Under virtual time the child runs as it would inline, on the parent's clock: time stands
        still while it is away (`Clock.holding`), then this task sleeps the virtual time the child
        took (`ChildRecord.end`), so its closing event follows its last one and the parent's
        clock (MaxConcurrency's next child, the Map state's end) moves with its children. A
        child cut short meanwhile (its Map Run failed, its parent stopped) keeps the events it
        had written by then."""
        from ...errors import StatesError

        if not self.background.active:
            raise StatesError("States.Runtime", f"The child execution could not run on the {self.name} executor: "
                                                "it is not open (`async with executor:`)")
        clock = ex.clock
        with clock.holding():
            run = await self._run_for(ex, processor)
            run.seq += 1
            job = Job(run.seq, child.arn, child.name, value, child.start_time, frame.path, frame.key,
                      redrive_count=child.redrive_count, redrive_time=child.redrive_time,
                      machine=child.state_machine_arn)
            awaited = Outcome()
            run.waiting[job.index] = awaited
            run.pending.append(job)
            if len(run.pending) >= self.MAX_CHUNK:
                self._flush(run)
            elif run.flush_at is None:
                self._flush_later(run, 0.002)
            try:
                await awaited.wait()
                record: ChildRecord = awaited.result()
            except anyio.get_cancelled_exc_class():
                self._withdraw(run, job.index)
                raise
            finally:
                run.waiting.pop(job.index, None)
        if record.end is not None and record.end > clock.now():
            try:
                await clock.sleep(record.end - clock.now())
            except anyio.get_cancelled_exc_class():
                _cut_short(child, frame, record, clock.now())
                raise
        _fill(child, record, record.events, record.transitions)
        if record.status == "SUCCEEDED":
            return record.output
        if record.status == "TIMED_OUT":  # an EXPRESS child past five minutes
            from ..staterun import ChildTimedOut

            raise ChildTimedOut()
        raise StatesError(record.error, record.cause)

    async def _run_for(self, ex: Any, processor: Any) -> _Run:
        key = (ex.arn, id(processor))
        run = self._runs.get(key)
        if run is not None:
            if run.handle is None:
                await run.shipping.wait()
                run.handle = run.shipping.result()
            return run
        from ..distributed.maprun import child_type

        pointer = next(here for here, _n, state in ex.machine.iter_states()
                       if state.type == "Map" and state.processor is processor)
        integrations = ex.integrations
        spec = ChildSpec(str(uuid.uuid4()), ex.machine.definition, pointer, ex.handlers,
                         integrations.config if integrations is not None else None, ex.region,
                         child_type(ex, processor),
                         ex.state_machine_name, ex.state_machine_arn, ex.token_arn, ex.seed, ex.payload_limit,
                         ex.wait_scale, ex.clock.virtual, dict(getattr(ex, "s3_folders", None) or {}))
        run = _Run(spec, dumps_spec(spec))
        self._runs[key] = self._by_id[spec.id] = run
        run.shipping = Outcome()  # the children that come meanwhile wait for it
        self.background.spawn(self._shipped, run)
        await run.shipping.wait()
        run.handle = run.shipping.result()
        if len(self._runs) > self.KEEP_RUNS:  # forget the oldest that have no child out
            for key, old in list(self._runs.items()):
                if len(self._runs) <= self.KEEP_RUNS:
                    break
                if not old.waiting and not old.chunks:
                    del self._runs[key]
                    self._by_id.pop(old.spec.id, None)
                    self.background.spawn(self._forget, old)
        return run

    def _chunk_size(self, run: _Run, pending: int) -> int:
        slots = max(1, self.slots())
        if run.per_child:  # about TARGET seconds each
            size = int(self.TARGET / max(run.per_child, 1e-6))
        else:  # not known yet: a few chunks for each worker
            size = math.ceil(pending / (self.SPREAD * slots))
        return max(1, min(size, self.MAX_CHUNK))

    async def _shipped(self, run: _Run) -> None:
        try:
            run.shipping.fill(True, await self._ship(run))
        except Exception as exc:  # every child waiting for the spec fails with it
            run.shipping.fill(False, exc)
        finally:  # cancelled: the executor closes
            run.shipping.fill(False, RuntimeError(f"the {self.name} executor closed"))

    def _flush_later(self, run: _Run, delay: float) -> None:
        run.flush_at = scope = anyio.CancelScope()
        self.background.spawn(self._flush_after, run, scope, delay)

    async def _flush_after(self, run: _Run, scope: anyio.CancelScope, delay: float) -> None:
        with scope:
            await anyio.sleep(delay)
            if run.flush_at is scope:
                run.flush_at = None
                self._flush(run)

    def _flush(self, run: _Run) -> None:
        """Send the queued children out in chunks of the target size. While every worker has a
        chunk running and one waiting, fewer children than that wait (5 ms at a time) for more:
        the workers lose nothing and chunks stay large (Dask's cost is per chunk); else they go."""
        if run.flush_at is not None:
            run.flush_at.cancel()
            run.flush_at = None
        busy = 2 * max(1, self.slots())
        while run.pending:
            size = self._chunk_size(run, len(run.pending))
            if len(run.pending) < size and run.out >= busy:
                self._flush_later(run, 0.005)
                return
            chunk, run.pending = run.pending[:size], run.pending[size:]
            run.out += 1
            self.background.spawn(self._dispatch, run, chunk)

    async def _dispatch(self, run: _Run, jobs: list[Job]) -> None:
        chunk = f"asl-chunk-{uuid.uuid4().hex}"
        run.chunks[chunk] = {job.index for job in jobs}
        attempts = 0
        try:
            while True:
                live = run.chunks.get(chunk)
                if not live:
                    return
                todo = [job for job in jobs if job.index in live]
                try:
                    records = await self._submit(run, chunk, todo)
                except WorkLost as exc:
                    for job in todo:  # they may have run (their Tasks called) on the lost worker
                        job.rerun = True
                    attempts += 1
                    if attempts > MAX_ATTEMPTS:
                        self._fail(run, chunk, f"the worker running the child execution was lost {attempts} "
                                               f"times ({exc})")
                        return
                    continue
                except Exception as exc:  # (a cancellation is no Exception: it goes through)
                    self._fail(run, chunk, f"{type(exc).__name__}: {exc}")
                    return
                self.deliver(run, chunk, records)
                if run.chunks.get(chunk):  # reported records still on their way: give them a moment
                    for _ in range(20):
                        await anyio.sleep(0.05)
                        if not run.chunks.get(chunk):
                            break
                if not run.chunks.get(chunk):
                    return
        finally:
            run.out -= 1
            run.chunks.pop(chunk, None)
            run.handles.pop(chunk, None)
            self._finished(chunk)
            if run.pending:  # a worker is free: what waits for a larger chunk goes now
                self._flush(run)

    def deliver(self, run: _Run, chunk: str, records: list[ChildRecord]) -> None:
        """Records of `chunk` arrived (returned, or reported while it ran)."""
        live = run.chunks.get(chunk)
        for record in records:
            if record.seconds:
                run.per_child = record.seconds if not run.per_child else 0.8 * run.per_child + 0.2 * record.seconds
            if live is not None:
                live.discard(record.index)
            awaited = run.waiting.get(record.index)
            if awaited is not None:
                awaited.fill(True, record)

    def _fail(self, run: _Run, chunk: str, cause: str) -> None:
        for index in run.chunks.get(chunk, ()):
            awaited = run.waiting.get(index)
            if awaited is not None:
                awaited.fill(True, ChildRecord(index, "FAILED", error="States.Runtime",
                                               cause=f"The child execution could not run on the {self.name} "
                                                     f"executor: {cause}"))

    def _withdraw(self, run: _Run, index: int) -> None:
        for i, job in enumerate(run.pending):
            if job.index == index:
                del run.pending[i]
                return
        for chunk, live in list(run.chunks.items()):
            if index in live:
                live.discard(index)
                if not live and self.background.active:  # (closed: its work was cancelled already)
                    self.background.spawn(self._cancel, run, chunk)
                return
