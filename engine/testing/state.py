"""Test one state on its own, like AWS's TestState API.

    result = workflow.test_state("ProcessPayment", {"orderId": "1", "total": 12.5},
                                 mock=raises("Payment.Declined", "card refused"))
    result.status        # SUCCEEDED | FAILED | RETRIABLE | CAUGHT_ERROR
    result.next_state    # where the machine would go next
    result.inspection    # input, afterInputPath, afterParameters, result, afterResultSelector, ...

As on AWS, the state runs once: an error that a Retry clause would retry gives RETRIABLE
(``retry_count`` says how many retries were already made, so the last one falls through to
Catch), an error a Catch takes gives CAUGHT_ERROR with the catcher's output and next state.
The state runs inside the real machine's execution context, so ``$$``, variables and
nested Map/Parallel states behave as in a whole run.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from ...errors import StatesError
from .. import MissingHandlerError, unserved
from ..tasks import HandlerInterrupted
from .coverage import nested_blocks
from .recorder import Call, StateVisit
from .workflow import Workflow, WorkflowTestError


@dataclass
class StateTestResult:
    """What `Workflow.test_state` returns (the fields of AWS's TestState response).

    status       SUCCEEDED, FAILED, RETRIABLE or CAUGHT_ERROR
    output       the state's output (SUCCEEDED, CAUGHT_ERROR)
    error, cause the error (FAILED, RETRIABLE, CAUGHT_ERROR)
    next_state   the state that would follow (None at an End, or when it failed)
    inspection   AWS's inspectionData: input, afterInputPath, afterParameters / afterArguments,
                 result, afterResultSelector, afterResultPath, variables
    error_details  ``{"retryIndex", "retryBackoffIntervalSeconds"}`` or ``{"catchIndex"}``
    visit, calls   the recorded `StateVisit` and the `Call`s of mocks and handlers
    """

    status: str
    output: Any
    error: str | None
    cause: str | None
    next_state: str | None
    inspection: dict
    error_details: dict | None
    visit: StateVisit
    calls: list[Call]

    def to_json(self) -> dict:
        """TestState's response fields, values as JSON (AWS sends them as JSON strings)."""
        out: dict[str, Any] = {"status": self.status}
        if self.status in ("SUCCEEDED", "CAUGHT_ERROR"):
            out["output"] = self.output
        if self.error is not None:
            out["error"] = self.error
        if self.cause is not None:
            out["cause"] = self.cause
        if self.next_state is not None:
            out["nextState"] = self.next_state
        inspection = dict(self.inspection)
        if self.error_details:
            inspection["errorDetails"] = self.error_details
        out["inspectionData"] = inspection
        return out


async def run_state_alone(workflow: Workflow, name: str, input: Any = None, *, variables: dict | None = None,
                          mock: Any = None, mocks: dict | None = None, handlers: Any = None, retry_count: int = 0,
                          mock_config: Any = None, test_case: str | None = None, **options: Any) -> StateTestResult:
    """Run state `name` once with `input` and `variables` (see the module doc)."""
    from ..interpreter import Frame, error_matches, retry_delay, run_state  # in the loop, as the engine does

    state = _find(workflow, name)
    mocks = dict(mocks or {})
    if mock is not None:
        mocks[name] = mock
    options["check_handlers"] = False  # only this state's tasks need serving: checked below
    execution, session, recorder = workflow.prepare(input, mocks, handlers, mock_config, test_case, options)
    tasks = [(n, s) for n, s in _subtree(state) if s.type == "Task"]
    missing = unserved(tasks, execution.handlers, execution.mocks)
    if missing:
        raise MissingHandlerError(missing)
    # One attempt, as TestState makes: retries are decided below, not run.
    single = state.model_copy(update={"retry": []}) if getattr(state, "retry", None) else state
    execution.start_time = execution.clock.now()
    raised: StatesError | None = None
    try:
        output, next_name = await run_state(execution, single, {} if input is None else input,
                                            Frame(dict(variables or {}), 0))
    except StatesError as err:
        raised, output, next_name = err, None, None
    except HandlerInterrupted:  # a handler raised KeyboardInterrupt: as Execution.run does
        raise KeyboardInterrupt() from None
    workflow.settle(session, recorder, whole=False)
    visit = recorder.visits[0]
    calls = workflow.calls_of(execution.calls, session)
    exception = raised if raised is not None else visit.exception
    error, cause = (exception.error, exception.cause) if exception is not None else (None, None)
    if raised is None and visit.status != "caught":
        return StateTestResult("SUCCEEDED", output, None, None, next_name, visit.inspection, None, visit, calls)
    for index, retrier in enumerate(getattr(state, "retry", None) or []):
        if error_matches(retrier.error_equals, exception):
            if retry_count < retrier.max_attempts:
                delay = retry_delay(retrier, retry_count, execution.rng)
                return StateTestResult("RETRIABLE", None, error, cause, None, visit.inspection,
                                       {"retryIndex": index, "retryBackoffIntervalSeconds": delay}, visit, calls)
            break
    if raised is None:
        return StateTestResult("CAUGHT_ERROR", output, error, cause, next_name, visit.inspection,
                               {"catchIndex": visit.catcher}, visit, calls)
    return StateTestResult("FAILED", None, error, cause, None, visit.inspection, None, visit, calls)


def _find(workflow: Workflow, name: str) -> Any:
    for _, state_name, state in workflow.machine.iter_states():
        if state_name == name:
            return state
    close = difflib.get_close_matches(name, list(workflow.types), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    raise WorkflowTestError(f"{workflow.name} has no state '{name}'{hint}; its states: {', '.join(workflow.types)}")


def _subtree(state: Any) -> Any:
    """The state and every state nested in it (Parallel branches, Map processor)."""
    yield state.name, state
    for block in nested_blocks(state):
        for name, inner in block.states.items():
            yield from _subtree(inner)
