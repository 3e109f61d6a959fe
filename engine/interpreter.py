"""The state loop: every state goes through one wrapper, then its type's runner.

    run_block   StartAt -> ... -> a terminal state, for the machine, a branch or an iteration
    run_state   <T>StateEntered -> runner (input processing, work, output processing)
                -> Catch on failure -> <T>StateExited
    SYNC_RUNNERS  the runners that never wait (Pass, Choice, Succeed, Fail): plain functions,
                run without a coroutine (`run_sync_state`)
    RUNNERS     one coroutine per other state type: Wait, Task, Parallel, Map (the last two in
                `engine.concurrency`, Task in `engine.task`)

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
from ..history.events import ABORTABLE
from ..model import UNSET, dollar
from ..paths import assign_path
from ..templates import Template, dumps, expect_kind
from .concurrency import run_map, run_parallel
from .history import HistoryLimitExceeded, spelled_details
from .observe import StateEntered, StateExited, StateFailed
from .scope import Scope
from .staterun import (FailStateError, Frame, Located, Result, StateRun, StateScope, catch,  # noqa: F401
                       end_if_deleted, error_matches, error_output, is_terminal, locate, no_choice_matched,
                       retry_delay, with_retries, _DOLLAR, _NO_RESULT)
from .task import run_task

# A whole number as Java's Long.parseLong reads it (a sign, ASCII digits)
_LONG_TEXT = re.compile(r"[+-]?[0-9]{1,19}")

_ENTERED = {kind: f"{kind}StateEntered" for kind in ("Task", "Pass", "Choice", "Wait", "Succeed", "Fail",
                                                      "Parallel", "Map")}
_EXITED = {kind: f"{kind}StateExited" for kind in _ENTERED}


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
    if runner is None:
        sync = SYNC_RUNNERS.get(state.type)
        if sync is not None:
            return run_sync_state(ex, state, raw, frame, sync)
        runner = RUNNERS[state.type]
    run = _enter(ex, state, raw, frame)
    try:
        output, next_name, assigned = await runner(run)
    except StatesError as err:
        output, next_name, assigned = _caught(run, err)
    except BaseException as exc:
        kind = state.type
        if kind in ABORTABLE and isinstance(exc, anyio.get_cancelled_exc_class()) and ex.aborting_branches():
            # a sibling branch / iteration failed: AWS records the states it stopped (the event
            # has no details in AWS's model), once the failing container has its failure
            frame.leave_aborted(f"{kind}StateAborted")
        raise
    return _leave(ex, run, output, next_name, assigned)


def _enter(ex: Any, state: Any, raw: Any, frame: Frame) -> StateRun:
    """<T>StateEntered: the state's run begins (unless the execution must end at its next
    transition: its state machine was deleted)."""
    if ex.ending is not None:
        end_if_deleted(ex, frame)
    ex.transitions += 1
    if ex.append_only:  # `ex.emit`, inlined: it runs twice per state
        events = ex.history._events
        if len(events) >= ex.history.room:
            raise HistoryLimitExceeded(ex.history.limit)
        seq = frame.seq = frame.seq + 1
        now = ex.clock.now()
        details = (state.name, "input", raw, None)
        if ex.spelled is not None:  # (the caller's text of an input carried unchanged: `emit`)
            details = spelled_details(details, ex.spelled)
        events.append((_ENTERED[state.type], frame.last, now, details, (frame.key, seq)))
        entered = frame.last = len(events)
    else:
        entered = ex.emit(frame, _ENTERED[state.type], (state.name, "input", raw, None))
        now = ex.history.timestamp(entered)
    run = StateRun(ex, state, frame, entered, now, raw)
    if ex.observer is not None:
        run.tell(StateEntered)
    return run


def _caught(run: StateRun, err: StatesError) -> Result:
    """A failed state's Catch (the error, located, raised again when no catcher takes it)."""
    err = locate(err, run)
    caught = catch(run, err)
    if caught is None:
        if run.ex.observer is not None:
            run.tell(StateFailed, err)
        raise err
    return caught


def _leave(ex: Any, run: StateRun, output: Any, next_name: str | None, assigned: dict | None) -> \
        tuple[Any, str | None]:
    """Output checks, the variables assigned, <T>StateExited; returns (output, next state)."""
    state = run.state
    kind = state.type
    if not ex.append_only and ex.redrive_count and kind != "Fail":
        output, assigned = _as_recorded(ex, run, output, assigned)
    ex.check_size(output, run.name)
    if assigned:
        frame = run.frame
        try:
            ex.check_variables(assigned, frame.variables, run.name)
        except StatesError as err:
            # AWS records the refused Assign as EvaluationFailed after the state's last event,
            # the cause as it is, then fails the execution (raw AWS capture, radkawar/stackd
            # testdata/aws/stepfunctions/variable_limits.json "total-over-10m-final-history")
            run.event("EvaluationFailed", {"error": err.error, "cause": err.cause, "location": "Assign",
                                           "state": run.name})
            raise
        frame.variables.update(assigned)
    if kind != "Fail":
        frame = run.frame
        if ex.append_only:  # `ex.emit`, inlined as in `_enter`
            events = ex.history._events
            if len(events) >= ex.history.room:
                raise HistoryLimitExceeded(ex.history.limit)
            seq = frame.seq = frame.seq + 1
            details = (run.name, "output", output, assigned)
            if ex.spelled is not None:
                details = spelled_details(details, ex.spelled)
            events.append((_EXITED[kind], frame.last, ex.clock.now(), details, (frame.key, seq)))
            frame.last = len(events)
        else:
            ex.emit(run.frame, _EXITED[kind], (run.name, "output", output, assigned))
    if next_name is None and kind not in ("Succeed", "Fail") and not state.end:
        next_name = state.next
    if ex.observer is not None:
        run.tell(StateExited, output, next_name)
    return output, next_name


def _as_recorded(ex: Any, run: StateRun, output: Any, assigned: dict | None) -> tuple[Any, dict | None]:
    """A redriven execution's state that left in an earlier attempt leaves as it did then: its
    recorded output and variables, not what it computes again with ``$$`` as it is now (raw AWS
    capture, radkawar/stackd testdata/aws/stepfunctions/redrive_map.json, standard:terminal: after
    two redrives the parent's first Pass state's ``$$.Execution`` still has RedriveCount 0, as has
    the BeforeTask Pass of a child its Map Run redrove)."""
    recorded = ex.recorded_next(run.frame)
    if recorded is None or recorded[0] != _EXITED[run.state.type]:
        return output, assigned
    details = recorded[1]
    if not isinstance(details, dict) or details.get("name") != run.name or "output" not in details:
        return output, assigned
    return details["output"], details.get("assignedVariables", assigned)


# --------------------------------------------------------------------------------------------
# Runners: Pass, Succeed, Fail, Choice, Wait
# --------------------------------------------------------------------------------------------

def run_pass(run: StateRun) -> Result:
    state = run.state
    if state.is_jsonata:
        output, assigned = run.jsonata_output(_NO_RESULT, run.raw)
        return output, None, assigned
    if run.ex.observer is not None:
        return _observed_pass(run)
    # the default paths ("$") inline: what `effective_input`, `result_path` and `output_path` do
    effective = run.raw if state.input_path is _DOLLAR else run.effective_input()
    if state.result is not UNSET:
        result = state.result
    elif state.parameters is not None:
        result = state.parameters.evaluate(StateScope(effective, run))
    else:
        result = effective
    assigned = run.assign(state.assign, StateScope(result, run)) if state.assign is not None else None
    placed = result if state.result_path is _DOLLAR else run.result_path(result)
    return placed if state.output_path is _DOLLAR else run.output_path(placed), None, assigned


def _observed_pass(run: StateRun) -> Result:
    """`run_pass` of a JSONPath Pass state, telling the observer each data-flow stage."""
    state = run.state
    effective = run.effective_input()
    if state.result is not UNSET:
        result = state.result
    elif state.parameters is not None:
        result = run.note("afterParameters", state.parameters.evaluate(run.scope(effective)))
    else:
        result = effective
    assigned = run.assign(state.assign, run.scope(result)) if state.assign is not None else None
    run.note("result", result)
    placed = run.result_path(result)
    run.note("afterResultPath", placed)
    return run.output_path(placed), None, assigned


def run_succeed(run: StateRun) -> Result:
    if run.state.is_jsonata:
        output, _ = run.jsonata_output(_NO_RESULT, run.raw)
        return output, None, None
    return run.output_path(run.effective_input()), None, None


def run_fail(run: StateRun) -> Result:
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


def run_choice(run: StateRun) -> Result:
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
            raise no_choice_matched()
        output = state.output.evaluate(scope) if state.output else run.raw
        return output, state.default, run.assign(state.assign, scope)
    ex = run.ex
    observed = ex.observer is not None
    effective = run.raw if state.input_path is _DOLLAR and not observed else run.effective_input()
    scope = StateScope(effective, run)
    output = effective if state.output_path is _DOLLAR else None
    for rule, predicate in ex.compiled_choices(state):
        if predicate(scope):
            if observed:
                ex.observe_choice(run, rule)
            return output if output is not None else run.output_path(effective), rule.next, \
                run.assign(rule.assign, scope) if rule.assign is not None else None
    if state.default is None:
        raise no_choice_matched()
    return output if output is not None else run.output_path(effective), state.default, \
        run.assign(state.assign, scope) if state.assign is not None else None


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
        if isinstance(value, str) and _LONG_TEXT.fullmatch(value):
            # AWS reads a whole number written as text as that number, and waits (raw AWS
            # capture, radkawar/stackd testdata/aws/stepfunctions/dataflow_execution.json
            # "history-wait-type-error": {"seconds": "1"} waits a second and succeeds)
            value = int(value)
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
                jsonata = isinstance(state.timestamp, Template)
                # a JSONata expression's failure is located at its field in EvaluationFailed
                raise StatesError("States.QueryEvaluationError" if jsonata else "States.Runtime",
                                  "The Timestamp field cannot be parsed as an ISO-8601 extended offset "
                                  f"date-time format string: {value if isinstance(value, str) else dumps(value)}",
                                  field="Timestamp" if jsonata else None)
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
        end_if_deleted(run.ex, run.frame)  # deleted meanwhile: no WaitStateExited (AWS)
    return output, None, assigned


def _java_text(value: Any) -> str:
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    return dumps(value) if not isinstance(value, str) else value


# the runners that never wait: `run_block` and `run_state` call them without a coroutine
SYNC_RUNNERS: dict[str, Callable[[StateRun], Result]] = {
    "Pass": run_pass, "Succeed": run_succeed, "Fail": run_fail, "Choice": run_choice}


RUNNERS: dict[str, Callable[[StateRun], Awaitable[Result]]] = {
    "Wait": run_wait, "Task": run_task, "Parallel": run_parallel, "Map": run_map}
