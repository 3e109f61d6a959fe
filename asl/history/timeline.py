"""The one walker of an execution history: what an execution did, read from its events.

    timeline = read_history("history.json")      # or Timeline(result.history.events)
    timeline.status, timeline.error, timeline.cause, timeline.input, timeline.output
    timeline.failure        # Failure: the state it failed in and the path that led there
    timeline.outcomes       # {state name: "succeeded" | "caught" | "failed" | "aborted"}
    timeline.transitions    # {(from, to)}: the edges the execution took (None: start / end)
    timeline.entries        # every entry into a state, in order: a `StateEntry`
    timeline.calls          # every call of a Task, in the order made: a `TaskCall`
    timeline.open           # the ids of the entries still open (running, if the execution is)

Every event names the event it follows (``previousEventId``). Following those links tells,
for any event, which state it belongs to, how deeply it is nested (Parallel branches and Map
iterations) and in which branch or iteration, and which states led to it, even where
branches and iterations interleave. Nothing here needs the engine: a history downloaded
from AWS reads the same way. `asl history`, `asl graph --history`, ``asl run``'s failure
report and ``asl mocks from-history`` (`asl.engine.testing.replay`) all read histories here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .events import (ABORTABLE, ATTEMPTS, CALL_ENDINGS, CALL_FAILURES, CLOSERS, CONTAINER_FAILURES, ENDINGS,
                     OPENERS, Event, HistoryError, events_of, from_aws, is_named, json_field, read_document)

# How bad an outcome is, for a state entered several times (Map iterations, loops).
RANK = {"succeeded": 1, "aborted": 2, "caught": 3, "failed": 4}
# The events a container writes after a failure in one of its branches or iterations, each
# following that failure: it failed, it retries, the iteration failed.
ENDED_BY_FAILURE = frozenset({"ParallelStateFailed", "MapStateFailed", "MapIterationFailed"})


# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------

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


@dataclass
class Retried:
    """One retry: the error that a retrier (``Retry[retrier]``) caught, and the delay before it.
    Read from a history, `retrier` is -1 (a history does not say which retrier matched) and
    `delay` the time from the failure to the next attempt."""

    error: str | None
    cause: str | None
    retrier: int
    delay: float


@dataclass
class TaskCall:
    """One call of a Task state's resource: `response` is ``{"Return": result}`` or
    ``{"Throw": {"Error": ..., "Cause": ...}}`` (as a MockConfigFile writes responses).

    scheduled  the id of its ``*Scheduled`` event (the call's place in the order calls were made)
    at         where it ran (see `Event.at`)
    """

    state: str
    scheduled: int
    at: tuple
    response: dict

    @property
    def returned(self) -> bool:
        return "Return" in self.response


@dataclass
class StateEntry:
    """One entry into a state, as its events tell it.

    name, type   the state (``type`` from its ``<Type>StateEntered`` event)
    at           where it ran: ``(("Items", 2),)`` in iteration 2 of Map ``Items``; ``()`` at top level
    input        the state's input; ``output`` what it passed on (None unless it exited)
    status       ``succeeded``, ``caught`` (a Catch took an error), ``failed`` or ``aborted``
                 (cut short: a sibling branch failed, the execution stopped or timed out)
    error, cause the error it failed with, or that its catcher took
    retries      each retry, in order; ``attempts`` is 1 + their number
    calls        the calls of its resource (a Task), in order
    iterations   a Map's iterations by index: ``succeeded``, ``failed``, ``aborted`` or ``started``
    next         the state entered after it exited (None: the block or execution ended)
    entered, exited   epoch seconds (exited None unless it exited)
    id           the id of its ``*StateEntered`` event (0: recorded live, by an observer)

    The engine's observers record the same model while an execution runs
    (`asl.engine.testing.StateVisit`, which the CLI's trace renders too).
    """

    name: str
    type: str
    at: tuple
    input: Any
    entered: float
    id: int = 0
    output: Any = None
    status: str = "aborted"
    error: str | None = None
    cause: str | None = None
    retries: list[Retried] = field(default_factory=list)
    calls: list[TaskCall] = field(default_factory=list)
    iterations: dict[int, str] = field(default_factory=dict)
    next: str | None = None
    exited: float | None = None

    @property
    def attempts(self) -> int:
        return 1 + len(self.retries)

    @property
    def address(self) -> str:
        return address(self.at, self.name)


def _retried(opener: Event, prev: Event) -> bool:
    """Whether a ``*StateStarted`` opens a retry: a first attempt follows its state's entry, a
    retry the failed attempt's last event."""
    return prev.type != opener.type.replace("Started", "Entered")


def _indexes(at: tuple) -> tuple:
    """The branch and iteration indexes of a place, to order places by."""
    return tuple(index if isinstance(index, int) else -1 for _, index in at)


def address(at: tuple, name: str) -> str:
    """``Items[2]/Check``: where a state ran (see `Event.at`), then the state."""
    return "/".join([f"{outer}[{index}]" for outer, index in at] + [name])


def execution_result(status: str, details: dict) -> dict:
    """``{"status": ..., "output" | "error", "cause"}``: how an execution ended, as a test case's
    ``expect`` writes it (errors and causes only when the history has them)."""
    if status == "SUCCEEDED":
        return {"status": status, "output": json_field(details, "output")}
    result = {"status": status}
    if status != "RUNNING":
        result.update((k, details[k]) for k in ("error", "cause") if details.get(k) is not None)
    return result


# --------------------------------------------------------------------------------------------
# The walker
# --------------------------------------------------------------------------------------------

class Timeline:
    """A history's events, each placed (state, depth, branch or iteration), the entries into
    states and the calls of Tasks they made, and the outcome of every state."""

    def __init__(self, events: list[dict]):
        self.events: list[Event] = [from_aws(raw) for raw in events]
        self.events.sort(key=lambda e: e.id)
        self.by_id: dict[int, Event] = {e.id: e for e in self.events}
        self._branches: dict[int, int] = {}  # Parallel opener id -> branches started under it
        self._failures = self._container_failures()
        self._open: dict[int, Event] = {}           # entry id -> its *StateEntered, for the ABORTABLE not yet ended
        self._open_at: dict[tuple, list] = {}       # at -> those open entries that ran there
        self._open_under: dict[tuple, int] = {}     # at -> how many open entries ran there or further in
        self._inside: dict[tuple, dict] = {}        # at -> the places one level further in (branches, iterations)
        self._openers: dict[int, int] = {}          # entry id -> the id of its latest *StateStarted
        self._cut_frame: dict[int, tuple] = {}      # failure id -> where the latest MapIterationAborted after it ran
        for event in self.events:
            self._place(event)
        last = self.events[-1] if self.events else None
        self.status = ENDINGS.get(last.type, "RUNNING") if last else "RUNNING"
        self.result = execution_result(self.status, last.details if last else {})
        self.error = self.result.get("error") if self.status != "SUCCEEDED" else None
        self.cause = self.result.get("cause") if self.status != "SUCCEEDED" else None
        self.output = self.result.get("output")
        started = next((e for e in self.events if e.type == "ExecutionStarted"), None)
        self.input = started.data("input") if started else None
        self.start = self.events[0].time if self.events else 0.0
        self.stop = last.time if last else 0.0
        self._exited = {e.entry for e in self.events if e.type.endswith("StateExited")}
        self.failure: Failure | None = self._failure()
        self.entries, self.calls = self._entries()
        self.outcomes, self.visits, self.retried = self._outcomes()
        self.transitions = self._transitions()
        # Task, Wait, Parallel and Map entries that neither exited nor were ended by an event
        # since (their *StateAborted, a retry of the container they ran in); the other states
        # never stay open
        self.open: frozenset[int] = frozenset(self._open)

    # ---- placing each event ----------------------------------------------------------------

    def _place(self, event: Event) -> None:
        if event.type == "EvaluationFailed" and self._place_at_entry(event):
            return
        if not (event.type.endswith("Aborted") and self._place_cut(event)):
            self._place_by_link(event)
        if event.type == "MapIterationAborted" and event.previous in self._failures:
            self._cut_frame[event.previous] = event.at
        self._track(event)

    def _place_by_link(self, event: Event) -> None:
        prev = self.by_id.get(event.previous)
        name = event.details.get("name") if is_named(event.type) else None
        if prev is None:
            event.state = name
            event.entry = event.id if event.type.endswith("StateEntered") else 0
            return
        opened = prev.type in OPENERS
        event.block = prev.id if opened else prev.block
        if self._closes(event, prev, name):
            # Back at the container's own level: the opener tells which state this is.
            opener = self.by_id.get(event.block)
            event.block = opener.block if opener else 0
            event.state = opener.state if opener else prev.state
            event.entry = opener.entry if opener else prev.entry
            event.at = opener.at if opener else prev.at
        elif event.type.startswith("MapIteration"):
            opener = self.by_id.get(event.block)
            event.state = name or prev.state
            event.entry = opener.entry if opener else prev.entry
            index = event.details.get("index")
            base = opener.at if opener else prev.at
            event.at = base + ((opener.state if opener else event.state, index),)
        else:
            event.state = name or prev.state
            event.entry = event.id if event.type.endswith("StateEntered") else prev.entry
            if prev.type == "ParallelStateStarted":  # the first event of a branch
                index = self._branches.get(prev.id, 0)
                self._branches[prev.id] = index + 1
                event.at = prev.at + ((prev.state, index),)
            else:
                event.at = prev.at
        opener = self.by_id.get(event.block)
        event.depth = opener.depth + 1 if opener else 0

    def _container_failures(self) -> set[int]:
        """The ids of the events that ended a branch or iteration by failing it: a container's
        ``*StateFailed``, its retry's ``*StateStarted``, ``MapIterationFailed`` or the abort
        events of what it cut short follow each (only those, while a retried container waits)."""
        ended = set()
        for event in self.events:
            kind = event.type
            if kind in ENDED_BY_FAILURE:
                ended.add(event.previous)
            elif kind.endswith("Aborted") and kind != "ExecutionAborted":
                prev = self.by_id.get(event.previous)
                if prev is not None and prev.is_failure:
                    ended.add(prev.id)
            elif kind in OPENERS:
                prev = self.by_id.get(event.previous)
                if prev is not None and _retried(event, prev):
                    ended.add(event.previous)
        return ended

    def _place_cut(self, event: Event) -> bool:
        """Place an abort event of a sibling that a failure cut short. AWS writes them after the
        failure, each following it (the failing Task's own TaskStateAborted first), for each
        other branch or iteration in index order: ``MapIterationAborted`` (a Map's, naming it),
        then the abort events of the states open in it, those further in first, none naming
        its state. The link leads to the failure, not to the state: a ``MapIterationAborted``
        goes to the open Map it names, another to the first state open in the cut branch or
        iteration (the one the last ``MapIterationAborted`` names, else any of the container's
        but the failing one), whose type it has, with nothing open in it any more."""
        failure = self.by_id.get(event.previous)
        if failure is None or failure.id not in self._failures:
            return False
        opener = self.by_id.get(failure.block)
        if opener is None:
            return False
        kind = event.type
        if kind == "MapIterationAborted":
            name = event.details.get("name")
            if opener.type == "MapStateStarted" and opener.state == name:
                return False  # one of the failing Map's own iterations: its link tells
            entered = self._first_open(opener, failure, "Map", name)
        elif kind == "TaskStateAborted" and failure.type in CALL_FAILURES and failure.entry in self._open:
            return False  # the failing Task's own
        else:
            entered = self._first_open(opener, failure, kind[: -len("StateAborted")], None)
        if entered is None:
            return False
        if kind == "MapIterationAborted":
            block = self.by_id.get(self._openers.get(entered.id, 0))
            if block is None:
                return False
            event.state, event.entry, event.block, event.depth = entered.state, entered.id, block.id, block.depth + 1
            event.at = entered.at + ((entered.state, event.details.get("index")),)
        else:
            event.state, event.entry, event.block = entered.state, entered.id, entered.block
            event.at, event.depth = entered.at, entered.depth
        return True

    def _first_open(self, opener: Event, failure: Event, kind: str, name: str | None) -> Event | None:
        """The first state of type `kind` (named `name`, a Map whose iteration is cut) open in a
        branch or iteration of the container `opener` started that `failure` did not end:
        in the cut frame first, then in index order; a container only once nothing in it is open."""
        scope = opener.at
        failing = failure.at[len(scope)] if len(failure.at) > len(scope) else None
        frame = self._cut_frame.get(failure.id)
        places = [frame] if frame is not None else []
        places += sorted((at for at in self._inside.get(scope, ()) if at[-1][0] == opener.state and at != failing
                          and self._open_under.get(at)), key=_indexes)
        for place in places:
            for entered in self._open_within(place, opener.id):
                if entered.type == kind + "StateEntered" and (name is None and not self._holds_open(entered)
                                                              or name is not None and entered.state == name):
                    return entered
        return None

    def _open_within(self, at: tuple, after: int):
        """The open entries that ran at `at` or further in, entered after event `after`: a
        container before what runs in it, branches and iterations in index order."""
        for entered in self._open_at.get(at, ()):
            if entered.id > after:
                yield entered
        for inner in sorted(self._inside.get(at, ()), key=_indexes):
            if self._open_under.get(inner):
                yield from self._open_within(inner, after)

    def _holds_open(self, entered: Event) -> bool:
        return any(self._open_under.get(at) for at in self._inside.get(entered.at, ()) if at[-1][0] == entered.state)

    def _track(self, event: Event) -> None:
        """Keep the books `_place_cut` reads: the ABORTABLE entries still open, and where."""
        kind = event.type
        if kind in OPENERS:
            self._openers[event.entry] = event.id
            entered = self._open.get(event.entry)
            if entered is not None:  # a retry: what the attempt before left open is over
                self._close_inside(entered)
        elif kind.endswith("StateEntered") and kind[: -len("StateEntered")] in ABORTABLE:
            at = event.at
            self._open[event.id] = event
            self._open_at.setdefault(at, []).append(event)
            for depth in range(len(at) + 1):
                self._open_under[at[:depth]] = self._open_under.get(at[:depth], 0) + 1
                if depth:
                    self._inside.setdefault(at[:depth - 1], {})[at[:depth]] = None
        elif kind.endswith(("StateExited", "StateAborted")):
            entered = self._open.get(event.entry)
            if entered is not None:
                self._close_inside(entered)  # a state a failure left open in it (an EvaluationFailed's)
                self._close(entered)

    def _close(self, entered: Event) -> None:
        del self._open[entered.id]
        self._open_at[entered.at].remove(entered)
        for depth in range(len(entered.at) + 1):
            self._open_under[entered.at[:depth]] -= 1

    def _close_inside(self, container: Event) -> None:
        for place in list(self._inside.get(container.at, ())):
            if place[-1][0] == container.state and self._open_under.get(place):
                for entered in list(self._open_within(place, 0)):
                    self._close(entered)

    def _place_at_entry(self, event: Event) -> bool:
        """Place an ``EvaluationFailed`` with the entry into the state it names. AWS linked one
        that failed as the state was entered to the event that entry follows (recordings up to
        Nov 2024; in 2026 it links it to the entry itself), which may be
        another state's (a Wait's follows the WaitStateEntered): the link alone would place it
        in the state before. The entry is the latest one into that state that the event
        follows, or that follows the event the failure follows."""
        state = event.details.get("state")
        for event_id in range(event.id - 1, max(event.previous, 1) - 1, -1):  # (an entry no earlier than the link)
            entered = self.by_id.get(event_id)
            if entered is None or not entered.type.endswith("StateEntered") or entered.state != state:
                continue
            if event.previous in (entered.id, entered.previous):
                event.state, event.entry, event.at = entered.state, entered.id, entered.at
                event.block, event.depth = entered.block, entered.depth
                return True
        return False

    def _closes(self, event: Event, prev: Event, name: str | None) -> bool:
        """Whether `event` is back at the level of the container whose block `prev` is in.

        AWS links a container's closing events to the last event inside it, not to one at its
        own level (LocalStack's AWS snapshots): ``*StateSucceeded``/``*StateFailed`` follow the
        last event of the branches or the failing iteration, ``MapStateExited`` the last
        ``MapIterationSucceeded``, ``ParallelStateExited`` the last branch event, and a retry's
        ``MapStateStarted``/``ParallelStateStarted`` the failed attempt's last event (a first
        attempt follows the state's entry)."""
        kind = event.type
        if kind in CLOSERS:
            return True
        if kind in OPENERS:
            return _retried(event, prev)
        if kind in ("MapStateExited", "ParallelStateExited"):
            opener = self.by_id.get(event.block)
            return opener is not None and opener.type == kind.replace("Exited", "Started") and opener.state == name
        return False

    # ---- entries into states and calls of Tasks -------------------------------------------------

    def _entries(self) -> tuple[list[StateEntry], list[TaskCall]]:
        entries: dict[int, StateEntry] = {}
        calls: list[TaskCall] = []
        pending: dict[int, Event] = {}   # entry id -> its latest failure not yet followed by anything
        scheduled: dict[int, int] = {}   # entry id -> the id of its latest *Scheduled event
        attempted: set[int] = set()      # entry ids that made an attempt (see ATTEMPTS)
        for i, event in enumerate(self.events):
            kind = event.type
            entry = entries.get(event.entry)
            if kind.endswith("StateEntered"):
                entries[event.id] = StateEntry(event.state or "?", kind[: -len("StateEntered")], event.at,
                                               event.data("input"), event.time, event.id)
                prev = self.by_id.get(event.previous)
                if prev is not None and prev.type.endswith("StateExited") and prev.entry in entries:
                    entries[prev.entry].next = event.state
                continue
            if entry is None:
                if kind in CALL_ENDINGS:
                    raise HistoryError(f"event {event.id} ({kind}) follows no state entry")
                continue
            if kind in ATTEMPTS:
                # Another attempt of an entry that made one already is a retry. The failure it
                # follows tells the error and the delay; a Map retried after an iteration failed
                # (AWS writes no MapStateFailed then) has none: the error is unknown, the delay
                # is counted from the event before.
                failed = pending.pop(entry.id, None)
                if entry.id in attempted:
                    since = failed.time if failed is not None else self.events[max(0, i - 1)].time
                    entry.retries.append(Retried(failed.details.get("error") if failed else None,
                                                 failed.details.get("cause") if failed else None, -1,
                                                 max(0.0, event.time - since)))
                attempted.add(entry.id)
                if kind.endswith("Scheduled"):
                    scheduled[entry.id] = event.id
                if kind == "MapStateStarted":
                    entry.iterations.clear()  # a retried Map runs all its iterations again
            elif kind in CALL_ENDINGS:
                d = event.details
                response = {"Return": event.data("output")} if CALL_ENDINGS[kind] else \
                    {"Throw": {k: v for k, v in (("Error", d.get("error")), ("Cause", d.get("cause")))
                               if v is not None}}
                call = TaskCall(entry.name, scheduled.pop(entry.id, event.id), event.at, response)
                entry.calls.append(call)
                calls.append(call)
            elif kind.startswith("MapIteration") and isinstance(event.details.get("index"), int):
                entry.iterations[event.details["index"]] = kind[len("MapIteration"):].lower()
            elif kind.endswith("StateExited"):
                entry.output, entry.exited = event.data("output"), event.time
            if event.is_failure and kind not in CONTAINER_FAILURES - {"ParallelStateFailed", "MapStateFailed"}:
                pending[entry.id] = event
                entry.error, entry.cause = event.details.get("error"), event.details.get("cause")
        # Calls in the order they were made (their Scheduled events), not the order they ended:
        # concurrent Map iterations finish in any order but start in order.
        calls.sort(key=lambda c: c.scheduled)
        return list(entries.values()), calls

    # ---- outcomes and the edges taken ---------------------------------------------------------

    def _outcomes(self) -> tuple[dict[str, str], dict[str, int], set[str]]:
        exited = self._exited
        last_failure: dict[int, int] = {}
        last_success: dict[int, int] = {}
        cut: dict[int, int] = {}  # entry id -> the failure its *StateAborted follows
        for event in self.events:
            kind = event.type
            if event.is_failure and kind not in CONTAINER_FAILURES - {"ParallelStateFailed", "MapStateFailed"}:
                last_failure[event.entry] = event.id
            elif kind.endswith("Succeeded") and kind not in ("MapIterationSucceeded", "ExecutionSucceeded"):
                last_success[event.entry] = event.id
            elif kind.endswith("StateAborted"):
                cut[event.entry] = event.previous
        # An unfinished state without a failure of its own failed if the failure came out of it
        # (a Pass whose ResultPath broke); otherwise it was cut short (a sibling branch failed).
        on_failure_path = {step.name for step in self.failure.path} if self.failure else set()
        latest: dict[tuple, StateEntry] = {}  # (name, where) -> its latest entry, so far
        outcomes: dict[str, str] = {}
        visits: dict[str, int] = {}
        retried: set[str] = set()
        for entry in self.entries:
            if entry.id in exited:
                outcome = "caught" if last_failure.get(entry.id, 0) > last_success.get(entry.id, 0) else "succeeded"
            elif entry.type == "Fail":
                outcome = "failed"
            elif entry.id in last_failure and entry.id in cut:
                # A Task's own TaskStateAborted follows the failure that ended its branch or
                # iteration: it failed. One that follows a sibling's failure cut it short while
                # it waited to retry (AWS's console: cancelled).
                outcome = "failed" if cut[entry.id] == last_failure[entry.id] else "aborted"
            elif entry.id in last_failure:
                # stopped while it waited to retry: cut short, as AWS's console shows it (cancelled)
                outcome = "aborted" if self.status == "ABORTED" and self._open_around(entry, latest, last_failure) \
                    else "failed"
            else:
                outcome = "failed" if self.status != "ABORTED" and entry.name in on_failure_path else "aborted"
            entry.status = outcome
            latest[(entry.name, entry.at)] = entry
            if outcome == "failed" and entry.error is None and self.failure is not None \
                    and self.failure.state == entry.name:
                entry.error, entry.cause = self.error, self.cause
            if outcome == "succeeded":
                entry.error = entry.cause = None  # a failure retried away
            name = entry.name
            visits[name] = visits.get(name, 0) + 1
            if RANK[outcome] > RANK.get(outcomes.get(name, ""), 0):
                outcomes[name] = outcome
            if entry.retries:
                retried.add(name)
        return outcomes, visits, retried

    def _open_around(self, entry: StateEntry, latest: dict, last_failure: dict) -> bool:
        """Whether the branches and iterations `entry` ran in were still open when the execution
        was stopped: its failure had ended none of them, so a retry was to follow (a failure
        that failed its branch or iteration closed it)."""
        for depth, (outer, index) in enumerate(entry.at):
            container = latest.get((outer, entry.at[:depth]))
            if container is None:
                continue
            if container.id in self._exited or container.id in last_failure \
                    or container.iterations.get(index, "started") not in ("started", "aborted"):
                return False
        return True

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
            if current.type == "MapIterationStarted":  # AWS: it may follow the iteration before
                before = self.by_id.get(current.block)
            else:
                before = self.by_id.get(current.previous)
                if current.entry and current.id != current.entry and (
                        before is None or before.depth > current.depth or before.id < current.entry):
                    # a container's end follows its insides; an EvaluationFailed on entry, what
                    # the entry follows: back to the state's own entry either way
                    before = self.by_id.get(current.entry)
            current = before
        steps.reverse()
        return steps


# --------------------------------------------------------------------------------------------
# Reading documents
# --------------------------------------------------------------------------------------------

def read_history(path: str) -> Timeline:
    """Read a GetExecutionHistory JSON file (``{"events": [...]}``, or the bare list)."""
    return parse_history(read_document(path), path)


def parse_history(document: Any, where: str = "history") -> Timeline:
    """The `Timeline` of a GetExecutionHistory document already parsed from JSON."""
    events = events_of(document, where)
    try:
        return Timeline(events)
    except HistoryError as exc:
        raise HistoryError(f"{where}: {exc}") from None
