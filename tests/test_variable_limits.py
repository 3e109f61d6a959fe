"""Variable size limits and the history event limit, against raw AWS captures: radkawar/stackd,
testdata/aws/stepfunctions/variable_limits.json (us-west-2, TestState calls and executions of a
Standard state machine; each test names the observation's label)."""
from __future__ import annotations

import json

import anyio
import pytest

import asl
from asl.engine import run_sync, test_state_sync


def pad(count: int) -> str:
    return "{% $pad('', " + str(count) + ", 'x') %}"


def assigning(**values: str) -> dict:
    return {"Type": "Pass", "QueryLanguage": "JSONata", "Assign": values, "Output": {"ok": True}, "End": True}


@pytest.mark.parametrize("count", [262136, 262137, 262142])
def test_one_variable_up_to_262144_json_bytes_is_assigned(count):
    # test-single-assignment-<count>: the string's JSON text, quotes included, is what counts
    result = test_state_sync(assigning(x=pad(count)), input={})
    assert (result.status, result.output) == ("SUCCEEDED", {"ok": True})


@pytest.mark.parametrize("count, size", [(262143, 262145), (262144, 262146)])
def test_one_variable_over_the_limit(count, size):
    result = test_state_sync(assigning(x=pad(count)), input={})
    assert (result.status, result.error) == ("FAILED", "States.DataLimitExceeded")
    assert result.cause == f"Variable size limit exceeded. Variable 'x' in state 'StateName' was assigned {size} bytes."


@pytest.mark.parametrize("count", [131060, 131070])
def test_variables_of_one_state_up_to_262144_bytes_together(count):
    assert test_state_sync(assigning(x=pad(count), y=pad(count)), input={}).status == "SUCCEEDED"


@pytest.mark.parametrize("count, size, over", [(131071, 131073, 2), (131072, 131074, 4)])
def test_the_variable_that_takes_the_state_over_the_limit_is_named(count, size, over):
    # test-combined-assignment-<count>
    result = test_state_sync(assigning(x=pad(count), y=pad(count)), input={})
    assert (result.status, result.error) == ("FAILED", "States.DataLimitExceeded")
    assert result.cause == (f"State total variable size limit exceeded. Variable 'y' in state 'StateName' was "
                            f"assigned {size} bytes, which caused the size of variables assigned in the state to "
                            f"exceed its limit by {over} bytes.")


def test_padding_past_the_bound_fails_before_the_assignment():
    # test-single-assignment-262145
    result = test_state_sync(assigning(x=pad(262145)), input={})
    assert (result.status, result.error) == ("FAILED", "States.QueryEvaluationError")
    assert result.cause == ("The JSONata expression '$pad('', 262145, 'x')' specified for the field 'Assign/x' threw "
                            "an error during evaluation: Expression evaluation memory limit exceeded: Check for "
                            "excessive memory usage")


def workflow(states: dict, start: str) -> asl.StateMachine:
    return asl.load({"QueryLanguage": "JSONata", "TimeoutSeconds": 180, "StartAt": start, "States": states})


def test_variables_of_the_execution_over_10_mib():
    # total-over-10m: 43 states each assign a 250000-character string; the 42nd takes the
    # execution over 10 MiB (42 * 250002 - 10485760 = 14324 bytes), recorded as EvaluationFailed
    # after its PassStateEntered, with the cause as it is, then ExecutionFailed
    states = {f"Assign{i}": {"Type": "Pass", "Assign": {f"v{i}": pad(250000)},
                             "Next": f"Assign{i + 1}" if i < 43 else "Done"} for i in range(1, 44)}
    states["Done"] = {"Type": "Succeed"}
    result = run_sync(workflow(states, "Assign1"), {})
    cause = ("Execution total variable size limit exceeded. State 'Assign42' assigned variables that exceed the "
             "total execution limit by 14324 bytes.")
    assert (result.status, result.error, result.cause) == ("FAILED", "States.DataLimitExceeded", cause)
    last = [(e["id"], e["previousEventId"], e["type"]) for e in result.history.events[-3:]]
    assert last == [(84, 83, "PassStateEntered"), (85, 84, "EvaluationFailed"), (86, 85, "ExecutionFailed")]
    assert result.history.events[-2]["evaluationFailedEventDetails"] == {
        "error": "States.DataLimitExceeded", "cause": cause, "location": "Assign", "state": "Assign42"}


def test_two_large_variables_in_one_scope_are_fine():
    # scope-over-256k: the 256 KiB limit is per Assign, not on what the scope holds
    machine = workflow({
        "One": {"Type": "Pass", "Assign": {"one": pad(200000)}, "Next": "Two"},
        "Two": {"Type": "Pass", "Assign": {"two": pad(200000)}, "Next": "Lengths"},
        "Lengths": {"Type": "Pass", "Output": {"one": "{% $length($one) %}", "two": "{% $length($two) %}",
                                               "sum": "{% $length($one) + $length($two) %}"}, "End": True}}, "One")
    assert run_sync(machine, {}).output == {"one": 200000, "two": 200000, "sum": 400000}


# ---- through the API (asl serve's service, in process) ---------------------------------------

ROLE = "arn:aws:iam::000000000000:role/r"


def api(calls):
    """Runs `calls(answer)` against a fresh in-memory service; answer(action, body) awaits."""
    from asl.engine.stores import open_store
    from asl.service.api import Service

    async def go():
        service = Service(open_store("memory"), region="us-west-2", account="000000000000", wait_scale=0)
        async with service.serving():
            async def answer(action, body):
                return await service.answer(action, body)
            return await calls(answer)
    return anyio.run(go)


async def finished(answer, arn: str) -> dict:
    for _ in range(3000):
        described = await answer("DescribeExecution", {"executionArn": arn})
        if described["status"] != "RUNNING":
            return described
        await anyio.sleep(0.01)
    raise AssertionError("still running")


async def started(answer, definition: dict) -> str:
    machine = await answer("CreateStateMachine", {"name": "m", "definition": json.dumps(definition), "roleArn": ROLE})
    return (await answer("StartExecution", {"stateMachineArn": machine["stateMachineArn"], "input": "{}"}))["executionArn"]


def test_history_without_execution_data_leaves_the_assigned_variables_out():
    # small-history-include-data-true / -false
    definition = {"QueryLanguage": "JSONata", "StartAt": "Assign", "States": {
        "Assign": {"Type": "Pass", "Assign": {"small": {"value": 7, "text": "native"}}, "Next": "Read"},
        "Read": {"Type": "Pass", "Output": "{% $small %}", "End": True}}}

    async def calls(answer):
        arn = await started(answer, definition)
        await finished(answer, arn)
        return [(await answer("GetExecutionHistory", {"executionArn": arn, "includeExecutionData": data}))["events"][2]
                for data in (True, False)]
    full, bare = api(calls)
    assert full["stateExitedEventDetails"] == {
        "name": "Assign", "output": "{}", "outputDetails": {"truncated": False},
        "assignedVariables": {"small": '{"value":7,"text":"native"}'}, "assignedVariablesDetails": {"truncated": False}}
    assert bare["stateExitedEventDetails"] == {"name": "Assign"}


def test_the_history_limit_counts_the_closing_event():
    # history-cap-final-history, cleanup-describe-history-cap: ExecutionFailed is event 25000,
    # after ChoiceStateExited 24999; the execution cannot be redriven
    definition = {"QueryLanguage": "JSONata", "StartAt": "Init", "States": {
        "Init": {"Type": "Pass", "Output": {"n": 0}, "Next": "Increment"},
        "Increment": {"Type": "Pass", "Output": {"n": "{% $states.input.n + 1 %}"}, "Next": "Check"},
        "Check": {"Type": "Choice", "Choices": [{"Condition": "{% $states.input.n < 7000 %}", "Next": "Increment"}],
                  "Default": "Done"},
        "Done": {"Type": "Succeed"}}}

    async def calls(answer):
        arn = await started(answer, definition)
        described = await finished(answer, arn)
        page = await answer("GetExecutionHistory", {"executionArn": arn, "reverseOrder": True, "maxResults": 2})
        return described, page["events"]
    described, (last, before) = api(calls)
    cause = "The execution reached the maximum number of history events (25000)."
    assert {k: described.get(k) for k in ("status", "error", "cause", "redriveStatus", "redriveStatusReason")} == {
        "status": "FAILED", "error": "States.Runtime", "cause": cause, "redriveStatus": "NOT_REDRIVABLE",
        "redriveStatusReason": "Execution has exceeded the maximum history event limit"}
    assert (last["id"], last["previousEventId"], last["type"]) == (25000, 24999, "ExecutionFailed")
    assert last["executionFailedEventDetails"] == {"error": "States.Runtime", "cause": cause}
    assert (before["id"], before["type"], before["stateExitedEventDetails"]["output"]) == \
        (24999, "ChoiceStateExited", '{"n":6249}')
