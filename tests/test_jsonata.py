"""asl.jsonata: AWS's JSONata dialect, checked against recorded AWS behaviour and JSONata 2.0.6.

Expected values come from the conformance cases (recorded against AWS; the case is named) or,
for plain JSONata semantics, from jsonata-js 2.0.6, the version AWS runs.
"""
from __future__ import annotations

import glob
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import asl.jsonata as jsonata
from asl.errors import ExpressionSyntaxError, StatesError
from asl.jsonata import Expression, compile_expression, execution_context

CASES = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "conformance", "cases")
if not os.path.isdir(CASES):
    CASES = "/work/shared/conformance/cases"


def run(text: str, states_input=None, field: str = "Output", **variables):
    bindings = dict(variables)
    bindings["states"] = {"input": states_input if states_input is not None else {}, "context": {}}
    return compile_expression(text, field).evaluate(bindings)


def cause_of(text: str, states_input=None, field: str = "Output", **variables) -> str:
    with pytest.raises(StatesError) as info:
        run(text, states_input, field, **variables)
    assert info.value.error == "States.QueryEvaluationError"
    return info.value.cause


# --------------------------------------------------------------------------------------------
# Conformance cases, as data: every recorded JSONata Pass state whose Output is one expression
# --------------------------------------------------------------------------------------------

def _single_output_cases():
    for path in sorted(glob.glob(os.path.join(CASES, "*.json"))):
        case = json.load(open(path))
        if "jsonata" not in case.get("features", ()) or case["expected"]["status"] != "SUCCEEDED":
            continue
        states = case["definition"]["States"]
        if len(states) != 1:
            continue
        state = next(iter(states.values()))
        output = state.get("Output")
        if state.get("Type") == "Pass" and isinstance(output, str) and output.startswith("{%"):
            yield pytest.param(output[2:-2], case["input"], case["expected"]["output"], id=case["name"])


@pytest.mark.parametrize("text, states_input, expected", list(_single_output_cases()))
def test_recorded_pass_output(text, states_input, expected):
    assert run(text, states_input) == expected


def test_recorded_cases_were_found():
    # regex, $merge, $partition, $range and $parse cases at least
    assert len(list(_single_output_cases())) >= 25


@pytest.mark.parametrize("text, states_input, variables, expected, case", [
    ("$sum($states.input.input_values) + $var_constant_1", {"input_values": [1, 2, 3]},
     {"var_constant_1": 1}, 7, "outputdecl/test_output::test_base_cases[BASE_EXPR]"),
    ("$var_input_value", {}, {"var_input_value": "string literal"}, "string literal",
     "arguments/test_arguments::test_base_cases[BASE_LAMBDA_EXPRESSION]"),
    ("$varname.varfield", {}, {"varname": {"varfield": "x"}}, "x",
     "assign/test_assign_base::test_base_cases[BASE_CONSTANT_LITERALS]"),
    ("$number('2')", {}, {}, 2, "evaluate_jsonata::test_base_map[ITEMS_DOUBLE_QUOTES]"),
    ("$variable := 1", {}, {}, 1, "evaluate_jsonata::test_base_map[MAX_CONCURRENCY]"),
    ("$exists($status) ? 'completed' : 'running'", {}, {}, "running",
     "local_mocking::test_numbered_mock_responses_multiple_success_invocations"),
    ("$exists($status) ? 'completed' : 'running'", {}, {"status": "running"}, "completed",
     "local_mocking::test_numbered_mock_responses_multiple_success_invocations"),
    ("$states.input.type = 'Public'", {"type": "Public", "value": 22}, {}, True,
     "scenarios::test_choice_singleton_composite[CHOICE_STATE_SINGLETON_COMPOSITE_JSONATA]"),
    ("$states.input.str_value = \"string literal\"", {"str_value": "string literal"}, {}, True,
     "scenarios::test_choice_singleton_composite[..._LITERAL_JSONATA]"),
    ("$states.input = '\"'", '"', {}, True,
     "scenarios::test_escape_sequence_parsing[ESCAPE_SEQUENCES_JSONATA_COMPARISON_OUTPUT]"),
    ("$states.input.items", {"items": [0]}, {}, [0], "scenarios::test_map_state_items_input_array[singleton]"),
    ("$states.input.items", {"items": []}, {}, [], "scenarios::test_map_state_items_input_array[empty]"),
    ("$states.input.items", {"items": [1, "two", True]}, {}, [1, "two", True],
     "scenarios::test_map_state_items_input_array[mixed]"),
    ("[0]", {}, {}, [0], "scenarios::test_map_state_items_eval_jsonata[singleton]"),
    ("$ItemsVar", {}, {"ItemsVar": ["Item1", "Item2"]}, ["Item1", "Item2"],
     "scenarios::test_map_state_item_selector[MAP_STATE_ITEM_SELECTOR_JSONATA]"),
    ("$states.input.waitSeconds", {"waitSeconds": 0}, {}, 0, "scenarios::test_wait_seconds_jsonata"),
])
def test_recorded_expressions(text, states_input, variables, expected, case):
    assert run(text, states_input, **variables) == expected


def test_recorded_undefined_cause():
    # assign/test_assign_reference_variables::test_undefined_reference[BASE_UNDEFINED_ARGUMENTS/_OUTPUT]
    for field in ("Arguments", "Output"):
        assert cause_of(" $doesNotExist ", field=field) == (
            f"The JSONata expression '$doesNotExist' specified for the field '{field}' returned nothing (undefined).")
    # states_variables/test_error_output::test_map_catch_error[MAP_CATCH_ERROR_OUTPUT_WITH_RETRY]
    assert cause_of(" $stateError ", field="Output/error") == (
        "The JSONata expression '$stateError' specified for the field 'Output/error' returned nothing (undefined).")


def test_recorded_non_function_cause():
    # intrinsic_functions/test_math_operations_jsonata::test_math_random_seeded
    assert cause_of(" $randomSeeded($states.input.FunctionInput.fst) ", {"FunctionInput": "fst"},
                    field="Output/FunctionResult") == (
        "The JSONata expression '$randomSeeded($states.input.FunctionInput.fst)' specified for the field "
        "'Output/FunctionResult' threw an error during evaluation. T1006: Attempted to invoke a non-function")


@pytest.mark.parametrize("text, variables, shown", [
    # scenarios::test_map_state_items_eval_jsonata_fail[null|number|object|string]
    ("null", {}, "Expected 'array', but was 'null' for value: null"),
    ("1", {}, "Expected 'array', but was 'number' for value: 1"),
    ("{'foo': 'bar'}", {}, "Expected 'array', but was 'object' for value: {\"foo\":\"bar\"}"),
    ("'string'", {}, "Expected 'array', but was 'string' for value: \"string\""),
    # scenarios::test_map_state_items_eval_jsonata_variable_sampling_fail[boolean]
    ("$ItemsVar", {"ItemsVar": True}, "Expected 'array', but was 'boolean' for value: true"),
])
def test_recorded_unexpected_type(text, variables, shown):
    expr = compile_expression(f" {text} ", "Items")
    info = expr.unexpected(expr.evaluate({"states": {"input": {}}, **variables}), "array")
    assert info.cause == (f"The JSONata expression '{text}' specified for the field 'Items' "
                                f"returned an unexpected result type. {shown}")


# --------------------------------------------------------------------------------------------
# JSONata semantics (jsonata-js 2.0.6 results)
# --------------------------------------------------------------------------------------------

INPUT = {"items": [{"a": 1, "tag": "x"}, {"a": 2, "tag": "y"}, {"a": 3, "tag": "x"}],
         "single": [{"a": 1}], "nul": None, "f": 3.0, "n": 7, "obj": {"k1": "v1", "k2": "v2"},
         "deep": {"a": [{"b": 1}, {"b": [2, 3]}]}}


@pytest.mark.parametrize("text, expected", [
    ("$states.input.items[0]", {"a": 1, "tag": "x"}),
    ("$states.input.items.a", [1, 2, 3]),
    ("$states.input.single.a", 1),                      # a one-item sequence collapses
    ("[$states.input.single.a]", [1]),                  # ... unless an array is built
    ("$states.input.items[a > 2]", {"a": 3, "tag": "x"}),
    ("$states.input.items[tag = 'x'].a", [1, 3]),
    ("$states.input.items[-1].a", 3),
    ("$states.input.deep.a.b", [1, 2, 3]),
    ("$states.input.nul", None),
    ("$string(1e21)", "1e+21"),
    ("$string(0.1 + 0.2)", "0.3"),
    ("0.1 + 0.2", 0.30000000000000004),
    ("$string(1/3)", "0.333333333333333"),
    ("$string({'a': 1, 'b': [1, 'x']})", '{"a":1,"b":[1,"x"]}'),
    ("$states.input.f", 3),
    ("2 * 1.5", 3),
    ("{'a': $states.input.missing, 'b': 1}", {"b": 1}),
    ("[1, $states.input.missing, 2]", [1, 2]),
    ("$map([1, 2, 3], function($v){ $v * 2 })", [2, 4, 6]),
    ("$filter([1, 2, 3, 4], function($v){ $v % 2 = 0 })", [2, 4]),
    ("$reduce([1, 2, 3, 4], function($a, $b){ $a + $b })", 10),
    ("$match('abc123def45', /\\d+/).match", ["123", "45"]),
    ("$replace('John Smith', /(\\w+)\\s(\\w+)/, '$2, $1')", "Smith, John"),
    ("$contains('HELLO', /hello/i)", True),
    ("$sum([1, 2, 3.5])", 6.5),
    ("'a' & 1 & true & null", "a1truenull"),
    ("$states.input.n > 5 ? 'big' : 'small'", "big"),
    ("$lookup({'a': 1, 'b': 2}, 'b')", 2),
    ("($f := function($n){ $n <= 1 ? 1 : $n * $f($n - 1) }; $f(10))", 3628800),
    ("($f := function($n){ $n = 0 ? 0 : 1 + $f($n - 1) }; $f(500))", 500),
    ("$exists($states.input.missing)", False),
    ("$exists($states.input.nul)", True),
    ("$states.input.items^(>a).a", [3, 2, 1]),
    ("$states.input.items{tag: $sum(a)}", {"x": 4, "y": 2}),
    ("$states.input.items#$i[$i = 1].a", 2),
    ("$round(2.5)", 2),
    ("[1, 2] = [1, 2]", True),
    ("$states.input.obj ~> |$|{'k3': 'v3'}, ['k1']|", {"k2": "v2", "k3": "v3"}),
    ("($first := $substring(?, 0, 2); $first('hello'))", "he"),
    ("$type(null)", "null"),
    ("$length('héllo😀')", 6),
])
def test_semantics(text, expected):
    result = run(text, INPUT)
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize("text, cause_tail", [
    ("'a' + 1", 'T2001: The left side of the "+" operator must evaluate to a number'),
    ("1 - 'a'", 'T2002: The right side of the "-" operator must evaluate to a number'),
    ("$nope()", "T1006: Attempted to invoke a non-function"),
    ("$error('boom')", "D3137: boom"),
    # A built-in given an argument its signature refuses: jsonata-js 2.0.6's texts (run in
    # node), which name the function; the library words them "Argument 2 must be Number".
    ('$substring("abc", "x")', 'T0410: Argument 2 of function "substring" does not match function signature'),
    ("$uppercase(1)", 'T0410: Argument 1 of function "uppercase" does not match function signature'),
    ("$split(1, ',')", 'T0410: Argument 1 of function "split" does not match function signature'),
    ("$match('abc', 1)", 'T0410: Argument 2 of function "match" does not match function signature'),
    # the call that fails first: arguments are evaluated before their call
    ('$uppercase($substring("abc", "x"))', 'T0410: Argument 2 of function "substring" does not match function signature'),
    ("$substring($uppercase(1), 1)", 'T0410: Argument 1 of function "uppercase" does not match function signature'),
    # too many or too few arguments
    ("$count(1, 2)", 'T0410: Argument 2 of function "count" does not match function signature'),
    ("$append(1)", 'T0410: Argument 2 of function "append" does not match function signature'),
    ("$exists()", 'T0410: Argument 1 of function "exists" does not match function signature'),
    # an array of the wrong items
    ('$sum(["a"])', 'T0412: Argument 1 of function "sum" must be an array of "numbers"'),
    ("$join([1, 2])", 'T0412: Argument 1 of function "join" must be an array of "strings"'),
])
def test_runtime_error_causes(text, cause_tail):
    assert cause_of(text) == (f"The JSONata expression '{text}' specified for the field 'Output' "
                              f"threw an error during evaluation. {cause_tail}")


def test_function_result_is_unsupported():
    assert cause_of("function($x){ $x }").endswith("returned an unsupported result type.")
    assert run("''") == ""      # an empty string is still a string


def test_whole_numbers_come_back_as_int():
    assert run("$x", x=5.0) == 5 and isinstance(run("$x", x=5.0), int)
    assert run("$x + 0", x=2 ** 70) == float(2 ** 70)       # beyond 64 bits: a double, as in JS


def test_evaluate_in_binds_states_and_variables():
    scope = SimpleNamespace(states={"input": {"a": 2}, "context": {"State": {"Name": "S"}}},
                            variables={"k": 3})
    assert compile_expression("$states.input.a * $k & $states.context.State.Name").evaluate_in(scope) == "6S"


def test_variable_shadowing_and_null():
    assert run("$v", v=None) is None
    assert cause_of("$v").endswith("returned nothing (undefined).")


# --------------------------------------------------------------------------------------------
# Where the library differs from jsonata-js 2.0.6 and asl corrects it. Expected values: jsonata
# 2.0.6 from npm run in node (the version AWS runs), on 2026-12-07.
# --------------------------------------------------------------------------------------------

UNDEFINED = object()


def result_or_undefined(text):
    """The expression's value, or UNDEFINED when it gives none."""
    try:
        return run(text)
    except StatesError as exc:
        if exc.cause.endswith("returned nothing (undefined)."):
            return UNDEFINED
        raise


@pytest.mark.parametrize("text, expected", [
    # \w \d \s and \b are JavaScript's (ASCII; \s: ECMAScript's white space), not Unicode's
    (r"$match('héllo', /\w+/).match", ["h", "llo"]),
    (r"$match('héllo', /\W/).match", "é"),
    (r"$match('é', /[\W]/).match", "é"),
    (r"$match('é', /[^\w]/).match", "é"),
    (r"$match('a-é_b', /[\w-]+/).match", ["a-", "_b"]),
    (r"$match('x٣y', /\d/).match", UNDEFINED),
    (r"$match('x٣y', /\D+/).match", "x٣y"),
    (r"$split('a1b٣c', /\d/)", ["a", "b٣c"]),
    (r"$match('é a', /\b\w/).match", "a"),
    (r"$match('éa', /\Ba/).match", UNDEFINED),
    (r"$replace('héllo wörld', /\b(\w)/, '[$1]')", "[h]é[l]lo [w]ö[r]ld"),
    ("$match('a\u00a0b\ufeffc\u0085d', /\\s/).index", [1, 3]),
    # "." stops at \r, U+2028 and U+2029 as well as \n; [^] is any character
    (r"$match('a\r\nb', /.+/).match", ["a", "b"]),
    ("$match('a\u2028b', /.+/).match", ["a", "b"]),
    (r"$match('a\nb', /[^]+/).match", "a\nb"),
    # with "m", ^ and $ see \r as a line end
    (r"$match('a\r\nb', /a$/m).match", "a"),
    (r"$match('a\rb', /^b/m).match", "b"),
    # without the "u" flag \p is a "p" and a brace that is no quantifier is a brace
    (r"$match('p{L}', /\p{L}/).match", "p{L}"),
    (r"$match('a\u0000b', /\0/).index", 1),
    # "/", "[", "&" and "~" inside a class are characters
    (r"$match('x/y', /[/]/).index", 1),
    (r"$match('a[]b', /[[]]/).match", "[]"),
    (r"$match('a&&b~', /[&~]+/).match", ["&&", "~"]),
    # a "-" beside a set escape in a class is a "-", not a range (the common e-mail pattern)
    (r"$match('jo.doe@ex.com', /^[\w-\.]+@([\w-]+\.)+[\w-]{2,4}$/).match", "jo.doe@ex.com"),
    (r"$match(' ', /[\s-x]+/).match", " "),
    (r"$match('-', /[a-\d]/).match", "-"),
    (r"$match('%', /[\w-%]/).match", "%"),
])
def test_regex_has_javascript_meaning(text, expected):
    assert result_or_undefined(text) == expected


@pytest.mark.parametrize("text, expected", [
    # JavaScript's encodeURIComponent / encodeURI / decodeURIComponent / decodeURI
    ("$encodeUrlComponent('https://x.com/a b?q=1&r=ü#f')", "https%3A%2F%2Fx.com%2Fa%20b%3Fq%3D1%26r%3D%C3%BC%23f"),
    ("$encodeUrlComponent(\"!'()*-._~\")", "!'()*-._~"),
    ("$encodeUrl('https://x.com/a b?q=1&r=ü#f')", "https://x.com/a%20b?q=1&r=%C3%BC#f"),
    ("$encodeUrl('[]{}|^`<>%')", "%5B%5D%7B%7D%7C%5E%60%3C%3E%25"),
    ("['a b', 'c'].$encodeUrl($)", ["a%20b", "c"]),
    ("$decodeUrl('a%2Fb%20c%C3%BC')", "a%2Fb cü"),              # decodeURI keeps reserved escapes
    ("$decodeUrlComponent('a%2Fb%20c%C3%BC')", "a/b cü"),
    ("$encodeUrl($states.input.missing)", UNDEFINED),
    # the milliseconds are truncated (JavaScript's Date); the library refuses a fraction
    ("$fromMillis(1710498645123.7)", "2024-03-15T10:30:45.123Z"),
    ("$fromMillis(-1.5)", "1969-12-31T23:59:59.999Z"),
    ("$fromMillis(1710498645123.2, '[f001]', '+0100')", "123"),
    ("[1, 2].$fromMillis()", ["1970-01-01T00:00:00.001Z", "1970-01-01T00:00:00.002Z"]),  # context
    ("$fromMillis($states.input.missing)", UNDEFINED),
    # value and radix are rounded half to even
    ("$formatBase(2.5, 10)", "2"),
    ("$formatBase(-0.5, 2)", "0"),
    ("$formatBase(10, 2.7)", "101"),
    # $clone exists in jsonata 2.0.6
    ("$clone({'a': [1, {'b': null}]})", {"a": [1, {"b": None}]}),
    ("$clone($states.input.missing)", UNDEFINED),
    # `x ~> $f()` gives $f one argument: the corrected function serves it
    ("{'a': 1} ~> $clone()", {"a": 1}),
    ("1500.5 ~> $fromMillis()", "1970-01-01T00:00:01.500Z"),
])
def test_builtins_the_library_gets_wrong(text, expected):
    assert result_or_undefined(text) == expected


@pytest.mark.parametrize("text, cause_tail", [
    ("$decodeUrlComponent('%')", 'D3140: Malformed URL passed to $decodeUrlComponent(): "%"'),
    ("$decodeUrl('%ZZ')", 'D3140: Malformed URL passed to $decodeUrl(): "%ZZ"'),
    ("$decodeUrlComponent('%C0%80')", 'D3140: Malformed URL passed to $decodeUrlComponent(): "%C0%80"'),
    ("$encodeUrl(1)", 'T0410: Argument 1 of function "encodeUrl" does not match function signature'),
    ("$clone('x')", 'T0410: Argument 1 of function "clone" does not match function signature'),
    ("$clone(null)", 'T0410: Argument 1 of function "clone" does not match function signature'),
    ("$formatBase(10, 1)", "D3100: "),
    ("$map([1.5], $fromMillis)", "T0410: Argument 2"),       # $map gives it the index as picture
])
def test_corrected_builtins_fail_as_jsonata_does(text, cause_tail):
    assert cause_tail in cause_of(text)


# --------------------------------------------------------------------------------------------
# Syntax errors and AWS's restrictions (what the validator reports)
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, message", [
    # INVALID_JSONATA_EXPRESSION messages AWS returned for these (as reported by the floci
    # project's tests, measured with validate-state-machine-definition)
    ("a[1,2)", 'Expected "]", got ","'),
    ('"unterminated', "String literal must be terminated by a matching quote"),
    ("1 +", "Unexpected end of expression"),
    ('{"a":}', 'The symbol "}" cannot be used as a unary operator'),
    ("$x :=", "Unexpected end of expression"),
    ('$match("a", /abc', "No terminating / in regular expression"),
    ("phone %.other", 'The symbol "." cannot be used as a unary operator'),
    ("", "Unexpected end of expression"),
    # jsonata-js 2.0.6 wording
    ("(", 'Expected ")" before end of expression'),
    ("a b", 'Syntax error: "b"'),
    ("1 !", 'Unknown operator: "!"'),
    ("a ?: b", 'The symbol ":" cannot be used as a unary operator'),   # "?:" came with JSONata 2.1
    ("a ?? b", 'The symbol "?" cannot be used as a unary operator'),   # "??" too
    ("function(x){1}", "Parameter 1 of function definition must be a variable name (start with $)"),
    ("/* open", "Comment has no closing tag"),
])
def test_syntax_errors(text, message):
    with pytest.raises(ExpressionSyntaxError) as info:
        compile_expression(text)
    assert info.value.message == message
    assert 0 <= info.value.position <= len(text)


def test_syntax_error_renders_a_caret():
    with pytest.raises(ExpressionSyntaxError) as info:
        compile_expression("a[1,2)")
    assert str(info.value).splitlines()[-1].index("^") == 2 + 3   # under the ","


@pytest.mark.parametrize("text, problems", [
    ("$states.input.phone[0]", []),
    ("$states.input.items[phone > 3]", []),
    ("$phone", []),
    ("phone[0]", ["Reference to 'phone' at the top level is not supported."]),
    ("$.phone", ["Reference to '$' at the top level is not supported."]),
    ("$", ["Reference to '$' at the top level is not supported."]),
    ("$$", ["Reference to '$$' is not supported."]),
    ("aaa + bbb", ["Reference to 'aaa' at the top level is not supported.",
                   "Reference to 'bbb' at the top level is not supported."]),
    ("$map($states.input.a, function($x){ b })", ["Reference to 'b' at the top level is not supported."]),
    ("{aaa: 1}", ["Reference to 'aaa' at the top level is not supported."]),
    ("$eval('[1]')", ["The JSONata function '$eval' is not supported. Use '$parse' instead."]),
])
def test_problems(text, problems):
    expr = compile_expression(text)
    assert expr.problems == [("UNSUPPORTED_JSONATA_EXPRESSION", p) for p in problems]


def test_references_are_exposed():
    expr = compile_expression("$states.input.a + $states.errorOutput.x + $count($v)")
    assert expr.states_fields == {"input", "errorOutput"}
    assert {"states", "v", "count"} <= expr.variables


# --------------------------------------------------------------------------------------------
# AWS's functions
# --------------------------------------------------------------------------------------------

def test_partition():
    assert run("$partition([1, 2, 3, 4, 5], 2)") == [[1, 2], [3, 4], [5]]
    assert run("$partition([0], 5)") == [[0]]          # not collapsed (test_array_partition resp_4)
    assert "T0410" in cause_of("$partition([1], 0)")
    # no size: one chunk of every item; a null one (or undefined: the same to the function) fails
    # (a third-party suite run against AWS, Feature.JSONataBuiltins 014 and 012)
    assert run("$partition([1, 2, 3])") == [[1, 2, 3]]
    assert run("$partition([])") == []
    assert "T0410" in cause_of("$partition([1, 2, 3], null)")
    assert "T0410" in cause_of("$partition([1, 2, 3], 2, 99)")


def test_range():
    assert run("$range(0, 10, 2)") == [0, 2, 4, 6, 8, 10]
    assert run("$range(10, 1, -3)") == [10, 7, 4, 1]
    assert run("$range(1, 9, 9)") == 1                 # a sequence: one item comes back alone
    assert "must not be 0" in cause_of("$range(1, 2, 0)")


def test_a_variable_name_runs_to_a_blank_or_an_operator():
    # JSONata 2.0.6's tokenizer: a name is every character up to a blank or an operator
    # character, so combining marks (Thai, Devanagari) and other non-word characters belong to it;
    # renamed for the library, while strings and field names that spell it stay as written
    assert run("[$ก่อน, '$ก่อน', $states.input.`ก่อน`, $x·y]", {"ก่อน": "field"}, **{"ก่อน": 1, "x·y": 2}) == [1, "$ก่อน", "field", 2]
    assert run("($😀 := 3; $f := function($क्षेत्र) { $क्षेत्र + $😀 }; $f(4))") == 7
    assert "T2001" in cause_of("$क्षेत्र + 1", **{"क्षेत्र": "a"})


def test_integer_arguments_are_rounded_down():
    # https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html ("JSONata
    # functions provided by Step Functions"): a non-integer number given where an integer is
    # required is rounded down, not refused.
    assert run("$partition([1, 2, 3, 4, 5], 2.7)") == run("$partition([1, 2, 3, 4, 5], 2)") == [[1, 2], [3, 4], [5]]
    assert run("$range(0.9, 6.5, 2.99)") == run("$range(0, 6, 2)") == [0, 2, 4, 6]
    assert run("$random(42.8)") == run("$random(42)")
    # a null seed is no seed: it fails (a third-party suite run against AWS, Feature.JSONataBuiltins 044)
    assert "T0410" in cause_of("$random(null)")
    assert "T0410" in cause_of("$partition([1], 0.9)")    # rounded down to 0: not a chunk size
    assert "must not be 0" in cause_of("$range(1, 2, 0.5)")
    assert "T0410" in cause_of("$range('1', 2, 1)")      # a string is still no number


def test_hash():
    assert run("$hash('abc', 'SHA-256')") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert run("$hash('abc', 'MD5')") == "900150983cd24fb0d6963f7d28e17f72"
    assert run("$hash('abc', 'SHA-1')") == "a9993e364706816aba3e25717850c26c9cd0d89d"
    assert "T0410" in cause_of("$hash('abc', 'SHA-3')")


def test_random_and_uuid():
    assert run("$random(42)") == run("$random(42)") == pytest.approx(0.7275636800328681)  # Java's Random(42)
    value = run("$random()")
    assert 0 <= value < 1
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", run("$uuid()"))
    with execution_context(rng=random.Random(7), clock=lambda: 86400.0):
        first = run("[$random(), $uuid(), $now(), $millis()]")
    with execution_context(rng=random.Random(7), clock=lambda: 86400.0):
        assert run("[$random(), $uuid(), $now(), $millis()]") == first
    assert first[2:] == ["1970-01-02T00:00:00.000Z", 86400000]


def test_parse_and_eval():
    assert run("$parse('{\"a\": [1, -0]}')") == {"a": [1, 0]}
    assert run("$parse($states.input.s).x", {"s": '{"x": "y"}'}) == "y"
    assert "D3137" in cause_of("$parse('{bad')")
    assert cause_of("$eval('1')").endswith("T1006: Attempted to invoke a non-function")


def test_now_with_picture():
    with execution_context(clock=lambda: 0.0):
        assert run("$now('[Y0001]-[M01]-[D01]')") == "1970-01-01"


# --------------------------------------------------------------------------------------------
# Safety: a runaway expression ends with an error, never a hang or a crash
# --------------------------------------------------------------------------------------------

TIMEOUT = "U1001: Expression evaluation timeout: Check for infinite loop"
# AWS words its memory bound after a colon, with no JSONata code (raw AWS capture, radkawar/stackd
# testdata/aws/stepfunctions/expression_limits.json "pad-direct")
MEMORY = "threw an error during evaluation: Expression evaluation memory limit exceeded: Check for excessive memory usage"


@pytest.fixture
def limits(monkeypatch):
    def set_limits(**changes):
        monkeypatch.setattr(jsonata, "LIMITS", jsonata.Limits(**changes))
    return set_limits


def test_runaway_tail_recursion_ends_at_the_call_count():
    # counted, not timed: the same expression ends the same way on a busy machine
    assert cause_of("($f := function($x){ $f($x) }; $f(1))").endswith(TIMEOUT)


def test_the_call_bound_is_exact_and_reproducible(limits):
    limits(max_calls=500)
    count_to = "($f := function($n, $acc){ $n = 0 ? $acc : $f($n - 1, $acc + 1) }; $f({n}, 0))"
    assert run(count_to.replace("{n}", "499")) == 499            # 500 calls
    assert cause_of(count_to.replace("{n}", "500")).endswith(TIMEOUT)
    # calls through $map, $filter and $reduce callbacks count too
    assert run("$count($map([1..500], function($v){ $v }))") == 500
    assert cause_of("$count($map([1..501], function($v){ $v }))").endswith(TIMEOUT)
    # a function body that is itself a block, signature, nested functions: still the same value
    assert run("($g := function($x)<n:n>{ ($y := $x * 2; $h := function($z){ $z + $y }; $h(1)) }; $g(3))") == 7


def test_the_wall_clock_is_only_a_backstop(limits):
    limits(max_calls=10**12, time_limit_ms=300)
    assert cause_of("($f := function($x){ $f($x) }; $f(1))").endswith(TIMEOUT)


@pytest.mark.parametrize("text", [
    "($f := function($x){ $f($x) + 1 }; $f(1))",
    "($f := function($x){ $map([1], function($v){ $f($x) }) }; $f(1))",
    "($f := function($x){ [$f($x)] }; $f(1))",
])
def test_runaway_recursion_overflows_cleanly(text):
    assert "U1001: Stack overflow error" in cause_of(text)


def test_recursion_as_deep_as_aws_accepts_evaluates():
    # AWS refuses non-tail recursion past a nesting depth near 100
    assert run("($f := function($n){ $n = 0 ? 0 : 1 + $f($n - 1) }; $f(150))") == 150


def test_sequences_are_bounded_where_aws_runs_out_of_memory():
    assert run("$count([1..873782])") == 873782
    assert cause_of("$count([1..873783])").endswith(MEMORY)
    assert cause_of("$count($range(1, 873783, 1))").endswith(MEMORY)


def test_pad_adds_at_most_262144_characters_as_on_aws():
    # raw AWS captures of TestState, radkawar/stackd testdata/aws/stepfunctions/expression_limits.json
    # (labels as named) and variable_limits.json ("test-single-assignment-262145")
    assert cause_of("$length($pad('',262145,'x'))") == (
        "The JSONata expression '$length($pad('',262145,'x'))' specified for the field 'Output' threw an error "
        "during evaluation: Expression evaluation memory limit exceeded: Check for excessive memory usage")  # pad-direct
    assert cause_of("$pad('', -262145)").endswith(MEMORY)   # padding on the left counts the same
    assert run("$length($pad($pad('',131072,'x'),262145,'x'))") == 262145  # pad-existing: 131073 added
    assert run("$length($pad('',131072,'x') & $pad('',131073,'x'))") == 262145  # pad-concat
    assert run("$length($join([$pad('',131072,'x'),$pad('',131073,'x')]))") == 262145  # join
    assert run("$length($pad('',262144,'\u00e9'))") == 262144  # pad-unicode: characters, not bytes
    assert run("$length($pad('',262144,'xy'))") == 262144  # pad-pattern
    # the rest of $pad is JSONata's
    assert run("$pad('ab', -5, 'xy')") == "xyxab" and run("$pad('ab', 4)") == "ab  "
    assert run("$pad('abc', 2)") == "abc"


def test_results_are_bounded_where_aws_runs_out_of_memory():
    double = "($p := function($s, $n){ $n = 0 ? $s : $p($s & $s, $n - 1) }; $p('x', {n}))"
    assert len(run(double.replace("{n}", "22"))) == 2 ** 22
    assert cause_of(double.replace("{n}", "23")).endswith(MEMORY)


def test_runaway_in_a_small_stack_thread_does_not_crash():
    # Native recursion in a 512 KiB thread is where a native library would crash the process:
    # run it in a child process so that a crash fails this test instead of the whole run.
    code = (
        "import threading, asl.jsonata as j\n"
        "from asl.errors import StatesError\n"
        "out = []\n"
        "def work():\n"
        "    for t in ['($f := function($x){ $map([1], function($v){ $f($x) }) }; $f(1))',\n"
        "              '($f := function($x){ $f($x) + 1 }; $f(1))']:\n"
        "        try: j.compile_expression(t).evaluate({})\n"
        "        except StatesError as e: out.append('U1001: Stack overflow' in e.cause)\n"
        "threading.stack_size(512 * 1024)\n"
        "th = threading.Thread(target=work); th.start(); th.join(); print(out)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=os.path.join(os.path.dirname(__file__), ".."))
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[True, True]"


def test_huge_range_is_refused():
    assert "D2014" in cause_of("$count([1..100000000])")


def test_expressions_can_be_shared_between_threads():
    expr = compile_expression("$sum($states.input.v) + $k")
    errors = []

    def work(k):
        for _ in range(200):
            if expr.evaluate({"states": {"input": {"v": [1, 2, k]}}, "k": k}) != 3 + 2 * k:
                errors.append(k)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_importing_asl_does_not_load_the_library():
    code = "import sys, asl, asl.jsonata; print('jsonatapy' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          cwd=os.path.join(os.path.dirname(__file__), ".."))
    assert done.stdout.strip() == "False", done.stderr[-2000:]


# --------------------------------------------------------------------------------------------
# Property: compiling any text gives an Expression or an ExpressionSyntaxError, nothing else
# --------------------------------------------------------------------------------------------

_PIECES = st.sampled_from([
    "$states", ".input", ".a", "[0]", "[", "]", "(", ")", "{", "}", "'s'", '"t"', "1", "2.5", "-",
    "+", "*", "/", "%", "=", "!=", "<", ">=", "&", " and ", " or ", " in ", "?", ":", ":=", ";", ",",
    "$x", "$", "$$", "a", "function($v){", "$map(", "$sum(", "~>", "^(", "#$i", "@$o", "..", "**",
    "/re/", "|", "true", "null", "/*", "*/", "`q`", "\\", "λ", "<s:s>", " ", "\n",
])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=40), st.lists(_PIECES, max_size=14).map("".join)))
def test_compile_returns_expression_or_syntax_error(text):
    try:
        expr = compile_expression(text)
    except ExpressionSyntaxError as exc:
        assert isinstance(exc.message, str) and exc.message
        assert exc.position is None or 0 <= exc.position <= len(text)
    else:
        assert isinstance(expr, Expression)
        assert all(code in ("UNSUPPORTED_JSONATA_EXPRESSION", "INVALID_JSONATA_EXPRESSION")
                   for code, _ in expr.problems)


def test_copies_share_and_pickles_recompile():
    import copy
    import pickle

    expr = compile_expression("$states.input.a + 1", "Output")
    assert copy.deepcopy(expr) is expr
    again = pickle.loads(pickle.dumps(expr))
    assert (again.text, again.field) == (expr.text, expr.field)
    assert again.evaluate({"states": {"input": {"a": 1}}}) == 2


# ---- threads: jsonatapy's objects are bound to the thread that made them ---------------------

@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
def test_expressions_used_and_dropped_on_other_threads_drop_nothing_native_there():
    """A compiled JSONata object used or dropped on another thread than its own is refused by
    pyo3 ("JsonataExpression is unsendable, but is being dropped on another thread", an
    unraisable error the garbage collector reports): expressions evaluated on one thread and
    collected on another (a worker thread, a thread pool kept alive) must not do that."""
    import gc
    from concurrent.futures import ThreadPoolExecutor

    from asl import load
    from asl.engine import run_sync

    def machine(n):
        return load({"QueryLanguage": "JSONata", "StartAt": "P", "States": {
            "P": {"Type": "Pass", "Output": "{% $states.input.a + " + str(n) + " %}", "End": True}}})

    # evaluated on this thread, the last reference dropped (and collected) on a worker thread
    box = [machine(1)]
    assert run_sync(box[0], {"a": 1}).output == 2

    def drop():
        box.clear()
        gc.collect()

    worker = threading.Thread(target=drop)
    worker.start()
    worker.join()
    assert box == []
    # evaluated on a pool's live thread, dropped on this one while that thread still runs
    with ThreadPoolExecutor(1) as pool:
        kept = [machine(2)]
        assert pool.submit(lambda: run_sync(kept[0], {"a": 1}).output).result() == 3
        kept.clear()
        gc.collect()
        assert pool.submit(lambda: run_sync(machine(2), {"a": 2}).output).result() == 4  # its cache still serves


def test_a_workflow_variable_named_like_a_corrected_builtin_keeps_its_value():
    """Variables are bound under their names; the per-expression definitions of the built-ins
    the library gets wrong ($clone, $encodeUrl, $fromMillis...) never hide a variable's JSON."""
    assert compile_expression("$clone + 1", "Output").evaluate({"clone": 5}) == 6
    assert compile_expression("$encodeUrl", "Output").evaluate({"encodeUrl": "x"}) == "x"
    assert compile_expression("$fromMillis", "Output").evaluate({"fromMillis": [1]}) == [1]
