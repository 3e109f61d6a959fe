"""What every state's run is made of, below the state loop (`asl.engine.interpreter`) and the
runners (`asl.engine.task`, `asl.engine.concurrency`): the `Frame` a state runs in, the
`StateRun` a runner works on, error matching, Retry and Catch.

A runner reaches the execution through the ports of `asl.engine.ports` (``run.ex``), never
through the state loop: this module imports neither.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Awaitable, Callable

from ..errors import StatesError
from ..model import dollar
from ..paths import assign_path
from ..templates import Template, expect_kind, resolve_path
from .journal import frame_random
from .observe import DataStage, ErrorCaught, StateView
from .scope import Scope
from .tasks import TaskFailed

if TYPE_CHECKING:
    from .ports import Runtime

Result = tuple[Any, "str | None", "dict | None"]


class Located(StatesError):
    """A runtime error whose cause already names the state it happened in (AWS's prefix)."""


class ChildAborted(StatesError):
    """Raised by `Execution.run_child` when the child execution was stopped (StopExecution of
    the child): it ended ABORTED, with the stop's error and cause."""


def aborted_with(map_run_arn: str) -> str:
    """The cause of a Map Run's child cut short with its Map Run (AWS's words: raw AWS capture,
    radkawar/stackd testdata/aws/stepfunctions/redrive_map.json, standard:failed)."""
    return f"The map run execution [{map_run_arn}] which was managing this resource was aborted"


class ChildTimedOut(StatesError):
    """Raised by `Execution.run_child` when an EXPRESS child execution ran past five minutes: it
    ended TIMED_OUT (``States.Timeout``, no cause), a failed item for the Map Run's tolerance."""

    def __init__(self) -> None:
        super().__init__("States.Timeout", None)


class FailStateError(StatesError):
    """Raised by a Fail state: error and cause exactly as the state gives them."""


UNCATCHABLE = {"States.Runtime"}


def end_if_deleted(ex: Any, frame: Frame) -> None:
    """Fail the run here if its state machine was deleted (`ex.ending`), unless the event this
    point records next is on record already (a resumed run replays its transitions as they were).

    AWS fails a deleted machine's execution at its next step, recording nothing of that step
    (raw AWS capture, radkawar/stackd testdata/aws/stepfunctions/deletion_lifecycle.json,
    terminal_results): a Wait whose time ran out after DeleteStateMachine failed with
    ExecutionFailed straight after WaitStateEntered (no WaitStateExited), and an activity
    Task whose worker called SendTaskSuccess after it failed straight after ActivityStarted
    (no ActivitySucceeded, no TaskStateExited). The runners call this there, and where a
    state is entered."""
    if ex.ending is not None and ex.recorded_next(frame) is None:
        raise Located(*ex.ending, terminal=True)  # (AWS's cause names no state)


def is_terminal(err: StatesError) -> bool:
    """Errors no Retry or Catch may take: States.Runtime, and failures marked terminal
    (an oversized output of a state that is not a Task)."""
    return err.terminal or err.error in UNCATCHABLE


def error_matches(names: list[str], err: StatesError) -> bool:
    """Does an ``ErrorEquals`` list match `err`? (ASL-SPEC.md sections 8-9).

    ``States.ALL`` matches everything catchable; ``States.TaskFailed`` everything but
    ``States.Timeout``; ``States.HeartbeatTimeout`` also matches a heartbeat expiry, which AWS
    reports as ``States.Timeout``.
    """
    if is_terminal(err):
        return False
    error = err.error
    for name in names:
        if name == "States.ALL" or name == error:
            return True
        if name == "States.TaskFailed" and error != "States.Timeout":
            return True
        if name == "States.HeartbeatTimeout" and err.heartbeat:
            return True
    return False


def error_output(err: StatesError) -> dict:
    """The error output a Catch hands on. A timeout (TimeoutSeconds, HeartbeatSeconds) has no
    cause in the history, yet AWS gives its error output an empty ``Cause`` (LocalStack's
    AWS-recorded test_task_service_lambda::test_invoke_timeout); a failure reported without a
    cause keeps ``null``."""
    cause = err.cause
    if cause is None and err.error == "States.Timeout":
        cause = ""
    return {"Error": err.error, "Cause": cause}


class Frame:
    """Where a state runs: the variables of its scope and the event it follows.

    ``key`` names this block run for the journal (`asl.engine.journal`): the parent's key
    plus (the parent's position when it forked, the branch or item index); ``seq`` is the
    position of the last event or fact the frame recorded. ``aborted`` holds the events a block
    run cut short by a failing sibling leaves for the container that failed to write
    (`asl.engine.concurrency`): ``(frame, event type, details)``, in the order they are written.
    """

    __slots__ = ("variables", "last", "map_item", "path", "key", "seq", "aborted", "_rng")

    def __init__(self, variables: dict, last: int, map_item: dict | None = None, path: tuple = (),
                 key: tuple = ()):
        self.variables = variables
        self.last = last
        self.map_item = map_item
        self.path = path
        self.key = key
        self.seq = 0
        self.aborted: list | None = None
        self._rng = None

    def child(self, variables: dict, index: int, path_step: tuple, map_item: dict | None = None) -> "Frame":
        """The frame of a branch or an item forked at this frame's current position."""
        return Frame(variables, self.last, map_item, self.path + (path_step,), self.key + ((self.seq, index),))

    def leave_aborted(self, event_type: str, details: dict | None = None) -> None:
        """Leave an abort event of this frame to be written later (see ``aborted``)."""
        if self.aborted is None:
            self.aborted = []
        self.aborted.append((self, event_type, details))

    def random(self, seed: int) -> Any:
        """This frame's random source: the same seed and key always draw the same values."""
        if self._rng is None:
            self._rng = frame_random(seed, self.key)
        return self._rng


def write_aborted(ex: Any, notes: list, container: Frame | None = None) -> None:
    """Write the abort events cut-short frames left (``Frame.aborted``), in order: each in its
    own frame after its last event or, given the `container` whose branch or iteration failed,
    all in that one's frame, each after its last event (the failure), which stays its last.
    In the container's frame their journal sites do not depend on how far each cut-short
    frame got before it stopped."""
    if container is None:
        for frame, event_type, details in notes:
            ex.emit(frame, event_type, details)
        return
    failure = container.last
    for _frame, event_type, details in notes:
        container.last = failure
        ex.emit(container, event_type, details)
    container.last = failure


def write_left(ex: Any, frame: Frame) -> None:
    """Write the abort events left on a child execution's root `frame`, cut short with its Map
    Run (no container of the child's own writes them)."""
    if frame.aborted:
        write_aborted(ex, frame.aborted)
        frame.aborted = None


class StateRun:
    """One entry into a state: everything its runner needs."""

    __slots__ = ("ex", "state", "frame", "entered_id", "entered_time", "retry_count", "raw", "name", "_view")

    def __init__(self, ex: Runtime, state: Any, frame: Frame, entered_id: int, entered_time: float, raw: Any):
        self.ex = ex  # the execution, through its ports only (asl.engine.ports)
        self.state = state
        self.name = state.name
        self.frame = frame
        self.entered_id = entered_id
        self.entered_time = entered_time
        self.retry_count = 0
        self.raw = raw
        self._view: StateView | None = None

    # ---- what observers see ----------------------------------------------------------------

    def view(self) -> StateView:
        """This entry into the state as observers see it (one `StateView` per entry)."""
        if self._view is None:
            self._view = StateView(self.name, self.state.type, self.state, self.raw, self.frame.path,
                                   self.entered_id, self.entered_time, self)
        return self._view

    def tell(self, event: Callable[..., Any], *details: Any) -> None:
        """Hand the observer (there is one) an `asl.engine.observe` event about this state."""
        self.ex.observer.event(event(self.view(), *details))

    # ---- the context object and scopes -------------------------------------------------

    def context(self, task_token: str | None = None) -> dict:
        ctx = self.ex.context_base()
        if not self.ex.context_given:
            # AWS's TestState takes a given context as the whole $$: no State is added, an empty
            # one stays {} (recorded: LocalStack test_state_context_object_edge_cases[EMPTY])
            state = {"Name": self.ex.context_names.get(id(self.state), self.name),
                     "EnteredTime": self.ex.iso(self.entered_time)}
            if self.state.type in ("Task", "Parallel", "Map"):
                state["RetryCount"] = self.retry_count
            ctx["State"] = state
        if task_token is not None:
            # a given context's Task.Token is the one the state sends (test_state_wait_task_context_object)
            ctx.setdefault("Task", {"Token": task_token})
        if self.frame.map_item is not None:
            ctx["Map"] = {"Item": self.frame.map_item}
        return ctx

    @property
    def rng(self) -> Any:
        return self.frame._rng or self.frame.random(self.ex.seed)

    def now(self) -> float:
        """The clock as this state reads it (``$now()``): recorded in the journal."""
        return self.ex.now(self.frame)

    def scope(self, value: Any, **kw: Any) -> Scope:
        if kw:
            frame = self.frame
            return Scope(value, frame.variables, frame._rng or frame.random(self.ex.seed), self.context,
                         now=self.now, **kw)
        return StateScope(value, self)

    def event(self, event_type: str, details: dict | None = None) -> int:
        """Record an event following this state's last one."""
        return self.ex.emit(self.frame, event_type, details)

    # ---- JSONPath data flow ------------------------------------------------------------

    def note(self, stage: str, value: Any) -> Any:
        """Tell the observer (the trace, the test API) a data-flow stage's value; returns it."""
        if self.ex.observer is not None:
            self.tell(DataStage, stage, value)
        return value

    def effective_input(self) -> Any:
        path = self.state.input_path
        if path is None:
            value: Any = {}
        elif path is _DOLLAR:
            value = self.raw
        else:
            value = self.read_path(path, self.raw)
        return self.note("afterInputPath", value) if self.ex.observer is not None else value

    def read_path(self, path: Any, value: Any) -> Any:
        scope = self.scope(value)
        return resolve_path(path, scope)

    def result_path(self, result: Any) -> Any:
        path = self.state.result_path
        if path is None:
            return self.raw
        if path is _DOLLAR:
            return result
        return assign_path(self.raw, path, result)

    def output_path(self, value: Any) -> Any:
        path = self.state.output_path
        if path is None:
            return {}
        if path is _DOLLAR:
            return value
        return self.read_path(path, value)

    def assign(self, template: Template | None, scope: Scope) -> dict | None:
        """Evaluate an ``Assign`` block against the values on entry (commit happens later)."""
        if template is None:
            return None
        return expect_kind(template, template.evaluate(scope), "object", "Assign")

    def finish(self, result: Any) -> "Result":
        """Output processing after the work of a Task, Parallel or Map (sections 3.1 and 4)."""
        state = self.state
        watched = self.ex.observer is not None
        if watched:
            self.note("result", result)
        if state.is_jsonata:
            output, assigned = self.jsonata_output(result, result)
            return output, None, assigned
        if state.result_selector is not None:
            result = state.result_selector.evaluate(self.scope(result))
            if watched:
                self.note("afterResultSelector", result)
        assigned = self.assign(state.assign, self.scope(result)) if state.assign is not None else None
        placed = self.result_path(result)
        if watched:
            self.note("afterResultPath", placed)
        return self.output_path(placed), None, assigned

    # ---- JSONata ------------------------------------------------------------------------

    def jsonata_output(self, result: Any, default: Any) -> tuple[Any, dict | None]:
        """JSONata ``Output`` and ``Assign`` with ``$states.result`` (both see the entry variables)."""
        state = self.state
        scope = self.scope(self.raw, result=result) if result is not _NO_RESULT else self.scope(self.raw)
        output = state.output.evaluate(scope) if getattr(state, "output", None) else default
        assigned = self.assign(getattr(state, "assign", None), scope)
        return output, assigned


class StateScope(Scope):
    """The scope of one evaluation site of a state (``$`` is `input`): what it reads of the run
    (its variables, random source, clock and ``$$``) is looked up only when asked for, so making
    one costs two assignments (a JSONPath state makes one or two per entry)."""

    __slots__ = ("_run",)

    def __init__(self, input: Any, run: StateRun):
        self.input = input
        self._run = run
        self._context = None

    @property
    def variables(self) -> dict:  # type: ignore[override]
        return self._run.frame.variables

    @property
    def rng(self) -> Any:  # type: ignore[override]
        return self._run.rng

    @property
    def now(self) -> Callable[[], float]:  # type: ignore[override]
        return self._run.now

    @property
    def context(self) -> dict:
        if self._context is None:
            self._context = self._run.context()
        return self._context

    @property
    def result(self) -> Any:  # type: ignore[override]
        return Scope._UNSET

    @property
    def error_output(self) -> Any:  # type: ignore[override]
        return Scope._UNSET

    @property
    def state_input(self) -> Any:  # type: ignore[override]
        return self.input

    def with_input(self, value: Any) -> Scope:
        scope = StateScope(value, self._run)
        scope._context = self._context
        return scope


#: AWS's cause when no Choice rule matches and there is no Default.
NO_NEXT_STATE = "Failed to transition out of the state. The state does not point to a next state."


def no_choice_matched() -> StatesError:
    """No rule matched and there is no Default: AWS fails with States.Runtime (so no Retry or
    Catch takes it), not the spec's States.NoChoiceMatched, and this cause after the usual
    state prefix. Evidence: an AWS-run conformance suite (tests/support/conformance choice
    cases: "AWS snapshots report a runtime transition failure when nothing matches and no
    Default is configured"), and emulators giving this wording, one "verified against
    us-east-1", whose history test shows the whole cause "An error occurred while executing the
    state 'C' (entered at the event id #2). Failed to transition out of the state. ..." after
    ChoiceStateEntered, with no ChoiceStateExited."""
    return StatesError("States.Runtime", NO_NEXT_STATE)


_NO_RESULT = object()
_DOLLAR = dollar()  # the "$" path (InputPath, ResultPath and OutputPath by default)


def locate(err: StatesError, run: StateRun) -> StatesError:
    """Prefix a data-flow error's cause with the state, as AWS does (task/Fail errors are as given)."""
    if isinstance(err, (Located, TaskFailed, FailStateError)):
        return err
    cause = f"An error occurred while executing the state '{run.name}' (entered at the event id #{run.entered_id}). " \
            f"{err.cause or ''}"
    located = Located(err.error, cause, terminal=err.terminal)
    if err.hint is not None:
        located.hint = err.hint
    if err.error == "States.QueryEvaluationError":
        # AWS leaves `location` out when no field failed (a Map's input that is no array)
        location = {"location": err.field} if err.field else {}
        _evaluation_failed(run, {"error": err.error, "cause": cause, **location, "state": run.name})
    return located


def _evaluation_failed(run: StateRun, details: dict) -> None:
    """Record ``EvaluationFailed`` after the state's last event: on a failure in the step that
    entered the state, the ``<T>StateEntered`` (raw AWS capture of Sept 2026, radkawar/stackd
    testdata/aws/stepfunctions/dataflow_execution.json history-jsonata-undefined: 4
    PassStateEntered, 5<-4 EvaluationFailed for the Pass's Output). AWS linked such an event to
    what the entry followed until at least Nov 2024 (LocalStack's AWS snapshots of
    test_map_state_items_input_types, test_undefined_reference, test_map_catch_error, the last a
    Pass's Output in the same position); the newer recording wins, as for Distributed Map's
    MapStateExited. What follows the event (``*StateFailed``, ``ExecutionFailed``) follows it."""
    run.event("EvaluationFailed", details)


def catch(run: StateRun, err: StatesError) -> Result | None:
    """Apply the first matching catcher: error output into the raw input (or JSONata Output)."""
    catchers = getattr(run.state, "catch", None)
    if not catchers:
        return None
    for catcher in catchers:
        if error_matches(catcher.error_equals, err):
            out = error_output(err)
            if run.state.is_jsonata:
                scope = run.scope(run.raw, error_output=out)
                output = catcher.output.evaluate(scope) if catcher.output else out
                assigned = run.assign(catcher.assign, scope)
            else:
                path = catcher.result_path
                output = out if path is _DOLLAR else run.raw if path is None else assign_path(run.raw, path, out)
                # a stage of its own to TestState (afterResultPath of a CAUGHT_ERROR: radkawar/stackd
                # testdata/aws/stepfunctions/test_state_mock.json paced-west-mock-error-catch)
                run.note("afterResultPath", output)
                assigned = run.assign(catcher.assign, run.scope(out))
            if run.ex.observer is not None:
                run.tell(ErrorCaught, err, catcher)
            return output, catcher.next, assigned
    return None


async def with_retries(run: StateRun, work: Callable[[], Awaitable[Any]]) -> Any:
    """Run `work`, retrying it as the state's retriers say (ASL-SPEC.md section 9)."""
    retriers = getattr(run.state, "retry", None)
    if not retriers:
        return await work()
    counts = [0] * len(retriers)
    while True:
        try:
            return await work()
        except StatesError as err:
            if is_terminal(err):
                raise
            for i, retrier in enumerate(retriers):
                if error_matches(retrier.error_equals, err):
                    break
            else:
                raise
            if counts[i] >= retrier.max_attempts:
                raise
            delay = retry_delay(retrier, counts[i], run.rng)
            counts[i] += 1
            run.retry_count += 1
            run.ex.observe_retry(run, err, counts[i], delay, retrier)
            await run.ex.timer(run.frame, delay)


def retry_delay(retrier: Any, attempt: int, rng: Any) -> float:
    """Seconds before retry `attempt + 1`: interval x backoff^attempt, capped, then jittered."""
    delay = retrier.interval_seconds * (retrier.backoff_rate ** attempt)
    if retrier.max_delay_seconds is not None:
        delay = min(delay, retrier.max_delay_seconds)
    if retrier.jitter_strategy == "FULL":
        delay = rng.uniform(0, delay)
    return delay
