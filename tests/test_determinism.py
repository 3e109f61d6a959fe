"""One random source per execution: the same seed gives the same ids and random values."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import asl
from asl.engine import run_sync
from asl.engine.clock import VirtualClock

MACHINE = {
    "StartAt": "Invoke",
    "States": {
        "Invoke": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                   "Parameters": {"FunctionName": "f", "Payload": {}}, "ResultPath": "$.invoke", "Next": "Token"},
        "Token": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                  "Parameters": {"FunctionName": "token", "Payload": {"token.$": "$$.Task.Token"}},
                  "TimeoutSeconds": 1, "ResultPath": None,
                  "Catch": [{"ErrorEquals": ["States.Timeout"], "ResultPath": None, "Next": "Ids"}], "End": True},
        "Ids": {"Type": "Pass", "Parameters": {"id.$": "$$.Execution.Id", "name.$": "$$.Execution.Name",
                                               "uuid.$": "States.UUID()", "random.$": "States.MathRandom(0, 1000000)"},
                "ResultPath": "$.ids", "Next": "Jsonata"},
        "Jsonata": {"Type": "Pass", "QueryLanguage": "JSONata",
                    "Output": "{% $merge([$states.input, {'uuid': $uuid(), 'random': $random()}]) %}",
                    "Next": "Fanout"},
        "Fanout": {"Type": "Map", "ItemsPath": "$.items", "ResultPath": "$.mapped",
                   "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                                     "StartAt": "Item", "States": {"Item": {"Type": "Pass", "End": True}}},
                   "End": True},
    },
}


def _run(seed, machine_type="STANDARD"):
    tokens = []

    def token(payload):
        tokens.append(payload["token"])
        return None

    result = run_sync(asl.load(MACHINE), {"items": [1, 2]}, handlers={"f": lambda p: "ok", "token": token},
                      seed=seed, clock=VirtualClock(start=0), type=machine_type)
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    return result, tokens


def test_the_same_seed_gives_the_same_ids_and_draws():
    for machine_type in ("STANDARD", "EXPRESS"):
        first, tokens = _run(7, machine_type)
        again, tokens_again = _run(7, machine_type)
        assert (first.name, first.execution_arn) == (again.name, again.execution_arn)
        assert tokens == tokens_again and len(tokens) == 1
        assert first.output == again.output
        assert first.events == again.events   # MapRunStarted's mapRunArn, every input and output
        other, other_tokens = _run(8, machine_type)
        assert other.name != first.name and other_tokens != tokens
        for key in ("invoke", "ids", "uuid", "random"):
            assert other.output[key] != first.output[key], key


def test_the_seeded_name_is_the_execution_name_in_the_context_object():
    result, _ = _run(7)
    assert result.output["ids"]["name"] == result.name
    assert result.output["ids"]["id"] == result.execution_arn
    request_id = result.output["invoke"]["SdkResponseMetadata"]["RequestId"]
    assert request_id == result.output["invoke"]["SdkHttpMetadata"]["HttpHeaders"]["x-amzn-RequestId"]


def test_without_a_seed_ids_differ():
    assert _run(None)[0].name != _run(None)[0].name


def test_asl_run_seed_gives_the_same_execution_id(tmp_path):
    definition = tmp_path / "m.json"
    definition.write_text(json.dumps({"StartAt": "P", "States": {"P": {
        "Type": "Pass", "Parameters": {"id.$": "$$.Execution.Id", "uuid.$": "States.UUID()"}, "End": True}}}))
    root = os.path.join(os.path.dirname(__file__), "..")

    def run_cli(seed):
        done = subprocess.run([sys.executable, "-m", "asl.cli", "run", str(definition), "--seed", str(seed)],
                              capture_output=True, text=True, cwd=root, timeout=120)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    first = run_cli(3)
    assert first == run_cli(3)
    assert first != run_cli(4)


def test_jsonata_now_reads_the_execution_clock():
    machine = asl.load({"QueryLanguage": "JSONata", "StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 86400, "Next": "P"},
        "P": {"Type": "Pass", "Output": "{% [$now(), $millis()] %}", "End": True}}})
    result = run_sync(machine, {}, clock=VirtualClock(start=0))
    assert result.output == ["1970-01-02T00:00:00.000Z", 86_400_000]


RACE = {
    "StartAt": "Both",
    "States": {
        "Both": {"Type": "Parallel", "End": True, "Branches": [
            {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:a",
                                              "Next": "A2"},
                                        "A2": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:a2",
                                               "End": True}}},
            {"StartAt": "B", "States": {"B": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:b",
                                              "End": True}}},
        ]},
    },
}


def test_thread_timing_never_changes_the_history_under_virtual_time():
    """Sync handlers run in threads; under virtual time their results come back in the order
    the calls were made, so which thread finishes first never reorders the events."""
    import time

    def handler(name, delay):
        def fn(payload):
            time.sleep(delay)
            return name
        return fn

    def run(a_delay, b_delay):
        result = run_sync(asl.load(RACE), {}, seed=1, clock=VirtualClock(start=0),
                          handlers={"a": handler("a", a_delay), "a2": handler("a2", 0), "b": handler("b", b_delay)})
        assert result.status == "SUCCEEDED", (result.error, result.cause)
        return result

    slow_a, slow_b = run(0.05, 0), run(0, 0.05)
    assert slow_a.output == slow_b.output == ["a2", "b"]
    assert [e["type"] for e in slow_a.events] == [e["type"] for e in slow_b.events]
    assert slow_a.events == slow_b.events
