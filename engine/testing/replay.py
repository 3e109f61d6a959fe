"""Record and replay: an execution history becomes a MockConfigFile test case, its input and
its expected result, so a production incident becomes a regression test.

    replay = replay_history(read_history("history.json"))   # AWS's GetExecutionHistory JSON
    document = add_test_case(existing_or_empty, "Order", "Incident42", replay)
    cases["Incident42"] = replay.case()                      # input + expected result

Each Task state gets the responses it got in the history, in call order (a retried call is
one response each attempt, as Step Functions Local counts them). Tasks inside a Map or a
Parallel are answered in call order too, which concurrent iterations need not repeat:
`Replay.concurrent` names those called more than once there, so the caller can warn.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...errors import ASLError

# The event that ends one call of a Task, and whether it returned (True) or threw (False).
ENDINGS = {"TaskSucceeded": True, "LambdaFunctionSucceeded": True, "ActivitySucceeded": True,
           "TaskFailed": False, "TaskTimedOut": False, "TaskStartFailed": False, "TaskSubmitFailed": False,
           "LambdaFunctionFailed": False, "LambdaFunctionTimedOut": False, "LambdaFunctionStartFailed": False,
           "LambdaFunctionScheduleFailed": False, "ActivityFailed": False, "ActivityTimedOut": False,
           "ActivityScheduleFailed": False}
NESTING = ("MapIterationStarted", "ParallelStateStarted", "MapRunStarted")


class HistoryError(ASLError):
    """Raised when a history file cannot be read or is not an execution history."""


@dataclass
class Replay:
    """What an execution did, as mocks and expectations.

    input      the execution's input
    result     ``{"status": ..., "output" | "error", "cause"}`` as it ended (status RUNNING if it had not)
    responses  per Task state, its responses in order: ``{"Return": value}`` or ``{"Throw": {...}}``
    concurrent the Task states called more than once inside Map iterations or Parallel branches
               (their calls may come in another order in a replay)
    """

    input: Any
    result: dict
    responses: dict[str, list[dict]] = field(default_factory=dict)
    concurrent: set[str] = field(default_factory=set)

    def case(self) -> dict:
        """The test case entry of a cases file: ``{"input": ..., "expect": {...}}``."""
        return {"input": self.input, "expect": self.result}


def read_history(path: str) -> list[dict]:
    """The events of a GetExecutionHistory document (``{"events": [...]}``) or a bare list."""
    from ...source import SourceError, read_json

    try:
        document = read_json(path)
    except SourceError as exc:
        raise HistoryError(str(exc)) from None
    events = document.get("events") if isinstance(document, dict) else document
    if not isinstance(events, list) or not all(_event_shaped(e) for e in events):
        raise HistoryError(f"{path}: not an execution history (expected {{\"events\": [...]}} as "
                           "GetExecutionHistory returns it)")
    return events


def _event_shaped(event: Any) -> bool:
    """An event as GetExecutionHistory gives it: a string type, integer ids (when present)."""
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        return False
    return all(isinstance(event.get(key, 0), int) and not isinstance(event.get(key, 0), bool)
               for key in ("id", "previousEventId"))


def replay_history(events: list[dict]) -> Replay:
    """Read the input, the outcome and every Task response out of `events`."""
    started = next((e for e in events if e["type"] == "ExecutionStarted"), None)
    if started is None:
        raise HistoryError("the history has no ExecutionStarted event")
    replay = Replay(_data(_details(started).get("input")), _result(events[-1]))
    nested_states = set()
    by_id = {e.get("id"): e for e in events}
    calls: dict[str, list[tuple]] = {}
    for event, state, nested in _owners(events):
        returned = ENDINGS.get(event["type"])
        if returned is None:
            continue
        if state is None:
            raise HistoryError(f"event {event.get('id')} ({event['type']}) follows no state entry")
        details = _details(event)
        response = {"Return": _data(details.get("output"))} if returned else \
            {"Throw": {k: v for k, v in (("Error", details.get("error")), ("Cause", details.get("cause")))
                       if v is not None}}
        calls.setdefault(state, []).append((_scheduled_id(event, by_id), response))
        if nested:
            nested_states.add(state)
    # Calls in the order they were made (their Scheduled events), not the order they ended:
    # concurrent Map iterations finish in any order but start, and are replayed, in order.
    replay.responses = {state: [r for _, r in sorted(made, key=lambda c: c[0])] for state, made in calls.items()}
    replay.concurrent = {state for state in nested_states if len(replay.responses[state]) > 1}
    return replay


def _scheduled_id(event: dict, by_id: dict) -> int:
    """The id of the ``*Scheduled`` event that started the call `event` ends (its own id if none)."""
    current = event
    for _ in range(8):  # Scheduled -> Started -> (Submitted) -> the ending event
        previous = by_id.get(current.get("previousEventId"))
        if previous is None:
            break
        if previous["type"].endswith("Scheduled"):
            return previous.get("id") or 0
        current = previous
    return event.get("id") or 0


def _owners(events: list[dict]) -> Any:
    """Each event with the state whose entry it follows and whether that entry is nested in a
    Map iteration or Parallel branch, in one pass: every event names the one it follows."""
    by_id: dict[Any, dict] = {}
    owner: dict[Any, tuple[str | None, bool]] = {}
    entered: dict[str, tuple[str | None, bool]] = {}  # state name -> its latest entry's owner tuple
    for event in events:
        kind = event["type"]
        previous = by_id.get(event.get("previousEventId"))
        before = owner.get(event.get("previousEventId"), (None, False))
        if kind.endswith("StateEntered"):
            if previous is not None and previous["type"] in NESTING:
                nested = True
            elif previous is not None and previous["type"].endswith("StateExited"):
                nested = entered.get(_details(previous).get("name"), (None, False))[1]
            else:
                nested = before[1]
            name = _details(event).get("name")
            owner[event.get("id")] = entered[name] = (name, nested)
        else:
            owner[event.get("id")] = before
        by_id[event.get("id")] = event
        yield (event,) + owner[event.get("id")]


def add_test_case(document: dict, machine: str, test_case: str, replay: Replay) -> dict:
    """`document` (a MockConfigFile, possibly empty) with test case `test_case` of `machine` added
    (replacing one of that name); response names are ``<test case>.<state>``."""
    document = dict(document)
    machines = document.setdefault("StateMachines", {})
    cases = machines.setdefault(machine, {}).setdefault("TestCases", {})
    responses = document.setdefault("MockedResponses", {})
    mapping = {}
    for state, calls in replay.responses.items():
        name = f"{test_case}.{state}"
        mapping[state] = name
        responses[name] = _ranges(calls)
    cases[test_case] = mapping
    return document


def _ranges(calls: list[dict]) -> dict:
    """``[a, a, b]`` -> ``{"0-1": a, "2": b}``: runs of equal responses share one entry."""
    table: dict[str, dict] = {}
    start = 0
    for i in range(1, len(calls) + 1):
        if i == len(calls) or calls[i] != calls[start]:
            table[str(start) if i - 1 == start else f"{start}-{i - 1}"] = calls[start]
            start = i
    return table


def _result(last: dict) -> dict:
    details = _details(last)
    kind = last["type"]
    if kind == "ExecutionSucceeded":
        return {"status": "SUCCEEDED", "output": _data(details.get("output"))}
    status = {"ExecutionFailed": "FAILED", "ExecutionTimedOut": "TIMED_OUT", "ExecutionAborted": "ABORTED"}.get(kind)
    if status is None:
        return {"status": "RUNNING"}
    result = {"status": status}
    result.update((k, details[k]) for k in ("error", "cause") if details.get(k) is not None)
    return result


def _details(event: dict) -> dict:
    return next((v for k, v in event.items() if k.endswith("EventDetails") and isinstance(v, dict)), {})


def _data(value: Any) -> Any:
    if isinstance(value, str):
        from ...source import SourceError, parse_json

        try:
            return parse_json(value)
        except SourceError:  # not JSON text (an event written by hand): the text itself
            return value
    return value
