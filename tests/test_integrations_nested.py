"""``states:startExecution`` Tasks (request-response, ``.sync``, ``.sync:2``, ``.waitForTaskToken``):
the child runs in this engine (``machines=``), in ``asl serve`` (an execution of the service with
its own history), or on a Step Functions endpoint through boto3. Shapes from INTEGRATIONS-SPEC.md
section 3 and causes recorded on AWS (a failed child's DescribeExecution, PascalCased, keys in
alphabetical order, dates in epoch milliseconds)."""
from __future__ import annotations

import json
import re
import time

import anyio
import pytest

import asl
from asl.engine import Handlers, prepare, run, run_sync

CHILD = {"StartAt": "Double", "States": {"Double": {
    "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:double", "End": True}}}
FAILING = {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Boom", "Cause": "bad"}}}
SLOW = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}}
SYNC_KEYS = ["ExecutionArn", "Input", "InputDetails", "Name", "Output", "OutputDetails", "RedriveCount",
             "RedriveStatus", "RedriveStatusReason", "StartDate", "StateMachineArn", "Status", "StopDate"]


def parent(pattern: str, machine: str = "Child", **state) -> dict:
    return {"StartAt": "Start", "States": {"Start": {
        "Type": "Task", "Resource": f"arn:aws:states:::states:startExecution{pattern}",
        "Parameters": {"StateMachineArn": f"arn:aws:states:us-east-1:123456789012:stateMachine:{machine}",
                       "Input": {"n.$": "$.n"}, "Name": "kid"}, "End": True, **state}}}


HANDLERS = Handlers({"double": lambda event: {"n": event["n"] * 2}})
MACHINES = {"Child": asl.load(CHILD), "Failing": asl.load(FAILING), "Slow": asl.load(SLOW)}


def run_parent(pattern: str, machine: str = "Child", **state):
    return run_sync(asl.load(parent(pattern, machine, **state)), {"n": 2}, handlers=HANDLERS, machines=MACHINES)


# ---- in this engine --------------------------------------------------------------------------

def test_request_response_returns_the_arn_start_date_and_metadata():
    result = run_parent("")
    assert result.status == "SUCCEEDED", result.cause
    out = result.output
    assert out["ExecutionArn"] == "arn:aws:states:us-east-1:123456789012:execution:Child:kid"
    assert isinstance(out["StartDate"], int) and out["SdkHttpMetadata"]["HttpStatusCode"] == 200
    assert out["SdkResponseMetadata"]["RequestId"]
    # the headers of AWS's answer, as recorded (conformance/service/sync, test_start_execution_sync)
    headers = out["SdkHttpMetadata"]["AllHttpHeaders"]
    assert list(headers) == ["x-amzn-RequestId", "connection", "Content-Length", "Date", "Content-Type"]
    assert headers["connection"] == ["keep-alive"] and headers["Date"][0].endswith(" GMT")
    assert "TaskSubmitted" not in [e["type"] for e in result.history.events]


def test_a_child_machine_the_run_does_not_have_is_named_with_how_to_give_it():
    for machines in (None, {"Failing": asl.load(FAILING)}):
        result = run_sync(asl.load(parent(".sync:2", "Kid:live#Happy")), {"n": 2}, handlers=HANDLERS,
                          machines=machines)
        assert (result.status, result.error) == ("FAILED", "States.Runtime")
        assert result.cause.startswith("No handler or mock for the Task state 'Start'")
        assert result.cause.endswith(", or run the state machine 'Kid' here (--machine Kid=FILE; "
                                     "machines= in Python).")


def test_input_text_that_is_not_json_is_refused_with_jacksons_message():
    definition = parent("")
    definition["States"]["Start"]["Parameters"]["Input"] = "{'n': 1}"  # passed on as the JSON text it is not
    result = run_sync(asl.load(definition), {"n": 2}, handlers=HANDLERS, machines=MACHINES)
    assert (result.status, result.error) == ("FAILED", "StepFunctions.InvalidExecutionInputException")
    # StartExecution's answer (recorded on AWS: conformance case test_invalid_start_execution_input)
    assert result.cause.startswith("Invalid State Machine Execution Input: 'Unexpected character (''' (code 39)): "
                                   "was expecting double-quote to start field name' (Service: AWSStepFunctions; "
                                   "Status Code: 400; Error Code: InvalidExecutionInput; ")


def test_sync_returns_input_and_output_as_json_text_in_aws_key_order():
    result = run_parent(".sync")
    assert result.status == "SUCCEEDED", result.cause
    out = result.output
    assert list(out) == SYNC_KEYS
    assert out["Input"] == '{"n":2}' and out["Output"] == '{"n":4}' and out["Status"] == "SUCCEEDED"
    assert out["InputDetails"] == {"Included": True} and out["RedriveStatus"] == "NOT_REDRIVABLE"
    assert out["StopDate"] >= out["StartDate"]
    types = [e["type"] for e in result.history.events]
    assert types.index("TaskSubmitted") < types.index("TaskSucceeded")
    submitted = next(e for e in result.history.events if e["type"] == "TaskSubmitted")
    assert json.loads(submitted["taskSubmittedEventDetails"]["output"])["ExecutionArn"] == out["ExecutionArn"]


def test_sync_2_returns_input_and_output_as_json():
    out = run_parent(".sync:2").output
    assert out["Input"] == {"n": 2} and out["Output"] == {"n": 4}


def test_failed_child_fails_the_task_with_its_description_as_cause():
    result = run_parent(".sync", "Failing")
    assert result.status == "FAILED" and result.error == "States.TaskFailed"
    cause = json.loads(result.cause)
    assert list(cause) == sorted(cause)  # recorded on AWS: alphabetical, Cause and Error first
    assert cause["Error"] == "Boom" and cause["Cause"] == "bad" and cause["Status"] == "FAILED"
    assert cause["RedriveStatus"] == "REDRIVABLE" and "Output" not in cause


def test_the_child_has_its_own_history():
    execution = prepare(asl.load(parent(".sync")), {"n": 2}, handlers=HANDLERS, machines=MACHINES)
    anyio.run(execution.run)
    (child,) = execution.executions.children.values()
    types = [e["type"] for e in child.history.events]
    assert types[0] == "ExecutionStarted" and types[-1] == "ExecutionSucceeded"
    assert "LambdaFunctionSucceeded" in types


def _seconds_between(result, first: str, last: str) -> float:
    import datetime

    def at(kind):
        stamp = next(e for e in result.history.events if e["type"] == kind)["timestamp"]
        return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    return at(last) - at(first)


def test_a_sync_child_that_waits_takes_virtual_time_only():
    """Under virtual time a .sync Task waits for its child (and for its token) on the clock's
    books: the child's hour-long Wait passes at once, the Task ends when the child does."""
    result = run_parent(".sync:2", "Slow")
    assert result.status == "SUCCEEDED", result.cause
    assert result.output["Status"] == "SUCCEEDED"
    assert _seconds_between(result, "TaskSubmitted", "TaskSucceeded") >= 3600


def test_a_sync_task_without_heartbeats_times_out_and_stops_its_child():
    """HeartbeatSeconds on a .sync Task: no SendTaskHeartbeat with its token in that time is
    States.Timeout (in virtual time, before the child's hour-long Wait ends), and the child is stopped."""
    execution = prepare(asl.load(parent(".sync", "Slow", HeartbeatSeconds=60)), {"n": 2}, machines=MACHINES)
    result = anyio.run(execution.run)
    assert (result.status, result.error) == ("FAILED", "States.Timeout")
    assert 60 <= _seconds_between(result, "TaskSubmitted", "TaskTimedOut") < 3600
    (child,) = execution.executions.children.values()
    assert child.history.events[-1]["type"] == "ExecutionAborted"


def test_the_name_of_an_ended_child_is_refused():
    first = dict(parent(".sync")["States"]["Start"])
    del first["End"]
    twice = {"StartAt": "A", "States": {
        "A": {**first, "ResultPath": "$.first", "Next": "B"},
        "B": {**parent("")["States"]["Start"]}}}
    result = run_sync(asl.load(twice), {"n": 1}, handlers=HANDLERS, machines=MACHINES)
    assert result.error == "StepFunctions.ExecutionAlreadyExistsException"
    assert "(Service: AWSStepFunctions; Status Code: 400; Error Code: ExecutionAlreadyExists;" in result.cause


def test_stopping_the_parent_stops_a_sync_child():
    async def stop(execution, child):
        await anyio.sleep(0.05)
        execution.stop("Stopped", "by the test")

    execution, _ = _beside_a_slow_child(parent(".sync", "Slow"), stop)
    (child,) = execution.executions.children.values()
    assert execution.result.status == "ABORTED"
    assert child.history.events[-1]["type"] == "ExecutionAborted"
    assert child.history.events[-1]["executionAbortedEventDetails"] == {
        "cause": f"The Task state in AWS Step Functions execution [{execution.arn}] which was managing this "
                 "resource was aborted"}


def _beside_a_slow_child(definition: dict, act):
    """Run `definition` (its Task starts the child Slow, which waits an hour) in real time; once
    the child runs, `act(execution, child)` (awaited if async); the parent (ended) and whether the child still ran
    then (it is stopped at the end). The children belong to an owner of their own, so they can
    outlive the parent's run."""
    from asl.engine.integrations.nested import LocalExecutions

    async def main():
        async with LocalExecutions(MACHINES) as executions, anyio.create_task_group() as tg:
            execution = prepare(asl.load(definition), {"n": 2}, machines=executions, virtual_time=False)

            async def go():
                execution.result = await execution.run()
            tg.start_soon(go)
            while not execution.executions.children:
                await anyio.sleep(0.01)
            (child,) = execution.executions.children.values()
            acted = act(execution, child)
            if acted is not None:
                await acted
            with anyio.fail_after(30):
                while execution.result is None:
                    await anyio.sleep(0.01)
            running = child.result is None
            child.stop()
        return execution, running

    return anyio.run(main)


def test_wait_for_task_token_child_answers_the_parent():
    tokens = []
    definition = parent(".waitForTaskToken")
    definition["States"]["Start"]["Parameters"]["Input"] = {"n.$": "$.n", "token.$": "$$.Task.Token"}

    async def main():
        handlers = Handlers({"double": lambda event: tokens.append(event["token"]) or {}})
        execution = prepare(asl.load(definition), {"n": 2}, handlers=handlers, machines=MACHINES)
        async with anyio.create_task_group() as tg:
            async def go():
                execution.result = await execution.run()
            tg.start_soon(go)
            while not tokens:
                await anyio.sleep(0.01)
            execution.send_task_success(tokens[0], {"answered": True})
        return execution.result

    result = anyio.run(main)
    assert result.status == "SUCCEEDED" and result.output == {"answered": True}


def _token_parent(pattern: str) -> dict:
    definition = parent(pattern, "Slow")
    definition["States"]["Start"]["Parameters"]["Input"] = {"token.$": "$$.Task.Token"}
    return definition


def _answer_a_sync_task(pattern: str, answer):
    """`answer(execution, token)` once the child of a `.sync` Task given $$.Task.Token runs."""
    return _beside_a_slow_child(_token_parent(pattern), lambda ex, child: answer(ex, child.input["token"]))


def test_a_sync_task_has_a_token_that_ends_it_before_its_child():
    """AWS gives .sync Tasks a $$.Task.Token too: SendTaskHeartbeat takes it, and SendTaskSuccess
    with it ends the Task with that output while the child runs on (recorded on AWS:
    conformance/service/sync test_sync_with_task_token)."""
    def answer(execution, token):
        execution.send_task_heartbeat(token)
        execution.send_task_success(token, {"early": True})

    execution, child_was_running = _answer_a_sync_task(".sync", answer)
    assert execution.result.status == "SUCCEEDED" and execution.result.output == {"early": True}
    assert child_was_running  # ended by its token, the Task does not stop its child
    types = [e["type"] for e in execution.result.history]
    assert types[-4:] == ["TaskSubmitted", "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded"]


def test_send_task_failure_with_a_sync_tasks_token_fails_it():
    execution, _ = _answer_a_sync_task(".sync:2", lambda ex, token: ex.send_task_failure(token, "Told", "by a worker"))
    assert (execution.result.status, execution.result.error, execution.result.cause) == ("FAILED", "Told",
                                                                                        "by a worker")
    failed = [e for e in execution.result.history if e["type"] == "TaskFailed"]
    assert failed[0]["taskFailedEventDetails"]["error"] == "Told"


def test_the_token_of_a_sync_task_its_child_ended_is_closed():
    definition = parent(".sync")
    definition["States"]["Start"]["Parameters"]["Input"] = {"n.$": "$.n", "token.$": "$$.Task.Token"}
    seen = []
    handlers = Handlers({"double": lambda event: seen.append(event["token"]) or {"n": event["n"] * 2}})

    async def main():
        execution = prepare(asl.load(definition), {"n": 2}, handlers=handlers, machines=MACHINES)
        result = await execution.run()
        with pytest.raises(Exception) as refused:
            execution.send_task_success(seen[0], {"late": True})
        return result, refused.value

    result, refused = anyio.run(main)
    assert result.status == "SUCCEEDED" and json.loads(result.output["Output"]) == {"n": 4}
    assert refused.error == "TaskDoesNotExist"


def test_a_sync_child_takes_its_time_on_the_parents_virtual_clock():
    """The child's one-hour Wait passes on the parent's clock while the parent waits for it:
    the Task ends an hour after it was submitted, and the child's dates say the same."""
    from datetime import datetime

    result = run_parent(".sync", "Slow")
    assert result.status == "SUCCEEDED", result.cause
    at = {e["type"]: datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00")) for e in result.history.events}
    assert (at["TaskSucceeded"] - at["TaskSubmitted"]).total_seconds() == 3600
    assert result.output["StopDate"] - result.output["StartDate"] == 3_600_000


def test_a_child_outliving_its_parent_stops_when_the_run_owning_it_ends():
    """Request-response returns while the child runs on. Prepared with ``machines=`` (a dict),
    the children belong to the parent's run: one still running when the run ends stops
    (ABORTED), as it would when the process ends."""
    execution = prepare(asl.load(parent("", "Slow")), {"n": 2}, machines=MACHINES)
    result = anyio.run(execution.run)
    assert result.status == "SUCCEEDED", result.cause
    (child,) = execution.executions.children.values()
    assert child.result.status == "ABORTED"
    assert child.history.events[-1]["type"] == "ExecutionAborted"


def test_children_of_an_owned_local_executions_run_on_after_their_parent():
    """Opened by an owner (``async with LocalExecutions(...)``), the children live as long as the
    owner's block: the parent ends, its child runs on to its end, its one-hour Wait in the
    parent's virtual time."""
    from asl.engine.integrations.nested import LocalExecutions

    async def main():
        async with LocalExecutions(MACHINES) as executions:
            execution = prepare(asl.load(parent("", "Slow")), {"n": 2}, machines=executions)
            result = await execution.run()
            (arn,) = executions.children
            assert executions.children[arn].result is None  # still running
            described = await executions.wait(arn, execution.clock)
        return result, described

    result, described = anyio.run(main)
    assert result.status == "SUCCEEDED", result.cause
    assert described["status"] == "SUCCEEDED" and described["stopDate"] - described["startDate"] == 3600


def test_local_executions_start_children_only_while_open():
    from asl.engine.integrations.nested import LocalExecutions

    executions = LocalExecutions(MACHINES)
    body = {"stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:Child", "input": "{}"}
    with pytest.raises(RuntimeError, match="only while open"):
        anyio.run(executions.start, body)
    assert executions.children == {}


# ---- aws-sdk:sfn calls among the run's machines ---------------------------------------------
# The pattern of aws-samples/serverless-patterns sfn-to-sfn-cdk: the parent starts the child with
# startExecution.waitForTaskToken, the child waits, then calls aws-sdk:sfn:sendTaskSuccess with
# the parent's token; on AWS the parent then succeeds with the Output the child sent (the
# sample's README: the parent "will only become Succeeded when the execution in childStateMachine
# completed"). SendTaskSuccess's answer is the API model's empty SendTaskSuccessOutput: {}.

ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:"


def sdk(action: str, parameters: dict, **state) -> dict:
    return {"Type": "Task", "Resource": f"arn:aws:states:::aws-sdk:sfn:{action}", "Parameters": parameters, **state}


ANSWERER = {"StartAt": "WaitXSeconds", "States": {
    "WaitXSeconds": {"Type": "Wait", "SecondsPath": "$.waitSeconds", "Next": "SendTaskTokenSuccess"},
    "SendTaskTokenSuccess": sdk("sendTaskSuccess", {"TaskToken.$": "$.token", "Output": '{"status":"Success"}'},
                                End=True)}}
REFUSER = {"StartAt": "Refuse", "States": {"Refuse": sdk(
    "sendTaskFailure", {"TaskToken.$": "$.token", "Error": "Child.Refused", "Cause": "not today"}, End=True)}}
SUM = {"StartAt": "Add", "States": {"Add": {"Type": "Pass", "Parameters": {"s.$": "States.MathAdd($.a, $.b)"},
                                            "End": True}}}
SDK_MACHINES = {"Answerer": asl.load(ANSWERER), "Refuser": asl.load(REFUSER), "Sum": asl.load(SUM),
                "Slow": asl.load(SLOW)}


def callback_parent(machine: str, **state) -> dict:
    return {"StartAt": "StartSubWorkFlow", "States": {"StartSubWorkFlow": {
        "Type": "Task", "Resource": "arn:aws:states:::states:startExecution.waitForTaskToken",
        "Parameters": {"StateMachineArn": ARN + machine, "Input": {"token.$": "$$.Task.Token", "waitSeconds": 15}},
        "End": True, **state}}}


def run_with_children(definition: dict, value=None, **options):
    execution = prepare(asl.load(definition), {} if value is None else value, machines=SDK_MACHINES, **options)
    return execution, anyio.run(execution.run)


def test_a_child_answers_its_parents_token_with_aws_sdk_send_task_success():
    execution, result = run_with_children(callback_parent("Answerer"))
    assert (result.status, result.output) == ("SUCCEEDED", {"status": "Success"}), result.cause
    assert result.stop_time - result.start_time >= 15  # the child's Wait came first (virtual time)
    [child] = execution.executions.children.values()
    assert child.result.status == "SUCCEEDED" and child.result.output == {}
    sent = [e for e in child.result.history.events if e["type"] == "TaskSucceeded"]
    assert sent[0]["taskSucceededEventDetails"]["resource"] == "sendTaskSuccess"


def test_the_sfn_to_sfn_pattern_runs_in_a_workflow_too():
    from asl.engine.testing import Workflow

    run = Workflow(callback_parent("Answerer"), machines=SDK_MACHINES).run({})
    assert run.status == "SUCCEEDED" and run.output == {"status": "Success"}


def test_a_child_fails_its_parents_task_with_aws_sdk_send_task_failure():
    # SendTaskFailure: the Task fails with the error and cause sent (the API's documentation)
    _, result = run_with_children(callback_parent("Refuser"))
    assert (result.status, result.error, result.cause) == ("FAILED", "Child.Refused", "not today")
    caught = callback_parent("Refuser", Catch=[{"ErrorEquals": ["Child.Refused"], "Next": "Fallback"}])
    caught["States"]["StartSubWorkFlow"]["Next"] = "Fallback"
    caught["States"]["StartSubWorkFlow"].pop("End")
    caught["States"]["Fallback"] = {"Type": "Pass", "End": True}
    _, result = run_with_children(caught)
    assert result.status == "SUCCEEDED" and result.output == {"Error": "Child.Refused", "Cause": "not today"}


def test_heartbeats_of_a_child_keep_its_parents_task_alive():
    beats = {"StartAt": "B1", "States": {
        "B1": sdk("sendTaskHeartbeat", {"TaskToken.$": "$.token"}, ResultPath=None, Next="W1"),
        "W1": {"Type": "Wait", "Seconds": 4, "Next": "B2"},
        "B2": sdk("sendTaskHeartbeat", {"TaskToken.$": "$.token"}, ResultPath=None, Next="W2"),
        "W2": {"Type": "Wait", "Seconds": 4, "Next": "Done"},
        "Done": sdk("sendTaskSuccess", {"TaskToken.$": "$.token", "Output": "[1]"}, End=True)}}
    silent = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 8, "Next": "Done"},
                                         "Done": beats["States"]["Done"]}}
    SDK_MACHINES.update(Beats=asl.load(beats), Silent=asl.load(silent))
    try:
        _, result = run_with_children(callback_parent("Beats", HeartbeatSeconds=5))
        assert (result.status, result.output) == ("SUCCEEDED", [1]), result.cause
        _, result = run_with_children(callback_parent("Silent", HeartbeatSeconds=5))
        # (AWS records a heartbeat's expiry as States.Timeout; Catch may name States.HeartbeatTimeout)
        assert (result.status, result.error) == ("FAILED", "States.Timeout")
        assert result.stop_time - result.start_time == 5
    finally:
        del SDK_MACHINES["Beats"], SDK_MACHINES["Silent"]


def test_aws_sdk_start_execution_starts_a_child_of_the_run():
    definition = {"StartAt": "StartExecution", "States": {
        "StartExecution": sdk("startExecution", {"StateMachineArn": ARN + "Sum", "Input": {"a": 1, "b": 2},
                                                 "Name": "TestStartTarget"}, Next="Later"),
        "Later": {"Type": "Wait", "Seconds": 1, "Next": "Describe"},
        "Describe": sdk("describeExecution", {"ExecutionArn.$": "$.ExecutionArn"}, ResultPath="$.described",
                        End=True)}}
    execution, result = run_with_children(definition)
    assert result.status == "SUCCEEDED", result.cause
    out = result.output
    # StartExecution's answer, PascalCased: these two fields alone (recorded on AWS: conformance case
    # test_aws_sdk_task_service test_sfn_start_execution)
    assert set(out) == {"ExecutionArn", "StartDate", "described"}
    assert out["ExecutionArn"] == "arn:aws:states:us-east-1:123456789012:execution:Sum:TestStartTarget"
    assert list(execution.executions.children) == [out["ExecutionArn"]]
    described = out["described"]
    assert (described["Status"], described["Name"], described["StateMachineArn"]) == (
        "SUCCEEDED", "TestStartTarget", ARN + "Sum")
    assert json.loads(described["Output"]) == {"s": 3} and json.loads(described["Input"]) == {"a": 1, "b": 2}
    assert described["RedriveCount"] == 0  # a Standard execution never redriven (recorded: test_describe_execution)


def test_aws_sdk_stop_and_start_sync_execution_of_the_runs_machines():
    definition = {"StartAt": "Start", "States": {
        "Start": sdk("startExecution", {"StateMachineArn": ARN + "Slow", "Name": "slow"}, Next="Stop"),
        "Stop": sdk("stopExecution", {"ExecutionArn.$": "$.ExecutionArn", "Error": "Halt", "Cause": "enough"},
                    ResultPath="$.stopped", Next="Sync"),
        "Sync": sdk("startSyncExecution", {"StateMachineArn": ARN + "Sum", "Input": '{"a": 1, "b": 5}'},
                    ResultPath="$.sync", End=True)}}
    execution, result = run_with_children(definition)
    assert result.status == "SUCCEEDED", result.cause
    assert set(result.output["stopped"]) == {"StopDate"}
    slow = execution.executions.children["arn:aws:states:us-east-1:123456789012:execution:Slow:slow"]
    assert (slow.result.status, slow.result.error, slow.result.cause) == ("ABORTED", "Halt", "enough")
    sync = result.output["sync"]
    assert (sync["Status"], json.loads(sync["Output"])) == ("SUCCEEDED", {"s": 6})
    assert sync["ExecutionArn"].startswith("arn:aws:states:us-east-1:123456789012:express:Sum:")
    assert sync["BillingDetails"]["BilledMemoryUsedInMB"] == 64


def test_aws_sdk_sfn_calls_of_the_run_are_refused_as_aws_refuses_them():
    # a token that is no token (recorded on AWS: conformance case test_sfn_send_task_outcome_with_no_such_token)
    definition = {"StartAt": "StartExecution", "States": {"StartExecution": sdk(
        "sendTaskFailure", {"TaskToken.$": "$$.Execution.Input.TaskToken"}, End=True)}}
    _, result = run_with_children(definition, {"TaskToken": "NoSuchTaskToken"})
    assert (result.status, result.error) == ("FAILED", "Sfn.InvalidTokenException")
    assert re.fullmatch(r"Invalid Token: 'Invalid token' \(Service: Sfn, Status Code: 400, Request ID: [0-9a-f-]{36}\) "
                        r"\(SDK Attempt Count: 1\)", result.cause), result.cause
    # an execution of one of the run's machines that does not exist (recorded on AWS: conformance
    # service/api test_describe_execution_no_such_state_machine)
    missing = "arn:aws:states:us-east-1:123456789012:execution:Sum:nope"
    definition = {"StartAt": "D", "States": {"D": sdk("describeExecution", {"ExecutionArn": missing}, End=True)}}
    _, result = run_with_children(definition)
    assert (result.status, result.error) == ("FAILED", "Sfn.ExecutionDoesNotExistException")
    assert result.cause.startswith(f"Execution Does Not Exist: '{missing}' (Service: Sfn, Status Code: 400, ")
    # the parent's token answered twice: the second answer finds the task gone (TaskTimedOut)
    twice = {"StartAt": "Once", "States": {
        "Once": sdk("sendTaskSuccess", {"TaskToken.$": "$.token", "Output": "{}"}, ResultPath=None, Next="Twice"),
        "Twice": sdk("sendTaskSuccess", {"TaskToken.$": "$.token", "Output": "{}"}, End=True)}}
    SDK_MACHINES["Twice"] = asl.load(twice)
    try:
        execution, result = run_with_children(callback_parent("Twice"))
    finally:
        del SDK_MACHINES["Twice"]
    assert result.status == "SUCCEEDED"
    [child] = execution.executions.children.values()
    assert (child.result.status, child.result.error) == ("FAILED", "Sfn.TaskTimedOutException")
    assert child.result.cause.startswith("Task Timed Out: 'Provided task does not exist anymore' (Service: Sfn, ")


def test_aws_sdk_sfn_calls_naming_other_resources_go_where_they_went_before():
    # a machine the run does not have: unserved, with the way to give it
    definition = {"StartAt": "S", "States": {"S": sdk("startExecution", {"StateMachineArn": ARN + "Other"}, End=True)}}
    _, result = run_with_children(definition)
    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert result.cause.endswith("or run the state machine 'Other' here (--machine Other=FILE; machines= in Python).")
    # a handler of the Resource wins, as for any Task
    handlers = Handlers({"arn:aws:states:::aws-sdk:sfn:startExecution": lambda event: {"handled": True}})
    definition = {"StartAt": "S", "States": {"S": sdk("startExecution", {"StateMachineArn": ARN + "Sum"}, End=True)}}
    execution, result = run_with_children(definition, handlers=handlers)
    assert result.output == {"handled": True} and not execution.executions.children


def test_a_token_not_of_the_run_goes_to_the_step_functions_endpoint_the_run_calls(monkeypatch):
    pytest.importorskip("boto3")
    for key, value in {"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t", "AWS_DEFAULT_REGION": "us-east-1",
                       "AWS_MAX_ATTEMPTS": "1"}.items():
        monkeypatch.setenv(key, value)
    definition = {"StartAt": "S", "States": {"S": sdk("sendTaskSuccess", {"TaskToken": "theirs", "Output": "{}"},
                                                      End=True)}}
    _, result = run_with_children(definition, aws={"endpoints": {"stepfunctions": "http://127.0.0.1:9"}})
    assert (result.status, result.error) == ("FAILED", "Sfn.SdkClientException")  # it went there
    assert "http://127.0.0.1:9" in result.cause


def test_asl_run_serves_a_childs_send_task_success_to_its_parent(tmp_path):
    from click.testing import CliRunner

    from asl.cli.main import get_cli

    (tmp_path / "parent.json").write_text(json.dumps(callback_parent("ChildStateMachine")))
    (tmp_path / "ChildStateMachine.json").write_text(json.dumps(ANSWERER))
    out = CliRunner().invoke(get_cli(), ["run", str(tmp_path / "parent.json"), "-q",
                                         "--machine", str(tmp_path / "ChildStateMachine.json")])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout) == {"status": "Success"}


# ---- mocks of the child, as Step Functions Local picks them --------------------------------

MOCKS = {"StateMachines": {
    "Parent": {"TestCases": {"Happy": {"Other": "Nothing"}}},
    "Child": {"TestCases": {"Mocked": {"Double": "Doubled"}, "Broken": {"Double": "Crash"}}}},
    "MockedResponses": {"Nothing": {"0": {"Return": {}}},
                        "Doubled": {"0": {"Return": {"n": 1000}}},
                        "Crash": {"0": {"Throw": {"Error": "Lambda.ServiceException", "Cause": "mocked"}}}}}


def run_mocked(child_arn_suffix: str, handlers=HANDLERS):
    definition = parent(".sync:2")
    parameters = definition["States"]["Start"]["Parameters"]
    parameters["StateMachineArn"] += child_arn_suffix
    definition["States"]["Start"]["Next"] = "Other"
    del definition["States"]["Start"]["End"]
    definition["States"]["Other"] = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                                     "Parameters": {"FunctionName": "other"}, "End": True}
    execution = prepare(asl.load(definition), {"n": 2}, handlers=handlers, machines=MACHINES, mock_config=MOCKS,
                        test_case="Happy", state_machine_name="Parent")
    result = anyio.run(execution.run)
    return result, list(execution.executions.children.values())


def test_a_child_uses_the_test_case_its_state_machine_arn_names():
    """DG "sfn-local-test-sm-exec": a test case runs when StartExecution's state machine ARN ends
    with ``#<test case>``, from that machine's entry in the mock config; a Task starting a child
    makes the same call, so ``StateMachineArn: ...:stateMachine:Child#Mocked`` runs the child with
    the test case Mocked of Child (its own states, its own call counts)."""
    result, (child,) = run_mocked("#Mocked", handlers=Handlers({"double": lambda event: pytest.fail("not mocked")}))
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {}  # the parent's own test case mocked its own state
    assert child.arn.endswith(":execution:Child:kid")  # the execution is the machine's, without the suffix
    assert child.result.output == {"n": 1000}
    failed, (child,) = run_mocked("#Broken")
    assert (child.result.error, child.result.cause) == ("Lambda.ServiceException", "mocked")
    assert failed.error == "States.TaskFailed" and json.loads(failed.cause)["Error"] == "Lambda.ServiceException"


def test_a_child_without_a_test_case_is_not_mocked_and_an_unknown_one_is_refused():
    result, (child,) = run_mocked("")  # as Step Functions Local: no suffix, no mocks: the handler runs
    assert result.status == "SUCCEEDED", result.cause
    assert child.result.output == {"n": 4}
    refused, children = run_mocked("#Nope")
    assert children == []
    assert refused.error == "StepFunctions.ValidationException"
    assert refused.cause.startswith("Test case 'Nope' of state machine 'Child' is not in the mock config file "
                                    "(Service: AWSStepFunctions; Status Code: 400; Error Code: ValidationException;")


# ---- a child started without Name, when the parent resumes after a crash --------------------

def test_a_sync_child_without_a_name_is_found_again_when_the_parent_resumes():
    """The parent dies after starting the child (before or after TaskSubmitted is recorded) and
    is resumed from its journal: the Task starts the same derived name again and awaits the
    child it had started, running or ended since, instead of starting a second one."""
    from test_resume import START, run_until_crash

    from asl.engine import prepare_resume
    from asl.engine.clock import VirtualClock
    from asl.engine.integrations.nested import LocalExecutions
    from asl.engine.stores import open_store

    definition = parent(".sync")
    del definition["States"]["Start"]["Parameters"]["Name"]
    machine = asl.load(definition)

    async def start(executions, store, crash_after=None):
        ex = prepare(machine, {"n": 2}, handlers=HANDLERS, machines=executions, clock=VirtualClock(START), seed=7,
                     name="parent")
        await ex.attach(store)
        if crash_after is None:
            return await ex.run()
        assert await run_until_crash(ex, store, crash_after)
        return ex

    async def main():
        whole = await start(MACHINES, open_store("memory"))
        assert whole.status == "SUCCEEDED", whole.cause
        types = [e["type"] for e in whole.history.events]
        outcomes = []
        for k in range(types.index("TaskStarted") + 1, types.index("TaskSucceeded") + 1):
            # the children's runner outlives the parent's "crash" (an owner of its own), as a
            # service running the child would; owned by the parent's run, the child would stop with it
            async with LocalExecutions(MACHINES) as executions:
                store = open_store("memory")
                crashed = await start(executions, store, crash_after=k)
                assert len(executions.children) == 1
                resumed = await (await prepare_resume(store, crashed.arn, handlers=HANDLERS,
                                                      machines=executions)).run()
                assert len(executions.children) == 1, f"crash after event {k}: the child was started again"
                assert (resumed.status, resumed.output) == (whole.status, whole.output)
                assert [e["type"] for e in resumed.history.events] == types
                outcomes.append(k)
        return outcomes

    assert anyio.run(main) == [4, 5]  # after TaskStarted (child started, unrecorded) and after TaskSubmitted


def test_a_redriven_parent_starts_a_new_nameless_child():
    """RedriveExecution runs the failed Task again: AWS starts a new child (a new UUID name);
    the redrive must not take the child of the failed run for its own and fail again with it."""
    from asl.engine import redrive
    from asl.engine.integrations.nested import LocalExecutions
    from asl.engine.stores import open_store

    calls = []

    def double(event):
        calls.append(event)
        if len(calls) == 1:
            raise RuntimeError("first time")
        return {"n": event["n"] * 2}

    handlers = Handlers({"double": double})
    definition = parent(".sync:2")
    del definition["States"]["Start"]["Parameters"]["Name"]
    executions = LocalExecutions({"Child": asl.load(CHILD)})  # one service keeps both runs' children

    async def main():
        store = open_store("memory")
        ex = prepare(asl.load(definition), {"n": 2}, handlers=handlers, machines=executions, name="parent", seed=7)
        await ex.attach(store)
        failed = await ex.run()
        assert failed.error == "States.TaskFailed" and json.loads(failed.cause)["Error"] == "RuntimeError"
        return await redrive(store, ex.arn, handlers=handlers, machines=executions)

    result = anyio.run(main)
    assert result.status == "SUCCEEDED", result.cause
    assert result.output["Output"] == {"n": 4} and len(calls) == 2
    assert len(executions.children) == 2 and result.output["ExecutionArn"] in executions.children


# ---- in the service (asl serve), and through boto3 -----------------------------------------

@pytest.fixture
def service(tmp_path):
    pytest.importorskip("boto3")
    pytest.importorskip("uvicorn")
    from test_service import Server

    (tmp_path / "handlers.py").write_text("HANDLERS = {'double': lambda event: {'n': event['n'] * 2}}\n")
    srv = Server(tmp_path, "memory", "--handlers", "handlers.py").start()
    yield srv
    if srv.proc.poll() is None:
        srv.stop()


def create(sfn, name: str, definition: dict) -> str:
    return sfn.create_state_machine(name=name, definition=json.dumps(definition),
                                    roleArn="arn:aws:iam::123456789012:role/r")["stateMachineArn"]


def test_service_runs_the_child_as_its_own_execution(service):
    from test_service import wait_done

    sfn = service.client()
    create(sfn, "Child", CHILD)
    parent_arn = create(sfn, "Parent", parent(".sync:2"))
    arn = sfn.start_execution(stateMachineArn=parent_arn, input='{"n": 5}')["executionArn"]
    done = wait_done(sfn, arn)
    assert done["status"] == "SUCCEEDED", done
    out = json.loads(done["output"])
    assert out["Output"] == {"n": 10} and out["Status"] == "SUCCEEDED"
    child_arn = out["ExecutionArn"]
    listed = sfn.list_executions(stateMachineArn="arn:aws:states:us-east-1:123456789012:stateMachine:Child")
    assert [e["executionArn"] for e in listed["executions"]] == [child_arn]
    events = sfn.get_execution_history(executionArn=child_arn)["events"]
    assert events[0]["type"] == "ExecutionStarted" and events[-1]["type"] == "ExecutionSucceeded"


def test_service_missing_machine_and_stop_of_the_parent(service):
    from test_service import wait_done

    sfn = service.client()
    missing = create(sfn, "Orphan", parent("", "Nowhere"))
    done = wait_done(sfn, sfn.start_execution(stateMachineArn=missing, input='{"n": 1}')["executionArn"])
    assert done["error"] == "StepFunctions.StateMachineDoesNotExistException"
    assert done["cause"].startswith("State Machine Does Not Exist: 'arn:aws:states:us-east-1:123456789012:"
                                    "stateMachine:Nowhere' (Service: AWSStepFunctions; Status Code: 400; "
                                    "Error Code: StateMachineDoesNotExist; Request ID: ")
    create(sfn, "Slow", SLOW)
    waiting = create(sfn, "Waiting", parent(".sync", "Slow"))
    arn = sfn.start_execution(stateMachineArn=waiting, input='{"n": 1}')["executionArn"]
    slow = "arn:aws:states:us-east-1:123456789012:stateMachine:Slow"
    deadline = time.monotonic() + 60
    while not sfn.list_executions(stateMachineArn=slow)["executions"] and time.monotonic() < deadline:
        time.sleep(0.05)
    sfn.stop_execution(executionArn=arn)
    (child,) = sfn.list_executions(stateMachineArn=slow)["executions"]
    stopped = wait_done(sfn, child["executionArn"])
    # stopped by Step Functions with no error and the sentence AWS gives a resource whose Task was aborted
    cause = f"The Task state in AWS Step Functions execution [{arn}] which was managing this resource was aborted"
    assert (stopped["status"], stopped.get("error"), stopped["cause"]) == ("ABORTED", None, cause)
    last = sfn.get_execution_history(executionArn=child["executionArn"], reverseOrder=True)["events"][0]
    assert last["executionAbortedEventDetails"] == {"cause": cause}


def test_service_sync_task_token_answered_through_the_api(service):
    """asl serve: a .sync Task's $$.Task.Token, passed to its child, takes SendTaskHeartbeat and
    SendTaskSuccess from boto3; the Task ends with that output, the child runs on; once the Task
    has ended its token is refused with TaskTimedOut, as a callback's is."""
    from botocore.exceptions import ClientError

    from test_service import wait_done

    sfn = service.client()
    slow = create(sfn, "Slow", SLOW)
    arn = sfn.start_execution(stateMachineArn=create(sfn, "Asker", _token_parent(".sync")))["executionArn"]
    deadline = time.monotonic() + 60
    while not sfn.list_executions(stateMachineArn=slow)["executions"] and time.monotonic() < deadline:
        time.sleep(0.05)
    (child,) = sfn.list_executions(stateMachineArn=slow)["executions"]
    token = json.loads(sfn.describe_execution(executionArn=child["executionArn"])["input"])["token"]
    sfn.send_task_heartbeat(taskToken=token)
    sfn.send_task_success(taskToken=token, output='"answered"')
    done = wait_done(sfn, arn)
    assert (done["status"], done["output"]) == ("SUCCEEDED", '"answered"')
    assert sfn.describe_execution(executionArn=child["executionArn"])["status"] == "RUNNING"
    with pytest.raises(ClientError) as late:
        sfn.send_task_failure(taskToken=token, error="Late")
    assert late.value.response["Error"]["Code"] == "TaskTimedOut"
    sfn.stop_execution(executionArn=child["executionArn"])


def test_engine_child_on_a_step_functions_endpoint_through_boto3(service, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    sfn = service.client()
    create(sfn, "Child", CHILD)
    create(sfn, "Failing", FAILING)
    aws = {"endpoints": {"stepfunctions": service.endpoint}, "region": "us-east-1", "poll_seconds": 0.2}
    result = run_sync(asl.load(parent(".sync")), {"n": 3}, aws=aws, virtual_time=False)
    assert result.status == "SUCCEEDED", result.cause
    assert list(result.output) == SYNC_KEYS and result.output["Output"] == '{"n":6}'
    result = run_sync(asl.load(parent(".sync", "Failing")), {"n": 3}, aws=aws, virtual_time=False)
    assert result.error == "States.TaskFailed" and json.loads(result.cause)["Error"] == "Boom"


def test_boto3_port_finds_again_the_child_a_derived_name_started(service, monkeypatch):
    """The same Task attempt (`site`) started again on a Step Functions endpoint through boto3,
    as a resumed parent does: the child it started and that has ended since is awaited again
    (found with DescribeExecution), not refused and not started twice; another input is refused."""
    from asl.engine.clock import Clock
    from asl.engine.integrations import Integrations
    from asl.engine.integrations.nested import Boto3Executions, start_execution
    from asl.resources import parse_resource

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    sfn = service.client()
    child = create(sfn, "Child", CHILD)
    integrations = Integrations.of({"endpoints": {"stepfunctions": service.endpoint}, "region": "us-east-1",
                                    "poll_seconds": 0.1})
    info = parse_resource("arn:aws:states:::states:startExecution.sync:2")

    async def attempt(value):
        clock = Clock()
        return await start_execution(Boto3Executions(integrations, clock=clock), info,
                                     {"StateMachineArn": child, "Input": value}, clock, None, "parent/attempt-1")

    first = anyio.run(attempt, {"n": 3})
    again = anyio.run(attempt, {"n": 3})
    assert first == again and first["Output"] == {"n": 6}
    assert [e["executionArn"] for e in sfn.list_executions(stateMachineArn=child)["executions"]] == [
        first["ExecutionArn"]]
    from asl.errors import StatesError

    with pytest.raises(StatesError) as refused:
        anyio.run(attempt, {"n": 4})
    assert refused.value.error == "StepFunctions.ExecutionAlreadyExistsException"


def test_request_response_through_boto3_finds_again_a_child_that_ended(service, monkeypatch):
    """A request-response ``states:startExecution`` without Name on a Step Functions endpoint:
    AWS's result shape (``{ExecutionArn, StartDate}`` in epoch milliseconds, the SDK's metadata),
    as in this engine; made again by a resumed parent (the same `site`) after the child has
    ended, the Task answers with that child, as `.sync` does, instead of failing with
    ExecutionAlreadyExists."""
    from asl.engine.clock import Clock
    from asl.engine.integrations import Integrations
    from asl.resources import parse_resource

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    sfn = service.client()
    child = create(sfn, "Quick", {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    integrations = Integrations.of({"endpoints": {"stepfunctions": service.endpoint}, "region": "us-east-1"})
    info = parse_resource("arn:aws:states:::states:startExecution")

    def attempt():
        call = integrations.find(info, {"StateMachineArn": child, "Input": {"n": 1}}, Clock(), None, "parent/a-1")
        return anyio.run(call)

    from test_service import wait_done

    first = attempt()
    # members in alphabetical order, as AWS writes the Java SDK v1's result (recorded: LS
    # test_start_execution_input_json; radkawar/stackd task_integrations.json nested-request-response)
    assert list(first) == ["ExecutionArn", "SdkHttpMetadata", "SdkResponseMetadata", "StartDate"]
    assert isinstance(first["StartDate"], int) and first["SdkHttpMetadata"]["HttpStatusCode"] == 200
    assert wait_done(sfn, first["ExecutionArn"])["status"] == "SUCCEEDED"
    again = attempt()
    assert again["ExecutionArn"] == first["ExecutionArn"] and again["StartDate"] == first["StartDate"]
    assert [e["executionArn"] for e in sfn.list_executions(stateMachineArn=child)["executions"]] == [
        first["ExecutionArn"]]


def test_service_wait_for_task_token_child_answers_its_parent(tmp_path):
    """The child calls SendTaskSuccess on the service itself (aws-sdk:sfn through boto3)."""
    pytest.importorskip("uvicorn")
    from test_service import Server, wait_done

    srv = Server(tmp_path, "memory")
    srv.extra = ("--endpoint-url", f"stepfunctions={srv.endpoint}")
    srv.env = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}
    srv.start()
    try:
        sfn = srv.client()
        create(sfn, "Answerer", {"StartAt": "Answer", "States": {"Answer": {
            "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sfn:sendTaskSuccess",
            "Parameters": {"TaskToken.$": "$.token", "Output": {"answered.$": "$.n"}}, "End": True}}})
        definition = parent(".waitForTaskToken", "Answerer")
        definition["States"]["Start"]["Parameters"]["Input"] = {"n.$": "$.n", "token.$": "$$.Task.Token"}
        arn = sfn.start_execution(stateMachineArn=create(sfn, "Asker", definition), input='{"n": 7}')["executionArn"]
        done = wait_done(sfn, arn)
        assert done["status"] == "SUCCEEDED", done
        assert json.loads(done["output"]) == {"answered": 7}
    finally:
        srv.stop()


def test_service_restarted_after_sigkill_does_not_start_a_nameless_child_twice(tmp_path):
    """`asl serve` on a SQLite store is killed while a parent waits on a `.sync` child started
    without Name; the next server resumes both, and the parent's Task finds its child again."""
    import signal

    from test_service import Server, wait_done

    store = f"sqlite:{tmp_path / 'runs.db'}"
    first = Server(tmp_path, store).start()
    sfn = first.client()
    create(sfn, "Pause", {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 2, "End": True}}})
    definition = parent(".sync", "Pause")
    del definition["States"]["Start"]["Parameters"]["Name"]
    arn = sfn.start_execution(stateMachineArn=create(sfn, "Parent", definition), input='{"n": 1}')["executionArn"]
    pause = "arn:aws:states:us-east-1:123456789012:stateMachine:Pause"
    deadline = time.monotonic() + 10
    while not sfn.list_executions(stateMachineArn=pause)["executions"] and time.monotonic() < deadline:
        time.sleep(0.02)
    first.stop(signal.SIGKILL)
    second = Server(tmp_path, store).start()
    try:
        sfn = second.client()
        done = wait_done(sfn, arn, timeout=30)
        assert done["status"] == "SUCCEEDED", done
        (child,) = sfn.list_executions(stateMachineArn=pause)["executions"]
        assert json.loads(done["output"])["ExecutionArn"] == child["executionArn"]
        assert child["status"] == "SUCCEEDED"
    finally:
        assert second.stop() == 0


def test_service_child_runs_the_test_case_its_arn_names(tmp_path):
    """`asl serve --mock-config`: a Task starting ``...:stateMachine:Child#Mocked`` runs the child
    with that test case, as Step Functions Local's StartExecution does."""
    from test_service import Server, wait_done

    (tmp_path / "mocks.json").write_text(json.dumps(MOCKS))
    srv = Server(tmp_path, "memory", "--mock-config", "mocks.json").start()
    try:
        sfn = srv.client()
        create(sfn, "Child", CHILD)
        definition = parent(".sync:2")
        definition["States"]["Start"]["Parameters"]["StateMachineArn"] += "#Mocked"
        arn = sfn.start_execution(stateMachineArn=create(sfn, "Parent", definition), input='{"n": 5}')["executionArn"]
        done = wait_done(sfn, arn)
        assert done["status"] == "SUCCEEDED", done
        out = json.loads(done["output"])
        assert out["Output"] == {"n": 1000} and out["ExecutionArn"].endswith(":execution:Child:kid")
    finally:
        srv.stop()
