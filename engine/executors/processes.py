"""Distributed Map children in local worker processes (``--executor processes``).

A `ProcessPoolExecutor` (spawned processes, one per core by default); each chunk is one call of
`_process_chunk` with the pickled spec, which a process unpickles and compiles once. A process
that dies breaks the pool: it is replaced, and the chunks that had not come back are sent again
(children already recorded are not). Cancelling a chunk that has started stops the pool's
processes (the others' chunks are sent again to the new pool).
"""
from __future__ import annotations

import os
from typing import Any

import anyio
import anyio.to_thread

from .chunked import ChunkedExecutor, WorkLost, _Run
from .child import ChildRecord, Job, load_spec, run_chunk


class ProcessExecutor(ChunkedExecutor):
    name = "processes"

    def __init__(self, workers: int | None = None):
        super().__init__()
        self.workers = workers or os.cpu_count() or 1
        self.pool: Any = None

    def _new_pool(self) -> Any:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        return ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"))

    async def _open(self) -> None:
        self.pool = self._new_pool()
        # the processes start (and import the engine) now, not in the first Map's time
        futures = [self.pool.submit(_warm) for _ in range(self.workers)]
        for future in futures:
            await _result(future)

    async def _close(self) -> None:
        if self.pool is not None:
            pool, self.pool = self.pool, None
            _stop(pool, join=True)

    def slots(self) -> int:
        return self.workers

    async def _submit(self, run: _Run, chunk: str, jobs: list[Job]) -> list[ChildRecord]:
        from concurrent.futures.process import BrokenProcessPool

        pool = self.pool
        try:
            future = pool.submit(_process_chunk, run.blob, run.spec.id, jobs)
        except BrokenProcessPool:
            self._renew(pool)
            raise WorkLost("a worker process died") from None
        run.handles[chunk] = future
        try:
            return await _result(future)
        except BrokenProcessPool:
            self._renew(pool)
            raise WorkLost("a worker process died") from None

    def _renew(self, broken: Any) -> None:
        if self.pool is broken:
            self.pool = self._new_pool()
            _stop(broken)

    async def _cancel(self, run: _Run, chunk: str) -> None:
        future = run.handles.get(chunk)
        if future is not None and not future.cancel() and not future.done():
            self._renew(self.pool)  # running: only stopping its process stops it


async def _result(future: Any) -> Any:
    """The result of a pool's `future`, awaited in a worker thread (``anyio.to_thread``): the
    pool's futures are `concurrent.futures` ones, which anyio awaits only that way. On
    cancellation the thread is abandoned; it ends when the future is cancelled or its process
    stopped (`_cancel`, `_stop`)."""
    return await anyio.to_thread.run_sync(future.result, abandon_on_cancel=True)


def _stop(pool: Any, join: bool = False) -> None:
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    if join:  # closing: reap them (a pool replaced while running is reaped by multiprocessing later)
        for process in processes:
            process.join(5)


def _warm() -> None:
    from . import child  # noqa: F401 - imports the engine


def _process_chunk(blob: bytes, spec_id: str, jobs: list[Job]) -> list[ChildRecord]:
    spec = load_spec(blob, spec_id)
    return run_chunk(spec, jobs)
