"""A Map Run: the coordinator of a Distributed Map (DISTRIBUTED-MAP-SPEC.md sections 3 and 5).

It stays with the parent execution: it reads the items (from the state input, or streamed
from S3 by the ItemReader in windows), selects and batches them, keeps at most MaxConcurrency
children running (changeable while it runs: `MapRunControl`), counts what ends, and fails the
Map Run as soon as the failures cross the tolerance (``States.ExceedToleratedFailureThreshold``),
aborting the children still running. Then the ResultWriter exports the records (or the state
output is built from them).

Tolerance against a total not known yet (a reader still streaming): ToleratedFailureCount is
checked at every failure, ToleratedFailurePercentage once the reader has counted every item
(then at every failure, and at the end).
"""
from __future__ import annotations

import uuid
from typing import Any, Iterator

import anyio

from ...errors import StatesError
from ..mapfields import map_items, tolerance
from ..observe import IterationChanged, MapStarted
from ..staterun import ChildAborted, Located, aborted_with
from . import itemreader
from .batching import Batcher, selector
from .objects import Buckets
from .resultwriter import Writer, pending, record

WINDOW = 1000  # items read per trip to the reader's thread
LOOKAHEAD = 100_000  # children started beyond the first one whose record is not written yet


def buckets_of(ex: Any) -> Buckets:
    return Buckets(getattr(ex, "s3_folders", None), ex.integrations)


async def run_distributed(run: Any, effective: Any, scope: Any, control: Any) -> tuple[Any, int]:
    """The Map state's work: MapStateStarted, the Map Run; returns the result (before
    ResultSelector) and the id of the Map Run's first event (MapRunStarted, or MapRunRedriven).
    `control` (a `MapRunControl` with the Map's MaxConcurrency) gets the tolerance here."""

    state, ex = run.state, run.ex
    source = state.item_reader
    items = None if source is not None else map_items(run, effective)
    observer = ex.observer
    select = selector(run, effective)
    length = 0  # with an ItemReader: not counted up front
    if items is not None:
        length = len(items)
        if observer is not None and not state.is_jsonata:
            run.note("afterItemsPath", items)
        if select is not None:
            items = [select(index, item) for index, item in enumerate(items)]
            if observer is not None:
                run.note("afterItemSelector", items)
            select = None
    redriven = _redriven(run)
    if redriven is not None:  # the Map Run failed and the execution is redriven: the same Map Run goes on,
        # after the MapStateStarted of the state's first run, not written again (raw AWS capture, radkawar/stackd
        # testdata/aws/stepfunctions/redrive_map.json, standard:terminal and express:terminal: MapRunRedriven's
        # previousEventId is the first MapStateStarted's id)
        map_run_arn, started, attempt = redriven
        run.frame.seq += 1
        ex.replay.take((run.frame.key, run.frame.seq))  # (kept by the redrive's cut, `Recorded.cut_failures`)
        run.frame.last = started
    else:
        run.event("MapStateStarted", {"length": length})
    if observer is not None:
        run.tell(MapStarted, length)
    tolerated_count, tolerated_pct = tolerance(run, scope)
    control.update(tolerated_count=tolerated_count, tolerated_pct=tolerated_pct)
    reader = itemreader.configure(run, source, effective) if source is not None else None
    batcher = Batcher.configure(run, scope) if state.item_batcher is not None else None
    writer = Writer.configure(run, effective) if state.result_writer is not None else Writer("COMPACT", "JSON",
                                                                                                None, "")
    if redriven is not None:
        label = processor_arn(map_run_arn).partition(":stateMachine:")[2].partition("/")[2]
        opened = run.event("MapRunRedriven", {"mapRunArn": map_run_arn, "redriveCount": attempt})
        writer.redrive = attempt
    else:
        label = state.label or generated_label(run)
        map_run_arn = ex.map_run_arn(label)
        opened = run.event("MapRunStarted", {"mapRunArn": map_run_arn})
    return await MapRun(run, map_run_arn, label, control, writer, batcher).execute(items, reader, select), opened


def generated_label(run: Any) -> str:
    """The label of a Map Run whose state has no ``Label``: AWS "automatically generates a unique
    label" (DG "state-map-distributed"), "a user-defined or an auto-generated string that
    identifies a Map state" (API DescribeStateMachineForExecution ``label``). AWS's generated
    labels are name-based UUIDs (version 3; e.g. ``…:mapRun:MACHINE/3318ddf7-9a0e-3259-a825-
    55a4e8e3e9b1:RUN`` in the raw AWS capture radkawar/stackd
    ``testdata/aws/stepfunctions/distributed_map.json``, two Map states of one machine with two
    labels); the name AWS hashes is not known. Here: the state machine's ARN and the state's name
    (unique in a machine), so every entry into the state, every execution and a redrive give its
    Map Runs and their children the same labelled machine, ``…:stateMachine:MACHINE/LABEL``."""
    return str(uuid.uuid3(uuid.NAMESPACE_URL, f"{run.ex.state_machine_arn}#{run.state.name}"))


def processor_arn(arn: str) -> str:
    """The ARN of the state machine a Map Run's children are executions of,
    ``…:stateMachine:MACHINE/LABEL``, from the Map Run's ARN (``…:mapRun:MACHINE/LABEL:UUID``) or
    a child's (``…:execution:MACHINE/LABEL:NAME``, ``…:express:MACHINE/LABEL:NAME:UUID``)."""
    parts = arn.split(":")
    return ":".join(parts[:5] + ["stateMachine", parts[6]])


def child_arn(state_machine_arn: str, map_run_arn: str, index: int, express: bool = False) -> str:
    """The ARN of a Map Run's child `index`. STANDARD: ``...:execution:MACHINE/LABEL:NAME``, the
    name a name-based UUID (version 3, as AWS's child names are in the capture `generated_label`
    cites) of the Map Run and the index. EXPRESS: ``...:express:MACHINE/LABEL:NAME:UUID``, as AWS
    names Express executions. The same child keeps its ARN when resumed or redriven, an Express
    one too (raw AWS capture, radkawar/stackd testdata/aws/stepfunctions/redrive_map.json,
    express:terminal:children: the failed child's ARN after the redrive)."""
    prefix, _, machine = state_machine_arn.partition(":stateMachine:")
    name = uuid.uuid3(uuid.NAMESPACE_URL, f"{map_run_arn}#{index}")
    if not express:
        return f"{prefix}:execution:{machine}:{name}"
    return f"{prefix}:express:{machine}:{name}:{uuid.uuid3(uuid.NAMESPACE_URL, f'{map_run_arn}#{index}#0')}"


def child_type(ex: Any, processor: Any) -> str:
    """STANDARD or EXPRESS: the type of the child executions of a Distributed Map's `processor`
    (its ``ProcessorConfig.ExecutionType``; the parent's own type if it has none)."""
    config = getattr(processor, "processor_config", None)
    return getattr(config, "execution_type", None) or ex.type


def _redriven(run: Any) -> tuple[str, int, int] | None:
    """(the ARN of the Map Run this entry into the state started in an earlier attempt of a
    redriven execution, the id of that attempt's MapStateStarted, the Map Run's redrive count
    now), else None. Called before MapStateStarted: the Map Run's first event sits one position
    after it."""
    ex = run.ex
    if not ex.redrive_count or ex.replay is None:
        return None
    key, seq = run.frame.key, run.frame.seq
    arn = started = None
    redrives = 0
    for event in reversed(ex.replay.events):
        if event.site is None or tuple(event.site[0]) != key:
            continue
        if event.site[1] == seq + 2 and event.type in ("MapRunStarted", "MapRunRedriven"):
            if arn is None:
                arn = (event.details or {}).get("mapRunArn")
            redrives += event.type == "MapRunRedriven"
        elif arn is not None and event.site[1] == seq + 1 and event.type == "MapStateStarted":
            started = event.id
            break
    return (arn, started, redrives + 1) if arn is not None and started is not None else None


class MapRun:
    """One Map Run of one entry into the state: its children, counts, tolerance and results."""

    def __init__(self, run: Any, arn: str, label: str, control: Any, writer: Writer, batcher: Batcher | None):
        self.run, self.ex, self.arn, self.label = run, run.ex, arn, label
        self.control, self.writer, self.batcher = control, writer, batcher
        self.state_machine_arn = processor_arn(arn)
        self.express = child_type(run.ex, run.state.processor) == "EXPRESS"
        self.sizes: list[int] = []   # items per child, as children start (the service reads it)
        self.items = 0               # items read so far
        self.read_all = False        # ... and whether that is all of them
        self.failed = 0              # items of the children that failed or timed out
        self.breach: StatesError | None = None
        self.group: Any = None       # the task group of the children
        self.starting: Any = None    # the cancel scope of starting them (and reading the items)
        self.started = 0             # children started
        self.window: tuple[int, list] = (0, [])  # the children being started: (first index, [(input, items)])

    # ---- the run --------------------------------------------------------------------------------

    async def execute(self, items: list | None, reader: Any, select: Any) -> Any:
        """Run the children of `items` (selected already), or of the items `reader` reads
        (`select`: their ItemSelector)."""
        run, ex, writer = self.run, self.ex, self.writer
        planned = None
        if items is not None:  # known up front: so are the children (the service counts them pending)
            planned = list(self._children(items))
            self.sizes.extend(size for _, size in planned)
            self.items, self.read_all = len(items), True
        listener = ex.map_runs
        if listener is not None:
            await listener.map_run_started(ex, self.arn, run.name, self.label, self.control, self.items, self.sizes,
                                           writer.exports)
        status, err = "SUCCEEDED", None
        written = None  # exported: (items, children) in the result files
        try:
            async with self.ex.clock.task_group() as tg:
                self.group = tg
                try:
                    with anyio.CancelScope() as self.starting:
                        if planned is not None:
                            self.window = (0, planned)
                            for index, (value, _size) in enumerate(planned):
                                await self._start(tg, index, value)
                        else:
                            await self._stream(tg, reader, select)
                    self._check()
                except StatesError as failure:  # the reader failed: the Map Run ends
                    err = failure
                    tg.cancel_scope.cancel()
            if err is None:
                err = self.breach or self._breached(final=True)
            if writer.exports:
                self._pending()
                try:
                    exported = await _in_thread(lambda: writer.export(buckets_of(ex), self.arn))
                    written = (writer.written_items + writer.earlier[1], writer.written + writer.earlier[0])
                except StatesError as failure:
                    err = err or failure
            if err is not None:
                status = "FAILED"
                run.event("MapRunFailed", {"error": err.error, "cause": err.cause})
                raise Located(err.error, err.cause)  # (the Map state fails with the Map Run's cause as it is)
        except anyio.get_cancelled_exc_class():
            status = "ABORTED"
            run.event("MapRunAborted")
            raise
        finally:
            writer.discard()
            if listener is not None:
                with anyio.CancelScope(shield=True):
                    await listener.map_run_finished(self.arn, status, err, written)
        run.event("MapRunSucceeded")
        return exported if writer.exports else writer.output()

    def _children(self, values: Any, last: bool = True) -> Iterator[tuple[Any, int]]:
        """(child input, items in it) for each child closed by the (selected) item `values`;
        `last`: these are the last items (the batcher gives up what it holds)."""
        batcher = self.batcher
        for value in values:
            if batcher is None:
                yield value, 1
                continue
            for batch in batcher.add(value):
                yield batcher.envelope(batch), len(batch)
        if last and batcher is not None:
            for batch in batcher.flush():
                yield batcher.envelope(batch), len(batch)

    async def _stream(self, tg: Any, reader: Any, select: Any) -> None:
        """Children from the ItemReader, read in windows in a worker thread."""
        stream: Iterator[Any] = itemreader.read(reader, buckets_of(self.ex))
        child = 0
        while True:
            window = await _in_thread(lambda: _take(stream, WINDOW))
            first, self.items = self.items, self.items + len(window)
            if not window:
                self.read_all = True
            values = (select(index, item, source) if select is not None else item
                      for index, (source, item) in enumerate(window, first))
            children = list(self._children(values, last=not window))
            self.window = (child, children)
            for value, size in children:
                await self._start(tg, child, value, size)
                child += 1
            if not window:
                return

    async def _start(self, tg: Any, index: int, value: Any, size: int | None = None) -> None:
        while self.writer.exports and index - self.writer.next >= LOOKAHEAD:
            with self.ex.clock.waiting():  # a child far behind holds the records after it: let it finish first
                await anyio.sleep(0.005)
        with self.ex.clock.waiting():
            await self.control.acquire()
        if size is not None:
            self.sizes.append(size)
        tg.start_soon(self._child, index, value, self.sizes[index])
        self.started += 1
        if index % 64 == 63 and self.ex.executor is not None:
            # let the children started so far reach the executor, which sends them out while
            # more start (else the workers would wait until up to 10,000 children had started)
            await anyio.lowlevel.checkpoint()

    async def _child(self, index: int, value: Any, size: int) -> None:
        run, ex, writer = self.run, self.ex, self.writer
        observer = ex.observer
        meta: dict = {"start": ex.clock.now()}  # (filled by run_child: the child's ARN, start, redrive count)
        earlier = writer.exports and writer.redrive and ex.child_done_earlier(run.frame, index)
        try:
            if observer is not None:
                run.tell(IterationChanged, index, "started")
            try:
                output = await ex.run_child(run.state.processor, value, index, run.frame, run.name, self.arn,
                                            run.view() if observer is not None else None, meta)
            except StatesError as err:
                status = "ABORTED" if isinstance(err, ChildAborted) else (
                    "TIMED_OUT" if err.error == "States.Timeout" else "FAILED")
                writer.add(index, status, None, self._record(index, status, value, None, err, meta), size)
                if observer is not None:
                    run.tell(IterationChanged, index, "failed")
                if status != "ABORTED":
                    self.failed += size
                self._check()
                return
            except anyio.get_cancelled_exc_class():
                # aborted with its Map Run: an ABORTED record (FAILED_<n>.json) when the failed Map
                # Run's results are written; when the execution itself is stopped nothing is written
                writer.add(index, "ABORTED", None, self._record(index, "ABORTED", value, None, None, meta,
                                                                 aborted_with(self.arn)), size)
                if observer is not None:
                    run.tell(IterationChanged, index, "aborted")
                raise
            full = self._record(index, "SUCCEEDED", value, output, None, meta) \
                if writer.needs_records and not earlier else None
            writer.add(index, "SUCCEEDED", output, full, size, earlier)
            if observer is not None:
                run.tell(IterationChanged, index, "succeeded")
        finally:
            self.control.release()

    def _pending(self) -> None:
        """The children the Map Run did not start (it failed first) go to PENDING_<n>.json with
        their input: those planned (items known up front) or read (the ItemReader's window) only;
        items not read yet are in no file."""
        first, children = self.window
        for offset, (value, size) in enumerate(children):
            if first + offset >= self.started:
                self.writer.add(first + offset, "PENDING", None, pending(value), size)

    def _record(self, index: int, status: str, value: Any, output: Any, err: StatesError | None, meta: dict,
                cause: str | None = None) -> dict:
        """Child `index`'s record for the results (`meta`: what `run_child` told of it; nothing
        when its outcome came from the journal)."""
        arn = meta.get("arn") or child_arn(self.state_machine_arn, self.arn, index, self.express)
        return record(arn, self.state_machine_arn, status, value, output, err.error if err else None,
                      err.cause if err else cause, meta["start"], self.ex.clock.now(), meta.get("redrive_count", 0),
                      meta.get("redrive_time"))

    # ---- tolerance ------------------------------------------------------------------------------

    def _check(self) -> None:
        """Fail the Map Run now if the failures so far cross the tolerance: start and read no
        more, abort the STANDARD children still running. EXPRESS ones run to their end, and the
        Map Run fails once they have (raw AWS capture, radkawar/stackd
        testdata/aws/stepfunctions/redrive_map.json, express:failed: the child in its 30 s Wait
        when another failed the Map Run SUCCEEDED, the Map Run ended after it, succeeded 3,
        failed 1, aborted 0; finding express-map-restarts-failed-processor-only)."""
        if self.breach is None and self.failed:
            self.breach = self._breached(final=False)
            if self.breach is not None:
                (self.starting if self.express and self.starting is not None else self.group.cancel_scope).cancel()

    def _breached(self, final: bool) -> StatesError | None:
        control = self.control
        if not self.failed:
            return None
        if self.read_all or final:
            crossed = control.exceeded(self.failed, self.items)
        else:  # the total is not known yet: only the count can be judged
            count, pct = control.tolerated_count, control.tolerated_pct
            crossed = (count is None and pct is None) or (count is not None and self.failed > count)
        if not crossed:
            return None
        return StatesError("States.ExceedToleratedFailureThreshold",
                           "The specified tolerated failure threshold was exceeded")


def _take(stream: Iterator[Any], n: int) -> list:
    out = []
    for item in stream:
        out.append(item)
        if len(out) >= n:
            break
    return out


async def _in_thread(work: Any) -> Any:
    from ..tasks import run_in_thread

    return await run_in_thread(work)
