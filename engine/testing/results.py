"""`WorkflowRun`: a finished execution, with the questions and assertions a test asks of it.

    run = workflow.run(order, mocks={...})
    run.assert_succeeded()
    run.assert_path(["ValidateOrder", "ProcessPayment"])
    run.assert_output({...})                       # a diff when it differs
    run.state("ProcessPayment").stages["afterParameters"]
    run.path_in("ReserveItems[1]")                 # the states of Map iteration 1
    run.calls_to("ProcessPayment")[0].input

Addresses (``at=``) name Map iterations and Parallel branches, outermost first, as a string
``"Items[2]/Fanout[1]"`` or as pairs ``(("Items", 2), ("Fanout", 1))``.
"""
from __future__ import annotations

import re
from typing import Any

from ...diagnostics import closest
from ...errors import ASLError
from .explain import ARROW, compact, path_difference, value_difference
from .mocks import format_address, json_equal
from .recorder import Call, StateVisit

_MISSING = object()
_SEGMENT = re.compile(r"^(.+)\[(\d+)\]$")


class WorkflowTestError(ASLError):
    """Raised when a test names something the machine does not have (a state to test alone)."""


class UnknownStateError(WorkflowTestError):
    """A test named a state the machine does not have (a typo: the message suggests the closest
    name), or an address (``at=``, `path_in`) that no Map iteration or Parallel branch has."""


def unknown_state(machine_name: str, name: Any, names: list[str], what: str = "state") -> UnknownStateError:
    """The error for `name`, which is not among `names` (the machine's states of the kind `what`)."""
    close = closest(name, names)
    hint = f" (did you mean '{close}'?)" if close else ""
    return UnknownStateError(f"{machine_name} has no {what} '{name}'{hint}; its {what}s: {', '.join(names) or 'none'}")


class StatePath(list):
    """State names in the order they were entered; prints as ``A → B → C``.

    ``assert run.path == [...]`` in pytest explains a difference step by step.
    """

    def __str__(self) -> str:
        return ARROW.join(self) or "(no state)"


def parse_address(where: Any) -> tuple:
    """``"Items[2]/Fanout[1]"``, ``("Items", 2)`` or ``(("Items", 2), ...)`` -> pairs; None -> ()."""
    if where is None or where == "" or where == ():
        return ()
    if isinstance(where, str):
        pairs = []
        for segment in where.split("/"):
            match = _SEGMENT.match(segment.strip())
            if match is None:
                raise ValueError(f"address {where!r}: expected segments like 'MapState[3]' separated by '/'")
            pairs.append((match.group(1), int(match.group(2))))
        return tuple(pairs)
    where = tuple(where)
    if len(where) == 2 and isinstance(where[0], str) and isinstance(where[1], int):
        return (where,)
    return tuple((str(name), int(index)) for name, index in where)


class WorkflowRun:
    """One execution run by `Workflow.run`.

    status, output, error, cause   as the execution ended (output only when SUCCEEDED)
    history     the `History`; ``events`` are AWS's HistoryEvent dicts
    visits      every `StateVisit`, in the order the states were entered
    calls       every `Call` of a mock or handler, in order
    duration    virtual (or real) seconds from start to end
    result      the engine's `ExecutionResult`
    """

    def __init__(self, workflow: Any, result: Any, visits: list[StateVisit], calls: list[Call]):
        self.workflow = workflow
        self.result = result
        self.visits = visits
        self.calls = calls

    def __repr__(self) -> str:
        return f"<WorkflowRun {self.workflow.name} {self.outcome()}>"

    # ---- the outcome ---------------------------------------------------------------------------

    status = property(lambda self: self.result.status)
    output = property(lambda self: self.result.output)
    error = property(lambda self: self.result.error)
    cause = property(lambda self: self.result.cause)
    history = property(lambda self: self.result.history)
    events = property(lambda self: self.result.history.events)
    succeeded = property(lambda self: self.result.status == "SUCCEEDED")
    duration = property(lambda self: self.result.stop_time - self.result.start_time)
    hint = property(lambda self: self.result.hint, doc="what went wrong where the cause does not say it: the "
                    "line of a handler that raised, an intrinsic function's bad argument (or None)")
    unserved = property(lambda self: self.result.unserved, doc="the Task states reached that no mock or "
                        "handler serves")

    def outcome(self) -> str:
        """``SUCCEEDED``, or ``FAILED in Items[1]/Reserve: OutOfStock: none left``."""
        if self.succeeded:
            return "SUCCEEDED"
        origin = self.failed_visit()
        where = f" in {origin.address}" if origin is not None else ""
        cause = f": {self.cause}" if self.cause else ""
        return f"{self.status}{where}: {self.error}{cause}"

    def failed_visit(self) -> StateVisit | None:
        """The innermost state that failed with the execution's error (None if none did)."""
        failed = [v for v in self.visits if v.status == "failed" and v.error == self.error]
        return max(reversed(failed), key=lambda v: len(v.at), default=None)

    # ---- the path ------------------------------------------------------------------------------

    @property
    def path(self) -> StatePath:
        """The top-level states, in the order entered."""
        return self.path_in(())

    def path_in(self, where: Any) -> StatePath:
        """The states entered in one Map iteration or Parallel branch (see the module doc)."""
        at = self._address(where)
        return StatePath(v.name for v in self.visits if v.at == at)

    def _address(self, where: Any) -> tuple:
        """`where` parsed, after checking that each segment names a Map or Parallel state and one of
        its iterations that ran (or one of its branches); `UnknownStateError` otherwise."""
        __tracebackhide__ = True
        at = parse_address(where)
        types, machine = self.workflow.types, self.workflow.name
        for depth, (name, index) in enumerate(at):
            if types.get(name) not in ("Map", "Parallel"):
                if name in types:
                    raise UnknownStateError(f"address {format_address(at)}: '{name}' is a {types[name]} state; "
                                            "addresses name Map and Parallel states")
                raise unknown_state(machine, name, sorted(n for n, t in types.items() if t in ("Map", "Parallel")),
                                    "Map or Parallel state")
            outer = at[:depth]
            if types[name] == "Parallel":
                count = len(self.workflow.state_model(name).branches)
                if index >= count:
                    raise UnknownStateError(f"address {format_address(at)}: Parallel '{name}' has {count} "
                                            f"branch(es), numbered from 0")
                continue
            ran = {i for v in self.visits if v.name == name and v.at == outer for i in v.iterations}
            if index not in ran:
                where_text = f" at {format_address(outer)}" if outer else ""
                raise UnknownStateError(f"address {format_address(at)}: Map '{name}'{where_text} ran "
                                        f"{len(ran)} iteration(s){_range(ran)}, not iteration {index}")
        return at

    def _known(self, name: str, task: bool = False) -> None:
        """Raise `UnknownStateError` unless `name` is a state (a Task state, with `task`) of the machine."""
        __tracebackhide__ = True
        types = self.workflow.types
        if task and types.get(name) not in (None, "Task"):
            raise UnknownStateError(f"'{name}' is a {types[name]} state of {self.workflow.name}; only Task states "
                                    "are called")
        if name not in types:
            names = sorted(n for n, t in types.items() if t == "Task") if task else list(types)
            raise unknown_state(self.workflow.name, name, names, "Task state" if task else "state")

    # ---- states and calls ------------------------------------------------------------------------

    def visits_of(self, name: str, at: Any = _MISSING) -> list[StateVisit]:
        """Every entry into state `name` (only those at address `at`, if given)."""
        __tracebackhide__ = True
        self._known(name)
        found = [v for v in self.visits if v.name == name]
        if at is not _MISSING:
            address = self._address(at)
            found = [v for v in found if v.at == address]
        return found

    def state(self, name: str, at: Any = _MISSING, visit: int | None = None) -> StateVisit:
        """The one entry into state `name`; `at` and `visit` (0-based, -1 for the last) pick one of
        several. Raises AssertionError, saying what ran, when there is none or several."""
        __tracebackhide__ = True
        found = self.visits_of(name, at)
        if visit is not None:
            if -len(found) <= visit < len(found):
                return found[visit]
            raise AssertionError(f"state '{name}' was entered {len(found)} time(s){_at(at)}; there is no visit "
                                 f"{visit}")
        if len(found) == 1:
            return found[0]
        if not found:
            elsewhere = self.visits_of(name)
            if elsewhere:
                raise AssertionError(f"state '{name}' was never entered{_at(at)}; it was entered at "
                                     f"{', '.join(format_address(v.at) for v in elsewhere)}")
            raise AssertionError(f"state '{name}' was never entered; {self._path_line()}")
        places = ", ".join(format_address(v.at) for v in found)
        raise AssertionError(f"state '{name}' was entered {len(found)} times ({places}); pick one with at=... "
                             "or visit=N (0-based, in the order entered)")

    def calls_to(self, name: str) -> list[Call]:
        """The calls of Task `name`'s mock or handler, in order."""
        __tracebackhide__ = True
        self._known(name, task=True)
        return [c for c in self.calls if c.state == name]

    def attempts(self, name: str, at: Any = _MISSING) -> int:
        """How many attempts the (one) entry into Task `name` made: 1 + its retries."""
        return self.state(name, at).attempts

    # ---- assertions ------------------------------------------------------------------------------
    # Each returns the run (so they chain) and sets __tracebackhide__: pytest then points at the
    # test's line, not at this module.

    def assert_status(self, status: str) -> "WorkflowRun":
        __tracebackhide__ = True
        if self.status != status:
            raise AssertionError(f"expected the run to end {status}, but it ended {self.outcome()}\n"
                                 f"{self._explained()}")
        return self

    def assert_succeeded(self) -> "WorkflowRun":
        __tracebackhide__ = True
        return self.assert_status("SUCCEEDED")

    def assert_failed(self, error: str | None = None, cause: str | re.Pattern | None = None) -> "WorkflowRun":
        """The run FAILED, with `error` and `cause` if given (a compiled regex searches the cause)."""
        __tracebackhide__ = True
        if self.status != "FAILED":
            ended = f"SUCCEEDED with output {compact(self.output)}" if self.succeeded else self.outcome()
            raise AssertionError(f"expected the run to fail, but it {ended}\n{self._explained()}")
        if error is not None and self.error != error:
            raise AssertionError(f"expected the run to fail with error '{error}', but it failed with "
                                 f"'{self.error}' (cause: {self.cause})\n{self._explained()}")
        if cause is not None:
            matches = cause.search(self.cause or "") if isinstance(cause, re.Pattern) else self.cause == cause
            if not matches:
                shown = f"/{cause.pattern}/" if isinstance(cause, re.Pattern) else repr(cause)
                raise AssertionError(f"expected the cause {shown}, got {self.cause!r}\n{self._explained()}")
        return self

    def assert_output(self, expected: Any) -> "WorkflowRun":
        """The run SUCCEEDED with exactly this output (JSON equality); a diff otherwise."""
        __tracebackhide__ = True
        if not self.succeeded:
            raise AssertionError(f"expected an output, but the run ended {self.outcome()}\n{self._explained()}")
        if not json_equal(self.output, expected):
            raise AssertionError(value_difference(expected, self.output))
        return self

    def assert_path(self, expected: list[str], at: Any = None) -> "WorkflowRun":
        """The states entered (at the top level, or at address `at`) are exactly `expected`."""
        __tracebackhide__ = True
        actual = self.path_in(at)
        message = path_difference(expected, actual, format_address(parse_address(at)) if at else "")
        if message:
            raise AssertionError(f"{message}\nthe run ended {self.outcome()}")
        return self

    def assert_called(self, name: str, times: int | None = None, with_input: Any = _MISSING) -> "WorkflowRun":
        """Task `name` was called (`times` times, if given; one call with `with_input`, if given)."""
        __tracebackhide__ = True
        if times == 0:  # (no call at all: what assert_not_called asks)
            return self.assert_not_called(name)
        calls = self.calls_to(name)
        if not calls:
            raise AssertionError(f"expected a call of '{name}', but it was never called\n{self._explained()}")
        if times is not None and len(calls) != times:
            raise AssertionError(f"expected {times} call(s) of '{name}', got {len(calls)}:\n{_calls(calls)}")
        if with_input is not _MISSING and not any(json_equal(c.input, with_input) for c in calls):
            closest = value_difference(with_input, calls[-1].input, "the last call's input")
            raise AssertionError(f"no call of '{name}' had the expected input; its calls:\n{_calls(calls)}\n"
                                 f"{closest}")
        return self

    def assert_not_called(self, name: str) -> "WorkflowRun":
        __tracebackhide__ = True
        calls = self.calls_to(name)
        if calls:
            raise AssertionError(f"expected no call of '{name}', got {len(calls)}:\n{_calls(calls)}")
        return self

    def _path_line(self) -> str:
        return f"path taken: {self.path}"

    def _explained(self) -> str:
        """The path taken, after what else explains how the run ended: the hint (the line of a
        handler that raised), the Tasks no mock or handler serves."""
        lines = [f"why: {self.hint}"] if self.hint else []
        if self.unserved:
            names = list(dict.fromkeys(self.unserved))
            example = ", ".join(f"{name!r}: ..." for name in names)
            lines.append(f"no mock or handler serves {', '.join(names)}: give {'it' if len(names) == 1 else 'them'} "
                         f"in mocks={{{example}}} (or handlers=)")
        return "\n".join(lines + [self._path_line()])


def _at(at: Any) -> str:
    return "" if at is _MISSING else f" at {format_address(parse_address(at))}"


def _range(indexes: set[int]) -> str:
    if not indexes:
        return ""
    return f" ({min(indexes)}..{max(indexes)})" if len(indexes) == max(indexes) - min(indexes) + 1 else \
        f" ({', '.join(map(str, sorted(indexes)))})"


def _calls(calls: list[Call]) -> str:
    return "\n".join(f"  {i}. attempt {c.attempt} at {format_address(c.at)}: {compact(c.input)}"
                     for i, c in enumerate(calls, 1))
