"""Distributed Map children on a Dask cluster (``--executor dask`` / ``dask://HOST:PORT``).

The spec of a Map's children is scattered to every worker once; each chunk is one Dask task
(`_dask_chunk`) that runs its children on the worker's event loop. While a chunk runs, the
records of its finished children are sent to the coordinator as worker events (every
`child.REPORT_EVERY` seconds): the coordinator writes which children of the chunk are done into
the scheduler's metadata, so when the worker dies and the scheduler runs the chunk again
elsewhere (Dask reschedules a lost worker's tasks by itself), the new attempt skips them.
The chunk's task asks its worker whether the task was cancelled (the coordinator gave the
chunk up) between reports, and stops its children then.

Import `distributed` only here (this module is imported when a Dask executor is asked for).
"""
from __future__ import annotations

import pickle
import uuid
from typing import Any

import anyio
from distributed.diagnostics.plugin import SchedulerPlugin

from . import ExecutorError
from .chunked import ChunkedExecutor, WorkLost, _Run
from .child import ChildRecord, Job, load_spec, run_chunk

TOPIC = "asl-engine-records"
META = "asl-engine-done"


class DaskExecutor(ChunkedExecutor):
    """``address`` None: a `LocalCluster` of `workers` processes (one thread each; default one
    per core, up to 4) for as long as the executor is open; else the scheduler at ``address``
    (``tcp://HOST:PORT``) and its workers (`workers` None)."""

    name = "dask"

    def __init__(self, address: str | None = None, workers: int | None = None, threads: int = 1):
        super().__init__()
        import os

        self.address = address
        self.workers = workers or min(4, os.cpu_count() or 1) if address is None else workers
        self.threads = threads
        self.cluster: Any = None
        self.client: Any = None
        self._slots = 1
        self._dirty: dict[str, tuple[_Run, str]] = {}
        self._done: dict[str, set[int]] = {}

    async def _open(self) -> None:
        from distributed import Client, LocalCluster

        if self.address is None:
            import dask

            # the workers' statistical profiler samples every thread's stack every 10 ms (deep
            # asyncio stacks while a chunk runs): time taken from the children, for a dashboard
            # that is not started here
            with dask.config.set({"distributed.worker.profile.enabled": False}):
                self.cluster = await LocalCluster(n_workers=self.workers,
                                                  threads_per_worker=self.threads, processes=True,
                                                  asynchronous=True, dashboard_address=None, host="127.0.0.1")
            self.client = await Client(self.cluster, asynchronous=True)
        else:
            # kept before it connects, so that `aclose` closes a client that could not: one left to
            # the collector closes itself with coroutines nobody awaits (RuntimeWarnings)
            self.client = Client(self.address, asynchronous=True)
            try:
                await self.client
            except (OSError, ValueError) as exc:  # refused, unknown host, Dask's connect timeout (30 s), bad address
                raise ExecutorError(f"cannot reach the Dask scheduler at {self.address}: {exc}") from None
        self.client.subscribe_topic(TOPIC, self._on_records)
        try:
            await self.client.register_plugin(LostChunks())
        except Exception:  # noqa: S110 - a scheduler without asl-engine: no redelivery marks
            pass
        await self._count_slots()

    async def _close(self) -> None:
        if self.client is not None:
            try:
                self.client.unsubscribe_topic(TOPIC)
            except Exception:  # noqa: S110 - closing anyway
                pass
            await self.client.close()
            self.client = None
        if self.cluster is not None:
            await self.cluster.close()
            self.cluster = None

    async def _count_slots(self) -> None:
        info = self.client.scheduler_info()
        workers = (info or {}).get("workers") or {}
        self._slots = max(1, sum(w.get("nthreads", 1) for w in workers.values()))

    def slots(self) -> int:
        return self._slots

    async def _ship(self, run: _Run) -> Any:
        await self._count_slots()
        return await self.client.scatter(run.blob, broadcast=True, hash=False)

    async def _submit(self, run: _Run, chunk: str, jobs: list[Job]) -> list[ChildRecord]:
        from distributed import KilledWorker

        # jobs and records travel as one pickle each: Dask would serialise a list item by item
        future = self.client.submit(_dask_chunk, run.handle, run.spec.id, chunk,
                                    pickle.dumps(jobs, protocol=pickle.HIGHEST_PROTOCOL),
                                    key=f"{chunk}-{uuid.uuid4().hex[:8]}", pure=False)
        run.handles[chunk] = future
        try:
            return pickle.loads(await future)
        except KilledWorker as exc:
            raise WorkLost(f"distributed.KilledWorker: {exc}") from None
        finally:
            run.handles.pop(chunk, None)

    async def _cancel(self, run: _Run, chunk: str) -> None:
        future = run.handles.get(chunk)
        if future is not None:
            await self.client.cancel([future])

    def _finished(self, chunk: str) -> None:
        if self._done.pop(chunk, None) is not None and self.client is not None:  # it reported: forget that
            self.background.spawn(self.client.set_metadata, [META, chunk], None)

    # ---- reports from running chunks -------------------------------------------------------------

    def _on_records(self, event: Any) -> None:
        _stamp, msg = event
        run = self._by_id.get(msg.get("spec"))
        if run is None:
            return
        chunk = msg["chunk"]
        records = pickle.loads(msg["records"])
        self._done.setdefault(chunk, set()).update(r.index for r in records)
        if chunk not in self._dirty:
            self._dirty[chunk] = (run, chunk)
            if len(self._dirty) == 1:
                self.background.spawn(self._write_done)
        self.deliver(run, chunk, records)

    async def _write_done(self) -> None:
        """Tell the scheduler which children of the running chunks are done (for a chunk's next
        attempt, should its worker be lost): one write per chunk per report period."""
        await anyio.sleep(0.01)
        dirty, self._dirty = self._dirty, {}
        for chunk, (run, _) in dirty.items():
            done = self._done.get(chunk)
            if done is not None and chunk in run.chunks:
                await self.client.set_metadata([META, chunk, "done"], sorted(done))


def _dask_chunk(blob: bytes, spec_id: str, chunk: str, jobs_blob: bytes) -> bytes:
    """The Dask task of one chunk (runs on a worker): its jobs pickled, its records pickled."""
    from distributed import get_client, get_worker

    spec = load_spec(blob, spec_id)
    worker = get_worker()
    key = worker.get_current_task()
    known: Any = {}
    try:  # an earlier attempt of this chunk, on a worker since lost ("lost"), finished these ("done")
        known = get_client().get_metadata([META, chunk], None) or {}
    except Exception:  # noqa: S110 - nothing known: run them all
        pass

    def report(records: list[ChildRecord]) -> None:
        worker.log_event(TOPIC, {"spec": spec_id, "chunk": chunk,
                                 "records": pickle.dumps(records, protocol=pickle.HIGHEST_PROTOCOL)})

    def cancelled() -> bool:
        task = worker.state.tasks.get(key)
        return task is None or task.state not in ("executing", "long-running")

    jobs: list[Job] = pickle.loads(jobs_blob)
    if known.get("lost"):  # its children may have run (their Tasks called) before: at least once
        for job in jobs:
            job.rerun = True
    return pickle.dumps(run_chunk(spec, jobs, known.get("done") or (), report, cancelled),
                        protocol=pickle.HIGHEST_PROTOCOL)


class LostChunks(SchedulerPlugin):
    """A scheduler plugin: when a worker is lost, the chunks it was running or holding (or whose
    result it held) are marked "lost" in the scheduler's metadata, before the scheduler sends them elsewhere, so
    their next attempt knows its children are redelivered (``TaskContext.redelivered``).
    Registered by the coordinator; a scheduler that cannot load it (asl-engine not installed
    there) runs the chunks again all the same, without the mark."""

    name = "asl-engine-lost-chunks"
    idempotent = True

    def __init__(self) -> None:
        self.scheduler: Any = None

    async def start(self, scheduler: Any) -> None:
        self.scheduler = scheduler

    def log_event(self, topic: str, msg: Any) -> None:
        if topic != "all" or not isinstance(msg, dict) or msg.get("action") != "remove-worker":
            return
        # running or held there, and those that had finished there with a result not fetched yet
        for key in [*(msg.get("processing-tasks") or ()), *(msg.get("lost-computed-tasks") or ())]:
            if isinstance(key, str) and key.startswith("asl-chunk-"):
                self.scheduler.set_metadata(keys=[META, key.rsplit("-", 1)[0], "lost"], value=True)

