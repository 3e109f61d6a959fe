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

from dataclasses import dataclass
from typing import Any

from ..tasks import HandlerInterrupted
from .mocks import MockError, Raises, Returns, to_mock
from .recorder import Call, StateVisit
from .workflow import _DEFAULT, Workflow


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


def whole_state_mock(name: str, kind: str, mock: Any) -> Any:
    """A test mock of a Map or Parallel state as TestState's own, which AWS takes for the state's
    whole result (there is no function for a test mock to stand for): a value, or `raises`."""
    from ..teststate import TestStateMock

    made = to_mock(mock)
    if isinstance(made, Returns) and not made.after:
        return TestStateMock(value=made.value)
    if isinstance(made, Raises) and not made.after:
        return TestStateMock(error=made.error, cause=made.cause)
    raise MockError(f"mock of the {kind} state '{name}': its result (a value) or raises(...), as TestState "
                    f"mocks a {kind} state whole, not {made.describe()}")


async def run_state_alone(workflow: Workflow, name: str, input: Any = None, *, variables: dict | None = None,
                          mock: Any = None, mocks: dict | None = None, handlers: Any = None, retry_count: int = 0,
                          mock_config: Any = _DEFAULT, test_case: str | None = None, inspection_level: str = "DEBUG",
                          context: Any = None, **options: Any) -> StateTestResult:
    """Run state `name` once with `input` and `variables` (see the module doc), through
    `asl.engine.test_state` with the workflow's mocks and handlers and a `Recorder` watching."""
    from ..teststate import TestStateMock, test_state

    workflow.state_model(name)  # an unknown name: UnknownStateError, with the closest name
    mocks = dict(mocks or {})
    request_mock = None
    if isinstance(mock, TestStateMock):
        request_mock = mock  # TestState's own: the service's response, or an error
    elif mock is not None and workflow.types.get(name) in ("Map", "Parallel"):
        request_mock = whole_state_mock(name, workflow.types[name], mock)
    elif mock is not None:
        mocks[name] = mock  # a test-API mock: what the function returns, as in `Workflow.run`
    run_options, session, recorder = workflow.run_options(mocks, handlers, mock_config, test_case, options)
    try:
        result = await test_state(workflow.machine, name, input, inspection_level=inspection_level,
                                  variables=variables, mock=request_mock, context=context, run_nested=True,
                                  require_role=False, state_configuration={"retrierRetryCount": retry_count},
                                  **run_options)
    except HandlerInterrupted:  # a handler raised KeyboardInterrupt: as Execution.run does
        raise KeyboardInterrupt() from None
    workflow.settle(session, recorder, whole=False)
    inspection = dict(result.inspection_data)
    details = inspection.pop("errorDetails", None)
    return StateTestResult(result.status, result.output, result.error, result.cause, result.next_state, inspection,
                           details, recorder.visits[0], workflow.calls_of(result.execution.calls, session))
