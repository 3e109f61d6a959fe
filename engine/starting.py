"""Starting an execution: check the options and the input, build the `Execution`, run it.

`asl.engine` re-exports everything here; resuming and redriving are in `asl.engine.resuming`.
"""
from __future__ import annotations

from typing import Any

from ..errors import ASLError
from .tasks import Handlers, MockConfig, MockConfigError


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


def mock_config_of(mock_config: Any, test_case: str | None) -> MockConfig | None:
    """The MockConfig that `prepare`'s ``mock_config`` option names (a MockConfig, a dict or a file
    path; None: ``$SFN_MOCK_CONFIG``; False: none). MockConfigError for a file that is not one,
    and for a `test_case` with no mock config to take it from (it would be ignored, and the
    run would fail at the first Task the test case mocks)."""
    if mock_config is False:  # explicitly none (a child execution started without a test case)
        return None
    if mock_config is None:
        mock_config = MockConfig.from_env()
        if mock_config is None:
            if test_case is not None:
                raise MockConfigError(f"test case '{test_case}' needs a mock config: give --mock-config FILE "
                                      "(or set SFN_MOCK_CONFIG), or mock_config= in Python")
            return None
    if isinstance(mock_config, str):
        return MockConfig.from_file(mock_config)
    if isinstance(mock_config, dict):
        return MockConfig(mock_config)
    return mock_config


def _mocks(mock_config: Any, test_case: str | None, machine_name: str) -> Any:
    from .tasks import Mocks

    mock_config = mock_config_of(mock_config, test_case)
    if mock_config is None:
        return None
    if test_case is None:
        if not mock_config.state_machines:
            raise MockConfigError("the mock config has no StateMachines: is it a Step Functions Local "
                                  "MockConfigFile?")
        cases = list(mock_config.machine(machine_name).get("TestCases") or {})  # (UnknownMockMachine)
        if len(cases) != 1:
            raise MockConfigError(f"choose a test case of state machine '{machine_name}' (--test-case, or "
                                  f"test_case= in Python; it has: {', '.join(cases) or 'none'})")
        test_case = cases[0]
    return Mocks(mock_config, mock_config.test_case(machine_name, test_case))


def _check_mocked_states(mapping: dict, machine: Any) -> None:
    """A test case that mocks a state the machine does not have is a typo: say so."""
    from ..diagnostics import closest

    names = [name for _, name, _ in machine.iter_states()]
    for state in mapping:
        if state not in names:
            close = closest(state, names)
            hint = f"; did you mean '{close}'?" if close else ""
            raise MockConfigError(f"the mock config's test case mocks a state '{state}' that the state machine "
                                  f"does not have{hint}")


def _task_states(machine: Any) -> list[tuple[str, Any]]:
    return [(name, state) for _, name, state in machine.iter_states() if state.type == "Task"]


def prepare(machine: Any, input: Any = None, *, handlers: Handlers | dict | None = None,
            mock_config: Any = None, test_case: str | None = None, name: str | None = None,
            state_machine_name: str | None = None, type: str = "STANDARD", virtual_time: bool = True,
            clock: Any = None, seed: int | None = None, history_limit: int = 25_000,
            observer: Any = None, check_handlers: bool = False, payload_limit: int | None = 262_144,
            sync: bool = False, activities: Any = None, aws: Any = None, machines: Any = None,
            log: Any = None, s3_folders: Any = None, executor: Any = None, region: str = "us-east-1") -> Any:
    """Build an `Execution` (not started).

    A Task needs a handler or a mock only when it is invoked: one reached without either ends
    the run with States.Runtime ("No handler or mock for the Task state ..."), so executions
    that fail before the call (an unusable TimeoutSecondsPath, bad parameters) run as on AWS.
    ``check_handlers=True`` refuses to start instead (MissingHandlerError) when any Task that
    `unserved` can check statically lacks one.

    ``activities`` (an `asl.engine.callbacks.ActivityBroker`) serves the activity resources that
    no handler or mock serves: their tasks wait for workers (`ActivityBroker.get_task`).

    ``executor`` runs the children of Distributed Maps elsewhere: an open executor of
    `asl.engine.executors` (`run` also takes "processes", "dask" or "dask://HOST:PORT").

    ``aws`` calls the real services (through boto3) for the Tasks no handler or mock serves:
    True, or ``{"endpoints": {"sqs": URL, "*": URL}, "region": ..., "profile": ...}``, or an
    `asl.engine.integrations.AwsConfig` (see `asl.engine.integrations.config`).

    ``machines`` (name or state machine ARN -> `asl.load` machine or file path) are the state
    machines a ``states:startExecution`` Task starts here, as child executions with their own
    history (``execution.executions.children``), sharing this run's handlers, services and
    clock; the machine being run is among them under its own name. Children of machines not
    listed go to Step Functions through boto3 when the run calls services. The ``aws-sdk:sfn``
    Tasks of the run that name its machines, executions or task tokens (StartExecution,
    StartSyncExecution, DescribeExecution, StopExecution, SendTaskSuccess, SendTaskFailure,
    SendTaskHeartbeat) are answered here, as Step Functions would answer them.

    ``log`` (an `asl.engine.execlog.ExecutionLog`) writes a log event per history event, as a
    state machine's LoggingConfiguration does.

    ``region`` is the execution's: of its ARNs and of its Tasks' TaskScheduled events (AWS names
    the state machine's region there: radkawar/stackd task_integrations.json, every TaskScheduled
    of its us-west-2 executions).

    ``s3_folders`` (``{"BUCKET": PATH}``) maps buckets to local folders: a Distributed Map's
    ItemReader and ResultWriter read and write them there instead of calling S3 (ValueError for
    a folder that does not exist).
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
                          state_machine_name=sm_name, payload_limit=payload_limit, sync=sync, region=region)
    execution.activities = activities
    execution.log = log
    from .integrations import Integrations
    if s3_folders:
        from .distributed.objects import parse_folders

        execution.s3_folders = parse_folders(s3_folders)

    # (without aws=, Step Functions Local's LAMBDA_ENDPOINT-style variables may still call those services)
    execution.integrations = Integrations.of(aws, execution.region)
    if machines is not None:
        from .integrations.nested import LocalExecutions

        local = machines if hasattr(machines, "serves") else LocalExecutions({sm_name: machine, **machines},
                                                                              execution.region)
        if isinstance(local, LocalExecutions):
            local.options = {"handlers": handlers, "aws": execution.integrations, "clock": clock,
                             "activities": activities, "payload_limit": payload_limit, "type": "STANDARD",
                             "observer": getattr(observer, "for_children", lambda: None)()}
            local.prepare = prepare
            local.mock_config = mocks.config if mocks is not None else None
            local.adopt(execution)
        execution.executions = local
    if executor is not None:
        if isinstance(executor, str):
            from .executors import check_executor

            if check_executor(executor) != "inline":
                raise ValueError("prepare() takes an open executor (asl.engine.executors.open_executor); "
                                 "run() also takes its name")
        else:
            execution.executor = executor
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
    if execution.integrations is not None or execution.executions is not None:  # the services serve the rest
        from ..resources import parse_resource
        from .integrations import serve

        missing = [(n, r) for n, r in missing if serve(execution, parse_resource(r), None) is None]
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

    ``executor`` says where Distributed Map children run: "inline" (default), "processes",
    "dask", "dask://HOST:PORT" (opened and closed for this run), or an open executor of
    `asl.engine.executors`.

    Options: ``handlers`` (Handlers or dict), ``mock_config`` (MockConfig, dict or file path;
    default ``$SFN_MOCK_CONFIG``) and ``test_case``, ``name`` (execution name),
    ``state_machine_name``, ``type`` (STANDARD/EXPRESS), ``sync`` (EXPRESS: run as
    StartSyncExecution does, whose ``$$.Execution`` has no RedriveCount), ``virtual_time`` (default True),
    ``clock``, ``seed`` (jitter, UUIDs), ``history_limit`` (default 25,000), ``observer``,
    ``payload_limit`` (bytes; default AWS's 262,144; None lifts it), ``check_handlers``
    (refuse to start when a Task has no handler or mock; default: fail only if one is invoked),
    ``aws`` (call real services for the Tasks no handler or mock serves; see `prepare`), ``log``
    (execution logs as a LoggingConfiguration writes them: `asl.engine.execlog`), ``s3_folders`` (buckets as local folders for a Distributed Map's
    ItemReader and ResultWriter).
    """
    executor = options.get("executor")
    if isinstance(executor, str):
        from .executors import open_executor

        opened = open_executor(executor)
        if opened is None:
            options.pop("executor")
        else:
            async with opened:
                return await run(machine, input, store=store, owner=owner, lease_seconds=lease_seconds,
                                 **{**options, "executor": opened})
    execution = prepare(machine, input, **options)
    if store is not None:
        await execution.attach(store, owner, lease_seconds or _lease(), with_start=True)
    return await execution.run()


def _lease() -> float:
    from .execution import LEASE_SECONDS
    return LEASE_SECONDS


def run_sync(machine: Any, input: Any = None, **options: Any) -> Any:
    """`run` for synchronous code (starts an event loop)."""
    import anyio

    async def main() -> Any:
        return await run(machine, input, **options)

    return anyio.run(main)
