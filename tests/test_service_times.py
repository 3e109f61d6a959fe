"""The API's times as AWS gives them, through `asl serve` as a process: epoch seconds to the
millisecond, written as AWS's Java serialiser writes a double. AWS's own answer, as a user
printed it: ``{"executionArn":"arn:aws:states:…:execution:AzureBlogSummarizer:a8a7…",
"startDate":1.710029283873E9}``; the recorded service cases agree (a child StartExecution answer
whose recorded Content-Length, 161, holds a 16-character startDate). What a caller is told is
what is stored: the same time read back any way gives the same text."""
from __future__ import annotations

import json
import re
import urllib.request

import pytest

pytest.importorskip("boto3")
pytest.importorskip("uvicorn")

from test_service import ROLE, server  # noqa: E402,F401  (the fixture)

from asl.engine.apitime import TIME_MEMBERS  # noqa: E402

# a time to the millisecond in Java's Double.toString: 10 digits of seconds, at most 3 decimals
JAVA_TIME = re.compile(r"[1-9]\.[0-9]{1,12}E9")
TIMES = re.compile(r'"(' + "|".join(TIME_MEMBERS) + r')":([^,}\]]+)')


def raw(server, action: str, body: dict) -> str:
    """The answer's body as sent (boto3 parses the times away)."""
    request = urllib.request.Request(server.endpoint, data=json.dumps(body).encode(), method="POST")
    request.add_header("Content-Type", "application/x-amz-json-1.0")
    request.add_header("X-Amz-Target", "AWSStepFunctions." + action)
    with urllib.request.urlopen(request) as answer:
        return answer.read().decode()


def times(text: str) -> list[tuple[str, str]]:
    found = TIMES.findall(text)
    assert all(JAVA_TIME.fullmatch(value) for _, value in found), found
    return found


def test_time_members_are_the_models():
    from asl.service.protocol import model

    shapes = model()["shapes"]
    members = {name for shape in shapes.values() if shape["type"] == "structure"
               for name, member in shape.get("members", {}).items() if shapes[member["shape"]]["type"] == "timestamp"}
    assert members == set(TIME_MEMBERS)


def test_times_are_milliseconds_written_as_aws_writes_them(server):
    definition = json.dumps({"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 600, "End": True}}})
    created = raw(server, "CreateStateMachine", {"name": "m", "definition": definition, "roleArn": ROLE})
    arn = json.loads(created)["stateMachineArn"]
    (_, creation), = times(created)
    assert dict(times(raw(server, "DescribeStateMachine", {"stateMachineArn": arn})))["creationDate"] == creation
    assert times(raw(server, "ListStateMachines", {})) == [("creationDate", creation)]

    started = raw(server, "StartExecution", {"stateMachineArn": arn, "name": "e"})
    execution = json.loads(started)["executionArn"]
    (_, start), = times(started)
    assert dict(times(raw(server, "DescribeExecution", {"executionArn": execution})))["startDate"] == start
    assert dict(times(raw(server, "ListExecutions", {"stateMachineArn": arn})))["startDate"] == start
    again = raw(server, "StartExecution", {"stateMachineArn": arn, "name": "e"})  # idempotent: the same answer
    assert again == started
    stopped = raw(server, "StopExecution", {"executionArn": execution})
    (_, stop), = times(stopped)
    described = dict(times(raw(server, "DescribeExecution", {"executionArn": execution})))
    assert described == {"startDate": start, "stopDate": stop}
    history = raw(server, "GetExecutionHistory", {"executionArn": execution})
    assert [name for name, _ in times(history)] == ["timestamp"] * len(json.loads(history)["events"])

    activity = raw(server, "CreateActivity", {"name": "a"})
    (_, made), = times(activity)
    described = raw(server, "DescribeActivity", {"activityArn": json.loads(activity)["activityArn"]})
    assert times(described) == [("creationDate", made)]

    parsed = server.client().describe_execution(executionArn=execution)  # boto3 reads them as datetimes
    assert parsed["startDate"].timestamp() == float(start) and parsed["startDate"].microsecond % 1000 == 0


def test_a_child_start_answer_counts_the_time_as_aws_writes_it(server):
    """A startExecution Task's SdkHttpMetadata: Content-Length is the length of StartExecution's
    answer as AWS writes it, the startDate in Java's notation."""
    sfn = server.client()
    child = sfn.create_state_machine(name="child", roleArn=ROLE, definition=json.dumps(
        {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))["stateMachineArn"]
    parent = sfn.create_state_machine(name="parent", roleArn=ROLE, definition=json.dumps({"StartAt": "Go", "States": {
        "Go": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution",
               "Parameters": {"StateMachineArn": child, "Name": "kid"}, "End": True}}}))["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=parent)["executionArn"]
    from support.polling import poll

    assert poll(lambda: sfn.describe_execution(executionArn=execution)["status"] != "RUNNING", "never ended")
    output = json.loads(sfn.describe_execution(executionArn=execution)["output"])
    kid = sfn.describe_execution(executionArn=output["ExecutionArn"])
    assert output["StartDate"] == round(kid["startDate"].timestamp() * 1000)  # epoch milliseconds, the same time
    seconds = raw(server, "DescribeExecution", {"executionArn": output["ExecutionArn"]})
    start = dict(times(seconds))["startDate"]
    answer = '{"executionArn":"%s","startDate":%s}' % (output["ExecutionArn"], start)
    assert output["SdkHttpMetadata"]["HttpHeaders"]["Content-Length"] == str(len(answer))
