"""The state loop: every state goes through one wrapper, then its type's runner.

    run_block   StartAt -> ... -> a terminal state, for the machine, a branch or an iteration
    run_state   <T>StateEntered -> runner (input processing, work, output processing)
                -> Catch on failure -> <T>StateExited
    RUNNERS     one coroutine per state type: Pass, Task, Choice, Wait, Succeed, Fail,
                Parallel, Map (the last two in `engine.concurrency`, Task in `engine.task`)

Runners return ``(output, next state name or None, assigned variables or None)`` and raise
`StatesError` on failure. Data flow follows ASL-SPEC.md section 3 (JSONPath) and section 4
(JSONata); documents are shared, never mutated, so no state copies another's data.
"""
from __future__ import annotations

import math
import re
from typing import Any, Awaitable, Callable

import anyio

from ..errors import PathNotFoundError, StatesError
from ..model import UNSET, dollar
from ..paths import assign_path
from ..templates import Template, dumps, expect_kind
from .scope import Scope

Result = tuple[Any, "str | None", "dict | None"]


class Located(StatesError):
    """A runtime error whose cause already names the state it happened in (AWS's prefix)."""


class FailStateError(StatesError):
    """Raised by a Fail state: error and cause exactly as the state gives them."""


UNCATCHABLE = {"States.Runtime"}
_ABORTABLE = ("Task", "Wait", "Parallel", "Map")
_ENTERED = {kind: f"{kind}StateEntered" for kind in ("Task", "Pass", "Choice", "Wait", "Succeed", "Fail",
                                                      "Parallel", "Map")}
_EXITED = {kind: f"{kind}StateExited" for kind in _ENTERED}


def is_terminal(err: StatesError) -> bool:
    """Errors no Retry or Catch may take: States.Runtime, and failures marked terminal
    (an oversized output of a state that is not a Task)."""
    return err.error in UNCATCHABLE or getattr(err, "terminal", False)


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
        if name == "States.HeartbeatTimeout" and getattr(err, "heartbeat", False):
            return True
    return False


def error_output(err: StatesError) -> dict:
    return {"Error": err.error, "Cause": err.cause}


class Frame:
    """Where a state runs: the variables of its scope and the event it follows.

    ``key`` names this block run for the journal (`asl.engine.journal`): the parent's key
    plus (the parent's position when it forked, the branch or item index); ``seq`` is the
    position of the last event or fact the frame recorded.
    """

    __slots__ = ("variables", "last", "map_item", "path", "key", "seq", "_rng")

    def __init__(self, variables: dict, last: int, map_item: dict | None = None, path: tuple = (),
                 key: tuple = ()):
        self.variables = variables
        self.last = last
        self.map_item = map_item
        self.path = path
        self.key = key
        self.seq = 0
        self._rng = None

    def child(self, variables: dict, index: int, path_step: tuple, map_item: dict | None = None) -> "Frame":
        """The frame of a branch or an item forked at this frame's current position."""
        return Frame(variables, self.last, map_item, self.path + (path_step,), self.key + ((self.seq, index),))

    def random(self, seed: int) -> Any:
        """This frame's random source: the same seed and key always draw the same values."""
        if self._rng is None:
            from .journal import frame_random
            self._rng = frame_random(seed, self.key)
        return self._rng


class StateRun:
    """One entry into a state: everything its runner needs."""

    __slots__ = ("ex", "state", "frame", "entered_id", "entered_time", "retry_count", "raw", "name")

    def __init__(self, ex: Any, state: Any, frame: Frame, entered_id: int, entered_time: float, raw: Any):
        self.ex = ex
        self.state = state
        self.name = state.name
        self.frame = frame
        self.entered_id = entered_id
        self.entered_time = entered_time
        self.retry_count = 0
        self.raw = raw

    # ---- the context object and scopes -------------------------------------------------

    def context(self, task_token: str | None = None) -> dict:
        ctx = self.ex.context_base()
        state = {"Name": self.name, "EnteredTime": self.ex.iso(self.entered_time)}
        if self.state.type in ("Task", "Parallel", "Map"):
            state["RetryCount"] = self.retry_count
        ctx.setdefault("State", state)  # TestState's given context may name its own
        if task_token is not None:
            ctx["Task"] = {"Token": task_token}
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
        frame = self.frame
        if kw:
            return Scope(value, frame.variables, frame._rng or frame.random(self.ex.seed), self.context,
                         now=self.now, **kw)
        return Scope(value, frame.variables, frame._rng or frame.random(self.ex.seed), self.context, now=self.now)

    def event(self, event_type: str, details: dict | None = None) -> int:
        """Record an event following this state's last one."""
        return self.ex.emit(self.frame, event_type, details)

    # ---- JSONPath data flow ------------------------------------------------------------

    def note(self, stage: str, value: Any) -> Any:
        """Tell the observer (the trace, the test API) a data-flow stage's value; returns it."""
        observer = self.ex.observer
        if observer is not None:
            observer.data(self, stage, value)
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
        from ..templates import resolve_path
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


_NO_RESULT = object()
_DOLLAR = dollar()  # the "$" path (InputPath, ResultPath and OutputPath by default)


# --------------------------------------------------------------------------------------------
# The wrapper every state goes through
# --------------------------------------------------------------------------------------------

async def run_block(ex: Any, block: Any, value: Any, frame: Frame) -> Any:
    """Run a block of states from StartAt until a terminal state; return its output."""
    states = block.states
    name = block.start_at
    sync_runners = SYNC_RUNNERS
    while True:
        state = states[name]
        sync = sync_runners.get(state.type)
        if sync is not None:  # Pass, Choice, Succeed, Fail: no coroutine per state
            value, name = run_sync_state(ex, state, value, frame, sync)
        else:
            value, name = await run_state(ex, state, value, frame)
        if name is None:
            return value


def run_sync_state(ex: Any, state: Any, raw: Any, frame: Frame, runner: Callable[[StateRun], Result]) -> \
        tuple[Any, str | None]:
    """`run_state` for a state whose runner never waits (nothing in it can be cancelled)."""
    run = _enter(ex, state, raw, frame)
    try:
        output, next_name, assigned = runner(run)
    except StatesError as err:
        output, next_name, assigned = _caught(run, err)
    return _leave(ex, run, output, next_name, assigned)


async def run_state(ex: Any, state: Any, raw: Any, frame: Frame,
                    runner: Callable[[StateRun], Awaitable[Result]] | None = None) -> tuple[Any, str | None]:
    """One state, start to end. `runner` replaces the state type's runner (TestState's mocked
    Map or Parallel)."""
    run = _enter(ex, state, raw, frame)
    try:
        output, next_name, assigned = await (runner or RUNNERS[state.type])(run)
    except StatesError as err:
        output, next_name, assigned = _caught(run, err)
    except BaseException as exc:
        kind = state.type
        if kind in _ABORTABLE and isinstance(exc, anyio.get_cancelled_exc_class()) and ex.aborting_branches():
            # a sibling branch / iteration failed: AWS records the states it stopped (the event
            # has no details in AWS's model)
            ex.emit(frame, f"{kind}StateAborted")
        raise
    return _leave(ex, run, output, next_name, assigned)


def _enter(ex: Any, state: Any, raw: Any, frame: Frame) -> StateRun:
    """<T>StateEntered: the state's run begins."""
    ex.transitions += 1
    entered = ex.emit(frame, _ENTERED[state.type], (state.name, "input", raw, None))
    run = StateRun(ex, state, frame, entered, ex.history._events[entered - 1][2], raw)
    if ex.observer is not None:
        ex.observer.enter(run)
    return run


def _caught(run: StateRun, err: StatesError) -> Result:
    """A failed state's Catch (the error, located, raised again when no catcher takes it)."""
    err = locate(err, run)
    caught = catch(run, err)
    if caught is None:
        if run.ex.observer is not None:
            run.ex.observer.failed(run, err)
        raise err
    return caught


def _leave(ex: Any, run: StateRun, output: Any, next_name: str | None, assigned: dict | None) -> \
        tuple[Any, str | None]:
    """Output checks, the variables assigned, <T>StateExited; returns (output, next state)."""
    state = run.state
    kind = state.type
    ex.check_size(output, run.name)
    if assigned:
        frame = run.frame
        ex.check_variables(assigned, frame.variables, run.name)
        frame.variables.update(assigned)
    if kind != "Fail":
        ex.emit(run.frame, _EXITED[kind], (run.name, "output", output, assigned))
    if next_name is None and kind not in ("Succeed", "Fail") and not state.end:
        next_name = state.next
    if ex.observer is not None:
        ex.observer.exit(run, output, next_name)
    return output, next_name


_FIELD = re.compile(r"specified for the field '([^']*)'")


def locate(err: StatesError, run: StateRun) -> StatesError:
    """Prefix a data-flow error's cause with the state, as AWS does (task/Fail errors are as given)."""
    from .tasks import TaskFailed

    if isinstance(err, (Located, TaskFailed, FailStateError)) or getattr(err, "located", False):
        return err
    if err.error in ("States.NoChoiceMatched",):
        return err
    cause = f"An error occurred while executing the state '{run.name}' (entered at the event id #{run.entered_id}). " \
            f"{err.cause or ''}"
    located = Located(err.error, cause)
    located.terminal = getattr(err, "terminal", False)
    if err.error == "States.QueryEvaluationError":
        field = getattr(err, "field", None) or (_FIELD.search(err.cause or "") or [None, ""])[1]
        run.event("EvaluationFailed", {"error": err.error, "cause": cause, "location": field, "state": run.name})
    return located


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
                assigned = run.assign(catcher.assign, run.scope(out))
            if run.ex.observer is not None:
                run.ex.observer.caught(run, err, catcher)
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


# --------------------------------------------------------------------------------------------
# Runners: Pass, Succeed, Fail, Choice, Wait
# --------------------------------------------------------------------------------------------

def run_pass_now(run: StateRun) -> Result:
    state = run.state
    if state.is_jsonata:
        output, assigned = run.jsonata_output(_NO_RESULT, run.raw)
        return output, None, assigned
    effective = run.effective_input()
    if state.result is not UNSET:
        result = state.result
    elif state.parameters is not None:
        result = state.parameters.evaluate(run.scope(effective))
        if run.ex.observer is not None:
            run.note("afterParameters", result)
    else:
        result = effective
    assigned = run.assign(state.assign, run.scope(result)) if state.assign is not None else None
    placed = run.result_path(result)
    if run.ex.observer is not None:
        run.note("result", result)
        run.note("afterResultPath", placed)
    return run.output_path(placed), None, assigned


def run_succeed_now(run: StateRun) -> Result:
    if run.state.is_jsonata:
        output, _ = run.jsonata_output(_NO_RESULT, run.raw)
        return output, None, None
    return run.output_path(run.effective_input()), None, None


def run_fail_now(run: StateRun) -> Result:
    state = run.state
    scope = run.scope(run.raw)
    error, cause = state.error, state.cause
    if isinstance(error, Template):
        error = error.evaluate(scope)
    if isinstance(cause, Template):
        cause = cause.evaluate(scope)
    if state.error_path is not None:
        error = _string_from(state.error_path(scope), "ErrorPath")
    if state.cause_path is not None:
        cause = _string_from(state.cause_path(scope), "CausePath")
    if state.is_jsonata:
        for field, template, value in (("Error", state.error, error), ("Cause", state.cause, cause)):
            if value is not None:
                expect_kind(template, value, "string", field)
    raise FailStateError(error, cause)


def _string_from(value: Any, field: str) -> str:
    """ErrorPath / CausePath must select a string (ASL-SPEC.md section 7)."""
    if not isinstance(value, str):
        raise StatesError("States.Runtime", f"The {field} field must reference a string, but was: {dumps(value)}")
    return value


def run_choice_now(run: StateRun) -> Result:
    state = run.state
    if state.is_jsonata:
        scope = run.scope(run.raw)
        for rule in state.choices:
            cond = rule.condition
            matched = cond.evaluate(scope) if isinstance(cond, Template) else cond
            if expect_kind(cond, matched, "boolean", "Condition"):
                run.ex.observe_choice(run, rule)
                output = rule.output.evaluate(scope) if rule.output else (
                    state.output.evaluate(scope) if state.output else run.raw)
                return output, rule.next, run.assign(rule.assign, scope)
        if state.default is None:
            raise StatesError("States.NoChoiceMatched", "No Choice Rule matched and no Default specified")
        output = state.output.evaluate(scope) if state.output else run.raw
        return output, state.default, run.assign(state.assign, scope)
    effective = run.effective_input()
    scope = run.scope(effective)
    ex = run.ex
    for rule, predicate in ex._choices.get(id(state)) or ex.compiled_choices(state):
        if predicate(scope):
            if ex.observer is not None:
                ex.observe_choice(run, rule)
            return run.output_path(effective), rule.next, run.assign(rule.assign, scope) if rule.assign is not None else None
    if state.default is None:
        raise StatesError("States.NoChoiceMatched", "No Choice Rule matched and no Default specified")
    return run.output_path(effective), state.default, run.assign(state.assign, scope)


MAX_WAIT = 2 ** 31


async def run_wait(run: StateRun) -> Result:
    from ..timestamps import to_epoch

    state = run.state
    jsonata = state.is_jsonata
    effective = run.raw if jsonata else run.effective_input()
    scope = run.scope(effective)
    seconds: float | None = None
    if state.seconds is not None:
        value = state.seconds.evaluate(scope) if isinstance(state.seconds, Template) else state.seconds
        if expect_kind(state.seconds, value, "integer", "Seconds") < 0:
            raise StatesError("States.QueryEvaluationError",
                              f"The Seconds field must be a non-negative integer, but was: {dumps(value)}")
        seconds = value
    elif state.seconds_path is not None:
        text = state.seconds_path.text
        try:
            value = run.read_path(state.seconds_path, effective)
        except PathNotFoundError:
            raise StatesError("States.Runtime", f"The SecondsPath parameter does not reference an input value: "
                              f"{text}") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                isinstance(value, float) and not value.is_integer()):
            raise StatesError("States.Runtime", f"The SecondsPath parameter cannot be parsed as a long value: "
                              f"{text} == {_java_text(value)}")
        if value < 0:
            raise StatesError("States.Runtime", f"The SecondsPath parameter references a negative value: "
                              f"{text} == {_java_text(value)}")
        seconds = value
    else:
        if state.timestamp is not None:
            value = state.timestamp.evaluate(scope) if isinstance(state.timestamp, Template) else state.timestamp
            target = to_epoch(expect_kind(state.timestamp, value, "string", "Timestamp"))
            if target is None:
                error = "States.QueryEvaluationError" if isinstance(state.timestamp, Template) else "States.Runtime"
                raise StatesError(error, "The Timestamp field cannot be parsed as an ISO-8601 extended offset "
                                  f"date-time format string: {value if isinstance(value, str) else dumps(value)}")
        else:
            text = state.timestamp_path.text
            try:
                value = run.read_path(state.timestamp_path, effective)
            except PathNotFoundError:
                raise StatesError("States.Runtime", "The TimestampPath parameter does not reference an input "
                                  f"value: {text}") from None
            target = to_epoch(value)
            if target is None:
                raise StatesError("States.Runtime", "The TimestampPath parameter does not reference a valid "
                                  "ISO-8601 extended offset date-time format string: "
                                  f"{text} == {value if isinstance(value, str) else dumps(value)}")
        seconds = max(0.0, target - run.ex.now(run.frame))
    if seconds > MAX_WAIT:
        raise StatesError("States.Runtime", "Wait state delay is too long.")
    if jsonata:
        output, assigned = run.jsonata_output(_NO_RESULT, run.raw)
    else:
        assigned = run.assign(state.assign, scope) if state.assign is not None else None
        output = run.output_path(effective)
    if seconds:
        await run.ex.timer(run.frame, seconds)
    return output, None, assigned


def _java_text(value: Any) -> str:
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    return dumps(value) if not isinstance(value, str) else value


async def run_pass(run: StateRun) -> Result:
    return run_pass_now(run)


async def run_succeed(run: StateRun) -> Result:
    return run_succeed_now(run)


async def run_fail(run: StateRun) -> Result:
    return run_fail_now(run)


async def run_choice(run: StateRun) -> Result:
    return run_choice_now(run)


# the runners that never wait: `run_block` calls them without a coroutine
SYNC_RUNNERS: dict[str, Callable[[StateRun], Result]] = {
    "Pass": run_pass_now, "Succeed": run_succeed_now, "Fail": run_fail_now, "Choice": run_choice_now}


def _runners() -> dict[str, Callable[[StateRun], Awaitable[Result]]]:
    from .concurrency import run_map, run_parallel
    from .task import run_task

    return {"Pass": run_pass, "Succeed": run_succeed, "Fail": run_fail, "Choice": run_choice,
            "Wait": run_wait, "Task": run_task, "Parallel": run_parallel, "Map": run_map}


class _Runners(dict):
    def __missing__(self, key: str) -> Any:
        self.update(_runners())
        return self[key]


RUNNERS: dict[str, Callable[[StateRun], Awaitable[Result]]] = _Runners()
