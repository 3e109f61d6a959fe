"""GetActivityTask across the processes sharing a PostgreSQL store.

`SharedActivityBroker` has `asl.engine.callbacks.ActivityBroker`'s interface (the executions
offer, GetActivityTask takes), with the queue in the store's ``activity_tasks`` table
(`asl.engine.stores.postgres`): a task an execution running in one process offers goes to the
first worker that polls any of them, once (the take is an UPDATE of a row claimed with
``FOR UPDATE SKIP LOCKED``). Changes are announced with PostgreSQL's NOTIFY, which wakes the
waits here at once; each wait also looks at the store now and then, so a notification lost
(the listening connection dropped) delays a hand-out, never loses it.

A task's way: offered (its row written, once its execution's journal holds ActivityScheduled:
resumed after a crash, the execution replays up to the task, so the answer of a worker handed
the task from its row waits for it rather than finding no task), taken (a worker's process
claimed it, naming the worker), delivered (that process wrote the task to its worker; an
answer or a heartbeat with the token says so too), started (its execution has recorded
ActivityStarted naming that worker). The claimed row is the durable record of the take, so the
worker gets the token at once, whether or not the process running the execution is alive: if
it died, the execution resumes elsewhere, offers the task again under the same token, finds the
row taken and records ActivityStarted with its worker. The token names the execution
(`asl.engine.callbacks`): its answers reach the process that runs it as any SendTask* does. A
take whose worker never got it (the poll was cancelled, or its answer not written) is given
back: offered again, and the worker of the next take is the one ActivityStarted names. A take
whose process never says delivered nor gives it back (it died) counts as delivered after
`DELIVERY_GRACE`; given back after that (or once started), the task is ``returned`` and the next
poll hands it out at once, its start on record. The row stays until the task ends (or its
execution does).
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable

import anyio
import anyio.lowlevel

from asl.engine.callbacks import event_of, wake

log = logging.getLogger("asl.service")

# how often a wait looks at the store when no notification came
OFFER_CHECK = 5.0  # an offered task (one check per task: kept rare, there may be thousands)
TAKE_CHECK = 1.0   # a poll or a taken task (a few, one per waiting worker)
# how long a take waits for its process's word (delivered, or given back) before it counts as
# delivered: that process writes its answer at once, and says so, unless it died meanwhile
DELIVERY_GRACE = 10.0


class _Offer:
    __slots__ = ("arn", "event", "delivered", "recorded")

    def __init__(self, arn: str, recorded: anyio.Event | None):
        self.arn = arn
        self.event = anyio.Event()  # its row changed (taken, delivered), or it was delivered here
        self.delivered = False  # its worker has it (told here: its take was delivered, or answered)
        self.recorded = recorded


class SharedActivityBroker:
    """Activity tasks in a shared store (see the module). ``spawn(work, *args)`` runs detached
    work (the service's `Background`); `listen` runs for as long as the service serves."""

    def __init__(self, store: Any, spawn: Callable[..., Any], known: Callable[[str], Any] | None = None):
        self.store = store
        self.spawn = spawn
        self.known = known  # does an activity ARN exist (see asl.engine.callbacks.activity_exists)
        self.offers: dict[str, _Offer] = {}       # tasks offered by executions running here, by token
        self.arrived: dict[str, anyio.Event] = {}  # by activity ARN: a task was offered (somewhere)
        self.stopped = False

    def pending(self, arn: str) -> int:
        """How many tasks of `arn` offered here wait for a worker (as ActivityBroker.pending)."""
        return sum(1 for offer in self.offers.values() if offer.arn == arn and not offer.delivered)

    async def listen(self) -> None:
        """Wake the waits here on the store's notifications (reconnecting when the connection drops)."""
        said = None
        while True:
            try:
                async for payload in self.store.notifications():
                    said = None  # (listening again: a later loss is said again)
                    kind, _, key = payload.partition(" ")
                    if kind == "offered":
                        wake(self.arrived, key)
                    elif kind in ("taken", "delivered"):
                        offer = self.offers.get(key)
                        if offer is not None:
                            offer.event.set()
            except Exception as exc:  # the store is away: the waits look at it by themselves meanwhile
                if said is None:  # (said once while it stays away)
                    log.warning("activity tasks: listening: %s", exc)
                said = exc
            await anyio.sleep(TAKE_CHECK)

    async def offer(self, arn: str, token: str, input: str, recorded: anyio.Event | None = None,
                    noted: Callable[..., Any] | None = None) -> str | None:
        """Offer the task until a worker (of any process) has it; its workerName. Cancelled
        before it is taken, the task is withdrawn (taken meanwhile, it is left to its worker).
        (`noted`: the task's row is its durable record here, give-backs included: nothing to
        journal.)"""
        from asl.engine.callbacks import decode_token

        offer = self.offers[token] = _Offer(arn, recorded)
        execution_arn = decode_token(token)[0]
        state = None
        try:
            state, worker = await self.store.offer_task(token, arn, execution_arn, input)
            taken_at = None  # (monotonic) when the take was first seen here
            while state in ("offered", "taken"):
                wait = OFFER_CHECK
                if state == "taken":
                    taken_at = time.monotonic() if taken_at is None else taken_at
                    wait = taken_at + DELIVERY_GRACE - time.monotonic()
                    if offer.delivered or wait <= 0:  # its worker has it (or its process is silent)
                        break
                    wait = min(wait, TAKE_CHECK)
                else:
                    taken_at = None  # (given back meanwhile)
                with anyio.move_on_after(wait):
                    await offer.event.wait()
                offer.event = anyio.Event()  # (what wakes it from now on comes after the look below)
                found = await self.store.task_state(token)
                if found is None:  # removed meanwhile (its execution looked ended): offered again
                    state, worker = await self.store.offer_task(token, arn, execution_arn, input)
                else:
                    state, worker = found
            if state in ("taken", "delivered"):  # started once the execution has recorded ActivityStarted
                self.spawn(self._started, token, recorded, name=f"activity task {token[:16]}")
            return worker
        finally:
            self.offers.pop(token, None)
            if state == "offered":  # (cancelled: the task timed out, the execution stops or moves)
                with anyio.CancelScope(shield=True):
                    try:
                        if not await self.store.drop_task(token, ("offered",)):
                            # taken meanwhile: its worker gets the token (its answer: TaskTimedOut)
                            await self.store.mark_task(token, ("taken", "delivered"), "started")
                    except Exception as exc:  # the store is away: pruned once the execution ends
                        log.warning("withdrawing activity task: %s", exc)

    def restore(self, arn: str, token: str, input: str, noted: Callable[..., Any]) -> None:
        """(A task given back before a crash: its row, ``returned``, hands it out already.)"""

    async def _started(self, token: str, recorded: anyio.Event | None) -> None:
        if recorded is not None:
            await recorded.wait()
        try:
            await self.store.mark_task(token, ("taken", "delivered"), "started")
        except Exception as exc:  # the store is away: a process resuming the execution records it
            log.warning("activity task started: %s", exc)

    async def get_task(self, arn: str, worker_name: str | None = None, timeout: float = 60.0, *,
                       held: bool = False) -> tuple[str, str] | None:
        """GetActivityTask: ``(taskToken, input)`` of the oldest task of `arn` offered by any
        process, waiting up to `timeout` seconds for one; None when none came (or `stop_polls`
        was called). Handed out as soon as it is claimed (the claim records the take); cancelled
        before it returns, the task is given back. `held`: the caller says whether it delivered
        it (`delivered` or `give_back`); else it counts as delivered on return."""
        taken = None
        with anyio.move_on_after(timeout):
            while not self.stopped:
                arrived = event_of(self.arrived, arn)  # (before looking: an offer meanwhile wakes it)
                # the claim runs to its end: a claim committed but cancelled before its answer
                # was read would be a task nobody has
                with anyio.CancelScope(shield=True):
                    taken = await self.store.take_task(arn, worker_name)
                if taken is not None:
                    break
                with anyio.move_on_after(TAKE_CHECK):
                    await arrived.wait()
        if taken is None:
            return None
        token, input, _ = taken
        try:
            await anyio.lowlevel.checkpoint_if_cancelled()
        except anyio.get_cancelled_exc_class():  # nothing reached the worker: the next poll gets it
            with anyio.CancelScope(shield=True):
                await self.give_back(token)
            raise
        if not held:
            await self.delivered(token)
        return token, input

    async def delivered(self, token: str) -> None:
        """The task a `held` `get_task` returned has reached its worker: its execution (here,
        or in the process that runs it) records ActivityStarted naming it."""
        if token in self.offers:
            self.answered(token)
            return
        try:
            await self.store.mark_task(token, "taken", "delivered")
        except Exception as exc:  # the store is away: the take counts as delivered after DELIVERY_GRACE
            log.warning("activity task delivered: %s", exc)

    def answered(self, token: str) -> None:
        """An answer or a heartbeat came with `token` (it runs where its execution runs): if the
        execution waits for its task's worker to have it, it has."""
        offer = self.offers.get(token)
        if offer is not None:
            offer.delivered = True
            offer.event.set()

    async def give_back(self, token: str) -> bool:
        """A task `get_task` returned that never reached its worker goes back to the queue (see
        the module); False when it is no longer on record (or the store is away: then it stays
        with that worker, and waits for its TimeoutSeconds)."""
        try:
            return await self.store.return_task(token)
        except Exception as exc:
            log.warning("giving activity task back: %s: it stays with the worker it was handed to, "
                        "and waits for its TimeoutSeconds", exc)
            return False

    def stop_polls(self) -> None:
        """Shutting down: the polls waiting answer None now, and later ones at once."""
        self.stopped = True
        for event in self.arrived.values():
            event.set()
        self.arrived.clear()

    async def end(self, token: str, cancelled: bool = False) -> None:
        """The task with `token` has ended: its row goes. Not when `cancelled` (its execution
        stops, or moves to another process, which goes on with the row: a stopped execution's
        rows are pruned)."""
        if cancelled:
            return
        try:
            await self.store.drop_task(token)
        except Exception as exc:  # the store is away: pruned once the execution ends
            log.warning("activity task ended: %s", exc)
