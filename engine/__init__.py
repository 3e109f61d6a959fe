"""asl.engine: run state machines locally, with Python handlers and mocks.

    import asl
    from asl.engine import Handlers, run_sync

    handlers = Handlers()

    @handlers.lambda_function("ValidateOrder")
    def validate(order):
        return {"valid": True}

    result = run_sync(asl.load("order.json"), {"orderId": "1"}, handlers=handlers)
    result.status, result.output, result.history.events

`run` is the async form (anyio). Virtual time is the default: Waits and retry intervals
take no real time while every timestamp advances as if they had.
"""
from __future__ import annotations

from typing import Any

from ..errors import ASLError
from .observe import Observer
from .tasks import Handlers, MockConfig, MockConfigError, TaskContext, TaskFailed

__all__ = ["run", "run_sync", "Observer", "Handlers", "TaskFailed", "TaskContext", "MockConfig", "MockConfigError",
           "MissingHandlerError", "InvalidExecutionInput", "ExecutionResult", "Execution", "prepare"]


class MissingHandlerError(ASLError):
    """Raised before an execution starts when a Task state has neither a handler nor a mock."""

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
            observer: Any = None, check_handlers: bool = True, payload_limit: int | None = 262_144) -> Any:
    """Build an `Execution` (not started): checks that every Task can be served."""
    from .clock import Clock, VirtualClock
    from .execution import Execution

    if handlers is not None and not isinstance(handlers, Handlers):
        handlers = Handlers(handlers)
    handlers = handlers or Handlers()
    sm_name = state_machine_name or getattr(machine, "name", None) or "StateMachine"
    mocks = _mocks(mock_config, test_case, sm_name)
    if mocks is not None:
        _check_mocked_states(mocks.mapping, machine)
    if check_handlers:
        missing = unserved(_task_states(machine), handlers, mocks)
        if missing:
            raise MissingHandlerError(missing)
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
    return Execution(machine, input, name=name, handlers=handlers, mocks=mocks, clock=clock, seed=seed,
                     machine_type=type.upper(), history_limit=history_limit, observer=observer,
                     state_machine_name=sm_name, payload_limit=payload_limit)


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


async def run(machine: Any, input: Any = None, **options: Any) -> Any:
    """Run `machine` (from `asl.load`) with `input`; returns an `ExecutionResult`.

    Options: ``handlers`` (Handlers or dict), ``mock_config`` (MockConfig, dict or file path;
    default ``$SFN_MOCK_CONFIG``) and ``test_case``, ``name`` (execution name),
    ``state_machine_name``, ``type`` (STANDARD/EXPRESS), ``virtual_time`` (default True),
    ``clock``, ``seed`` (jitter, UUIDs), ``history_limit`` (default 25,000), ``observer``,
    ``payload_limit`` (bytes; default AWS's 262,144; None lifts it).
    """
    execution = prepare(machine, input, **options)
    return await execution.run()


def run_sync(machine: Any, input: Any = None, **options: Any) -> Any:
    """`run` for synchronous code (starts an event loop)."""
    import anyio

    async def main() -> Any:
        return await run(machine, input, **options)

    return anyio.run(main)
