"""aws-sdk Tasks' Parameters checked against botocore's model of the operation (asl.sdkmodel).

Expected diagnostics are AWS's: raw captures of ValidateStateMachineDefinition (severity WARNING,
STANDARD) in radkawar/stackd testdata/aws/stepfunctions/sdk_admission.json, by label, and of
TestState in sdk_requests.json (label string-invalid)."""
import pytest

pytest.importorskip("botocore")

from asl.checks import check  # noqa: E402

S3P = "arn:aws:states:::aws-sdk:s3:putObject"
SQS = "arn:aws:states:::aws-sdk:sqs:sendMessage"
LST = "arn:aws:states:::aws-sdk:s3:listObjectsV2"
Q = "https://sqs.us-west-2.amazonaws.com/000000000000/no-resource-created"
NEEDS = "The field '{}' is required but was missing"
BOOL = 'Cannot deserialize value of type `java.lang.Boolean` from String "{}": only "true" or "false" recognized'

# (label in sdk_admission.json, resource, Parameters, AWS's messages)
CASES = [
    ("required-name-case", S3P, {"bucket": "b", "Key": "key"}, [NEEDS.format("Bucket"), NEEDS.format("Body")]),
    ("unknown-field", S3P, {"Bucket": "b", "Key": "key", "Bogus": True}, [NEEDS.format("Body")]),
    ("required-name-case-with-body", S3P, {"bucket": "b", "Key": "key", "Body": "text"}, [NEEDS.format("Bucket")]),
    ("optional-name-case-with-body", S3P, {"Bucket": "b", "Key": "key", "contentType": "text/plain", "Body": "text"},
     ["The field \"contentType\" is not supported by Step Functions. Did you mean 'ContentType'?"]),
    ("dynamic-required-with-body", S3P, {"Bucket.$": "$.bucket", "Key": "key", "Body": "text"}, []),
    ("metadata-lowercase-with-body", S3P, {"Bucket": "b", "Key": "key", "Metadata": {"key": "value"}, "Body": "t"}, []),
    ("nested-required", SQS, {"QueueUrl": Q, "MessageBody": "text",
                              "MessageAttributes": {"lowercase-key": {"StringValue": "text"}}}, []),
    ("nested-unknown", SQS, {"QueueUrl": Q, "MessageBody": "text",
                             "MessageAttributes": {"lowercase-key": {"DataType": "String", "Bogus": "text"}}},
     ['The field "Bogus" is not supported by Step Functions']),
    ("wrong-primitive", S3P, {"Bucket": 123, "Key": "key", "Body": "text"},
     ["The value for the field 'Bucket' must be a STRING"]),
    ("wrong-nested-kind", SQS, {"QueueUrl": "x", "MessageBody": "text", "MessageAttributes": {"key": "text"}},
     ["Cannot construct instance of `software.amazon.awssdk.services.sqs.model.MessageAttributeValue$BuilderImpl` "
      "(although at least one Creator exists): no String-argument constructor/factory method to deserialize from "
      "String value ('text')"]),
    ("dynamic-body", S3P, {"Bucket": "b", "Key": "key", "Body.$": "$.body"}, []),
    ("top-integer-string", SQS, {"QueueUrl": "x", "MessageBody": "text", "DelaySeconds": "2"},
     ["The value for the field 'DelaySeconds' must be an INTEGER"]),
    ("top-integer-number", SQS, {"QueueUrl": "x", "MessageBody": "text", "DelaySeconds": 2}, []),
    ("nested-string-number", SQS, {"QueueUrl": "x", "MessageBody": "text",
                                   "MessageAttributes": {"key": {"DataType": 123, "StringValue": 12}}},
     ["The value for the field 'DataType' must be a STRING"]),
    ("top-string-null", SQS, {"QueueUrl": None, "MessageBody": "text"}, []),
    ("integer-decimal", SQS, {"QueueUrl": "x", "MessageBody": "text", "DelaySeconds": 2.0},
     ["The value for the field 'DelaySeconds' must be an INTEGER"]),
    ("boolean-string", "arn:aws:states:::aws-sdk:lambda:createFunction",
     {"FunctionName": "f", "Role": "arn:aws:iam::000000000000:role/r", "Code": {}, "Publish": "true"}, []),
    ("boolean-float", LST, {"Bucket": "b", "FetchOwner": 1.0},
     ["Cannot deserialize value of type `java.lang.Boolean` from Floating-point value "
      "(token `JsonToken.VALUE_NUMBER_FLOAT`)"]),
    ("boolean-upper-trim", LST, {"Bucket": "b", "FetchOwner": " TRUE "}, []),
    ("boolean-empty", LST, {"Bucket": "b", "FetchOwner": ""}, []),
    ("boolean-null-string", LST, {"Bucket": "b", "FetchOwner": "null"}, []),
    ("boolean-mixed-case", LST, {"Bucket": "b", "FetchOwner": "TrUe"}, [BOOL.format("TrUe")]),
    ("boolean-integer-zero", LST, {"Bucket": "b", "FetchOwner": 0}, []),
    ("boolean-integer-negative", LST, {"Bucket": "b", "FetchOwner": -1}, []),
    # sdk_requests.json, TestState: InvalidDefinition "... SCHEMA_VALIDATION_FAILED: <this> at /States/StateName/Parameters"
    ("string-invalid", LST, {"Bucket": "b", "FetchOwner": "not-a-boolean"}, [BOOL.format("not-a-boolean")]),
]


def task(resource, parameters, **extra):
    return {"StartAt": "Task", "States": {"Task": {"Type": "Task", "Resource": resource, "Parameters": parameters,
                                                   "End": True, **extra}}}


def found(definition):
    return [(d.severity, d.code, d.message, d.location) for d in check(definition)[0]]


@pytest.mark.parametrize("label,resource,parameters,messages", CASES, ids=[c[0] for c in CASES])
def test_aws_verdicts(label, resource, parameters, messages):
    assert found(task(resource, parameters)) == [
        ("ERROR", "SCHEMA_VALIDATION_FAILED", m, "/States/Task/Parameters") for m in messages]


def test_unknown_member_suggestion_stays_out_of_aws_message():
    # label unknown-field-with-body: AWS said 'The field "Bogus" is not supported by Step Functions.
    # Did you mean 'Bucket'?' by a rule no capture pins down; the finding is AWS's, the text's start too
    (d,) = check(task(S3P, {"Bucket": "b", "Key": "key", "Bogus": True, "Body": "text"}))[0]
    assert (d.severity, d.location) == ("ERROR", "/States/Task/Parameters")
    assert d.message.startswith('The field "Bogus" is not supported by Step Functions')


def test_java_sdk_v2_folded_capitals_are_members():
    # deployed AWS samples (aws-samples sfn-rds-to-aurora-migrate-postgres-cdk) call rds with the
    # Java SDK v2's names, DbInstanceIdentifier for botocore's DBInstanceIdentifier
    assert found(task("arn:aws:states:::aws-sdk:rds:describeDBInstances", {"DbInstanceIdentifier": "db"})) == []


def test_unrecorded_cases_warn():
    # JSONata Arguments and .waitForTaskToken Tasks: no capture shows AWS checking them
    d = task(S3P, None)
    state = d["States"]["Task"]
    del state["Parameters"]
    state.update(QueryLanguage="JSONata", Arguments={"Bucket": "{% $states.input.b %}", "Key": 5, "Body": "x"})
    assert found(d) == [("WARNING", "SCHEMA_VALIDATION_FAILED", "The value for the field 'Key' must be a STRING",
                         "/States/Task/Arguments")]
    wait = task(SQS + ".waitForTaskToken", {"QueueUrl": "x", "MessageBody": {"t.$": "$$.Task.Token"}, "Bogus": 1})
    assert [f[0] for f in found(wait)] == ["WARNING"]


def test_unknown_service_or_action_is_left_alone():
    assert found(task("arn:aws:states:::aws-sdk:nosuchservice:doIt", {"x": 1})) == []
    assert found(task("arn:aws:states:::aws-sdk:s3:noSuchAction", {"x": 1})) == []


@pytest.mark.parametrize("pattern, field, key, value, refused", [
    (".sync", "Parameters", "StartedBy", "customer-value", "StartedBy"),   # sync-started-by
    (".sync", "Parameters", "Count.$", "$.count", "Count"),                # sync-count-path
    (".sync", "Arguments", "Count", 2, "Count"),                           # sync-jsonata-count
    (".waitForTaskToken", "Parameters", "Count", 2, None),                 # callback-count-two
])
def test_an_ecs_job_refuses_the_fields_step_functions_sets(pattern, field, key, value, refused):
    """radkawar/stackd ecs_schema_admission.json: ValidateStateMachineDefinition of an
    ecs:runTask.sync Task naming StartedBy or Count (literal, a path, JSONata Arguments) is
    SCHEMA_VALIDATION_FAILED "The field 'Count' is not supported by Step Functions"; a
    .waitForTaskToken Task may give Count."""
    state = {"Type": "Task", "Resource": f"arn:aws:states:::ecs:runTask{pattern}", "End": True,
             field: {"Cluster": "probe", "TaskDefinition": "probe:1", "LaunchType": "FARGATE", key: value}}
    definition = {"StartAt": "Task", "States": {"Task": state}}
    if field == "Arguments":
        definition["QueryLanguage"] = "JSONata"
    assert found(definition) == ([("ERROR", "SCHEMA_VALIDATION_FAILED", f"The field '{refused}' is not supported by "
                                   "Step Functions", f"/States/Task/{field}")] if refused else [])
