"""The conformance cases AWS recorded with real services, run through the integration layer against
moto's server (a real process) instead of their mocks.

Each case's resources are made in moto first, from its input: a table for ``TableName`` (keyed
like its ``Key``), a bucket for ``Bucket`` (and the object a recorded getObject returned), a topic
for ``TopicArn``; a case whose recorded call found no such resource gets none. The comparison is
the cases' README's, except that the Java SDK's ``SdkHttpMetadata``/``SdkResponseMetadata`` are
compared by shape only: the HTTP headers are the server's (moto's are not AWS's)."""
from __future__ import annotations

import json
import re

import pytest

import asl
from asl.engine import run_sync
from conformance_runner import _wild_string, same_json
from conftest import conformance_cases

boto3 = pytest.importorskip("boto3")
import botocore.config  # noqa: E402

SERVICES = re.compile(r"arn:aws:states:::(aws-sdk:(dynamodb|s3|secretsmanager):|dynamodb:|events:|sns:)")
# recorded failures that name the missing resource: the case must not create it
ABSENT = ("no_such_table", "no_such_bucket", "invalid_table_name")


def service_cases() -> list[dict]:
    return [case for case in conformance_cases()
            if case["expected"]["status"] != "INVALID_DEFINITION"
            and SERVICES.search(json.dumps(case["definition"]))
            and not re.search(r"arn:aws:states:::(lambda|states|sqs|aws-sdk:(sfn|sqs|lambda)):",
                              json.dumps(case["definition"]))]


def _strip_metadata(value):
    if isinstance(value, dict):
        return {k: ("<metadata>" if k in ("SdkHttpMetadata", "SdkResponseMetadata") else _strip_metadata(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_strip_metadata(v) for v in value]
    return value


def make_resources(case: dict, url: str) -> dict:
    """Create in moto what the case's input names; the input with moto's ARNs in it."""
    def client(name):
        # objects stored without a checksum, as the recorded test stored them
        config = botocore.config.Config(request_checksum_calculation="when_required",
                                        response_checksum_validation="when_required")
        return boto3.client(name, endpoint_url=url, region_name="us-east-1", config=config)

    data = json.loads(json.dumps(case["input"]))
    absent = any(word in case["name"] for word in ABSENT)
    if not isinstance(data, dict):
        return data
    if "TableName" in data and not absent:
        keys = list((data.get("Key") or {"id": None}).keys())
        client("dynamodb").create_table(
            TableName=data["TableName"], BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": keys[0], "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": keys[0], "AttributeType": "S"}])
    if "Bucket" in data and not absent:
        s3 = client("s3")
        s3.create_bucket(Bucket=data["Bucket"])
        # AWS encrypts every new bucket with SSE-S3 (AES256) by default; moto only when told
        s3.put_bucket_encryption(Bucket=data["Bucket"], ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
        for responses in (case.get("mocks") or {}).values():
            body = (responses[0].get("Return") or {}).get("Body")
            if body is not None and "Key" in data:
                s3.put_object(Bucket=data["Bucket"], Key=data["Key"], Body=body.encode("utf-8"))
    if "TopicArn" in data:
        fifo = "MessageGroupId" in data
        attributes = {"FifoTopic": "true", "ContentBasedDeduplication": "false"} if fifo else {}
        data["TopicArn"] = client("sns").create_topic(Name="topic" + (".fifo" if fifo else ""),
                                                      Attributes=attributes)["TopicArn"]
    return data


def compare(case: dict, result) -> list[str]:
    expected, wild = case["expected"], case.get("wildcards", [])
    problems = []
    if result.status != expected["status"]:
        problems.append(f"status {result.status} ({result.error}: {result.cause}), expected {expected['status']}")
    if "output" in expected and not same_json(_strip_metadata(expected["output"]), _strip_metadata(result.output),
                                              wild + ["<metadata>"]):
        problems.append(f"output {result.output!r}, expected {expected['output']!r}")
    for key in ("error", "cause"):
        if key in expected and not _wild_string(expected[key], getattr(result, key), wild):
            problems.append(f"{key} {getattr(result, key)!r}, expected {expected[key]!r}")
    if "events" in expected and result.history.types() != expected["events"]:
        problems.append(f"events {result.history.types()}, expected {expected['events']}")
    return problems


def run_against_moto(case: dict, aws: dict) -> list[str]:
    data = make_resources(case, aws["endpoints"]["*"])
    machine = asl.load(case["definition"], type=case.get("type", "STANDARD"))
    result = run_sync(machine, data, aws=aws, type=case.get("type", "STANDARD"))
    return compare(case, result)


#: The cases that match AWS's recorded outcome through moto (README: "Calling AWS services"). The
#: others differ where moto does: no Extended Request ID, no ChecksumType on putObject, no
#: SequenceNumber from a FIFO topic, ConsumedCapacity unasked, no check of table names or of Detail.
MATCHING = {
    "error_handling/test_aws_sdk::TestAwsSdk::test_dynamodb_put_item_no_such_table",
    "error_handling/test_aws_sdk::TestAwsSdk::test_s3_no_such_key",
    "error_handling/test_task_service_dynamodb::TestTaskServiceDynamoDB::test_invalid_param",
    "error_handling/test_task_service_dynamodb::TestTaskServiceDynamoDB::test_put_item_no_such_table",
    "local_mocking/test_base_scenarios::TestBaseScenarios::test_dynamodb_put_get_item",
    "local_mocking/test_base_scenarios::TestBaseScenarios::test_events_put_events",
    "services/test_aws_sdk_task_service::TestTaskServiceAwsSdk::test_dynamodb_put_get_item",
    "services/test_aws_sdk_task_service::TestTaskServiceAwsSdk::test_list_secrets",
    "services/test_aws_sdk_task_service::TestTaskServiceAwsSdk::test_s3_get_object[binary]",
    "services/test_aws_sdk_task_service::TestTaskServiceAwsSdk::test_s3_get_object[bytearray]",
    "services/test_aws_sdk_task_service::TestTaskServiceAwsSdk::test_s3_get_object[str]",
    "services/test_dynamodb_task_service::TestTaskServiceDynamoDB::test_base_integrations[DYNAMODB_PUT_DELETE_ITEM]",
    "services/test_dynamodb_task_service::TestTaskServiceDynamoDB::test_base_integrations[DYNAMODB_PUT_QUERY]",
    "services/test_events_task_service::TestTaskServiceEvents::test_put_events_base",
    "services/test_events_task_service::TestTaskServiceEvents::test_put_events_no_source",
    "services/test_sns_task_service::TestTaskServiceSns::test_publish_base[1]",
    'services/test_sns_task_service::TestTaskServiceSns::test_publish_message_attributes["HelloWorld"]',
    "services/test_sns_task_service::TestTaskServiceSns::test_publish_message_attributes[{}]",
}


def test_recorded_service_cases_against_moto(aws, moto_server):
    outcomes = {}
    for case in service_cases():
        moto_server.reset()
        outcomes[case["name"]] = run_against_moto(case, aws)
    matched = {name for name, problems in outcomes.items() if not problems}
    report = "\n".join(f"{name}: {problems}" for name, problems in sorted(outcomes.items()) if problems)
    print(f"{len(matched)} of {len(outcomes)} match\n{report}")
    assert len(outcomes) == 29 and MATCHING <= matched, report


def test_s3_put_object_stores_the_bodys_json_text_as_aws_did(aws, moto_server):
    """aws-sdk:s3:putObject of a JSON value stores its compact JSON text, a string with its quotes:
    the ETag AWS returned in each recorded case (test_s3_put_object[str|dict|num|bool|list]) is
    the MD5 of that text, and moto's ETag of the object stored here is the MD5 of what it holds."""
    cases = [case for case in service_cases() if "::test_s3_put_object[" in case["name"]]
    assert len(cases) == 5
    for case in cases:
        moto_server.reset()
        data = make_resources(case, aws["endpoints"]["*"])
        result = run_sync(asl.load(case["definition"]), data, aws=aws)
        assert result.status == "SUCCEEDED", (case["name"], result.error, result.cause)
        assert result.output["ETag"] == case["expected"]["output"]["ETag"], case["name"]
        stored = boto3.client("s3", endpoint_url=aws["endpoints"]["*"], region_name="us-east-1").get_object(
            Bucket=data["Bucket"], Key=data["Key"])["Body"].read()
        assert stored == json.dumps(data["Body"], separators=(",", ":")).encode("utf-8")
        if isinstance(data["Body"], str):
            assert stored == b'"text data"'
