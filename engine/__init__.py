"""asl.engine: run state machines locally, with Python handlers and mocks.

    import asl
    from asl.engine import Handlers, run_sync

    handlers = Handlers()

    @handlers.lambda_function("ValidateOrder")
    def validate(order):
        return {"valid": True}

    result = run_sync(asl.load("order.json"), {"orderId": "1"}, handlers=handlers)
    result.status, result.output, result.history.events

`run` is the async form (anyio). `test_state` / `test_state_sync` run one state alone, as AWS's
TestState API does (see `asl.engine.teststate`). Virtual time is the default: Waits and retry intervals
take no real time while every timestamp advances as if they had.
"""
from __future__ import annotations

from typing import Any

from ..errors import ASLError
from .observe import Observer
from .tasks import Handlers, MockConfig, MockConfigError, TaskContext, TaskFailed

__all__ = ["run", "run_sync", "Observer", "Handlers", "TaskFailed", "TaskContext", "MockConfig", "MockConfigError",
           "MissingHandlerError", "InvalidExecutionInput", "ExecutionResult", "Execution", "prepare",
           "test_state", "test_state_sync", "TestStateMock", "TestStateResult", "TestStateError",
           "resume", "prepare_resume", "NotResumable", "redrive", "prepare_redrive", "ExecutionNotRedrivable",
           "LeaseHeld"]


class MissingHandlerError(ASLError):
    """Raised before an execution starts when a Task state has neither a handler nor a mock
    (only with ``check_handlers=True``: by default a Task needs one only when it is invoked)."""

    def __init__(self, missing: list[tuple[str, str]]):
        self.missing = missing
        lines = [f"  - state '{name}': {resource}" for name, resource in missing]
        example = missing[0]
        super().__init__(
            "these Task states have no handler and no mock:\n" + "\n".join(lines) +
            "\nregister one, for example:\n"
            "    handlers = asl.engine.Handlers()\n"
            f"    @handlers.state({example[0]!r})\n"
            "    def handle(payload, ctx):\n"
            "        return {...}\n"
            "or give a MockConfigFile test case that mocks the state.")


class InvalidExecutionInput(ASLError):
    """Raised before an execution starts when its input is larger than the payload limit
    (AWS's StartExecution answers InvalidExecutionInput and starts nothing)."""


def __getattr__(name: str) -> Any:
    if name in ("ExecutionResult", "Execution"):
        from . import execution
        return getattr(execution, name)
    if name in ("test_state", "test_state_sync", "TestStateMock", "TestStateResult", "TestStateError"):
        from . import teststate
        return getattr(teststate, name)
    raise AttributeError(f"module 'asl.engine' has no attribute {name!r}")


def _mocks(mock_config: Any, test_case: str | None, machine_name: str) -> Any:
    from .tasks import Mocks

    if mock_config is None:
        mock_config = MockConfig.from_env()
        if mock_config is None:
            return None
    if isinstance(mock_config, str):
        mock_config = MockConfig.from_file(mock_config)
    elif isinstance(mock_config, dict):
        mock_config = MockConfig(mock_config)
    if test_case is None:
        machine = mock_config.state_machines.get(machine_name) or {}
        cases = list((machine.get("TestCases") or {}))
        if len(cases) != 1:
            if not mock_config.state_machines:
                raise MockConfigError("the mock config has no StateMachines: is it a Step Functions Local "
                                      "MockConfigFile?")
            raise MockConfigError(f"choose a test case of state machine '{machine_name}' (--test-case, or "
                                  f"test_case= in Python; it has: {', '.join(cases) or 'none'})")
        test_case = cases[0]
    return Mocks(mock_config, mock_config.test_case(machine_name, test_case))


def _check_mocked_states(mapping: dict, machine: Any) -> None:
    """A test case that mocks a state the machine does not have is a typo: say so."""
    import difflib

    names = [name for _, name, _ in machine.iter_states()]
    for state in mapping:
        if state not in names:
            close = difflib.get_close_matches(state, names, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise MockConfigError(f"the mock config's test case mocks a state '{state}' that the state machine "
                                  f"does not have{hint}")


def _task_states(machine: Any) -> list[tuple[str, Any]]:
    return [(name, state) for _, name, state in machine.iter_states() if state.type == "Task"]


def prepare(machine: Any, input: Any = None, *, handlers: Handlers | dict | None = None,
            mock_config: Any = None, test_case: str | None = None, name: str | None = None,
            state_machine_name: str | None = None, type: str = "STANDARD", virtual_time: bool = True,
            clock: Any = None, seed: int | None = None, history_limit: int = 25_000,
            observer: Any = None, check_handlers: bool = False, payload_limit: int | None = 262_144,
            sync: bool = False, activities: Any = None, aws: Any = None) -> Any:
    """Build an `Execution` (not started).

    A Task needs a handler or a mock only when it is invoked: one reached without either ends
    the run with States.Runtime ("No handler or mock for the Task state ..."), so executions
    that fail before the call (an unusable TimeoutSecondsPath, bad parameters) run as on AWS.
    ``check_handlers=True`` refuses to start instead (MissingHandlerError) when any Task that
    `unserved` can check statically lacks one.

    ``activities`` (an `asl.engine.callbacks.ActivityBroker`) serves the activity resources that
    no handler or mock serves: their tasks wait for workers (`ActivityBroker.get_task`).

    ``aws`` calls the real services (through boto3) for the Tasks no handler or mock serves:
    True, or ``{"endpoints": {"sqs": URL, "*": URL}, "region": ..., "profile": ...}``, or an
    `asl.engine.integrations.AwsConfig` (see `asl.engine.integrations.config`).
    """
    from .clock import Clock, VirtualClock
    from .execution import Execution

    if sync and type.upper() != "EXPRESS":
        raise ValueError("sync=True runs an EXPRESS state machine as StartSyncExecution does; "
                         "StartSyncExecution does not run STANDARD ones")
    if handlers is not None and not isinstance(handlers, Handlers):
        handlers = Handlers(handlers)
    handlers = handlers or Handlers()
    sm_name = state_machine_name or getattr(machine, "name", None) or "StateMachine"
    mocks = _mocks(mock_config, test_case, sm_name)
    if mocks is not None:
        _check_mocked_states(mocks.mapping, machine)
    if input is not None:
        from .tasks import MarshalError, json_copy

        from .payload import MAX_DEPTH, depth

        try:  # StartExecution takes JSON text: a value JSON cannot hold is refused up front
            deepest = depth(input)
            if deepest > MAX_DEPTH:
                raise MarshalError(f"the input is nested {deepest} levels deep; the limit is {MAX_DEPTH}")
            input = json_copy(input)
        except RecursionError:
            raise InvalidExecutionInput("Invalid State Machine Execution Input: the input is nested too deeply") \
                from None
        except MarshalError as exc:
            raise InvalidExecutionInput(f"Invalid State Machine Execution Input: {exc}") from None
    if payload_limit is not None and input is not None:
        from .payload import PayloadMeter

        size = PayloadMeter().size(input)
        if size > payload_limit:
            raise InvalidExecutionInput(f"Invalid State Machine Execution Input: the input is {size:,} bytes; "
                                        f"the limit is {payload_limit:,} bytes")
    if clock is None:
        clock = VirtualClock() if virtual_time else Clock()
    execution = Execution(machine, input, name=name, handlers=handlers, mocks=mocks, clock=clock, seed=seed,
                          machine_type=type.upper(), history_limit=history_limit, observer=observer,
                          state_machine_name=sm_name, payload_limit=payload_limit, sync=sync)
    execution.activities = activities
    if aws is not None and aws is not False:
        from .integrations import Integrations

        execution.integrations = Integrations.of(aws, execution.region)
    if check_handlers:
        missing = missing_handlers(execution)
        if missing:
            raise MissingHandlerError(missing)
    return execution


def missing_handlers(execution: Any) -> list[tuple[str, str]]:
    """The (name, Resource) of each Task state of a prepared execution that no handler or mock
    serves, as far as can be told before the run (``asl run`` warns about them); activities go
    to workers when an ActivityBroker is given, and services to AWS when the run calls them."""
    missing = unserved(_task_states(execution.machine), execution.handlers, execution.mocks)
    if getattr(execution, "activities", None) is not None:
        missing = [(n, r) for n, r in missing if ":activity:" not in r]
    if getattr(execution, "integrations", None) is not None:  # the services serve the rest
        from ..resources import parse_resource

        missing = [(n, r) for n, r in missing if execution.integrations.find(parse_resource(r), None, None) is None]
    return missing


def unserved(tasks: list[tuple[str, Any]], handlers: Handlers, mocks: Any) -> list[tuple[str, str]]:
    """The (name, Resource) of each Task state in `tasks` that neither a mock nor a handler serves."""
    from .tasks import lambda_function_name

    missing = []
    for state_name, state in tasks:
        if mocks is not None and mocks.has(state_name):
            continue
        function = lambda_function_name(state.resource, _static_arguments(state))
        if handlers.find(state_name, state.resource, function) is None:
            if function is None and state.resource.endswith(":lambda:invoke"):
                continue  # FunctionName comes from the input: checked when the task runs
            missing.append((state_name, state.resource))
    return missing


def _static_arguments(state: Any) -> Any:
    template = state.parameters if state.parameters is not None else state.arguments
    return template.source if template is not None else None


async def run(machine: Any, input: Any = None, *, store: Any = None, owner: str | None = None,
              lease_seconds: float | None = None, **options: Any) -> Any:
    """Run `machine` (from `asl.load`) with `input`; returns an `ExecutionResult`.

    With ``store`` (a `asl.engine.stores` store, opened), the execution is recorded there and
    its journal written as it runs, so `resume` can continue it after a crash.

    Options: ``handlers`` (Handlers or dict), ``mock_config`` (MockConfig, dict or file path;
    default ``$SFN_MOCK_CONFIG``) and ``test_case``, ``name`` (execution name),
    ``state_machine_name``, ``type`` (STANDARD/EXPRESS), ``sync`` (EXPRESS: run as
    StartSyncExecution does, whose ``$$.Execution`` has no RedriveCount), ``virtual_time`` (default True),
    ``clock``, ``seed`` (jitter, UUIDs), ``history_limit`` (default 25,000), ``observer``,
    ``payload_limit`` (bytes; default AWS's 262,144; None lifts it), ``check_handlers``
    (refuse to start when a Task has no handler or mock; default: fail only if one is invoked),
    ``aws`` (call real services for the Tasks no handler or mock serves; see `prepare`).
    """
    execution = prepare(machine, input, **options)
    if store is not None:
        await execution.attach(store, owner, lease_seconds or _lease())
    return await execution.run()


def _lease() -> float:
    from .execution import LEASE_SECONDS
    return LEASE_SECONDS


class LeaseHeld(ASLError):
    """Raised by `resume` / `redrive` when another live process holds the execution's lease."""


async def _claim(store: Any, record: Any, owner: str | None, lease_seconds: float | None) -> tuple[str, float]:
    """Take the execution's lease for `owner` (default: this process), or raise LeaseHeld."""
    import time

    from .execution import default_owner

    owner = owner or default_owner()
    lease_seconds = lease_seconds or _lease()
    if not await store.claim(owner, lease_seconds, arns=[record.arn]) and record.status == "RUNNING":
        until = max(0.0, (record.lease_until or 0) - time.time())
        raise LeaseHeld(f"the execution '{record.arn}' is being run by {record.owner} (its lease runs out in "
                        f"{until:.0f}s if that process has died)")
    return owner, lease_seconds


class NotResumable(ASLError):
    """Raised by `resume` for an execution the store does not have, or one that has ended."""


async def resume(store: Any, arn: str, **options: Any) -> Any:
    """Continue a RUNNING execution recorded in `store` (its process died) from its journal;
    returns its `ExecutionResult` (`prepare_resume` + `Execution.run`).

    The definition, input, seed and clock kind come from the store; ``options`` are `prepare`'s
    handler and mock options (``handlers``, ``mock_config``, ``test_case``, ``observer``).
    Recorded task outcomes are replayed, never called again; a task that was in flight is
    called again (``TaskContext.redelivered``); Waits end at their recorded deadlines.
    Raises `JournalMismatch` when the journal does not fit the definition.
    """
    execution = await prepare_resume(store, arn, **options)
    return await execution.run()


async def prepare_resume(store: Any, arn: str, *, owner: str | None = None, lease_seconds: float | None = None,
                         **options: Any) -> Any:
    """The `Execution` that `resume` runs, not started (to answer its callbacks, stop it, ...).
    Takes the execution's lease (`LeaseHeld` while another live process holds it)."""
    from .journal import Recorded

    record = await store.get(arn)
    if record is None:
        raise NotResumable(f"Execution Does Not Exist: '{arn}'")
    if record.status != "RUNNING":
        raise NotResumable(f"the execution '{arn}' has ended ({record.status}): nothing to resume")
    owner, lease_seconds = await _claim(store, record, owner, lease_seconds)
    events = await store.events(arn)
    facts = await store.facts(arn)
    return _restored(store, record, events, facts, Recorded(events, facts), options, owner, lease_seconds)


def _restored(store: Any, record: Any, events: list, facts: list, recorded: Any, options: dict, owner: str,
              lease_seconds: float) -> Any:
    """An execution rebuilt from its record and journal, replaying `recorded` when it runs."""
    import json

    from asl import load

    from .callbacks import recorded_answers
    from .clock import Clock, VirtualClock
    from .execution import StoreSink
    from .history import History

    machine = load(json.loads(record.definition))
    if record.clock == "virtual":
        clock = VirtualClock(recorded.last_time if recorded.last_time is not None else record.start_time)
    else:
        clock = Clock()
    opts = record.options
    execution = prepare(machine, json.loads(record.input), name=record.name,
                        state_machine_name=record.state_machine_name, type=record.type, clock=clock,
                        seed=record.seed, history_limit=opts.get("historyLimit", 25_000),
                        payload_limit=opts.get("payloadLimit", 262_144), check_handlers=False, **options)
    execution.history = History.restored([(e.type, e.previous_id, e.timestamp, e.details, e.site) for e in events],
                                         execution.history.limit)
    execution.replay = recorded
    execution.facts = list(facts)
    execution.answers = recorded_answers(facts)
    execution.redrive_count = record.redrive_count
    execution.redrive_time = record.redrive_time
    execution.sink = StoreSink(store, record.arn, len(events), len(facts), owner, lease_seconds)
    return execution


class ExecutionNotRedrivable(ASLError):
    """Raised by `redrive` when AWS would refuse RedriveExecution; ``.reason`` says why."""


REDRIVE_PERIOD = 14 * 24 * 3600          # AWS: redrivable for 14 days after the execution closed
MAX_OPEN = 365 * 24 * 3600               # ... and within a year of its start
REDRIVE_EVENT_LIMIT = 24_999             # ... when its history has fewer events than this


async def redrive(store: Any, arn: str, machine: Any = None, **options: Any) -> Any:
    """RedriveExecution: restart a FAILED, TIMED_OUT or ABORTED Standard execution from the
    states that did not succeed (inside a Parallel or Map, only the branches and iterations
    that did not), keeping its history; returns its new `ExecutionResult`.

    The history gains ``ExecutionRedriven`` and the new events; ``$$.Execution.RedriveCount``
    counts the redrives. `machine`, if given, must be the definition the execution ran.
    Raises `ExecutionNotRedrivable` as AWS refuses (Express, still RUNNING, SUCCEEDED, closed
    over 14 days ago, started over a year ago, 24,999 events or more, definition changed).
    """
    execution = await prepare_redrive(store, arn, machine, **options)
    return await execution.run()


async def prepare_redrive(store: Any, arn: str, machine: Any = None, *, owner: str | None = None,
                          lease_seconds: float | None = None, **options: Any) -> Any:
    """The `Execution` that `redrive` runs, recorded as redriven but not started."""
    import json
    import time

    from .journal import REDRIVEN, Recorded

    record = await store.get(arn)
    if record is None:
        raise NotResumable(f"Execution Does Not Exist: '{arn}'")
    events = await store.events(arn)
    now = time.time()
    reason = None
    if record.type == "EXPRESS":
        reason = "Execution is EXPRESS and cannot be redriven"
    elif record.status in ("RUNNING", "SUCCEEDED", "PENDING_REDRIVE"):
        reason = f"Execution is {record.status} and cannot be redriven"
    elif record.stop_time is not None and max(now, record.stop_time) - record.stop_time > REDRIVE_PERIOD:
        reason = "Execution redrivable period exceeded"
    elif (record.stop_time or now) - record.start_time > MAX_OPEN:
        reason = "Execution exceeded the maximum open time of one year and cannot be redriven"
    elif len(events) >= REDRIVE_EVENT_LIMIT:
        reason = f"Execution history has {len(events)} events; an execution with {REDRIVE_EVENT_LIMIT} or more " \
                 "cannot be redriven"
    elif machine is not None and json.loads(record.definition) != machine.definition:
        reason = "The state machine definition changed since the execution started: start a new execution"
    if reason is not None:
        error = ExecutionNotRedrivable(f"Execution Not Redrivable: {reason}")
        error.reason = reason
        raise error
    owner, lease_seconds = await _claim(store, record, owner, lease_seconds)
    facts = await store.facts(arn)
    execution = _restored(store, record, events, facts, Recorded(events, facts, redrive=True), options, owner,
                          lease_seconds)
    count = record.redrive_count + 1
    redriven_at = max(execution.clock.now(), record.stop_time or 0.0)
    if execution.clock.virtual:
        execution.clock.advance(redriven_at - execution.clock.now())
    execution.history.add(REDRIVEN, execution.history.last_id, redriven_at, {"redriveCount": count})
    execution._record(None, "redrive", count)
    execution.redrive_count = count
    execution.redrive_time = redriven_at
    await store.update(arn, status="RUNNING", stop_time=None, output=None, error=None, cause=None,
                       redrive_count=count, redrive_time=redriven_at, owner=owner,
                       lease_until=time.time() + lease_seconds)
    return execution


def run_sync(machine: Any, input: Any = None, **options: Any) -> Any:
    """`run` for synchronous code (starts an event loop)."""
    import anyio

    async def main() -> Any:
        return await run(machine, input, **options)

    return anyio.run(main)
