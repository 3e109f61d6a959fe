"""Throttled calls are retried as AWS's SDKs retry them, and a Task whose retries run out fails
with the throttling exception's name and cause (INTEGRATIONS-SPEC.md sections 3 and 5: the
optimized family ``DynamoDB.<Exception>`` with the Java SDK v1's cause, the aws-sdk family
``DynamoDb.<Exception>`` with the v2's).

The service is a small DynamoDB on loopback speaking its real protocol (JSON 1.0: POST /,
``X-Amz-Target: DynamoDB_20120810.<Operation>``, errors as HTTP 400 with ``__type``); it answers
from a script, so a test decides how many calls are throttled and counts the calls it received.
The engine reaches it through its own boto3 clients (the ``aws=`` endpoints of the library and
``asl run --endpoint-url dynamodb=URL``), whose retries are the "standard" mode of AWS's SDKs:
three attempts in all, four for DynamoDB in the botocore versions that took up the SDKs' newer standard,
unless ``AWS_MAX_ATTEMPTS`` or the profile's ``max_attempts`` says otherwise.
"""
from __future__ import annotations

import json
import uuid

import pytest

import asl
from asl.engine import run_sync
from support.fake_aws import FakeAws, serve

pytest.importorskip("boto3")

#: messages for the two throttling errors of DynamoDB, in the style of AWS's
#: (the cause carries whatever message the service gave)
THROTTLED = {
    "ProvisionedThroughputExceededException": "The level of configured provisioned throughput for the table was "
                                              "exceeded. Consider increasing your provisioning level with the "
                                              "UpdateTable API.",
    "ThrottlingException": "Rate of requests exceeds the allowed throughput.",
}
#: how many calls the SDK's standard mode makes to DynamoDB: botocore's own table (4), or its
#: default (3) in the botocore versions before DynamoDB had one
ATTEMPTS = getattr(pytest.importorskip("botocore.retries.standard"), "_SERVICE_MAX_ATTEMPTS", {}).get("dynamodb", 3)
ITEM = {"Item": {"id": {"S": "1"}, "total": {"N": "42"}}}


class FakeDynamoDb(FakeAws):
    """Answers each call with the next entry of `script` (the last one again once it runs out):
    a dict is a 200 answer, the name of a throttling error its HTTP 400. `calls` logs
    (operation, request body, request id answered)."""

    content_type = "application/x-amz-json-1.0"
    script: list = []
    calls: list = []

    def do_POST(self):
        operation = self.headers["X-Amz-Target"].split(".")[-1]
        body = self.read_json()
        answer = self.script[min(len(self.calls), len(self.script) - 1)]
        request_id = uuid.uuid4().hex.upper()
        self.calls.append((operation, body, request_id))
        if isinstance(answer, str):
            status, answer = 400, {"__type": f"com.amazonaws.dynamodb.v20120810#{answer}", "message": THROTTLED[answer]}
        else:
            status = 200
        self.reply(answer, status, request_id)


@pytest.fixture
def dynamodb(monkeypatch):
    """The fake's URL, with fake credentials and no retry settings of the machine's own."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE",
                 "AWS_ENDPOINT_URL_DYNAMODB"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")  # no profile's max_attempts
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    FakeDynamoDb.script, FakeDynamoDb.calls = [], []
    server, url = serve(FakeDynamoDb)
    yield url
    server.shutdown()
    server.server_close()


OPTIMIZED = "arn:aws:states:::dynamodb:getItem"
AWS_SDK = "arn:aws:states:::aws-sdk:dynamodb:getItem"
KEY = {"TableName": "Orders", "Key": {"id": {"S": "1"}}}


def get_item(resource: str) -> asl.StateMachine:
    return asl.load({"StartAt": "Get", "States": {"Get": {"Type": "Task", "Resource": resource,
                                                          "Parameters": KEY, "End": True}}})


def run(resource: str, url: str):
    return run_sync(get_item(resource), {}, aws={"endpoints": {"dynamodb": url}, "region": "us-east-1"})


@pytest.mark.parametrize("resource", [OPTIMIZED, AWS_SDK])
@pytest.mark.parametrize("error", sorted(THROTTLED))
def test_a_throttled_call_is_retried_until_it_succeeds(dynamodb, resource, error):
    FakeDynamoDb.script = [error, error, ITEM]
    result = run(resource, dynamodb)
    assert result.status == "SUCCEEDED", result.cause
    assert result.output["Item"] == ITEM["Item"]
    # the same request three times: two throttled, the third answered
    assert [(operation, body) for operation, body, _ in FakeDynamoDb.calls] == [("GetItem", KEY)] * 3
    types = [e["type"] for e in result.history.events]
    assert types.count("TaskScheduled") == 1 and "TaskFailed" not in types  # retried inside the one call


@pytest.mark.parametrize("error", sorted(THROTTLED))
def test_optimized_task_fails_with_the_throttling_exception_once_retries_run_out(dynamodb, error):
    FakeDynamoDb.script = [error]
    result = run(OPTIMIZED, dynamodb)
    assert result.status == "FAILED"
    assert len(FakeDynamoDb.calls) == ATTEMPTS  # then the SDK's standard retries gave up
    assert result.error == f"DynamoDB.{error}"
    request_id = FakeDynamoDb.calls[-1][2]  # the last answer's, as the SDK reports it
    assert result.cause == (f"{THROTTLED[error]} (Service: AmazonDynamoDBv2; Status Code: 400; Error Code: {error}; "
                            f"Request ID: {request_id}; Proxy: null)")


@pytest.mark.parametrize("error", sorted(THROTTLED))
def test_aws_sdk_task_fails_with_the_throttling_exception_once_retries_run_out(dynamodb, error):
    FakeDynamoDb.script = [error]
    result = run(AWS_SDK, dynamodb)
    assert result.status == "FAILED"
    assert len(FakeDynamoDb.calls) == ATTEMPTS
    assert result.error == f"DynamoDb.{error}"
    request_id = FakeDynamoDb.calls[-1][2]
    # the count of the SDK's tries after it (recorded on AWS as "(SDK Attempt Count: 1)" for a 4xx
    # not retried: radkawar/stackd task_integrations.json, sqs-sdk-target-error)
    assert result.cause == (f"{THROTTLED[error]} (Service: DynamoDb, Status Code: 400, Request ID: {request_id}) "
                            f"(SDK Attempt Count: {ATTEMPTS})")


def test_the_state_retrier_matches_the_throttling_error_and_each_attempt_retries_again(dynamodb):
    """A Retry on the throttling error's name runs the Task again, which retries its calls again."""
    FakeDynamoDb.script = ["ProvisionedThroughputExceededException"] * (ATTEMPTS + 2) + [ITEM]
    machine = asl.load({"StartAt": "Get", "States": {"Get": {
        "Type": "Task", "Resource": OPTIMIZED, "Parameters": KEY, "End": True,
        "Retry": [{"ErrorEquals": ["DynamoDB.ProvisionedThroughputExceededException"], "MaxAttempts": 1}]}}})
    result = run_sync(machine, {}, aws={"endpoints": {"dynamodb": dynamodb}, "region": "us-east-1"})
    assert result.status == "SUCCEEDED", result.cause
    assert len(FakeDynamoDb.calls) == ATTEMPTS + 3
    failed = [e for e in result.history.events if e["type"] == "TaskFailed"]
    assert [e["taskFailedEventDetails"]["error"] for e in failed] == ["DynamoDB.ProvisionedThroughputExceededException"]


def test_aws_max_attempts_sets_how_many_calls_are_made(dynamodb, monkeypatch):
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # botocore's own setting: no retry
    FakeDynamoDb.script = ["ThrottlingException", ITEM]
    result = run(AWS_SDK, dynamodb)
    assert result.status == "FAILED" and result.error == "DynamoDb.ThrottlingException"
    assert len(FakeDynamoDb.calls) == 1


def test_asl_run_with_an_endpoint_retries_throttled_calls(dynamodb, tmp_path):
    from click.testing import CliRunner

    from asl.cli.main import get_cli

    definition = tmp_path / "get.json"
    definition.write_text(json.dumps({"StartAt": "Get", "States": {"Get": {
        "Type": "Task", "Resource": OPTIMIZED, "Parameters": KEY, "OutputPath": "$.Item", "End": True}}}))
    FakeDynamoDb.script = ["ThrottlingException", "ThrottlingException", ITEM]
    ok = CliRunner().invoke(get_cli(), ["run", str(definition), "-q", "--endpoint-url", f"dynamodb={dynamodb}"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout) == ITEM["Item"] and len(FakeDynamoDb.calls) == 3
    FakeDynamoDb.script, FakeDynamoDb.calls = ["ThrottlingException"], []
    failed = CliRunner().invoke(get_cli(), ["run", str(definition), "-q", "--endpoint-url", f"dynamodb={dynamodb}"])
    assert failed.exit_code == 1 and "DynamoDB.ThrottlingException" in failed.stderr
    assert len(FakeDynamoDb.calls) == ATTEMPTS
