"""One execution of a state machine: its context, clock, history, and final result.

`Execution.run()` drives the machine from ExecutionStarted to ExecutionSucceeded /
ExecutionFailed / ExecutionTimedOut / ExecutionAborted and always returns an
`ExecutionResult` holding the complete history, whatever happened (a handler that raised,
a timeout, a cancellation).
"""
from __future__ import annotations

import logging
import os
import random
import uuid
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

import anyio

from ..errors import StatesError
from .clock import Clock, VirtualClock
from ..timestamps import format_context_timestamp as iso  # $$'s times: 2019-03-26T20:14:13.192Z
from .history import History, HistoryLimitExceeded, spelled_details
from .interpreter import run_block
from .journal import JournalMismatch, Recorded, check_event, check_fact
from .observe import ChoiceMatched, ExecutionBegan, ExecutionEnded, ExecutionView, RetryScheduled
from .payload import MAX_DEPTH, PayloadMeter
from .staterun import ChildAborted, ChildTimedOut, Frame, aborted_with, write_left
from .stores import LEASE_SECONDS, Entries, JsonText, StoredEvent, StoredFact, default_owner  # noqa: F401 (leases: re-exported)
from .tasks import Beat, HandlerInterrupted, Handlers, MarshalError, Mocks, TaskFailed, json_copy, trace_headers

_log = logging.getLogger(__name__)

PAYLOAD_LIMIT = 262_144
VARIABLE_LIMIT = 262_144          # one Assign, and each value in it
VARIABLES_TOTAL_LIMIT = 10 * 1024 * 1024
# an Express execution runs at most five minutes (shorter only for tests, by the environment:
# ASL_EXPRESS_MAX_SECONDS, read by worker processes too)
EXPRESS_MAX_SECONDS = float(os.environ.get("ASL_EXPRESS_MAX_SECONDS") or 300)
STANDARD_MAX_SECONDS = 365 * 24 * 3600  # a Standard execution at most one year
ACCOUNT = "123456789012"


@dataclass
class TaskCall:
    """One call of a Task's handler or mock: which state, what input, which attempt, and where
    (`path`: the Map iterations / Parallel branches around it, as `TaskContext.path`)."""

    state: str
    input: Any
    attempt: int
    mocked: bool
    path: tuple = ()


@dataclass(repr=False)
class ExecutionResult:
    """What an execution ended with.

    status   SUCCEEDED, FAILED, TIMED_OUT or ABORTED
    output   the final output (SUCCEEDED only)
    error, cause  the failure (FAILED / TIMED_OUT / ABORTED)
    history  the `History` (``.events`` is AWS's GetExecutionHistory list)
    unserved the Task states the run reached that no handler or mock serves (each ended
             the run with States.Runtime)
    hint     what was wrong where AWS's cause does not say it (an intrinsic function's bad
             argument, e.g. ``States.MathAdd: argument 2 must be a number``), or None
    """

    status: str
    output: Any = None
    error: str | None = None
    cause: str | None = None
    execution_arn: str = ""
    name: str = ""
    history: History = field(default_factory=History)
    calls: list[TaskCall] = field(default_factory=list)
    transitions: int = 0
    start_time: float = 0.0
    stop_time: float = 0.0
    unserved: list[str] = field(default_factory=list)
    hint: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"

    def __repr__(self) -> str:
        # Short on purpose: outputs and histories can be megabytes (and asyncio reprs results).
        detail = f"error={self.error!r}" if self.status != "SUCCEEDED" else f"{len(self.history)} events"
        return f"<ExecutionResult {self.status} {self.name!r} {detail}>"

    @property
    def events(self) -> list[dict]:
        return self.history.events

    def to_json(self) -> dict:
        """``{"status", "output" | "error"/"cause", "executionArn"}`` as ``asl run --output-format json`` prints."""
        out: dict[str, Any] = {"status": self.status}
        if self.status == "SUCCEEDED":
            out["output"] = self.output
        else:
            out["error"] = self.error
            out["cause"] = self.cause
        out["executionArn"] = self.execution_arn
        return out




class ExecutionAlreadyExists(Exception):
    """Raised by `Execution.attach` when the store already holds an execution of that ARN."""


class LeaseLost(Exception):
    """Raised by `Execution.run` when another process took the execution's lease over (this
    process stopped renewing it in time): this process stops advancing it, and records nothing."""


class TokenWaiter:
    """A Task waiting for SendTaskSuccess / SendTaskFailure with its token."""

    def __init__(self, execution: "Execution", token: str):
        import threading

        import anyio.lowlevel

        self.execution = execution
        self.token = token
        self.event = anyio.Event()
        self.result: Any = None
        self.error: StatesError | None = None
        self.beat = Beat()
        self.answered = False  # an answer was accepted (TaskTokens): later ones are refused
        self.answered_by: dict = {}  # the answerer's trace context (W3C headers): the task's span links to it
        self._token = anyio.lowlevel.current_token()  # the way back to this event loop from a thread
        self._thread = threading.get_ident()

    def _in_loop(self, fn: Any) -> None:
        """Run `fn` on the execution's event loop, whichever thread the caller is on."""
        import threading

        if threading.get_ident() == self._thread:
            fn()
        else:  # (waits until the loop has run it: the answer is in when SendTask* returns)
            import anyio.from_thread

            anyio.from_thread.run_sync(fn, token=self._token)

    def heartbeat(self) -> None:
        self._in_loop(lambda: setattr(self.beat, "count", self.beat.count + 1))

    def succeed(self, output: Any) -> None:
        def done() -> None:
            self.result = output
            self.event.set()
        self._in_loop(done)

    def fail(self, error: str | None, cause: str | None) -> None:
        def done() -> None:
            self.error = StatesError(error, cause)
            self.event.set()
        self._in_loop(done)

    async def wait(self, outside: bool = True) -> Any:
        """The answer; `outside` False: the Task waits for more than this answer (a ``.sync``
        job), which the clock's books leave to that (no grace before time jumps)."""
        clock = self.execution.clock
        try:
            with clock.awaiting_outside() if outside else clock.waiting():
                await self.event.wait()
        finally:
            self.execution.close_token(self.token)
        if self.answered_by:  # the answer came from a traced caller: link the waiting attempt's span to it
            from .tracing import link_current

            link_current(self.answered_by, "answered by")
        if self.error is not None:
            raise self.error
        return self.result


class Execution:
    """A running (or finished) execution. Build with `asl.engine.start` or `Runner`."""

    def __init__(self, machine: Any, input: Any = None, *, name: str | None = None,
                 handlers: Handlers | None = None, mocks: Mocks | None = None, clock: Clock | None = None,
                 seed: int | None = None, machine_type: str = "STANDARD", region: str = "us-east-1",
                 history_limit: int = 25_000, observer: Any = None, state_machine_name: str | None = None,
                 payload_limit: int | None = PAYLOAD_LIMIT, sync: bool = False, place: tuple = ()):
        self.machine = machine
        self.input = {} if input is None else input
        self._input_defaulted = input is None  # no input, or JSON null: it runs with {}
        # (the input object, its caller's text) while that text is kept (`keep_input_text`): the
        # events that carry the input unchanged show that text (`history.spelled_details`)
        self.spelled: tuple[Any, str] | None = None
        # Every random draw derives from the seed, so the same seed gives the same name, ARNs,
        # task tokens, request ids, jitter and $uuid(): the execution's own draws (names, ARNs)
        # from this generator, each block run's from its frame's (`Frame.random`), so a resumed
        # execution draws what the uninterrupted one would have. A Distributed Map child shares its
        # parent's seed (its frames are the parent's): its own draws (the ARNs of its Map Runs) derive
        # from its `place` (its frame's key) too, or its siblings would draw the same ARNs.
        self.seed = seed if seed is not None else random.SystemRandom().randrange(2 ** 63)
        self.rng = random.Random(f"{self.seed}/execution" + (f"/{place}" if place else ""))
        self.name = name or self.new_uuid()
        self.state_machine_name = state_machine_name or getattr(machine, "name", None) or "StateMachine"
        self.handlers = handlers or Handlers()
        self.mocks = mocks
        self.clock = clock or VirtualClock()
        self.type = machine_type
        self.sync = sync and machine_type == "EXPRESS"  # started as StartSyncExecution starts it
        self.region = region
        self.history = History(history_limit)
        self.observer = observer
        self._log: Any = None  # told of every history event as it is recorded (asl.engine.execlog), or None
        self._replay: Recorded | None = None  # the journal replayed (a resumed execution), or None
        self.append_only = True  # neither of the two: an event is only appended to the history
        self.parent: tuple | None = None  # a Distributed Map item's child execution: (map state view, index)
        self.transitions = 0
        self.calls: list[TaskCall] = []
        self.unserved: list[str] = []  # Task states reached without a handler or mock
        self.hint: str | None = None  # the failure's StatesError.hint (asl run shows it)
        self.meter = PayloadMeter()
        self._within_limits: Any = _NOTHING
        self.payload_limit = payload_limit  # AWS: 262,144 bytes; None: no limit (benchmarks)
        self.waiters: dict[str, TokenWaiter] = {}
        self.closed_tokens: set[str] = set()  # tasks that waited and ended (TaskTimedOut)
        self.answers: dict[str, dict] = {}    # answers recorded in the journal (a resumed execution)
        self.activities: Any = None           # an ActivityBroker serving activity resources
        self.map_runs: Any = None             # told of Distributed Map runs and children (the service)
        self.wait_scale = 1.0                 # Waits and retry intervals last this many times as long
        self.executor: Any = None             # where Distributed Map children run (None: here)
        self.integrations: Any = None         # AWS services for Tasks without handler or mock (--aws)
        self.role_arn = f"arn:aws:iam::{ACCOUNT}:role/StepFunctionsLocalRole"  # the machine's role (a service's)
        self.started_details: dict = {}       # more for ExecutionStarted (a service's version and alias ARNs)
        self.executions: Any = None           # where states:startExecution children run (integrations.nested)
        self.s3_folders: dict = {}            # buckets read and written as local folders (--s3-folder)
        self._choices: dict[int, list] = {}
        self._base: dict | None = None
        self.context_given = False            # ``$$`` is a TestState request's context, taken as it is
        self.context_names: dict[int, str] = {}  # id(state model) -> its $$.State.Name, when not its name (TestState)
        self.start_time = 0.0
        self.recorded_start: float | None = None  # the start time it was stamped with (`stamp_start`)
        self._scope: anyio.CancelScope | None = None
        self._timed_out = False
        self._stopped: tuple[str | None, str | None] | None = None
        # (error, cause) the next state transition fails the run with (`end_at_next_transition`)
        self.ending: tuple[str, str] | None = None
        self.result: ExecutionResult | None = None  # set when the execution ends, however it ends
        # the journal (asl.engine.journal): facts beside the history, a replay when resuming,
        # a sink that writes both to a store
        self.facts: list[StoredFact] = []
        self.sink: StoreSink | None = None
        self.root = Frame({}, 0)
        self.redrive_count = 0
        self.redrive_time: float | None = None
        self.abandoned = False
        self.rerun = False  # a Distributed Map child run again after its worker was lost: every call may have happened
        self.journal_base = (0, 0)  # a redriven Map Run child: the events and facts its earlier runs stored
        sm_arn = f"arn:aws:states:{region}:{ACCOUNT}:stateMachine:{self.state_machine_name}"
        self.state_machine_arn = sm_arn
        if machine_type == "EXPRESS":
            self.arn = f"arn:aws:states:{region}:{ACCOUNT}:express:{self.state_machine_name}:{self.name}:" \
                       f"{self.new_uuid()}"
        else:
            self.arn = f"arn:aws:states:{region}:{ACCOUNT}:execution:{self.state_machine_name}:{self.name}"
        self.token_arn = self.arn  # the execution task tokens name (a Distributed Map child's: its parent's)

    # ---- the journal: events, facts, timers (asl.engine.journal) ---------------------------

    @property
    def replay(self) -> Recorded | None:
        """The journal being replayed (a resumed execution), or None."""
        return self._replay

    @replay.setter
    def replay(self, recorded: Recorded | None) -> None:
        self._replay = recorded
        self.append_only = recorded is None and self._log is None

    @property
    def log(self) -> Any:
        """Told of every history event as it is recorded (an `asl.engine.execlog.ExecutionLog`), or None."""
        return self._log

    @log.setter
    def log(self, log: Any) -> None:
        self._log = log
        self.append_only = self._replay is None and log is None

    def emit(self, frame: Frame, event_type: str, details: Any = None, at: float | None = None) -> int:
        """Record an event at the frame's next position (or, resuming, find it recorded there),
        at the clock's time or `at`."""
        seq = frame.seq = frame.seq + 1
        if self._replay is not None:
            recorded = check_event(self._replay.take((frame.key, seq)), event_type, details)
            if recorded is not None:
                frame.last = recorded.id
                return recorded.id
        spelled = self.spelled
        if spelled is not None:
            details = spelled_details(details, spelled)
        # History.add, inlined: this runs twice per state
        history = self.history
        events = history._events
        if len(events) >= history.room:
            raise HistoryLimitExceeded(history.limit)
        events.append((event_type, frame.last, self.clock.now() if at is None else at, details, (frame.key, seq)))
        last = frame.last = len(events)
        if self._log is not None:
            self._log.record(self, last)
        return last

    def fact(self, frame: Frame, kind: str, compute: Any) -> Any:
        """A value the future depends on, computed once and recorded (replayed when resuming)."""
        frame.seq += 1
        site = (frame.key, frame.seq)
        if self.replay is not None:
            recorded = check_fact(self.replay.take(site), kind)
            if recorded is not None:
                return recorded.value
        value = compute()
        self.record_fact(site, kind, value)
        return value

    def record_fact(self, site: tuple | None, kind: str, value: Any) -> None:
        """Add a fact to the journal (`site` None: one of the execution's own, a callback's answer, a redrive)."""
        self.facts.append(StoredFact(len(self.facts) + 1, site, kind, value))

    def now(self, frame: Frame) -> float:
        """The clock, read by a state (``$now()``, a Timestamp Wait): a recorded fact."""
        return self.fact(frame, "now", self.clock.now)

    async def timer(self, frame: Frame, seconds: float) -> None:
        """Wait `seconds` on the execution's clock (a Wait, a retry interval). Its deadline is
        recorded first; resumed, a timer that had fired is skipped and one that had not ends at
        its original deadline. `wait_scale` multiplies `seconds` (the deadline recorded is the
        scaled one)."""
        frame.seq += 1
        site = (frame.key, frame.seq)
        if self.replay is not None:
            recorded = check_fact(self.replay.take(site), "timer")
            if recorded is not None:
                if not self.replay.goes_on_after(site):
                    await self.clock.sleep(recorded.value - self.clock.now())
                return
        seconds *= self.wait_scale  # (Step Functions Local's WAIT_TIME_SCALE)
        self.record_fact(site, "timer", self.clock.now() + seconds)
        await self.flush()
        await self.clock.sleep(seconds)

    async def outcome(self, frame: Frame, work: Any, on_replay: Any = None) -> Any:
        """Run ``work(attempt_frame, redelivered)`` once and record what it ended with (a value
        or a StatesError); resumed, the recorded outcome is returned without running it.

        The work records its own events in an attempt frame of its own, so a resumed execution
        can skip them with the work. `on_replay` is called when the outcome comes from the
        journal (a mock advances its call count)."""
        frame.seq += 1
        site = (frame.key, frame.seq)
        attempt = Frame(frame.variables, frame.last, frame.map_item, frame.path, frame.key + ((frame.seq, -1),))
        redelivered = self.rerun
        replay = self.replay
        if replay is not None:
            recorded = check_fact(replay.take(site), "outcome")
            if recorded is not None:
                last = replay.take_frame(attempt.key)
                if last:
                    frame.last = last
                if on_replay is not None:
                    on_replay()
                value = recorded.value
                if "error" in value or "cause" in value:
                    raise StatesError(value.get("error"), value.get("cause"), heartbeat=bool(value.get("heartbeat")))
                return value.get("value")
            redelivered = redelivered or replay.started(frame.key, frame.seq - 1)
        try:
            value = await work(attempt, redelivered)
        except StatesError as err:
            frame.last = attempt.last
            record = {"error": err.error, "cause": err.cause}
            if err.heartbeat:
                record["heartbeat"] = True
            self.record_fact(site, "outcome", record)
            raise
        frame.last = attempt.last
        self.record_fact(site, "outcome", {"value": value})
        return value

    def recorded_next(self, frame: Frame) -> tuple[str, Any] | None:
        """Resuming: the (type, details) of the event `frame` recorded next, if that was an event."""
        if self.replay is None:
            return None
        entry = self.replay.entries.get((frame.key, frame.seq + 1))
        if entry is None or entry[0] != "event":
            return None
        return entry[1].type, entry[1].details

    async def record_at_once(self, kind: str, value: Any) -> None:
        """Record a fact of the execution's own and write it to the store now, for a caller who
        is told whether it was taken (a callback's answer, an activity's take or give-back): while
        the store is away the fact goes out of the journal again and the StoreError is raised,
        instead of waiting for the store as the run's own writes do (`flush`)."""
        self.record_fact(None, kind, value)
        fact = self.facts[-1]
        try:
            await self.flush(patient=False)
        except Exception:
            if self.sink is not None:
                self.sink.unwritten(self, fact)
            raise

    async def flush(self, patient: bool = True) -> None:
        """Write what the journal gained since the last flush to the store (if any); while the
        store is away, wait for it (`patient` False: raise its StoreError, see StoreSink.flush)."""
        if self.sink is not None:
            await self.sink.flush(self, patient=patient)

    # ---- services for the states ----------------------------------------------------------

    iso = staticmethod(iso)

    def context_base(self) -> dict:
        """``$$`` without State/Task/Map (a fresh dict each time: callers add their parts)."""
        if self._base is None:
            if self.type == "EXPRESS":  # (AWS writes an Express one's members in another order:
                # recorded, test_query_runtime_memory's $$.Execution)
                execution = {"Id": self.arn, "Input": self.input, "Name": self.name, "RoleArn": self.role_arn,
                             "StartTime": iso(self.start_time)}
            else:
                execution = {"Id": self.arn, "Input": self.input, "StartTime": iso(self.start_time),
                             "Name": self.name, "RoleArn": self.role_arn}
            if not self.sync:
                # Standard and asynchronous Express executions can be redriven (the count is 0
                # until then; RedriveTime appears only after one); synchronous Express ones cannot
                execution["RedriveCount"] = self.redrive_count
            if self.redrive_time is not None:
                execution["RedriveTime"] = iso(self.redrive_time)
            self._base = {"Execution": execution,
                          "StateMachine": {"Id": self.state_machine_arn, "Name": self.state_machine_name}}
        return dict(self._base)

    def set_context_base(self, context: dict, given: bool = False) -> None:
        """Use `context` as ``$$`` (TestState's default one, or with `given` the request's own)."""
        self._base = context
        self.context_given = given

    def compiled_choices(self, state: Any) -> list:
        found = self._choices.get(id(state))
        if found is None:
            from ..choice import compile_rule
            found = [(rule, compile_rule(rule)) for rule in state.choices]
            self._choices[id(state)] = found
        return found

    def check_size(self, value: Any, name: str, task: bool = False) -> None:
        """AWS's 256 KiB payload limit (States.DataLimitExceeded), and the engine's nesting limit
        (`payload.MAX_DEPTH`, States.Runtime).

        A Task's oversized result is an ordinary, catchable failure of the task; any other
        oversized payload ends the execution (AWS: not even States.ALL catches it).
        """
        if value is self._within_limits:  # a Choice (a Pass without changes) passes its input on as is
            return
        limit = self.payload_limit
        if limit is not None and type(value) in (dict, list, str):
            meter = self.meter
            if meter.exceeds(value, limit):
                raise StatesError("States.DataLimitExceeded",
                                  f"The state/task '{name}' returned a result with a size exceeding the maximum "
                                  "number of bytes service limit.", terminal=not task)
            # each level of nesting takes two bytes of brackets: a small document is never too deep
            deep = meter.too_deep(value, meter.last_size) if meter.last_size >= 2 * MAX_DEPTH else None
            if deep is not None:
                raise StatesError("States.Runtime", f"The state/task '{name}' returned a result nested {deep} "
                                  f"levels deep, more than the maximum of {MAX_DEPTH}.")
            self._within_limits = value  # the last document checked, and found within both limits

    def check_input(self, value: Any) -> None:
        """A Map Run child's input over the payload limit fails the child, before its first state
        (States.DataLimitExceeded, a failed item like any other). It can only be an item an
        ItemReader read (up to 8 MB, DG "input-output-itemreader") that ItemSelector did not make
        small enough, alone in its batch (`batching.Batcher`). Unverified: what AWS does with such
        an item is not documented ("reduces the number of items in a batch" is all the DG says);
        the cause is ours."""
        limit = self.payload_limit
        if limit is not None and type(value) in (dict, list, str) and self.meter.exceeds(value, limit):
            raise StatesError("States.DataLimitExceeded", "The input of the child execution has a size exceeding "
                              f"the maximum number of bytes service limit ({limit:,} bytes).")

    def aborting_branches(self) -> bool:
        """Is a cancellation the work of a failing sibling (not a stop or the machine's timeout)?"""
        return self._stopped is None and not self._timed_out

    def check_variables(self, assigned: dict, visible: dict, name: str) -> None:
        """Variable quotas (ASL-SPEC.md section 5): one value and one Assign at most 256 KiB,
        all variables of the execution at most 10 MiB, each size the value's JSON text in
        bytes. AWS's words (radkawar/stackd, testdata/aws/stepfunctions/variable_limits.json:
        TestState "test-single-assignment-262143", "test-combined-assignment-131071", the
        execution "total-over-10m") name the variable that takes the Assign over its limit, in
        the Assign's order, and by how many bytes the state or the execution is over. (Whether
        AWS checks each value's own limit before the running sum, as here, is not recorded.)"""
        if self.payload_limit is None:
            return
        size = self.meter.size
        sizes = {key: size(value) for key, value in assigned.items()}
        state_total = 0
        for key, value_size in sizes.items():
            deep = self.meter.too_deep(assigned[key], value_size)
            if deep is not None:
                raise StatesError("States.Runtime", f"The variable '{key}' assigned by the state '{name}' is nested "
                                  f"{deep} levels deep, more than the maximum of {MAX_DEPTH}.")
            if value_size > VARIABLE_LIMIT:
                raise StatesError("States.DataLimitExceeded", f"Variable size limit exceeded. Variable '{key}' in "
                                  f"state '{name}' was assigned {value_size} bytes.")
            state_total += value_size
            if state_total > VARIABLE_LIMIT:
                raise StatesError("States.DataLimitExceeded", "State total variable size limit exceeded. Variable "
                                  f"'{key}' in state '{name}' was assigned {value_size} bytes, which caused the size "
                                  "of variables assigned in the state to exceed its limit by "
                                  f"{state_total - VARIABLE_LIMIT} bytes.")
        total = sum(size(v) for k, v in visible.items() if k not in assigned) + state_total
        if total > VARIABLES_TOTAL_LIMIT:
            raise StatesError("States.DataLimitExceeded", f"Execution total variable size limit exceeded. State "
                              f"'{name}' assigned variables that exceed the total execution limit by "
                              f"{total - VARIABLES_TOTAL_LIMIT} bytes.")

    def new_uuid(self) -> str:
        """A version 4 UUID drawn from the execution's own random source (names, ARNs)."""
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def new_task_token(self, rng: random.Random) -> str:
        """A task token naming this execution, its random part drawn from the task's frame (the
        same after a resume): see `asl.engine.callbacks`. A redrive's tasks have tokens of their
        own (their frames draw as the failed attempt's did): an answer to that attempt's task is
        not one to this."""
        from .callbacks import encode_token

        first, second = rng.getrandbits(128), rng.getrandbits(128)
        if self.redrive_count:
            first ^= random.Random(self.redrive_count).getrandbits(128)
        return encode_token(self.token_arn, uuid.UUID(int=first, version=4).hex + uuid.UUID(int=second, version=4).hex)

    def close_token(self, token: str) -> None:
        """The task that waited with `token` ended: later answers get TaskTimedOut."""
        self.waiters.pop(token, None)
        self.closed_tokens.add(token)

    def token_waiter(self, token: str) -> TokenWaiter:
        waiter = TokenWaiter(self, token)
        self.waiters[token] = waiter
        recorded = self.answers.pop(token, None)
        if recorded is not None:  # answered before the process died: the answer is in the journal
            waiter.answered = True
            if "value" in recorded:
                waiter.succeed(recorded["value"])
            else:
                waiter.fail(recorded.get("error"), recorded.get("cause"))
        return waiter

    async def guard(self, work: Any, timeout: int | None, heartbeat: int | None, beat: Beat,
                    since: float | None = None) -> Any:
        """Await `work` under TimeoutSeconds and HeartbeatSeconds, on the execution's clock;
        the timeout counts from `since` (the task's start, which a resumed task keeps).

        Either limit running out cancels the work and fails with States.Timeout (AWS reports
        heartbeat expiry under that name too), with no cause: AWS records none in the
        LambdaFunctionTimedOut / TaskTimedOut / ActivityTimedOut event nor in ExecutionFailed
        (../shared/conformance/service: activity start timeout, heartbeat and callback timeouts;
        LocalStack's AWS-recorded test_timeouts snapshots for Lambda and lambda:invoke).
        The work's own exception passes through.
        """
        outcome: list = []
        expired: list[str] = []  # which limit ran out: "timeout" or "heartbeat"
        clock = self.clock

        async with clock.task_group() as tg:
            async def main() -> None:
                try:
                    outcome.append((True, await work))
                except StatesError as exc:  # handed back below, outside the task group
                    outcome.append((False, exc))
                tg.cancel_scope.cancel()

            async def total() -> None:
                await clock.sleep(timeout if since is None else since + timeout - clock.now())
                expired.append("timeout")
                tg.cancel_scope.cancel()

            async def heart() -> None:
                while True:
                    seen = beat.count
                    await clock.sleep(heartbeat)
                    if beat.count == seen:
                        expired.append("heartbeat")
                        tg.cancel_scope.cancel()
                        return

            tg.start_soon(main)
            if timeout is not None:
                tg.start_soon(total)
            if heartbeat is not None:
                tg.start_soon(heart)
        if outcome:
            ok, value = outcome[0]
            if ok:
                return value
            raise value
        # a heartbeat expiry is matchable as States.HeartbeatTimeout
        raise StatesError("States.Timeout", None, heartbeat=expired[:1] == ["heartbeat"])

    def map_run_arn(self, label: str) -> str:
        # in the account and partition of the execution's own state machine ARN
        prefix = self.state_machine_arn.split(":stateMachine:")[0]
        return f"{prefix}:mapRun:{self.state_machine_name}/{label}:{self.new_uuid()}"

    def child_redrive_count(self, fork: Frame, index: int) -> int:
        """How many times Map Run child `index` forked at `fork` (now) has been redriven: a child
        that did not succeed in an earlier attempt of a redriven parent is redriven by its Map Run,
        with the same ARN and its own redrive count and date (DescribeExecution, ``$$.Execution``)."""
        if self.replay is None:
            return 0
        return self.replay.redriven.get((fork.key + ((fork.seq, index),), 1), 0)

    def child_done_earlier(self, fork: Frame, index: int) -> bool:
        """Did Map Run child `index` forked at `fork` (now) succeed in an earlier attempt of this
        redriven execution (its outcome replayed from then: its result is in that attempt's files)?"""
        if self.replay is None:
            return False
        site = (fork.key + ((fork.seq, index),), 1)
        entry = self.replay.entries.get(site)
        return entry is not None and entry[0] == "fact" and "value" in entry[1].value and self.replay.earlier(site)

    async def run_child(self, processor: Any, value: Any, index: int, fork: Frame, map_name: str,
                        map_run_arn: str | None = None, view: Any = None, meta: dict | None = None) -> Any:
        """A Distributed Map item: its own execution, its own history, no outer variables.
        `fork` is the Map's frame at the fork: the item's frame (its key, and its path for
        `TaskContext.path`) derives from it, and the journal records the child's outcome there.
        A child of type EXPRESS (``ProcessorConfig.ExecutionType``) runs at most five minutes
        (`limited`). `meta`, when given, gets the child's ``arn``, ``start``, ``redrive_count`` and
        ``redrive_time`` once it starts (it stays empty when the journal has the child's outcome).

        A child that did not succeed in an earlier attempt of a redriven parent is redriven by its
        Map Run (raw AWS capture, radkawar/stackd testdata/aws/stepfunctions/redrive_map.json): the
        same ARN (an Express one's too), its own redrive count. A STANDARD one goes on from the
        state it did not finish, as a redriven execution does, with its history (ExecutionRedriven,
        at its own redrive time, which is ``$$.Execution.RedriveTime``) and its start time; an
        EXPRESS one runs its processor again from its start, started anew (no redrive time). Its
        earlier run is what the Map Run listener (`map_runs`) kept of it (``child_before``)."""
        from .distributed.maprun import child_arn, child_type, processor_arn
        from .distributed.resultwriter import child_name
        from .journal import REDRIVEN

        item = fork.child({}, index, (map_name, index))
        machine_type = child_type(self, processor) if map_run_arn is not None else self.type
        express = machine_type == "EXPRESS"
        attempt = self.child_redrive_count(fork, index)
        listener = self.map_runs if map_run_arn is not None else None

        async def work(attempt_frame: Frame, redelivered: bool) -> Any:
            child = Execution(processor, value, name=f"{self.name}-{index}", handlers=self.handlers,
                              mocks=self.mocks, clock=self.clock, machine_type=machine_type, region=self.region,
                              state_machine_name=self.state_machine_name, observer=self.observer,
                              payload_limit=self.payload_limit, seed=self.seed, place=item.key)
            child.log, child.parent = self.log, (view, index)  # view: the Map state's, for observers
            child.calls = self.calls
            child.unserved = self.unserved
            child.token_arn, child.waiters, child.closed_tokens = self.token_arn, self.waiters, self.closed_tokens
            child.activities, child.answers, child.map_runs = self.activities, self.answers, self.map_runs
            child.integrations, child.role_arn, child.executions = self.integrations, self.role_arn, self.executions
            child.s3_folders, child.ending = self.s3_folders, self.ending
            child.state_machine_arn, child.wait_scale = self.state_machine_arn, self.wait_scale
            if map_run_arn is not None:  # the ARN and name its Map Run gives it, and its state machine
                # (the Map's processor, `$$.StateMachine.Id`: DG "input-output-resultwriter" records
                # give a child's StateMachineArn as "…:stateMachine:orderProcessing/getOrders")
                machine = child.state_machine_arn = processor_arn(map_run_arn)
                child.arn = child_arn(machine, map_run_arn, index, express)
                child.name = child_name(child.arn)
            now = child.start_time = self.clock.now()
            redriven, journal = attempt, None
            before = await listener.child_before(child.arn) \
                if listener is not None and self.replay is not None else None
            if before is not None:  # run before: redriven by its Map Run, or run again after a crash
                record, events, facts = before
                if record.status in ("FAILED", "ABORTED", "TIMED_OUT") and self.redrive_count:
                    redriven = record.redrive_count + 1
                    if not express and events:
                        journal = (record, events, facts)
                else:
                    redriven = record.redrive_count
            if redriven:
                child.redrive_count = redriven
                child.redrive_time = None if express else now
            if journal is not None:  # its history goes on after ExecutionRedriven, its states replayed
                record, events, facts = journal
                child.start_time = record.start_time
                child.history = History.restored([(e.type, e.previous_id, e.timestamp, e.details, e.site)
                                                  for e in events], child.history.limit)
                child.facts = list(facts)
                child.replay = Recorded(events, facts, redrive=True)
                child.journal_base = (len(events), len(facts))
                opened = child.history.add(REDRIVEN, child.history.last_id, now, {"redriveCount": redriven})
                child.record_fact(None, "redrive", redriven)
            else:  # the child's own history: ExecutionStarted, its states' events, its closing event
                opened = 1
                child.history._events.append(("ExecutionStarted", 0, child.start_time,
                                              {"input": value, "inputDetails": {"truncated": False},
                                               "roleArn": self.role_arn},
                                              None))
            if meta is not None:
                meta.update(arn=child.arn, start=child.start_time, redrive_count=child.redrive_count,
                            redrive_time=child.redrive_time)
            if listener is not None:
                await listener.child_started(map_run_arn, index, child)
            if child.log is not None:
                child.log.record(child, opened)
            if child.observer is not None:
                child.observer.event(ExecutionBegan(child.view()))
            frame = Frame({}, 0, None, item.path, item.key)
            status, output, error, cause = "ABORTED", None, None, None
            try:
                with anyio.CancelScope() as child._scope:  # StopExecution of the child cancels it
                    child.check_input(value)
                    executor = self.executor  # elsewhere (asl.engine.executors), or here (a child
                    # replaying its journal: here)
                    if executor is not None and child.replay is None and executor.takes(self, processor):
                        output = await executor.run(self, child, processor, value, frame)
                    else:
                        output = await child.limited(lambda: run_block(child, processor, value, frame))
                    status = "SUCCEEDED"
                    return output
            except ChildTimedOut as err:
                status, error, cause = "TIMED_OUT", err.error, err.cause
                raise
            except StatesError as err:
                status, error, cause = "FAILED", err.error, err.cause
                raise
            else:  # stopped: ABORTED with its StopExecution error and cause (or none); a failed item
                error, cause = child._stopped or (None, None)
                raise ChildAborted(error or "States.Aborted", cause or "The child execution was stopped.")
            finally:
                if status == "ABORTED" and child._stopped is None and map_run_arn is not None:
                    # cut short with its Map Run: AWS writes ExecutionAborted (no abort event of the
                    # state it was in) with this cause and no error (raw AWS capture, radkawar/stackd
                    # testdata/aws/stepfunctions/redrive_map.json, standard:failed: the child in its
                    # Wait; as StopExecution of an execution in a Wait, LocalStack's AWS recording
                    # test_stop_execution)
                    frame.aborted = None
                    cause = aborted_with(map_run_arn)
                write_left(child, frame)
                self.transitions += child.transitions
                child._finish(status, output, error, cause)
                if listener is not None:
                    with anyio.CancelScope(shield=True):
                        await listener.child_finished(map_run_arn, index, child)
        if self.sink is None and self.replay is None:  # no journal kept: a million outcomes need not stay in memory
            return await work(item, False)
        return await self.outcome(item, work)

    async def limited(self, work: Callable[[], Awaitable[Any]]) -> Any:
        """`work()` (this execution's states, run as a Distributed Map child), within the maximum
        duration of an EXPRESS execution (five minutes from its start, in virtual as in real time,
        a passive deadline as in `_run`): past it, `ChildTimedOut`. A STANDARD child has no limit
        here (a year)."""
        if self.type != "EXPRESS":
            return await work()
        outcome: list = []

        async def limit() -> None:
            await getattr(self.clock, "sleep_passive", self.clock.sleep)(
                self.start_time + EXPRESS_MAX_SECONDS - self.clock.now())
            outcome.append(ChildTimedOut())
            tg.cancel_scope.cancel()

        async with self.clock.task_group() as tg:
            tg.start_soon(limit)
            try:
                outcome.append((await work(),))
            except StatesError as err:
                outcome.append(err)
            tg.cancel_scope.cancel()
        first = outcome[0]
        if isinstance(first, tuple):
            return first[0]
        raise first

    def run_block(self, block: Any, value: Any, frame: Frame) -> Awaitable[Any]:
        """A Parallel branch or an inline Map iteration: `block` in `frame`, in this execution
        (the state loop's coroutine itself: no coroutine around it)."""
        return run_block(self, block, value, frame)

    def record_call(self, run: Any, payload: Any, mocked: bool) -> None:
        self.calls.append(TaskCall(run.name, payload, run.retry_count + 1, mocked, run.frame.path))

    # observer hooks (the CLI trace and the test API listen here)
    def view(self) -> ExecutionView:
        """This execution as observers see it."""
        notes = tuple(fact.value for fact in self.facts if fact.kind == "note")
        return ExecutionView(self.arn, self.name, self.state_machine_arn, self.state_machine_name, self.type,
                             self.input, self.redrive_count, self.parent, notes, self.keep_note, self.history)

    def keep_note(self, value: Any) -> None:
        """Note `value` (JSON) in the journal for this execution's later runs (`ExecutionView.notes`)."""
        self.record_fact(None, "note", value)

    def observe_retry(self, run: Any, err: StatesError, attempt: int, delay: float, retrier: Any) -> None:
        if self.observer is not None:
            run.tell(RetryScheduled, err, attempt, delay, retrier)

    def observe_choice(self, run: Any, rule: Any) -> None:
        if self.observer is not None:
            run.tell(ChoiceMatched, rule)

    # ---- callbacks (SendTaskSuccess / Failure / Heartbeat) ---------------------------------

    def send_task_success(self, token: str, output: Any) -> None:
        """Complete a ``.waitForTaskToken`` task with `output`, a JSON value (AWS takes JSON text:
        anything else is InvalidOutput, and the task keeps waiting)."""
        waiter = self._waiter(token)
        try:
            output = json_copy(output)  # also: later changes to the caller's object reach nothing
        except MarshalError as exc:
            raise TaskFailed("InvalidOutput", f"The provided JSON output data is not valid: {exc}") from None
        waiter.answered_by = trace_headers()
        waiter.succeed(output)

    def send_task_failure(self, token: str, error: str | None = None, cause: str | None = None) -> None:
        waiter = self._waiter(token)
        waiter.answered_by = trace_headers()
        waiter.fail(error, cause)

    def send_task_heartbeat(self, token: str) -> None:
        self._waiter(token).heartbeat()

    def _waiter(self, token: str) -> TokenWaiter:
        waiter = self.waiters.get(token)
        if waiter is None:
            raise TaskFailed("TaskDoesNotExist", f"Task Does Not Exist: '{token}'")
        return waiter

    # ---- the run -----------------------------------------------------------------------------

    async def run(self) -> ExecutionResult:
        """Run to the end; the result always holds the complete history (see `result`).

        With a store attached, the journal is written as it grows and the end is recorded;
        resumed (`asl.engine.resume`), the recorded part is replayed first."""
        async with self.clock.joined():  # this task runs the execution (`VirtualClock`'s books)
            hosting = getattr(self.executions, "hosting", None)
            if hosting is None:
                return await self._run_to_end()
            async with hosting(self.clock):  # the task group of the nested children it starts here
                return await self._run_to_end()

    async def _run_to_end(self) -> ExecutionResult:
        try:
            result = await self._run()
        except BaseException as exc:
            # a handler raised KeyboardInterrupt: an interrupt, as Ctrl-C is, not a tangle of task groups
            if isinstance(exc, HandlerInterrupted) or (isinstance(exc, BaseExceptionGroup)  # noqa: F821
                                                       and exc.subgroup(HandlerInterrupted) is not None):
                raise KeyboardInterrupt() from None
            raise
        if self.abandoned:
            raise LeaseLost(f"another process took over the execution '{self.arn}'")
        if self.replay is not None:
            self.replay.check_complete()
        if self.sink is not None:
            await self.sink.finish(self)
            if self.sink.dropped:  # (taken over before its end was written: the end is the taker's)
                raise LeaseLost(f"another process took over the execution '{self.arn}'")
        return result

    def keep_input_text(self, text: str | None, whole: bool = True) -> str:
        """Keep the input as its caller spelled it, `text` (StartExecution's input, ``asl run``'s
        --input-json or --input file; `whole` False: only Jackson's lenient reading took it, see
        `spelled_input`): its ExecutionStarted event and its record show it as given. Returns the
        input as DescribeExecution answers it."""
        from .history import SPELLED_INPUT, spelled_input

        # a text that is no input (null) does not spell the {} the execution runs with: AWS's
        # startExecution.sync child of "Input": null reads '{}' (conformance/service/sync
        # test_start_execution_sync)
        spelled, compact_text = spelled_input(text, self.input, whole and not self._input_defaulted)
        if spelled is None:
            self.started_details.pop(SPELLED_INPUT, None)
            self.spelled = None
        else:
            self.started_details[SPELLED_INPUT] = spelled
            # an object only: AWS showed the compact text of an array input in its first state's
            # event (LocalStack's test_map_state_label, '["Hello", "World"]' then '["Hello","World"]'),
            # and a number or a string may be shared by values that are not the input
            self.spelled = (self.input, spelled) if type(self.input) is dict else None
        return spelled or compact_text

    def spelled_text(self, value: Any) -> str | None:
        """The caller's text of the execution's input when `value` is that input, unchanged
        (`keep_input_text`), else None: AWS passes it on as given while no state changes it (raw
        AWS captures, radkawar/stackd testdata/aws/stepfunctions/tracing_workflows.json,
        tracing_control.json, observability.json, encryption_execution.json: a Choice's, a Pass's
        without fields, a Wait's, a Parallel's and its branches' states', a Map's input and output,
        a Task's and a Fail's input, and the execution's output '{"probe": "x", "synthetic": true}'
        with the caller's spaces, '"native-\\u03bb"' with the caller's escape)."""
        spelled = self.spelled
        return spelled[1] if spelled is not None and value is spelled[0] else None

    def output_text(self, output: Any) -> str:
        """`output` (the run's, once it succeeded) as DescribeExecution answers it: its caller's
        text when it is the input unchanged (`spelled_text`), else compact JSON."""
        from ..jsontext import compact

        text = self.spelled_text(output)
        return compact(output) if text is None else text

    @property
    def input_text(self) -> str:
        """The input as DescribeExecution answers it: as its caller spelled it (`keep_input_text`),
        else compact JSON."""
        from ..jsontext import compact
        from .history import SPELLED_INPUT

        return self.started_details.get(SPELLED_INPUT) or compact(self.input)

    def stamp_start(self) -> float:
        """The time it starts at, read once, before it runs: its ExecutionStarted event's, and
        its store record's or a StartExecution answer's startDate (one instant, as AWS's)."""
        self.recorded_start = self.clock.now()
        return self.recorded_start

    async def attach(self, store: Any, owner: str | None = None, lease_seconds: float = LEASE_SECONDS,
                     options: dict | None = None, deferred: bool = False, with_start: bool = False,
                     parent: str | None = None) -> Any:
        """Record this (not yet started) execution in `store`; its journal follows as it runs.
        `owner` (default: this process) holds its lease, renewed while it runs (see
        `asl.engine.stores`); `options` join the record's options (a service's own fields).
        Returns the `ExecutionRecord`; raises ExecutionAlreadyExists when the store has that ARN.

        `deferred`: the record is written by the journal's first write instead, with what the run
        did so far (at its end, before it waits on time, or on `StoreSink.written`), so that a
        short execution costs one commit. The caller must know the ARN is free (nothing else may
        create it meanwhile): the run may already have begun when the record turns out taken.

        `with_start`: the record is written with the execution's first event (ExecutionStarted),
        in one commit, when the run begins and before any state runs; the run raises
        ExecutionAlreadyExists then (a caller that runs the execution at once: one disk sync
        fewer).

        `parent` (neither `deferred` nor `with_start`): the store's resource (a service's state
        machine) that must be there, and not DELETING, when the record is written
        (`Store.create`; else `ResourceGone`)."""
        import time

        from .history import SPELLED_INPUT
        from .stores import ExecutionRecord

        owner = owner or default_owner()
        text = _text_for(store)
        spelled = self.started_details.get(SPELLED_INPUT)  # the input as given: the record's one copy
        record = ExecutionRecord(
            arn=self.arn, name=self.name, state_machine_arn=self.state_machine_arn,
            state_machine_name=self.state_machine_name, definition=_definition_text(self.machine, text),
            type=self.type, input=text(self.input) if spelled is None else spelled, seed=self.seed,
            clock="virtual" if self.clock.virtual else "real", start_time=self.stamp_start(),
            options={"region": self.region, "historyLimit": self.history.limit,
                     "payloadLimit": self.payload_limit, **(options or {})},
            owner=owner, lease_until=time.time() + lease_seconds)
        if not (deferred or with_start) and not await (store.create(record, parent=parent) if parent else store.create(record)):
            raise ExecutionAlreadyExists(f"Execution Already Exists: '{self.arn}'")
        self.sink = StoreSink(store, self.arn, owner=owner, lease_seconds=lease_seconds,
                              pending=record if deferred or with_start else None, with_start=with_start)
        return record

    def abandon(self) -> None:
        """Stop advancing this execution without ending it (another process took its lease)."""
        self.abandoned = True
        if self._scope is not None:
            self._scope.cancel()

    async def _run(self) -> ExecutionResult:
        history = self.history
        status, output, error, cause = "SUCCEEDED", None, None, None
        # The machine's TimeoutSeconds, within AWS's maximum execution duration for the type;
        # either ends the run TIMED_OUT (States.Timeout), in virtual time as in real time.
        longest = EXPRESS_MAX_SECONDS if self.type == "EXPRESS" else STANDARD_MAX_SECONDS
        timeout = getattr(self.machine, "timeout_seconds", None)
        # The service maximum is a passive deadline: a handler awaiting real I/O under virtual
        # time does not make the clock jump a year ahead.
        sleep = self.clock.sleep if timeout is not None and timeout < longest else getattr(
            self.clock, "sleep_passive", self.clock.sleep)
        timeout = min(timeout or longest, longest)
        frame = self.root
        try:
            # at the time it was stamped with (a StartExecution answer's startDate): one instant
            started = self.emit(frame, "ExecutionStarted",
                                {"input": self.input, "inputDetails": {"truncated": False},
                                 "roleArn": self.role_arn, **self.started_details}, at=self.recorded_start)
            self.start_time = history.timestamp(started)
            if self.observer is not None:
                self.observer.event(ExecutionBegan(self.view()))
            frame.last = 0  # AWS: the first state's entry follows no event (previousEventId 0)
            if self.sink is None or self.sink.pending is None or self.sink.with_start:
                await self.flush()  # (a deferred record takes it along later)
            failure: list[BaseException] = []
            with anyio.CancelScope() as self._scope:
                if self.abandoned:  # (abandoned before it got here)
                    self._scope.cancel()
                async with self.clock.task_group() as tg:
                    if timeout:
                        async def limit() -> None:
                            # AWS: a redrive starts the machine's timeout anew
                            origin = self.redrive_time if self.redrive_time is not None else self.start_time
                            await sleep(origin + timeout - self.clock.now())
                            self._timed_out = True
                            self._scope.cancel()
                        tg.start_soon(limit)
                    if self.sink is not None:
                        tg.start_soon_outside(self.sink.run_periodically, self)
                    try:
                        output = await run_block(self, self.machine, self.input, frame)
                    except (StatesError, HistoryLimitExceeded, JournalMismatch) as exc:
                        failure.append(exc)  # raised below, outside the task group
                    except HandlerInterrupted:
                        raise
                    except RecursionError:  # a document deeper than the code on the way could take
                        failure.append(StatesError("States.Runtime", "A document was nested too deeply to process "
                                                   f"(the limit is {MAX_DEPTH} levels)."))
                    except Exception as exc:  # a bug of ours: fail the run, keep its history
                        failure.append(StatesError("States.Runtime", f"asl-engine internal error: "
                                                   f"{type(exc).__name__}: {exc}"))
                    tg.cancel_scope.cancel()
            if self.abandoned:  # another process has it: nothing more is recorded, nor told, here
                raise LeaseLost(f"another process took over the execution '{self.arn}'")
            if failure:
                raise failure[0]
            if self._timed_out:
                # AWS: ExecutionTimedOut carries error States.Timeout and no cause
                status, error, cause = "TIMED_OUT", "States.Timeout", None
            elif self._stopped is not None:
                status, (error, cause) = "ABORTED", self._stopped
            else:
                self.check_size(output, "execution")
        except StatesError as err:
            status, error, cause = "FAILED", err.error, err.cause
            self.hint = err.hint
        except HistoryLimitExceeded:
            status, error = "FAILED", "States.Runtime"
            cause = f"The execution reached the maximum number of history events ({history.limit})."
        except anyio.get_cancelled_exc_class():
            self._finish("ABORTED", None, None, None)  # cancelled from outside: record, then let it go
            raise
        self._finish(status, output, error, cause)
        return self.result

    def stop(self, error: str | None = None, cause: str | None = None) -> None:
        """StopExecution: end the run as ABORTED (ExecutionAborted carries error and cause)."""
        self._stopped = (error, cause)
        if self._scope is not None:
            self._scope.cancel()

    def end_at_next_transition(self, error: str, cause: str) -> None:
        """The run fails (error, cause: a terminal error, no Retry or Catch takes it) at its
        next step: AWS ends the executions of a deleted state machine so (DeleteStateMachine:
        "on the next state transition, the state machine's executions are terminated"); one
        waiting (a Wait, an activity's worker) waits on until then, and fails without recording
        the end of its wait (`asl.engine.staterun.end_if_deleted`, where AWS's evidence is). A
        resumed run's transitions already on record replay as they were."""
        self.ending = (error, cause)
        for child in getattr(self.map_runs, "children", {}).values() if self.map_runs is not None else ():
            if getattr(child, "token_arn", None) == self.arn:  # its Distributed Map children too
                child.end_at_next_transition(error, cause)

    def _finish(self, status: str, output: Any, error: str | None, cause: str | None) -> None:
        history = self.history
        history.make_room()  # the closing event always fits
        root = self.root
        root.last = history.last_id  # the closing event follows the last one recorded
        details: dict = {}
        if error is not None:
            details["error"] = error
        if cause is not None:
            details["cause"] = cause
        if status == "SUCCEEDED":
            closing = self.emit(root, "ExecutionSucceeded", {"output": output, "outputDetails": {"truncated": False}})
        elif status == "TIMED_OUT":
            root.last = 0  # AWS links the timeout to no earlier event: it comes from outside
            closing = self.emit(root, "ExecutionTimedOut", details)
        elif status == "ABORTED":
            root.last = 0  # StopExecution too (recorded: ExecutionAborted's previousEventId is 0)
            closing = self.emit(root, "ExecutionAborted", details)
        else:
            closing = self.emit(root, _CLOSING[status], details)
        now = history.timestamp(closing)
        if self.observer is not None:
            self.observer.event(ExecutionEnded(self.view(), status, error, cause))
        self.result = ExecutionResult(status, output if status == "SUCCEEDED" else None, error, cause, self.arn,
                                      self.name, history, self.calls, self.transitions, self.start_time, now,
                                      self.unserved, self.hint)


_NOTHING = object()
_CLOSING = {"TIMED_OUT": "ExecutionTimedOut", "ABORTED": "ExecutionAborted", "FAILED": "ExecutionFailed"}


class StoreSink:
    """Writes an execution's journal to a store: what the history and the facts gained since
    the last flush, every `PERIOD` seconds while it runs, before it waits on time, and at its
    end (with its status)."""

    PERIOD = 0.05

    def __init__(self, store: Any, arn: str, events_done: int = 0, facts_done: int = 0, owner: str | None = None,
                 lease_seconds: float = LEASE_SECONDS, pending: Any = None, with_start: bool = False):
        self.store = store
        self.arn = arn
        self.events_done = events_done
        self.facts_done = facts_done
        self.owner = owner
        self.lease_seconds = lease_seconds
        # a record not written yet (`Execution.attach(deferred=True)`): the first flush creates it
        self.pending = pending
        self.with_start = with_start  # the pending record is written with ExecutionStarted
        self.failure: BaseException | None = None
        self.dropped = False  # entries left unwritten: the execution was taken over (or given up)
        self._created = anyio.Event() if pending is not None else None
        self._creating = anyio.Lock() if pending is not None else None
        self._writing = anyio.Lock()  # one append at a time: entries go out in order, or go back
        self.away: str | None = None  # the store's error while it is away (said once, see `flush`)

    def _take(self, ex: "Execution") -> tuple[list, list]:
        entries = ex.history.entries(self.events_done)
        facts = ex.facts[self.facts_done:]
        first = self.events_done + 1
        self.events_done += len(entries)
        self.facts_done += len(facts)
        # spelled out as StoredEvents by the store that writes them (the memory store: when read)
        return Entries(first, entries), facts

    async def flush(self, ex: "Execution", changes: dict | None = None, patient: bool = True) -> None:
        """Write what the journal gained since the last write (and `changes` to the record).

        While the store is away (a StoreError: PostgreSQL restarting, a network fault) the
        entries stay unwritten and the write is tried again, with growing pauses, until the store
        takes it: the run waits there and goes on as if nothing happened. `patient` False: one
        try, its StoreError raised (an answer whose caller must be told), the entries kept for
        the next write."""
        if self.pending is not None:
            async with self._creating:
                if self.pending is not None:
                    await self._create(ex, changes)
                    return
        from .stores import StoreError

        pause = 0.05
        while True:
            try:
                await self._write(ex, changes)
            except StoreError as exc:
                if not patient or ex.abandoned:
                    raise
                if self.away is None:
                    self.away = str(exc)
                    _log.warning("execution %s waits for its store: %s", self.arn, exc)
                await anyio.sleep(pause)
                pause = min(pause * 2, 2.0)
                continue
            if self.away is not None:
                self.away = None
                _log.warning("execution %s: its store is back, the run goes on", self.arn)
            return

    async def _write(self, ex: "Execution", changes: dict | None) -> None:
        from .stores import NotOwner

        async with self._writing:
            if ex.abandoned:  # its lease is another process's now: the journal is that one's to write
                self.dropped = True
                return
            if ex.history.last_id == self.events_done and len(ex.facts) == self.facts_done and not changes:
                return
            counts = self.events_done, self.facts_done
            events, facts = self._take(ex)
            try:
                with anyio.CancelScope(shield=True):  # a commit is never cut short
                    await self.store.append(self.arn, events, facts, changes, owner=self.owner)
            except NotOwner:  # another process took it over meanwhile: it writes the journal from here
                self.dropped = True
                ex.abandon()
            except BaseException:  # not written: the next write takes these entries again
                self.events_done, self.facts_done = counts
                raise

    def unwritten(self, ex: "Execution", fact: StoredFact) -> bool:
        """Take back `fact`, recorded but not written yet (its caller is told it was not
        taken); the facts recorded after it move up one. False when it was written."""
        index = fact.seq - 1
        if index < self.facts_done or index >= len(ex.facts) or ex.facts[index] is not fact:
            return False
        del ex.facts[index]
        ex.facts[index:] = [later._replace(seq=later.seq - 1) for later in ex.facts[index:]]
        return True

    async def _create(self, ex: "Execution", changes: dict | None) -> None:
        import dataclasses

        record = self.pending
        if changes:
            record = dataclasses.replace(record, **changes)
        events, facts = self._take(ex)
        try:
            with anyio.CancelScope(shield=True):
                created = await self.store.create(record, events, facts)
            if not created:
                raise ExecutionAlreadyExists(f"Execution Already Exists: '{self.arn}'")
        except BaseException as exc:
            self.failure = exc
            raise
        finally:
            self.pending = None
            self._created.set()

    async def written(self, ex: "Execution", within: float) -> None:
        """Wait until the deferred record is written (by the run itself), writing it after
        `within` seconds with what the run did so far; raise what the write raised."""
        if self._created is None:
            return
        with anyio.move_on_after(within):
            await self._created.wait()
        if self.pending is not None:
            await self.flush(ex)
        await self._created.wait()
        if self.failure is not None:
            raise self.failure

    async def run_periodically(self, ex: "Execution") -> None:
        import time

        from .stores import StoreError

        renewed = time.monotonic()
        while True:
            await anyio.sleep(self.PERIOD)
            await self.flush(ex)
            if self.owner is not None and time.monotonic() - renewed > self.lease_seconds / 3:
                try:
                    held = await self.store.renew(self.owner, [self.arn], self.lease_seconds)
                except StoreError:  # away: tried again at the next period (the next write checks the lease)
                    continue
                renewed = time.monotonic()
                if not held:
                    ex.abandon()
                    return

    async def finish(self, ex: "Execution") -> None:
        """Write the rest of the journal and the end, in one commit where the store can."""
        result = ex.result
        await self.flush(ex, {"status": result.status, "stop_time": result.stop_time,
                              "output": None if result.status != "SUCCEEDED" else _output_text(ex, self.store),
                              "error": result.error, "cause": result.cause, "owner": None, "lease_until": None})


def _output_text(ex: "Execution", store: Any) -> Any:
    """The execution's output as its record keeps it (`_text_for`): the caller's text of its
    input when it is that input unchanged (`Execution.spelled_text`)."""
    text = ex.spelled_text(ex.result.output)
    if text is None:
        return _text_for(store)(ex.result.output)
    if _text_for(store) is _json_text:
        return text
    kept = JsonText(ex.result.output)
    kept._text = text
    return kept


def _json_text(value: Any) -> str:
    import json

    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _definition_text(machine: Any, text: Callable[[Any], Any]) -> Any:
    """The machine's definition as `text` gives it: the text it was loaded from where it was
    kept (``given_text``: the service's machines, whose definition AWS gives back as it was
    given), or the machine's own text, made once, when the store takes text (a 1,000-state
    definition is 2 ms of serialisation a run)."""
    if getattr(machine, "given_text", None) is not None:
        return machine.given_text
    if text is _json_text and getattr(machine, "definition_text", None) is not None:
        return machine.definition_text
    return text(machine.definition)


def _text_for(store: Any) -> Callable[[Any], Any]:
    """How a record's JSON fields are given to `store`: as text, or (a store with
    ``lazy_text``) as `JsonText` it spells out only when read."""
    return JsonText if getattr(store, "lazy_text", False) else _json_text
