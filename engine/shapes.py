"""Output shapes of the service integrations, for checking a TestState mock result.

AWS's TestState checks a mocked ``result`` against the output shape of the API the Task calls
(``fieldValidationMode``): STRICT (the default) checks the type and constraints of every field
the shape knows and that required fields are there; PRESENT checks only the fields given; NONE
checks nothing. Fields the shape does not know are accepted in every mode (recorded). The
optimized integrations' shapes below are written from the AWS API references of the
request-response integrations; ``lambda:invoke``'s ``Payload`` is a string to the check, as to the
SDK's Invoke (recorded on AWS: STRICT and PRESENT refuse ``{"Payload": {"k": 1}}`` with "Field
'Payload' must be a string" and take ``{"Payload": "{\"ok\":true}"}`` unchanged, NONE takes the
object: radkawar/stackd testdata/aws/stepfunctions/test_state_mock.json west-mock-task-object,
mock-payload-object-PRESENT, mock-payload-object-NONE, paced-west-mock-task-string-payload); an ``aws-sdk:SERVICE:ACTION`` Task's shape is the operation's output in
botocore's service model (`sdk_output_shape`, loaded when first needed; none without
botocore), members PascalCased as the aws-sdk results name them. ``.sync`` and
``.waitForTaskToken`` results are not checked.

A shape is ``{"Field": spec}`` with spec ``(type, required[, nested[, limits]])``; types:
string, blob (a string), integer, number, boolean, timestamp (a string), list, map (an
object), structure (``nested`` is its shape), any. A list's ``nested`` is its members' spec, a
map's its values' spec (absent: not checked). ``limits``: ``min``/``max`` (a number's range; a
string's, blob's, list's or map's length) and ``enum`` (a string's values).
"""
from __future__ import annotations

import functools
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
    "lambda:invoke": {"StatusCode": _I, "FunctionError": _S, "LogResult": _S, "Payload": _S,
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

#: Limits AWS's TestState holds where the installed botocore's model has moved on: (boto3
#: service, shape name) -> limits. Recorded on AWS: Lambda getFunction's MemorySize 10241
#: "exceeds the maximum value" (botocore >= 1.42 allows 32768, for Lambda Managed Instances).
LIMITS = {("lambda", "MemorySize"): {"max": 10240}}

_ARTICLE = {"string": "a string", "blob": "a string", "timestamp": "a string", "integer": "a number",
            "number": "a number", "boolean": "a boolean", "list": "an array", "map": "an object",
            "structure": "an object"}
_OK = {
    "string": lambda v: isinstance(v, str), "blob": lambda v: isinstance(v, str),
    "timestamp": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool), "list": lambda v: isinstance(v, list),
    "map": lambda v: isinstance(v, dict), "structure": lambda v: isinstance(v, dict), "any": lambda v: True,
}
_SIZED = ("string", "blob", "list", "map")


def output_shape(resource: str) -> dict | None:
    """The output shape of a Task resource's request-response call (None: not checked)."""
    from ..resources import RR, parse_resource

    info = parse_resource(resource)
    if info is None or info.pattern != RR:
        return None
    if info.kind == "sdk":
        return sdk_output_shape(info.service, info.api)
    return SHAPES.get(f"{info.service}:{info.api}") if info.kind == "service" else None


@functools.lru_cache(maxsize=128)
def sdk_output_shape(service: str, action: str) -> dict | None:
    """The output shape of ``aws-sdk:service:action`` from botocore's model of the service
    (Step Functions' service name, the action in camelCase); None when botocore is not
    installed or does not know the operation, or it has no output."""
    from ..sdkmodel import NAMES, operation_model

    operation = operation_model(service, action)
    if operation is None:
        return None
    name = NAMES.boto3_name(service)
    shape = operation.output_shape
    if shape is None:
        return None
    return _from_botocore(name, shape, False, {})[2]


def _from_botocore(service: str, shape: Any, required: bool, done: dict) -> tuple:
    """A botocore Shape as a spec; `done` holds the structures already converted (by name), so
    a recursive shape becomes a cyclic one."""
    kind = shape.type_name
    limits = {key: shape.metadata[key] for key in ("min", "max") if key in shape.metadata}
    limits.update(LIMITS.get((service, shape.name), {}))
    if kind == "structure":
        if shape.metadata.get("document"):
            return ("any", required)
        members = done.get(shape.name)
        if members is None:
            members = done[shape.name] = {}
            needed = set(shape.required_members)
            for name, member in shape.members.items():  # as aws-sdk results name them (executionArn -> ExecutionArn)
                members[name[:1].upper() + name[1:]] = _from_botocore(service, member, name in needed, done)
        return ("structure", required, members)
    if kind == "list":
        return ("list", required, _from_botocore(service, shape.member, False, done), limits)
    if kind == "map":
        return ("map", required, _from_botocore(service, shape.value, False, done), limits)
    if kind == "string" and getattr(shape, "enum", None):
        limits["enum"] = list(shape.enum)
    kind = {"long": "integer", "float": "number", "double": "number"}.get(kind, kind)
    return (kind if kind in _OK else "any", required, None, limits)


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
    nested = spec[2] if len(spec) > 2 else None
    limits = spec[3] if len(spec) > 3 else None
    if not _OK[kind](value):
        return f"Field '{name}' must be {_ARTICLE[kind]}"
    if limits:
        problem = _limits(name, value, kind, limits)
        if problem:
            return problem
    if kind == "structure":
        return check(value, nested, mode)
    if nested is not None and kind in ("list", "map"):
        for item in value if kind == "list" else value.values():
            problem = _value(name, item, nested, mode)
            if problem:
                return problem
    return None


def _limits(name: str, value: Any, kind: str, limits: dict) -> str | None:
    """AWS's words for a value outside its enum, length or range (recorded: "is not an expected
    value", "is smaller than the minimum length", "is less than the minimum value", "exceeds the
    maximum value"; a length above the maximum "exceeds the maximum length", by their pattern)."""
    if "enum" in limits and value not in limits["enum"]:
        return f"Field '{name}' is not an expected value"
    if kind in _SIZED:
        if "min" in limits and len(value) < limits["min"]:
            return f"Field '{name}' is smaller than the minimum length"
        if "max" in limits and len(value) > limits["max"]:
            return f"Field '{name}' exceeds the maximum length"
    elif kind in ("integer", "number"):
        if "min" in limits and value < limits["min"]:
            return f"Field '{name}' is less than the minimum value"
        if "max" in limits and value > limits["max"]:
            return f"Field '{name}' exceeds the maximum value"
    return None
