"""`asl test-state`, `asl mocks from-history` and `asl test`, in process (click's runner)."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from asl.cli.main import get_cli
from conftest import SAMPLES

SHIPPING = str(SAMPLES / "shipping" / "shipping.json")
INPUT = str(SAMPLES / "shipping" / "input.json")
HANDLERS = str(SAMPLES / "shipping" / "handlers.py")


def invoke(*args, input=None):
    return CliRunner().invoke(get_cli(), [str(a) for a in args], input=input)


def test_test_state_prints_status_next_state_and_inspection_data():
    result = invoke("test-state", SHIPPING, "Ship", "--input-json", '{"orderId": "1", "express": true}',
                    "--mock-result", '{"tracking": "T"}')
    assert result.exit_code == 0
    assert result.output.splitlines() == [
        "status: SUCCEEDED",
        "nextState: Notify",
        'output: {"orderId": "1", "express": true, "shipment": {"tracking": "T"}}',
        "inspectionData:",
        '  input: {"orderId": "1", "express": true}',
        '  afterInputPath: {"orderId": "1", "express": true}',
        '  afterParameters: {"orderId": "1", "express": true}',
        '  result: {"tracking": "T"}',
        '  afterResultSelector: {"tracking": "T"}',
        '  afterResultPath: {"orderId": "1", "express": true, "shipment": {"tracking": "T"}}']


ORDER_MACHINE = SAMPLES / "order" / "order.json"


def test_test_state_mock_result_is_the_services_response_as_on_aws():
    # lambda:invoke: the mock is Lambda's Invoke response, not the function's return value
    mock = '{"StatusCode": 200, "Payload": {"status": "PAID", "transactionId": "t-1"}}'
    # (an object Payload passes only fieldValidationMode NONE, as on AWS: radkawar/stackd
    # testdata/aws/stepfunctions/test_state_mock.json mock-payload-object-PRESENT, -NONE)
    result = invoke("test-state", ORDER_MACHINE, "ProcessPayment", "--input-json",
                    '{"orderId": "1", "total": 5, "payment": {}}', "--mock-result", mock, "--field-validation-mode",
                    "NONE", "--output-format", "json")
    report = json.loads(result.output)
    assert report["inspectionData"]["result"] == json.loads(mock)
    assert report["output"]["payment"] == {"status": "PAID", "transactionId": "t-1"}  # ResultSelector read Payload
    refused = invoke("test-state", ORDER_MACHINE, "ProcessPayment", "--input-json", "{}",
                     "--mock-result", '{"StatusCode": "200"}')
    assert refused.exit_code == 2 and refused.output == (
        "asl test-state: ValidationException: Mock result schema validation error: Field 'StatusCode' must be a "
        "number\n")
    unchecked = invoke("test-state", ORDER_MACHINE, "ProcessPayment", "--input-json", "{}", "--mock-result",
                       '{"StatusCode": "200"}', "--field-validation-mode", "NONE", "--inspection-level", "INFO")
    assert "inspectionData" not in unchecked.output and "Traceback" not in unchecked.output


def test_test_state_json_with_an_error_mock_and_variables():
    result = invoke("test-state", SHIPPING, "Ship", "--input-json", '{"orderId": "1", "express": true}',
                    "--mock-error", "Courier.Unavailable", "--mock-cause", "busy", "--retry-count", "1",
                    "--variables", '{"v": 1}', "--output-format", "json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["status"] == "RETRIABLE" and report["cause"] == "busy"
    assert report["inspectionData"]["errorDetails"] == {"retryIndex": 0, "retryBackoffIntervalSeconds": 7200.0}
    assert report["inspectionData"]["variables"] == {"v": 1}


def test_test_state_with_a_handlers_file():
    result = invoke("test-state", SHIPPING, "Reserve", "--input-json", '{"sku": "A", "quantity": 2}',
                    "--handlers", HANDLERS, "--retry-count", "3", "--output-format", "json")
    report = json.loads(result.output)  # the sample's Reserve fails its first attempt; retries are used up
    assert (report["status"], report["error"]) == ("FAILED", "Warehouse.Busy") and result.exit_code == 1


@pytest.mark.parametrize("args, message", [
    (["Shipp", "--input-json", "{}"], "has no state 'Shipp' (did you mean 'Ship'?)"),
    (["Ship", "--input-json", "{"], "--input-json:1:2: invalid JSON: Unexpected end-of-input"),
    (["Ship", "--variables", "[1]"], "--variables must be a JSON object"),
    (["Ship", "--mock-result", "1", "--mock-error", "E"], "give --mock-result or --mock-error, not both"),
    (["Ship", "--mock-cause", "c"], "--mock-cause goes with --mock-error"),
])
def test_test_state_usage_errors_are_one_line_without_traceback(args, message):
    result = invoke("test-state", SHIPPING, *args)
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
    assert result.output.startswith("asl test-state: ")


def test_test_state_missing_and_invalid_definitions(tmp_path):
    assert invoke("test-state", tmp_path / "none.json", "A").exit_code == 2
    broken = tmp_path / "broken.json"
    broken.write_text('{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}}}')
    result = invoke("test-state", broken, "A")
    assert result.exit_code == 3 and "MISSING_TRANSITION_TARGET" in result.output


def test_a_recorded_history_becomes_a_regression_test(tmp_path):
    history = tmp_path / "incident-7.json"
    ran = invoke("run", SHIPPING, "--input", INPUT, "--handlers", HANDLERS, "--virtual-time", "--history", history)
    assert ran.exit_code == 0, ran.output
    mock_config, cases = tmp_path / "MockConfigFile.json", tmp_path / "cases.json"
    made = invoke("mocks", "from-history", history, "--name", "shipping", "--mock-config", mock_config,
                  "--cases", cases)
    assert made.exit_code == 0, made.output
    assert "warning: 'Reserve' ran several times inside a Map or Parallel" in made.output
    config = json.loads(mock_config.read_text())
    assert config["StateMachines"]["shipping"]["TestCases"]["incident-7"]["Ship"] == "incident-7.Ship"
    assert config["MockedResponses"]["incident-7.Ship"]["0"] == {
        "Throw": {"Error": "Courier.Unavailable", "Cause": "no courier is free"}}
    expected = json.loads(cases.read_text())["incident-7"]
    assert expected["input"] == json.loads(open(INPUT).read()) and expected["expect"]["status"] == "SUCCEEDED"

    passed = invoke("test", mock_config, SHIPPING, "--cases", cases)
    assert passed.exit_code == 0, passed.output
    assert passed.output.splitlines() == ["PASS  incident-7  SUCCEEDED",
                                          "1 test case(s) of shipping: 1 passed, 0 failed, 0 without expectations"]

    # Printing the MockConfigFile instead of writing it; a second test case in the same file.
    printed = invoke("mocks", "from-history", history, "--name", "shipping", "--test-case", "Again")
    assert json.loads(printed.stdout)["StateMachines"]["shipping"]["TestCases"]["Again"]["Email"] == "Again.Email"


def test_asl_test_reports_failed_expectations_and_unchecked_cases(tmp_path):
    mock_config = tmp_path / "MockConfigFile.json"
    mock_config.write_text(json.dumps({
        "StateMachines": {"shipping": {"TestCases": {
            "Express": {"Reserve": "Ok", "Ship": "Ok", "Email": "Ok", "Sms": "Ok"},
            "NoStock": {"Reserve": "Missing"}}}},
        "MockedResponses": {"Ok": {"0-9": {"Return": {"tracking": "T"}}},
                            "Missing": {"0": {"Throw": {"Error": "Stock.Missing", "Cause": "none"}}}}}))
    cases = tmp_path / "cases.json"
    order = {"orderId": "1", "customer": "c@example.com", "express": True, "items": [{"sku": "A", "quantity": 1}]}
    cases.write_text(json.dumps({"Express": {"input": order,
                                             "expect": {"status": "SUCCEEDED", "path": ["ReserveItems", "Ship"]}}}))
    result = invoke("test", mock_config, SHIPPING, "--cases", cases, "--input-json", json.dumps(order))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == "FAIL  Express  SUCCEEDED"
    assert lines[1] == "      the path differs at step 2: expected 'Ship', got 'ChooseSpeed'"
    assert "RAN   NoStock  FAILED in OutOfStock: Order.OutOfStock: An item of the order is out of stock." in lines
    assert lines[-1] == "2 test case(s) of shipping: 0 passed, 1 failed, 1 without expectations"
    data = json.loads(invoke("test", mock_config, SHIPPING, "--test-case", "NoStock",
                             "--input-json", json.dumps(order), "--output-format", "json").output)
    assert data["cases"] == [{"name": "NoStock", "passed": True, "checked": False, "status": "FAILED",
                              "error": "Order.OutOfStock", "cause": "An item of the order is out of stock.",
                              "problems": []}]


def test_asl_test_fails_a_case_that_reaches_an_unmocked_task(tmp_path):
    mock_config = tmp_path / "MockConfigFile.json"
    mock_config.write_text(json.dumps({
        "StateMachines": {"shipping": {"TestCases": {"Partial": {"Reserve": "Ok"}}}},
        "MockedResponses": {"Ok": {"0-9": {"Return": {"tracking": "T"}}}}}))
    order = {"orderId": "1", "customer": "c@example.com", "express": True, "items": [{"sku": "A", "quantity": 1}]}
    result = invoke("test", mock_config, SHIPPING, "--input-json", json.dumps(order))
    assert result.exit_code == 1  # no expectations, yet not a mere "RAN": the test case is incomplete
    lines = result.output.splitlines()
    assert lines[0].startswith("FAIL  Partial  FAILED in Ship: States.Runtime: No handler or mock for the Task ")
    assert lines[1] == "      the run reached the Task state 'Ship', which the test case does not mock and no " \
                       "handler serves"
    assert lines[-1] == "1 test case(s) of shipping: 0 passed, 1 failed, 0 without expectations"


def test_asl_test_without_input_warns_and_fails_the_cases_that_end_in_states_runtime(tmp_path):
    """Without --cases or --input each test case runs with {}: asl test says so once. The
    shipping machine's Map then finds no $.items and the run fails with States.Runtime, which AWS
    raises for what a state cannot process and lets no Retry or Catch take (not even
    States.ALL: "Error handling in Step Functions", States.Runtime): a broken run, not a "RAN",
    unless the case expects that error."""
    mock_config = tmp_path / "MockConfigFile.json"
    mock_config.write_text(json.dumps({
        "StateMachines": {"shipping": {"TestCases": {"Express": {"Reserve": "Ok", "Ship": "Ok"},
                                                     "NoItems": {"Reserve": "Ok", "Ship": "Ok"}}}},
        "MockedResponses": {"Ok": {"0-9": {"Return": {"tracking": "T"}}}}}))
    result = invoke("test", mock_config, SHIPPING)
    assert result.exit_code == 1
    assert result.stderr == "asl test: warning: no --cases or --input given: each test case runs with input {}\n"
    lines = result.stdout.splitlines()
    assert lines[0] == "FAIL  Express  FAILED in ReserveItems: States.Runtime: An error occurred while executing " \
                       "the state 'ReserveItems' (entered at the event id #2). Reference path \"$.items\" must " \
                       "point to array."
    assert lines[1] == "      States.Runtime: a state could not process what it was given (no Retry or Catch " \
                       "takes that error): does the test case get the input it needs? (A case meant to fail so " \
                       "expects \"error\": \"States.Runtime\".)"
    assert lines[-1] == "2 test case(s) of shipping: 0 passed, 2 failed, 0 without expectations"
    cases = tmp_path / "cases.json"
    cases.write_text(json.dumps({"NoItems": {"expect": {"status": "FAILED", "error": "States.Runtime"}}}))
    expected = invoke("test", mock_config, SHIPPING, "--cases", cases, "--test-case", "NoItems")
    assert expected.exit_code == 0, expected.output
    assert expected.stderr == "asl test: warning: the cases file gives no input for 'NoItems' and no --input is " \
                              "given: it runs with input {}\n"
    assert expected.stdout.splitlines()[-1] == "1 test case(s) of shipping: 1 passed, 0 failed, 0 without expectations"
    # a case that pins the failure by status (or cause) meant it too
    cases.write_text(json.dumps({"NoItems": {"expect": {"status": "FAILED"}}}))
    by_status = invoke("test", mock_config, SHIPPING, "--cases", cases, "--test-case", "NoItems")
    assert by_status.exit_code == 0, by_status.output
    order = {"orderId": "1", "customer": "c@example.com", "express": True, "items": [{"sku": "A", "quantity": 1}]}
    given = invoke("test", mock_config, SHIPPING, "--input-json", json.dumps(order), "--test-case", "Express")
    assert given.stderr == ""


@pytest.mark.parametrize("args, message", [
    (["none.json", SHIPPING], "none.json: no such MockConfigFile"),
    (["{config}", SHIPPING, "--test-case", "Nope"], "state machine 'shipping' has no test case 'Nope'"),
    (["{config}", SHIPPING, "--test-case", "Hapy"], "has no test case 'Hapy' (it has: A, Happy); did you mean 'Happy'?"),
    (["{config}", SHIPPING, "--cases", "{cases}"], "the cases file: state machine 'shipping' has no test case 'Hapy' "
                                                   "(it has: A, Happy); did you mean 'Happy'?"),
    (["{config}", SHIPPING, "--name", "other"], "has no state machine 'other' (it has: shipping); name one with"),
    (["{config}", SHIPPING, "--cases", "{config}"], "cases file: 'StateMachines' must be an object with"),
])
def test_asl_test_usage_errors(tmp_path, args, message):
    config = tmp_path / "MockConfigFile.json"
    config.write_text('{"StateMachines": {"shipping": {"TestCases": {"A": {}, "Happy": {}}}}, "MockedResponses": {}}')
    cases = tmp_path / "cases.json"
    cases.write_text('{"Hapy": {"input": {}}}')
    result = invoke("test", *[a.replace("{config}", str(config)).replace("{cases}", str(cases)) for a in args])
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
    # the usage error alone: no warning before it that an unknown test case "runs with input {}"
    assert "warning" not in result.stderr


@pytest.mark.parametrize("text, message", [
    ("{", "invalid JSON"),
    ('{"events": [{"type": "PassStateEntered"}]}', "the history has no ExecutionStarted event"),
    ("[1, 2]", "not an execution history"),
])
def test_from_history_usage_errors(tmp_path, text, message):
    history = tmp_path / "h.json"
    history.write_text(text)
    result = invoke("mocks", "from-history", history, "--name", "x")
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_test_state_of_a_task_without_mock_fails_when_it_invokes_it():
    result = invoke("test-state", SHIPPING, "Ship", "--input", INPUT, "--output-format", "json")
    report = json.loads(result.output)
    assert result.exit_code == 1 and (report["status"], report["error"]) == ("FAILED", "States.Runtime")
    assert report["cause"].startswith("No handler or mock for the Task state 'Ship' ")


def test_asl_test_serves_unmocked_states_with_the_options_its_causes_name(tmp_path):
    """A test case that mocks nothing reaches a Distributed Map reading bucket 'data' and a
    child execution of 'Kid': their causes name --s3-folder and --machine (engine/distributed/
    objects.py, engine/task.py), and asl test takes both, as asl run does (it had neither)."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "items.json").write_text("[1, 2]")
    (tmp_path / "kid.json").write_text(json.dumps({"StartAt": "K", "States": {"K": {"Type": "Succeed"}}}))
    (tmp_path / "fan.json").write_text(json.dumps({"StartAt": "Fan", "States": {
        "Fan": {"Type": "Map", "ResultPath": None, "Next": "Start",
                "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON"},
                               "Parameters": {"Bucket": "data", "Key": "items.json"}},
                "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                                  "StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}},
        "Start": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2", "End": True,
                  "Parameters": {"StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:Kid"}}}}))
    (tmp_path / "mocks.json").write_text(json.dumps({"StateMachines": {"fan": {"TestCases": {"Nothing": {}}}}}))
    mocks, fan = tmp_path / "mocks.json", tmp_path / "fan.json"
    first = invoke("test", mocks, fan)
    assert "States.Runtime: asl-engine cannot reach bucket" in first.stdout and "--s3-folder data=PATH" in first.stdout
    second = invoke("test", mocks, fan, "--s3-folder", f"data={tmp_path / 'data'}")
    assert "FAILED in Start" in second.stdout and "(--machine Kid=FILE; machines= in Python)" in second.stdout
    third = invoke("test", mocks, fan, "--s3-folder", f"data={tmp_path / 'data'}", "--machine", f"Kid={tmp_path / 'kid.json'}")
    assert third.exit_code == 0, third.output
    assert third.stdout.startswith("RAN   Nothing  SUCCEEDED\n")


def test_asl_test_state_calls_the_service_its_cause_names(tmp_path, monkeypatch):
    """An unmocked Task's cause says "call the service (--aws, --endpoint-url URL; ...)":
    asl test-state takes them, and calls the service as AWS's TestState does (here an endpoint
    on loopback where nothing listens: the call is made, and fails as the SDK reports it)."""
    for name, value in (("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test"),
                        ("AWS_DEFAULT_REGION", "us-east-1")):
        monkeypatch.setenv(name, value)
    (tmp_path / "sq.json").write_text(json.dumps({"StartAt": "S", "States": {"S": {
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage", "End": True,
        "Parameters": {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/q", "MessageBody": "x"}}}}))
    alone = invoke("test-state", tmp_path / "sq.json", "S", "--output-format", "json")
    assert "(--aws, --endpoint-url URL; aws= in Python)" in json.loads(alone.stdout)["cause"]
    called = invoke("test-state", tmp_path / "sq.json", "S", "--output-format", "json",
                    "--endpoint-url", "http://127.0.0.1:9")
    answer = json.loads(called.stdout)
    assert answer["status"] == "FAILED" and answer["error"].startswith("SQS."), answer
