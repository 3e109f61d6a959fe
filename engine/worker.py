"""A worker: advances the RUNNING executions of a store that no live process holds.

Several processes (or machines) pointed at one PostgreSQL store share its executions: each
worker claims executions whose lease is free or has run out, resumes them from their journal,
and renews their leases while it runs them. When a process dies, the other workers take its
executions over: a few seconds later on PostgreSQL (which sees its connection close), else when
its leases run out. ``asl worker`` runs one; ``asl serve`` embeds one.

    worker = Worker(store, handlers=handlers)
    await worker.run()                  # until cancelled
    await worker.run(until_idle=True)   # until nothing is left to take up (tests, batch jobs)
"""
from __future__ import annotations

from typing import Any, Callable

import anyio

from .execution import LEASE_SECONDS, LeaseLost, default_owner
from .stores import watch_registration


class Worker:
    """Claims and resumes executions. ``options`` are `asl.engine.prepare_resume`'s handler and
    mock options; `on_result(result)` hears of each execution this worker ends."""

    def __init__(self, store: Any, *, owner: str | None = None, lease_seconds: float = LEASE_SECONDS,
                 poll_seconds: float = 1.0, concurrency: int = 1000,
                 on_result: Callable[[Any], Any] | None = None, **options: Any):
        self.store = store
        self.owner = owner or default_owner()
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self.concurrency = concurrency
        self.on_result = on_result
        self.options = options
        self.running: dict[str, Any] = {}   # ARN -> Execution being advanced here
        self.failures: list[tuple[str, BaseException]] = []   # executions this worker could not resume
        self.registered = True  # whether the store counts this worker alive (`_registered`)

    async def run(self, until_idle: bool = False) -> None:
        await self.store.register_process(self.owner)  # (PostgreSQL: the others see it alive)
        async with anyio.create_task_group() as tg:
            tg.start_soon(watch_registration, self.store, self.owner, self._registered)
            while True:
                if not self.registered:  # (the others may count this process dead)
                    await anyio.sleep(self.poll_seconds)
                    continue
                room = self.concurrency - len(self.running)
                claimed = await self.store.claim(self.owner, self.lease_seconds, limit=room) if room > 0 else []
                given_up = {arn for arn, _ in self.failures}
                for record in claimed:  # (left to others: holding them would keep them from everyone)
                    if record.arn in given_up:
                        await self.store.release(self.owner, record.arn)
                claimed = [r for r in claimed if r.arn not in given_up]
                for record in claimed:
                    if record.arn not in self.running:
                        self.running[record.arn] = None
                        tg.start_soon(self._advance, record.arn)
                if until_idle and not claimed and not self.running:
                    tg.cancel_scope.cancel()
                    return
                await anyio.sleep(self.poll_seconds if not claimed else 0)

    def _registered(self, held: bool) -> None:
        """`watch_registration`'s word: if the store stopped counting this process alive for a
        moment, the others may have taken its executions over: stop advancing them all (what
        nobody took is claimed back from the journals once it is registered again)."""
        self.registered = held
        if not held:
            for execution in self.running.values():
                if execution is not None:
                    execution.abandon()

    async def _advance(self, arn: str) -> None:
        from .resuming import prepare_resume

        try:
            execution = await prepare_resume(self.store, arn, owner=self.owner, lease_seconds=self.lease_seconds,
                                             **self.options)
            self.running[arn] = execution
            if not self.registered:  # (lost while it was being prepared)
                execution.abandon()
            result = await execution.run()
            if self.on_result is not None:
                self.on_result(result)
        except LeaseLost:
            pass  # another worker has it now
        except Exception as exc:  # keep serving the others; the failure is reported, the lease given up
            self.failures.append((arn, exc))
            try:
                await self.store.release(self.owner, arn)
            except Exception:  # (the store is away: the lease runs out by itself)
                pass
        finally:
            self.running.pop(arn, None)
