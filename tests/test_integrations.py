"""Tasks that call services through boto3 (engine/integrations), against moto's server run as a
real process on loopback. Expected shapes, error names and cause formats come from
INTEGRATIONS-SPEC.md (AWS docs and LocalStack's tests recorded on AWS), not from our output."""
from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile

import pytest

import asl
from asl.engine import Handlers, run_sync

boto3 = pytest.importorskip("boto3")

METADATA = {"SdkHttpMetadata", "SdkResponseMetadata"}
# the Java SDK v1's cause: "<message> (Service: <client>; Status Code: <n>; Error Code: <code>; Request ID: <id>; Proxy: null)"
V1_CAUSE = r"(?P<message>.*) \(Service: {service}; Status Code: {status}; Error Code: {code}; Request ID: [^;]*; " \
           r"Proxy: null\)"
# the Java SDK v2's: "<message> (Service: <Prefix>, Status Code: <n>, Request ID: <id>[, Extended Request ID:
# <id2>])", the count of tries after it: recorded on AWS (radkawar/stackd task_integrations.json, s3-no-such-key:
# "... (Service: S3, Status Code: 404, Request ID: ..., Extended Request ID: ...) (SDK Attempt Count: 1)")
V2_CAUSE = r"(?P<message>.*) \(Service: {service}, Status Code: {status}, Request ID: [^,)]*" \
           r"(, Extended Request ID: [^)]*)?\) \(SDK Attempt Count: 1\)"


def task(resource: str, parameters: dict | None = None, **extra) -> asl.StateMachine:
    state = {"Type": "Task", "Resource": resource, "End": True, **extra}
    if parameters is not None:
        state["Parameters"] = parameters
    return asl.load({"StartAt": "Call", "States": {"Call": state}})


def client(aws, service):
    return boto3.client(service, endpoint_url=aws["endpoints"]["*"], region_name="us-east-1")


@pytest.fixture
def table(aws):
    ddb = client(aws, "dynamodb")
    ddb.create_table(TableName="Orders", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    return ddb


@pytest.fixture
def function(aws, moto_server):
    """A Lambda function in moto's simple Lambda (no Docker): an invoke answers with its payload."""
    moto_server.simple_lambda()
    role = client(aws, "iam").create_role(RoleName="fn-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("main.py", "def handler(event, context):\n    return event\n")
    return client(aws, "lambda").create_function(FunctionName="Validate", Runtime="python3.12", Role=role,
                                                 Handler="main.handler", Code={"ZipFile": code.getvalue()})


def assert_metadata(result: dict) -> None:
    """What the Java SDK v1 adds to an optimized integration's result (LS dynamodb, sqs, sns, lambda)."""
    http = result["SdkHttpMetadata"]
    assert set(http) == {"AllHttpHeaders", "HttpHeaders", "HttpStatusCode"}
    assert http["HttpStatusCode"] == 200
    assert all(isinstance(v, list) for v in http["AllHttpHeaders"].values())
    assert {k: v[-1] for k, v in http["AllHttpHeaders"].items()} == http["HttpHeaders"]
    request_ids = [v for k, v in http["HttpHeaders"].items() if k.lower() == "x-amzn-requestid"]
    assert result["SdkResponseMetadata"] == {"RequestId": request_ids[0]}
    # the orders AWS writes (every LS recording; radkawar/stackd task_integrations.json): the result's
    # members alphabetically, HttpHeaders alphabetically without case
    assert list(result) == sorted(result)
    assert list(http["HttpHeaders"]) == sorted(http["HttpHeaders"], key=str.lower)


def test_sdk_metadata_in_the_orders_aws_writes():
    """radkawar/stackd task_integrations.json, sqs-optimized-request-response (as every LS
    recording of /work/shared/conformance): AllHttpHeaders in java.util.HashMap order of the
    names, HttpHeaders in case-insensitive alphabetical order, the result's members sorted."""
    from asl.engine.integrations.shapes import sdk_v1_result

    wire = [("Date", "Wed, 23 Sep 2026 22:15:25 GMT"), ("Content-Type", "application/x-amz-json-1.0"),
            ("Content-Length", "106"), ("connection", "keep-alive"), ("x-amzn-RequestId", "0e8a714c")]
    response = {"ResponseMetadata": {"RawHeaders": wire, "HTTPStatusCode": 200, "RequestId": "0e8a714c"}}
    result = sdk_v1_result({"MessageId": "62aa5cdd", "MD5OfMessageBody": "c4886909"}, response)
    assert list(result) == ["MD5OfMessageBody", "MessageId", "SdkHttpMetadata", "SdkResponseMetadata"]
    http = result["SdkHttpMetadata"]
    assert list(http["AllHttpHeaders"]) == ["x-amzn-RequestId", "connection", "Content-Length", "Date", "Content-Type"]
    assert list(http["HttpHeaders"]) == ["connection", "Content-Length", "Content-Type", "Date", "x-amzn-RequestId"]
    assert http["AllHttpHeaders"]["connection"] == ["keep-alive"] and http["HttpHeaders"]["Content-Length"] == "106"
    assert result["SdkResponseMetadata"] == {"RequestId": "0e8a714c"}


# ---- the seam: handler > mock > integration --------------------------------------------------

def test_without_aws_a_task_without_handler_is_not_called(table):
    result = run_sync(task("arn:aws:states:::dynamodb:getItem", {"TableName": "Orders", "Key": {}}))
    assert result.error == "States.Runtime" and "No handler or mock for the Task state 'Call'" in result.cause


def test_a_handler_wins_over_the_service(aws, table):
    handlers = Handlers()
    handlers.state("Call")(lambda payload: {"from": "handler"})
    result = run_sync(task("arn:aws:states:::dynamodb:getItem", {"TableName": "Missing", "Key": {}}), {},
                      handlers=handlers, aws=aws)
    assert result.output == {"from": "handler"}


def test_a_mock_wins_over_the_service(aws, table):
    mocks = {"StateMachines": {"M": {"TestCases": {"Case": {"Call": "R"}}}},
             "MockedResponses": {"R": {"0": {"Return": {"from": "mock"}}}}}
    result = run_sync(task("arn:aws:states:::dynamodb:getItem", {"TableName": "Missing", "Key": {}}), {},
                      mock_config=mocks, test_case="Case", state_machine_name="M", aws=aws)
    assert result.output == {"from": "mock"}


def test_endpoint_for_one_service_and_bad_options(aws, table):
    from asl.engine.integrations import AwsConfig, AwsConfigError

    only = {"endpoints": {"dynamodb": aws["endpoints"]["*"]}, "region": "us-east-1"}
    result = run_sync(task("arn:aws:states:::dynamodb:putItem", {"TableName": "Orders", "Item": {"id": {"S": "1"}}}),
                      {}, aws=only)
    assert result.status == "SUCCEEDED"
    assert AwsConfig.of({"endpoints": ["states=http://h:1", "http://all:2"]}).endpoints == {
        "stepfunctions": "http://h:1", "*": "http://all:2"}
    with pytest.raises(AwsConfigError):
        AwsConfig.of({"endpoints": ["sqs=ftp://nowhere"]})
    with pytest.raises(AwsConfigError):
        AwsConfig.of({"endpoint": "x"})


def test_step_functions_local_variables(monkeypatch):
    from asl.engine.integrations import AwsConfig

    monkeypatch.setenv("LAMBDA_ENDPOINT", "http://127.0.0.1:9001")
    config = AwsConfig.of({"endpoints": {"sqs": "http://127.0.0.1:9002"}})
    assert config.endpoint("lambda") == "http://127.0.0.1:9001" and config.endpoint("sqs") == "http://127.0.0.1:9002"
    assert config.endpoint("sns") is None  # botocore's own AWS_ENDPOINT_URL_* and config then apply


# ---- DynamoDB -------------------------------------------------------------------------------

def test_dynamodb_item_apis(aws, table):
    put = run_sync(task("arn:aws:states:::dynamodb:putItem",
                        {"TableName": "Orders", "Item": {"id": {"S": "1"}, "total": {"N": "5"}}}), {}, aws=aws)
    assert set(put.output) == METADATA  # putItem: only metadata without ReturnValues (LS)
    assert_metadata(put.output)
    assert table.get_item(TableName="Orders", Key={"id": {"S": "1"}})["Item"]["total"] == {"N": "5"}

    got = run_sync(task("arn:aws:states:::dynamodb:getItem", {"TableName": "Orders", "Key": {"id": {"S": "1"}}}),
                   {}, aws=aws)
    assert got.output["Item"] == {"id": {"S": "1"}, "total": {"N": "5"}} and set(got.output) == {"Item"} | METADATA

    updated = run_sync(task("arn:aws:states:::dynamodb:updateItem", {
        "TableName": "Orders", "Key": {"id": {"S": "1"}}, "UpdateExpression": "SET #t = :t",
        "ExpressionAttributeNames": {"#t": "total"}, "ExpressionAttributeValues": {":t": {"N": "7"}},
        "ReturnValues": "ALL_NEW"}), {}, aws=aws)
    assert updated.output["Attributes"] == {"id": {"S": "1"}, "total": {"N": "7"}}

    deleted = run_sync(task("arn:aws:states:::dynamodb:deleteItem", {"TableName": "Orders", "Key": {"id": {"S": "1"}}}),
                       {}, aws=aws)
    assert set(deleted.output) == METADATA
    assert "Item" not in table.get_item(TableName="Orders", Key={"id": {"S": "1"}})


def test_dynamodb_conditional_check_and_missing_table(aws, table):
    item = {"TableName": "Orders", "Item": {"id": {"S": "1"}}, "ConditionExpression": "attribute_not_exists(id)"}
    assert run_sync(task("arn:aws:states:::dynamodb:putItem", item), {}, aws=aws).status == "SUCCEEDED"
    again = run_sync(task("arn:aws:states:::dynamodb:putItem", item), {}, aws=aws)
    assert again.error == "DynamoDB.ConditionalCheckFailedException"
    assert re.fullmatch(V1_CAUSE.format(service="AmazonDynamoDBv2", status=400,
                                        code="ConditionalCheckFailedException"), again.cause)
    missing = run_sync(task("arn:aws:states:::dynamodb:getItem", {"TableName": "Nope", "Key": {"id": {"S": "1"}}}),
                       {}, aws=aws)
    assert missing.error == "DynamoDB.ResourceNotFoundException"
    assert re.fullmatch(V1_CAUSE.format(service="AmazonDynamoDBv2", status=400, code="ResourceNotFoundException"),
                        missing.cause)


def test_a_service_error_is_caught_and_retried_by_name(aws, table):
    machine = asl.load({"StartAt": "Put", "States": {
        "Put": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem",
                "Parameters": {"TableName": "Orders", "Item": {"id": {"S": "1"}},
                               "ConditionExpression": "attribute_exists(id)"},
                "Retry": [{"ErrorEquals": ["DynamoDB.ConditionalCheckFailedException"], "MaxAttempts": 1}],
                "Catch": [{"ErrorEquals": ["DynamoDB.ConditionalCheckFailedException"], "Next": "Dup"}],
                "End": True},
        "Dup": {"Type": "Pass", "End": True}}})
    result = run_sync(machine, {}, aws=aws)
    assert result.status == "SUCCEEDED" and result.output["Error"] == "DynamoDB.ConditionalCheckFailedException"
    failed = [e for e in result.history.to_aws()["events"] if e["type"] == "TaskFailed"]
    assert len(failed) == 2  # the call and its one retry


def test_unusable_parameters_fail_before_any_call(aws, table):
    result = run_sync(task("arn:aws:states:::dynamodb:putItem", {"TableName": "Orders", "Item": "not an item"}),
                      {}, aws=aws)
    assert result.error == "States.Runtime"
    assert "could not be used to start the Task: [The value of the field 'Item' has an invalid format]" in result.cause
    types = [e["type"] for e in result.history.to_aws()["events"]]
    assert "TaskScheduled" not in types
    # deeper in the request, against the API's model: the Task fails with States.Runtime too (a
    # number for an AttributeValue: the SDK v1 class has no one-number constructor; a string is
    # one, below)
    nested = run_sync(task("arn:aws:states:::dynamodb:putItem", {"TableName": "Orders", "Item": {"id": 5}}),
                      {}, aws=aws)
    assert nested.error == "States.Runtime" and "The value of the field 'Item' has an invalid format" in nested.cause


def test_dynamodb_plain_string_attribute_values_are_strings(aws, table):
    """Recorded on AWS in aws-samples/serverless-patterns sfn-dynamodb/README.md: a putItem whose
    Item is {"id.$": "$.id", "description.$": "States.Format('Hello, my id is {}.', $.id)"}, run
    with {"id": "123456"}, SUCCEEDED, and the getItem after it answered
    {"description": {"S": "Hello, my id is 123456."}, "id": {"S": "123456"}}: the optimized
    integration reads the Parameters into the Java SDK v1's AttributeValue, whose String
    constructor sets S. The same machine here, against moto."""
    machine = asl.load({"StartAt": "SendToDDB", "States": {
        "SendToDDB": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem",
                      "ResultPath": "$.output_from_ddb_put",
                      "Parameters": {"TableName": "Orders", "Item": {
                          "id.$": "$.id", "description.$": "States.Format('Hello, my id is {}.', $.id)"}},
                      "Next": "ReadFromDDB"},
        "ReadFromDDB": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:getItem",
                        "Parameters": {"TableName": "Orders", "Key": {"id.$": "$.id"}},
                        "ResultPath": "$.output_from_ddb_get", "OutputPath": "$.output_from_ddb_get.Item",
                        "End": True}}})
    result = run_sync(machine, {"id": "123456"}, aws=aws)
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"description": {"S": "Hello, my id is 123456."}, "id": {"S": "123456"}}


# ---- Lambda ---------------------------------------------------------------------------------

def test_lambda_invoke_result_shape(aws, function):
    result = run_sync(task("arn:aws:states:::lambda:invoke", {"FunctionName": "Validate", "Payload": {"order": 1}}),
                      {}, aws=aws)
    assert result.status == "SUCCEEDED"
    out = result.output
    assert out["Payload"] == {"order": 1}  # parsed JSON, as the function returned it
    assert out["StatusCode"] == 200
    assert set(out) <= {"ExecutedVersion", "Payload", "StatusCode", "LogResult"} | METADATA
    assert_metadata(out)
    # the function ARN as Resource: the function's own result, no envelope
    legacy = run_sync(task(function["FunctionArn"]), {"order": 2}, aws=aws)
    assert legacy.output == {"order": 2}
    events = [e["type"] for e in legacy.history.to_aws()["events"]]
    assert "LambdaFunctionSucceeded" in events


def test_a_payload_string_reaches_the_function_alike_through_boto3_and_a_handler(aws, function):
    """Step Functions sends a Payload string that is JSON text as the request body as it is (the
    function gets the value it spells: recorded on AWS, LocalStack's test_credentials_base, Payload
    '"PayloadFromTrustedAccount"' reaches an identity function as "PayloadFromTrustedAccount"), and
    any other string as a JSON string. NaN and Infinity are not JSON text (Jackson refuses them),
    though Python's json.loads takes them. The function here echoes its event: moto's simple
    Lambda, and a local handler."""
    machine = task("arn:aws:states:::lambda:invoke", {"FunctionName": "Validate", "Payload.$": "$.p"})
    cases = {'"PayloadFromTrustedAccount"': "PayloadFromTrustedAccount", '{"a": [1, 2]}': {"a": [1, 2]},
             "7": 7, "not json": "not json", "NaN": "NaN", "[Infinity]": "[Infinity]", "-Infinity": "-Infinity"}
    for text, expected in cases.items():
        called = run_sync(machine, {"p": text}, aws=aws)
        handled = run_sync(machine, {"p": text}, handlers={"Validate": lambda event: event})
        assert (called.status, called.output["Payload"]) == ("SUCCEEDED", expected), text
        assert (handled.status, handled.output["Payload"]) == ("SUCCEEDED", expected), text


def test_lambda_missing_function(aws):
    result = run_sync(task("arn:aws:states:::lambda:invoke", {"FunctionName": "Nope", "Payload": {}}), {}, aws=aws)
    assert result.error == "Lambda.ResourceNotFoundException"
    assert re.fullmatch(V1_CAUSE.format(service="AWSLambda", status=404, code="ResourceNotFoundException"),
                        result.cause)


def test_a_function_error_is_named_by_its_error_type():
    from asl.errors import StatesError
    from asl.engine.integrations.optimized import function_result

    document = {"errorMessage": "bad order", "errorType": "ValidationError", "requestId": "r",
                "stackTrace": ["  File x"]}
    with pytest.raises(StatesError) as failed:
        function_result("Unhandled", json.dumps(document))
    assert failed.value.error == "ValidationError"
    assert failed.value.cause == json.dumps(document, separators=(",", ":"))  # compact JSON text (LS)
    # through a Lambda function ARN as the Resource, the payload's own text is the cause (recorded
    # on AWS: LocalStack's test_express_sync test_retry, a Python function's spaced JSON, while
    # test_catch through lambda:invoke has it compact)
    with pytest.raises(StatesError) as verbatim:
        function_result("Unhandled", json.dumps(document), verbatim=True)
    assert verbatim.value.error == "ValidationError" and verbatim.value.cause == json.dumps(document)
    with pytest.raises(StatesError) as unknown:
        function_result("Unhandled", '{"errorMessage": "Task timed out after 3.00 seconds"}')
    assert unknown.value.error == "Lambda.Unknown"
    assert function_result(None, "not json") == "not json"


# ---- SQS, SNS, EventBridge ------------------------------------------------------------------

def test_sqs_send_message(aws):
    sqs = client(aws, "sqs")
    queue = sqs.create_queue(QueueName="orders")["QueueUrl"]
    result = run_sync(task("arn:aws:states:::sqs:sendMessage", {"QueueUrl": queue, "MessageBody": {"order": 1}}),
                      {}, aws=aws)
    body = '{"order":1}'  # a JSON MessageBody is sent as its compact text
    assert result.output["MD5OfMessageBody"] == hashlib.md5(body.encode()).hexdigest()
    assert isinstance(result.output["MessageId"], str)
    assert_metadata(result.output)
    received = sqs.receive_message(QueueUrl=queue)["Messages"][0]
    assert received["Body"] == body and received["MessageId"] == result.output["MessageId"]


def test_sqs_missing_queue(aws):
    url = aws["endpoints"]["*"] + "/123456789012/nope"
    result = run_sync(task("arn:aws:states:::sqs:sendMessage", {"QueueUrl": url, "MessageBody": "x"}), {}, aws=aws)
    assert result.error == "SQS.QueueDoesNotExistException"
    assert re.fullmatch(V1_CAUSE.format(service="AmazonSQS", status=400, code="AWS.SimpleQueueService.NonExistentQueue"),
                        result.cause)


def test_sqs_queue_url_of_an_unknown_host_is_a_client_failure(aws):
    """Recorded on AWS (LocalStack error_handling/test_task_service_sqs::test_send_message_no_such_queue):
    the SDK sends an SQS call to its QueueUrl's host, so a host no DNS knows fails the call before
    any service answers it: SQS.SdkClientException, not the endpoint's QueueDoesNotExist."""
    url = "http://no-such-queue.invalid/123456789012/orders"  # .invalid: never resolves (RFC 6761)
    result = run_sync(task("arn:aws:states:::sqs:sendMessage", {"QueueUrl": url, "MessageBody": "x"}), {}, aws=aws)
    assert result.error == "SQS.SdkClientException"
    assert re.fullmatch(r"Unable to execute HTTP request: no-such-queue\.invalid: "
                        r"(Name or service not known|Temporary failure in name resolution)", result.cause), result.cause
    assert result.history.types()[-3:] == ["TaskStarted", "TaskFailed", "ExecutionFailed"]


def test_sqs_queue_urls_an_emulator_answers_for_are_not_looked_up(aws, monkeypatch):
    """Through an endpoint of the run's own (moto here; LocalStack or ElasticMQ in a container), the
    endpoint answers for its queues whatever host their URLs name: a container's name this machine
    cannot resolve (LocalStack's LOCALSTACK_HOST, ElasticMQ's node-address) still reaches the queue,
    as it did before the QueueUrl's host was looked up; a queue it does not hold, under such a host,
    is AWS's SdkClientException. Without an endpoint (AWS) the host is looked up before any call."""
    sqs = client(aws, "sqs")
    sqs.create_queue(QueueName="orders")
    url = "http://sqs.us-east-1.localstack.invalid:4566/123456789012/orders"  # a host no DNS knows
    result = run_sync(task("arn:aws:states:::sqs:sendMessage", {"QueueUrl": url, "MessageBody": "hi"}), {}, aws=aws)
    assert result.status == "SUCCEEDED", result.cause
    received = sqs.receive_message(QueueUrl=sqs.get_queue_url(QueueName="orders")["QueueUrl"])["Messages"]
    assert [m["Body"] for m in received] == ["hi"]
    gone = url.replace("/orders", "/nope")
    result = run_sync(task("arn:aws:states:::sqs:sendMessage", {"QueueUrl": gone, "MessageBody": "x"}), {}, aws=aws)
    assert result.error == "SQS.SdkClientException"
    assert result.cause.startswith("Unable to execute HTTP request: sqs.us-east-1.localstack.invalid: ")
    # the endpoint given to boto3 itself (AWS_ENDPOINT_URL) is the run's own too
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws["endpoints"]["*"])
    result = run_sync(task("arn:aws:states:::sqs:sendMessage", {"QueueUrl": url, "MessageBody": "again"}), {},
                      aws={"region": "us-east-1"})
    assert result.status == "SUCCEEDED", result.cause
    # no endpoint: the call would go to AWS, and AWS's SDK goes to the QueueUrl's host first, so
    # it fails here before any request is sent
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    result = run_sync(task("arn:aws:states:::sqs:sendMessage", {"QueueUrl": gone, "MessageBody": "x"}), {},
                      aws={"region": "us-east-1"})
    assert result.error == "SQS.SdkClientException", result.cause


def test_sqs_refuses_a_null_message_body_as_a_missing_parameter(aws):
    """Recorded on AWS (LocalStack error_handling/test_task_service_sqs::test_send_message_empty_body):
    a null MessageBody is a missing parameter to SQS, which answers as the query APIs do, after
    TaskScheduled/TaskStarted; not DynamoDB's "1 validation error detected" list."""
    queue = client(aws, "sqs").create_queue(QueueName="orders")["QueueUrl"]
    result = run_sync(task("arn:aws:states:::sqs:sendMessage", {"QueueUrl": queue, "MessageBody": None}), {}, aws=aws)
    assert result.error == "SQS.AmazonSQSException"
    match = re.fullmatch(V1_CAUSE.format(service="AmazonSQS", status=400, code="MissingParameter"), result.cause)
    assert match and match["message"] == "The request must contain the parameter MessageBody."
    assert result.history.types()[-3:] == ["TaskStarted", "TaskFailed", "ExecutionFailed"]


def test_sns_publish_and_missing_topic(aws):
    sns, sqs = client(aws, "sns"), client(aws, "sqs")
    topic = sns.create_topic(Name="orders")["TopicArn"]
    queue = sqs.create_queue(QueueName="notified")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    result = run_sync(task("arn:aws:states:::sns:publish", {"TopicArn": topic, "Message": {"order": 1}}), {}, aws=aws)
    assert isinstance(result.output["MessageId"], str)
    assert_metadata(result.output)
    assert sqs.receive_message(QueueUrl=queue)["Messages"][0]["Body"] == '{"order":1}'
    missing = run_sync(task("arn:aws:states:::sns:publish",
                            {"TopicArn": "arn:aws:sns:us-east-1:123456789012:nope", "Message": "x"}), {}, aws=aws)
    assert missing.error == "SNS.NotFoundException"
    assert re.fullmatch(V1_CAUSE.format(service="AmazonSNS", status=404, code="NotFound"), missing.cause)


def test_eventbridge_put_events(aws):
    result = run_sync(task("arn:aws:states:::events:putEvents", {"Entries": [
        {"Detail": {"order": 1}, "DetailType": "OrderPlaced", "Source": "shop"}]}), {}, aws=aws)
    # no SDK metadata on putEvents (LS)
    assert set(result.output) == {"Entries", "FailedEntryCount"} and result.output["FailedEntryCount"] == 0
    assert isinstance(result.output["Entries"][0]["EventId"], str)
    failed = run_sync(task("arn:aws:states:::events:putEvents", {"Entries": [
        {"Detail": {"order": 1}, "DetailType": "OrderPlaced", "Source": "shop", "EventBusName": "missing-bus"}]}),
        {}, aws=aws)
    if failed.status == "FAILED":  # moto may answer with a failed entry or an error
        assert failed.error in ("EventBridge.FailedEntry", "EventBridge.ResourceNotFoundException")


@pytest.mark.parametrize("through", ["sqs", "sns"])
def test_wait_for_task_token_round_trip_through_a_real_queue(aws, through):
    """sqs:sendMessage.waitForTaskToken, and sns:publish.waitForTaskToken to a topic the queue is
    subscribed to: the message carries the token; a worker reading the queue answers with
    SendTaskSuccess and the Task's result is that output (never wrapped)."""
    import anyio

    from asl.engine import prepare

    sqs = client(aws, "sqs")
    queue = sqs.create_queue(QueueName=f"approvals-{through}")["QueueUrl"]
    message = {"order.$": "$.order", "token.$": "$$.Task.Token"}
    if through == "sqs":
        machine = task("arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                       {"QueueUrl": queue, "MessageBody": message}, TimeoutSeconds=60)
    else:
        sns = client(aws, "sns")
        topic = sns.create_topic(Name="approvals")["TopicArn"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
        machine = task("arn:aws:states:::sns:publish.waitForTaskToken", {"TopicArn": topic, "Message": message},
                       TimeoutSeconds=60)
    execution = prepare(machine, {"order": 7}, aws=aws, virtual_time=False)

    async def worker() -> None:
        def receive() -> dict | None:
            for _ in range(30):  # long polls until the Task's message arrives
                messages = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages")
                if messages:
                    return json.loads(messages[0]["Body"])
            return None
        body = await anyio.to_thread.run_sync(receive, abandon_on_cancel=True)
        if body is not None:
            execution.send_task_success(body["token"], {"approved": body["order"]})

    async def main():
        async with anyio.create_task_group() as group:
            group.start_soon(worker)
            result = await execution.run()
            group.cancel_scope.cancel()  # the worker, if the Task never sent its message
            return result

    result = anyio.run(main)
    assert result.status == "SUCCEEDED" and result.output == {"approved": 7}
    events = [e["type"] for e in result.history.to_aws()["events"]]
    assert events.index("TaskSubmitted") < events.index("TaskSucceeded")
    submitted = next(e for e in result.history.to_aws()["events"] if e["type"] == "TaskSubmitted")
    output = json.loads(submitted["taskSubmittedEventDetails"]["output"])
    assert "MessageId" in output and "SdkHttpMetadata" in output  # the API's response


def test_a_service_that_cannot_be_reached(aws, monkeypatch):
    from support.postgres import free_port

    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # botocore's retries of a refused connection, off
    nowhere = {"endpoints": {"*": f"http://127.0.0.1:{free_port()}"}}
    result = run_sync(task("arn:aws:states:::sqs:sendMessage", {"QueueUrl": "q", "MessageBody": "x"}), {},
                      aws=nowhere)
    assert result.error == "SQS.SdkClientException" and result.cause.startswith("Unable to execute HTTP request: ")
    sdk = run_sync(task("arn:aws:states:::aws-sdk:s3:listBuckets", {}), {}, aws=nowhere)
    assert sdk.error == "S3.SdkClientException"


def test_null_parameters_reach_the_service_which_refuses_them(aws, table):
    """Recorded on AWS (conformance case ..._test_invalid_param): a null Item is sent, and DynamoDB's
    validation error is DynamoDB.AmazonDynamoDBException after TaskScheduled/TaskStarted."""
    result = run_sync(task("arn:aws:states:::dynamodb:putItem", {"TableName": "Orders", "Item": None}), {}, aws=aws)
    assert result.error == "DynamoDB.AmazonDynamoDBException"
    types = [e["type"] for e in result.history.to_aws()["events"]]
    assert types == ["ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskFailed",
                     "ExecutionFailed"]


def test_eventbridge_failed_entry_cause_is_the_response(aws):
    from asl.errors import StatesError
    from asl.engine.integrations import Integrations
    from asl.resources import parse_resource

    # an entry without Source: moto answers with a failed entry, as EventBridge does
    integrations = Integrations.of(aws)
    with pytest.raises(StatesError) as failed:
        integrations.call(parse_resource("arn:aws:states:::events:putEvents"),
                          {"Entries": [{"Detail": "{}", "DetailType": "d"}]})
    assert failed.value.error == "EventBridge.FailedEntry"
    cause = json.loads(failed.value.cause)
    assert cause["FailedEntryCount"] == 1 and "ErrorCode" in cause["Entries"][0]
    # AWS's spelling (recorded: ..._test_put_events_malformed_detail): keys in order, ", " and ": "
    assert failed.value.cause == json.dumps(cause, sort_keys=True)


def test_aws_sdk_lambda_invoke_sends_the_payload_as_the_body_never_base64(aws, function):
    """aws-sdk:lambda:invoke through boto3: a Payload string is the request body as it is, even
    when it reads as base64 (raw AWS capture radkawar/stackd
    testdata/aws/stepfunctions/lambda_integrations.json history-sdk-payload-base64-string: AWS sent
    the text, which Lambda refused as not JSON; history-sdk-payload-json-string: JSON text reaches
    the function as its value); an object as its JSON; a null Payload as no body (history-sdk-payload-null,
    the function got {}). The result is Lambda's Invoke response, the Payload the body's text
    (history-sdk-payload-object). moto's simple Lambda echoes the body it got."""
    machine = task("arn:aws:states:::aws-sdk:lambda:invoke", {"FunctionName": "Validate", "Payload.$": "$.p"})
    text = "eyJtYXJrZXIiOiAic2RrLWJhc2U2NCIsICJ2YWx1ZSI6IDh9"  # base64 of '{"marker": "sdk-base64", "value": 8}'
    sent = run_sync(machine, {"p": text}, aws=aws)
    assert sent.status == "SUCCEEDED" and sent.output["Payload"] == text
    assert list(sent.output) == sorted(sent.output)  # AWS's order (moto gives no ExecutedVersion)
    as_json = run_sync(machine, {"p": {"a": [1, 2]}}, aws=aws)
    assert json.loads(as_json.output["Payload"]) == {"a": [1, 2]}
    none = run_sync(machine, {"p": None}, aws=aws)
    assert none.status == "SUCCEEDED" and none.output["Payload"] != "null"  # no body: moto answers its default text


def test_a_function_arn_sends_the_input_as_its_json_a_string_too(aws, function):
    """The state's input is the function's event as it is: LambdaFunctionScheduled's input is its
    JSON, a string's with quotes (raw AWS capture radkawar/stackd
    testdata/aws/stepfunctions/lambda_integrations.json history-direct-arn-scalar-string:
    '"plain native string"', the function got the string; history-direct-arn-null: 'null', it got
    null). A string that is JSON text stays a string. moto's simple Lambda echoes its event."""
    arn = function["FunctionArn"]
    for value in ("plain native string", '{"a": 1}', None, [1, "x"]):
        result = run_sync(task(arn, InputPath="$.v"), {"v": value}, aws=aws)
        assert (result.status, result.output) == ("SUCCEEDED", value), value
