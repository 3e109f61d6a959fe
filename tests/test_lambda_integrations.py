"""The three ways a Task calls a Lambda function, replayed against the raw AWS capture
radkawar/stackd testdata/aws/stepfunctions/lambda_integrations.json (boto3/AWS CLI against
us-west-2, Sept 2026): its state machine routes each execution to ``aws-sdk:lambda:invoke``
(Sdk, SdkOmitted, SdkEvent), ``arn:aws:states:::lambda:invoke`` (Optimized, OptimizedEvent) or the
function's ARN (Direct); its Python 3.12 function answers ``{"received": event, "python_type": ...,
"unicode": "snowman ☃"}`` and raises ExplicitProbeError for ``{"raise_error": true}``. Here a local
handler stands for that function; every expected value below is the capture's (labels named
per case). What AWS answered that a local handler cannot: Lambda's request ids, its log, the
``requestId`` and ``stackTrace`` of the Python runtime's error document (ours has errorMessage and
errorType only), and the optimized integration's HTTP headers."""
from __future__ import annotations

import json
import re

import pytest

import asl
from asl.engine import Handlers, run_sync

FUNCTION = "arn:aws:lambda:us-west-2:000000000000:function:stackd-sfn-lambda-ae811abfff"

# the capture's definition (create-machine), as it was sent
DEFINITION = {"StartAt": "Route", "TimeoutSeconds": 20, "States": {
    "Route": {"Type": "Choice", "Choices": [
        {"Variable": "$.route", "StringEquals": name, "Next": name}
        for name in ("Sdk", "SdkOmitted", "SdkEvent", "Optimized", "OptimizedEvent", "Direct")],
        "Default": "BadRoute"},
    "Sdk": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:lambda:invoke",
            "Parameters": {"FunctionName": FUNCTION, "Payload.$": "$.payload"}, "End": True},
    "SdkOmitted": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:lambda:invoke",
                   "Parameters": {"FunctionName": FUNCTION}, "End": True},
    "SdkEvent": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:lambda:invoke",
                 "Parameters": {"FunctionName": FUNCTION, "Payload.$": "$.payload", "InvocationType": "Event"},
                 "End": True},
    "Optimized": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                  "Parameters": {"FunctionName": FUNCTION, "Payload.$": "$.payload"}, "End": True},
    "OptimizedEvent": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                       "Parameters": {"FunctionName": FUNCTION, "Payload.$": "$.payload", "InvocationType": "Event"},
                       "End": True},
    "Direct": {"Type": "Task", "Resource": FUNCTION, "InputPath": "$.payload", "End": True},
    "BadRoute": {"Type": "Fail", "Error": "BadRoute"}}}

MACHINE = asl.load(DEFINITION)
SNOW = "snowman \u2603"
VALUE = [1, True, None, SNOW]


class ExplicitProbeError(Exception):
    pass


def probe(seen: list) -> Handlers:
    """The capture's function (artifact.handler_source_utf8), recording each event it gets."""
    handlers = Handlers()

    @handlers.lambda_function("stackd-sfn-lambda-ae811abfff")
    def invoke(event, context):
        seen.append(event)
        if isinstance(event, dict) and event.get("raise_error"):
            raise ExplicitProbeError("explicit native probe failure")
        return {"received": event, "python_type": type(event).__name__, "unicode": SNOW}
    return handlers


def replay(route: str, payload):
    seen: list = []
    result = run_sync(MACHINE, {"route": route, "payload": payload}, handlers=probe(seen))
    return result, seen, result.history.to_aws()["events"]


def details(events: list, kind: str) -> dict:
    (event,) = [e for e in events if e["type"] == kind]
    return next(v for k, v in event.items() if k.endswith("EventDetails"))


def body(received, python_type: str) -> str:
    """The function's response body as the capture shows it (the Python 3.12 runtime's json.dumps:
    spaced, non-ASCII as it is)."""
    return json.dumps({"received": received, "python_type": python_type, "unicode": SNOW}, ensure_ascii=False)


# ---- aws-sdk:lambda:invoke ------------------------------------------------------------------

# label -> (payload, the event the function got (event-delivery-logs-0 PROBE_EVENT), the
# TaskScheduled parameters, the Payload text of the result)
SDK_CASES = {
    "sdk-payload-object": ({"marker": "sdk-object", "value": VALUE}, {"marker": "sdk-object", "value": VALUE},
                           '{"FunctionName":"%s","Payload":{"marker":"sdk-object","value":[1,true,null,"snowman ☃"]}}'),
    "sdk-payload-json-string": ('{"marker": "sdk-json-string", "value": 7}', {"marker": "sdk-json-string", "value": 7},
                                '{"FunctionName":"%s","Payload":"{\\"marker\\": \\"sdk-json-string\\", \\"value\\": 7}"}'),
    "sdk-payload-null": (None, {}, '{"FunctionName":"%s","Payload":null}'),
    "sdk-json-null-text": ("null", None, '{"FunctionName":"%s","Payload":"null"}'),
    "sdk-json-scalar-string": ('"plain native string"', "plain native string",
                               '{"FunctionName":"%s","Payload":"\\"plain native string\\""}'),
}


@pytest.mark.parametrize("label", SDK_CASES)
def test_aws_sdk_invoke_answers_lambdas_invoke_response_with_the_body_as_text(label):
    """history-<label>, describe-<label>-0: the function gets the Payload (a string is the request
    body itself, the value its text spells; null, no body: {}), the Task's result is
    {ExecutedVersion, Payload: the response body's text, StatusCode}, exactly as AWS wrote it."""
    payload, event, parameters = SDK_CASES[label]
    result, seen, events = replay("Sdk", payload)
    assert result.status == "SUCCEEDED" and seen == [event]
    scheduled = details(events, "TaskScheduled")
    assert (scheduled["resourceType"], scheduled["resource"], scheduled["parameters"]) == \
        ("aws-sdk:lambda", "invoke", parameters % FUNCTION)
    expected = {"ExecutedVersion": "$LATEST", "Payload": body(event, type(event).__name__), "StatusCode": 200}
    assert result.output == expected
    assert details(events, "TaskSucceeded")["output"] == json.dumps(expected, separators=(",", ":"),
                                                                    ensure_ascii=False)
    assert [e["type"] for e in events][3:] == ["TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSucceeded",
                                               "TaskStateExited", "ExecutionSucceeded"]


def test_aws_sdk_invoke_without_payload_sends_no_body():
    """history-sdk-payload-omitted: no Payload parameter, the function gets {} (as Lambda's own
    Invoke without a body, direct-api-omitted-body)."""
    result, seen, events = replay("SdkOmitted", None)
    assert seen == [{}]
    assert details(events, "TaskScheduled")["parameters"] == '{"FunctionName":"%s"}' % FUNCTION
    assert result.output == {"ExecutedVersion": "$LATEST", "Payload": body({}, "dict"), "StatusCode": 200}


def test_aws_sdk_invoke_of_text_that_is_not_json_is_refused_by_lambda():
    """history-sdk-payload-base64-string: a base64 string is not decoded; Lambda refuses the body
    after TaskStarted, the function never runs, and the Task fails (catchable) with Lambda's words."""
    text = "eyJtYXJrZXIiOiAic2RrLWJhc2U2NCIsICJ2YWx1ZSI6IDh9"
    result, seen, events = replay("Sdk", text)
    assert seen == []
    assert (result.status, result.error) == ("FAILED", "Lambda.InvalidRequestContentException")
    assert re.fullmatch(
        re.escape(f"Could not parse request body into json: Could not parse payload into json: Unrecognized token "
                  f"'{text}': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')\n"
                  " at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: 1, "
                  "column: 1] (Service: Lambda, Status Code: 400, Request ID: ")
        + r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\) \(SDK Attempt Count: 1\)",
        result.cause)
    assert [e["type"] for e in events][3:] == ["TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskFailed",
                                               "ExecutionFailed"]
    assert details(events, "TaskFailed")["cause"] == result.cause


@pytest.mark.parametrize("label, payload", [("sdk-function-error-object", {"raise_error": True}),
                                            ("sdk-function-error-json-string", '{"raise_error": true}')])
def test_aws_sdk_invoke_of_a_failing_function_succeeds_with_function_error(label, payload):
    """history-<label>: the function raised, the Invoke still succeeded: the Task succeeds with
    {ExecutedVersion, FunctionError: "Unhandled", Payload: the error document's text, StatusCode 200},
    in that order. (AWS's document goes on with requestId and stackTrace.)"""
    result, seen, events = replay("Sdk", payload)
    assert result.status == "SUCCEEDED" and seen == [{"raise_error": True}]
    out = result.output
    assert list(out) == ["ExecutedVersion", "FunctionError", "Payload", "StatusCode"]
    assert (out["ExecutedVersion"], out["FunctionError"], out["StatusCode"]) == ("$LATEST", "Unhandled", 200)
    assert out["Payload"].startswith('{"errorMessage": "explicit native probe failure", "errorType": '
                                     '"ExplicitProbeError"')
    assert "TaskFailed" not in [e["type"] for e in events]


def test_aws_sdk_invoke_of_an_event_answers_202_with_an_empty_payload():
    """history-sdk-event: InvocationType Event, the function gets the event (its log showed it) and
    the Task's result is {"Payload":"","StatusCode":202}."""
    result, seen, events = replay("SdkEvent", {"marker": "sdk-event-delivery"})
    assert seen == [{"marker": "sdk-event-delivery"}]
    assert details(events, "TaskScheduled")["parameters"] == \
        '{"FunctionName":"%s","InvocationType":"Event","Payload":{"marker":"sdk-event-delivery"}}' % FUNCTION
    assert details(events, "TaskSucceeded")["output"] == '{"Payload":"","StatusCode":202}'


# ---- arn:aws:states:::lambda:invoke -----------------------------------------------------------

# label -> (payload, the event the function got)
OPTIMIZED_CASES = {
    "optimized-success": ({"marker": "optimized-object", "value": VALUE}, {"marker": "optimized-object", "value": VALUE}),
    "optimized-json-string": ('{"marker": "optimized-json-string"}', {"marker": "optimized-json-string"}),
    "optimized-null": (None, {}),
    "optimized-json-null-text": ("null", None),
    "optimized-json-scalar-string": ('"plain native string"', "plain native string"),
}


@pytest.mark.parametrize("label", OPTIMIZED_CASES)
def test_lambda_invoke_gives_the_function_the_payload_and_the_state_its_result(label):
    """history-<label>: a string Payload is the body (the value its text spells), a null one no body
    ({}); the result's Payload is the function's result as JSON, with ExecutedVersion and StatusCode."""
    payload, event = OPTIMIZED_CASES[label]
    result, seen, _ = replay("Optimized", payload)
    assert result.status == "SUCCEEDED" and seen == [event]
    out = result.output
    assert (out["ExecutedVersion"], out["StatusCode"]) == ("$LATEST", 200)
    assert out["Payload"] == {"received": event, "python_type": type(event).__name__, "unicode": SNOW}


def test_lambda_invoke_of_a_failing_function_fails_with_its_error_type():
    """history-optimized-function-error: TaskFailed ExplicitProbeError, the cause the error document
    as compact JSON."""
    result, seen, events = replay("Optimized", {"raise_error": True})
    assert (result.status, result.error) == ("FAILED", "ExplicitProbeError")
    assert result.cause.startswith('{"errorMessage":"explicit native probe failure","errorType":"ExplicitProbeError"')
    assert details(events, "TaskFailed")["error"] == "ExplicitProbeError"


def test_lambda_invoke_of_an_event_answers_202():
    """history-optimized-event: Payload null and StatusCode 202."""
    result, seen, _ = replay("OptimizedEvent", {"marker": "optimized-event-delivery"})
    assert seen == [{"marker": "optimized-event-delivery"}]
    assert (result.output["Payload"], result.output["StatusCode"]) == (None, 202)


# ---- the function's ARN as the Resource ---------------------------------------------------------

@pytest.mark.parametrize("label, payload, scheduled", [
    ("direct-arn-success", {"marker": "direct-arn-object", "value": VALUE},
     '{"marker":"direct-arn-object","value":[1,true,null,"snowman ☃"]}'),
    ("direct-arn-null", None, "null"),
    ("direct-arn-scalar-string", "plain native string", '"plain native string"')])
def test_a_function_arn_gives_the_function_the_input_and_the_state_its_result(label, payload, scheduled):
    """history-<label>: LambdaFunctionScheduled's input is the state's input as JSON, the function
    gets it as it is, and its result is the state's."""
    result, seen, events = replay("Direct", payload)
    assert seen == [payload]
    assert details(events, "LambdaFunctionScheduled") == {"resource": FUNCTION, "input": scheduled,
                                                          "inputDetails": {"truncated": False}}
    assert result.output == {"received": payload, "python_type": type(payload).__name__, "unicode": SNOW}


def test_a_function_arn_of_a_failing_function_fails_with_its_error_document_as_written():
    """history-direct-arn-function-error: LambdaFunctionFailed ExplicitProbeError, the cause the
    document as the Python runtime wrote it (spaced)."""
    result, _, events = replay("Direct", {"raise_error": True})
    assert (result.status, result.error) == ("FAILED", "ExplicitProbeError")
    assert result.cause.startswith('{"errorMessage": "explicit native probe failure", "errorType": '
                                   '"ExplicitProbeError"')
    assert details(events, "LambdaFunctionFailed")["cause"] == result.cause
