"""Task tokens a service can route, and activity workers (SendTask*, GetActivityTask).

A task token names the execution it belongs to: it is the URL-safe base64 (no padding) of
``"<execution ARN>\\n<64 hex digits>"``, the hex part drawn from the task's frame, so the same
task of a resumed execution has the same token. `TaskTokens` finds the execution from the token
alone; `ActivityBroker` queues the tasks of activity resources for workers.

Errors are `TaskTokenError` subclasses whose ``code`` is AWS's error code (TaskDoesNotExist,
InvalidToken, TaskTimedOut, InvalidOutput, ValidationException) and whose message is AWS's.
"""
from __future__ import annotations

import base64
import binascii
import json
import logging
from collections import deque
from typing import Any, Awaitable, Callable

import anyio
import anyio.lowlevel

from ..errors import ASLError
from .tasks import AWS_DEFAULT_TIMEOUT, trace_headers

TOKEN_MAX = 2048          # botocore's TaskToken: 1-2048 characters
OUTPUT_MAX = 262_144      # SendTaskSuccess output: at most 256 KiB (UTF-8 bytes)
POLL_SECONDS = 60.0       # GetActivityTask's long poll
REPLAY_GRACE = 5.0        # how long an answer waits for a just-resumed execution to reach its task


class TaskTokenError(ASLError):
    """A SendTaskSuccess / SendTaskFailure / SendTaskHeartbeat call AWS refuses; ``code`` is
    the API error code."""

    code = "TaskDoesNotExist"


class TaskDoesNotExist(TaskTokenError):
    code = "TaskDoesNotExist"


class InvalidToken(TaskTokenError):
    code = "InvalidToken"


class TaskTimedOut(TaskTokenError):
    code = "TaskTimedOut"


class InvalidOutput(TaskTokenError):
    code = "InvalidOutput"


class OutputTooLarge(TaskTokenError):
    code = "ValidationException"


def encode_token(execution_arn: str, nonce: str) -> str:
    """The task token of the execution `execution_arn` with the random part `nonce` (hex)."""
    return base64.urlsafe_b64encode(f"{execution_arn}\n{nonce}".encode()).decode().rstrip("=")


def decode_token(token: Any) -> tuple[str, str]:
    """``(execution ARN, random part)`` of a token; `InvalidToken` when it is not one of ours."""
    if not isinstance(token, str) or not 1 <= len(token) <= TOKEN_MAX:
        raise InvalidToken("Invalid Token: 'Invalid token'")
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, ValueError):
        raise InvalidToken("Invalid Token: 'Invalid token'") from None
    arn, sep, nonce = text.rpartition("\n")
    if not sep or not arn.startswith("arn:") or len(nonce) != 64 or not all(c in "0123456789abcdef" for c in nonce):
        raise InvalidToken("Invalid Token: 'Invalid token'")
    return arn, nonce


def parse_output(output: Any) -> Any:
    """SendTaskSuccess's ``output`` (JSON text) as a value: `OutputTooLarge` over 256 KiB
    (the API model's length limit), `InvalidOutput` when it is not JSON, worded as AWS words it
    (raw AWS capture, radkawar/stackd testdata/aws/stepfunctions/callback_lifecycle.json: output
    ``not-json`` got "Invalid Output: 'not-json' is not valid JSON.")."""
    if not isinstance(output, str):
        raise InvalidOutput("Invalid Output: 'output must be a JSON text'")
    if len(output) > OUTPUT_MAX // 4 and len(output.encode()) > OUTPUT_MAX:
        raise OutputTooLarge("1 validation error detected: Value at 'output' failed to satisfy constraint: "
                             f"Member must have size less than or equal to {OUTPUT_MAX} bytes in UTF-8 encoding")
    from ..jackson import JSONTextError, loads

    try:
        return loads(output)  # as AWS reads it (Jackson)
    except JSONTextError:
        raise InvalidOutput(f"Invalid Output: '{output}' is not valid JSON.") from None


Resolver = Callable[[str], Awaitable[Any]]


class TaskTokens:
    """Routes SendTaskSuccess / SendTaskFailure / SendTaskHeartbeat to the execution a token
    belongs to, among all the executions of a process.

    ``add(execution)`` makes a running `Execution` reachable (``discard(arn)`` forgets it). A
    token of an execution not added is passed to ``resolve(arn)`` (if given), an async callable
    that returns the execution (e.g. resumed from the store with `asl.engine.prepare_resume`
    and started), a status text such as ``"SUCCEEDED"`` for one that has ended, or None for one
    that does not exist.

    Answers are durable: with a store attached, an accepted answer is written to the journal
    before the call returns, so an execution resumed after a crash gets it.
    """

    def __init__(self, resolve: Resolver | None = None, facts: Callable[[str], Awaitable[list]] | None = None):
        self.executions: dict[str, Any] = {}
        self.resolve = resolve
        self.facts = facts  # the journal's facts of an execution that runs nowhere (a store's `facts`)

    def add(self, execution: Any) -> None:
        self.executions[execution.token_arn] = execution

    def discard(self, arn: str) -> None:
        self.executions.pop(arn, None)

    async def send_task_success(self, token: str, output: str) -> None:
        """SendTaskSuccess: `output` is JSON text (the task's result)."""
        arn, _ = decode_token(token)
        value = parse_output(output)
        await answer(await self._find(arn, token), token, {"value": value})

    async def send_task_failure(self, token: str, error: str | None = None, cause: str | None = None) -> None:
        """SendTaskFailure: the task fails with `error` and `cause` (either may be None)."""
        arn, _ = decode_token(token)
        await answer(await self._find(arn, token), token, {"error": error, "cause": cause})

    async def send_task_heartbeat(self, token: str) -> None:
        """SendTaskHeartbeat: restarts the task's HeartbeatSeconds clock (no history event)."""
        arn, _ = decode_token(token)
        execution = await self._find(arn, token)
        (await _waiter(execution, token)).heartbeat()

    async def _find(self, arn: str, token: str) -> Any:
        execution = self.executions.get(arn)
        if execution is None and self.resolve is not None:
            execution = await self.resolve(arn)
        if execution is None:
            raise TaskDoesNotExist(f"Task Does Not Exist: '{token}'")
        if isinstance(execution, str) or execution.result is not None:
            facts = execution.facts if not isinstance(execution, str) else \
                await self.facts(arn) if self.facts is not None else []
            raise timed_out(facts, token)
        return execution


def timed_out(facts: list, token: str) -> TaskTimedOut:
    """TaskTimedOut for the task of `token`, which has ended: an activity's names the activity
    (raw AWS capture, radkawar/stackd testdata/aws/stepfunctions/callback_lifecycle.json:
    "Task Timed Out: '<activity ARN>'" for a heartbeat, success or failure after the task
    succeeded, failed, timed out or was stopped); another's says the task is gone."""
    activity = (last_take(facts, token) or {}).get("activity")
    return TaskTimedOut(f"Task Timed Out: '{activity or 'Provided task does not exist anymore'}'")


async def _waiter(execution: Any, token: str) -> Any:
    """The execution's waiter for `token`; a just-resumed execution that is still replaying its
    journal is given a moment to reach the task. (The answer or heartbeat that asks says the
    worker has the token: an activity task taken for it starts, `ActivityBroker.answered`.)"""
    waited = 0.0
    while True:
        waiter = execution.waiters.get(token)
        if waiter is not None and not waiter.event.is_set() and not waiter.answered:
            broker = getattr(execution, "activities", None)
            if broker is not None:
                broker.answered(token)
            return waiter
        if token in execution.closed_tokens or (waiter is not None) or execution.result is not None:
            raise timed_out(execution.facts, token)
        replay = execution.replay
        if replay is None or waited >= REPLAY_GRACE or not replay.unconsumed():
            if last_take(execution.facts, token) is not None:
                # an activity task a worker took that has ended: one of an attempt before a redrive
                # (raw AWS capture, radkawar/stackd testdata/aws/stepfunctions/redrive_execution.json,
                # 01-sequence-old-token-after-redrive, 04-aborted-leased-stale-original-token: TaskTimedOut)
                raise timed_out(execution.facts, token)
            raise TaskDoesNotExist(f"Task Does Not Exist: '{token}'")
        await anyio.sleep(0.01)
        waited += 0.01


async def answer(execution: Any, token: str, outcome: dict) -> None:
    """Give the task waiting with `token` its outcome (``{"value": v}`` or ``{"error", "cause"}``),
    recorded in the journal (and written to the store, if any) before the waiter wakes."""
    waiter = await _waiter(execution, token)
    waiter.answered = True  # a second answer is refused from here on
    waiter.answered_by = trace_headers()  # the answering request's trace (asl serve attaches it)
    try:
        await execution.record_at_once("answer", {"token": token, **outcome})
    except Exception:  # not on record (the store is away): the call fails, the task still takes an answer
        waiter.answered = False
        raise
    if "value" in outcome:
        waiter.succeed(outcome["value"])
    else:
        waiter.fail(outcome.get("error"), outcome.get("cause"))


def recorded_answers(facts: list) -> dict[str, dict]:
    """The answers a journal's facts hold, by token (for a resumed execution)."""
    return {f.value["token"]: f.value for f in facts if f.kind == "answer" and isinstance(f.value, dict)}


_log = logging.getLogger(__name__)

GIVEN_BACK = "given-back"  # the kind of the facts on an activity task's takes (see ActivityBroker)


def last_take(facts: list, token: str) -> dict | None:
    """The journal's last word on the takes of activity task `token` (`ActivityBroker`): None,
    or the value of its last fact: ``{"back": True}`` given back, ``{"back": False, "worker":
    name}`` taken by that worker and not yet started, ``{"back": False}`` taken again once started."""
    last = None
    for fact in facts:
        if fact.kind == GIVEN_BACK and isinstance(fact.value, dict) and fact.value.get("token") == token:
            last = fact.value
    return last


Noted = Callable[..., Awaitable[None]]  # ``noted(back, take=None)``: journals a give-back or a take


class _Offer:
    __slots__ = ("arn", "token", "input", "noted", "worker", "taken", "started")

    def __init__(self, arn: str, token: str, input: str, noted: Noted | None = None):
        self.arn = arn
        self.token = token
        self.input = input
        self.noted = noted
        self.worker: str | None = None
        self.taken = False  # a poll has it (its worker has it, or is being given it)
        self.started = anyio.Event()  # its worker has it: the execution records ActivityStarted


class ActivityBroker:
    """Activity tasks waiting for workers, per activity ARN (GetActivityTask's queues).

    An execution built with ``activities=broker`` (`asl.engine.prepare`) offers the task of an
    activity resource no handler or mock serves here; a worker takes it with `get_task` and
    answers with the token (`TaskTokens`). Any number of executions and workers share one broker
    (one event loop).

    ActivityStarted names the worker the task was handed to (AWS's ActivityStartedEventDetails:
    "the worker that the task is assigned to"): a take starts the task once it has reached its
    worker, which is when `get_task` returns, or, for a take ``held`` by a caller that delivers
    the task itself (asl serve writes the GetActivityTask answer), when that caller says
    `delivered` (an answer or a heartbeat with the token says so too). A take that never reached
    its worker is given back (`give_back`: the poll was cancelled, or its answer was not written)
    and the next poll gets it, under the same token; its worker is the one ActivityStarted names.
    A task given back once started (a plain `get_task` had returned) goes out as it is, its start
    on record. A task handed out stays the broker's until its execution says it has ended (`end`).

    The journal knows of each take before its worker can have the token, and of each give-back
    before the task goes back to the queue (the offer's ``noted``): an execution resumed after a
    crash records ActivityStarted for a take it had not started yet (its worker may have the
    token), and puts a task that had gone back into the queue again (`restore`, or offered anew).
    A give-back that cannot be written (the store is away) is refused: the task stays with the
    worker it was handed to, as on AWS when a GetActivityTask answer is lost (it waits for its
    TimeoutSeconds); so memory and journal never disagree on who has a task.
    """

    def __init__(self, known: Callable[[str], Awaitable[bool]] | None = None) -> None:
        self.known = known  # does an activity ARN exist (the service's registry); None: any does
        self.queues: dict[str, deque[_Offer]] = {}
        self.arrived: dict[str, anyio.Event] = {}
        self.tasks: dict[str, _Offer] = {}  # every task offered and not ended, by token
        self.stopped = False

    def pending(self, arn: str) -> int:
        """How many tasks of `arn` wait for a worker."""
        return len(self.queues.get(arn, ()))

    async def get_task(self, arn: str, worker_name: str | None = None, timeout: float = POLL_SECONDS, *,
                       held: bool = False) -> tuple[str, str] | None:
        """GetActivityTask: ``(taskToken, input JSON text)`` of the oldest task of `arn`, waiting
        up to `timeout` seconds (real time) for one; None when none came (or `stop_polls` was
        called). The take is in the journal (if any) before this returns, so the worker's token
        names a task its execution knows to be taken after a crash; cancelled before it returns,
        the task goes back to the queue. `held`: the caller delivers the task and says whether
        it did (`delivered` or `give_back`); else the task counts as delivered on return."""
        offer = None
        with anyio.move_on_after(timeout):
            while not self.stopped:
                queue = self.queues.get(arn)
                if queue:
                    offer = queue.popleft()
                    break
                await event_of(self.arrived, arn).wait()
        if offer is None:
            return None
        again = offer.started.is_set()  # (given back once started: it goes as it is, its start on record)
        offer.taken = True
        if not again:
            offer.worker = worker_name
        try:
            if offer.noted is not None:
                with anyio.CancelScope(shield=True):  # (in the journal before the worker has the token)
                    try:
                        await offer.noted(False, None if again else {"worker": worker_name})
                    except Exception as exc:  # the store is away: the task waits in the queue meanwhile
                        _log.warning("activity task taken: %s", exc)
                        self._untake(offer)
                        self._requeue(offer)
                        return None
            await anyio.lowlevel.checkpoint()
        except anyio.get_cancelled_exc_class():  # nothing reached the worker: the next poll gets it
            with anyio.CancelScope(shield=True):
                await self.give_back(offer.token)
            raise
        if not held:
            offer.started.set()
        return offer.token, offer.input

    async def delivered(self, token: str) -> None:
        """The task a `held` `get_task` returned has reached its worker: it starts, naming it."""
        self.answered(token)

    def answered(self, token: str) -> None:
        """An answer or a heartbeat came with `token`: if it is a task taken here, its worker has it."""
        offer = self.tasks.get(token)
        if offer is not None and offer.taken:
            offer.started.set()

    async def give_back(self, token: str) -> bool:
        """A task `get_task` returned that never reached its worker (the answer was not written)
        goes back to the head of its queue, once the journal says so; False when it has ended (or
        is not a task here, or in the queue already), or when that cannot be written: then it
        stays with its worker (see the class)."""
        offer = self.tasks.get(token)
        if offer is None or not offer.taken:
            return False
        if offer.noted is not None:
            try:
                await offer.noted(True)
            except Exception as exc:
                _log.warning("giving activity task back: %s: it stays with the worker it was handed to, "
                             "and waits for its TimeoutSeconds", exc)
                return False
            if self.tasks.get(token) is not offer or not offer.taken:  # ended, or given back, meanwhile
                return False
        self._untake(offer)
        return self._requeue(offer)

    @staticmethod
    def _untake(offer: _Offer) -> None:
        offer.taken = False
        if not offer.started.is_set():
            offer.worker = None

    def _requeue(self, offer: _Offer) -> bool:
        """Put a task taken back at the head of its queue (False: it was there already)."""
        queue = self.queues.setdefault(offer.arn, deque())
        if offer in queue:
            return False
        queue.appendleft(offer)
        wake(self.arrived, offer.arn)
        return True

    def restore(self, arn: str, token: str, input: str, noted: Noted) -> None:
        """A task its journal shows given back once started (`last_take`), of an execution
        resumed after a crash: in the queue again, its start on record (no second ActivityStarted)."""
        item = self.tasks[token] = _Offer(arn, token, input, noted)
        item.started.set()
        self.queues.setdefault(arn, deque()).append(item)
        wake(self.arrived, arn)

    def stop_polls(self) -> None:
        """Shutting down: the polls waiting answer None now, and later ones at once; a poll that
        has taken a task still returns it."""
        self.stopped = True
        for event in self.arrived.values():
            event.set()
        self.arrived.clear()

    async def offer(self, arn: str, token: str, input: str, recorded: anyio.Event | None = None,
                    noted: Noted | None = None) -> str | None:
        """Queue a task for the workers of `arn` until one has it (see the class); returns its
        workerName. Cancelled (the task timed out, the execution stopped), the task is withdrawn.
        `noted` journals its takes and give-backs. (`recorded`, set once ActivityStarted is in
        the journal, serves brokers that keep their own record of the take.)"""
        item = self.tasks[token] = _Offer(arn, token, input, noted)
        self.queues.setdefault(arn, deque()).append(item)
        wake(self.arrived, arn)
        try:
            await item.started.wait()
        finally:
            if not item.started.is_set():
                self._withdraw(item)
        return item.worker

    async def end(self, token: str, cancelled: bool = False) -> None:
        """The task with `token` has ended (answered, timed out, or its execution stopped or
        ended here: `cancelled`): a copy given back is no longer handed out."""
        item = self.tasks.get(token)
        if item is not None:
            self._withdraw(item)

    def _withdraw(self, item: _Offer) -> None:
        self.tasks.pop(item.token, None)
        queue = self.queues.get(item.arn)
        if queue is not None and item in queue:
            queue.remove(item)


def wake(events: dict[str, anyio.Event], key: str) -> None:
    """Set and forget the event waited on for `key` (if any)."""
    event = events.pop(key, None)
    if event is not None:
        event.set()


def event_of(events: dict[str, anyio.Event], key: str) -> anyio.Event:
    """The event to wait on for `key` (set by `wake`)."""
    event = events.get(key)
    if event is None:
        event = events[key] = anyio.Event()
    return event


async def activity_exists(broker: Any, arn: str) -> bool:
    """Is `arn` an activity of the broker's registry (`known`; without one, any ARN is)? AWS fails
    a Task whose activity was deleted with States.Runtime before scheduling it."""
    known = getattr(broker, "known", None)
    return known is None or await known(arn)


async def serve_activity(run: Any, arguments: Any, timeout: int | None, heartbeat: int | None, frame: Any) -> Any:
    """One attempt of an activity task served by the execution's `ActivityBroker`: offered to
    the activity's workers under a token drawn from the task's frame, ``ActivityStarted`` (with
    the workerName) once one has it, then the answer sent with the token.

    TimeoutSeconds and HeartbeatSeconds both count from ActivityStarted (HeartbeatSeconds again
    from each heartbeat): a task waiting for a worker does not time out (raw AWS capture,
    radkawar/stackd testdata/aws/stepfunctions/callback_lifecycle.json, 01-delayed-lease: a
    task of TimeoutSeconds 3 and HeartbeatSeconds 2 taken 5.078 s after ActivityScheduled
    succeeded; 07-task-deadline-heartbeats: ActivityTimedOut 4.000 s after ActivityStarted).
    Resumed after a crash, a task that had not been taken (or had been given back) is offered
    again with the same token; one that had goes on waiting for its worker's answer, its
    TimeoutSeconds counted from its ActivityStarted on record."""

    ex = run.ex
    arn = run.state.resource
    broker = ex.activities
    token = ex.new_task_token(run.rng)
    waiter = ex.token_waiter(token)
    beat = waiter.beat

    async def noted(back: bool, take: dict | None = None) -> None:
        # (recorded before its first wait: in the order of the calls; the activity for `timed_out`)
        # (the poll or the give-back is told when the store is away: not taken, not given back)
        await ex.record_at_once(GIVEN_BACK, {"token": token, "back": back, "activity": arn, **(take or {})})

    def started(worker: Any) -> float:
        """ActivityStarted (naming `worker`, a name or the recorded details): its time."""
        details = worker if isinstance(worker, dict) else {"workerName": worker} if worker is not None else {}
        return ex.history.timestamp(ex.emit(frame, "ActivityStarted", details))

    async def take() -> float:
        """The task in its worker's hands: ActivityStarted's time."""
        recorded_event = ex.recorded_next(frame)
        text = json.dumps(arguments, separators=(",", ":"), ensure_ascii=False)
        take = last_take(ex.facts, token) if ex.replay is not None else None  # (resumed: see ActivityBroker)
        if recorded_event is not None and recorded_event[0] == "ActivityStarted":
            # started before the crash: its worker answers; unless it never got it (given back
            # since): then the next poll's worker does
            at = started(recorded_event[1])
            if take is not None and take.get("back"):
                broker.restore(arn, token, text, noted)
            return at
        if take is not None and not take.get("back") and "worker" in take:
            return started(take["worker"])  # taken before the crash, not started yet: its worker may have the token
        recorded = anyio.Event()
        try:
            with ex.clock.awaiting_outside():
                # ActivityScheduled is durable before any worker can be told the token (a
                # shared broker hands the task out from its row at once): resumed after a
                # crash, the execution replays up to the task, and an answer that comes
                # meanwhile waits for it (`_waiter`) instead of finding no task
                await ex.flush()
                at = started(await broker.offer(arn, token, text, recorded, noted))
                await ex.flush()
                return at
        finally:
            recorded.set()

    async def work() -> Any:
        beat.count += 1  # HeartbeatSeconds counts from here
        return await waiter.wait()

    cancelled = True  # (until the task ends otherwise: the execution stops, or moves to another process)
    try:
        since = await take()
        outcome = await ex.guard(work(), timeout if timeout is not None else AWS_DEFAULT_TIMEOUT, heartbeat, beat,
                                 since=since)
        cancelled = False
        return outcome
    except Exception:
        cancelled = False
        raise
    finally:
        ex.close_token(token)
        await broker.end(token, cancelled)
