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

from ...history.events import HistoryError, events_of, read_document
from ...history.timeline import Timeline

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
    document = read_document(path)
    events = document.get("events") if isinstance(document, dict) else document
    if not isinstance(events, list) or not all(isinstance(e, dict) and isinstance(e.get("type"), str)
                                               for e in events):
        raise HistoryError(f"{path}: not an execution history (expected {{\"events\": [...]}} as "
                           "GetExecutionHistory returns it)")
    return events


def replay_history(events: list[dict]) -> Replay:
    """Read the input, the outcome and every Task response out of `events` (`asl.history`'s walker)."""
    if not any(e.get("type") == "ExecutionStarted" for e in events):
        raise HistoryError("the history has no ExecutionStarted event")
    timeline = Timeline(events_of(events))
    replay = Replay(timeline.input, timeline.result)
    for call in timeline.calls:  # in the order they were made
        replay.responses.setdefault(call.state, []).append(call.response)
        if call.at:
            replay.concurrent.add(call.state)
    replay.concurrent = {state for state in replay.concurrent if len(replay.responses[state]) > 1}
    return replay


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
