"""Reading execution histories: AWS's GetExecutionHistory documents, as ``asl run --history``
writes them and ``aws stepfunctions get-execution-history`` downloads them.

    timeline = read_history("history.json")      # or Timeline(result.history.events)
    timeline.status, timeline.error, timeline.cause
    timeline.failure        # Failure: the state it failed in and the path that led there
    timeline.outcomes       # {state name: "succeeded" | "caught" | "failed" | "aborted"}
    timeline.transitions    # {(from, to)}: the edges the execution took (None: start / end)

Every event names the event it follows (``previousEventId``). Following those links tells,
for any event, which state it belongs to, how deeply it is nested (Parallel branches and Map
iterations), and which states led to it, even where branches and iterations interleave.
Nothing here needs the engine: a history downloaded from AWS reads the same way.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .errors import ASLError

# Events that open a nested block (its branches or iterations follow them) and close it.
OPENERS = frozenset({"ParallelStateStarted", "MapStateStarted"})
CLOSERS = frozenset({"ParallelStateSucceeded", "ParallelStateFailed", "ParallelStateAborted",
                     "MapStateSucceeded", "MapStateFailed", "MapStateAborted"})
# Container-level failures: the error happened further in, in a branch or an iteration.
CONTAINER_FAILURES = frozenset({"ParallelStateFailed", "MapStateFailed", "MapRunFailed", "MapIterationFailed",
                                "ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"})
ATTEMPTS = frozenset({"TaskScheduled", "LambdaFunctionScheduled", "ActivityScheduled", "ParallelStateStarted",
                      "MapStateStarted"})
ENDINGS = {"ExecutionSucceeded": "SUCCEEDED", "ExecutionFailed": "FAILED", "ExecutionTimedOut": "TIMED_OUT",
           "ExecutionAborted": "ABORTED"}
# How bad an outcome is, for a state entered several times (Map iterations, loops).
RANK = {"succeeded": 1, "aborted": 2, "caught": 3, "failed": 4}


class HistoryError(ASLError, ValueError):
    """Raised by `read_history` / `Timeline` when a document is not an execution history."""


@dataclass
class Event:
    """One history event, with what following the ``previousEventId`` links tells about it.

    state   the state it belongs to (None before the first state)
    entry   the id of that state's ``*StateEntered`` event (0 outside any state)
    depth   0 at the top level, 1 inside a branch or iteration, ...
    block   the id of the ``ParallelStateStarted`` / ``MapStateStarted`` it runs under (0: none)
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

    @property
    def is_failure(self) -> bool:
        return self.type.endswith(("Failed", "TimedOut"))

    @property
    def is_leaf_failure(self) -> bool:
        """A failure where it happened (a task, a Fail state), not one passed up by a container."""
        return (self.is_failure and self.type not in CONTAINER_FAILURES) or self.type == "FailStateEntered"


@dataclass
class Step:
    """A state on the path to an event: `item` is the Map iteration it ran in (else None)."""

    name: str
    type: str
    depth: int
    item: int | None = None


@dataclass
class Failure:
    """Where and why an execution failed, and the states that led there (outermost first)."""

    state: str | None
    type: str | None
    error: str | None
    cause: str | None
    path: list[Step] = field(default_factory=list)


class Timeline:
    """A history's events, each placed (state, depth), and the outcome of every state."""

    def __init__(self, events: list[dict]):
        self.events: list[Event] = [_event(raw) for raw in events]
        self.events.sort(key=lambda e: e.id)
        self.by_id: dict[int, Event] = {e.id: e for e in self.events}
        for event in self.events:
            self._place(event)
        last = self.events[-1] if self.events else None
        self.status = ENDINGS.get(last.type, "RUNNING") if last else "RUNNING"
        self.error = last.details.get("error") if last and self.status != "SUCCEEDED" else None
        self.cause = last.details.get("cause") if last and self.status != "SUCCEEDED" else None
        self.output = _json_field(last.details, "output") if last and self.status == "SUCCEEDED" else None
        self.start = self.events[0].time if self.events else 0.0
        self.stop = last.time if last else 0.0
        self._exited = {e.entry for e in self.events if e.type.endswith("StateExited")}
        self.failure: Failure | None = self._failure()
        self.outcomes, self.visits, self.retried = self._outcomes()
        self.transitions = self._transitions()

    # ---- placing each event ----------------------------------------------------------------

    def _place(self, event: Event) -> None:
        prev = self.by_id.get(event.previous)
        name = event.details.get("name") if _named(event.type) else None
        if prev is None:
            event.state = name
            event.entry = event.id if event.type.endswith("StateEntered") else 0
            return
        opened = prev.type in OPENERS
        event.block = prev.id if opened else prev.block
        if event.type in CLOSERS:
            # Back at the container's own level: the opener tells which state this is.
            opener = self.by_id.get(event.block)
            event.block = opener.block if opener else 0
            event.state = opener.state if opener else prev.state
            event.entry = opener.entry if opener else prev.entry
        elif event.type.startswith("MapIteration") and not event.type.endswith("Started"):
            opener = self.by_id.get(event.block)
            event.state = name or prev.state
            event.entry = opener.entry if opener else prev.entry
        else:
            event.state = name or prev.state
            event.entry = event.id if event.type.endswith("StateEntered") else prev.entry
        opener = self.by_id.get(event.block)
        event.depth = opener.depth + 1 if opener else 0

    # ---- outcomes and the edges taken ---------------------------------------------------------

    def _outcomes(self) -> tuple[dict[str, str], dict[str, int], set[str]]:
        exited = self._exited
        last_failure: dict[int, int] = {}
        last_success: dict[int, int] = {}
        attempts: dict[int, int] = {}
        for event in self.events:
            kind = event.type
            if event.is_failure and kind not in CONTAINER_FAILURES - {"ParallelStateFailed", "MapStateFailed"}:
                last_failure[event.entry] = event.id
            elif kind.endswith("Succeeded") and kind not in ("MapIterationSucceeded", "ExecutionSucceeded"):
                last_success[event.entry] = event.id
            if kind in ATTEMPTS:
                attempts[event.entry] = attempts.get(event.entry, 0) + 1
        # An unfinished state without a failure of its own failed if the failure came out of it
        # (a Pass whose ResultPath broke); otherwise it was cut short (a sibling branch failed).
        on_failure_path = {step.name for step in self.failure.path} if self.failure else set()
        outcomes: dict[str, str] = {}
        visits: dict[str, int] = {}
        retried: set[str] = set()
        for event in self.events:
            if not event.type.endswith("StateEntered"):
                continue
            entry = event.id
            if entry in exited:
                outcome = "caught" if last_failure.get(entry, 0) > last_success.get(entry, 0) else "succeeded"
            elif event.type == "FailStateEntered" or entry in last_failure:
                outcome = "failed"
            else:
                outcome = "failed" if self.status != "ABORTED" and event.state in on_failure_path else "aborted"
            name = event.state
            visits[name] = visits.get(name, 0) + 1
            if RANK[outcome] > RANK.get(outcomes.get(name, ""), 0):
                outcomes[name] = outcome
            if attempts.get(entry, 0) > 1:
                retried.add(name)
        return outcomes, visits, retried

    def _transitions(self) -> set[tuple[str | None, str | None]]:
        taken: set[tuple[str | None, str | None]] = set()
        for event in self.events:
            prev = self.by_id.get(event.previous)
            if event.type.endswith("StateEntered"):
                if prev is None or prev.type == "ExecutionStarted":
                    taken.add((None, event.state))
                elif prev.type.endswith("StateExited"):
                    taken.add((prev.state, event.state))
                elif prev.type in OPENERS or prev.type == "MapIterationStarted":
                    taken.add((prev.state, event.state))  # a container to a branch's first state
            elif event.type == "ExecutionSucceeded" and prev is not None and prev.type.endswith("StateExited"):
                taken.add((prev.state, None))
        return taken

    # ---- the failure ---------------------------------------------------------------------------

    def _failure(self) -> Failure | None:
        """Where the execution failed (FAILED, TIMED_OUT, ABORTED), else None."""
        if self.status in ("SUCCEEDED", "RUNNING"):
            return None
        end = self.events[-1]
        # AWS links ExecutionTimedOut to no event (previousEventId 0): the last one before it is
        # where the execution was when time ran out
        before = self.by_id.get(end.previous) or (self.events[-2] if len(self.events) > 1 else None)
        origin = self._origin(before)
        if origin is None:
            return Failure(None, None, self.error, self.cause)
        entered = self.by_id.get(origin.entry)
        kind = entered.type[: -len("StateEntered")] if entered else None
        return Failure(origin.state, kind, self.error, self.cause, self.path_to(origin))

    def _origin(self, event: Event | None) -> Event | None:
        """The event where the failure began: inside a failed container, its last leaf failure."""
        while event is not None and event.type in CLOSERS | {"MapRunFailed"}:
            opener = self._opener_before(event)
            inside = [e for e in self.events if opener < e.id < event.id and e.depth > event.depth]
            leaf = [e for e in inside if e.is_leaf_failure]
            unfinished = [e for e in inside if e.type.endswith("StateEntered") and e.id not in self._exited]
            found = (leaf or unfinished)
            if not found:
                return event
            event = found[-1]
        return event

    def _opener_before(self, closer: Event) -> int:
        for e in reversed(self.events):
            if e.id < closer.id and e.entry == closer.entry and e.type in OPENERS:
                return e.id
        return 0

    def path_to(self, event: Event) -> list[Step]:
        """The states entered on the way to `event`, outermost first (loops show each visit)."""
        steps: list[Step] = []
        current: Event | None = event
        while current is not None:
            if current.type == "MapIterationStarted" and steps:
                steps[-1].item = current.details.get("index")
            if current.type.endswith("StateEntered"):
                steps.append(Step(current.state or "?", current.type[: -len("StateEntered")], current.depth))
            current = self.by_id.get(current.previous)
        steps.reverse()
        return steps


# --------------------------------------------------------------------------------------------
# Reading documents
# --------------------------------------------------------------------------------------------

def read_history(path: str) -> Timeline:
    """Read a GetExecutionHistory JSON file (``{"events": [...]}``, or the bare list)."""
    from .source import SourceError, read_json

    try:
        document = read_json(path)
    except SourceError as exc:
        raise HistoryError(str(exc)) from None
    return parse_history(document, path)


def parse_history(document: Any, where: str = "history") -> Timeline:
    events = document.get("events") if isinstance(document, dict) else document
    if not isinstance(events, list) or not events:
        raise HistoryError(f"{where}: not an execution history: expected {{\"events\": [...]}} as "
                           "GetExecutionHistory returns it")
    for i, raw in enumerate(events):
        if not isinstance(raw, dict) or not isinstance(raw.get("type"), str) or not isinstance(raw.get("id"), int):
            raise HistoryError(f"{where}: event {i} has no integer \"id\" and string \"type\"")
    try:
        return Timeline(events)
    except HistoryError as exc:
        raise HistoryError(f"{where}: {exc}") from None


def _event(raw: dict) -> Event:
    details: dict = {}
    for key, value in raw.items():
        if key.endswith("EventDetails") and isinstance(value, dict):
            details = value
    previous = raw.get("previousEventId")
    return Event(raw["id"], raw["type"], previous if isinstance(previous, int) else 0,
                 _timestamp(raw.get("timestamp"), raw["id"]), details)


def _timestamp(value: Any, event_id: int) -> float:
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


def _named(event_type: str) -> bool:
    return event_type.endswith(("StateEntered", "StateExited")) or event_type.startswith("MapIteration")


def _json_field(details: dict, key: str) -> Any:
    value = details.get(key)
    if isinstance(value, str):
        from .source import SourceError, parse_json

        try:
            return parse_json(value)
        except SourceError:  # not JSON text: show it as it is
            return value
    return value
