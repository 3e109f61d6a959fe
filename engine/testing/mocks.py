"""Mocks in Python: what a Task returns or throws in a test.

    from asl.engine.testing import by_attempt, per_iteration, raises, returns, when

    workflow.run(order, mocks={
        "ValidateOrder": {"valid": True},                      # a plain value is returned
        "ProcessPayment": by_attempt(raises("Gateway.Timeout"), {"status": "PAID"}),
        "ReserveItem": per_iteration({1: raises("OutOfStock")}, default={"reserved": True}),
        "ChooseCarrier": when({"express": True}, {"carrier": "AIR"}).otherwise({"carrier": "ROAD"}),
        "Notify": lambda payload, ctx: {"sent": payload["to"]},  # a callable is a handler
    })

Mocks are keyed by Task state name and win over handlers and over a MockConfigFile for the
states they name. A mock stands for the whole Task: on a ``.waitForTaskToken`` Task its answer
is the callback's (as a MockConfigFile response is in Step Functions Local), where a handler
is only the call that carries the token. A mock is a description, immutable and reusable: the counters a `sequence`
needs live in the `MockSession` of one run. Every mock runs in the event loop (no worker
thread), so runs that use only mocks are deterministic even with Map and Parallel states:
choose responses by attempt, input, iteration or branch rather than by call order there.

A mistake in the mocks themselves (a sequence too short, no `when` rule for an input) is not
an ASL error that Retry or Catch could swallow: the run records it and `Workflow.run` raises
`MockError` once the execution has ended.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable

from ...diagnostics import closest
from ...errors import ASLError
from ...jsontext import json_equal
from ..tasks import Handlers, MarshalError, TaskContext, TaskFailed, json_copy
from ..tasks import _takes_context as takes_context
from .explain import compact


class MockError(ASLError):
    """Raised by `Workflow.run` / `Workflow.test_state` when the mocks given do not fit the
    machine (a name that is no Task state) or cannot answer a call (a sequence ran out, no
    `when` rule matched, an iteration with no response and no default)."""


# --------------------------------------------------------------------------------------------
# The responses
# --------------------------------------------------------------------------------------------

class Mock:
    """How a mocked Task answers one call. Subclasses implement `respond`."""

    async def respond(self, call: "MockCall") -> Any:
        raise NotImplementedError

    def __repr__(self) -> str:
        return self.describe()

    def describe(self) -> str:
        return type(self).__name__


@dataclass(frozen=True, repr=False)
class Returns(Mock):
    """Return `value` (after `after` seconds of virtual time, if given)."""

    value: Any
    after: float | None = None

    def __post_init__(self) -> None:
        # A value that is not JSON is a mistake in the test: refused here, where the test builds
        # the mock (a Task answering it would fail with Runtime.MarshalError, as a Lambda function
        # returning it does, and a States.ALL Catch would hide that). Bytes are a response body.
        if isinstance(self.value, (bytes, bytearray)):
            return
        try:
            json_copy(self.value)
        except MarshalError as exc:
            shown = repr(self.value)
            shown = shown if len(shown) <= 80 else shown[:77] + "..."
            raise MockError(f"a mock's value must be JSON (dict, list, str, number, bool or None), not {shown}: "
                            f"{exc}") from None

    async def respond(self, call: "MockCall") -> Any:
        if self.after:
            await call.session.sleep(self.after)
        return self.value

    def describe(self) -> str:
        return f"returns({compact(self.value, 60)})"


@dataclass(frozen=True, repr=False)
class Raises(Mock):
    """Fail the task with `error` and `cause`, as a handler raising `TaskFailed` does."""

    error: str
    cause: str | None = None
    after: float | None = None

    async def respond(self, call: "MockCall") -> Any:
        if self.after:
            await call.session.sleep(self.after)
        raise TaskFailed(self.error, self.cause)

    def describe(self) -> str:
        return f"raises({self.error!r})"


@dataclass(frozen=True, repr=False)
class Calls(Mock):
    """Call ``fn(payload)`` or ``fn(payload, ctx)``, sync or async.

    Unlike a handler, a sync callable runs in the event loop, not in a worker thread: a mock
    answers at once, and answering in the loop keeps concurrent branches in a fixed order.
    Code that blocks belongs in ``handlers=``.
    """

    fn: Callable[..., Any]

    async def respond(self, call: "MockCall") -> Any:
        result = self.fn(call.payload, call.ctx) if takes_context(self.fn) else self.fn(call.payload)
        return await result if inspect.isawaitable(result) else result

    def describe(self) -> str:
        return getattr(self.fn, "__qualname__", repr(self.fn))


@dataclass(frozen=True, repr=False)
class Sequence(Mock):
    """One response per call of the state (``per="call"``) or per attempt (``per="attempt"``)."""

    responses: tuple[Mock, ...]
    per: str = "call"

    async def respond(self, call: "MockCall") -> Any:
        if self.per == "attempt":
            number = call.ctx.attempt
        else:
            number = call.session.count((id(self), call.state))
        if number > len(self.responses):
            what = "attempt" if self.per == "attempt" else "call"
            return call.problem(f"the mock for state '{call.state}' has {len(self.responses)} response(s) "
                                f"but {what} {number} was made; add responses to {self.describe()}")
        return await self.responses[number - 1].respond(call)

    def describe(self) -> str:
        name = "by_attempt" if self.per == "attempt" else "sequence"
        return f"{name}({', '.join(r.describe() for r in self.responses)})"


@dataclass(frozen=True, repr=False)
class When(Mock):
    """The response of the first rule whose condition matches the task's input.

    A condition is a callable (``payload -> bool``) or a value the input must contain: a dict
    matches when each of its keys is in the input with a matching value (recursively), any
    other value when it equals the input. `otherwise` answers when no rule matches.
    """

    rules: tuple[tuple[Any, Mock], ...]
    default: Mock | None = None

    def when(self, condition: Any, response: Any) -> "When":
        """Another rule, tried after the ones before it."""
        return When(self.rules + ((condition, to_mock(response)),), self.default)

    def otherwise(self, response: Any) -> "When":
        """The response when no rule matches."""
        return When(self.rules, to_mock(response))

    async def respond(self, call: "MockCall") -> Any:
        for condition, response in self.rules:
            if condition(call.payload) if callable(condition) else contains(call.payload, condition):
                return await response.respond(call)
        if self.default is None:
            return call.problem(f"no when() rule of the mock for state '{call.state}' matches its input "
                                f"{compact(call.payload, 200)}; add one or an .otherwise(...)")
        return await self.default.respond(call)

    def describe(self) -> str:
        return f"when(... {len(self.rules)} rule(s))"


@dataclass(frozen=True, repr=False)
class PerIndex(Mock):
    """One response per Map iteration (``kind="Map"``) or Parallel branch (``kind="Parallel"``).

    The index is that of the innermost enclosing Map (or Parallel) state around the task, or of
    the one called `within`. It comes from where the task runs, not from the order of calls,
    so the answers stay the same however the iterations interleave.
    """

    responses: dict[int, Mock]
    default: Mock | None
    kind: str
    within: str | None = None

    async def respond(self, call: "MockCall") -> Any:
        word = "iteration" if self.kind == "Map" else "branch"
        index = None
        for name, i in reversed(call.ctx.path):
            if (self.within is None and call.session.types.get(name) == self.kind) or name == self.within:
                index = i
                break
        if index is None:
            where = f"'{self.within}'" if self.within else f"any {self.kind} state"
            return call.problem(f"the mock for state '{call.state}' answers per {self.kind} {word}, but the task "
                                f"does not run inside {where} (it runs at {format_address(call.ctx.path)})")
        response = self.responses.get(index, self.default)
        if response is None:
            return call.problem(f"the mock for state '{call.state}' has no response for {self.kind} {word} "
                                f"{index} and no default; it answers {word}s {sorted(self.responses)}")
        return await response.respond(call)

    def describe(self) -> str:
        return f"per_{'iteration' if self.kind == 'Map' else 'branch'}({sorted(self.responses)})"


# --------------------------------------------------------------------------------------------
# The front door: small functions that read well in a test
# --------------------------------------------------------------------------------------------

def returns(value: Any, *, after: float | None = None) -> Mock:
    """The task returns `value`; with `after`, once that many seconds of (virtual) time passed,
    so TimeoutSeconds and HeartbeatSeconds fire as they would on AWS."""
    return Returns(value, after)


def raises(error: str, cause: str | None = None, *, after: float | None = None) -> Mock:
    """The task fails with `error` (the name Retry and Catch match) and `cause`."""
    return Raises(error, cause, after)


def sequence(*responses: Any) -> Mock:
    """The n-th call of the state gets the n-th response, retries and loops included (like a
    MockConfigFile). Under Map or Parallel the call order can vary: prefer `by_attempt`."""
    return Sequence(tuple(to_mock(r) for r in responses), "call")


def by_attempt(*responses: Any) -> Mock:
    """Attempt n of each entry into the state (1 = first try, 2 = first retry) gets response n."""
    return Sequence(tuple(to_mock(r) for r in responses), "attempt")


def when(condition: Any, response: Any) -> When:
    """Answer by matching the task's input; chain ``.when(...)`` and ``.otherwise(...)``."""
    return When(((condition, to_mock(response)),))


def per_iteration(responses: dict[int, Any] | list, *, default: Any = None, within: str | None = None) -> Mock:
    """One response per Map iteration index (a dict or a list), `default` for the others."""
    return _per_index(responses, default, "Map", within)


def per_branch(responses: dict[int, Any] | list, *, default: Any = None, within: str | None = None) -> Mock:
    """One response per Parallel branch index (a dict or a list), `default` for the others."""
    return _per_index(responses, default, "Parallel", within)


def _per_index(responses: dict[int, Any] | list, default: Any, kind: str, within: str | None) -> Mock:
    table = dict(enumerate(responses)) if isinstance(responses, (list, tuple)) else dict(responses)
    return PerIndex({int(k): to_mock(v) for k, v in table.items()},
                    None if default is None else to_mock(default), kind, within)


def to_mock(value: Any) -> Mock:
    """A `Mock` as is; a callable as a handler; any other value as `returns(value)`."""
    if isinstance(value, Mock):
        return value
    if callable(value):
        return Calls(value)
    return Returns(value)


def contains(value: Any, pattern: Any) -> bool:
    """Does `value` hold `pattern`? Dicts match by subset, recursively; the rest by JSON equality."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(k in value and contains(value[k], v) for k, v in pattern.items())
    return json_equal(value, pattern)


def format_address(path: tuple) -> str:
    """``(("Items", 2), ("Fanout", 1))`` -> ``Items[2]/Fanout[1]``; ``()`` -> ``the top level``."""
    return "/".join(f"{name}[{index}]" for name, index in path) or "the top level"


# --------------------------------------------------------------------------------------------
# One run's mocks
# --------------------------------------------------------------------------------------------

@dataclass
class MockCall:
    """One call of a mocked Task, as a `Mock` sees it."""

    state: str
    payload: Any
    ctx: TaskContext
    session: "MockSession"

    def problem(self, message: str) -> Any:
        """Record a mistake in the mocks and stop this task (the run raises `MockError` at its end)."""
        self.session.problems.append(message)
        raise TaskFailed("MockError", message)


@dataclass
class MockSession:
    """The mocks of one run: counters for sequences, the clock for `after`, problems found."""

    mocks: dict[str, Mock]
    types: dict[str, str]
    clock: Any = None
    problems: list[str] = field(default_factory=list)
    _counts: dict = field(default_factory=dict)

    def count(self, key: Any) -> int:
        """1 for the first call with `key`, then 2, ..."""
        self._counts[key] = self._counts.get(key, 0) + 1
        return self._counts[key]

    async def sleep(self, seconds: float) -> None:
        await self.clock.sleep(seconds)

    def handlers(self) -> Handlers:
        """A registry with one ``state:NAME`` handler per mocked state."""
        registry = Handlers()
        for name, mock in self.mocks.items():
            registry.register(f"state:{name}", self._handler(name, mock))
        return registry

    def _handler(self, name: str, mock: Mock) -> Callable[..., Any]:
        async def handle(payload: Any, ctx: TaskContext) -> Any:
            return await mock.respond(MockCall(name, payload, ctx, self))
        handle.__qualname__ = f"mock of {name}"
        handle.stands_for_task = True  # type: ignore[attr-defined]  # on a callback Task: its answer (engine/task.py)
        return handle


def check_mock_names(names: Any, types: dict[str, str], machine_name: str) -> None:
    """Raise `MockError` for a mock keyed by anything but a Task state's name."""
    tasks = sorted(n for n, t in types.items() if t == "Task")
    for name in names:
        if types.get(name) == "Task":
            continue
        if name in types:
            raise MockError(f"mocks: '{name}' is a {types[name]} state of {machine_name}; only Task states can be "
                            f"mocked (its Task states: {', '.join(tasks) or 'none'})")
        close = closest(name, tasks)
        hint = f" (did you mean '{close}'?)" if close else ""
        raise MockError(f"mocks: {machine_name} has no Task state '{name}'{hint}; its Task states: "
                        f"{', '.join(tasks) or 'none'}")
