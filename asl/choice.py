"""Choice rules compiled to predicates (ASL-SPEC.md section 6).

`compile_rule(rule)` returns ``predicate(value_of, scope) -> bool``; the engine evaluates
the top-level rules in order and takes the first that matches. A type mismatch is simply
false (AWS: ``"StringEquals"`` on a number is false, never an error); booleans are not
numbers even though Python says ``True == 1``.
"""
from __future__ import annotations

import operator
import re
from typing import Any, Callable

from .errors import PathNotFoundError, StatesError
from .templates import resolve_path, scope_reader
from .timestamps import parse_timestamp

Predicate = Callable[[Any], bool]

_MISSING = object()


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _utf16(s: str) -> Any:
    # Java compares strings by UTF-16 code units; Python by code points. They differ only
    # when one side has a character above U+FFFF.
    return s if s.isascii() or all(ord(c) < 0xD800 for c in s) else s.encode("utf-16-be")


def _string_key(a: str, b: str) -> tuple[Any, Any]:
    return (_utf16(a), _utf16(b)) if not (a.isascii() and b.isascii()) else (a, b)


_COMPARE = {
    "Equals": lambda a, b: a == b,
    "LessThan": lambda a, b: a < b,
    "GreaterThan": lambda a, b: a > b,
    "LessThanEquals": lambda a, b: a <= b,
    "GreaterThanEquals": lambda a, b: a >= b,
}


def _string_test(op: str) -> Callable[[Any, Any], bool]:
    cmp = _COMPARE[op]

    def test(value: Any, operand: Any) -> bool:
        if not isinstance(value, str) or not isinstance(operand, str):
            return False
        a, b = _string_key(value, operand)
        if type(a) is not type(b):
            a, b = (a.encode("utf-16-be") if isinstance(a, str) else a,
                    b.encode("utf-16-be") if isinstance(b, str) else b)
        return cmp(a, b)

    return test


def _numeric_test(op: str) -> Callable[[Any, Any], bool]:
    cmp = _COMPARE[op]
    return lambda value, operand: _is_number(value) and _is_number(operand) and cmp(value, operand)


def _timestamp_test(op: str) -> Callable[[Any, Any], bool]:
    cmp = _COMPARE[op]

    def test(value: Any, operand: Any) -> bool:
        a, b = parse_timestamp(value), parse_timestamp(operand)
        return a is not None and b is not None and cmp(a, b)

    return test


def _boolean_test(value: Any, operand: Any) -> bool:
    return isinstance(value, bool) and isinstance(operand, bool) and value == operand


TESTS: dict[str, Callable[[Any, Any], bool]] = {"BooleanEquals": _boolean_test}
for _op in _COMPARE:
    TESTS[f"String{_op}"] = _string_test(_op)
    TESTS[f"Numeric{_op}"] = _numeric_test(_op)
    TESTS[f"Timestamp{_op}"] = _timestamp_test(_op)

TYPE_TESTS: dict[str, Callable[[Any], bool]] = {
    "IsNull": lambda v: v is None,
    "IsNumeric": _is_number,
    "IsString": lambda v: isinstance(v, str),
    "IsBoolean": lambda v: isinstance(v, bool),
    "IsTimestamp": lambda v: parse_timestamp(v) is not None,
}


def string_matches(pattern: str) -> re.Pattern:
    """``StringMatches``: only ``*`` is special; ``\\*`` is a literal star, ``\\\\`` a backslash."""
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "*\\":
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if c == "*" else re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z", re.S)


def _read(path: Any, scope: Any) -> Any:
    try:
        return resolve_path(path, scope)
    except PathNotFoundError:
        return _MISSING


_OPERATORS = {"Equals": operator.eq, "LessThan": operator.lt, "GreaterThan": operator.gt,
              "LessThanEquals": operator.le, "GreaterThanEquals": operator.ge}


def compile_rule(rule: Any) -> Predicate:
    """A JSONPath-mode rule (And/Or/Not or Variable + operator) -> ``predicate(scope)``."""
    if rule.and_ is not None:
        subs = [compile_rule(r) for r in rule.and_]
        return lambda scope: all(p(scope) for p in subs)
    if rule.or_ is not None:
        subs = [compile_rule(r) for r in rule.or_]
        return lambda scope: any(p(scope) for p in subs)
    if rule.not_ is not None:
        sub = compile_rule(rule.not_)
        return lambda scope: not sub(scope)
    variable, op, operand = rule.variable, rule.operator, rule.operand

    def invalid(scope: Any) -> Any:
        raise StatesError("States.Runtime", f"Invalid path '{variable.text}': The choice state's condition "
                          "path references an invalid value.")

    value_of = scope_reader(variable, invalid)

    if op == "IsPresent":
        return lambda scope: (_read(variable, scope) is not _MISSING) == operand
    if op in TYPE_TESTS:
        check = TYPE_TESTS[op]
        return lambda scope: check(value_of(scope)) == operand
    if op == "StringMatches":
        regex = string_matches(operand)
        return lambda scope: isinstance(v := value_of(scope), str) and regex.match(v) is not None
    if op.endswith("Path"):
        test = TESTS[op[:-4]]

        def with_path(scope: Any) -> bool:
            other = _read(operand, scope)
            if other is _MISSING:
                raise StatesError("States.Runtime", f"Invalid path '{operand.text}': The choice state's "
                                  "condition path references an invalid value.")
            return test(value_of(scope), other)

        return with_path
    if op.startswith("Numeric") and _is_number(operand):
        # The common loop test (NumericLessThan 5000 ...): the literal is known to be a number.
        cmp = _OPERATORS[op[len("Numeric"):]]

        def numeric(scope: Any) -> bool:
            value = value_of(scope)
            kind = type(value)
            return (kind is int or kind is float or _is_number(value)) and cmp(value, operand)

        return numeric
    test = TESTS[op]
    return lambda scope: test(value_of(scope), operand)
