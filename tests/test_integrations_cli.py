"""`asl run --aws/--endpoint-url` and `asl serve --endpoint-url` against moto's server (a real process)."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from asl.cli.main import get_cli

boto3 = pytest.importorskip("boto3")

PUT = {"StartAt": "Put", "States": {"Put": {
    "Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem",
    "Parameters": {"TableName": "Orders", "Item": {"id": {"S.$": "$.id"}}, "ConditionExpression": "attribute_not_exists(id)"},
    "ResultSelector": {"status.$": "$.SdkHttpMetadata.HttpStatusCode"}, "End": True}}}


@pytest.fixture
def orders(aws):
    ddb = boto3.client("dynamodb", endpoint_url=aws["endpoints"]["*"], region_name="us-east-1")
    ddb.create_table(TableName="Orders", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    return ddb


def test_asl_run_with_an_endpoint(aws, orders, tmp_path):
    definition = tmp_path / "put.json"
    definition.write_text(json.dumps(PUT))
    url = aws["endpoints"]["*"]
    runner = CliRunner()
    ok = runner.invoke(get_cli(), ["run", str(definition), "--input-json", '{"id": "1"}', "-q",
                                   "--endpoint-url", url])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout) == {"status": 200}
    assert orders.get_item(TableName="Orders", Key={"id": {"S": "1"}})["Item"] == {"id": {"S": "1"}}
    again = runner.invoke(get_cli(), ["run", str(definition), "--input-json", '{"id": "1"}', "-q",
                                      "--endpoint-url", f"dynamodb={url}"])
    assert again.exit_code == 1 and "DynamoDB.ConditionalCheckFailedException" in again.stderr
    # without --aws the Task is not served
    unserved = runner.invoke(get_cli(), ["run", str(definition), "--input-json", '{"id": "2"}', "-q"])
    assert unserved.exit_code == 1 and "No handler or mock for the Task state 'Put'" in unserved.stderr
    bad = runner.invoke(get_cli(), ["run", str(definition), "--endpoint-url", "dynamodb=nowhere"])
    assert bad.exit_code == 2 and "expected SERVICE=URL or URL" in bad.stderr


def test_asl_serve_with_an_endpoint(aws, orders, tmp_path):
    pytest.importorskip("uvicorn")
    from test_service import Server, wait_done

    server = Server(tmp_path, "memory", "--endpoint-url", aws["endpoints"]["*"]).start()
    try:
        sfn = server.client()
        arn = sfn.create_state_machine(name="put", definition=json.dumps(PUT),
                                       roleArn="arn:aws:iam::123456789012:role/r")["stateMachineArn"]
        execution = sfn.start_execution(stateMachineArn=arn, input='{"id": "9"}')["executionArn"]
        described = wait_done(sfn, execution)
        assert described["status"] == "SUCCEEDED" and json.loads(described["output"]) == {"status": 200}
        assert "Item" in orders.get_item(TableName="Orders", Key={"id": {"S": "9"}})
    finally:
        server.stop()


SQS_AND_PUT = {"StartAt": "Put", "States": {
    "Put": {**PUT["States"]["Put"], "End": False, "Next": "Send"},
    "Send": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
             "Parameters": {"QueueUrl": "q", "MessageBody": "hi"}, "End": True}}}


def test_tool_asl_endpoints_call_those_services_only(aws, orders, tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text(f'[tool.asl.endpoints]\ndynamodb = "{aws["endpoints"]["*"]}"\n')
    (tmp_path / "flow.json").write_text(json.dumps(SQS_AND_PUT))
    monkeypatch.chdir(tmp_path)
    out = CliRunner().invoke(get_cli(), ["run", "flow.json", "--input-json", '{"id": "5"}', "-q"])
    # DynamoDB is called through the endpoint; SQS has none, so its Task is not served
    assert out.exit_code == 1 and "No handler or mock for the Task state 'Send'" in out.stderr
    assert "Item" in orders.get_item(TableName="Orders", Key={"id": {"S": "5"}})


def test_step_functions_local_variable_turns_on_its_service(aws, orders, tmp_path, monkeypatch):
    (tmp_path / "put.json").write_text(json.dumps(PUT))
    monkeypatch.setenv("DYNAMODB_ENDPOINT", aws["endpoints"]["*"])
    out = CliRunner().invoke(get_cli(), ["run", str(tmp_path / "put.json"), "--input-json", '{"id": "6"}', "-q"])
    assert out.exit_code == 0, out.output
    assert "Item" in orders.get_item(TableName="Orders", Key={"id": {"S": "6"}})


def test_asl_run_machine_runs_the_child_here(tmp_path):
    (tmp_path / "child.json").write_text(json.dumps({"StartAt": "P", "States": {"P": {
        "Type": "Pass", "Parameters": {"doubled.$": "States.MathAdd($.n, $.n)"}, "End": True}}}))
    (tmp_path / "parent.json").write_text(json.dumps({"StartAt": "S", "States": {"S": {
        "Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
        "Parameters": {"StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:child",
                       "Input": {"n.$": "$.n"}}, "OutputPath": "$.Output", "End": True}}}))
    out = CliRunner().invoke(get_cli(), ["run", str(tmp_path / "parent.json"), "--input-json", '{"n": 4}', "-q",
                                         "--machine", str(tmp_path / "child.json")])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout) == {"doubled": 8}


def test_credentials_role_arn_is_assumed_through_sts(aws, orders):
    import asl
    from asl.engine import run_sync

    machine = asl.load({"StartAt": "Put", "States": {"Put": {
        **PUT["States"]["Put"], "Credentials": {"RoleArn": "arn:aws:iam::123456789012:role/writer"}}}})
    result = run_sync(machine, {"id": "7"}, aws=aws)
    assert result.status == "SUCCEEDED", result.cause
    scheduled = next(e for e in result.history.events if e["type"] == "TaskScheduled")
    assert scheduled["taskScheduledEventDetails"]["taskCredentials"] == {
        "roleArn": "arn:aws:iam::123456789012:role/writer"}
    # the call is made with the role's credentials: STS says who is calling
    who = asl.load({"StartAt": "Who", "States": {"Who": {
        "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sts:getCallerIdentity", "Parameters": {},
        "Credentials": {"RoleArn": "arn:aws:iam::123456789012:role/writer"}, "End": True}}})
    result = run_sync(who, {}, aws=aws)
    assert result.status == "SUCCEEDED", result.cause
    assert result.output["Arn"] == "arn:aws:sts::123456789012:assumed-role/writer/asl-engine"
    plain = run_sync(who, {}, aws={**aws, "assume_role": False})
    assert ":assumed-role/" not in plain.output["Arn"]
