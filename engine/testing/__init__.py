"""asl.engine.testing: unit tests for state machines, with a pytest plugin.

    from asl.engine.testing import Workflow, by_attempt, raises

    workflow = Workflow("samples/order/order.json")          # loaded and compiled once
    run = workflow.run({"orderId": "1", ...}, mocks={
        "ValidateOrder": {"valid": True},
        "ProcessPayment": by_attempt(raises("ConnectionError"), {"status": "PAID"}),
    })
    run.assert_succeeded().assert_path(["ValidateOrder", "ProcessPayment", ...])
    run.state("ProcessPayment").attempts                       # 2

In pytest the `asl_workflow` and `asl_snapshot` fixtures and the ``--asl-coverage`` option
come with the plugin (`asl.engine.testing.plugin`, registered as a ``pytest11`` entry point).

This lives in the engine layer, not in `asl` itself: the language layer never imports the
engine, and running a workflow needs the engine.

Names are imported on first use, so loading the pytest plugin costs next to nothing.
"""
from __future__ import annotations

from importlib import import_module
from typing import Any

_WHERE = {
    "Workflow": "workflow", "WorkflowTestError": "results", "UnknownStateError": "results",
    "WorkflowRun": "results", "StatePath": "results",
    "StateVisit": "recorder", "Call": "recorder", "Retried": "recorder",
    "StateTestResult": "state",
    "Mock": "mocks", "MockError": "mocks", "returns": "mocks", "raises": "mocks", "sequence": "mocks",
    "by_attempt": "mocks", "when": "mocks", "per_iteration": "mocks", "per_branch": "mocks",
    "assert_history_matches": "snapshot",
    "Coverage": "coverage",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'asl.engine.testing' has no attribute {name!r}")
    # Not cached here: import_module always answers with the module in sys.modules now (pytester's
    # in-process runs drop and re-import modules; a cached name would belong to the old copy).
    return getattr(import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
