"""History events as AWS's GetExecutionHistory writes them (ASL-SPEC.md section 13).

    {"id": 7, "previousEventId": 6, "timestamp": "2024-05-01T10:00:01.250Z",
     "type": "TaskFailed", "taskFailedEventDetails": {"error": "...", "cause": "..."}}

Each event has an integer ``id`` (1, 2, ... in the order written), the ``previousEventId`` of
the event it follows (0: none; branches and iterations that run concurrently each follow
their own chain), a ``type`` and at most one ``*EventDetails`` object. Data fields in the
details (``input``, ``output``, ``parameters``, assigned variables) are JSON *text*.

This module knows the event types and the JSON shape; `asl.history.timeline` walks the links.
Nothing here needs the engine: a history downloaded from AWS reads the same way.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..errors import ASLError


class HistoryError(ASLError, ValueError):
    """Raised when a document is not an execution history (reading it, or walking its events)."""


# ---- event types ------------------------------------------------------------------------------

# The state types whose events are ``<Type>StateEntered`` / ``<Type>StateExited``.
STATE_TYPES = ("Task", "Pass", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map")
# Events that open a nested block (its branches or iterations follow them) and close it.
OPENERS = frozenset({"ParallelStateStarted", "MapStateStarted"})
CLOSERS = frozenset({"ParallelStateSucceeded", "ParallelStateFailed", "ParallelStateAborted",
                     "MapStateSucceeded", "MapStateFailed", "MapStateAborted"})
# Events after which a state runs nested (in a branch, an iteration, a Map Run).
NESTING = frozenset({"MapIterationStarted", "ParallelStateStarted", "MapRunStarted"})
# Container-level failures: the error happened further in, in a branch or an iteration.
CONTAINER_FAILURES = frozenset({"ParallelStateFailed", "MapStateFailed", "MapRunFailed", "MapIterationFailed",
                                "ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"})
# The states a failing sibling branch or iteration cuts short, each with its ``*StateAborted``.
ABORTABLE = ("Task", "Wait", "Parallel", "Map")
# A Task's call failures after which AWS writes that Task's own TaskStateAborted when the
# failure ends its branch or iteration (after any other failure the Task stays open).
CALL_FAILURES = frozenset({"TaskFailed", "TaskTimedOut", "LambdaFunctionFailed", "LambdaFunctionTimedOut",
                           "ActivityFailed", "ActivityTimedOut"})
# Events that start one attempt of a state's work (a retry starts another).
ATTEMPTS = frozenset({"TaskScheduled", "LambdaFunctionScheduled", "ActivityScheduled", "ParallelStateStarted",
                      "MapStateStarted"})
# The events that end an execution, and the status it ends with.
ENDINGS = {"ExecutionSucceeded": "SUCCEEDED", "ExecutionFailed": "FAILED", "ExecutionTimedOut": "TIMED_OUT",
           "ExecutionAborted": "ABORTED"}
# The events that end one call of a Task, and whether it returned (True) or threw (False).
CALL_ENDINGS = {"TaskSucceeded": True, "LambdaFunctionSucceeded": True, "ActivitySucceeded": True,
                "TaskFailed": False, "TaskTimedOut": False, "TaskStartFailed": False, "TaskSubmitFailed": False,
                "LambdaFunctionFailed": False, "LambdaFunctionTimedOut": False, "LambdaFunctionStartFailed": False,
                "LambdaFunctionScheduleFailed": False, "ActivityFailed": False, "ActivityTimedOut": False,
                "ActivityScheduleFailed": False}


def details_key(event_type: str) -> str:
    """``TaskStateEntered`` -> ``stateEnteredEventDetails``: the key of an event's details."""
    for suffix, key in (("StateEntered", "stateEnteredEventDetails"), ("StateExited", "stateExitedEventDetails")):
        if event_type.endswith(suffix) and event_type[: -len(suffix)] in STATE_TYPES:
            return key
    return event_type[0].lower() + event_type[1:] + "EventDetails"


def is_named(event_type: str) -> bool:
    """Events whose details carry the state's ``name``."""
    return event_type.endswith(("StateEntered", "StateExited")) or event_type.startswith("MapIteration")


# ---- one event --------------------------------------------------------------------------------

@dataclass
class Event:
    """One history event, with what following the ``previousEventId`` links tells about it
    (filled in by `asl.history.timeline.Timeline`).

    state   the state it belongs to (None before the first state)
    entry   the id of that state's ``*StateEntered`` event (0 outside any state)
    depth   0 at the top level, 1 inside a branch or iteration, ...
    block   the id of the ``ParallelStateStarted`` / ``MapStateStarted`` it runs under (0: none)
    at      where it ran: ``(("Items", 2),)`` in iteration 2 of Map ``Items``, ``(("Notify", 1),)``
            in the second branch of Parallel ``Notify`` (branches numbered in the order they
            start: a history does not name them); ``()`` at the top level
    """

    id: int
    type: str
    previous: int
    time: float
    details: dict
    state: str | None = None
    entry: int = 0
    depth: int = 0
    block: int = 0
    at: tuple = ()

    @property
    def is_failure(self) -> bool:
        return self.type.endswith(("Failed", "TimedOut"))

    @property
    def is_leaf_failure(self) -> bool:
        """A failure where it happened (a task, a Fail state), not one passed up by a container."""
        return (self.is_failure and self.type not in CONTAINER_FAILURES) or self.type == "FailStateEntered"

    def data(self, key: str) -> Any:
        """A data field of the details (``input``, ``output``, ...) as a JSON value."""
        return json_field(self.details, key)


def from_aws(raw: dict) -> Event:
    """An `Event` from one of GetExecutionHistory's event objects (its id and type checked)."""
    previous = raw.get("previousEventId")
    return Event(raw["id"], raw["type"], previous if isinstance(previous, int) else 0,
                 timestamp(raw.get("timestamp"), raw["id"]), details(raw))


def details(raw: dict) -> dict:
    """The ``*EventDetails`` object of an AWS event (``{}`` when it has none)."""
    return next((v for k, v in raw.items() if k.endswith("EventDetails") and isinstance(v, dict)), {})


def timestamp(value: Any, event_id: int) -> float:
    """AWS's timestamps: ISO-8601 text (the CLI's default) or epoch seconds (its raw format)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value / 1000.0 if value > 1e11 else float(value)  # milliseconds, as some SDKs write
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    if value is None:
        return 0.0
    raise HistoryError(f"event {event_id}: timestamp {value!r} is neither ISO-8601 text nor epoch seconds")


def json_field(details: dict, key: str) -> Any:
    """A data field as a JSON value: AWS writes them as JSON text; text that is not JSON (an
    event written by hand) is the value itself."""
    value = details.get(key)
    if isinstance(value, str):
        from ..source import SourceError, parse_json

        try:
            return parse_json(value)
        except SourceError:
            return value
    return value


# ---- documents --------------------------------------------------------------------------------

def events_of(document: Any, where: str = "history") -> list[dict]:
    """The events of a GetExecutionHistory document (``{"events": [...]}``, or the bare list),
    each checked to have an integer ``id`` and a string ``type``."""
    events = document.get("events") if isinstance(document, dict) else document
    if not isinstance(events, list) or not events:
        raise HistoryError(f"{where}: not an execution history: expected {{\"events\": [...]}} as "
                           "GetExecutionHistory returns it")
    for i, raw in enumerate(events):
        if not isinstance(raw, dict) or not isinstance(raw.get("type"), str) or not _integer(raw.get("id")):
            raise HistoryError(f"{where}: event {i} has no integer \"id\" and string \"type\"")
    return events


def read_document(path: str) -> Any:
    """The JSON document in file `path` (bad JSON: a `HistoryError` with line and column)."""
    from ..source import SourceError, read_json

    try:
        return read_json(path)
    except SourceError as exc:
        raise HistoryError(str(exc)) from None


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
