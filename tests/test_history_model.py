"""Every history event the engine writes has only the keys, and the types, that AWS's API
model (botocore's Step Functions service-2 model) defines for HistoryEvent, recursively
through the details shapes. Run over the samples, every conformance case, and machines that
reach the rarer events (timeouts, aborts, callbacks, Map Runs, evaluation failures)."""
from __future__ import annotations

from typing import Any

import pytest

import asl
from asl.engine import TaskFailed, prepare, run_sync
from conformance_runner import mock_config
from conftest import SAMPLES, conformance_cases
from samples_support import sample_handlers, sample_input

from botocore import loaders as botocore_loaders   # a test dependency: AWS's API models

_SHAPES = botocore_loaders.Loader().load_service_model("stepfunctions", "service-2")["shapes"]
_SCALARS = {"string": str, "integer": int, "long": int, "boolean": bool, "double": (int, float),
            "float": (int, float), "timestamp": str}   # timestamps as ISO text, as the AWS CLI prints them


def problems(value: Any, shape_name: str, where: str) -> list[str]:
    shape = _SHAPES[shape_name]
    kind = shape["type"]
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{where}: {type(value).__name__}, expected an object ({shape_name})"]
        found = []
        for key, item in value.items():
            member = shape["members"].get(key)
            if member is None:
                found.append(f"{where}.{key}: not a member of {shape_name}")
            else:
                found += problems(item, member["shape"], f"{where}.{key}")
        found += [f"{where}.{key}: required by {shape_name}, missing" for key in shape.get("required", ())
                  if key not in value]
        return found
    if kind == "list":
        if not isinstance(value, list):
            return [f"{where}: {type(value).__name__}, expected a list ({shape_name})"]
        return [p for i, item in enumerate(value) for p in problems(item, shape["member"]["shape"], f"{where}[{i}]")]
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{where}: {type(value).__name__}, expected a map ({shape_name})"]
        return [p for key, item in value.items() for p in problems(item, shape["value"]["shape"], f"{where}.{key}")]
    expected = _SCALARS[kind]
    if not isinstance(value, expected) or (kind != "boolean" and isinstance(value, bool)):
        return [f"{where}: {value!r} is not a {kind} ({shape_name})"]
    if kind == "string" and "enum" in shape and value not in shape["enum"]:
        return [f"{where}: {value!r} is not one of {shape_name}'s values"]
    return []


def check(result) -> None:
    found = [p for event in result.events for p in problems(event, "HistoryEvent", f"event {event['id']}")]
    assert not found, "\n".join(found[:20])


def _case_id(case: dict) -> str:
    return case["_file"]


CASES = [c for c in conformance_cases() if c["expected"]["status"] != "INVALID_DEFINITION"]


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_conformance_case_histories_match_the_model(case):
    config = mock_config(case)
    machine = asl.load(case["definition"], type=case.get("type", "STANDARD"))
    check(run_sync(machine, case.get("input"), mock_config=config, test_case="Recorded" if config else None,
                   state_machine_name="Case", type=case.get("type", "STANDARD"), check_handlers=False))


@pytest.mark.parametrize("sample, definition, inputs", [
    ("order", "order.json", ["input.json", "input-declined.json", "input-empty.json"]),
    ("order-jsonata", "order.json", ["input.json", "input-declined.json", "input-empty.json"]),
    ("batch", "batch.json", ["input.json", "input-too-many.json"]),
    ("upload", "upload.json", ["input.json", "input-missing.json", "input-not-csv.json"]),
    ("shipping", "shipping.json", ["input.json"]),
])
def test_sample_histories_match_the_model(sample, definition, inputs):
    owner = "order" if sample == "order-jsonata" else sample
    machine = asl.load(SAMPLES / sample / definition)
    for name in inputs:
        check(run_sync(machine, sample_input(owner, name), handlers=sample_handlers(owner)))


LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:"


def _machine(states: dict, **top: Any):
    return asl.load({"StartAt": next(iter(states)), "States": states, **top})


def test_rarer_events_match_the_model():
    def fail(_):
        raise TaskFailed("Boom", "it broke")

    handlers = {"fail": fail, "ok": lambda p: p, "never": lambda p: None}
    machines = [
        # a failing branch aborts its siblings: TaskStateAborted, WaitStateAborted, ...
        _machine({"P": {"Type": "Parallel", "End": True, "Branches": [
            {"StartAt": "F", "States": {"F": {"Type": "Task", "Resource": LAMBDA + "fail", "End": True}}},
            {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 5, "End": True}}},
            {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke"
                                               ".waitForTaskToken", "Parameters": {"FunctionName": "never",
                                                                                     "Payload.$": "$$.Task.Token"},
                                               "End": True}}},
            {"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.items", "End": True,
                                               "ItemProcessor": {"StartAt": "MW", "States": {
                                                   "MW": {"Type": "Wait", "Seconds": 5, "End": True}}}}}}]}}),
        # task timeout and heartbeat, caught; then the execution's own timeout
        _machine({"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                        "Parameters": {"FunctionName": "never", "Payload.$": "$$.Task.Token"},
                        "TimeoutSeconds": 5, "HeartbeatSeconds": 2, "Catch": [
                            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "W"}], "Next": "W"},
                  "W": {"Type": "Wait", "Seconds": 100, "End": True}}, TimeoutSeconds=50),
        # a legacy Lambda timeout, retried; a Distributed Map Run
        _machine({"L": {"Type": "Task", "Resource": LAMBDA + "ok", "TimeoutSeconds": 1,
                        "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 1}], "Next": "D"},
                  "D": {"Type": "Map", "ItemsPath": "$.items", "ToleratedFailurePercentage": 50, "End": True,
                        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                                          "StartAt": "X", "States": {"X": {"Type": "Task", "Resource": LAMBDA + "fail",
                                                                            "End": True}}}}}),
        # a JSONata evaluation failure, with Assign and variables
        asl.load({"QueryLanguage": "JSONata", "StartAt": "A", "States": {
            "A": {"Type": "Pass", "Assign": {"x": 1}, "Next": "B"},
            "B": {"Type": "Pass", "Output": "{% $x.nope.nope %}", "End": True}}}),
    ]
    for machine in machines:
        check(run_sync(machine, {"items": [1, 2]}, handlers=handlers))


def test_a_stopped_execution_matches_the_model():
    machine = _machine({"W": {"Type": "Wait", "Seconds": 60, "End": True}})

    from support.stopping import run_then_stop

    result = run_then_stop(prepare(machine, {}, virtual_time=False), 0.05, "Stopped", "by the test")
    assert result.status == "ABORTED"
    check(result)
