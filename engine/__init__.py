"""asl.engine: run state machines locally, with Python handlers and mocks.

    import asl
    from asl.engine import Handlers, run_sync

    handlers = Handlers()

    @handlers.lambda_function("ValidateOrder")
    def validate(order):
        return {"valid": True}

    result = run_sync(asl.load("order.json"), {"orderId": "1"}, handlers=handlers)
    result.status, result.output, result.history.events

`run` is the async form (anyio). `test_state` / `test_state_sync` run one state alone, as AWS's
TestState API does (see `asl.engine.teststate`). Virtual time is the default: Waits and retry intervals
take no real time while every timestamp advances as if they had.
"""
from __future__ import annotations

from typing import Any

from .observe import Observer
from .tasks import Handlers, MockConfig, MockConfigError, TaskContext, TaskFailed
from .starting import (InvalidExecutionInput, MissingHandlerError, _mocks, missing_handlers, prepare, run,  # noqa: F401
                       run_sync, unserved)
from .resuming import (MAX_OPEN, REDRIVE_EVENT_LIMIT, REDRIVE_PERIOD, ExecutionNotRedrivable, LeaseHeld,  # noqa: F401
                       NotResumable, prepare_redrive, prepare_resume, redrive, resume)

__all__ = ["run", "run_sync", "Observer", "Handlers", "TaskFailed", "TaskContext", "MockConfig", "MockConfigError",
           "MissingHandlerError", "InvalidExecutionInput", "ExecutionResult", "Execution", "prepare",
           "test_state", "test_state_sync", "TestStateMock", "TestStateResult", "TestStateError",
           "resume", "prepare_resume", "NotResumable", "redrive", "prepare_redrive", "ExecutionNotRedrivable",
           "LeaseHeld"]


def __getattr__(name: str) -> Any:
    if name in ("ExecutionResult", "Execution"):
        from . import execution
        return getattr(execution, name)
    if name in ("test_state", "test_state_sync", "TestStateMock", "TestStateResult", "TestStateError"):
        from . import teststate
        return getattr(teststate, name)
    raise AttributeError(f"module 'asl.engine' has no attribute {name!r}")
