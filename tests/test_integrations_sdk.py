"""``arn:aws:states:::aws-sdk:SERVICE:ACTION`` through boto3, against moto's server as a real process.
Names, result shapes and error formats are those of INTEGRATIONS-SPEC.md section 5 (AWS's
"supported-services-awssdk" page and LocalStack's tests recorded on AWS)."""
from __future__ import annotations

import base64
import json
import re

import pytest

import asl
from asl.engine import run_sync

boto3 = pytest.importorskip("boto3")

from asl.engine.integrations.sdk import NAMES, SERVICE_EXCEPTIONS, error_prefix, sfn_name  # noqa: E402

# the count of tries after it: recorded on AWS (radkawar/stackd task_integrations.json, s3-no-such-key:
# "... (Service: S3, Status Code: 404, Request ID: ..., Extended Request ID: ...) (SDK Attempt Count: 1)")
V2_CAUSE = r"(?P<message>.*) \(Service: {service}, Status Code: {status}, Request ID: [^,)]*" \
           r"(, Extended Request ID: [^)]*)?\) \(SDK Attempt Count: 1\)"
ISO_UTC = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"


def sdk(service: str, action: str, parameters: dict, aws: dict):
    machine = asl.load({"StartAt": "Call", "States": {"Call": {
        "Type": "Task", "Resource": f"arn:aws:states:::aws-sdk:{service}:{action}", "Parameters": parameters,
        "End": True}}})
    return run_sync(machine, {}, aws=aws)


def client(aws, service):
    return boto3.client(service, endpoint_url=aws["endpoints"]["*"], region_name="us-east-1")


# ---- names ----------------------------------------------------------------------------------

def test_every_botocore_service_has_its_step_functions_name():
    """Derive each service's Step Functions name from botocore's model and map it back."""
    import botocore.session

    session = botocore.session.get_session()
    for service in session.get_available_services():
        name = sfn_name(session.get_service_data(service)["metadata"].get("serviceId", service))
        found = NAMES.boto3_name(name)
        if found != service:
            # two botocore services under one name: the table keeps the one AWS documents
            assert (name, found) == ("pinpointsmsvoice", "pinpoint-sms-voice"), (service, name, found)
    available = set(session.get_available_services())
    assert set(SERVICE_EXCEPTIONS.values()) <= available
    # the spec's examples, names that differ beyond hyphens and hyphen-only ones
    for name, service in {"sfn": "stepfunctions", "eventbridge": "events", "cloudwatchlogs": "logs",
                          "cognitoidentityprovider": "cognito-idp", "elasticloadbalancingv2": "elbv2",
                          "acmpca": "acm-pca", "rdsdata": "rds-data", "sagemakerruntime": "sagemaker-runtime",
                          "servicequotas": "service-quotas", "s3": "s3", "dynamodb": "dynamodb",
                          "secretsmanager": "secretsmanager", "ssm": "ssm", "kms": "kms"}.items():
        assert NAMES.boto3_name(name) == service
    assert NAMES.boto3_name("nosuchservice") is None


@pytest.mark.parametrize("service_id,prefix", [
    ("DynamoDB", "DynamoDb"), ("SFN", "Sfn"), ("EC2", "Ec2"), ("ACM PCA", "AcmPca"), ("S3", "S3"),
    ("Secrets Manager", "SecretsManager"), ("IoT", "Iot"), ("SESv2", "SesV2"), ("Lambda", "Lambda"),
    ("EventBridge", "EventBridge"), ("Auto Scaling", "Auto Scaling")])
def test_error_prefixes(service_id, prefix):
    assert error_prefix(service_id) == prefix


# ---- calls ----------------------------------------------------------------------------------

def test_s3_objects_and_missing_key(aws):
    s3 = client(aws, "s3")
    s3.create_bucket(Bucket="asl-bucket")
    s3.put_object(Bucket="asl-bucket", Key="order.json", Body=b'{"order":1}', ContentType="application/json")
    got = sdk("s3", "getObject", {"Bucket": "asl-bucket", "Key": "order.json"}, aws)
    assert got.output["Body"] == '{"order":1}'  # the stream as text (LS)
    assert got.output["ContentLength"] == 11 and got.output["ContentType"] == "application/json"
    assert re.fullmatch(ISO_UTC, got.output["LastModified"]) and "ResponseMetadata" not in got.output
    listed = sdk("s3", "listObjectsV2", {"Bucket": "asl-bucket"}, aws)
    assert [o["Key"] for o in listed.output["Contents"]] == ["order.json"]

    missing = sdk("s3", "getObject", {"Bucket": "asl-bucket", "Key": "nope"}, aws)
    assert missing.error == "S3.NoSuchKeyException"
    match = re.fullmatch(V2_CAUSE.format(service="S3", status=404), missing.cause)
    assert match and match["message"] == "The specified key does not exist."
    bucket = sdk("s3", "getObject", {"Bucket": "no-such-bucket-here", "Key": "k"}, aws)
    assert bucket.error == "S3.NoSuchBucketException"


def test_dynamodb_through_the_sdk(aws):
    client(aws, "dynamodb").create_table(
        TableName="Items", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    item = {"TableName": "Items", "Item": {"id": {"S": "id1"}}, "ConditionExpression": "attribute_not_exists(id)"}
    assert sdk("dynamodb", "putItem", item, aws).output == {}  # nothing added (LS)
    assert sdk("dynamodb", "getItem", {"TableName": "Items", "Key": {"id": {"S": "id1"}}}, aws).output == {
        "Item": {"id": {"S": "id1"}}}
    again = sdk("dynamodb", "putItem", item, aws)
    assert again.error == "DynamoDb.ConditionalCheckFailedException"
    assert re.fullmatch(V2_CAUSE.format(service="DynamoDb", status=400), again.cause)
    table = sdk("dynamodb", "getItem", {"TableName": "Nope", "Key": {"id": {"S": "x"}}}, aws)
    assert table.error == "DynamoDb.ResourceNotFoundException"
    # an error code the model does not declare: <Prefix>.<Prefix>Exception (LS: DynamoDb.DynamoDbException)
    invalid = sdk("dynamodb", "getItem", {"TableName": "Items", "Key": {"other": {"S": "x"}}}, aws)
    assert invalid.error == "DynamoDb.DynamoDbException"


def test_sfn_start_execution_takes_pascal_case_and_answers_in_it(aws):
    sfn = client(aws, "stepfunctions")
    role = "arn:aws:iam::123456789012:role/sfn"
    machine = sfn.create_state_machine(name="child", roleArn=role, definition=json.dumps(
        {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))["stateMachineArn"]
    started = sdk("sfn", "startExecution", {"StateMachineArn": machine, "Input": {"a": 1}}, aws)
    assert set(started.output) == {"ExecutionArn", "StartDate"}  # LS aws-sdk:sfn:startExecution
    assert re.fullmatch(ISO_UTC, started.output["StartDate"])
    described = sfn.describe_execution(executionArn=started.output["ExecutionArn"])
    assert json.loads(described["input"]) == {"a": 1}
    missing = sdk("sfn", "describeExecution", {"ExecutionArn": machine.replace(":stateMachine:", ":execution:") + ":x"},
                  aws)
    assert missing.error == "Sfn.ExecutionDoesNotExistException"


def test_messaging_services(aws):
    queue = sdk("sqs", "createQueue", {"QueueName": "q1"}, aws).output["QueueUrl"]
    sent = sdk("sqs", "sendMessage", {"QueueUrl": queue, "MessageBody": {"x": 1}}, aws)
    # the Java SDK v2's field names (raw AWS capture, radkawar/stackd testdata/aws/stepfunctions/
    # tracing_sdk_headers.json, enabled-zero-describe-0: {"Md5OfMessageBody": ..., "MessageId": ...})
    assert set(sent.output) >= {"MessageId", "Md5OfMessageBody"}
    topic = sdk("sns", "createTopic", {"Name": "t1"}, aws).output
    assert set(topic) == {"TopicArn"}
    events = sdk("eventbridge", "putEvents", {"Entries": [{"Source": "s", "DetailType": "d", "Detail": "{}"}]}, aws)
    assert events.output["FailedEntryCount"] == 0


def test_secrets_parameters_keys_identity_metrics_streams(aws):
    sdk("secretsmanager", "createSecret", {"Name": "db", "SecretString": "pw"}, aws)
    assert sdk("secretsmanager", "getSecretValue", {"SecretId": "db"}, aws).output["SecretString"] == "pw"
    missing = sdk("secretsmanager", "getSecretValue", {"SecretId": "nope"}, aws)
    assert missing.error == "SecretsManager.ResourceNotFoundException"
    assert re.fullmatch(V2_CAUSE.format(service="SecretsManager", status=r"\d{3}"), missing.cause)  # moto 404, AWS 400

    sdk("ssm", "putParameter", {"Name": "/app/x", "Value": "1", "Type": "String"}, aws)
    parameter = sdk("ssm", "getParameter", {"Name": "/app/x"}, aws).output["Parameter"]
    assert parameter["Value"] == "1" and re.fullmatch(ISO_UTC, parameter["LastModifiedDate"])
    assert sdk("ssm", "getParameter", {"Name": "/nope"}, aws).error == "Ssm.ParameterNotFoundException"

    key = sdk("kms", "createKey", {}, aws).output["KeyMetadata"]["KeyId"]
    encrypted = sdk("kms", "encrypt", {"KeyId": key, "Plaintext": "c2VjcmV0"}, aws).output
    # a blob's text goes as its UTF-8 bytes, not base64-decoded (see test_a_blob_is_text_both_ways); a
    # blob answered that is not UTF-8 text (the ciphertext) comes back as base64 (ours: unrecorded)
    kms = boto3.client("kms", endpoint_url=aws["endpoints"]["*"], region_name="us-east-1")
    assert kms.decrypt(CiphertextBlob=base64.b64decode(encrypted["CiphertextBlob"]))["Plaintext"] == b"c2VjcmV0"

    assert sdk("sts", "getCallerIdentity", {}, aws).output["Account"] == "123456789012"
    assert sdk("cloudwatch", "putMetricData", {"Namespace": "asl", "MetricData": [
        {"MetricName": "orders", "Value": 1}]}, aws).output == {}
    sdk("kinesis", "createStream", {"StreamName": "s", "ShardCount": 1}, aws)
    described = sdk("kinesis", "describeStreamSummary", {"StreamName": "s"}, aws).output
    assert described["StreamDescriptionSummary"]["StreamName"] == "s"


def test_operations_with_a_host_prefix_reach_the_endpoint_given(aws):
    """aws/aws-cdk packages/@aws-cdk-testing/framework-integ/test/aws-stepfunctions-tasks/test/aws-sdk/
    integ.call-aws-service-mwaa.ts (commit 24e445d0ead1): aws-sdk:mwaa:listEnvironments SUCCEEDED on
    AWS. MWAA's operations, like Cloud Map's DiscoverInstances ("data-") and StartSyncExecution
    ("sync-"), carry a host prefix in botocore's model; put before an endpoint given (moto,
    LocalStack) it names a host that does not exist ("data-127.0.0.1"), so the call never arrived."""
    discovery = client(aws, "servicediscovery")
    discovery.create_http_namespace(Name="shop")
    namespace = discovery.list_namespaces()["Namespaces"][0]["Id"]
    service = discovery.create_service(Name="orders", NamespaceId=namespace)["Service"]["Id"]
    discovery.register_instance(ServiceId=service, InstanceId="i-1", Attributes={"AWS_INSTANCE_IPV4": "10.0.0.1"})
    found = sdk("servicediscovery", "discoverInstances", {"NamespaceName": "shop", "ServiceName": "orders"}, aws)
    assert found.status == "SUCCEEDED", found.cause
    assert [i["InstanceId"] for i in found.output["Instances"]] == ["i-1"]
    # integ.call-aws-service-iam-prefix.ts (commit d7d116ea8db0): SDK names whose IAM prefix differs
    assert sdk("sesv2", "listEmailIdentities", {}, aws).status == "SUCCEEDED"
    assert sdk("emrserverless", "listApplications", {}, aws).output == {"Applications": []}


def test_unknown_service_or_action_is_a_runtime_error(aws):
    assert sdk("nosuchservice", "doIt", {}, aws).error == "States.Runtime"
    result = sdk("s3", "noSuchAction", {}, aws)
    assert result.error == "States.Runtime" and "noSuchAction" in result.cause


@pytest.mark.parametrize("given,sent", [
    (True, True), ("true", True), (" TRUE ", True), ("True", True), (1, True), (-1, True),
    ("false", False), (0, False), ("", None), ("null", None)])
def test_a_boolean_member_takes_what_jackson_reads_as_one(given, sent):
    # AWS (raw capture, radkawar/stackd testdata/aws/stepfunctions/sdk_requests.json, TestState of
    # aws-sdk:s3:listObjectsV2 with FetchOwner given each of these): the owners were listed for the
    # true ones and not for the others; none was refused
    import botocore.session

    from asl.engine.integrations.shapes import to_request

    shape = botocore.session.get_session().get_service_model("s3").operation_model("ListObjectsV2").input_shape
    request = to_request(shape, {"Bucket": "b", "FetchOwner": given}, aws_sdk=True)
    assert request == ({"Bucket": "b"} if sent is None else {"Bucket": "b", "FetchOwner": sent})


def test_a_boolean_member_refuses_other_text():
    # AWS refuses "TrUe" (sdk_admission.json, boolean-mixed-case) and "not-a-boolean" (sdk_requests.json,
    # string-invalid) when the definition is created; given at run time, the Task cannot start
    import botocore.session

    from asl.engine.integrations.shapes import Unusable, to_request

    shape = botocore.session.get_session().get_service_model("s3").operation_model("ListObjectsV2").input_shape
    for given in ("TrUe", "not-a-boolean", 1.5):
        with pytest.raises(Unusable):
            to_request(shape, {"Bucket": "b", "FetchOwner": given}, aws_sdk=True)


def test_an_s3_body_from_json_is_stored_as_utf8_text(aws):
    # AWS (raw capture, radkawar/stackd testdata/aws/stepfunctions/sdk_requests.json, default-checksum and
    # default-checksum-retained): putObject of Body {"message": "sdk-checksum-control"} stored its 34-byte
    # JSON text, and headObject answered ContentType "text/plain; charset=UTF-8"; a ContentType given wins
    client(aws, "s3").create_bucket(Bucket="typed")
    body = {"message": "sdk-checksum-control"}
    assert sdk("s3", "putObject", {"Bucket": "typed", "Key": "k", "Body": body}, aws).status == "SUCCEEDED"
    head = sdk("s3", "headObject", {"Bucket": "typed", "Key": "k"}, aws).output
    assert (head["ContentType"], head["ContentLength"]) == ("text/plain; charset=UTF-8", 34)
    sdk("s3", "putObject", {"Bucket": "typed", "Key": "j", "Body": body, "ContentType": "application/json"}, aws)
    assert sdk("s3", "headObject", {"Bucket": "typed", "Key": "j"}, aws).output["ContentType"] == "application/json"


# ---- replayed from AWS: radkawar/stackd testdata/aws/stepfunctions/task_integrations.json ------

def test_a_blob_is_text_both_ways(aws):
    """sqs-sdk-cycle: a MessageAttributes BinaryValue "AP9BQgo=" is sent as the 8 bytes of that
    text (AWS's Md5OfMessageAttributes 1ee832deb784acdc3821aeab93dc3ae3; the CLI read the bytes
    back as "QVA5QlFnbz0="), and receiveMessage gives those bytes back as that text; the
    result's structures list their members by name."""
    queue = client(aws, "sqs").create_queue(QueueName="stackd")["QueueUrl"]
    sent = sdk("sqs", "sendMessage", {"QueueUrl": queue, "MessageBody": "sdk-message", "MessageAttributes": {
        "Binary": {"DataType": "Binary", "BinaryValue": "AP9BQgo="},
        "Str": {"DataType": "String", "StringValue": "mixed"}}}, aws)
    assert sent.status == "SUCCEEDED", sent.cause
    assert list(sent.output) == ["Md5OfMessageAttributes", "Md5OfMessageBody", "MessageId"]
    assert sent.output["Md5OfMessageAttributes"] == "1ee832deb784acdc3821aeab93dc3ae3"
    assert sent.output["Md5OfMessageBody"] == "ff0fc52520524dcb760a8c194581708e"
    raw = client(aws, "sqs").receive_message(QueueUrl=queue, MessageAttributeNames=["All"], VisibilityTimeout=0)
    assert raw["Messages"][0]["MessageAttributes"]["Binary"]["BinaryValue"] == b"AP9BQgo="
    received = sdk("sqs", "receiveMessage", {"QueueUrl": queue, "MaxNumberOfMessages": 1,
                                             "MessageAttributeNames": ["All"]}, aws).output
    (message,) = received["Messages"]
    assert list(message) == ["Body", "Md5OfBody", "Md5OfMessageAttributes", "MessageAttributes", "MessageId",
                             "ReceiptHandle"]
    assert message["MessageAttributes"] == {"Binary": {"BinaryValue": "AP9BQgo=", "DataType": "Binary"},
                                            "Str": {"DataType": "String", "StringValue": "mixed"}}
    assert [list(value) for value in message["MessageAttributes"].values()] == [
        ["BinaryValue", "DataType"], ["DataType", "StringValue"]]


def test_s3_bodies_and_listings_as_recorded(aws):
    """s3-flow, s3-null-body, s3-empty-list: a null Body stores the text null (ETag
    37a6259cc0c1dae299a7866489dff0bd, typed text/plain; charset=UTF-8); getObject's members come
    by name with the Body last; a listing has no EncodingType (AWS's SDK asks for none)."""
    s3 = client(aws, "s3")
    s3.create_bucket(Bucket="stackd")
    put = sdk("s3", "putObject", {"Bucket": "stackd", "Key": "null", "Body": None, "ContentType": None}, aws)
    assert put.output["ETag"] == '"37a6259cc0c1dae299a7866489dff0bd"'
    stored = s3.get_object(Bucket="stackd", Key="null")
    assert stored["Body"].read() == b"null" and stored["ContentType"] == "text/plain; charset=UTF-8"
    sdk("s3", "putObject", {"Bucket": "stackd", "Key": "text", "Body": "hello\nπ",
                            "ContentType": "text/plain; charset=utf-8"}, aws)
    got = sdk("s3", "getObject", {"Bucket": "stackd", "Key": "text"}, aws).output
    assert got["Body"] == '"hello\\nπ"' and list(got)[-1] == "Body"
    assert list(got)[:-1] == sorted(list(got)[:-1]) and got["ContentLength"] == 11
    empty = sdk("s3", "listObjectsV2", {"Bucket": "stackd", "Prefix": "absent/", "MaxKeys": 2}, aws).output
    assert empty == {"IsTruncated": False, "KeyCount": 0, "MaxKeys": 2, "Name": "stackd", "Prefix": "absent/"}
    assert list(empty) == ["IsTruncated", "KeyCount", "MaxKeys", "Name", "Prefix"]


def test_s3_names_an_error_of_its_own_after_its_code():
    """credentials-denied: S3's AccessDenied (no exception its model declares) is
    S3.AccessDeniedException, the cause ending with the count of tries; SQS's unmodeled errors
    stay Sqs.SqsException (sqs-sdk-target-error, execution-role-no-target-permissions)."""
    import botocore.session
    from botocore.exceptions import ClientError

    from asl.engine.integrations.sdk import model_error

    session = botocore.session.get_session()
    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "User: x is not authorized"},
                          "ResponseMetadata": {"HTTPStatusCode": 403, "RequestId": "FZT3", "HostId": "tUJb=",
                                               "RetryAttempts": 0}}, "GetObject")
    failure = model_error(session.get_service_model("s3"), denied)
    assert (failure.error, failure.cause) == (
        "S3.AccessDeniedException",
        "User: x is not authorized (Service: S3, Status Code: 403, Request ID: FZT3, Extended Request ID: tUJb=) "
        "(SDK Attempt Count: 1)")
    invalid = ClientError({"Error": {"Code": "InvalidParameterValue", "Message": "Value 901 for parameter "
                                     "DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900."},
                           "ResponseMetadata": {"HTTPStatusCode": 400, "RequestId": "1cc8"}}, "SendMessage")
    failure = model_error(session.get_service_model("sqs"), invalid)
    assert (failure.error, failure.cause) == (
        "Sqs.SqsException", "Value 901 for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and "
        "<= 900. (Service: Sqs, Status Code: 400, Request ID: 1cc8) (SDK Attempt Count: 1)")
