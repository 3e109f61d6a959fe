"""Time for an execution: real, or virtual (Waits and retry delays take no real time).

Every timestamp the engine writes (history, ``$$.State.EnteredTime``, Timestamp waits) comes
from the execution's clock, and every delay goes through `Clock.sleep`, so a test can run a
one-day Wait instantly while the history still shows the day passing.

`VirtualClock` works like trio's ``MockClock(autojump_threshold=0)``: when every task of the
execution is blocked on a virtual sleep, time jumps to the earliest deadline and that sleeper
wakes. Work that happens outside the event loop (a sync handler in a worker thread) marks the
clock busy: time does not jump while it runs, but deadlines run down in real time meanwhile,
and time moves to a deadline reached that way (a 5 s ``time.sleep`` handler under
``TimeoutSeconds: 1`` times out after 1 real second, 1 s later in virtual time). A quick
handler adds no virtual time, so timestamps stay the same from run to run. A task waiting
for a callback token does not mark the clock busy: if nothing else can happen, its
TimeoutSeconds / HeartbeatSeconds expire at once, in virtual time, as they would after that
long on AWS.
"""
from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from contextlib import contextmanager
from collections import deque
from typing import Any, Iterator

import anyio


class Clock:
    """Real time: `now()` is the wall clock, `sleep` really waits."""

    virtual = False

    def now(self) -> float:
        return time.time()

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

    async def in_turn(self, done: "asyncio.Future") -> Any:
        """The result of work done outside the loop (`done`, set from a thread): in real time,
        as soon as it is there."""
        return await done


class VirtualClock(Clock):
    """Virtual time starting at `start` (epoch seconds; default: now)."""

    virtual = True

    def __init__(self, start: float | None = None):
        self._now = time.time() if start is None else float(start)
        self._sleepers: list[tuple[float, int, anyio.Event, bool]] = []  # (deadline, seq, event, passive)
        self._active = 0  # sleepers that are not passive
        self._seq = itertools.count()
        self._busy = 0
        self._busy_start: tuple[float, float] | None = None  # (virtual, real monotonic) time busy began
        self._outside = 0
        self.grace = 0.1
        self._turns: deque[list] = deque()  # [future, delivered event], in the order the work began
        self.patience = 1.0  # real seconds a finished result waits behind an unfinished earlier one
        self._head_since: tuple[Any, float] | None = None  # (head turn, real monotonic time it became head)
        self._driver: asyncio.Task | None = None
        self._wake: asyncio.Event | None = None

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward by hand (tests); sleepers whose deadline passed wake on the next jump."""
        self._now += seconds

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
        try:
            yield
        finally:
            self._outside -= 1

    async def in_turn(self, done: "asyncio.Future") -> Any:
        """The result of work done outside the loop, handed back in the order the work began
        and only when every task of the run is blocked, so thread timing never changes the
        order of events. A result finished behind an earlier one that still runs after
        `patience` real seconds goes first (slow work is timing-dependent anyway, and work
        that waits for the run's progress must not wait forever)."""
        turn = [done, anyio.Event()]
        self._turns.append(turn)
        done.add_done_callback(lambda _: self._poke())
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
                self._poke()
        return done.result()

    def _deliver(self) -> bool:
        """Hand back the next result that may go now; False when none may."""
        turns = self._turns
        if not turns:
            return False
        head = turns[0]
        if head[0].done():
            turns.popleft()
            head[1].set()
            return True
        now = time.monotonic()
        if self._head_since is None or self._head_since[0] is not head:
            self._head_since = (head, now)
        elif now - self._head_since[1] >= self.patience:
            for turn in turns:
                if turn[0].done():
                    turns.remove(turn)
                    turn[1].set()
                    return True
        return False

    def _waiting_behind(self) -> bool:
        """A finished result waits for an earlier unfinished one."""
        return any(turn[0].done() for turn in self._turns)

    async def sleep(self, seconds: float, passive: bool = False) -> None:
        if seconds <= 0:
            await anyio.sleep(0)
            return
        event = anyio.Event()
        entry = (self._now + seconds, next(self._seq), event, passive)
        heapq.heappush(self._sleepers, entry)
        self._active += not passive
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
                self._poke()

    async def sleep_passive(self, seconds: float) -> None:
        await self.sleep(seconds, passive=True)

    # ---- the driver: jumps time when the loop has nothing else to do ------------------------

    def _poke(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def _ensure_driver(self) -> None:
        if self._driver is None or self._driver.done():
            loop = asyncio.get_running_loop()
            self._wake = asyncio.Event()
            self._driver = loop.create_task(self._drive())

    async def _drive(self) -> None:
        loop = asyncio.get_running_loop()
        ready = getattr(loop, "_ready", None)
        spins = 0
        while self._sleepers or self._turns:
            # Let every runnable task run until all are blocked.
            await asyncio.sleep(0)
            if ready is not None:
                if len(ready) > 0:
                    # A task that polls with sleep(0) keeps the loop from ever being idle: a
                    # finished result is handed back anyway after a while (still in its turn).
                    if self._turns and self._turns[0][0].done():
                        spins += 1
                        if spins > 100:
                            spins = 0
                            self._deliver()
                    continue
            else:  # pragma: no cover - other loop implementations
                for _ in range(20):
                    await asyncio.sleep(0)
            spins = 0
            if self._deliver():
                continue
            if not self._sleepers or (self._turns and not self._active):
                # Only work outside the loop to wait for: until it reports (or, when a finished
                # result waits behind a slow one, until patience runs out).
                self._wake.clear()
                if self._waiting_behind():
                    try:
                        await asyncio.wait_for(self._wake.wait(), self.patience / 4)
                    except asyncio.TimeoutError:
                        pass
                else:
                    await self._wake.wait()
                continue
            if self._busy and self._active:
                due = self._sleepers[0][0] - self._busy_time()
                if due > 0:  # wait in real time, unless the work ends or something happens first
                    if self._waiting_behind():
                        due = min(due, self.patience / 4)
                    self._wake.clear()
                    try:
                        await asyncio.wait_for(self._wake.wait(), due)
                    except asyncio.TimeoutError:
                        pass
                    continue
            elif not self._active:
                # Only passive deadlines left: nothing in the run moves time; wait for a sleeper
                # (a handler may be awaiting real I/O meanwhile).
                self._wake.clear()
                await self._wake.wait()
                continue
            elif self._outside:
                before = len(self._sleepers), self._sleepers[0] if self._sleepers else None
                await asyncio.sleep(self.grace)  # real time: let an outside completer act
                if not self._sleepers or (len(self._sleepers), self._sleepers[0]) != before:
                    continue
                if ready is not None and len(ready) > 0:
                    continue
            deadline, _, event, passive = heapq.heappop(self._sleepers)
            self._active -= not passive
            if deadline > self._now:
                self._now = deadline
            event.set()
        self._driver = None
