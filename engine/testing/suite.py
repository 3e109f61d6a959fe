"""Every test case of a MockConfigFile, run and checked against what a cases file expects
(``asl test MOCKCONFIG DEFINITION --cases cases.json``).

A cases file gives, per test case, its input and what to expect (every key optional)::

    {"HappyPath": {"input": {"orderId": "1"}, "expect": {"status": "SUCCEEDED", "output": {...}}},
     "Declined":  {"input": {...}, "expect": {"status": "FAILED", "error": "Order.PaymentDeclined",
                                              "path": ["ValidateOrder", "ProcessPayment", ...]}}}

Expectation keys: ``status``, ``output``, ``error``, ``cause``, ``path`` (top-level state
names). A test case without expectations only runs, and its result is reported. A test case
needs to mock only the Tasks it reaches (as with Step Functions Local); reaching another one
without a handler fails the run with States.Runtime, "No handler or mock for the Task state",
and fails the test case, whatever it expects. So does any run that ends FAILED with
States.Runtime (a JSONPath that finds nothing in the input, ...) unless the case expects that
failure (its error, its cause or the status FAILED): AWS raises it for what a state could not process, and neither Retry nor Catch takes it
(not even States.ALL), so it is never an outcome a machine is designed to reach.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...errors import ASLError
from ..tasks import MockConfig, MockConfigError, no_test_case
from .results import WorkflowRun
from .workflow import Workflow

EXPECT_KEYS = ("status", "output", "error", "cause", "path")
RUNTIME = "States.Runtime"  # AWS: not retriable, not caught by States.ALL (a run that could not go on)


@dataclass
class CaseOutcome:
    """One test case: its run (None if it could not run) and what differed from the expectations."""

    name: str
    run: WorkflowRun | None
    checked: bool
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems


def check_cases(cases: Any) -> None:
    """Raise MockConfigError unless `cases` has the shape the module doc shows."""
    if not isinstance(cases, dict):
        raise MockConfigError("the cases file must be a JSON object: {\"TestCase\": {\"input\": ..., \"expect\": ...}}")
    for name, entry in cases.items():
        if not isinstance(entry, dict) or not set(entry) <= {"input", "expect"}:
            raise MockConfigError(f"cases file: '{name}' must be an object with \"input\" and/or \"expect\"")
        expect = entry.get("expect", {})
        if not isinstance(expect, dict) or not set(expect) <= set(EXPECT_KEYS):
            raise MockConfigError(f"cases file: '{name}'.expect must be an object with keys among "
                                  f"{', '.join(EXPECT_KEYS)}")


def check_case_names(config: MockConfig, machine_name: str, cases: dict | None = None,
                     only: Any = None) -> list[str]:
    """The test cases of `machine_name` in `config`; MockConfigError, with the closest name, for a
    name in `only` or in `cases` that is none of them (a typo, not a case to skip)."""
    known = list((config.state_machines.get(machine_name) or {}).get("TestCases") or {})
    for where, names in (("", only or []), ("the cases file: ", cases or {})):
        for name in names:
            if name not in known:
                raise no_test_case(machine_name, name, known, where)
    return known


def run_cases(workflow: Workflow, config: MockConfig, machine_name: str, cases: dict | None = None,
              input: Any = None, only: list[str] | None = None, handlers: Any = None) -> list[CaseOutcome]:
    """Run the test cases of `machine_name` in `config` (all, or those in `only`) in file order."""
    known = check_case_names(config, machine_name, cases, only)
    outcomes = []
    for name in only or known:
        entry = (cases or {}).get(name, {})
        expect = entry.get("expect") or {}
        try:
            # A test case mocks the states on its path; one that reaches an unmocked Task fails
            # there ("No handler or mock"), rather than refusing to start.
            run = workflow.run(entry.get("input", input), mock_config=config, test_case=name, handlers=handlers,
                               state_machine_name=machine_name, check_handlers=False)
        except (ASLError, MockConfigError) as exc:
            outcomes.append(CaseOutcome(name, None, bool(expect), [str(exc)]))
            continue
        problems = [f"the run reached the Task state '{state}', which the test case does not mock and no "
                    "handler serves" for state in dict.fromkeys(run.result.unserved)]
        problems += expectation_problems(run, expect)
        # (a case that says anything of the failure, its error, its cause or its status, meant it)
        meant = expect.get("error") == RUNTIME or "cause" in expect or expect.get("status") == "FAILED"
        if not problems and run.status == "FAILED" and run.error == RUNTIME and not meant:
            problems.append(f"{RUNTIME}: a state could not process what it was given (no Retry or Catch takes "
                            "that error): does the test case get the input it needs? (A case meant to fail so "
                            f"expects \"error\": \"{RUNTIME}\".)")
        outcomes.append(CaseOutcome(name, run, bool(expect), problems))
    return outcomes


def expectation_problems(run: WorkflowRun, expect: dict) -> list[str]:
    """What in `expect` the run did not meet, one message each (the run's own assertion texts)."""
    checks = {
        "status": run.assert_status,
        "output": run.assert_output,
        "path": run.assert_path,
        "error": lambda value: _same("error", value, run.error),
        "cause": lambda value: _same("cause", value, run.cause),
    }
    problems = []
    for key in EXPECT_KEYS:
        if key in expect:
            try:
                checks[key](expect[key])
            except AssertionError as exc:
                problems.append(str(exc))
    return problems


def _same(what: str, expected: Any, actual: Any) -> None:
    if expected != actual:
        raise AssertionError(f"expected {what} {expected!r}, got {actual!r}")
