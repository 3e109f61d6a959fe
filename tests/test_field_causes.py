"""Runtime causes name the field being evaluated, for every field that takes an expression.

The wording is AWS's, as recorded (conformance cases): ``The JSONata expression '<expr>'
specified for the field '<Field>' returned nothing (undefined).`` / ``... returned an unexpected
result type. Expected 'array', but was 'string' for value: "string"`` (Map Items), nested
template fields as ``Output/error``; ``The JSONPath '<path>' specified for the field 'value.$'
could not be found in the input ...``; ``The MaxConcurrencyPath field refers to value "NoNumber"
which is not a valid integer: $.MaxConcurrencyValue``.
"""
from __future__ import annotations

import json

import pytest

import asl
from asl.engine import run_sync

PREFIX = "An error occurred while executing the state 'S' (entered at the event id #2). "
PASS = {"Type": "Pass", "End": True}
PROCESSOR = {"StartAt": "P", "States": {"P": PASS}}
DISTRIBUTED = {**PROCESSOR, "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}}
UNDEFINED = "{% $nope %}"


def task(**fields):
    return {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f", "End": True, **fields}


def inline_map(**fields):
    return {"Type": "Map", "ItemProcessor": PROCESSOR, "End": True, **fields}


def distributed_map(**fields):
    return {"Type": "Map", "ItemProcessor": DISTRIBUTED, "End": True, **fields}


def run(state, query_language=None, other=None):
    definition = {"StartAt": "S", "States": {"S": state, **(other or {})}}
    if query_language:
        definition["QueryLanguage"] = query_language
    return run_sync(asl.load(json.loads(json.dumps(definition))), {"xs": [1], "s": "abc"},
                    handlers={"f": lambda payload: {}})


JSONATA_FIELDS = [
    ("Items", inline_map(Items=UNDEFINED)),
    ("ItemSelector/x", inline_map(Items=[1], ItemSelector={"x": UNDEFINED})),
    ("MaxConcurrency", inline_map(Items=[1], MaxConcurrency=UNDEFINED)),
    ("ToleratedFailureCount", distributed_map(Items=[1], ToleratedFailureCount=UNDEFINED)),
    ("ToleratedFailurePercentage", distributed_map(Items=[1], ToleratedFailurePercentage=UNDEFINED)),
    ("TimeoutSeconds", task(TimeoutSeconds=UNDEFINED)),
    ("HeartbeatSeconds", task(HeartbeatSeconds=UNDEFINED)),
    ("Arguments", task(Arguments=UNDEFINED)),
    ("Output/a", {"Type": "Pass", "Output": {"a": [1, UNDEFINED]}, "End": True}),
    ("Assign/v", {"Type": "Pass", "Assign": {"v": UNDEFINED}, "End": True}),
    ("Seconds", {"Type": "Wait", "Seconds": UNDEFINED, "End": True}),
    ("Timestamp", {"Type": "Wait", "Timestamp": UNDEFINED, "End": True}),
    ("Error", {"Type": "Fail", "Error": UNDEFINED}),
    ("Condition", {"Type": "Choice", "Choices": [{"Condition": UNDEFINED, "Next": "E"}], "Default": "E"}),
]


@pytest.mark.parametrize("field, state", JSONATA_FIELDS, ids=[f for f, _ in JSONATA_FIELDS])
def test_an_undefined_jsonata_result_names_its_field(field, state):
    result = run(state, "JSONata", {"E": PASS} if state["Type"] == "Choice" else None)
    assert (result.status, result.error) == ("FAILED", "States.QueryEvaluationError")
    assert result.cause == PREFIX + f"The JSONata expression '$nope' specified for the field '{field}' returned " \
                                    "nothing (undefined)."
    failed = [e for e in result.events if e["type"] == "EvaluationFailed"]
    assert failed[0]["evaluationFailedEventDetails"]["location"] == field


WRONG_TYPES = [
    ("Items", "array", "'a'", inline_map(Items="{% 'a' %}")),
    ("MaxConcurrency", "integer", "'a'", inline_map(Items=[1], MaxConcurrency="{% 'a' %}")),
    ("MaxConcurrency", "integer", "1.5", inline_map(Items=[1], MaxConcurrency="{% 1.5 %}")),
    ("ToleratedFailureCount", "integer", "'a'", distributed_map(Items=[1], ToleratedFailureCount="{% 'a' %}")),
    ("ToleratedFailurePercentage", "number", "'a'",
     distributed_map(Items=[1], ToleratedFailurePercentage="{% 'a' %}")),
    ("TimeoutSeconds", "integer", "'a'", task(TimeoutSeconds="{% 'a' %}")),
    ("HeartbeatSeconds", "integer", "true", task(HeartbeatSeconds="{% true %}")),
    ("Seconds", "integer", "'a'", {"Type": "Wait", "Seconds": "{% 'a' %}", "End": True}),
    ("Timestamp", "string", "1", {"Type": "Wait", "Timestamp": "{% 1 %}", "End": True}),
    ("Error", "string", "1", {"Type": "Fail", "Error": "{% 1 %}"}),
    ("Cause", "string", "[1]", {"Type": "Fail", "Cause": "{% [1] %}"}),
    ("Condition", "boolean", "1", {"Type": "Choice", "Choices": [{"Condition": "{% 1 %}", "Next": "E"}],
                                   "Default": "E"}),
]


@pytest.mark.parametrize("field, kind, expression, state", WRONG_TYPES,
                         ids=[f"{f}-{e}" for f, _, e, _ in WRONG_TYPES])
def test_a_jsonata_result_of_the_wrong_type_names_its_field_and_expression(field, kind, expression, state):
    result = run(state, "JSONata", {"E": PASS} if state["Type"] == "Choice" else None)
    value = json.loads(expression.replace("'", '"'))
    actual = {str: "string", bool: "boolean", float: "number", int: "number", list: "array"}[type(value)]
    assert (result.status, result.error) == ("FAILED", "States.QueryEvaluationError")
    assert result.cause == PREFIX + f"The JSONata expression '{expression}' specified for the field '{field}' " \
        f"returned an unexpected result type. Expected '{kind}', but was '{actual}' for value: " \
        f"{json.dumps(value, separators=(',', ':'))}"


def test_a_jsonata_timestamp_that_is_no_date_is_located_at_timestamp():
    # AWS (LocalStack's AWS-recorded test_base_scenarios::test_wait_timestamp_jsonata[INVALID_ISO]):
    # EvaluationFailed names the field, location "Timestamp"
    result = run({"Type": "Wait", "Timestamp": "{% $states.input.s %}", "End": True}, "JSONata")
    assert (result.status, result.error) == ("FAILED", "States.QueryEvaluationError")
    assert result.cause == PREFIX + "The Timestamp field cannot be parsed as an ISO-8601 extended offset " \
                                    "date-time format string: abc"
    failed = [e for e in result.events if e["type"] == "EvaluationFailed"]
    assert failed[0]["evaluationFailedEventDetails"]["location"] == "Timestamp"


def test_a_jsonata_map_input_that_is_no_array_has_no_location():
    # AWS (LocalStack's AWS-recorded test_base_scenarios::test_map_state_items_input_types[number]):
    # no field failed, and EvaluationFailed has no `location` key
    result = run_sync(asl.load({"QueryLanguage": "JSONata", "StartAt": "S", "States": {"S": inline_map()}}), 7)
    assert (result.status, result.error) == ("FAILED", "States.QueryEvaluationError")
    assert result.cause == PREFIX + "Map state input must be an array but was: 7"
    failed = [e for e in result.history.to_aws()["events"] if e["type"] == "EvaluationFailed"]
    assert "location" not in failed[0]["evaluationFailedEventDetails"]


PATH_FIELDS = [
    ("MaxConcurrencyPath", "integer", inline_map(ItemsPath="$.xs", MaxConcurrencyPath="$.s")),
    ("ToleratedFailureCountPath", "integer", distributed_map(ItemsPath="$.xs", ToleratedFailureCountPath="$.s")),
    ("ToleratedFailurePercentagePath", "float",
     distributed_map(ItemsPath="$.xs", ToleratedFailurePercentagePath="$.s")),
    ("TimeoutSecondsPath", "positive integer", task(TimeoutSecondsPath="$.s")),
    ("HeartbeatSecondsPath", "positive integer", task(HeartbeatSecondsPath="$.s")),
]


@pytest.mark.parametrize("field, kind, state", PATH_FIELDS, ids=[f for f, _, _ in PATH_FIELDS])
def test_a_path_field_that_selects_the_wrong_value_names_itself(field, kind, state):
    result = run(state)
    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert result.cause == PREFIX + f'The {field} field refers to value "abc" which is not a valid {kind}: $.s'


TEMPLATE_KEYS = [
    ("Parameters", {"Type": "Pass", "Parameters": {"a": {"value.$": "$.nope"}}, "End": True}),
    ("ItemSelector", inline_map(ItemsPath="$.xs", ItemSelector={"value.$": "$.nope"})),
    ("Assign", {"Type": "Pass", "Assign": {"value.$": "$.nope"}, "End": True}),
    ("Task Parameters", task(Parameters={"value.$": "$.nope"})),
]


@pytest.mark.parametrize("where, state", TEMPLATE_KEYS, ids=[w for w, _ in TEMPLATE_KEYS])
def test_a_jsonpath_template_miss_names_its_key(where, state):
    result = run(state)
    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert result.cause == PREFIX + "The JSONPath '$.nope' specified for the field 'value.$' could not be found " \
                                    'in the input \'{"xs":[1],"s":"abc"}\''


@pytest.mark.parametrize("path, outcome", [("$[*]", [[1], "abc"]), ("$.xs[0:]", [1]), ("$.absent[1:]", []),
                                           ("$[0:]", None), ("$[1:2]", None), ("$.s[:1]", None)])
def test_a_slice_of_a_present_non_array_is_a_path_miss(path, outcome):
    # AWS recordings of LocalStack's base/test_base.py::
    # test_json_path_array_wildcard_or_slice_with_dictionary_input: on an object input, $[*]
    # gives its values and $[0:], $[:0], $[0:1], $[1:], $[:1], $[1:2] fail as a path miss
    result = run({"Type": "Pass", "Parameters": {"value.$": path}, "End": True})
    if outcome is not None:
        assert (result.status, result.output) == ("SUCCEEDED", {"value": outcome})
        return
    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert result.cause == PREFIX + f"The JSONPath '{path}' specified for the field 'value.$' could not be " \
                                    'found in the input \'{"xs":[1],"s":"abc"}\''


@pytest.mark.parametrize("items_path, named", [("$.s", "$.s"), ("$$.Execution.Input", "$.Execution.Input"),
                                               ("$$", "$")])
def test_an_items_path_that_is_no_array_is_named_as_a_path_into_what_it_reads(items_path, named):
    """AWS (recorded through TestState) names a context ItemsPath without its first ``$``; a
    template's ``$$`` path keeps both in its own cause (the execution conformance cases)."""
    result = run(inline_map(ItemsPath=items_path))
    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert result.cause.endswith(f'Reference path "{named}" must point to array.')


def test_an_intrinsic_given_bad_arguments_fails_the_execution_as_aws_does():
    """AWS reports an intrinsic argument failure as States.Runtime ``Invalid arguments in
    States.<Function>``, not the spec's States.IntrinsicFailure. The machine and input are those
    of aws-test-harness/aws-test-harness@d9aff40
    languages/python/tests/aws_test_harness_tests/integration/aws_test_harness/infrastructure/
    boto_state_machine_test.py::test_reports_execution_failure, an integration test run against
    AWS (error == 'States.Runtime', 'Invalid arguments in States.MathAdd' in cause)."""
    definition = {"StartAt": "SetResult", "States": {"SetResult": {
        "Type": "Pass", "Parameters": {"result.$": "States.MathAdd($.firstNumber, $.secondNumber)"},
        "OutputPath": "$.result", "End": True}}}
    result = run_sync(asl.load(definition), {"firstNumber": 1, "secondNumber": "NOT A NUMBER"})
    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    # the words before "Invalid arguments" are those of AWS's TestState answer for another call
    # (radkawar/stackd testdata/aws/stepfunctions/dataflow_execution.json test-pass-intrinsic-type-error)
    assert result.cause == "An error occurred while executing the state 'SetResult' (entered at the event id " \
                           "#2). There was an error while evaluating the intrinsic function: " \
                           "States.MathAdd($.firstNumber, $.secondNumber). Invalid arguments in States.MathAdd"
    # what was wrong, which AWS's cause leaves out, stays with the result (never in the history)
    assert result.hint == 'States.MathAdd: argument 2 must be a number, but was a string ("NOT A NUMBER")'
    assert "argument 2" not in json.dumps(result.events)


def test_an_intrinsic_failure_in_a_parallel_branch_keeps_its_hint():
    branch = {"StartAt": "Add", "States": {"Add": {
        "Type": "Pass", "Parameters": {"s.$": "States.MathAdd($.a, $.b)"}, "End": True}}}
    definition = {"StartAt": "P", "States": {"P": {"Type": "Parallel", "Branches": [branch], "End": True}}}
    result = run_sync(asl.load(definition), {"a": 1, "b": None})
    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert result.cause.endswith("Invalid arguments in States.MathAdd")
    assert result.hint.startswith("States.MathAdd: argument 2 must be a number")
    # a failure whose cause says it all has none
    assert run_sync(asl.load({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E"}}}), {}).hint is None


@pytest.mark.parametrize("expression", ["States.ArrayPartition($.xs, 0)", "States.ArrayPartition($.xs, -1)",
                                        "States.ArrayPartition($.xs, null)", "States.ArrayPartition('s', 2)",
                                        "States.ArrayRange('a', 5, 1)"])
def test_an_intrinsic_failure_is_states_runtime_which_no_catch_takes(expression):
    # The cases AWS ran in an AWS-executed intrinsic conformance suite (States.ArrayPartition.ts
    # AP-008..AP-012, States.ArrayRange.ts ARANGE-010): error States.Runtime, cause containing
    # "Invalid arguments in States.<Function>". States.Runtime is never caught, even by States.ALL.
    catch = [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]
    result = run({"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f",
                  "Parameters": {"v.$": expression}, "Catch": catch, "End": True},
                 other={"Caught": PASS})
    function = expression.split("(")[0]
    assert (result.status, result.error, result.cause) == (
        "FAILED", "States.Runtime", PREFIX + f"There was an error while evaluating the intrinsic function: "
                                             f"{expression}. Invalid arguments in {function}")
