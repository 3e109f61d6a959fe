"""Activity tasks of `asl serve` against AWS's answers in the raw capture radkawar/stackd
testdata/aws/stepfunctions/callback_lifecycle.json (boto3 against us-west-2, September 2026):
when an activity task's TimeoutSeconds starts, what answers to an ended task say, and how an empty
task token is refused. Each test names the capture's labels it replays; driven through a real
server process with boto3."""
from __future__ import annotations

import json
import time

import pytest

from test_service import ROLE, Server, boto3, error_of, machine, wait_done  # noqa: F401 - boto3: skips without it

PARAMETERS = {"state.$": "$$.State.Name", "attempt.$": "$$.State.RetryCount", "input.$": "$"}
CATCH = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.caught", "Next": "Fallback"}]
FALLBACK = {"Type": "Pass", "Result": "fallback-catcher", "ResultPath": "$.route", "End": True}


@pytest.fixture(scope="module")
def sfn(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("activity"), "memory")
    srv.env = {"ASL_SERVE_POLL_SECONDS": "2"}
    srv.start()
    yield srv.client(parameter_validation=False)  # (an empty token reaches the server)
    srv.stop()


def events(sfn, arn: str) -> list[dict]:
    return sfn.get_execution_history(executionArn=arn)["events"]


def test_the_timeout_counts_from_the_start_heartbeats_or_not(sfn):
    # 07-task-deadline-heartbeats: TimeoutSeconds 4, HeartbeatSeconds 2, heartbeats every 0.9 s
    # accepted, then ActivityTimedOut 4.000 s after ActivityStarted; the catcher got
    # {"Error": "States.Timeout", "Cause": ""}; later heartbeats are TaskTimedOut
    activity = sfn.create_activity(name="deadline")["activityArn"]
    arn = sfn.create_state_machine(name="deadline", roleArn=ROLE, definition=machine({
        "Deadline": {"Type": "Task", "Resource": activity, "TimeoutSeconds": 2, "HeartbeatSeconds": 1,
                     "Parameters": PARAMETERS, "Catch": CATCH, "End": True},
        "Fallback": FALLBACK}, "Deadline"))["stateMachineArn"]
    run = sfn.start_execution(stateMachineArn=arn, name="deadline", input='{"mode":"deadline"}')["executionArn"]
    time.sleep(1.5)  # waiting for a worker longer than HeartbeatSeconds does not end the task (01-delayed-lease)
    token = sfn.get_activity_task(activityArn=activity, workerName="w")["taskToken"]
    for _ in range(3):
        time.sleep(0.5)
        sfn.send_task_heartbeat(taskToken=token)
    done = wait_done(sfn, run)
    assert json.loads(done["output"]) == {"mode": "deadline", "caught": {"Error": "States.Timeout", "Cause": ""},
                                          "route": "fallback-catcher"}
    history = events(sfn, run)
    assert [e["type"] for e in history][:6] == ["ExecutionStarted", "TaskStateEntered", "ActivityScheduled",
                                                "ActivityStarted", "ActivityTimedOut", "TaskStateExited"]
    started, timed_out = history[3]["timestamp"], history[4]["timestamp"]
    assert 1.9 <= (timed_out - started).total_seconds() < 2.6
    assert history[4]["activityTimedOutEventDetails"] == {"error": "States.Timeout"}
    assert error_of(sfn.send_task_heartbeat, taskToken=token)[:2] == (
        "TaskTimedOut", f"Task Timed Out: '{activity}'")


def test_answers_to_an_ended_activity_task_name_the_activity(sfn):
    activity = sfn.create_activity(name="work")["activityArn"]
    arn = sfn.create_state_machine(name="work", roleArn=ROLE, definition=machine({
        "Work": {"Type": "Task", "Resource": activity, "TimeoutSeconds": 60, "HeartbeatSeconds": 30,
                 "Parameters": PARAMETERS, "End": True}}, "Work"))["stateMachineArn"]
    timed_out = ("TaskTimedOut", f"Task Timed Out: '{activity}'")
    invalid = ("InvalidOutput", "Invalid Output: 'not-json' is not valid JSON.")

    def closed(token: str) -> None:
        # 02-token-validation-success-closed-*, 10-stop-leased-after-stop-*: a heartbeat, a success
        # and a failure are TaskTimedOut naming the activity; output that is not JSON is InvalidOutput first
        assert error_of(sfn.send_task_heartbeat, taskToken=token)[:2] == timed_out
        assert error_of(sfn.send_task_success, taskToken=token, output="{}")[:2] == timed_out
        assert error_of(sfn.send_task_failure, taskToken=token, error="Probe.Late", cause="late")[:2] == timed_out
        assert error_of(sfn.send_task_success, taskToken=token, output="not-json")[:2] == invalid

    run = sfn.start_execution(stateMachineArn=arn, name="succeeds")["executionArn"]
    token = sfn.get_activity_task(activityArn=activity, workerName="w")["taskToken"]
    # 02-token-validation-success-live-invalid-output: refused, the token still good
    assert error_of(sfn.send_task_success, taskToken=token, output="not-json")[:2] == invalid
    sfn.send_task_heartbeat(taskToken=token)
    sfn.send_task_success(taskToken=token, output='{"native":"success"}')
    assert wait_done(sfn, run)["status"] == "SUCCEEDED"
    closed(token)

    stopped = sfn.start_execution(stateMachineArn=arn, name="stopped")["executionArn"]
    token = sfn.get_activity_task(activityArn=activity, workerName="w")["taskToken"]
    sfn.stop_execution(executionArn=stopped, error="Probe.Stopped", cause="owned explicit cancellation")
    closed(token)


def test_an_empty_task_token_is_shown_in_the_refusal(sfn):
    # token-precedence-empty-invalid-output, token-precedence-missing-output
    assert error_of(sfn.send_task_success, taskToken="", output="not-json")[:2] == (
        "ValidationException", "1 validation error detected: Value '' at 'taskToken' failed to satisfy constraint: "
                               "Member must have length greater than or equal to 1")
