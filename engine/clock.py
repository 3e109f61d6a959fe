"""Time for an execution: real, or virtual (Waits and retry delays take no real time).

Every timestamp the engine writes (history, ``$$.State.EnteredTime``, Timestamp waits) comes
from the execution's clock, and every delay goes through `Clock.sleep`, so a test can run a
one-day Wait instantly while the history still shows the day passing.

`VirtualClock` works like trio's ``MockClock(autojump_threshold=0)``: when every task of the
execution is blocked on a virtual sleep, time jumps to the earliest deadline and that sleeper
wakes. Work that happens outside the event loop (a sync handler in a worker thread, an HTTP
call) marks the clock busy: time does not jump while it runs, but deadlines run down in real
time meanwhile, and time moves to a deadline reached that way (a 5 s ``time.sleep`` handler
under ``TimeoutSeconds: 1`` times out after 1 real second, 1 s later in virtual time). A quick
handler adds no virtual time, so timestamps stay the same from run to run. A task waiting
for a callback token does not mark the clock busy: if nothing else can happen, its
TimeoutSeconds / HeartbeatSeconds expire at once, in virtual time, as they would after that
long on AWS.

How the clock knows that every task is blocked, with nothing but anyio's public API: it keeps
the books itself. The tasks of a run are the clock's *strands*: the task running the
execution (`Clock.joined`) and the tasks it starts through `Clock.task_group` (branches,
iterations, a Task's timers). The clock counts the strands that may run; a strand stops
counting while it is parked in one of the clock's waits (`sleep`, `in_turn`,
`awaiting_outside`, `waiting`) or waits for the tasks of its group, and counts again when it
wakes. A strand that awaits anything else (a store write, an async handler's own I/O) still
counts, so virtual time waits for it. When the count falls to zero the driver (a task of
the clock's own) lets the event loop take a few more turns, for the wake-ups already under
way (an event set, a task group's end), and if the count is still zero, time moves.
"""
from __future__ import annotations

import heapq
import itertools
import time
from collections import deque
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from typing import Any, AsyncIterator, Awaitable, Callable, Iterator

import anyio
import anyio.lowlevel

from .apitime import api_time


class Outcome:
    """What work done outside the run gave (a worker thread's return or exception, an HTTP
    answer): filled once, on the event loop's thread, then handed back by `Clock.in_turn`
    (or awaited with `wait`: a remote child's record, a nested child's end)."""

    __slots__ = ("ok", "value", "filled", "_event", "_listeners")

    def __init__(self) -> None:
        self.ok = False
        self.value: Any = None
        self.filled = False
        self._event = anyio.Event()
        self._listeners: list[Callable[[], None]] = []

    def fill(self, ok: bool, value: Any) -> None:
        if self.filled:  # the caller may have stopped waiting
            return
        self.ok, self.value, self.filled = ok, value, True
        self._event.set()
        for listener in self._listeners:
            listener()

    def result(self) -> Any:
        if self.ok:
            return self.value
        raise self.value

    async def wait(self) -> None:
        """Until it is filled (then `result`)."""
        await self._event.wait()


class Clock:
    """Real time: `now()` is the wall clock, `sleep` really waits."""

    virtual = False

    def now(self) -> float:
        return api_time()  # to the millisecond, as AWS keeps times (history events, start and stop)

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(max(0.0, seconds))

    async def sleep_passive(self, seconds: float) -> None:
        """`sleep` for a deadline that watches the run (AWS's maximum execution duration):
        under virtual time it never makes time jump by itself, it only fires when other
        sleepers take time past it."""
        await self.sleep(seconds)

    @contextmanager
    def busy(self) -> Iterator[None]:
        yield

    @contextmanager
    def awaiting_outside(self) -> Iterator[None]:
        """A task waits for something from outside the execution (a callback token)."""
        yield

    @contextmanager
    def waiting(self) -> Iterator[None]:
        """A task of the run waits for another one (a free slot, a child execution's end)."""
        yield

    @contextmanager
    def holding(self) -> Iterator[None]:
        """A task of the run waits for work done elsewhere on a clock of its own, work that never
        waits for this run (a Distributed Map child on a remote executor): see `VirtualClock`."""
        yield

    async def in_turn(self, outcome: Outcome) -> Any:
        """The result of work done outside the loop (`outcome`, filled from a thread or another
        task): in real time, as soon as it is there."""
        await outcome.wait()
        return outcome.result()

    @asynccontextmanager
    async def joined(self) -> AsyncIterator[None]:
        """The current task runs an execution on this clock (see `VirtualClock`)."""
        yield

    def task_group(self) -> "_Group":
        """An anyio task group whose tasks are the run's (see `VirtualClock`)."""
        return _Group(None)


async def run_outside(work: Callable[[], Awaitable[Any]], clock: Clock) -> Any:
    """Await `work()` (I/O with the world: an HTTP call) in a task of its own, and take its
    result in turn (`Clock.in_turn`), as a worker thread's: under virtual time, how long the
    world takes never changes the order of the run's events."""
    outcome = Outcome()

    async def go() -> None:
        try:
            value = await work()
        except Exception as exc:  # noqa: BLE001 - handed back to the waiting task, never lost here
            outcome.fill(False, exc)
        else:
            outcome.fill(True, value)

    failure: Exception | None = None
    async with anyio.create_task_group() as tg:
        tg.start_soon(go)  # not one of the run's tasks: the world's
        with clock.busy():
            try:
                return await clock.in_turn(outcome)
            except Exception as exc:  # raised below: out of the task group, not in an exception group
                failure = exc
    raise failure


# The run's task the current task is, if any: (clock, anyio task id). A task started by a
# strand without `task_group` inherits the value, hence the task id.
_strand: ContextVar[tuple[Any, int] | None] = ContextVar("asl_clock_strand", default=None)


class VirtualClock(Clock):
    """Virtual time starting at `start` (epoch seconds; default: now)."""

    virtual = True
    # Turns of the event loop the driver lets pass, after the last strand parked, before it
    # believes the run blocked: a wake-up under way takes one (an event set, a cancellation)
    # or two (a task's end waking the task that awaits it).
    SETTLE = 2

    def __init__(self, start: float | None = None):
        self._now = time.time() if start is None else float(start)
        self._sleepers: list[list] = []  # [deadline, seq, event, passive, strand] (a heap)
        self._active = 0  # sleepers that are not passive
        self._seq = itertools.count()
        self._busy = 0
        self._busy_start: tuple[float, float] | None = None  # (virtual, real monotonic) time busy began
        self._outside = 0
        self._held = 0  # strands in `holding`
        self.grace = 0.1
        self._turns: deque[list] = deque()  # [outcome, delivered event, strand], in the order the work began
        self.patience = 1.0  # real seconds a finished result waits behind an unfinished earlier one
        self._head_since: tuple[Any, float] | None = None  # (head turn, real monotonic time it became head)
        self._running = 0    # strands that may run (not parked in one of the clock's waits)
        self._progress = 0   # counts what strands do with the clock (the driver's sign of life)
        self._homes: list[Any] = []  # task groups of the runs on this clock, where the driver may live
        self._driver: Any = None     # the cancel scope of the driver, while it runs
        self._wake = anyio.Event()

    def now(self) -> float:
        self._progress += 1
        return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward by hand (tests); sleepers whose deadline passed wake on the next jump."""
        self._now += seconds

    # ---- the books: which tasks of the run may run ---------------------------------------------

    def _mine(self) -> bool:
        """Whether the current task is one of this clock's strands."""
        strand = _strand.get()
        return strand is not None and strand[0] is self and strand[1] == anyio.get_current_task().id

    def _enter(self) -> None:
        self._running += 1
        self._progress += 1

    def _leave(self) -> None:
        self._running -= 1
        self._progress += 1
        if not self._running:
            self._poke()

    @asynccontextmanager
    async def joined(self) -> AsyncIterator[None]:
        """The current task runs an execution on this clock: it is a strand (unless it is one
        already), and the run's task group is a home for the driver while it lasts."""
        mine = self._mine()
        if not mine:
            token = _strand.set((self, anyio.get_current_task().id))
            self._enter()
        try:
            async with anyio.create_task_group() as home:
                self._homes.append(home)
                try:
                    if self._sleepers or self._turns:
                        self._ensure_driver()
                    yield
                finally:
                    self._homes.remove(home)
                    if self._driver is not None and self._driver[1] is home:
                        self._driver[0].cancel()  # it lived here: it moves to another home, if any
                        self._driver = None
                        if self._homes and (self._sleepers or self._turns):
                            self._ensure_driver()
        except BaseExceptionGroup as group:  # noqa: F821 - builtin in 3.11
            # the driver raises nothing: the run's own exception, as it was raised
            if len(group.exceptions) == 1:
                raise group.exceptions[0] from group.exceptions[0].__cause__
            raise
        finally:
            if not mine:
                _strand.reset(token)
                self._leave()

    def task_group(self) -> "_Group":
        return _Group(self)

    @contextmanager
    def waiting(self) -> Iterator[None]:
        """A strand waits for another task of the run (a free slot, a child execution's end):
        parked meanwhile, so the others may make time move."""
        if not self._mine():
            yield
            return
        self._leave()
        try:
            yield
        finally:
            self._enter()

    @contextmanager
    def holding(self) -> Iterator[None]:
        """A strand waits for work done elsewhere on a clock of its own that never waits for this
        run: a Distributed Map child on a remote executor, whose record tells how much virtual
        time it took (the strand then sleeps that long: `chunked.ChunkedExecutor.run`). Time
        stands still meanwhile, however long the work takes in real time: the strand counts as
        running, and the driver never takes it for stalled (`_blocked`), so what the run does
        meanwhile happens at the virtual times it would have inline."""
        mine = self._mine()
        if not mine:
            self._enter()
        self._held += 1
        try:
            yield
        finally:
            self._held -= 1
            if not mine:
                self._leave()
            if not self._held:  # the driver may look for a stall again
                self._poke()

    # ---- work outside the loop -------------------------------------------------------------------

    @contextmanager
    def busy(self) -> Iterator[None]:
        """Work happens outside the event loop: no jumps, but deadlines run down in real time."""
        if not self._busy:
            self._busy_start = (self._now, time.monotonic())
        self._busy += 1
        try:
            yield
        finally:
            self._busy -= 1
            if not self._busy:
                self._busy_start = None
            self._poke()

    def _busy_time(self) -> float:
        """Virtual time as if it had flowed in real time since the clock became busy."""
        virtual, real = self._busy_start
        return max(self._now, virtual + time.monotonic() - real)

    @contextmanager
    def awaiting_outside(self) -> Iterator[None]:
        """While a callback token is awaited, time jumps only after the loop has stayed idle
        for `grace` real seconds, so a completer that polls in real time gets its chance."""
        self._outside += 1
        mine = self._mine()
        if mine:
            self._leave()
        try:
            yield
        finally:
            self._outside -= 1
            if mine:
                self._enter()

    async def in_turn(self, outcome: Outcome) -> Any:
        """The result of work done outside the loop, handed back in the order the work began
        and only when every task of the run is blocked, so thread timing never changes the
        order of events. A result finished behind an earlier one that still runs after
        `patience` real seconds goes first (slow work is timing-dependent anyway, and work
        that waits for the run's progress must not wait forever)."""
        mine = self._mine()
        turn = [outcome, anyio.Event(), mine]
        self._turns.append(turn)
        outcome._listeners.append(self._poke)
        if mine:
            self._leave()
        self._ensure_driver()
        self._poke()
        try:
            await turn[1].wait()
        finally:
            if not turn[1].is_set():  # cancelled: give up the turn
                try:
                    self._turns.remove(turn)
                except ValueError:
                    pass
                if mine:
                    self._enter()
                self._poke()
        return outcome.result()

    def _hand(self, turn: list) -> None:
        turn[1].set()
        if turn[2]:
            self._enter()  # the strand runs again from now: counted before it wakes

    def _deliver(self) -> bool:
        """Hand back the next result that may go now; False when none may."""
        turns = self._turns
        if not turns:
            return False
        head = turns[0]
        if head[0].filled:
            turns.popleft()
            self._hand(head)
            return True
        now = time.monotonic()
        if self._head_since is None or self._head_since[0] is not head:
            self._head_since = (head, now)
        elif now - self._head_since[1] >= self.patience:
            for turn in turns:
                if turn[0].filled:
                    turns.remove(turn)
                    self._hand(turn)
                    return True
        return False

    def _waiting_behind(self) -> bool:
        """A finished result waits for an earlier unfinished one."""
        return any(turn[0].filled for turn in self._turns)

    # ---- sleeping --------------------------------------------------------------------------------

    async def sleep(self, seconds: float, passive: bool = False) -> None:
        if seconds <= 0:
            await anyio.lowlevel.checkpoint()
            return
        if not self._homes:  # no run on this clock: nothing else can happen meanwhile
            self._now += seconds
            await anyio.lowlevel.checkpoint()
            return
        event = anyio.Event()
        mine = self._mine()
        entry = [self._now + seconds, next(self._seq), event, passive, mine]
        heapq.heappush(self._sleepers, entry)
        self._active += not passive
        if mine:
            self._leave()
        self._ensure_driver()
        self._poke()
        try:
            await event.wait()
        finally:
            if not event.is_set():  # cancelled: forget the entry
                try:
                    self._sleepers.remove(entry)
                    heapq.heapify(self._sleepers)
                    self._active -= not passive
                except ValueError:
                    pass
                if mine:
                    self._enter()
                self._poke()

    async def sleep_passive(self, seconds: float) -> None:
        await self.sleep(seconds, passive=True)

    # ---- the driver: jumps time when the run has nothing else to do -----------------------------

    def _poke(self) -> None:
        self._wake.set()

    async def _pause(self, seconds: float | None = None) -> bool:
        """Wait for a poke (at most `seconds` real seconds); whether one came."""
        if not self._wake.is_set():
            if seconds is None:
                await self._wake.wait()
            else:
                with anyio.move_on_after(seconds):
                    await self._wake.wait()
        if not self._wake.is_set():
            return False
        self._wake = anyio.Event()
        return True

    def _ensure_driver(self) -> None:
        if self._driver is None and self._homes:
            home = self._homes[-1]
            scope = anyio.CancelScope()
            self._driver = (scope, home)
            home.start_soon(self._drive, scope)

    async def _blocked(self) -> bool:
        """Whether every strand is parked: after a poke, and a few turns of the loop later
        still (the wake-ups under way land first). A strand that stays busy with something
        outside the clock for `patience` real seconds without a sign of life (nothing it does
        goes through the clock) counts as blocked, so work that waits for the run's progress
        never waits forever (not while a strand is `holding`: that work never waits for it)."""
        if self._running > 0:
            progress = self._progress
            # (a stall matters only when something could happen: a sleeper to wake, a result to
            # hand; and never while a strand is `holding`: its work ends without the run's help)
            stall = self.patience if (self._active or self._turns) and not self._held else None
            if await self._pause(stall) or self._progress != progress or self._running <= 0:
                return False
            return True  # stalled
        progress = self._progress
        for _ in range(self.SETTLE):
            await anyio.lowlevel.checkpoint()
            if self._progress != progress:  # a strand ran meanwhile (even if it parked again): look again
                return False
        return True

    async def _drive(self, scope: anyio.CancelScope) -> None:
        try:
            with scope:
                await self._driving()
        finally:
            if self._driver is not None and self._driver[0] is scope:
                self._driver = None

    async def _driving(self) -> None:
        while self._sleepers or self._turns:
            if not await self._blocked():
                continue
            if self._deliver():
                continue
            if not self._sleepers or (self._turns and not self._active):
                # Only work outside the loop to wait for: until it reports (or, when a finished
                # result waits behind a slow one, until patience runs out).
                await self._pause(self.patience / 4 if self._waiting_behind() else None)
                continue
            if self._busy and self._active:
                due = self._sleepers[0][0] - self._busy_time()
                if due > 0:  # wait in real time, unless the work ends or something happens first
                    if self._waiting_behind():
                        due = min(due, self.patience / 4)
                    await self._pause(due)
                    continue
            elif not self._active:
                # Only passive deadlines left: nothing in the run moves time; wait for a sleeper
                # (a handler may be awaiting real I/O meanwhile).
                await self._pause()
                continue
            elif self._outside:
                before = len(self._sleepers), self._sleepers[0][:2]
                # real time: let an outside completer act (a poke meanwhile: look again)
                if await self._pause(self.grace) or self._running > 0:
                    continue
                if not self._sleepers or (len(self._sleepers), self._sleepers[0][:2]) != before:
                    continue
            deadline, _, event, passive, mine = heapq.heappop(self._sleepers)
            self._active -= not passive
            if deadline > self._now:
                self._now = deadline
            event.set()
            if mine:
                self._enter()  # the strand runs again from now: counted before it wakes
            else:  # a task outside the run's books: give it a moment to do what it woke for
                await self._pause(self.grace)


class _Group:
    """An anyio task group whose tasks are strands of `clock` (`VirtualClock.task_group`; with
    no clock, a plain task group).

    Each task counts from the moment it is started; the task that opened the group stops
    counting while it waits for them at the end of the ``async with`` body, and the task whose
    end wakes it (the last one, or the first to fail, which cancels the rest) hands its count
    over to it, so the count never falls to zero while the group is ending."""

    def __init__(self, clock: VirtualClock | None):
        self._clock = clock
        self._tg = anyio.create_task_group()
        self._alive = 0
        self._parked = False  # the opener waits for the tasks and nobody handed it a count yet

    @property
    def cancel_scope(self) -> anyio.CancelScope:
        return self._tg.cancel_scope

    async def __aenter__(self) -> "_Group":
        self._mine = self._clock is not None and self._clock._mine()
        await self._tg.__aenter__()
        return self

    def start_soon(self, fn: Callable[..., Awaitable[Any]], *args: Any, name: Any = None) -> None:
        if not self._mine:  # opened by a task outside the books: so are its tasks
            self._tg.start_soon(fn, *args, name=name)
            return
        self._alive += 1
        self._clock._enter()
        self._tg.start_soon(self._strand, fn, args, name=name)

    def start_soon_outside(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
        """A task that is not one of the run's (it waits for the world, not for the clock)."""
        self._tg.start_soon(fn, *args)

    async def _strand(self, fn: Callable[..., Awaitable[Any]], args: tuple) -> None:
        clock = self._clock
        _strand.set((clock, anyio.get_current_task().id))
        failed = True
        try:
            await fn(*args)
            failed = False
        finally:
            self._alive -= 1
            if self._parked and (failed or not self._alive):
                self._parked = False  # the opener wakes: this count is its
            else:
                clock._leave()

    async def __aexit__(self, *exc_info: Any) -> Any:
        if self._mine and exc_info[0] is None and self._alive:
            self._parked = True
            self._clock._leave()
        try:
            return await self._tg.__aexit__(*exc_info)
        finally:
            if self._parked:  # woken otherwise (cancelled): counted again
                self._parked = False
                self._clock._enter()
