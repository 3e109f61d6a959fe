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

import asyncio
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
    seconds: float = 0.0  # how long the child ran (the coordinator sizes chunks by it)


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


async def run_child(spec: ChildSpec, job: Job) -> ChildRecord:
    """One child execution, as `Execution.run_child` runs it in its parent's process."""
    from ...errors import StatesError
    from ..clock import Clock, VirtualClock
    from ..execution import Execution
    from ..interpreter import run_block
    from ..staterun import Frame

    began = time.perf_counter()
    setup = compiled(spec)
    processor = setup.processor
    child = Execution(processor, job.value, name=job.name, handlers=spec.handlers, mocks=None,
                      clock=VirtualClock(job.start) if spec.virtual else Clock(), machine_type=spec.machine_type,
                      region=spec.region, state_machine_name=spec.state_machine_name,
                      payload_limit=spec.payload_limit, seed=spec.seed)
    child.arn, child.token_arn = job.arn, spec.token_arn
    child.integrations = setup.integrations
    if spec.s3_folders:
        child.s3_folders = spec.s3_folders
    child.state_machine_arn, child.wait_scale = spec.state_machine_arn, spec.wait_scale
    child.start_time = job.start
    child.history._events.append(("ExecutionStarted", 0, job.start, None, None))  # the coordinator's
    record = ChildRecord(job.index, "FAILED")
    async with child.clock.joined():  # this task runs the child (a virtual clock's books)
        try:
            record.output = await run_block(child, processor, job.value, Frame({}, 0, None, job.path, job.key))
            record.status = "SUCCEEDED"
        except StatesError as err:
            record.error, record.cause = err.error, err.cause
        except Exception as exc:  # a bug of ours, as the parent's process reports one
            record.error, record.cause = "States.Runtime", \
                f"asl-engine internal error: {type(exc).__name__}: {exc}"
    record.events = child.history._events[1:]
    record.transitions, record.calls, record.unserved = child.transitions, child.calls, child.unserved
    record.seconds = time.perf_counter() - began
    return record


_loops = threading.local()


def _loop() -> asyncio.AbstractEventLoop:
    """This thread's event loop, kept between chunks (a worker thread runs one chunk at a time)."""
    loop = getattr(_loops, "loop", None)
    if loop is None or loop.is_closed():
        loop = _loops.loop = asyncio.new_event_loop()
    return loop


REPORT_EVERY = 0.01  # seconds between reports of finished children while a chunk runs
CONCURRENCY = 16     # children of a chunk that run at once (they wait on I/O together)


def run_chunk(spec: ChildSpec, jobs: list[Job], skip: Any = (), report: Callable[[list], None] | None = None,
              cancelled: Callable[[], bool] | None = None) -> list[ChildRecord]:
    """Run `jobs` (not those whose index is in `skip`: their records reached the coordinator in an
    earlier attempt of this chunk) on one event loop, `CONCURRENCY` at a time. Every `REPORT_EVERY` seconds the
    records finished since are handed to `report` (and not returned), and `cancelled()` is asked
    whether the coordinator gave the chunk up (then the rest is not run); the others are returned."""
    skip = set(skip or ())
    todo = [job for job in jobs if job.index not in skip]
    if not todo:
        return []

    async def main() -> list[ChildRecord]:
        done: list[ChildRecord] = []
        slots = asyncio.Semaphore(CONCURRENCY)

        async def one(job: Job) -> ChildRecord:
            async with slots:
                return await run_child(spec, job)
        tasks = [asyncio.ensure_future(one(job)) for job in todo]
        for task in tasks:
            task.add_done_callback(lambda t: done.append(t.result()) if not t.cancelled() else None)
        pending = set(tasks)
        while pending:
            finished, pending = await asyncio.wait(pending, timeout=REPORT_EVERY)
            if cancelled is not None and pending and cancelled():
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
                return []
            if report is not None and pending and done:
                out, done[:] = list(done), []
                report(out)
        return done

    return _loop().run_until_complete(main())
