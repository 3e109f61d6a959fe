"""RedriveExecution of `asl serve` against AWS's answers in the raw capture radkawar/stackd
testdata/aws/stepfunctions/redrive_execution.json (boto3 against us-west-2, September 2026): the
clientToken's idempotency and the history of a redriven Parallel and Map. Each test names the
capture's labels it replays; driven through a real server process with boto3."""
from __future__ import annotations

import json

import pytest

from test_service import ROLE, Server, boto3, error_of, machine, wait_done  # noqa: F401 - boto3: skips without it


@pytest.fixture(scope="module")
def sfn(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("redrive"), "memory")
    srv.env = {"ASL_SERVE_POLL_SECONDS": "5"}
    srv.start()
    yield srv.client()
    srv.stop()


def task(activity: str, **extra) -> dict:
    return {"Type": "Task", "Resource": activity, "TimeoutSeconds": 60, **extra}


def take(sfn, activity: str) -> str:
    return sfn.get_activity_task(activityArn=activity, workerName="w")["taskToken"]


def test_a_client_token_gets_its_redrive_again_whatever_the_status(sfn):
    # finding client-token-idempotency-precedes-current-status; labels 01-sequence-redrive-A,
    # -same-token-A-running, -different-token-B-running, -same-token-A-after-failure,
    # -redrive-B, -old-token-A-during-second-redrive, -same-token-B-after-success, -new-token-after-success
    activity = sfn.create_activity(name="sequence")["activityArn"]
    arn = sfn.create_state_machine(name="sequence", roleArn=ROLE, definition=machine(
        {"Work": task(activity, End=True)}, "Work"))["stateMachineArn"]
    run = sfn.start_execution(stateMachineArn=arn, name="01-sequence")["executionArn"]
    original = take(sfn, activity)
    sfn.send_task_failure(taskToken=original, error="Probe.Retry", cause="original")
    assert wait_done(sfn, run)["status"] == "FAILED"

    def refused(token: str, status: str) -> None:
        assert error_of(sfn.redrive_execution, executionArn=run, clientToken=token)[:2] == (
            "ExecutionNotRedrivable", f"Execution {run} invalid for redrive as: Execution is {status} and cannot be "
                                      "redriven")

    a = sfn.redrive_execution(executionArn=run, clientToken="sequence-token-A")["redriveDate"]
    assert sfn.redrive_execution(executionArn=run, clientToken="sequence-token-A")["redriveDate"] == a
    refused("sequence-token-B", "RUNNING")  # (B is not used up by the refusal)
    # 01-sequence-old-token-after-redrive: the failed attempt's token is TaskTimedOut
    assert error_of(sfn.send_task_success, taskToken=original, output="{}")[:2] == (
        "TaskTimedOut", f"Task Timed Out: '{activity}'")
    sfn.send_task_failure(taskToken=take(sfn, activity), error="Probe.Retry", cause="redrive 1")
    assert wait_done(sfn, run)["status"] == "FAILED"
    # A again after the failure: A's answer, and no redrive
    assert sfn.redrive_execution(executionArn=run, clientToken="sequence-token-A")["redriveDate"] == a
    described = sfn.describe_execution(executionArn=run)
    assert (described["status"], described["redriveCount"], described["redriveDate"]) == ("FAILED", 1, a)
    b = sfn.redrive_execution(executionArn=run, clientToken="sequence-token-B")["redriveDate"]
    assert b > a
    assert sfn.redrive_execution(executionArn=run, clientToken="sequence-token-A")["redriveDate"] == a
    sfn.send_task_success(taskToken=take(sfn, activity), output='{"fixed":true}')
    described = wait_done(sfn, run)
    assert (described["status"], described["redriveCount"]) == ("SUCCEEDED", 2)
    assert sfn.redrive_execution(executionArn=run, clientToken="sequence-token-B")["redriveDate"] == b
    refused("sequence-token-C", "SUCCEEDED")
    assert sfn.describe_execution(executionArn=run)["redriveCount"] == 2
    events = sfn.get_execution_history(executionArn=run, maxResults=1000)["events"]
    assert [e["type"] for e in events].count("ExecutionRedriven") == 2


def after_redrive(sfn, run: str) -> list[tuple]:
    events = sfn.get_execution_history(executionArn=run, maxResults=1000)["events"]
    at = next(i for i, e in enumerate(events) if e["type"] == "ExecutionRedriven")
    return [(e["id"], e["previousEventId"], e["type"]) for e in events[at:]], events


def test_a_redriven_map_starts_no_second_time(sfn):
    # 03-inline-map-final-history-page-01: ExecutionRedriven (22, after ExecutionFailed 21), then
    # the failed iteration's ActivityScheduled (23) after its TaskStateEntered (14): no
    # MapStateStarted, no MapIterationStarted for it; then the unreached item starts as usual
    activity = sfn.create_activity(name="items")["activityArn"]
    arn = sfn.create_state_machine(name="inline-map", roleArn=ROLE, definition=machine({"InlineMap": {
        "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1, "ItemProcessor": {
            "ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "MapItem", "States": {"MapItem": task(activity, End=True)}},
        "End": True}}, "InlineMap"))["stateMachineArn"]
    run = sfn.start_execution(stateMachineArn=arn, name="03-inline-map",
                              input=json.dumps({"items": [{"index": 0}, {"index": 1}, {"index": 2}]}))["executionArn"]
    sfn.send_task_success(taskToken=take(sfn, activity), output='{"index":0,"preserved":true}')
    sfn.send_task_failure(taskToken=take(sfn, activity), error="Probe.Retry", cause="item 1")
    assert wait_done(sfn, run)["status"] == "FAILED"
    sfn.redrive_execution(executionArn=run, clientToken="inline-map-token")
    for index in (1, 2):
        sfn.send_task_success(taskToken=take(sfn, activity), output=json.dumps({"index": index, "fixed": True}))
    assert json.loads(wait_done(sfn, run)["output"]) == [{"index": 0, "preserved": True}, {"index": 1, "fixed": True},
                                                         {"index": 2, "fixed": True}]
    skeleton, _ = after_redrive(sfn, run)
    # (AWS's ids less the 2 events of the capture's Choice state before the Map)
    assert skeleton == [(20, 19, "ExecutionRedriven"), (21, 12, "ActivityScheduled"), (22, 21, "ActivityStarted"),
                        (23, 22, "ActivitySucceeded"), (24, 23, "TaskStateExited"), (25, 24, "MapIterationSucceeded"),
                        (26, 24, "MapIterationStarted"), (27, 26, "TaskStateEntered"), (28, 27, "ActivityScheduled"),
                        (29, 28, "ActivityStarted"), (30, 29, "ActivitySucceeded"), (31, 30, "TaskStateExited"),
                        (32, 31, "MapIterationSucceeded"), (33, 32, "MapStateSucceeded"), (34, 32, "MapStateExited"),
                        (35, 34, "ExecutionSucceeded")]


def test_a_redriven_parallel_starts_no_second_time(sfn):
    # 02-parallel-final-history-page-01: ExecutionRedriven (22), then the failed and the aborted
    # branches' ActivityScheduled (23, 24) after their TaskStateEntered (8, 10): no ParallelStateStarted
    activity = sfn.create_activity(name="branches")["activityArn"]
    arn = sfn.create_state_machine(name="parallel", roleArn=ROLE, definition=machine({"Parallel": {
        "Type": "Parallel", "Branches": [{"StartAt": name, "States": {name: task(
            activity, Parameters={"branch.$": "$$.State.Name"}, End=True)}}
            for name in ("SucceededSibling", "FailedSibling")], "End": True}}, "Parallel"))["stateMachineArn"]
    run = sfn.start_execution(stateMachineArn=arn, name="02-parallel")["executionArn"]
    tokens = {}
    for _ in range(2):
        given = sfn.get_activity_task(activityArn=activity, workerName="w")
        tokens[json.loads(given["input"])["branch"]] = given["taskToken"]
    sfn.send_task_success(taskToken=tokens["SucceededSibling"], output='{"branch":"preserved"}')
    second = tokens["FailedSibling"]
    sfn.send_task_failure(taskToken=second, error="Probe.Retry", cause="failed sibling")
    assert wait_done(sfn, run)["status"] == "FAILED"
    sfn.redrive_execution(executionArn=run, clientToken="parallel-token")
    sfn.send_task_success(taskToken=take(sfn, activity), output='{"branch":"fixed"}')
    assert json.loads(wait_done(sfn, run)["output"]) == [{"branch": "preserved"}, {"branch": "fixed"}]
    skeleton, events = after_redrive(sfn, run)
    entered = next(e["id"] for e in events if e["type"] == "TaskStateEntered"
                   and e["stateEnteredEventDetails"]["name"] == "FailedSibling")
    assert skeleton[1] == (skeleton[0][0] + 1, entered, "ActivityScheduled")
    assert [e["type"] for e in events].count("ParallelStateStarted") == 1
