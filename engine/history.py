"""The execution history: AWS's event types, ids and details (ASL-SPEC.md section 13); their
JSON shape is `asl.history.events`'s, and `asl.history.timeline` reads them back.

Events are appended as small tuples and turned into AWS's ``HistoryEvent`` dicts only when
asked (`History.events`, `History.to_aws`), so recording costs little on the hot path. Data
fields (``input``, ``output``, ``parameters``) are JSON *strings* in AWS's shape; they are
serialised lazily too, from the values the engine shares (never mutates).
"""
from __future__ import annotations

from typing import Any, Iterator

from ..history.events import details_key as camel_details  # TaskStateEntered -> stateEnteredEventDetails
from ..jsontext import compact
from .journal import event_details  # the tuple form of state events spelled out
from ..timestamps import format_timestamp as iso  # epoch seconds -> 2019-03-26T20:14:13.192Z

_DATA_FIELDS = ("input", "output", "parameters")

#: The key of an ``ExecutionStarted``'s details that holds StartExecution's input as its caller
#: spelled it (JSON text), kept when it differs from the compact JSON of the parsed value. AWS
#: shows that text in the event (recorded: '["Hello", "World"]' in LocalStack's test_map_state_label,
#: '{"Comment": "Insert your JSON here"}' in a CloudWatch Logs event); the history and the
#: execution log show it as the event's ``input``. The events of states that carry that input
#: unchanged keep it so too, as ``inputText`` or ``outputText`` (`Execution.spelled_text`).
SPELLED_INPUT = "inputText"
_SPELLED = {"input": SPELLED_INPUT, "output": "outputText"}


def spelled_input(text: str | None, value: Any, whole: bool = True) -> tuple[str | None, str]:
    """An execution's input as its caller spelled it when that differs from its compact JSON
    (else None), and that compact JSON. AWS keeps the caller's text: ExecutionStarted shows
    '["Hello", "World"]' as sent, while the first state's entered input is the compact
    '["Hello","World"]' for an array (recorded: LocalStack test_base_scenarios
    test_map_state_label, test_map_state_result_writer) and the text as sent for an object
    (`Execution.spelled_text`); DescribeExecution answers the same input. Text that only
    Jackson's lenient reading takes (`whole` False: a value followed by more) stays compact."""
    compact_text = compact(value)
    return (text if whole and text is not None and text != compact_text else None), compact_text


def spelled_details(details: Any, spelled: tuple[Any, str]) -> Any:
    """`details` with the caller's text of the execution's input beside the value where they
    carry that input unchanged (a state's ``input`` or ``output``, ExecutionSucceeded's
    ``output``), as ``inputText`` / ``outputText``: `Execution.spelled_text` (`Execution.emit`,
    and the state loop's own appends in `interpreter._enter` and `_leave`)."""
    value, text = spelled
    if type(details) is tuple:
        if details[2] is value:
            name, key, data, assigned = details
            out = {"name": name, key: data, key + "Text": text}
            if assigned:
                out["assignedVariables"] = assigned
            return out
    elif type(details) is dict and details.get("output") is value:
        return {**details, "outputText": text}
    return details


def _dumps(value: Any) -> str:
    return compact(value)  # never a bare Infinity: a history's payloads are JSON text


class HistoryLimitExceeded(Exception):
    """Raised by `History.add` when the execution reaches its event limit (AWS: 25,000)."""


class History:
    """Append-only list of events for one execution (child executions have their own).

    `limit` counts every event, the execution's closing one included: an execution that runs
    out fails with ExecutionFailed as event 25,000, after 24,999 others (raw AWS capture,
    radkawar/stackd testdata/aws/stepfunctions/variable_limits.json "history-cap-final-history").
    So the events before the closing one have `room` for limit - 1."""

    __slots__ = ("_events", "limit", "room")

    def __init__(self, limit: int = 25_000):
        self._events: list[tuple] = []  # (type, previous_id, timestamp, details, site)
        self.limit = limit
        self.room = limit - 1  # the events before the closing one (which `make_room` lets in)

    def make_room(self) -> None:
        """Let the closing event in, whatever came before it."""
        self.room = max(self.room, len(self._events) + 1)

    def __len__(self) -> int:
        return len(self._events)

    def add(self, event_type: str, previous: int, timestamp: float, details: Any = None,
            site: tuple | None = None) -> int:
        """Record an event; returns its id (1-based). `site` is where the engine produced it
        (`asl.engine.journal`); the tuple form of details is the state events' compact one,
        ``(name, "input" | "output", value, assigned variables)``, shaped only when read."""
        events = self._events
        if len(events) >= self.room:
            raise HistoryLimitExceeded(self.limit)
        events.append((event_type, previous, timestamp, details, site))
        return len(events)

    def timestamp(self, event_id: int) -> float:
        return self._events[event_id - 1][2]

    def type_of(self, event_id: int) -> str | None:
        return self._events[event_id - 1][0] if 0 < event_id <= len(self._events) else None

    def entries(self, start: int = 0) -> list[tuple]:
        """The raw entries from index `start`: ``(type, previous_id, timestamp, details, site)``."""
        return self._events[start:]

    @classmethod
    def restored(cls, entries: list[tuple], limit: int = 25_000) -> "History":
        """A history that already holds recorded events (ids 1..n, in order)."""
        history = cls(limit)
        history._events = list(entries)
        return history

    @property
    def last_id(self) -> int:
        return len(self._events)

    def types(self) -> list[str]:
        return [e[0] for e in self._events]

    def __iter__(self) -> Iterator[dict]:
        return iter(self.events)

    @property
    def events(self) -> list[dict]:
        """The events as AWS's HistoryEvent dicts."""
        return [aws_event(i, entry) for i, entry in enumerate(self._events, 1)]

    def to_aws(self) -> dict:
        """A GetExecutionHistory response document."""
        return {"events": self.events}


def aws_event(event_id: int, entry: tuple) -> dict:
    """One recorded entry as AWS's HistoryEvent dict (``timestamp``, ``type``, ``id``,
    ``previousEventId``, ``<type>EventDetails``)."""
    etype, prev, ts, details, _site = entry
    event: dict[str, Any] = {"timestamp": iso(ts), "type": etype, "id": event_id, "previousEventId": prev}
    details = aws_details(details)
    if details is not None:
        event[camel_details(etype)] = details
    return event


def aws_details(details: Any) -> dict | None:
    """An entry's details in AWS's shape: data fields as JSON text, with their ``*Details``."""
    details = event_details(details)
    if details is None:
        return None
    shaped = {}
    for key, value in details.items():
        if key in _DATA_FIELDS:
            # JSON text, strings included ('"hello"'); an execution's input as its caller spelled it
            spelled = details.get(_SPELLED.get(key, ""))
            shaped[key] = spelled if spelled is not None else _dumps(value)
            if key != "parameters":  # AWS's model has no parametersDetails
                shaped[key + "Details"] = {"truncated": False}
        elif key == SPELLED_INPUT or key == "outputText":
            continue
        elif key == "assignedVariables":
            # by name, as AWS writes them (recorded: radkawar/stackd task_integrations.json,
            # pure-choice: Assign {shared, stateOnly, ruleOnly, noRule} shows noRule, ruleOnly, shared, stateOnly)
            shaped[key] = {k: _dumps(value[k]) for k in sorted(value)}
            shaped["assignedVariablesDetails"] = {"truncated": False}
        else:
            shaped[key] = value
    return shaped


EXECUTION_DATA = ("input", "output", "parameters", "inputDetails", "outputDetails", "assignedVariables",
                  "assignedVariablesDetails")


def without_execution_data(details: dict) -> dict:
    """Event details without the execution's data, as GetExecutionHistory's
    ``includeExecutionData: false`` and a LoggingConfiguration's ``includeExecutionData: false``
    leave them out. Recorded on AWS for the log (LocalStack test_logs ``*_ALL_False``): input,
    inputDetails, output and outputDetails go, everything else stays (roleArn, name, error,
    cause; ExecutionSucceeded's details are ``{}``). GetExecutionHistory does the same, and
    leaves out a state's assignedVariables and assignedVariablesDetails too (raw AWS capture,
    radkawar/stackd testdata/aws/stepfunctions/variable_limits.json
    "small-history-include-data-false"; the log is taken to do as it does). A TaskScheduled's
    ``parameters``, the task's input, goes too: no recording has a Task event without its data
    (unverified)."""
    return {k: v for k, v in details.items() if k not in EXECUTION_DATA}
