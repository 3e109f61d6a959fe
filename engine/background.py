"""Detached work: tasks that outlive what started them. In the service: an execution started by
StartExecution, resumed or taken over, the takeover poll, a Map Run's delayed save; in a chunked
executor: chunks in flight, delayed flushes, shipping a spec, cancelling a chunk on the backend.
They run in one anyio task group their owner holds open (`Background.serving`: the ASGI lifespan,
the executor's `start` to `aclose`), each in a cancel scope of its own (`Handle`). What one raises
(an Exception) is logged with its traceback and ends no other."""
from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Awaitable, Callable

import anyio

_log = logging.getLogger(__name__)


class Handle:
    """One detached task: `cancel()` ends it (before it has begun too), `wait()` awaits its end."""

    __slots__ = ("scope", "done")

    def __init__(self) -> None:
        self.scope = anyio.CancelScope()
        self.done = anyio.Event()

    def cancel(self) -> None:
        self.scope.cancel()

    async def wait(self) -> None:
        await self.done.wait()


class Background:
    """`log`: where a task's failure is logged; `closed`: the RuntimeError's text when `spawn` is
    called outside `serving`."""

    def __init__(self, log: logging.Logger | None = None, closed: str = "the background work is not open") -> None:
        self._group: Any = None
        self._log = log or _log
        self._closed = closed

    @property
    def active(self) -> bool:
        """Whether `spawn` may be called: inside `serving` (while it closes too: what is
        spawned then starts cancelled)."""
        return self._group is not None

    @asynccontextmanager
    async def serving(self) -> AsyncIterator[None]:
        """While the owner serves: the task group detached work runs in. Leaving it cancels
        what still runs and waits for its end. An exception of the body comes out as it is,
        not in an exception group (the tasks raise nothing)."""
        failure: Exception | None = None
        try:
            async with anyio.create_task_group() as group:
                self._group = group
                try:
                    yield
                except Exception as exc:  # raised below as it is
                    failure = exc
                finally:
                    group.cancel_scope.cancel()
        finally:
            self._group = None
        if failure is not None:
            raise failure

    def spawn(self, work: Callable[..., Awaitable[Any]], *args: Any, name: str | None = None) -> Handle:
        """Run `work(*args)` in the task group. What it raises (an Exception) is logged, with its
        traceback, as `name` (else `work`'s qualified name) failing: one task's failure ends no other."""
        if self._group is None:
            raise RuntimeError(self._closed)
        handle = Handle()

        async def run() -> None:
            try:
                with handle.scope:
                    await work(*args)
            except Exception:  # (a cancellation is no Exception: it goes through)
                self._log.exception("%s failed", name or getattr(work, "__qualname__", "a background task"))
            finally:
                handle.done.set()

        self._group.start_soon(run, name=name)
        return handle
