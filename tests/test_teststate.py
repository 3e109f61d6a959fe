"""asl.engine.test_state: one state as AWS's TestState runs it (the recorded cases are in
test_teststate_conformance.py; these pin the behaviours the library adds around them)."""
from __future__ import annotations

import pytest

import asl
from asl.engine import Handlers, TestStateError, TestStateMock, test_state_sync
from asl.engine.testing import Workflow, raises

ROLE = "arn:aws:iam::123456789012:role/myRole"
INVOKE = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
          "Parameters": {"FunctionName": "f", "Payload.$": "$"}, "ResultSelector": {"got.$": "$.Payload"},
          "Retry": [{"ErrorEquals": ["Busy"], "IntervalSeconds": 2, "MaxAttempts": 2}],
          "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Handle"}], "Next": "After"}


def test_a_lambda_invoke_mock_is_the_invoke_response_not_the_functions_return_value():
    # an object Payload passes only fieldValidationMode NONE: STRICT and PRESENT want the
    # string the SDK's Invoke returns (radkawar/stackd testdata/aws/stepfunctions/
    # test_state_mock.json west-mock-task-object, mock-payload-object-PRESENT, mock-payload-object-NONE)
    with pytest.raises(TestStateError, match="Mock result schema validation error: Field 'Payload' must be a string"):
        test_state_sync(INVOKE, input={"a": 1}, mock={"result": '{"StatusCode": 200, "Payload": {"ok": true}}'})
    result = test_state_sync(INVOKE, input={"a": 1}, inspection_level="DEBUG",
                             mock={"result": '{"StatusCode": 200, "Payload": {"ok": true}}', "fieldValidationMode": "NONE"})
    assert (result.status, result.output, result.next_state) == ("SUCCEEDED", {"got": {"ok": True}}, "After")
    assert result.inspection_data["result"] == {"StatusCode": 200, "Payload": {"ok": True}}
    assert result.response()["output"] == '{"got":{"ok":true}}'  # AWS sends JSON text, compact when computed


def test_response_texts_as_the_developer_guide_shows_them():
    """https://docs.aws.amazon.com/step-functions/latest/dg/test-state-isolation.html (Testing a
    state using AWS CLI, examples 1 and 2): the input comes back as the request wrote it, a value
    the state computed comes back as compact JSON."""
    choice = {"Type": "Choice", "Default": "No Match", "Choices": [
        {"Variable": "$.number", "NumericEquals": 1, "Next": "Equals 1"},
        {"Variable": "$.number", "NumericEquals": 2, "Next": "Equals 2"}]}
    result = test_state_sync(choice, input={"number": 2}, input_text='{"number": 2}', role_arn=ROLE)
    assert result.response() == {"output": '{"number": 2}', "nextState": "Equals 2", "status": "SUCCEEDED"}
    passing = {"Type": "Pass", "InputPath": "$.payload", "Parameters": {"data": 1}, "ResultPath": "$.result",
               "OutputPath": "$.result.data", "Next": "Another State"}
    result = test_state_sync(passing, input={"payload": {"foo": "bar"}}, input_text='{"payload": {"foo": "bar"}}',
                             role_arn=ROLE, inspection_level="DEBUG")
    assert result.response() == {"output": "1", "nextState": "Another State", "status": "SUCCEEDED", "inspectionData": {
        "input": '{"payload": {"foo": "bar"}}', "afterInputPath": '{"foo":"bar"}', "afterParameters": '{"data":1}',
        "afterResultSelector": '{"data":1}', "afterResultPath": '{"payload":{"foo":"bar"},"result":{"data":1}}'}}
    # a mocked result that comes back unchanged keeps the mock's text (recorded cases), as does the input
    task = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "f"},
            "End": True}
    result = test_state_sync(task, input={}, input_text="{}", inspection_level="DEBUG",
                             mock={"result": '{"orderId": "12345", "status": "processed"}'})
    assert result.response()["output"] == '{"orderId": "12345", "status": "processed"}'
    assert result.response()["inspectionData"]["afterParameters"] == '{"FunctionName":"f"}'


def test_retriable_then_failed_then_caught_as_the_retry_count_grows():
    busy = TestStateMock(error="Busy", cause="try later")
    first = test_state_sync(INVOKE, input={}, mock=busy, inspection_level="DEBUG")
    assert first.status == "RETRIABLE" and first.inspection_data["errorDetails"] == {
        "retryIndex": 0, "retryBackoffIntervalSeconds": 2}
    last = test_state_sync(INVOKE, input={}, mock=busy, inspection_level="DEBUG",
                           state_configuration={"retrierRetryCount": 2})
    assert (last.status, last.next_state, last.output) == ("CAUGHT_ERROR", "Handle",
                                                           {"Error": "Busy", "Cause": "try later"})
    assert last.inspection_data["errorDetails"] == {"catchIndex": 0}
    assert test_state_sync(INVOKE, input={}, mock=busy).inspection_data == {}  # INFO: no inspection data


@pytest.mark.parametrize("definition, kwargs, code, message", [
    (INVOKE, {"mock": {"result": "{}", "errorOutput": {"error": "E"}}}, "ValidationException",
     "A test mock should have only one of the following fields: [result, errorOutput]."),
    (INVOKE, {"mock": {"result": "not json"}}, "ValidationException", "Mocked result must be valid JSON"),
    (INVOKE, {"mock": {"result": '{"StatusCode": "200"}'}}, "ValidationException",
     "Mock result schema validation error: Field 'StatusCode' must be a number"),
    (INVOKE, {}, "ValidationException", "RoleArn must be specified when testing a Task state"),  # no mock, no role
    ({"Type": "Pass", "End": True}, {"mock": {"result": "{}"}}, "ValidationException",
     "State type 'Pass' is not supported when a mock is specified"),
    ({"Type": "Parallel", "End": True, "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Succeed"}}}]}, {},
     "InvalidDefinition", "TestState API does not support Map or Parallel states. Supported state types include: "
                          "[Task, Wait, Pass, Succeed, Fail, Choice]"),
    ({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}, {"state_name": "B"}, "ValidationException",
     "State not found in definition"),
    ({"Type": "Pass", "End": True}, {"inspection_level": "ALL"}, "ValidationException",
     "Value 'ALL' at 'inspectionLevel' failed to satisfy constraint: Member must satisfy enum value set: "
     "[INFO, DEBUG, TRACE]"),
])
def test_requests_aws_refuses_raise_test_state_error_with_awss_code(definition, kwargs, code, message):
    with pytest.raises(TestStateError) as info:
        test_state_sync(definition, kwargs.pop("state_name", None), {}, **kwargs)
    assert (info.value.code, info.value.message) == (code, message)


MAP = {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": {"StartAt": "Inner", "States": {"Inner": {
    "Type": "Pass", "End": True}}}, "End": True}
PARALLEL = {"Type": "Parallel", "End": True, "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Succeed"}}},
                                                          {"StartAt": "C", "States": {"C": {"Type": "Succeed"}}}]}
READER = {"Type": "Map", "ToleratedFailurePercentage": 50, "End": True,
          "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "CSV",
                                                                                       "CSVHeaderLocation": "FIRST_ROW"},
                         "Parameters": {"Bucket": "b", "Key": "k.csv"}},
          "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                            "StartAt": "Inner", "States": {"Inner": {"Type": "Pass", "End": True}}}}


@pytest.mark.parametrize("definition, kwargs, message", [
    # recorded on AWS (localstack's test_state_mock_validation snapshots)
    (MAP, {"state_configuration": {"mapIterationFailureCount": 0}},
     "TestState does not support MapIterationFailureCount when a mock is not specified."),
    (MAP, {"state_configuration": {"mapIterationFailureCount": 4}, "mock": {"result": "[1, 1, 1]"}},
     "Map iteration failure count must be less than or equal to the number of Map iterations"),
    ({**MAP, "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "b"}}},
     {"mock": {"result": "[1]"}}, "Mocked result must be a JSON object."),
    (PARALLEL, {"mock": {"result": "[1]"}},
     "Mocked result must contain the same number of items as number of Parallel branches."),
    # the engine's own words: stateConfiguration naming what the state under test does not have
    (MAP, {"state_configuration": {"errorCausedByState": "Elsewhere"}, "mock": {"errorOutput": {"error": "E"}}},
     "stateConfiguration.errorCausedByState 'Elsewhere' is not a state inside the Map state under test"),
    (MAP, {"state_configuration": {"mapItemReaderData": "[1]"}, "mock": {"result": "[1]"}},
     "stateConfiguration.mapItemReaderData is given, but the state under test is not a Map state with an "
     "ItemReader"),
])
def test_state_configuration_aws_refuses(definition, kwargs, message):
    with pytest.raises(TestStateError) as info:
        test_state_sync(definition, None, {"items": [1, 2, 3]}, **kwargs)
    assert (info.value.code, info.value.message) == ("ValidationException", message)


def test_error_caused_by_state_names_a_state_inside_the_map_or_parallel():
    inner = test_state_sync(PARALLEL, None, {}, mock={"errorOutput": {"error": "Boom", "cause": "c"}},
                            state_configuration={"errorCausedByState": "C"})
    assert (inner.status, inner.error, inner.cause) == ("FAILED", "Boom", "c")


def test_map_item_reader_data_is_what_the_item_reader_reads():
    """mapItemReaderData stands for the object's content: here CSV rows, whose number decides
    whether the failed iterations exceed the Map's ToleratedFailurePercentage (50%)."""
    def tested(data: str, failures: int = 2):
        return test_state_sync(READER, None, {}, mock={"errorOutput": {"error": "Boom", "cause": "c"}},
                               state_configuration={"mapItemReaderData": data, "mapIterationFailureCount": failures})

    five_rows = "id,name\n1,a\n2,b\n3,c\n4,d\n5,e\n"
    assert tested(five_rows).error == "Boom"  # 2 of 5 failed: tolerated, the mocked error stands
    exceeded = tested("id,name\n1,a\n2,b\n3,c\n")  # 2 of 3
    assert (exceeded.error, exceeded.cause) == ("States.ExceedToleratedFailureThreshold",
                                                "The specified tolerated failure threshold was exceeded")
    capped = {**READER, "ItemReader": {**READER["ItemReader"], "ReaderConfig": {
        **READER["ItemReader"]["ReaderConfig"], "MaxItems": 3}}}
    assert test_state_sync(capped, None, {}, mock={"errorOutput": {"error": "Boom"}}, state_configuration={
        "mapItemReaderData": five_rows, "mapIterationFailureCount": 2}).error == \
        "States.ExceedToleratedFailureThreshold"  # MaxItems 3: 2 of 3
    as_json = {**READER, "ItemReader": {**READER["ItemReader"], "ReaderConfig": {"InputType": "JSON"}}}
    broken = test_state_sync(as_json, None, {}, mock={"result": "[]"},
                             state_configuration={"mapItemReaderData": "{not json"})
    assert (broken.status, broken.error) == ("FAILED", "States.ItemReaderFailed")


def test_the_mock_is_checked_only_as_the_field_validation_mode_says():
    start = {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution",
             "Parameters": {"StateMachineArn": "arn"}, "End": True}
    with pytest.raises(TestStateError, match="Required field 'ExecutionArn' is missing"):
        test_state_sync(start, mock={"result": "{}"})
    assert test_state_sync(start, mock={"result": "{}", "fieldValidationMode": "PRESENT"}).status == "SUCCEEDED"
    assert test_state_sync(start, mock={"result": '{"StartDate": true}', "fieldValidationMode": "NONE"}).output == {
        "StartDate": True}


def _sdk(action: str) -> dict:
    return {"Type": "Task", "Resource": f"arn:aws:states:::aws-sdk:{action}", "End": True}


# aws-sdk Tasks: the mock is checked against botocore's model of the service's output, with the
# texts AWS gave in the recorded kms/s3/lambda cases (type, enum, minimum length, range)
@pytest.mark.parametrize("action, result, mode, problem", [
    ("dynamodb:query", '{"Count": "3"}', "STRICT", "Field 'Count' must be a number"),
    ("dynamodb:query", '{"Items": [{"id": {"S": 1}}]}', "PRESENT", "Field 'S' must be a string"),
    ("dynamodb:describeTable", '{"Table": {"TableStatus": "SLEEPING"}}', "PRESENT",
     "Field 'TableStatus' is not an expected value"),
    ("ec2:describeInstances", '{"Reservations": [{"Instances": [{"InstanceType": "t9.huge"}]}]}', "STRICT",
     "Field 'InstanceType' is not an expected value"),
    ("sqs:receiveMessage", '{"Messages": {"Body": "b"}}', "STRICT", "Field 'Messages' must be an array"),
    ("secretsmanager:getSecretValue", '{"Name": ""}', "PRESENT", "Field 'Name' is smaller than the minimum length"),
    ("secretsmanager:getSecretValue", '{"SecretBinary": false}', "PRESENT", "Field 'SecretBinary' must be a string"),
    ("lambda:getFunction", '{"Configuration": {"Timeout": 0}}', "STRICT",
     "Field 'Timeout' is less than the minimum value"),
    ("lambda:getFunction", '{"Configuration": {"SnapStart": {"ApplyOn": "Always"}}}', "STRICT",
     "Field 'ApplyOn' is not an expected value"),
    ("s3:headObject", '{"DeleteMarker": "false"}', "STRICT", "Field 'DeleteMarker' must be a boolean"),
    ("s3:listObjectsV2", '{"Contents": [{"LastModified": 1700000000}]}', "STRICT",
     "Field 'LastModified' must be a string"),
    ("sns:getTopicAttributes", '{"Attributes": {"Policy": 1}}', "STRICT", "Field 'Attributes' must be a string"),
    # sfn's members are camelCase in botocore; aws-sdk results (and so the check) PascalCase them
    ("sfn:describeExecution", '{"executionArn": "arn"}', "STRICT", "Required field 'ExecutionArn' is missing"),
])
def test_an_aws_sdk_mock_is_checked_against_the_services_output_shape(action, result, mode, problem):
    with pytest.raises(TestStateError) as info:
        test_state_sync(_sdk(action), mock={"result": result, "fieldValidationMode": mode})
    assert (info.value.code, info.value.message) == ("ValidationException",
                                                     f"Mock result schema validation error: {problem}")


@pytest.mark.parametrize("action, result, mode", [
    ("sfn:describeExecution", '{"ExecutionArn": "a"}', "PRESENT"),  # PRESENT: required fields may be absent
    ("sfn:describeExecution", '{"executionArn": "a", "Extra": [1]}', "NONE"),
    ("s3:getObject", '{"ContentLength": 9000, "StorageClass": "GLACIER", "Body": "text", "Unknown": {}}', "STRICT"),
    ("lambda:getFunction", '{"Configuration": {"MemorySize": 10240}}', "STRICT"),
    ("dynamodb:getItem", '{"Item": {"id": {"S": "1"}, "n": {"N": "2"}}}', "STRICT"),
    ("kms:encrypt.waitForTaskToken", '{"CiphertextBlob": 123}', "STRICT"),  # the callback's result: not checked
    ("s3:noSuchAction", '{"Anything": 1}', "STRICT"),
])
def test_aws_sdk_mocks_the_shape_allows_pass(action, result, mode):
    assert test_state_sync(_sdk(action), mock={"result": result, "fieldValidationMode": mode}).status == "SUCCEEDED"


def test_a_task_without_a_mock_runs_its_handler_and_the_context_is_testates():
    machine = asl.load({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:echo", "End": True,
        "Parameters": {"state.$": "$$.State.Name", "role.$": "$$.Execution.RoleArn"}}}})
    handlers = Handlers({"echo": lambda event: event})
    result = test_state_sync(machine, "T", {}, handlers=handlers, role_arn="arn:aws:iam::1:role/R")
    assert result.output == {"state": "StateName", "role": "arn:aws:iam::1:role/R"}  # AWS's name for the tested state
    given = test_state_sync(machine, "T", {}, handlers=handlers, role_arn="arn:aws:iam::1:role/R",
                            context={"Execution": {"RoleArn": "r"}, "State": {"Name": "Elsewhere"}})  # replaces $$
    assert given.output == {"state": "Elsewhere", "role": "r"}
    with pytest.raises(TestStateError, match="Invalid Context object provided: 'Map' field is not supported"):
        test_state_sync(machine, "T", {}, handlers=handlers, role_arn="r", context={"Map": {}})


def test_workflow_test_state_takes_a_test_mock_or_testates_own():
    machine = asl.load({"StartAt": "Pay", "States": {"Pay": INVOKE, "Handle": {"Type": "Fail"},
                                                     "After": {"Type": "Succeed"}}})
    workflow = Workflow(machine)
    as_function = workflow.test_state("Pay", {"x": 1}, mock={"paid": True})  # the function's return value
    assert as_function.output == {"got": {"paid": True}}
    as_service = workflow.test_state("Pay", {"x": 1}, mock=TestStateMock(value={"Payload": {"paid": 1}},
                                                                              field_validation_mode="NONE"))
    assert as_service.output == {"got": {"paid": 1}} and as_service.calls[0].mocked
    failed = workflow.test_state("Pay", {}, mock=raises("Busy"), retry_count=2)
    assert (failed.status, failed.error_details) == ("CAUGHT_ERROR", {"catchIndex": 0})


def test_an_imported_test_state_is_not_collected_by_pytest():
    from asl.engine import test_state

    assert test_state.__test__ is False and test_state_sync.__test__ is False


def test_definition_text_that_is_not_json_gets_jacksons_message():
    # as CreateStateMachine words it (asl.source): Jackson's message, ParserBase._handleEOF here
    with pytest.raises(TestStateError) as info:
        test_state_sync('{"Type": "Pass", "End": true', None, {})
    assert (info.value.code, info.value.message) == (
        "InvalidDefinition", "Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION: Unexpected end-of-input: "
        "expected close marker for Object (start marker at [Source: (String)\"{\"Type\": \"Pass\", \"End\": true\"; "
        "line: 1, column: 1])'")


# AWS's TestState answers of Sept 2026 (raw capture radkawar/stackd
# testdata/aws/stepfunctions/dataflow_execution.json, the labels named), inspectionLevel DEBUG.
_PASS_CASES = [
    ("test-pass-null-result", {"Type": "Pass", "Result": None, "End": True}, '{"keep":1}',
     {"output": '{"keep":1}', "status": "SUCCEEDED", "inspectionData": {
         "input": '{"keep":1}', "afterInputPath": '{"keep":1}', "afterParameters": '{"keep":1}',
         "afterResultSelector": '{"keep":1}', "afterResultPath": '{"keep":1}'}}),
    ("test-pass-result-path-scalar", {"Type": "Pass", "Result": 99, "ResultPath": "$.child", "End": True}, "4",
     {"status": "FAILED", "error": "States.ReferencePathConflict",
      "cause": "Unable to apply ReferencePath $.child to input 4",
      "inspectionData": {"input": "4", "result": "99", "afterResultSelector": "99"}}),
    ("test-pass-missing-input-path", {"Type": "Pass", "InputPath": "$.missing", "End": True}, "{}",
     {"status": "FAILED", "error": "States.Runtime",
      "cause": "Invalid path '$.missing' : No results for path: $['missing']", "inspectionData": {"input": "{}"}}),
    ("test-pass-missing-parameters-path", {"Type": "Pass", "Parameters": {"missing.$": "$.missing"}, "End": True},
     "{}", {"status": "FAILED", "error": "States.Runtime",
            "cause": "The JSONPath '$.missing' specified for the field 'missing.$' could not be found in the input '{}'",
            "inspectionData": {"input": "{}", "afterInputPath": "{}"}}),
    ("test-pass-intrinsic-type-error", {"Type": "Pass", "Parameters": {"v.$": "States.ArrayLength($.value)"},
                                        "End": True}, '{"value":4}',
     {"status": "FAILED", "error": "States.Runtime",
      "cause": "There was an error while evaluating the intrinsic function: States.ArrayLength($.value). "
               "Invalid arguments in States.ArrayLength",
      "inspectionData": {"input": '{"value":4}', "afterInputPath": '{"value":4}'}}),
]


@pytest.mark.parametrize("label, definition, text, expected", _PASS_CASES, ids=[c[0] for c in _PASS_CASES])
def test_pass_answers_as_aws_gave_them(label, definition, text, expected):
    import json

    result = test_state_sync(definition, input=json.loads(text), input_text=text, role_arn=ROLE,
                             inspection_level="DEBUG")
    assert result.response() == expected


# TestState requests AWS refused in Sept 2026 (raw capture radkawar/stackd
# testdata/aws/stepfunctions/test_state_mock.json, the labels named), message for message.
_TASK = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "f"}, "End": True}
_INLINE = {"Type": "Map", "ItemsPath": "$.items", "End": True, "ItemProcessor": {
    "ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Child", "States": {"Child": {"Type": "Pass", "End": True}}}}
_READER = {"Type": "Map", "End": True, "ItemReader": {
    "Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON", "ItemsPointer": "/items"},
    "Parameters": {"Bucket": "b", "Key": "k"}}, "ItemProcessor": {
    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "Child",
    "States": {"Child": {"Type": "Pass", "End": True}}}}
_REFUSED = [
    ("paced-west-mock-task-empty", _TASK, None, {}, {},
     "One of the following fields is required for a test mock: [result, errorOutput]."),
    ("paced-west-mock-task-null", _TASK, None, {"result": "null"}, {}, "Mocked result must be a valid JSON object."),
    ("paced-west-mock-error-empty", _TASK, None, {"errorOutput": {}}, {},
     "An error was not specified in the mocked error output."),
    ("paced-west-mock-map-reader-missing-data", _READER, None, {"result": "[10,20]"}, {},
     "ItemReader data must be specified when testing a Map state with ItemReader specified."),
    ("nested-task-failure-count", {"StartAt": "Outer", "States": {"Outer": {**_INLINE, "ItemProcessor": {
        "StartAt": "Child", "States": {"Child": _TASK}}}}}, "Child", {"result": "{}"},
     {"mapIterationFailureCount": 1}, "MapIterationFailureCount is only supported when testing a Map state."),
]


@pytest.mark.parametrize("label, definition, name, mock, configuration, message", _REFUSED,
                         ids=[c[0] for c in _REFUSED])
def test_mock_requests_aws_refuses(label, definition, name, mock, configuration, message):
    with pytest.raises(TestStateError) as refused:
        test_state_sync(definition, name, {"items": [1, 2, 3]}, mock=mock, state_configuration=configuration)
    assert (refused.value.code, refused.value.message) == ("ValidationException", message)


_SELECTED = {"Type": "Map", "ItemsPath": "$.items", "ItemSelector": {"i.$": "$$.Map.Item.Index", "v.$": "$$.Map.Item.Value"},
             "End": True, "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                                            "StartAt": "Child", "States": {"Child": {"Type": "Pass", "End": True}}},
             "ItemBatcher": {"MaxItemsPerBatch": 2}, "MaxConcurrency": 2, "ToleratedFailureCount": 1}


def test_a_mocked_maps_stages_as_aws_shows_them():
    # radkawar/stackd testdata/aws/stepfunctions/test_state_mock.json map-batch-success: the items
    # selected (keys in HashMap order), then batched with each item as JSON text; lists as Java
    # prints them; one mocked value per batch
    result = test_state_sync(_SELECTED, input={"items": [1, 2, 3]}, input_text='{"items":[1,2,3]}',
                             inspection_level="DEBUG", mock={"result": "[10,20]"})
    assert result.response() == {"output": "[10,20]", "status": "SUCCEEDED", "inspectionData": {
        "input": '{"items":[1,2,3]}', "afterInputPath": '{"items":[1,2,3]}', "afterResultSelector": "[10,20]",
        "afterResultPath": "[10,20]", "afterItemsPath": "[1, 2, 3]",
        "afterItemSelector": '[{"v":1,"i":0}, {"v":2,"i":1}, {"v":3,"i":2}]',
        "afterItemBatcher": '[{"Items":["{\\"v\\":1,\\"i\\":0}","{\\"v\\":2,\\"i\\":1}"]}, {"Items":["{\\"v\\":3,\\"i\\":2}"]}]',
        "toleratedFailureCount": 1, "maxConcurrency": 2}}
    # paced-west-mock-map-batch: three values for two batches
    with pytest.raises(TestStateError) as refused:
        test_state_sync(_SELECTED, input={"items": [1, 2, 3]}, mock={"result": "[10,20,30]"})
    assert refused.value.message == "Input array does not equal the mocked result array's size"
    # paced-west-mock-map-failure-count: the tolerance is judged first
    failed = test_state_sync(_SELECTED, input={"items": [1, 2, 3]}, mock={"result": "[10,20,30]"},
                             state_configuration={"mapIterationFailureCount": 2})
    assert (failed.status, failed.error) == ("FAILED", "States.ExceedToleratedFailureThreshold")
    # map-reader-success: ItemsPointer's items are a stage of their own, written compact
    reader = {k: v for k, v in _SELECTED.items() if k != "ItemsPath"}
    reader["ItemReader"] = {"Resource": "arn:aws:states:::s3:getObject", "Parameters": {"Bucket": "b", "Key": "k"},
                            "ReaderConfig": {"InputType": "JSON", "ItemsPointer": "/items"}}
    read = test_state_sync(reader, input={"items": [1, 2, 3]}, inspection_level="DEBUG", mock={"result": "[10]"},
                           state_configuration={"mapItemReaderData": '{"items":[4,5]}'}).response()["inspectionData"]
    assert (read["afterItemsPointer"], read["afterItemSelector"]) == ("[4,5]", '[{"v":4,"i":0}, {"v":5,"i":1}]')
    # map-no-selector-inspection: no selector, no batcher, no such stages; the items as a Java list
    plain = {"Type": "Map", "ItemsPath": "$.items", "End": True, "ItemProcessor": {
        "StartAt": "Child", "States": {"Child": {"Type": "Pass", "End": True}}}}
    shown = test_state_sync(plain, input={"items": [1, 2, 3]}, inspection_level="DEBUG",
                            mock={"result": "[1,2,3]"}).response()["inspectionData"]
    assert shown == {"input": '{"items":[1,2,3]}', "afterInputPath": '{"items":[1,2,3]}', "afterItemsPath": "[1, 2, 3]",
                     "afterResultSelector": "[1,2,3]", "afterResultPath": "[1,2,3]", "maxConcurrency": 0}


def test_a_caught_error_shows_the_catchers_result_path():
    # radkawar/stackd testdata/aws/stepfunctions/test_state_mock.json paced-west-mock-error-catch
    task = {**_TASK, "Catch": [{"ErrorEquals": ["Owned.Error"], "ResultPath": "$.error", "Next": "Caught"}]}
    result = test_state_sync(task, input={"items": [1, 2, 3]}, inspection_level="DEBUG",
                             mock={"errorOutput": {"error": "Owned.Error", "cause": "mock"}})
    caught = '{"items":[1,2,3],"error":{"Error":"Owned.Error","Cause":"mock"}}'
    assert result.response() == {"status": "CAUGHT_ERROR", "output": caught, "error": "Owned.Error", "cause": "mock",
                                 "nextState": "Caught", "inspectionData": {
                                     "input": '{"items":[1,2,3]}', "afterInputPath": '{"items":[1,2,3]}',
                                     "afterParameters": '{"FunctionName":"f"}', "afterResultPath": caught,
                                     "errorDetails": {"catchIndex": 0}}}


@pytest.mark.parametrize("pattern", [".sync", ".waitForTaskToken"])
def test_a_job_or_callback_task_without_a_mock_is_refused(pattern):
    """radkawar/stackd ecs_api_errors.json, sync-missing and callback-missing: TestState of an
    ecs:runTask.sync or .waitForTaskToken Task (a role, no mock) answers InvalidDefinition; with
    a mock it runs (the mocked result stands for the job's or the token's)."""
    definition = {"Type": "Task", "Resource": f"arn:aws:states:::ecs:runTask{pattern}",
                  "Parameters": {"Cluster": "c", "TaskDefinition": "t", "LaunchType": "FARGATE"}, "End": True}
    with pytest.raises(TestStateError) as info:
        test_state_sync(definition, input={}, role_arn="arn:aws:iam::000000000000:role/r", inspection_level="DEBUG")
    assert (info.value.code, info.value.message) == (
        "InvalidDefinition", "TestState API does not support '.sync' or '.waitForTaskToken' integration patterns.")
    mocked = test_state_sync(definition, input={}, mock={"result": '{"done": true}', "fieldValidationMode": "NONE"})
    assert (mocked.status, mocked.output) == ("SUCCEEDED", {"done": True})
