"""What a state's runner may ask of the execution it runs in: the ports.

The runners (`asl.engine.interpreter`'s Pass/Choice/Wait/..., `asl.engine.task`,
`asl.engine.concurrency`, `asl.engine.callbacks.serve_activity`) reach their execution only
as ``run.ex``, and only through the members declared here; `Execution` provides them all
(tests/test_engine_structure.py checks both). Another runtime (TestState's, a service worker
running one state of a durable execution) provides the same ports and reuses the runners.

    Clock        the time, and waiting on it (real or virtual: `asl.engine.clock`)
    EventSink    the journal: history events, recorded facts ($now, timers, task outcomes)
    Invoker      the Task side: handlers, mocks, activities, task tokens, Timeout/Heartbeat
    ChildRunner  work run as a unit of its own: a branch or iteration, a Distributed Map child
    Quotas       AWS's payload and variable limits
    Runtime      all of the above, with the execution's identity and `$$`: what ``run.ex`` is

This module imports nothing of the engine at run time, so any module may depend on it.
"""
from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Protocol, runtime_checkable

if TYPE_CHECKING:
    from random import Random

    from ..errors import StatesError
    from .history import History
    from .observe import Observer
    from .staterun import Frame, StateRun
    from .tasks import Beat, Handlers, Mocks


@runtime_checkable
class Clock(Protocol):
    """The execution's time. Under virtual time, sleeping makes no real time pass."""

    virtual: bool

    def now(self) -> float:
        """Seconds since the epoch, as the execution's events are stamped."""

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` of this clock's time."""

    def awaiting_outside(self) -> AbstractContextManager[None]:
        """While inside, the execution waits for the world (a callback, a worker), not for time:
        a virtual clock does not jump ahead meanwhile."""

    def waiting(self) -> AbstractContextManager[None]:
        """While inside, the task waits for another task of the run (a free slot): under
        virtual time, the others may make time move meanwhile."""

    def task_group(self) -> Any:
        """An anyio task group whose tasks are the run's (Parallel branches, Map iterations):
        a virtual clock counts them, to know when every task of the run is blocked."""


@runtime_checkable
class EventSink(Protocol):
    """The execution's journal. Every value the execution's future depends on goes through
    here, so a resumed execution replays it instead of producing it again."""

    history: History       # the events so far (read by runners for their timestamps)
    observer: Observer | None
    # True while an event needs nothing but appending to `history` (no journal being replayed,
    # no log to tell): the state loop then appends its two events per state itself
    append_only: bool
    # (the input, its caller's text) while the events that carry the input unchanged show that
    # text (`history.spelled_details`), else None
    spelled: tuple | None
    facts: list            # the journal's facts so far (StoredFact), a resumed execution's included
    replay: Any            # the journal being replayed (`engine.journal`), None unless resumed

    def record_fact(self, site: tuple | None, kind: str, value: Any) -> None:
        """Add a fact to the journal (`site` None: not a state's, e.g. a task's give-back)."""

    def emit(self, frame: Frame, event_type: str, details: Any = None) -> int:
        """Record a history event after the frame's last one; returns its id."""

    async def record_at_once(self, kind: str, value: Any) -> None:
        """Record a fact of the execution's own and write it now (a callback's answer, an
        activity's take or give-back); the store away: the fact is not kept, StoreError raised."""

    async def flush(self, patient: bool = True) -> None:
        """Make what was recorded so far durable in the store (before telling anyone outside);
        while the store is away, wait for it (`patient` False: raise its StoreError)."""

    def now(self, frame: Frame) -> float:
        """The time as a state reads it (``$now()``, a Timestamp Wait): recorded."""

    async def timer(self, frame: Frame, seconds: float) -> None:
        """Wait `seconds` (a Wait state, a retry interval); the deadline is recorded first."""

    async def outcome(self, frame: Frame, work: Callable[[Frame, bool], Awaitable[Any]],
                      on_replay: Callable[[], Any] | None = None) -> Any:
        """Run ``work(attempt_frame, redelivered)`` once and record its value or StatesError."""

    def recorded_next(self, frame: Frame) -> tuple[str, Any] | None:
        """Resuming: the (type, details) of the event this frame recorded next before the
        process died, if it is an event; None otherwise."""

    def observe_retry(self, run: StateRun, err: StatesError, attempt: int, delay: float, retrier: Any) -> None:
        """Tell the observer a retrier took `err`."""

    def observe_choice(self, run: StateRun, rule: Any) -> None:
        """Tell the observer which Choice rule matched."""


@runtime_checkable
class Invoker(Protocol):
    """What a Task state calls, and how a call is bounded."""

    handlers: Handlers
    mocks: Mocks | None
    activities: Any          # an ActivityBroker serving activity resources, or None
    integrations: Any        # the AWS services for Tasks no handler or mock serves (asl.engine.integrations), or None
    executions: Any          # where states:startExecution children run (asl.engine.integrations.nested), or None
    unserved: list[str]      # Task states reached that no handler or mock serves

    def record_call(self, run: StateRun, payload: Any, mocked: bool) -> None:
        """Count one call of a handler or mock (``ExecutionResult.calls``)."""

    def new_task_token(self, rng: Random) -> str:
        """A task token naming this execution (``.waitForTaskToken``, activities)."""

    def token_waiter(self, token: str) -> Any:
        """Wait for SendTaskSuccess / Failure with `token` (a `TokenWaiter`)."""

    def close_token(self, token: str) -> None:
        """The task waiting with `token` ended: later answers with it are refused."""

    async def guard(self, work: Awaitable[Any], timeout: int | None, heartbeat: int | None, beat: Beat,
                    since: float | None = None) -> Any:
        """Await `work` under TimeoutSeconds and HeartbeatSeconds (States.Timeout)."""


@runtime_checkable
class ChildRunner(Protocol):
    """Work that runs as a unit of its own within the state that forks it."""

    map_runs: Any  # told of Distributed Map runs and their children (the service's MapRuns), or None

    def run_block(self, block: Any, value: Any, frame: Frame) -> Awaitable[Any]:
        """A Parallel branch or inline Map iteration: the block's states in `frame` (awaited)."""

    async def run_child(self, processor: Any, value: Any, index: int, fork: Frame, map_name: str,
                        map_run_arn: str | None = None, view: Any = None, meta: dict | None = None) -> Any:
        """A Distributed Map item: a child execution of its own (its outcome recorded); `view` is
        the Map state's `StateView` when there is an observer (the child's ``parent``); `meta`
        gets the child's ARN, start and redrive count and time when it runs."""

    def map_run_arn(self, label: str) -> str:
        """The ARN of a Distributed Map's Map Run."""


@runtime_checkable
class Quotas(Protocol):
    """AWS's service quotas on what states produce."""

    def check_size(self, value: Any, name: str, task: bool = False) -> None:
        """States.DataLimitExceeded for a payload over the limit (terminal unless a Task's)."""

    def check_variables(self, assigned: dict, visible: dict, name: str) -> None:
        """The limits of one Assign and of all the variables of the execution."""


@runtime_checkable
class Runtime(EventSink, Invoker, ChildRunner, Quotas, Protocol):
    """``run.ex``: the ports, the clock, and who the execution is (for ``$$`` and task contexts)."""

    clock: Clock
    name: str
    arn: str
    start_time: float        # ExecutionStarted's time (the recorded one, when resumed)
    redrive_count: int       # how many times it was redriven (0: its first run)
    state_machine_name: str
    region: str
    seed: int
    transitions: int
    ending: tuple[str, str] | None  # (error, cause) the run's next step fails it with (a deleted machine)
    context_names: dict[int, str]   # id(state model) -> its $$.State.Name when not its name (TestState's StateName)
    context_given: bool             # ``$$`` is a TestState request's context: no State or Task.Token added

    def iso(self, when: float) -> str:
        """A timestamp as AWS writes it in ``$$`` (``2019-03-26T20:14:13.192Z``; no fraction on a
        whole second: `asl.timestamps.format_context_timestamp`)."""

    def context_base(self) -> dict:
        """``$$`` without State / Task / Map (a fresh dict)."""

    def aborting_branches(self) -> bool:
        """Is a cancellation a failing sibling's (not a stop or the machine's timeout)?"""

    def compiled_choices(self, state: Any) -> list:
        """A JSONPath Choice state's rules with their compiled predicates."""
