"""One execution of a state machine: its context, clock, history, and final result.

`Execution.run()` drives the machine from ExecutionStarted to ExecutionSucceeded /
ExecutionFailed / ExecutionTimedOut / ExecutionAborted and always returns an
`ExecutionResult` holding the complete history, whatever happened (a handler that raised,
a timeout, a cancellation).
"""
from __future__ import annotations

import gc
import random
from contextlib import contextmanager
import uuid
from dataclasses import dataclass, field
from typing import Any, Iterator

import anyio

# anyio loads its event-loop backend on first use; load it with the engine instead, so the
# first execution does not pay ~80 ms of imports.
import anyio._backends._asyncio  # noqa: E402,F401

from ..errors import StatesError
from .clock import Clock, VirtualClock
from .history import History, HistoryLimitExceeded, iso
from .interpreter import Frame, run_block
from .payload import PayloadMeter
from .tasks import HandlerInterrupted, Handlers, MarshalError, Mocks, TaskFailed, json_copy

PAYLOAD_LIMIT = 262_144
VARIABLE_LIMIT = 262_144          # one Assign, and each value in it
VARIABLES_TOTAL_LIMIT = 10 * 1024 * 1024
EXPRESS_MAX_SECONDS = 300  # an Express execution runs at most five minutes
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


class TokenWaiter:
    """A Task waiting for SendTaskSuccess / SendTaskFailure with its token."""

    def __init__(self, execution: "Execution", token: str):
        import asyncio
        import threading

        self.execution = execution
        self.token = token
        self.event = anyio.Event()
        self.result: Any = None
        self.error: StatesError | None = None
        self.beat = Beat()
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()

    def _in_loop(self, fn: Any) -> None:
        """Run `fn` on the execution's event loop, whichever thread the caller is on."""
        import threading

        if threading.get_ident() == self._thread:
            fn()
        else:
            self._loop.call_soon_threadsafe(fn)

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

    async def wait(self) -> Any:
        try:
            with self.execution.clock.awaiting_outside():
                await self.event.wait()
        finally:
            self.execution.waiters.pop(self.token, None)
        if self.error is not None:
            raise self.error
        return self.result


class Beat:
    """Heartbeats of one task attempt (`TaskContext.heartbeat`, SendTaskHeartbeat)."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0


class Execution:
    """A running (or finished) execution. Build with `asl.engine.start` or `Runner`."""

    def __init__(self, machine: Any, input: Any = None, *, name: str | None = None,
                 handlers: Handlers | None = None, mocks: Mocks | None = None, clock: Clock | None = None,
                 seed: int | None = None, machine_type: str = "STANDARD", region: str = "us-east-1",
                 history_limit: int = 25_000, observer: Any = None, state_machine_name: str | None = None,
                 payload_limit: int | None = PAYLOAD_LIMIT):
        self.machine = machine
        self.input = {} if input is None else input
        self.name = name or str(uuid.uuid4())
        self.state_machine_name = state_machine_name or getattr(machine, "name", None) or "StateMachine"
        self.handlers = handlers or Handlers()
        self.mocks = mocks
        self.clock = clock or VirtualClock()
        self.rng = random.Random(seed)
        self.type = machine_type
        self.region = region
        self.history = History(history_limit)
        self.observer = observer
        self.transitions = 0
        self.calls: list[TaskCall] = []
        self.meter = PayloadMeter()
        self.payload_limit = payload_limit  # AWS: 262,144 bytes; None: no limit (benchmarks)
        self.waiters: dict[str, TokenWaiter] = {}
        self._choices: dict[int, list] = {}
        self._base: dict | None = None
        self.start_time = 0.0
        self._scope: anyio.CancelScope | None = None
        self._timed_out = False
        self._stopped: tuple[str | None, str | None] | None = None
        self.result: ExecutionResult | None = None  # set when the execution ends, however it ends
        sm_arn = f"arn:aws:states:{region}:{ACCOUNT}:stateMachine:{self.state_machine_name}"
        self.state_machine_arn = sm_arn
        if machine_type == "EXPRESS":
            self.arn = f"arn:aws:states:{region}:{ACCOUNT}:express:{self.state_machine_name}:{self.name}:" \
                       f"{uuid.UUID(int=self.rng.getrandbits(128), version=4)}"
        else:
            self.arn = f"arn:aws:states:{region}:{ACCOUNT}:execution:{self.state_machine_name}:{self.name}"

    # ---- services for the states ----------------------------------------------------------

    iso = staticmethod(iso)

    def context_base(self) -> dict:
        """``$$`` without State/Task/Map (a fresh dict each time: callers add their parts)."""
        if self._base is None:
            execution = {"Id": self.arn, "Input": self.input, "StartTime": iso(self.start_time),
                         "Name": self.name, "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/StepFunctionsLocalRole",
                         # present for Standard and asynchronous Express executions
                         "RedriveCount": 0}
            self._base = {"Execution": execution,
                          "StateMachine": {"Id": self.state_machine_arn, "Name": self.state_machine_name}}
        return dict(self._base)

    def compiled_choices(self, state: Any) -> list:
        found = self._choices.get(id(state))
        if found is None:
            from ..choice import compile_rule
            found = [(rule, compile_rule(rule)) for rule in state.choices]
            self._choices[id(state)] = found
        return found

    def check_size(self, value: Any, name: str, task: bool = False) -> None:
        """AWS's 256 KiB payload limit (States.DataLimitExceeded).

        A Task's oversized result is an ordinary, catchable failure of the task; any other
        oversized payload ends the execution (AWS: not even States.ALL catches it).
        """
        limit = self.payload_limit
        if limit is not None and type(value) in (dict, list, str) and self.meter.exceeds(value, limit):
            err = StatesError("States.DataLimitExceeded",
                              f"The state/task '{name}' returned a result with a size exceeding the maximum "
                              "number of bytes service limit.")
            err.terminal = not task
            raise err

    def aborting_branches(self) -> bool:
        """Is a cancellation the work of a failing sibling (not a stop or the machine's timeout)?"""
        return self._stopped is None and not self._timed_out

    def check_variables(self, assigned: dict, visible: dict, name: str) -> None:
        """Variable quotas (ASL-SPEC.md section 5): one value and one Assign at most 256 KiB,
        all variables of the execution at most 10 MiB. (AWS's error wording for these is not
        recorded; States.DataLimitExceeded is the documented error for payload quotas.)"""
        if self.payload_limit is None:
            return
        size = self.meter.size
        sizes = {key: size(value) for key, value in assigned.items()}
        for key, value_size in sizes.items():
            if value_size > VARIABLE_LIMIT:
                raise StatesError("States.DataLimitExceeded", f"The variable '{key}' assigned by the state "
                                  f"'{name}' is larger than the maximum of {VARIABLE_LIMIT} bytes.")
        if sum(sizes.values()) > VARIABLE_LIMIT:
            raise StatesError("States.DataLimitExceeded", f"The variables assigned by the state '{name}' "
                              f"together are larger than the maximum of {VARIABLE_LIMIT} bytes.")
        total = sum(size(v) for k, v in visible.items() if k not in assigned) + sum(sizes.values())
        if total > VARIABLES_TOTAL_LIMIT:
            raise StatesError("States.DataLimitExceeded", "The variables stored by the execution are larger "
                              f"than the maximum of {VARIABLES_TOTAL_LIMIT} bytes.")

    def new_task_token(self) -> str:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4).hex + uuid.UUID(
            int=self.rng.getrandbits(128), version=4).hex

    def token_waiter(self, token: str) -> TokenWaiter:
        waiter = TokenWaiter(self, token)
        self.waiters[token] = waiter
        return waiter

    async def guard(self, work: Any, timeout: int | None, heartbeat: int | None, beat: Beat) -> Any:
        """Await `work` under TimeoutSeconds and HeartbeatSeconds, on the execution's clock.

        Either limit running out cancels the work and fails with States.Timeout (AWS reports
        heartbeat expiry under that name too). The work's own exception passes through.
        """
        outcome: list = []
        expired: list[str] = []
        clock = self.clock

        async with anyio.create_task_group() as tg:
            async def main() -> None:
                try:
                    outcome.append((True, await work))
                except StatesError as exc:  # handed back below, outside the task group
                    outcome.append((False, exc))
                tg.cancel_scope.cancel()

            async def total() -> None:
                await clock.sleep(timeout)
                expired.append("Task timed out.")
                tg.cancel_scope.cancel()

            async def heart() -> None:
                while True:
                    seen = beat.count
                    await clock.sleep(heartbeat)
                    if beat.count == seen:
                        expired.append("Task heartbeat timed out.")
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
        err = StatesError("States.Timeout", expired[0] if expired else "Task timed out.")
        err.heartbeat = bool(expired) and "heartbeat" in expired[0]  # matchable as States.HeartbeatTimeout
        raise err

    def map_run_arn(self, label: str) -> str:
        return f"arn:aws:states:{self.region}:{ACCOUNT}:mapRun:{self.state_machine_name}/{label}:" \
               f"{uuid.UUID(int=self.rng.getrandbits(128), version=4)}"

    async def run_child(self, processor: Any, value: Any, index: int, path: tuple = ()) -> Any:
        """A Distributed Map item: its own execution, its own history, no outer variables.
        `path` is where it runs (the Map's path plus this item), for `TaskContext.path`."""
        child = Execution(processor, value, name=f"{self.name}-{index}", handlers=self.handlers, mocks=self.mocks,
                          clock=self.clock, machine_type=self.type, region=self.region,
                          state_machine_name=self.state_machine_name, observer=self.observer,
                          payload_limit=self.payload_limit)
        child.rng = self.rng
        child.calls = self.calls
        child.start_time = self.clock.now()
        frame = Frame({}, 0, None, path)
        try:
            return await run_block(child, processor, value, frame)
        finally:
            self.transitions += child.transitions

    def record_call(self, run: Any, payload: Any, mocked: bool) -> None:
        self.calls.append(TaskCall(run.name, payload, run.retry_count + 1, mocked, run.frame.path))

    # observer hooks (the CLI trace and the test API listen here)
    def observe_retry(self, run: Any, err: StatesError, attempt: int, delay: float) -> None:
        if self.observer is not None:
            self.observer.retry(run, err, attempt, delay)

    def observe_choice(self, run: Any, rule: Any) -> None:
        if self.observer is not None:
            self.observer.choice(run, rule)

    # ---- callbacks (SendTaskSuccess / Failure / Heartbeat) ---------------------------------

    def send_task_success(self, token: str, output: Any) -> None:
        """Complete a ``.waitForTaskToken`` task with `output`, a JSON value (AWS takes JSON text:
        anything else is InvalidOutput, and the task keeps waiting)."""
        waiter = self._waiter(token)
        try:
            output = json_copy(output)  # also: later changes to the caller's object reach nothing
        except MarshalError as exc:
            raise TaskFailed("InvalidOutput", f"The provided JSON output data is not valid: {exc}") from None
        waiter.succeed(output)

    def send_task_failure(self, token: str, error: str | None = None, cause: str | None = None) -> None:
        self._waiter(token).fail(error, cause)

    def send_task_heartbeat(self, token: str) -> None:
        self._waiter(token).heartbeat()

    def _waiter(self, token: str) -> TokenWaiter:
        waiter = self.waiters.get(token)
        if waiter is None:
            raise TaskFailed("TaskDoesNotExist", f"Task Does Not Exist: '{token}'")
        return waiter

    # ---- the run -----------------------------------------------------------------------------

    async def run(self) -> ExecutionResult:
        """Run to the end; the result always holds the complete history (see `result`)."""
        with _fewer_gc_passes():
            try:
                return await self._run()
            except BaseException as exc:
                # a handler raised KeyboardInterrupt: an interrupt, as Ctrl-C is, not a tangle of task groups
                if isinstance(exc, HandlerInterrupted) or (isinstance(exc, BaseExceptionGroup)  # noqa: F821
                                                           and exc.subgroup(HandlerInterrupted) is not None):
                    raise KeyboardInterrupt() from None
                raise

    async def _run(self) -> ExecutionResult:
        self.start_time = self.clock.now()
        history = self.history
        status, output, error, cause = "SUCCEEDED", None, None, None
        timeout = getattr(self.machine, "timeout_seconds", None)
        if timeout is None and self.type == "EXPRESS":
            timeout = EXPRESS_MAX_SECONDS
        try:
            history.add("ExecutionStarted", 0, self.start_time,
                        {"input": self.input, "inputDetails": {"truncated": False},
                         "roleArn": f"arn:aws:iam::{ACCOUNT}:role/StepFunctionsLocalRole"})
            frame = Frame({}, 0)
            failure: list[BaseException] = []
            with anyio.CancelScope() as self._scope:
                async with anyio.create_task_group() as tg:
                    if timeout:
                        async def limit() -> None:
                            await self.clock.sleep(timeout)
                            self._timed_out = True
                            self._scope.cancel()
                        tg.start_soon(limit)
                    try:
                        output = await run_block(self, self.machine, self.input, frame)
                    except (StatesError, HistoryLimitExceeded) as exc:
                        failure.append(exc)  # raised below, outside the task group
                    except HandlerInterrupted:
                        raise
                    except Exception as exc:  # a bug of ours: fail the run, keep its history
                        failure.append(StatesError("States.Runtime", f"asl-engine internal error: "
                                                   f"{type(exc).__name__}: {exc}"))
                    tg.cancel_scope.cancel()
            if failure:
                raise failure[0]
            if self._timed_out:
                status, error, cause = "TIMED_OUT", "States.Timeout", "The execution timed out."
            elif self._stopped is not None:
                status, (error, cause) = "ABORTED", self._stopped
            else:
                self.check_size(output, "execution")
        except StatesError as err:
            status, error, cause = "FAILED", err.error, err.cause
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

    def _finish(self, status: str, output: Any, error: str | None, cause: str | None) -> None:
        history = self.history
        history.limit = max(history.limit, len(history) + 1)  # the closing event always fits
        now = self.clock.now()
        last = history.last_id
        details: dict = {}
        if error is not None:
            details["error"] = error
        if cause is not None:
            details["cause"] = cause
        if status == "SUCCEEDED":
            history.add("ExecutionSucceeded", last, now, {"output": output, "outputDetails": {"truncated": False}})
        elif status == "TIMED_OUT":
            history.add("ExecutionTimedOut", last, now, details)
        elif status == "ABORTED":
            history.add("ExecutionAborted", last, now, details)
        else:
            history.add("ExecutionFailed", last, now, details)
        self.result = ExecutionResult(status, output if status == "SUCCEEDED" else None, error, cause, self.arn,
                                      self.name, history, self.calls, self.transitions, self.start_time, now)


_running = 0


@contextmanager
def _fewer_gc_passes() -> Iterator[None]:
    """Space out cyclic garbage collection while executions run.

    An execution allocates many short-lived, acyclic JSON values; with Python's default
    threshold (700) the collector scans them over and over, which cost about 40% of the time
    of a large Map. The thresholds are restored when the last running execution ends.
    """
    global _running, _saved
    if _running == 0:
        _saved = gc.get_threshold()
        gc.set_threshold(max(_saved[0], 50_000), *_saved[1:])
    _running += 1
    try:
        yield
    finally:
        _running -= 1
        if _running == 0:
            # Settle the young generation now, so that restoring the threshold does not set
            # off a full collection of the whole heap at the next allocation.
            if gc.isenabled():
                gc.collect(0)
            gc.set_threshold(*_saved)


_saved = gc.get_threshold()
