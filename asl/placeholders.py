"""Deployment placeholders: ``${Name}`` in a definition that a deployment tool fills.

Definitions kept beside SAM/CloudFormation templates (DefinitionSubstitutions), Terraform
(``templatefile``: ``${var.x}``, ``${aws_lambda_function.f.arn}``) and the Serverless Framework
(``${self:custom.table}``, ``${file(./x.json)}``) hold placeholders where the deployed
definition holds values: whole values (``"Resource": "${ProcessFunctionArn}"``), parts of
strings (``"arn:aws:lambda:${AWS::Region}:...``), even unquoted JSON (``"Seconds": ${wait}``).

`resolve` fills the placeholders it is given values for and reports the others; the validator
warns about each of those (`UNRESOLVED_PLACEHOLDER`, "not checked") and checks the rest of
the definition. So that the rest can be checked, a placeholder standing for a whole value
where ASL wants a number, a boolean, a timestamp or an object (``"Parameters":
"${file(./params.json)}"``) is taken out of the checked copy (an optional field is left out,
a required one gets a neutral stand-in: 0, true, the epoch); so is a path holding one
(``"ItemsPath": "$.${List}"``, a payload's ``"Input.$"``); a placeholder in a string stays
as written (a Task's Resource holding one is not checked).

A filled whole value in such a field takes the field's type when it reads as one
(``--substitute Timeout=30`` gives ``"TimeoutSeconds": 30``, a JSON object text an object),
as the Serverless Framework and Terraform produce it.
Placeholders are found with balanced braces, so ``${self:custom.${opt:stage}}`` is one.
"""
from __future__ import annotations

import json
from typing import Any, Iterator, Mapping

CODE = "UNRESOLVED_PLACEHOLDER"

# Fields (by key) whose value is not a string, outside payload templates.
_INT_FIELDS = {"TimeoutSeconds", "HeartbeatSeconds", "MaxAttempts", "IntervalSeconds", "MaxDelaySeconds",
               "MaxConcurrency", "ToleratedFailureCount", "MaxItemsPerBatch", "MaxInputBytesPerBatch", "MaxItems"}
_NUMBER_FIELDS = {"BackoffRate", "ToleratedFailurePercentage"}
_NUMERIC_RULES = {"NumericEquals", "NumericLessThan", "NumericGreaterThan", "NumericLessThanEquals",
                  "NumericGreaterThanEquals"}
_TIMESTAMP_RULES = {"TimestampEquals", "TimestampLessThan", "TimestampGreaterThan", "TimestampLessThanEquals",
                    "TimestampGreaterThanEquals"}
# Fields that hold an object or array (a whole placeholder there is often ${file(...)}).
_STRUCTURE_FIELDS = {"Parameters", "ResultSelector", "ItemSelector", "Assign", "Retry", "Catch", "Credentials",
                     "ItemReader", "ItemBatcher", "ResultWriter", "ReaderConfig", "ProcessorConfig"}
# Required fields get a stand-in; the optional ones above are left out of the checked copy.
_STAND_INS = {"Seconds": 0, "BooleanEquals": True, "Timestamp": "1970-01-01T00:00:00Z",
              **{k: 0 for k in _NUMERIC_RULES}, **{k: "1970-01-01T00:00:00Z" for k in _TIMESTAMP_RULES}}
# Paths with a default: one holding a placeholder is left out of the checked copy (others
# get "$"). A payload's "key.$" holding one is checked as the literal text it then is.
_OPTIONAL_PATHS = {"InputPath", "OutputPath", "ResultPath", "ItemsPath"}
# Fields whose value is data (any JSON): placeholders there are strings sent on as they are.
_PAYLOADS = {"Parameters", "Arguments", "ResultSelector", "ItemSelector", "Result", "Output", "Assign",
             "Credentials", "Items", "Comment", "Error", "Cause"}


def as_text(value: Any) -> str:
    """A substitution value as the text it becomes: strings as they are, numbers and booleans
    as JSON writes them (like DefinitionSubstitutions); anything else raises TypeError."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise TypeError(f"a substitution value must be a string, number or boolean, not {type(value).__name__}")


def find(text: str, start: int = 0) -> Iterator[tuple[int, int, str]]:
    """(start, end, name) of each ``${...}`` in `text` from `start` on, braces balanced,
    outermost only; nothing after an unbalanced one."""
    i = text.find("${", start)
    while i != -1:
        depth, j = 0, i + 1
        while j < len(text):
            if text[j] == "{":
                depth += 1
            elif text[j] == "}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        if j >= len(text):
            return  # unbalanced: not a placeholder
        name = text[i + 2:j]
        if name.strip():
            yield i, j + 1, name
        i = text.find("${", j + 1)


def has_placeholder(text: Any) -> bool:
    return isinstance(text, str) and "${" in text and next(find(text), None) is not None


def fill_text(text: str, values: Mapping[str, str]) -> str:
    """`text` with each placeholder that `values` names replaced by its value."""
    out, last = [], 0
    for start, end, name in find(text):
        if name in values:
            out += [text[last:start], values[name]]
            last = end
    return "".join(out) + text[last:] if out else text


def _field_kind(key: Any) -> str | None:
    if key in _INT_FIELDS or key == "Seconds":
        return "int"
    if key in _NUMBER_FIELDS or key in _NUMERIC_RULES:
        return "number"
    if key in ("BooleanEquals", "End"):
        return "bool"
    if key in _STRUCTURE_FIELDS:
        return "structure"
    return None


def _typed(text: str, kind: str | None) -> Any:
    """A filled whole value in a number, boolean or object field takes that type when it reads as one."""
    if kind is None:
        return text
    try:
        value = json.loads(text)
    except ValueError:
        return text
    if kind == "bool":
        return value if isinstance(value, bool) else text
    if kind == "structure":
        return value if isinstance(value, (dict, list)) else text
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return text
    return value


def resolve(definition: Any, values: Mapping[str, str] | None = None
            ) -> tuple[Any, list[tuple[str, tuple]]]:
    """Fill and stand in for placeholders; returns (checked copy, unfilled placeholders).

    Each unfilled placeholder is (name, location parts of the value or key holding it). The
    definition itself is never changed; without any placeholder it is returned as is.
    """
    values = values or {}
    if not _any_placeholder(definition):
        return definition, []
    found: list[tuple[str, tuple]] = []
    root: list = [None]
    # (value, container, slot, location parts, inside a payload)
    work: list = [(definition, root, 0, (), False)]
    while work:
        item, box, slot, parts, payload = work.pop()
        if isinstance(item, dict):
            new: dict = {}
            box[slot] = new
            for key, value in item.items():
                name = key
                if isinstance(key, str) and has_placeholder(key):
                    found.extend((n, parts + (key,)) for _, _, n in find(key) if n not in values)
                    name = fill_text(key, values)
                whole = _whole(value)
                if whole is not None and not payload and (key in _STAND_INS or _field_kind(key)):
                    if whole in values:
                        new[name] = _typed(values[whole], _field_kind(key))
                        continue
                    found.append((whole, parts + (key,)))
                    if key in _STAND_INS:
                        new[name] = _STAND_INS[key]
                    elif key == "End":
                        new[name] = value
                    continue  # an optional field: left out of the checked copy
                if isinstance(value, str) and isinstance(key, str) and _unfilled(value, values) and (
                        key.endswith(".$") if payload else (key.endswith("Path") or key == "Variable")):
                    # a path or intrinsic with a placeholder in it: not checked
                    found.extend((n, parts + (key,)) for _, _, n in find(value) if n not in values)
                    if payload:  # the text goes on as written, like other payload placeholders
                        new[name[:-2]] = fill_text(value, values)
                    elif key not in _OPTIONAL_PATHS:
                        new[name] = "$"
                    continue
                new[name] = None
                work.append((value, new, name, parts + (key,), payload or key in _PAYLOADS))
        elif isinstance(item, list):
            new_list: list = [None] * len(item)
            box[slot] = new_list
            for i, value in enumerate(item):
                work.append((value, new_list, i, parts + (i,), payload))
        elif isinstance(item, str) and "${" in item:
            found.extend((n, parts) for _, _, n in find(item) if n not in values)
            box[slot] = fill_text(item, values)
        else:
            box[slot] = item
    found.sort(key=lambda f: _order(definition, f[1]))
    return root[0], found


def _unfilled(text: str, values: Mapping[str, str]) -> bool:
    return "${" in text and any(name not in values for _, _, name in find(text))


def _whole(value: Any) -> str | None:
    """The name when `value` is one placeholder and nothing else."""
    if not isinstance(value, str) or not value.startswith("${") or not value.endswith("}"):
        return None
    first = next(find(value), None)
    return first[2] if first is not None and first[0] == 0 and first[1] == len(value) else None


def _any_placeholder(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, sub in item.items():
                if isinstance(key, str) and "${" in key:
                    return True
                stack.append(sub)
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and "${" in item:
            return True
    return False


def _order(definition: Any, parts: tuple) -> tuple:
    """Document order of a location: each step's index among its container's members."""
    order, node = [], definition
    for part in parts:
        if isinstance(node, dict):
            keys = list(node)
            order.append(keys.index(part) if part in node else len(keys))
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            order.append(part)
            node = node[part]
        else:
            order.append(0)
    return tuple(order)


def message(name: str, known: list[str] | None = None) -> str:
    """The WARNING for an unfilled placeholder; `known` are the names a template fills."""
    text = f"${{{name}}} is a placeholder filled at deployment: not checked"
    if known is not None:
        from .diagnostics import closest

        hint = closest(name, known)
        text += f"; DefinitionSubstitutions has no '{name}'" + (f" (did you mean '{hint}'?)" if hint else "")
    else:
        text += f" (give it a value with --substitute {name}=VALUE)"
    return text
