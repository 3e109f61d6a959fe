"""The service's detached work: what outlives the request that started it (an execution started
by StartExecution, resumed or taken over, the takeover poll, a Map Run's delayed save). It runs
in one anyio task group the server holds open while it serves (`Background.serving`, entered in
the ASGI lifespan), each task in a cancel scope of its own (`Handle`)."""
from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Awaitable, Callable

import anyio

log = logging.getLogger("asl.service")


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
    def __init__(self) -> None:
        self._group: Any = None

    @asynccontextmanager
    async def serving(self) -> AsyncIterator[None]:
        """While the server serves: the task group detached work runs in. Leaving it cancels
        what still runs and waits for its end."""
        failure: Exception | None = None
        try:
            async with anyio.create_task_group() as group:
                self._group = group
                try:
                    yield
                except Exception as exc:  # raised below as it is, not in an exception group
                    failure = exc
                finally:
                    group.cancel_scope.cancel()
        finally:
            self._group = None
        if failure is not None:
            raise failure

    def spawn(self, work: Callable[..., Awaitable[Any]], *args: Any, name: str | None = None) -> Handle:
        """Run `work(*args)` in the task group. What it raises (an Exception) is logged: one task's
        failure ends no other."""
        if self._group is None:
            raise RuntimeError("the service is not serving (its ASGI lifespan has not started, or has ended)")
        handle = Handle()

        async def run() -> None:
            try:
                with handle.scope:
                    await work(*args)
            except Exception:  # (a cancellation is no Exception: it goes through)
                log.exception("%s failed", name or getattr(work, "__qualname__", "a background task"))
            finally:
                handle.done.set()

        self._group.start_soon(run, name=name)
        return handle
