"""AWS's quotas on one execution: maximum duration (Standard one year, Express five minutes)."""
from __future__ import annotations

import asl
from asl.engine import execution as execution_module
from asl.engine import run_sync
from asl.engine.clock import VirtualClock

YEAR = 365 * 24 * 3600


def waiting(seconds, **top):
    return asl.load({"StartAt": "W", **top, "States": {"W": {"Type": "Wait", "Seconds": seconds, "End": True}}})


def assert_timed_out_at(result, seconds):
    assert result.status == "TIMED_OUT" and result.error == "States.Timeout" and result.cause is None
    assert result.stop_time - result.start_time == seconds
    last = result.events[-1]
    # AWS: error States.Timeout, no cause, linked to no earlier event
    assert last["type"] == "ExecutionTimedOut" and last["previousEventId"] == 0
    assert last["executionTimedOutEventDetails"] == {"error": "States.Timeout"}


def test_a_standard_execution_ends_after_one_year_in_virtual_time():
    result = run_sync(waiting(3 * YEAR), {}, clock=VirtualClock(start=0))
    assert_timed_out_at(result, YEAR)
    assert run_sync(waiting(YEAR - 1), {}, clock=VirtualClock(start=0)).status == "SUCCEEDED"


def test_timeout_seconds_beyond_the_maximum_is_capped():
    result = run_sync(waiting(3 * YEAR, TimeoutSeconds=99_999_999), {}, clock=VirtualClock(start=0))
    assert_timed_out_at(result, YEAR)
    result = run_sync(waiting(3600, TimeoutSeconds=1000), {}, type="EXPRESS", clock=VirtualClock(start=0))
    assert_timed_out_at(result, 300)


def test_a_shorter_timeout_seconds_still_wins():
    result = run_sync(waiting(3600, TimeoutSeconds=60), {}, type="EXPRESS", clock=VirtualClock(start=0))
    assert_timed_out_at(result, 60)


def test_the_maximum_duration_applies_in_real_time(monkeypatch):
    monkeypatch.setattr(execution_module, "STANDARD_MAX_SECONDS", 0.2)
    monkeypatch.setattr(execution_module, "EXPRESS_MAX_SECONDS", 0.1)
    for machine_type in ("STANDARD", "EXPRESS"):
        result = run_sync(waiting(30), {}, virtual_time=False, type=machine_type)
        assert result.status == "TIMED_OUT" and result.events[-1]["type"] == "ExecutionTimedOut"
        assert [e["type"] for e in result.events] == ["ExecutionStarted", "WaitStateEntered", "ExecutionTimedOut"]


def test_a_handler_awaiting_real_io_under_virtual_time_does_not_reach_the_maximum():
    import anyio

    machine = asl.load({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:slow", "End": True}}})

    async def slow(payload):
        await anyio.sleep(0.05)   # real time, outside the virtual clock
        return "done"

    for machine_type in ("STANDARD", "EXPRESS"):
        result = run_sync(machine, {}, handlers={"slow": slow}, type=machine_type)
        assert result.status == "SUCCEEDED" and result.output == "done"


# ---- nesting depth (engine limit: payload.MAX_DEPTH) ---------------------------------------

import json  # noqa: E402

import anyio  # noqa: E402
import pytest  # noqa: E402

from asl.engine import InvalidExecutionInput, prepare  # noqa: E402
from asl.engine.payload import MAX_DEPTH, PayloadMeter, depth  # noqa: E402

LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:"


def nest(levels, leaf=1):
    value = leaf
    for _ in range(levels):
        value = {"inner": value}
    return value


NESTING_LOOP = asl.load({"StartAt": "Nest", "States": {
    "Nest": {"Type": "Pass", "Parameters": {"inner.$": "$", "more": True}, "Next": "Again"},
    "Again": {"Type": "Choice", "Choices": [{"Variable": "$.more", "IsPresent": True, "Next": "Nest"}],
              "Default": "Done"},
    "Done": {"Type": "Succeed"}}})


def assert_too_deep(result, who, levels):
    assert result.status == "FAILED" and result.error == "States.Runtime", (result.error, result.cause)
    assert result.cause == (f"The state/task '{who}' returned a result nested {levels} levels deep, more than the "
                            f"maximum of {MAX_DEPTH}.")
    json.dumps(result.events)   # the whole history still serialises


@pytest.mark.parametrize("padding", [0, 100_000])   # small documents, and large ones (walked, remembered)
def test_a_loop_that_nests_its_payload_fails_at_the_limit_with_a_clear_error(padding):
    result = run_sync(NESTING_LOOP, {"pad": "x" * padding})
    assert_too_deep(result, "Nest", MAX_DEPTH + 1)
    outputs = [e for e in result.events if e["type"] == "PassStateExited"]
    assert depth(json.loads(outputs[-1]["stateExitedEventDetails"]["output"])) == MAX_DEPTH


def test_execution_input_deeper_than_the_limit_is_refused():
    machine = asl.load({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    assert run_sync(machine, nest(MAX_DEPTH - 1)).output == nest(MAX_DEPTH - 1)
    for levels in (MAX_DEPTH + 1, 50_000):
        with pytest.raises(InvalidExecutionInput, match="nested"):
            run_sync(machine, nest(levels))


def test_a_handler_result_deeper_than_the_limit_fails_the_execution_uncaught():
    machine = asl.load({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": LAMBDA + "deep", "End": True,
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]},
        "Caught": {"Type": "Succeed"}}})
    result = run_sync(machine, {}, handlers={"deep": lambda _: nest(MAX_DEPTH + 1)})
    assert_too_deep(result, LAMBDA + "deep", MAX_DEPTH + 1)
    # deeper than a copy can go: the function's response cannot be marshalled, as a Lambda's
    result = run_sync(machine, {}, handlers={"deep": lambda _: nest(50_000)})
    assert result.status == "SUCCEEDED"
    caught = next(e for e in result.events if e["type"] == "LambdaFunctionFailed")
    assert caught["lambdaFunctionFailedEventDetails"]["error"] == "Runtime.MarshalError"


def test_a_callback_output_deeper_than_the_limit_fails_the_execution():
    machine = asl.load({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": "ask", "Payload.$": "$$.Task.Token"}, "End": True}}})

    async def main(levels):
        execution = prepare(machine, {}, handlers={
            "ask": lambda token: execution.send_task_success(token, nest(levels)) or {}})
        return await execution.run()

    assert_too_deep(anyio.run(main, MAX_DEPTH + 1), "lambda", MAX_DEPTH + 1)
    # 20,000 levels (still under 256 KiB) is not JSON anyone parses: SendTaskSuccess answers
    # InvalidOutput to its caller (here the handler, whose failure fails the task)
    result = anyio.run(main, 20_000)
    assert (result.status, result.error) == ("FAILED", "InvalidOutput")


def test_a_variable_deeper_than_the_limit_fails_the_state():
    machine = asl.load({"QueryLanguage": "JSONata", "StartAt": "P", "States": {
        "P": {"Type": "Pass", "Assign": {"x": "{% $parse($states.input.s) %}"}, "End": True}}})
    assert run_sync(machine, {"s": "[" * MAX_DEPTH + "]" * MAX_DEPTH}).status == "SUCCEEDED"
    result = run_sync(machine, {"s": "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)})
    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert result.cause == f"The variable 'x' assigned by the state 'P' is nested {MAX_DEPTH + 1} levels deep, " \
                           f"more than the maximum of {MAX_DEPTH}."


def test_the_meter_measures_any_depth_without_recursion():
    meter = PayloadMeter()
    deep = nest(100_000)
    assert meter.size(deep) == 100_000 * len('{"inner":}') + 1
    assert depth(deep) == 100_000 and depth([]) == 1 and depth("s") == 0


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from asl import deepjson  # noqa: E402

_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
                     | st.text(), lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner), max_leaves=20)


@settings(max_examples=200, deadline=None)
@given(_JSON, st.booleans())
def test_the_deep_json_reader_reads_what_json_reads(value, spaced):
    text = json.dumps(value, indent=1 if spaced else None)
    assert deepjson._parse(text) == json.loads(text)


def test_the_deep_json_reader_takes_any_depth_and_refuses_bad_text():
    text = '{"a":' * 50_000 + "[]" + "}" * 50_000
    assert depth(deepjson.loads(text)) == 50_001
    for bad in ("[1,]", '{"a" 1}', "[1 2]", "tru", "[1]]", '{"a":1,}', ""):
        with pytest.raises(ValueError):
            deepjson._parse(bad)


def test_a_mocked_response_too_deep_to_copy_is_refused_when_read():
    from asl.engine import MockConfigError

    machine = asl.load({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": LAMBDA + "f", "End": True}}})
    config = {"StateMachines": {"SM": {"TestCases": {"C": {"T": "R"}}}},
              "MockedResponses": {"R": {"0": {"Return": nest(50_000)}}}}
    with pytest.raises(MockConfigError, match="R.0.Return is not JSON: .*nested too deeply"):
        run_sync(machine, {}, mock_config=config, test_case="C", state_machine_name="SM")


def test_a_timed_out_history_still_names_the_state_that_was_running():
    from asl.histories import Timeline

    machine = asl.load({"StartAt": "P", "TimeoutSeconds": 10, "States": {
        "P": {"Type": "Pass", "Next": "W"}, "W": {"Type": "Wait", "Seconds": 60, "End": True}}})
    failure = Timeline(run_sync(machine, {}).events).failure
    assert (failure.state, failure.error) == ("W", "States.Timeout")
    assert [step.name for step in failure.path] == ["P", "W"]


def test_intrinsics_work_on_documents_as_deep_as_the_limit():
    document = nest(MAX_DEPTH - 3, leaf={"x": 7.5})   # States.Array($) adds a level
    machine = asl.load({"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {
        "text.$": "States.JsonToString($)", "format.$": "States.Format('{}', $)",
        "contains.$": "States.ArrayContains(States.Array($), $)",
        "unique.$": "States.ArrayLength(States.ArrayUnique(States.Array($, $)))"}, "End": True}}})
    result = run_sync(machine, document)
    assert result.status == "SUCCEEDED", result.cause
    assert json.loads(result.output["text"]) == document
    assert result.output["format"].startswith("{inner={inner=") and result.output["format"].endswith("{x=7.5}" + "}" * (MAX_DEPTH - 3))
    assert result.output["contains"] is True and result.output["unique"] == 1
