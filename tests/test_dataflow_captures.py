"""Inline Map context and Wait's SecondsPath against raw AWS captures: radkawar/stackd,
testdata/aws/stepfunctions/dataflow_execution.json (us-west-2, Standard executions; each test
names the observation's label)."""
from __future__ import annotations

import json

import asl
from asl.engine import run_sync
from asl.engine.clock import VirtualClock


def inline_map(selector: dict) -> asl.StateMachine:
    return asl.load({"StartAt": "SequentialMap", "States": {"SequentialMap": {
        "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1, "ItemSelector": selector,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Done",
                          "States": {"Done": {"Type": "Succeed"}}}, "End": True}}})


def test_an_inline_map_item_has_no_source():
    # history-sequential-map: the ItemSelector reading $$.Map.Item.Source fails the execution
    # after MapStateStarted, with the context (no Source) in the cause, and no iteration event
    items = [{"value": 1, "delay": 0}, {"value": 2, "delay": 0}]
    machine = inline_map({"index.$": "$$.Map.Item.Index", "item.$": "$$.Map.Item.Value",
                          "source.$": "$$.Map.Item.Source"})
    result = run_sync(machine, {"items": items}, clock=VirtualClock(), name="sequential-map")
    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    head, _, context = result.cause.partition(" could not be found in the input '")
    assert head == ("An error occurred while executing the state 'SequentialMap' (entered at the event id #2). "
                    "The JSONPath '$$.Map.Item.Source' specified for the field 'source.$'")
    assert json.loads(context[:-1])["Map"] == {"Item": {"Index": 0, "Value": {"value": 1, "delay": 0}}}
    events = [(e["id"], e["previousEventId"], e["type"]) for e in result.history.events]
    assert events == [(1, 0, "ExecutionStarted"), (2, 0, "MapStateEntered"), (3, 2, "MapStateStarted"),
                      (4, 3, "ExecutionFailed")]
    assert result.history.events[2]["mapStateStartedEventDetails"] == {"length": 2}


def test_an_inline_map_item_has_index_and_value():
    # history-sequential-map-positive (the followup without Source)
    machine = inline_map({"index.$": "$$.Map.Item.Index", "item.$": "$$.Map.Item.Value"})
    assert run_sync(machine, {"items": ["a", "b"]}).output == [{"index": 0, "item": "a"}, {"index": 1, "item": "b"}]


def test_seconds_path_reads_a_whole_number_written_as_text():
    # history-wait-type-error: {"seconds": "1"} waits one second and succeeds
    machine = asl.load({"StartAt": "WaitValue", "States": {
        "WaitValue": {"Type": "Wait", "SecondsPath": "$.seconds", "Next": "Done"}, "Done": {"Type": "Succeed"}}})
    result = run_sync(machine, {"seconds": "1"}, clock=VirtualClock())
    assert result.status == "SUCCEEDED"
    entered, exited = result.history.events[1], result.history.events[2]
    assert (entered["type"], exited["type"]) == ("WaitStateEntered", "WaitStateExited")
    assert result.stop_time - result.start_time == 1.0
