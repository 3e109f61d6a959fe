"""The worker's side: run a chunk of Distributed Map child executions away from their parent.

A `ChildSpec` is what every child of one Map state shares (the definition and where the Map
state is in it, the handlers, the AWS settings, the parent's identity); it is pickled once per
Map Run (cloudpickle, so handlers defined in a test or a ``--handlers`` file travel by value)
and compiled once per worker process. A `Job` is one child: the ARN and name the coordinator
gave it, its input, its start time, its frame's path and journal key. `run_chunk` runs jobs
and returns one `ChildRecord` per child: status, output or error and cause, the history
events after ``ExecutionStarted``, its transitions and calls. The coordinator
(`asl.engine.executors.chunked`) turns records back into the child execution it recorded.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

ROLE = "StepFunctionsLocalRole"


@dataclass
class ChildSpec:
    id: str
    definition: Any
    pointer: tuple          # where the Map state is in the definition (`StateMachine.iter_states`)
    handlers: Any
    aws: Any                # an AwsConfig, or None: no AWS services
    region: str
    machine_type: str
    state_machine_name: str
    state_machine_arn: str
    token_arn: str
    seed: int
    payload_limit: int | None
    wait_scale: float
    virtual: bool
    s3_folders: dict = field(default_factory=dict)  # buckets mapped to local folders (same paths on workers)


@dataclass
class Job:
    index: int
    arn: str
    name: str
    value: Any
    start: float
    path: tuple
    key: tuple
    rerun: bool = False  # sent again after its worker was lost: its Tasks may have been called
    redrive_count: int = 0            # redriven by its Map Run: its count and date ($$.Execution)
    redrive_time: float | None = None
    machine: str | None = None        # its state machine's ARN (a Map Run's: ``…:stateMachine:MACHINE/LABEL``)


@dataclass
class ChildRecord:
    index: int
    status: str
    output: Any = None
    error: str | None = None
    cause: str | None = None
    events: list = field(default_factory=list)  # history entries after ExecutionStarted
    transitions: int = 0
    calls: list = field(default_factory=list)
    unserved: list = field(default_factory=list)
    seconds: float = 0.0  # the chunk's time per child (the coordinator sizes chunks by it)
    end: float | None = None  # virtual time: the child's clock when it ended (its closing event's time)


class _Compiled:
    def __init__(self, spec: ChildSpec):
        import asl

        from ..integrations import Integrations

        machine = asl.load(spec.definition)
        for here, _name, state in machine.iter_states():
            if here == tuple(spec.pointer):
                self.processor = state.processor
                break
        else:  # the definition the coordinator sent has the Map state: this cannot happen
            raise LookupError(f"no Map state at {'/'.join(map(str, spec.pointer))}")
        self.integrations = Integrations.of(spec.aws, spec.region) if spec.aws is not None else None


_specs: dict[str, ChildSpec] = {}


def load_spec(blob: bytes, spec_id: str) -> ChildSpec:
    """The spec `blob` (`chunked.dumps_spec`) unpickled, once per process."""
    spec = _specs.get(spec_id)
    if spec is None:
        import cloudpickle

        spec = _specs[spec_id] = cloudpickle.loads(blob)
        if len(_specs) > 64:  # Map Runs long finished: forget the oldest
            _specs.pop(next(iter(_specs)))
    return spec


_compiled: dict[str, _Compiled] = {}
_compile_lock = threading.Lock()


def compiled(spec: ChildSpec) -> _Compiled:
    found = _compiled.get(spec.id)
    if found is None:
        with _compile_lock:
            found = _compiled.get(spec.id)
            if found is None:
                found = _compiled[spec.id] = _Compiled(spec)
                if len(_compiled) > 64:  # Map Runs long finished: forget the oldest
                    _compiled.pop(next(iter(_compiled)))
    return found


class _Shifted:
    """A child's view of the virtual clock its chunk shares: the same flow of time, from the
    child's own start. Inline, the children of a Map share their parent's clock; here those of
    a chunk share one (one driver for the loop: a clock per child would give each its own
    driver task, and the drivers, each waiting for the loop to be idle, keep it busy)."""

    virtual = True

    def __init__(self, base: Any, offset: float):
        self._base, self._offset = base, offset

    def now(self) -> float:
        return self._base.now() + self._offset

    def __getattr__(self, name: str) -> Any:  # sleep, busy, in_turn, ...: the shared clock's
        return getattr(self._base, name)


async def run_child(spec: ChildSpec, job: Job, clock: Any = None) -> ChildRecord:
    """One child execution, as `Execution.run_child` runs it in its parent's process (`clock`: the
    virtual clock of its chunk, when the parent's time is virtual)."""
    from ...errors import StatesError
    from ..execution import Execution
    from ..interpreter import run_block
    from ..staterun import ChildTimedOut, Frame, write_left

    setup = compiled(spec)
    processor = setup.processor
    child = Execution(processor, job.value, name=job.name, handlers=spec.handlers, mocks=None,
                      clock=_clock(spec, job, clock), machine_type=spec.machine_type,
                      region=spec.region, state_machine_name=spec.state_machine_name,
                      payload_limit=spec.payload_limit, seed=spec.seed, place=job.key)
    child.arn, child.token_arn = job.arn, spec.token_arn
    child.integrations = setup.integrations
    if spec.s3_folders:
        child.s3_folders = spec.s3_folders
    child.state_machine_arn, child.wait_scale = job.machine or spec.state_machine_arn, spec.wait_scale
    child.start_time = job.start
    child.rerun = job.rerun
    child.redrive_count, child.redrive_time = job.redrive_count, job.redrive_time
    child.history._events.append(("ExecutionStarted", 0, job.start, None, None))  # the coordinator's
    record = ChildRecord(job.index, "FAILED")
    frame = Frame({}, 0, None, job.path, job.key)
    async with child.clock.joined():  # this task runs the child (a virtual clock's books)
        try:
            record.output = await child.limited(lambda: run_block(child, processor, job.value, frame))
            record.status = "SUCCEEDED"
        except ChildTimedOut as err:  # an EXPRESS child past five minutes
            record.status, record.error, record.cause = "TIMED_OUT", err.error, err.cause
        except StatesError as err:
            record.error, record.cause = err.error, err.cause
        except Exception as exc:  # a bug of ours, as the parent's process reports one
            record.error, record.cause = "States.Runtime", \
                f"asl-engine internal error: {type(exc).__name__}: {exc}"
        finally:
            write_left(child, frame)  # (cut short: the states it was in were aborted)
        if spec.virtual:
            record.end = child.clock.now()
    record.events = child.history._events[1:]
    record.transitions, record.calls, record.unserved = child.transitions, child.calls, child.unserved
    return record


def _clock(spec: ChildSpec, job: Job, shared: Any) -> Any:
    from ..clock import Clock, VirtualClock

    if not spec.virtual:
        return Clock()
    if shared is None:
        return VirtualClock(job.start)
    return _Shifted(shared, job.start - shared.now())


CHECK_EVERY = 0.01   # seconds between asking whether the coordinator gave a running chunk up
REPORT_AFTER = 0.1   # a chunk running longer reports its finished children (a short one just returns them) ...
REPORT_EVERY = 0.05  # ... every this many seconds
CONCURRENCY = 16     # children of a chunk that run at once (they wait on I/O together)


def _timed(records: list[ChildRecord], elapsed: float, finished: int) -> list[ChildRecord]:
    """`records` with the chunk's time per finished child so far (children share the loop: a
    child's own duration counts the others' turns too; the coordinator sizes chunks by this)."""
    for record in records:
        record.seconds = elapsed / max(1, finished)
    return records


def run_chunk(spec: ChildSpec, jobs: list[Job], skip: Any = (), report: Callable[[list], None] | None = None,
              cancelled: Callable[[], bool] | None = None) -> list[ChildRecord]:
    """Run `jobs` (not those whose index is in `skip`: their records reached the coordinator in an
    earlier attempt of this chunk) on one event loop, `CONCURRENCY` at a time. Every `CHECK_EVERY`
    seconds `cancelled()` is asked whether the coordinator gave the chunk up (then the rest is not
    run); once the chunk has run `REPORT_AFTER` seconds, every `REPORT_EVERY` seconds the records
    finished since are handed to `report` (and not returned). The others are returned.

    Reports bound what a lost worker costs (its chunk's children reported are not run again) and
    cost a message each: chunks sized to about 50 ms of work (`chunked.ChunkedExecutor.TARGET`)
    never send one, long chunks (slow children) do."""
    skip = set(skip or ())
    todo = [job for job in jobs if job.index not in skip]
    if not todo:
        return []

    async def main() -> list[ChildRecord]:
        import anyio

        from ..clock import VirtualClock

        done: list[ChildRecord] = []
        clock = VirtualClock(min(job.start for job in todo)) if spec.virtual else None
        queue = iter(todo)
        finished = anyio.Event()
        failure: list[Exception] = []
        left = [len(todo)]

        async def lane() -> None:  # CONCURRENCY lanes take the jobs in order
            try:
                for job in queue:
                    done.append(await run_child(spec, job, clock))
                    left[0] -= 1
                    if not left[0]:
                        finished.set()
            except Exception as exc:  # a bug of ours: the chunk fails (the coordinator reports it)
                failure.append(exc)
                finished.set()
        began = last = time.monotonic()
        async with anyio.create_task_group() as lanes:
            for _ in range(min(CONCURRENCY, len(todo))):
                lanes.start_soon(lane)
            while not finished.is_set():
                with anyio.move_on_after(CHECK_EVERY):
                    await finished.wait()
                if finished.is_set():
                    break
                if cancelled is not None and cancelled():
                    lanes.cancel_scope.cancel()
                    return []
                now = time.monotonic()
                if report is not None and done and now - began >= REPORT_AFTER and now - last >= REPORT_EVERY:
                    out, done[:] = list(done), []
                    last = now
                    report(_timed(out, now - began, len(todo) - left[0]))
            if failure:
                lanes.cancel_scope.cancel()
        if failure:
            raise failure[0]
        return _timed(done, time.monotonic() - began, len(todo))

    # A fresh event loop per chunk (a worker thread runs one chunk at a time): nothing of a
    # chunk's run outlives it, and starting a loop costs far less than a chunk's ~0.2 s of work.
    import anyio

    return anyio.run(main)
