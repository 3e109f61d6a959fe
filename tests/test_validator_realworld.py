"""Definitions deployed on AWS that the validator must not reject (issue 11), and the
checks that came with them: placeholders, regional integration ARNs, YAML scalars,
DefinitionUri problems, deliberate MaxAttempts 0 retriers, the definition size limit."""
from __future__ import annotations

import asl


def machine(**states):
    first = next(iter(states))
    return {"StartAt": first, "States": states}


def errors(definition, **kw):
    return [(d.code, d.message, d.location) for d in asl.validate(definition, **kw).errors]


def warnings(definition, **kw):
    return [(d.code, d.location) for d in asl.validate(definition, **kw).warnings]


# ---------------------------------------------------------------------------------------------
# Integration ARNs with a region and account; Pass Parameters as an array
# ---------------------------------------------------------------------------------------------

def test_integration_arns_with_region_and_account_are_accepted():
    for arn in ("arn:aws:states:us-east-1:123456789012:aws-sdk:s3:getObject",
                "arn:aws:states:us-east-1:123456789012:lambda:invoke",
                "arn:aws:states:eu-west-1:123456789012:states:startExecution.sync:2"):
        d = machine(T={"Type": "Task", "Resource": arn, "End": True})
        assert errors(d) == [], arn
        assert warnings(d) == [], arn
    # Step Functions' own ARNs are still not something a Task can call.
    d = machine(T={"Type": "Task", "Resource": "arn:aws:states:us-east-1:123456789012:stateMachine:x", "End": True})
    assert [e[0] for e in errors(d)] == ["SCHEMA_VALIDATION_FAILED"]
    # the pattern rules still hold on the long form
    d = machine(T={"Type": "Task", "Resource": "arn:aws:states:us-east-1:123456789012:dynamodb:query", "End": True})
    assert [e[0] for e in errors(d)] == ["SCHEMA_VALIDATION_FAILED"]


def test_regional_integration_arns_run():
    from asl.engine import Handlers, run_sync

    handlers = Handlers()
    handlers.register("fn", lambda event: {"seen": event})
    handlers.register("arn:aws:states:us-east-1:123456789012:aws-sdk:s3:getObject", lambda p: {"Body": p["Key"]})
    d = machine(
        Call={"Type": "Task", "Resource": "arn:aws:states:us-east-1:123456789012:lambda:invoke",
              "Parameters": {"FunctionName": "fn", "Payload.$": "$"}, "ResultSelector": {"p.$": "$.Payload"},
              "Next": "Get"},
        Get={"Type": "Task", "Resource": "arn:aws:states:us-east-1:123456789012:aws-sdk:s3:getObject",
             "Parameters": {"Bucket": "b", "Key": "k"}, "ResultPath": "$.s3", "End": True})
    result = run_sync(asl.load(d), {"a": 1}, handlers=handlers)
    assert result.status == "SUCCEEDED"
    assert result.output == {"p": {"seen": {"a": 1}}, "s3": {"Body": "k"}}


def test_pass_parameters_may_be_an_array():
    from asl.engine import run_sync

    d = machine(P={"Type": "Pass", "Parameters": [{"a.$": "$.x"}, 2, "s"], "End": True})
    assert errors(d) == []
    assert run_sync(asl.load(d), {"x": 1}).output == [{"a": 1}, 2, "s"]
    # elsewhere Parameters stays an object, and a Pass's scalar Parameters is still refused
    d = machine(T={"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": [1], "End": True})
    assert ("SCHEMA_VALIDATION_FAILED", "Expected value of type [OBJECT]", "/States/T/Parameters") in errors(d)
    d = machine(P={"Type": "Pass", "Parameters": "x", "End": True})
    assert ("SCHEMA_VALIDATION_FAILED", "Expected value of type [OBJECT]", "/States/P/Parameters") in errors(d)


# ---------------------------------------------------------------------------------------------
# RETRY_NEVER
# ---------------------------------------------------------------------------------------------

def _task(retry):
    return machine(T={"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f",
                      "Retry": retry, "End": True})


def test_max_attempts_zero_before_a_retrier_that_would_match_is_deliberate():
    shield = {"ErrorEquals": ["Custom.Fatal"], "MaxAttempts": 0}
    for later in (["States.ALL"], ["Custom.Fatal", "Other"], ["States.TaskFailed"]):
        assert ("RETRY_NEVER", "/States/T/Retry[0]") not in warnings(_task([shield, {"ErrorEquals": later}])), later
    # alone, or before retriers that would not take its errors, it only disables retries
    assert ("RETRY_NEVER", "/States/T/Retry[0]") in warnings(_task([shield]))
    assert ("RETRY_NEVER", "/States/T/Retry[0]") in warnings(_task([shield, {"ErrorEquals": ["Other"]}]))
    # States.TaskFailed does not match States.Timeout
    timeout = {"ErrorEquals": ["States.Timeout"], "MaxAttempts": 0}
    assert ("RETRY_NEVER", "/States/T/Retry[0]") in warnings(_task([timeout, {"ErrorEquals": ["States.TaskFailed"]}]))
    # the last retrier has nothing after it to shield
    assert ("RETRY_NEVER", "/States/T/Retry[1]") in warnings(
        _task([{"ErrorEquals": ["A"]}, {"ErrorEquals": ["States.ALL"], "MaxAttempts": 0}]))
