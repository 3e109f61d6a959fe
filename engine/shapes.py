"""Output shapes of the optimized service integrations, for checking a TestState mock result.

AWS's TestState checks a mocked ``result`` against the output shape of the API the Task calls
(``fieldValidationMode``): STRICT (the default) checks the type of every field the shape knows
and that required fields are there; PRESENT checks only the fields given; NONE checks
nothing. Fields the shape does not know are accepted in every mode. The shapes below are
written from the AWS API references of the request-response integrations; a resource not
listed here (an ``aws-sdk:`` integration, ``.sync`` or ``.waitForTaskToken``) is not checked.

A shape is ``{"Field": spec}`` with spec ``(type, required)`` or ``(type, required, nested)``;
types: string, integer, number, boolean, timestamp (a string), list, map (any object),
structure (``nested`` is its shape), any. A list's ``nested`` is its members' spec.
"""
from __future__ import annotations

from typing import Any

_S, _I, _N = ("string", False), ("integer", False), ("number", False)

_CAPACITY = ("structure", False, {"CapacityUnits": _N, "ReadCapacityUnits": _N, "WriteCapacityUnits": _N})
_CONSUMED = ("structure", False, {
    "TableName": _S, "CapacityUnits": _N, "ReadCapacityUnits": _N, "WriteCapacityUnits": _N,
    "Table": _CAPACITY, "LocalSecondaryIndexes": ("map", False), "GlobalSecondaryIndexes": ("map", False)})
_ITEM_METRICS = ("structure", False, {"ItemCollectionKey": ("map", False),
                                      "SizeEstimateRangeGB": ("list", False, _N)})
_DYNAMODB_WRITE = {"Attributes": ("map", False), "ConsumedCapacity": _CONSUMED, "ItemCollectionMetrics": _ITEM_METRICS}

SHAPES: dict[str, dict] = {
    "lambda:invoke": {"StatusCode": _I, "FunctionError": _S, "LogResult": _S, "Payload": ("any", False),
                      "ExecutedVersion": _S},
    "states:startExecution": {"ExecutionArn": ("string", True), "StartDate": ("timestamp", True)},
    "events:putEvents": {"FailedEntryCount": _I, "Entries": ("list", False, ("structure", False, {
        "EventId": _S, "ErrorCode": _S, "ErrorMessage": _S}))},
    "sqs:sendMessage": {"MD5OfMessageBody": _S, "MD5OfMessageAttributes": _S, "MD5OfMessageSystemAttributes": _S,
                        "MessageId": _S, "SequenceNumber": _S},
    "sns:publish": {"MessageId": _S, "SequenceNumber": _S},
    "dynamodb:putItem": _DYNAMODB_WRITE,
    "dynamodb:updateItem": _DYNAMODB_WRITE,
    "dynamodb:deleteItem": _DYNAMODB_WRITE,
    "dynamodb:getItem": {"Item": ("map", False), "ConsumedCapacity": _CONSUMED},
}

_ARTICLE = {"string": "a string", "timestamp": "a string", "integer": "a number", "number": "a number",
            "boolean": "a boolean", "list": "an array", "map": "an object", "structure": "an object"}


def output_shape(resource: str) -> dict | None:
    """The output shape of an optimized integration's request-response call (None: not checked)."""
    prefix = "arn:aws:states:::"
    if not resource.startswith(prefix):
        return None
    return SHAPES.get(resource[len(prefix):])


def check(value: Any, shape: dict, mode: str) -> str | None:
    """The first problem of `value` against `shape` in `mode` (STRICT, PRESENT), AWS's wording; None if fine."""
    if not isinstance(value, dict):
        return None  # AWS's checks are by field: a result that is no object has none to check
    for name, spec in shape.items():
        if name in value:
            problem = _value(name, value[name], spec, mode)
            if problem:
                return problem
        elif spec[1] and mode == "STRICT":
            return f"Required field '{name}' is missing"
    return None


def _value(name: str, value: Any, spec: tuple, mode: str) -> str | None:
    kind = spec[0]
    ok = {
        "string": lambda v: isinstance(v, str), "timestamp": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool), "list": lambda v: isinstance(v, list),
        "map": lambda v: isinstance(v, dict), "structure": lambda v: isinstance(v, dict), "any": lambda v: True,
    }[kind]
    if not ok(value):
        return f"Field '{name}' must be {_ARTICLE[kind]}"
    if kind == "structure":
        return check(value, spec[2], mode)
    if kind == "list" and len(spec) > 2:
        for item in value:
            problem = _value(name, item, spec[2], mode)
            if problem:
                return problem
    return None
