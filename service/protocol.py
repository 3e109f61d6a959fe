"""The awsJson1.0 wire protocol as botocore speaks it, and request validation from botocore's
own service model (required members, types, lengths, ranges, enums), answered with AWS's
``ValidationException`` texts (``1 validation error detected: Value ... at 'x' failed to
satisfy constraint: Member must ...``)."""
from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

TARGET_PREFIX = "AWSStepFunctions."
REQUEST_LIMIT = 1024 * 1024 + 64 * 1024      # AWS: 1 MB requests (a 1 MB definition plus the rest)


class ServiceError(Exception):
    """An AWS error answer: ``{"__type": code, "message": message}`` with an HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400, **extra: Any):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.extra = extra

    def body(self) -> dict:
        return {"__type": self.code, "message": self.message, **self.extra}


@lru_cache(maxsize=1)
def model() -> dict:
    """botocore's Step Functions service model (service-2.json), read from botocore's data
    folder without importing botocore (whose import costs more than reading the model; start-up
    waits for it), else through botocore's loader."""
    import importlib.util
    import os

    spec = importlib.util.find_spec("botocore")
    for folder in spec.submodule_search_locations if spec and spec.submodule_search_locations else ():
        versions = os.path.join(folder, "data", "stepfunctions")
        latest = max(os.listdir(versions), default=None) if os.path.isdir(versions) else None
        for name in ("service-2.json.gz", "service-2.json") if latest else ():
            path = os.path.join(versions, latest, name)
            if os.path.exists(path):
                if name.endswith(".gz"):
                    import gzip

                    with gzip.open(path, "rb") as f:
                        return json.load(f)
                with open(path, "rb") as f:
                    return json.load(f)
    import botocore.loaders

    return botocore.loaders.Loader().load_service_model("stepfunctions", "service-2")


def operations() -> dict:
    return model()["operations"]


def _java(shapes: dict, shape_name: str | None, value: Any) -> str:
    """A value as AWS's (Java) validation messages print it: structures as ``Shape(a=1, b=x)``."""
    shape = shapes.get(shape_name) if shape_name else None
    if isinstance(value, dict) and shape is not None and shape["type"] == "structure":
        members = shape.get("members", {})
        parts = [f"{k}={_java(shapes, members.get(k, {}).get('shape'), v)}" for k, v in value.items()]
        return f"{shape_name}({', '.join(parts)})"
    if isinstance(value, list):
        member = shape["member"]["shape"] if shape is not None and shape["type"] == "list" else None
        return "[" + ", ".join(_java(shapes, member, v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "'true'" if value else "'false'"
    if isinstance(value, (dict, list)):
        return "'" + json.dumps(value, separators=(",", ":")) + "'"
    return f"'{value}'"


def validate(action: str, body: Any) -> None:
    """Raise ValidationException (AWS's text) when `body` does not fit the action's input shape;
    SerializationException when a member has the wrong JSON type."""
    op = operations()[action]
    shapes = model()["shapes"]
    if not isinstance(body, dict):
        raise ServiceError("SerializationException", "Start of structure or map found where not expected.")
    problems: list[str] = []
    if "input" in op:
        _check_structure(shapes, op["input"]["shape"], body, "", problems)
    if problems:
        count = len(problems)
        raise ServiceError("ValidationException",
                           f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(problems))


_TYPES = {"string": str, "boolean": bool, "list": list, "map": dict, "structure": dict}
# The payloads whose limit the model documents as "bytes in UTF-8 encoding" (execution input and
# output, task output, ...): AWS measures them in bytes and words it so. Measured on AWS (StartExecution
# with a 262,146-byte input): "1 validation error detected: Value at 'input' failed to satisfy
# constraint: Member must have size less than or equal to 262144 bytes in UTF-8 encoding".
_PAYLOADS = {"SensitiveData", "SensitiveDataJobInput", "ConnectorParameters"}
# Enums whose value set AWS lists in an order of its own (not the model's), as recorded on AWS:
# ListExecutions with statusFilter "succeeded" answers "... Member must satisfy enum value set:
# [SUCCEEDED, TIMED_OUT, PENDING_REDRIVE, ABORTED, FAILED, RUNNING]". Others keep the model's order.
_ENUM_ORDER = {"ExecutionStatus": ("SUCCEEDED", "TIMED_OUT", "PENDING_REDRIVE", "ABORTED", "FAILED", "RUNNING")}


def _enum_listed(shape_name: str, values: list[str]) -> list[str]:
    """The enum's values in the order AWS lists them: its recorded order where known (values the
    model adds later follow, in the model's order), else the model's."""
    known = [v for v in _ENUM_ORDER.get(shape_name, ()) if v in values]
    return known + [v for v in values if v not in known]


def _check(shapes: dict, shape_name: str, value: Any, path: str, problems: list[str]) -> None:
    shape = shapes[shape_name]
    kind = shape["type"]
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ServiceError("SerializationException", f"NUMBER_VALUE can not be converted to an Integer" if
                               isinstance(value, float) else f"Unexpected value type for '{path}'")
        _bounds(shape, value, _show(value), path, "value", problems)
        return
    if kind == "timestamp":
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ServiceError("SerializationException", f"Unexpected value type for '{path}'")
        return
    if kind in ("double", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ServiceError("SerializationException", f"Unexpected value type for '{path}'")
        # (Java prints a Float with its point: '101.0'; the model's bound as written: 100)
        _bounds(shape, value, f"'{float(value)!r}'", path, "value", problems)
        return
    expected = _TYPES.get(kind)
    if expected is not None and not isinstance(value, expected):
        raise ServiceError("SerializationException",
                           f"Unexpected value type for '{path}': expected {kind}")
    if kind == "string":
        if shape_name in _PAYLOADS:
            if "max" in shape and len(value.encode("utf-8", "surrogatepass")) > shape["max"]:
                problems.append(f"Value at '{path}' failed to satisfy constraint: Member must have size less "
                                f"than or equal to {shape['max']} bytes in UTF-8 encoding")
            return
        _bounds(shape, len(value), _shown(shape, value, shape_name), path, "length", problems)
        if "enum" in shape and value not in shape["enum"]:
            problems.append(f"Value {_show(value)} at '{path}' failed to satisfy constraint: Member must satisfy enum "
                            f"value set: [{', '.join(_enum_listed(shape_name, shape['enum']))}]")
        if "pattern" in shape and not _pattern(shape["pattern"]).fullmatch(value):
            problems.append(f"{_value_at(_shown(shape, value, shape_name), path)} failed to satisfy constraint: Member must "
                            f"satisfy regular expression pattern: {shape['pattern']}")
    elif kind == "list":
        _bounds(shape, len(value), f"'{_java(shapes, shape_name, value)}'", path, "length", problems)
        for i, item in enumerate(value, 1):
            if item is not None:
                _check(shapes, shape["member"]["shape"], item, f"{path}.{i}.member", problems)
    elif kind == "map":
        for key, item in value.items():
            if item is not None:
                _check(shapes, shape["value"]["shape"], item, f"{path}.{key}", problems)
    elif kind == "structure":
        _check_structure(shapes, shape_name, value, path, problems)


@lru_cache(maxsize=None)
def _pattern(java: str) -> re.Pattern:
    """A model's (Java) pattern as a Python one; AWS matches it against the whole value, as
    recorded (CreateStateMachineAlias name '123': "Member must satisfy regular expression pattern:
    ^(?=.*[a-zA-Z_\\-\\.])[a-zA-Z0-9_\\-\\.]+$"). Java's ``\\p{ASCII}`` has no Python spelling."""
    return re.compile(java.replace(r"\p{ASCII}", r"[\x00-\x7f]"))


# Sensitive in the model, yet shown by AWS: SendTaskSuccess with taskToken "" answered "Value ''
# at 'taskToken' failed to satisfy constraint: Member must have length greater than or equal to 1"
# (raw AWS capture, radkawar/stackd testdata/aws/stepfunctions/callback_lifecycle.json,
# token-precedence-empty-invalid-output)
_SHOWN_SENSITIVE = {"TaskToken"}


def _shown(shape: dict, value: Any, shape_name: str = "") -> str:
    """How a message names a value: not at all for a sensitive member (AWS: "Value at 'output'
    failed to satisfy constraint: Member must not be null", recorded by a test against AWS in
    a public Step Functions client), else as `_show` prints it."""
    return "" if shape.get("sensitive") and shape_name not in _SHOWN_SENSITIVE else _show(value)


def _value_at(shown: str, path: str) -> str:
    return f"Value {shown} at '{path}'" if shown else f"Value at '{path}'"


def _bounds(shape: dict, size: int, shown: str, path: str, what: str, problems: list[str]) -> None:
    """The model's min/max on a number (`what` "value") or a length ("length"), in AWS's words."""
    if "min" in shape and size < shape["min"]:
        problems.append(f"{_value_at(shown, path)} failed to satisfy constraint: Member must have {what} "
                        f"greater than or equal to {shape['min']}")
    if "max" in shape and size > shape["max"]:
        problems.append(f"{_value_at(shown, path)} failed to satisfy constraint: Member must have {what} "
                        f"less than or equal to {shape['max']}")


def _check_structure(shapes: dict, shape_name: str, value: dict, path: str, problems: list[str]) -> None:
    shape = shapes[shape_name]
    members = shape.get("members", {})
    prefix = f"{path}." if path else ""
    for name in shape.get("required", []):
        if value.get(name) is None:
            member = shapes.get(members.get(name, {}).get("shape", ""), {})
            problems.append(f"{_value_at(_shown(member, None), prefix + name)} failed to satisfy constraint: "
                            "Member must not be null")
    for name, item in value.items():
        member = members.get(name)
        if member is None or item is None:
            continue  # AWS ignores members it does not know
        _check(shapes, member["shape"], item, prefix + name, problems)


def parse_target(target: str | None) -> str:
    if not target or not target.startswith(TARGET_PREFIX) or target[len(TARGET_PREFIX):] not in operations():
        raise ServiceError("UnknownOperationException", "")
    return target[len(TARGET_PREFIX):]


def parse_body(raw: bytes) -> Any:
    if len(raw) > REQUEST_LIMIT:
        raise ServiceError("ValidationException", "Request entity too large", status=413)
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise ServiceError("SerializationException", "Malformed JSON in the request body") from None
    return _without_lone_surrogates(body) if _SURROGATE_ESCAPE.search(raw) else body


# A lone surrogate can reach a request's strings only as a JSON escape ("\ud800": UTF-8 cannot
# encode one), which JSON (and Jackson, AWS's parser) reads as a character of its own
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _without_lone_surrogates(value: Any) -> Any:
    """`value` with each lone surrogate of its strings (keys too) written as '?', as Java's
    ``String.getBytes(UTF_8)`` writes one: what a Java service keeps of such a string once it is
    stored as UTF-8 text. Names and ARNs holding one are then refused or not found as any other
    name with a '?' is, instead of failing where the text meets the store or the answer's encoding
    (JSON documents passed as text, such as an execution's input, hold their escapes as written:
    the documents keep their lone surrogates, see asl.engine.stores.storable_json)."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("?", value)
    if isinstance(value, dict):
        return {_without_lone_surrogates(k): _without_lone_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_lone_surrogates(v) for v in value]
    return value


NAME_BAD = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~$&,;:/`\x00-\x1f\x7f-\x9f\ufffe\uffff\ud800-\udfff]")


def check_name(name: str, error: str = "InvalidName") -> None:
    if not name or len(name) > 80 or NAME_BAD.search(name):
        raise ServiceError(error, f"Invalid Name: '{name}'")
