"""Hypothesis properties: no input ever makes the loader or the validator raise.

Whatever a user feeds `asl.validate` (random JSON, mutations of valid definitions, random
text or bytes), the answer is a ValidationResult: a compiled machine or diagnostics.
"""
from __future__ import annotations

import copy
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import asl
from asl.loading import ValidationResult
from conftest import conformance_cases

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=25)

VALID = [c["definition"] for c in conformance_cases() if c["expected"]["status"] != "INVALID_DEFINITION"][::7]
FIELDS = ["Type", "Next", "End", "Resource", "InputPath", "OutputPath", "ResultPath", "Parameters", "Result",
          "Choices", "Default", "Seconds", "Timestamp", "Branches", "ItemProcessor", "ItemsPath", "Retry",
          "Catch", "ErrorEquals", "Variable", "StringEquals", "Assign", "Output", "Arguments", "QueryLanguage",
          "StartAt", "States", "MaxConcurrency", "Items", "Condition", "TimeoutSeconds", "Error", "Cause"]
ODD_VALUES = st.sampled_from([None, True, 0, -1, 1.5, "", "$", "$.", "$$", "$.a[", "States.Format(", "{% %}",
                              "{% $x + %}", "{% 1 %}", [], {}, [{}], {"a.$": "$.x"}, "States.ALL",
                              "2016-03-14T01:59:00Z", 10**20, "x" * 100]) | JSON


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, prefix + (i,))


@st.composite
def mutated_definitions(draw):
    definition = copy.deepcopy(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 4))):
        paths = list(_paths(definition))
        where = draw(st.sampled_from(paths))
        parent = definition
        for key in where[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if not where:
            definition = copy.deepcopy(draw(ODD_VALUES))
            break
        key = where[-1]
        if action == "replace":
            parent[key] = copy.deepcopy(draw(ODD_VALUES))
        elif action == "delete":
            del parent[key]
        elif isinstance(parent[key], dict):
            parent[key][draw(st.sampled_from(FIELDS))] = copy.deepcopy(draw(ODD_VALUES))
    return definition


def _check(result):
    assert isinstance(result, ValidationResult)
    if result.ok:
        assert result.machine is not None
    else:
        assert result.machine is None and result.errors
    for d in result.diagnostics:
        assert d.severity in ("ERROR", "WARNING") and d.code and isinstance(d.message, str)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(JSON)
def test_random_json_gives_a_result(value):
    _check(asl.validate(value))


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_definitions())
def test_mutated_definitions_give_a_result(definition):
    _check(asl.validate(definition))
    _check(asl.validate(json.dumps(definition)))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_random_text_gives_a_result(text):
    _check(asl.validate(text if text.strip()[:1] in ("{", "[") or "\n" in text else "{" + text))


def test_deeply_nested_definition_gives_a_result():
    nested = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    for _ in range(200):
        nested = {"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": True, "Branches": [nested]}}}
    _check(asl.validate(nested))
    _check(asl.validate("[" * 100_000))
