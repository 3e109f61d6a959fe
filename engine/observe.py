"""Watching an execution as it runs: the hooks the CLI trace and the test API use.

Subclass `Observer` and pass it as ``observer=`` to `asl.engine.run`. The engine hands every
happening to `Observer.event` as a typed, frozen event (`StateEntered`, `DataStage`, ...);
by default `event` calls the hook of the same meaning (`enter`, `data`, ...), each a no-op:
override either. Each event names its state as a `StateView`: one object per entry into a
state (the same in every event of that entry, so it can key a dict), read-only.
Observers must not change the values they are shown.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..errors import StatesError
    from ..model import Catcher, ChoiceRule, Retrier


@dataclass(frozen=True, eq=False)
class StateView:
    """One entry into a state, as observers see it.

    name, type, state   the state's name, type and model (``state.retry``, ``state.catch``, ...)
    input               the state's input (also ``raw``)
    path                where it runs: ``(("Fanout", 1),)`` inside branch 1 of Parallel Fanout
    entered_id          its ``*StateEntered`` event's id; ``entered_time`` that event's time
    retry_count, variables, now(), replayed   as they are when read (retries so far, the
                        variables of the state's scope, the execution's clock; replayed from a
                        journal, the time of the state's latest recorded event; whether what the
                        state does now comes from the journal)
    execution_arn, state_machine_arn   the execution it runs in, and its state machine
    """

    name: str
    type: str
    state: Any
    input: Any
    path: tuple
    entered_id: int
    entered_time: float
    _run: Any = field(repr=False)

    @property
    def raw(self) -> Any:
        return self.input

    @property
    def retry_count(self) -> int:
        return self._run.retry_count

    @property
    def variables(self) -> dict:
        return self._run.frame.variables

    def now(self) -> float:
        """The execution's clock; for a state replayed from the journal (a resumed execution),
        the time of its latest recorded event: a replayed state ends when it ended then, not
        when the resuming process reads its record."""
        run = self._run
        if self.replayed:
            return run.ex.history.timestamp(run.frame.last)
        return run.ex.clock.now()

    @property
    def replayed(self) -> bool:
        """Whether the state's latest step (its entry, a retry, its exit) is replayed from the
        journal: an earlier run of the execution recorded it (`asl.engine.resume`, `redrive`).
        A state entered then and still running goes live where the record ends (a redriven
        state, a task in flight when the process died): False from then on."""
        run = self._run
        replay = run.ex.replay
        return replay is not None and 0 < run.frame.last <= replay.last_id

    @property
    def execution_arn(self) -> str:
        """The ARN of the execution the state runs in (a Distributed Map child's own)."""
        return self._run.ex.arn

    @property
    def state_machine_arn(self) -> str:
        return self._run.ex.state_machine_arn


@dataclass(frozen=True, eq=False)
class StateEntered:
    """A state was entered (after its ``*StateEntered`` event)."""
    state: StateView


@dataclass(frozen=True, eq=False)
class DataStage:
    """A data-flow stage's value (AWS's inspectionData names; see `Observer.data`)."""
    state: StateView
    stage: str
    value: Any


@dataclass(frozen=True, eq=False)
class ChoiceMatched:
    """A Choice rule (one of ``state.state.choices``) matched."""
    state: StateView
    rule: Any


@dataclass(frozen=True, eq=False)
class RetryScheduled:
    """`retrier` caught `error`; retry number `attempt` of that retrier follows after `delay` s."""
    state: StateView
    error: Any
    attempt: int
    delay: float
    retrier: Any


@dataclass(frozen=True, eq=False)
class ErrorCaught:
    """A catcher took `error`; the state exits to ``catcher.next``."""
    state: StateView
    error: Any
    catcher: Any


@dataclass(frozen=True, eq=False)
class StateFailed:
    """The state failed with `error` and no catcher took it."""
    state: StateView
    error: Any


@dataclass(frozen=True, eq=False)
class StateExited:
    """The state exited with `output`, going to `next` (None: the block ends)."""
    state: StateView
    output: Any
    next: str | None


@dataclass(frozen=True, eq=False)
class MapStarted:
    """A Map state's run of `length` items starts (``MapStateStarted``; again on a retry)."""
    state: StateView
    length: int


@dataclass(frozen=True, eq=False)
class IterationChanged:
    """A Map iteration (or a Distributed Map item / batch) changed `status`: started,
    succeeded, failed, aborted."""
    state: StateView
    index: int
    status: str


@dataclass(frozen=True, eq=False)
class ExecutionView:
    """An execution as observers see it (a Distributed Map item's child execution too).

    arn, name, state_machine_arn, state_machine_name, type   who it is (type: STANDARD / EXPRESS)
    input           its input
    redrive_count   how many times it was redriven
    parent          None, or for a Distributed Map item's child execution ``(map_state_view, index)``
    notes           what observers noted in its earlier runs (`keep`), oldest first: a resumed or
                    redriven execution's observers read what its first run left there
    keep            ``keep(value)`` notes a JSON value in the execution's journal (kept in its store
                    with it); None where nothing can be kept
    history         its `History` so far (``history.events``: GetExecutionHistory's events). A
                    Distributed Map child run by a remote executor (``executor=``) shows observers
                    none of its states: its history comes back whole when it has ended
    """

    arn: str
    name: str
    state_machine_arn: str
    state_machine_name: str
    type: str
    input: Any
    redrive_count: int = 0
    parent: tuple | None = None
    notes: tuple = ()
    keep: Any = None
    history: Any = field(default=None, repr=False)


@dataclass(frozen=True, eq=False)
class ExecutionBegan:
    """An execution started (after its ``ExecutionStarted`` event); a resumed or redriven one
    begins again."""
    execution: ExecutionView


@dataclass(frozen=True, eq=False)
class ExecutionEnded:
    """An execution ended with `status` (SUCCEEDED, FAILED, TIMED_OUT, ABORTED), after its
    closing event; `error` and `cause` as that event gives them."""
    execution: ExecutionView
    status: str
    error: str | None
    cause: str | None


@dataclass(frozen=True, eq=False)
class AttemptStarted:
    """A Task state's attempt `attempt` (1 for the first call, 2 for the first retry, ...) is
    about to call its handler, mock or service (after its ``*Started`` event)."""
    state: StateView
    attempt: int


@dataclass(frozen=True, eq=False)
class AttemptEnded:
    """A Task state's attempt ended: `error` is None when it succeeded, else the StatesError."""
    state: StateView
    attempt: int
    error: Any


ObserverEvent = (StateEntered | DataStage | ChoiceMatched | RetryScheduled | ErrorCaught | StateFailed |
                 StateExited | MapStarted | IterationChanged | ExecutionBegan | ExecutionEnded | AttemptStarted |
                 AttemptEnded)


class Observer:
    def event(self, event: ObserverEvent) -> None:
        """Every event of the run, in order; by default passed on to the hook of its kind."""
        _HOOKS[type(event)](self, event)

    def enter(self, run: StateView) -> None:
        """A state was entered (after its ``*StateEntered`` event)."""

    def data(self, run: StateView, stage: str, value: Any) -> None:
        """A data-flow stage's value, by AWS's inspectionData names: ``afterInputPath``,
        ``afterParameters`` / ``afterArguments``, ``result``, ``afterResultSelector``,
        ``afterResultPath``; for a Map also ``afterItemsPath`` (the items, JSONPath) and
        ``afterItemSelector`` (each item's input after ItemSelector, in item order)."""

    def choice(self, run: StateView, rule: ChoiceRule) -> None:
        """A Choice rule matched (JSONPath rules; JSONata conditions report the rule too)."""

    def retry(self, run: StateView, error: StatesError, attempt: int, delay: float, retrier: Retrier) -> None:
        """`retrier` (one of ``run.state.retry``) caught `error`; retry number `attempt` of that
        retrier follows after `delay` seconds."""

    def caught(self, run: StateView, error: StatesError, catcher: Catcher) -> None:
        """A catcher took `error`; the state exits to ``catcher.next``."""

    def failed(self, run: StateView, error: StatesError) -> None:
        """The state failed with `error` and no catcher took it."""

    def exit(self, run: StateView, output: Any, next_name: str | None) -> None:
        """The state exited with `output`, going to `next_name` (None: the block ends)."""

    def map_started(self, run: StateView, length: int) -> None:
        """A Map state's run of `length` items starts (its ``MapStateStarted`` event; again on a retry)."""

    def iteration(self, run: StateView, index: int, status: str) -> None:
        """A Map iteration (inline, or a Distributed Map item's child execution) or a Parallel
        branch changed status: started, succeeded, failed, aborted. A Distributed Map with an
        ItemBatcher reports its batches."""

    def execution_started(self, execution: ExecutionView) -> None:
        """An execution started (a Distributed Map item's child execution too: ``execution.parent``)."""

    def execution_ended(self, execution: ExecutionView, status: str, error: str | None, cause: str | None) -> None:
        """An execution ended with `status`, `error` and `cause`."""

    def attempt_started(self, run: StateView, attempt: int) -> None:
        """A Task state's attempt (1, 2, ...) calls its handler, mock or service."""

    def attempt_ended(self, run: StateView, attempt: int, error: StatesError | None) -> None:
        """A Task state's attempt ended (`error` None: it succeeded)."""

    def for_children(self) -> "Observer | None":
        """The observer of the nested executions (``states:startExecution`` of a machine run in
        the same process) that this run's Tasks start; None (the default): they are not observed."""
        return None


class Observers(Observer):
    """Several observers as one: each gets every event, in the order given."""

    def __init__(self, *observers: Observer):
        self.observers = [o for o in observers if o is not None]

    def event(self, event: ObserverEvent) -> None:
        for observer in self.observers:
            observer.event(event)

    def for_children(self) -> Observer | None:
        return combine(*(observer.for_children() for observer in self.observers))


def combine(*observers: Observer | None) -> Observer | None:
    """One observer for `observers` (None when there is none)."""
    present = [o for o in observers if o is not None]
    if not present:
        return None
    return present[0] if len(present) == 1 else Observers(*present)


_HOOKS: dict[type, Any] = {
    StateEntered: lambda o, e: o.enter(e.state),
    DataStage: lambda o, e: o.data(e.state, e.stage, e.value),
    ChoiceMatched: lambda o, e: o.choice(e.state, e.rule),
    RetryScheduled: lambda o, e: o.retry(e.state, e.error, e.attempt, e.delay, e.retrier),
    ErrorCaught: lambda o, e: o.caught(e.state, e.error, e.catcher),
    StateFailed: lambda o, e: o.failed(e.state, e.error),
    StateExited: lambda o, e: o.exit(e.state, e.output, e.next),
    MapStarted: lambda o, e: o.map_started(e.state, e.length),
    IterationChanged: lambda o, e: o.iteration(e.state, e.index, e.status),
    ExecutionBegan: lambda o, e: o.execution_started(e.execution),
    ExecutionEnded: lambda o, e: o.execution_ended(e.execution, e.status, e.error, e.cause),
    AttemptStarted: lambda o, e: o.attempt_started(e.state, e.attempt),
    AttemptEnded: lambda o, e: o.attempt_ended(e.state, e.attempt, e.error),
}
