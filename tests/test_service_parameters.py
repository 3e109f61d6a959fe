"""Optimized integrations: parameters AWS checks before the call fail as AWS fails them.

Recorded on AWS: ``The Parameters '<json>' could not be used to start the Task: [The value of
the field 'Headers' has an invalid format]`` (LocalStack's API Gateway test, and a user's
report for a string ``QueryParameters``), States.Runtime, located at the state.
"""
from __future__ import annotations

import json

import pytest

import asl
from asl.engine import run_sync
from asl.resources import PARAMETER_RULES, parameter_problems, parse_resource

PREFIX = "An error occurred while executing the state 'Call' (entered at the event id #2). "
GOOD = {"ApiEndpoint": "abc.execute-api.us-east-1.amazonaws.com", "Method": "GET", "Stage": "prod",
        "Headers": {"custom": ["a", "b"]}, "QueryParameters": {"q": ["1"]}, "AuthType": "IAM_ROLE"}


def call(parameters, resource="arn:aws:states:::apigateway:invoke"):
    m = asl.load({"StartAt": "Call", "States": {
        "Call": {"Type": "Task", "Resource": resource, "InputPath": "$.p",
                 "Retry": [{"ErrorEquals": ["States.ALL"]}],
                 "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], "End": True},
        "Caught": {"Type": "Pass", "End": True}}})
    return run_sync(m, {"p": parameters}, handlers={"state:Call": lambda p: {"StatusCode": 200}})


def test_valid_parameters_reach_the_service():
    result = call(GOOD)
    assert result.status == "SUCCEEDED" and [c.input for c in result.calls] == [GOOD]


@pytest.mark.parametrize("change, problem", [
    ({"Headers": {"custom": "a"}}, "The value of the field 'Headers' has an invalid format"),
    ({"Headers": ["custom"]}, "The value of the field 'Headers' has an invalid format"),
    ({"Headers": {"custom": [1]}}, "The value of the field 'Headers' has an invalid format"),
    ({"QueryParameters": "?symbol=BTC"}, "The value of the field 'QueryParameters' has an invalid format"),
    ({"Method": "FETCH"}, "The value of the field 'Method' has an invalid format"),
    ({"AuthType": "API_KEY"}, "The value of the field 'AuthType' has an invalid format"),
    ({"Headers": {"Host": ["x"], "X-Amz-Date": ["y"], "ok": ["z"]}},
     # AWS's text, recorded at creation: the names lower-cased in a list
     "The 'Headers' field contains unsupported values: [host, x-amz-date]"),
])
def test_parameters_aws_cannot_send_fail_before_the_call(change, problem):
    parameters = {**GOOD, **change}
    result = call(parameters)
    assert (result.status, result.error) == ("FAILED", "States.Runtime")  # neither retried nor caught
    assert result.cause == PREFIX + f"The Parameters '{json.dumps(parameters, separators=(',', ':'))}' could not " \
                                    f"be used to start the Task: [{problem}]"
    assert result.calls == []  # the service (its handler or mock) is never called
    assert result.history.types() == ["ExecutionStarted", "TaskStateEntered", "ExecutionFailed"]


def test_every_problem_is_listed_and_required_fields_are_checked():
    parameters = {"Method": "FETCH", "Headers": "h"}
    result = call(parameters, "arn:aws:states:::apigateway:invoke.waitForTaskToken")
    assert result.cause.endswith("could not be used to start the Task: [The field 'ApiEndpoint' is required but "
                                 "was missing, The value of the field 'Method' has an invalid format, The value of "
                                 "the field 'Headers' has an invalid format]")


def test_the_rules_are_one_table_keyed_by_known_apis():
    for service, api in PARAMETER_RULES:
        info = parse_resource(f"arn:aws:states:::{service}:{api}")
        assert info is not None and info.kind in ("service", "http")
    assert parameter_problems(parse_resource("arn:aws:states:::states:startExecution"), {"Name": 5}) == []
    assert parameter_problems(None, {}) == []
