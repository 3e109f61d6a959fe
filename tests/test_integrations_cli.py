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
