"""Blocking work (sync handlers, boto3 calls) in worker threads, without blocking the event loop.

Under a `VirtualClock` the results come back in the order the calls were made, at a moment
when every task of the execution is blocked, so a run under virtual time records the same
events in the same order whichever thread finishes first.
"""
from __future__ import annotations

from typing import Any, Callable


async def run_in_thread(work: Callable[[], Any], clock: Any = None) -> Any:
    """`work()` in a worker thread, awaited until it returns or the caller is cancelled.

    Unlike ``anyio.to_thread.run_sync``, cancellation is immediate whatever the thread is doing,
    and the threads are daemons, so a handler that never returns cannot keep the program alive.
    With a `clock`, the clock is busy meanwhile (virtual time does not jump over the work) and
    hands the result back in its turn (`Clock.in_turn`).
    """
    import contextvars

    import anyio
    import anyio.from_thread
    import anyio.lowlevel

    from .clock import Clock, Outcome

    token = anyio.lowlevel.current_token()  # the way back to this event loop from a thread
    outcome = Outcome()

    def job() -> None:
        try:
            ok, value = True, context.run(work)
        except BaseException as exc:  # noqa: B902 - handed back to the awaiting task, never lost here
            ok, value = False, exc
        try:
            anyio.from_thread.run_sync(outcome.fill, ok, value, token=token)
        except RuntimeError:  # the loop is closed: nobody waits for this result any more
            pass

    context = contextvars.copy_context()
    clock = clock if clock is not None else Clock()  # real time: the result as soon as it is there
    limiter = anyio.to_thread.current_default_thread_limiter()
    with clock.busy():
        with clock.waiting():  # a slot comes free when another call's result is handed back
            await limiter.acquire()
        try:
            _WORKERS.submit(job)
            return await clock.in_turn(outcome)
        finally:
            limiter.release()


class _Workers:
    """A pool of daemon threads, each taking jobs from its own queue; idle ones end after a while."""

    IDLE_SECONDS = 10.0

    def __init__(self) -> None:
        import threading

        self._lock = threading.Lock()
        self._idle: list = []

    def submit(self, job: Callable[[], None]) -> None:
        import queue
        import threading

        with self._lock:
            inbox = self._idle.pop() if self._idle else None
        if inbox is None:
            inbox = queue.SimpleQueue()
            threading.Thread(target=self._work, args=(inbox,), name="asl handler", daemon=True).start()
        inbox.put(job)

    def _work(self, inbox: Any) -> None:
        import queue

        while True:
            try:
                job = inbox.get(timeout=self.IDLE_SECONDS)
            except queue.Empty:
                with self._lock:
                    if inbox in self._idle:  # else a job is on its way: take it
                        self._idle.remove(inbox)
                        return
                continue
            job()
            del job
            with self._lock:
                self._idle.append(inbox)


_WORKERS = _Workers()
