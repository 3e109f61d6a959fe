"""Tests of asl.paths: AWS Step Functions' JSONPath (Jayway JsonPath semantics).

Expected values come from the conformance cases recorded against AWS, the AWS Developer
Guide ("Paths"), the States Language spec, and Jayway JsonPath's README and test suite.
"""
from __future__ import annotations

import copy
import json
import string

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from asl.errors import ExpressionSyntaxError, PathNotFoundError, StatesError
from asl.paths import Path, assign_path, compile_path, compile_reference_path, is_path_syntax
from conftest import conformance_cases

CASES = conformance_cases()


def ev(text, doc):
    return compile_path(text).evaluate(doc)


def miss_detail(text, doc):
    with pytest.raises(PathNotFoundError) as raised:
        compile_path(text).evaluate(doc)
    assert raised.value.error == "States.Runtime" and raised.value.path == text
    return raised.value.detail


# ---------------------------------------------------------------------------------------------
# The interface
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, kind, variable", [
    ("$", "input", None), ("$.a.b", "input", None), ("$[0]", "input", None),
    ("$..a", "input", None), ("$$", "context", None), ("$$.Execution.Input", "context", None),
    ("$x", "variable", "x"), ("$x.a[0]", "variable", "x"), ("$my_var2['k']", "variable", "my_var2"),
    ("$_", "variable", "_"),
])
def test_kind_and_variable(text, kind, variable):
    path = compile_path(text)
    assert (path.text, path.kind, path.variable) == (text, kind, variable)


@pytest.mark.parametrize("text, reference, definite", [
    ("$", True, True), ("$.a", True, True), ("$['a b'].c[3]", True, True), ("$.a[-1]", True, True),
    ("$$.Map.Item.Value", True, True), ("$v.a", True, True),
    ("$.a[*]", False, False), ("$.a.*", False, False), ("$..a", False, False),
    ("$.a[1:]", False, False), ("$.a[0,1]", False, False), ("$.a[?(@.x)]", False, False),
    ("$['a','b'].c", False, False),
    ("$['a','b']", False, True),  # Jayway merges a leaf union of names into one object
    ("$.a.length()", False, True),
])
def test_reference_and_definite(text, reference, definite):
    path = compile_path(text)
    assert (path.is_reference, path.is_definite) == (reference, definite)


def test_path_is_immutable_and_compiled_once():
    path = compile_path("$.a")
    with pytest.raises(AttributeError):
        path.text = "$.b"
    assert compile_path("$.a") is path
    assert path == compile_path("$.a") and hash(path) == hash("$.a") and "$.a" in repr(path)


def test_root_returns_the_document_itself_and_values_are_not_copied():
    doc = {"a": {"b": [1, 2]}}
    assert ev("$", doc) is doc
    assert ev("$.a", doc) is doc["a"]
    assert ev("$.a.b[*]", doc) == [1, 2]
    assert ev("$.a[*]", doc)[0] is doc["a"]["b"]


# ---------------------------------------------------------------------------------------------
# Definite paths: values, and AWS's/Jayway's texts for a miss
# ---------------------------------------------------------------------------------------------

DG_INPUT = {"foo": 123, "bar": ["a", "b", "c"], "car": {"cdr": True},
            "jar": [{"a": 1}, {"a": 5}, {"a": 2}, {"a": 7}, {"a": 3}]}


@pytest.mark.parametrize("text, expected", [  # DG "Paths" (Reference Paths section)
    ("$.foo", 123), ("$.bar", ["a", "b", "c"]), ("$.car.cdr", True),
    ("$.jar[?(@.a >= 5)]", [{"a": 5}, {"a": 7}]),
])
def test_developer_guide_examples(text, expected):
    assert ev(text, DG_INPUT) == expected


def test_spec_parameters_example():
    # States Language spec, Parameters: "first.$": "$.vals[0]", "last3.$": "$.vals[3:]"
    doc = {"flagged": 7, "vals": [0, 10, 20, 30, 40, 50]}
    assert ev("$.vals[0]", doc) == 0
    assert ev("$.vals[3:]", doc) == [30, 40, 50]


def test_missing_leaf_and_missing_parent_details():
    # conformance: test_invalid_jsonpath (OutputPath/InputPath) and test_catch_states_runtime
    assert miss_detail("$.NoSuchOutputPath", {}) == "No results for path: $['NoSuchOutputPath']"
    assert miss_detail("$.no.such.result.path", {}) == "Missing property in path $['no']"
    error = pytest.raises(PathNotFoundError, ev, "$.NoSuchInputPath", {"a": 1}).value
    assert error.cause == ("Invalid path '$.NoSuchInputPath' : "
                           "No results for path: $['NoSuchInputPath']")


@pytest.mark.parametrize("text, doc, detail", [
    ("$.a.b", {"a": {}}, "No results for path: $['a']['b']"),
    ("$.a.b.c", {"a": {}}, "Missing property in path $['a']['b']"),
    ("$['a b'][2]", {"a b": [1]}, "Index out of bounds when evaluating path $['a b'][2]"),
    ("$.a[5].b", {"a": [1]}, "Index out of bounds when evaluating path $['a'][5]"),
    ("$[\"a\"].b", {}, "Missing property in path $['a']"),
    ("$.a[0]", {"a": None}, "The path $['a'] is null"),
    ("$.a[0].b", {"a": 5}, "Filter: [0]['b'] can only be applied to arrays. Current context is: 5"),
    ("$.a.b", {"a": "x"}, "Property ['b'] not found in path $['a']"),
    ("$.a.b", {"a": [{"b": 1}]}, "Property ['b'] not found in path $['a']"),
    ("$['a','b']", [1], "Property ['a', 'b'] not found in path $"),
])
def test_jayway_miss_details(text, doc, detail):
    # The texts of Jayway 2.0.0, the version AWS runs: AWS prints Jayway's message after "Invalid
    # path '<path>' : " (recordings test_invalid_jsonpath, test_catch_states_runtime; console run
    # in gist deric4/733eb129a10b13530cebaa3b70031c77), and on every point where AWS runs tell
    # the Jayway versions apart it behaves as 2.0.0 (see asl/paths.py). 2.1 and later word the
    # last three "Expected to find an object with property ... JsonSmartJsonProvider'." and
    # "No results for path: ...".
    assert miss_detail(text, doc) == detail


def test_null_and_falsy_values_are_found():
    doc = {"a": None, "b": False, "c": 0, "d": "", "e": [], "f": {}}
    for key in "abcdef":
        assert ev(f"$.{key}", doc) == doc[key]


def test_variable_and_context_paths_apply_after_their_root():
    assert compile_path("$x.a[1]").evaluate({"a": [5, 6]}) == 6
    assert compile_path("$x").evaluate([1]) == [1]
    context = {"Execution": {"Input": {"k": 1}}}
    assert compile_path("$$.Execution.Input").evaluate(context) == {"k": 1}
    assert miss_detail("$$.State.Foo", {"State": {}}) == "No results for path: $['State']['Foo']"


def test_negative_indexes_and_merged_names():
    doc = {"a": [1, 2, 3], "m": {"x": 1, "y": 2, "z": 3}}
    # AWS: "$.array[-1].name" on {"array": [{"name": "hoge"}]} "could not be found" while [0]
    # works (zenn.dev/sotaro8181/articles/9f265419e4fda9); Jayway 2.0.0 has no negative index
    assert miss_detail("$.array[-1].name", {"array": [{"name": "hoge"}]}) == (
        "Index out of bounds when evaluating path $['array'][-1]")
    assert ev("$.array[0].name", {"array": [{"name": "hoge"}]}) == "hoge"
    assert ev("$.a[*][-1]", {"a": [[1, 2]]}) == []
    assert ev("$.a[-2:]", doc) == [2, 3]  # a slice still counts from the end (2.0.0 alike)
    # ... and the same article has "$.array[(@.length-1)]" work on AWS: Jayway 2.0.0's script
    # index from the end (2.1 and later refuse it); past the front is 2.0.0's "Index out of
    # bounds" at the computed index (Debian's libjsonpath-java 2.0.0, run here)
    last = {"array": [{"name": "a"}, {"name": "hoge"}]}
    assert ev("$.array[(@.length-1)].name", last) == "hoge"
    assert ev("$.array[(@.size() - 2)]", last) == {"name": "a"}
    assert compile_path("$.array[(@.length-1)]").is_definite
    assert miss_detail("$.array[(@.length-3)]", last) == "Index out of bounds when evaluating path $['array'][-1]"
    assert ev("$.array[*][(@.length-1)]", last) == []
    # Jayway MultiPropTest: a leaf union of names is one object; absent names are skipped
    assert ev("$.m['x', 'z']", doc) == {"x": 1, "z": 3}
    assert ev("$.m['x', 'q']", doc) == {"x": 1}


def test_functions_parse_but_aws_does_not_evaluate_them():
    # re:Post: "$.Jobs.sum()" is accepted in a definition and fails with "could not be found"
    path = compile_path("$.Jobs.sum()")
    assert not path.is_reference
    with pytest.raises(PathNotFoundError):
        path.evaluate({"Jobs": [0, 1]})
    assert miss_detail("$.Jobs.sum()", {"Jobs": [0, 1]}) == "Property ['sum()'] not found in path $['Jobs']"
    # Jayway 2.0.0 (which AWS runs) reads `length()` as a member name: after a wildcard an element
    # without it is skipped, and a member of that name is read
    assert ev("$.a[*].length()", {"a": [[1], {"b": 2}]}) == []
    assert ev("$.a.length()", {"a": {"length()": 7}}) == 7


def test_a_miss_before_a_function_is_worded_as_any_miss():
    # Jayway 2.0.0 (where `length()` is a property name) and 2.9.0 (where it is a function) agree:
    # the step that misses before the call is the one reported, and an indefinite path that
    # selects nothing before the call gives [] (run side by side on these documents; for
    # `$.a[*].length()` on {} 2.9.0 throws the missing `a`, which AWS turns into [] as for any
    # indefinite path: conformance test_json_path_array_wildcard_or_slice_with_no_input)
    assert miss_detail("$.d.length()", {}) == "Missing property in path $['d']"
    assert miss_detail("$.Jobs.x.sum()", {"Jobs": {}}) == "Missing property in path $['Jobs']['x']"
    assert ev("$[*].length()", {}) == []
    assert ev("$.a[*].length()", {}) == []
    assert ev("$.a[?(@.x)].length()", {"a": [{"y": 1}]}) == []


# ---------------------------------------------------------------------------------------------
# Indefinite paths (Jayway README's store document and Jayway's tests)
# ---------------------------------------------------------------------------------------------

STORE = {
    "store": {
        "book": [
            {"category": "reference", "author": "Nigel Rees", "title": "Sayings of the Century",
             "price": 8.95},
            {"category": "fiction", "author": "Evelyn Waugh", "title": "Sword of Honour",
             "price": 12.99},
            {"category": "fiction", "author": "Herman Melville", "title": "Moby Dick",
             "isbn": "0-553-21311-3", "price": 8.99},
            {"category": "fiction", "author": "J. R. R. Tolkien", "title": "The Lord of the Rings",
             "isbn": "0-395-19395-8", "price": 22.99},
        ],
        "bicycle": {"color": "red", "price": 19.95},
    },
    "expensive": 10,
}
BOOKS = STORE["store"]["book"]
AUTHORS = [b["author"] for b in BOOKS]


@pytest.mark.parametrize("text, expected", [
    ("$.store.book[*].author", AUTHORS),
    ("$..author", AUTHORS),
    ("$.store.*", [BOOKS, STORE["store"]["bicycle"]]),
    ("$.store..price", [8.95, 12.99, 8.99, 22.99, 19.95]),
    ("$..book[2]", [BOOKS[2]]),
    ("$..book[-2]", []),  # AWS reads no negative index (zenn.dev/sotaro8181, see below)
    ("$..book[0,1]", BOOKS[:2]),
    ("$..book[:2]", BOOKS[:2]),
    ("$..book[1:2]", BOOKS[1:2]),
    ("$..book[-2:]", BOOKS[-2:]),
    ("$..book[2:]", BOOKS[2:]),
    ("$..book[?(@.isbn)]", BOOKS[2:]),
    ("$.store.book[?(@.price < 10)]", [BOOKS[0], BOOKS[2]]),
    ("$..book[?(@.price <= $['expensive'])]", [BOOKS[0], BOOKS[2]]),
    ("$..book[?(@.author =~ /.*REES/i)]", [BOOKS[0]]),
])
def test_jayway_readme_examples(text, expected):
    assert ev(text, STORE) == expected


@pytest.mark.parametrize("text, expected", [  # Jayway ArraySlicingTest on [1, 3, 5, 7, 8, 13, 20]
    ("$[3]", 7), ("$[:3]", [1, 3, 5]), ("$[1:5]", [3, 5, 7, 8]), ("$[0:1]", [1]),
    ("$[1:15]", [3, 5, 7, 8, 13, 20]), ("$[-3:]", [8, 13, 20]), ("$[3:]", [7, 8, 13, 20]),
    ("$[0,1,2]", [1, 3, 5]),
])
def test_jayway_slices(text, expected):
    assert ev(text, [1, 3, 5, 7, 8, 13, 20]) == expected


def test_jayway_slice_arithmetic_is_not_pythons():
    nums = [1, 3, 5, 7]
    assert ev("$[:-1]", nums) == [1, 3, 5]
    assert ev("$[1:-1]", nums) == []          # [a:b] does not wrap a negative end
    assert ev("$[-2:3]", nums) == [5, 7, 1, 3, 5]  # ... but walks a negative start index by index
    assert ev("$[0:4:2]", nums) == [1, 3, 5, 7]  # a step is ignored
    assert ev("$[5:]", nums) == []


def test_a_union_of_names_before_another_step_fails():
    # AWS console run (gist deric4/733eb129a10b13530cebaa3b70031c77, "JSONPath Gotchas"):
    # InputPath "$['a', 'b'].v" on {"a": {"v": 1}, "b": {"v": 2}, "c": {"v": 3}} fails with
    # States.Runtime "Invalid path '$['a', 'b'].v' : Multi properties can only be used as path
    # leafs: $['a', 'b']" (Jayway 2.0.0; 2.1 and later would give [1, 2]), while
    # "$['a', 'b']" gives {"a": {"v": 1}, "b": {"v": 2}}.
    doc = {"a": {"v": 1}, "b": {"v": 2}, "c": {"v": 3}}
    error = pytest.raises(PathNotFoundError, ev, "$['a', 'b'].v", doc).value
    assert error.cause == ("Invalid path '$['a', 'b'].v' : Multi properties can only be used as "
                           "path leafs: $['a', 'b']")
    assert ev("$['a', 'b']", doc) == {"a": {"v": 1}, "b": {"v": 2}}
    assert miss_detail("$['a','c'][?(@.flag)].v", doc) == (
        "Multi properties can only be used as path leafs: $['a', 'c']")


def test_indefinite_paths_fail_only_on_a_present_non_array():
    # AWS recordings of LocalStack's base/test_base.py::
    # test_json_path_array_wildcard_or_slice_with_dictionary_input (input {"myKey": "myValue"}):
    # $[*] gives the object's values, every slice of the object is "could not be found"
    doc = {"name": "v", "inner": {"k": 1}, "text": "abc", "nothing": None}
    assert ev("$[*]", doc) == ["v", {"k": 1}, "abc", None]
    for text in ["$[0:]", "$[:0]", "$[1:2]", "$.inner[:1]", "$.text[1:]", "$.inner[0,1]"]:
        with pytest.raises(PathNotFoundError):
            ev(text, doc)
    # the miss is swallowed when the node is absent or null, or when the step before is indefinite
    assert ev("$.absent[0:]", doc) == []
    assert ev("$.nothing[1:]", doc) == []
    assert ev("$[*][0:]", doc) == []


def test_indefinite_paths_never_fail():
    # conformance: test_json_path_array_wildcard_or_slice_with_no_input
    for text in ["$.item.items[*]", "$.item.items[1:]", "$.item.items[1:5].itemValue", "$.items[*]",
                 "$.items[*].itemValue", "$.items[:1]", "$.items[1:]"]:
        assert ev(text, {}) == []
    assert ev("$.a[*]", {"a": 5}) == []
    assert ev("$.a[?(@.x)]", {"a": "text"}) == []
    assert ev("$[*].a", [1, {"a": 2}, [3]]) == [2]


def test_wildcard_over_objects_and_arrays():
    assert ev("$.*", {"a": 1, "b": [2]}) == [1, [2]]
    assert ev("$[*]", [1, 2]) == [1, 2]
    assert ev("$.*.*", {"a": {"x": 1}, "b": [2, 3], "c": 4}) == [1, 2, 3]


def test_deep_scan_order_and_reach():
    doc = {"a": {"x": 1, "b": [{"x": 2}, {"c": {"x": 3}}]}, "x": 4}
    assert ev("$..x", doc) == [4, 1, 2, 3]  # pre-order, members in document order
    assert ev("$..[0]", {"a": [[1, 2], 3]}) == [[1, 2], 1]
    assert ev("$..*", {"a": [1], "b": 2}) == [[1], 2, 1]


# ---------------------------------------------------------------------------------------------
# Filters
# ---------------------------------------------------------------------------------------------

def test_conformance_filter_case():  # test_state_pass_regex_json_path_base
    doc = {"users": [{"year": 1997, "status": 0}, {"year": 1998, "status": 1}]}
    assert ev("$.users[?(@.status == 0)]", doc) == [{"year": 1997, "status": 0}]


@pytest.mark.parametrize("text, expected", [  # Jayway InlineFilterTest
    ("$.store.book[ ?(@.author == 'Nigel Rees' || @.author == 'Evelyn Waugh') ].author",
     AUTHORS[:2]),
    ("$.store.book[ ?((@.author == 'Nigel Rees' || @.author == 'Evelyn Waugh') && "
     "@.category == 'reference') ].author", AUTHORS[:1]),
    ("$.store.book[ ?((@.author == 'Nigel Rees') || (@.author == 'Evelyn Waugh' && "
     "@.category != 'fiction')) ].author", AUTHORS[:1]),
    ("$.store.book[?('a' == 'a')].author", AUTHORS),
    ("$.store.book[?('a' == 'b')].author", []),
    ("$.store.book[?('reference' == @.category)].author", AUTHORS[:1]),
    ("$.store.book[?(@.category == @.category)].author", AUTHORS),
    ("$.store.book[?(@ == @)].author", AUTHORS),
    ("$.store.book[?(@.category != @)].author", AUTHORS),
    ("$.store.book[?(@.category =~ /reference/)].author", AUTHORS[:1]),
    ("$.store.book[?(/reference/ =~ @.category)].author", AUTHORS[:1]),
    ("$.store.book[?(@.category =~ /REFERENCE/)].author", []),
    ("$.store.book[?(@.category =~ /REFERENCE/i)].author", AUTHORS[:1]),
    ("$.store.book[?(@.isbn)].author", AUTHORS[2:]),
    ("$.store.book[?(!@.isbn)].author", AUTHORS[:2]),
])
def test_jayway_inline_filters(text, expected):
    assert ev(text, STORE) == expected


def test_filters_on_scalars_and_null():  # Jayway InlineFilterTest (null handling)
    ints = [0, 1, None, 2, 3]
    assert ev("$[?(@)]", ints) == ints
    assert ev("$[?(@ != null)]", ints) == [0, 1, 2, 3]
    assert ev("$[?(!@)]", ints) == []


@pytest.mark.parametrize("doc, text, hits", [  # Jayway InlineFilterTest: strings vs numbers
    ([{"value": "5"}], "$[?(@.value=='5')]", 1), ([{"value": 5}], "$[?(@.value==5)]", 1),
    ([{"value": "5.1.26"}], "$[?(@.value=='5.1.26')]", 1),
    ([{"value": "5"}], "$[?(@.value=='5.1.26')]", 0),
    ([{"value": 5}], "$[?(@.value=='5.1.26')]", 0),
    ([{"value": 5.1}], "$[?(@.value=='5.1.26')]", 0),
    ([{"value": "5.1.26"}], "$[?(@.value=='5')]", 0),
    ([{"value": "5.1.26"}], "$[?(@.value==5)]", 0),
    ([{"value": "5.1.26"}], "$[?(@.value==5.1)]", 0),
    ([{"value": "5"}], "$[?(@.value<'7')]", 1), ([{"value": "7"}], "$[?(@.value<'5')]", 0),
    ([{"value": 5}], "$[?(@.value<7)]", 1), ([{"value": 7}], "$[?(@.value<5)]", 0),
    ([{"value": 5}], "$[?(@.value<7.1)]", 1), ([{"value": 7}], "$[?(@.value<5.1)]", 0),
    ([{"value": 5.1}], "$[?(@.value<7)]", 1), ([{"value": 7.1}], "$[?(@.value<5)]", 0),
    (["'foo"], "$[?(@ == '\\'foo')]", 1),
    (["x"], "$[?(@ =~ /\\/|x/)]", 1), (["x"], "$[?(@ == \"abc\" || @ =~ /\\/|x/)]", 1),
    ([{"s": "fo", "expected_size": "m"}, {"s": "lo", "expected_size": 2}],
     "$[?(@.s size @.expected_size)]", 1),
])
def test_jayway_value_comparisons(doc, text, hits):
    assert len(ev(text, doc)) == hits


def test_booleans_are_not_numbers_and_types_do_not_mix():
    doc = [{"x": True}, {"x": 1}, {"x": "1"}, {"x": None}, {"x": 1.0}]
    assert ev("$[?(@.x == 1)]", doc) == [{"x": 1}, {"x": "1"}, {"x": 1.0}]
    assert ev("$[?(@.x == true)]", doc) == [{"x": True}]
    assert ev("$[?(@.x === 1)]", doc) == [{"x": 1}, {"x": 1.0}]
    assert ev("$[?(@.x > 0)]", doc) == [{"x": 1}, {"x": 1.0}]
    assert ev("$[?(@.x == null)]", doc) == [{"x": None}]
    assert ev("$[?(@.y != 1)]", doc) == doc  # a missing value is unequal to everything


def test_membership_and_size_operators():
    doc = [{"c": "red", "t": ["a", "b"]}, {"c": "blue", "t": []}, {"c": "green", "t": ["b"]}]
    assert ev("$[?(@.c in ['red', 'green'])].c", doc) == ["red", "green"]
    assert ev("$[?(@.c nin ['red', 'green'])].c", doc) == ["blue"]
    assert ev("$[?(@.t contains 'b')].c", doc) == ["red", "green"]
    assert ev("$[?(@.t subsetof ['a', 'b'])].c", doc) == ["red", "blue", "green"]
    assert ev("$[?(@.t anyof ['a'])].c", doc) == ["red"]
    assert ev("$[?(@.t noneof ['a'])].c", doc) == ["blue", "green"]
    assert ev("$[?(@.t size 2)].c", doc) == ["red"]
    assert ev("$[?(@.t empty true)].c", doc) == ["blue"]
    assert ev("$[?(@.c size 4)].c", doc) == ["blue"]


def test_filter_on_nested_arrays_and_root_references():
    doc = {"limit": 2, "stores": [{"name": "First", "book": [{"category": "Reference"}]},
                                  {"name": "Second", "book": [{"category": "fiction"}]}]}
    # Jayway InlineFilterTest: a regex against an array matches any element
    assert ev("$.stores[?(@.book[*].category =~ /Reference/i)].name", doc) == ["First"]
    assert ev("$.stores[?(@.book.length() > 0)].name", doc) == []  # functions select nothing
    assert ev("$.n[?(@ < $.limit)]", {"limit": 2, "n": [1, 2, 3]}) == [1]


def test_an_existence_test_written_with_the_root_runs_from_the_item():
    # Jayway 2.0.0, 2.2.0 and 2.9.0 alike (run side by side): an existence test `[?($.a)]`
    # evaluates its path from the filtered item (ValueNodes.PathNode.evaluate), so it keeps the
    # items that have `a`; only a comparison (`$.a == 5`) reads the document itself.
    # (`!$.a` is checked against 2.2.0 and 2.9.0: 2.0.0 cannot parse `!` before `$`.)
    doc = {"users": [{"a": 1}, {"b": 2}], "limit": 30, "a": 5}
    assert ev("$.users[?($.a)]", doc) == [{"a": 1}]
    assert ev("$.users[?($.limit)]", doc) == []
    assert ev("$.users[?(!$.a)]", doc) == [{"b": 2}]
    assert ev("$.users[?(@.b && $.b)]", doc) == [{"b": 2}]
    assert ev("$.users[?($.a == 5)]", doc) == [{"a": 1}, {"b": 2}]


def test_word_operators_and_odd_but_valid_filters():
    assert ev("$[?(@.a IN [1])]", [{"a": 1}]) == [{"a": 1}]  # operators are case-insensitive
    assert ev("$[?(@.a in 'x')]", [{"a": "x"}]) == []        # not a list: no match
    assert ev("$[?(@.missing =~ /.*/)]", [{"a": 1}]) == [{"a": 1}]  # Jayway matches "" there


# ---------------------------------------------------------------------------------------------
# Syntax (Jayway's grammar and leniencies)
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "$", "$$", "$.a", "$.a-b", "$.delivery-partner", "$$.Execution.Input.input-value", "$['a']",
    '$["a"]', "$.['a']", "$['a b']['c']", "$[0]", "$[ 0 ]", "$[-1]", "$[0, 1]", "$[1:]", "$[:2]",
    "$[1:2]", "$[*]", "$.*", "$..a", "$..*", "$..[0]", "$..['a']", "$.[?(@.year < 1999)].name",
    "$[?(@.a == 'x' && @.b < 3)]", "$[?(@.a || !@.b)]", "$[?(!(@.a == 1))]", "$[?(@.a =~ /x.*/i)]",
    "$[?(@.a in [1, 2])]", "$[?(@.a == {\"k\": 1})]", "$[?(@['x y'] > 1.5e3)]", "$.a.length()",
    "$x", "$x.y", "$x[0]", "$['a']b", "$['a']x", "$.a ", "$.a]b",
])
def test_valid_syntax(text):
    assert is_path_syntax(text)
    compile_path(text)


@pytest.mark.parametrize("text, position", [
    ("", 0), ("a", 0), (" $.a", 0), ("@.a", 0), ("$.", 1), ("$..", 2), ("$.a.", 3), ("$...a", 3),
    ("$a b", 2), ("$.a b", 3), ("$1", 1), ("$]", 1), ("$[", 1), ("$[]", 1), ("$['a'", 4),
    ("$['a',]", 6), ("$['a' 'b']", 4), ("$[a]", 1), ("$[1.5]", 1), ("$[:]", 1),
    ("$[99999999999]", 1), ("$[*", 3), ("$[?(@.a)", 1), ("$[?(@.a == )]", 11), ("$$x", 2),
    ("$[?(@.a ~ 1)]", None), ("$[?(@.a == 'x)]", None), ("$.a(", 3), ("$[?(@.a =~ /(/)]", None),
    ("$[?(1)]", None), ("$[?(@.a) junk]", None),
])
def test_invalid_syntax(text, position):
    assert not is_path_syntax(text)
    with pytest.raises(ExpressionSyntaxError) as raised:
        compile_path(text)
    assert raised.value.text == text
    if position is not None:
        assert raised.value.position == position
    assert "^" in str(raised.value) or raised.value.position is None or not text


def test_quoted_names_are_verbatim():
    # conformance test_escape_sequence_parsing: the backslash stays part of the key
    case = next(c for c in CASES if "ESCAPE_SEQUENCES_JSONPATH" in c["name"])
    path = case["definition"]["States"]["JsonPathEscapeTest"]["Parameters"]["value.$"]
    assert path == "$['Test\\\"\"Name\"']"
    assert ev(path, case["input"]) == case["expected"]["output"]["value"]
    assert ev("$['a.b']", {"a.b": 1}) == 1
    assert ev("$['it\\'s']", {"it\\'s": 2}) == 2
    assert ev("$['']", {"": 3}) == 3


def test_stray_character_after_the_last_token_is_ignored():
    # Jayway stops reading when one character is left after a token (`currentIsTail`)
    assert ev("$['a']x", {"a": 1}) == 1
    assert ev("$['a']xy", {"a": {"xy": 2}}) == 2


def test_compile_reference_path():
    for text in ["$", "$.a", "$['a'][0].b", "$$.Execution.Input", "$v.a"]:
        assert compile_reference_path(text).is_reference
    for text, position in [("$.a[*]", 3), ("$..a", 1), ("$.a[?(@.x)]", 3), ("$.a[0,1]", 3),
                           ("$['a','b']", 1), ("$.a.length()", 4), ("$.a[1:]", 3)]:
        with pytest.raises(ExpressionSyntaxError) as raised:
            compile_reference_path(text)
        assert raised.value.position == position


def test_non_string_text_is_a_syntax_error():
    with pytest.raises(ExpressionSyntaxError):
        compile_path(None)
    assert not is_path_syntax(5)


# ---------------------------------------------------------------------------------------------
# ResultPath (assign_path)
# ---------------------------------------------------------------------------------------------

def test_assign_examples_from_the_developer_guide():
    # DG "Specifying state output using ResultPath"
    doc = {"comment": "This is a test", "details": "Default example", "who": "Step Functions"}
    result = "Hello, Step Functions!"
    assert assign_path(doc, compile_path("$"), result) == result
    assert assign_path(doc, compile_path("$.taskresult"), result) == {**doc, "taskresult": result}
    doc2 = {"comment": "An input comment.", "strings": {"string1": "foo", "string2": "bar"}}
    out = assign_path(doc2, compile_path("$.strings.lambdaresult"), result)
    assert out == {"comment": "An input comment.",
                   "strings": {"string1": "foo", "string2": "bar", "lambdaresult": result}}


def test_assign_copies_only_the_spine_and_never_mutates():
    doc = {"a": {"b": {"c": 1}, "keep": [1, 2]}, "other": {"x": 1}}
    before = copy.deepcopy(doc)
    value = {"v": [1]}
    out = assign_path(doc, compile_path("$.a.b.c"), value)
    assert doc == before
    assert out == {"a": {"b": {"c": {"v": [1]}}, "keep": [1, 2]}, "other": {"x": 1}}
    assert out["other"] is doc["other"] and out["a"]["keep"] is doc["a"]["keep"]
    assert out["a"] is not doc["a"] and out["a"]["b"]["c"] is value


def test_assign_creates_missing_objects_and_replaces_array_elements():
    assert assign_path({}, compile_path("$.a.b['c d']"), 1) == {"a": {"b": {"c d": 1}}}
    assert assign_path({"a": None}, compile_path("$.a.b"), 1) == {"a": {"b": 1}}
    doc = {"a": [{"x": 0}, {"x": 1}]}
    assert assign_path(doc, compile_path("$.a[1].y"), 2) == {"a": [{"x": 0}, {"x": 1, "y": 2}]}
    assert assign_path(doc, compile_path("$.a[-1]"), 9) == {"a": [{"x": 0}, 9]}
    assert doc == {"a": [{"x": 0}, {"x": 1}]}


@pytest.mark.parametrize("doc, text", [
    ("a string", "$.a"), ({"a": "x"}, "$.a.b"), ({"a": 5}, "$.a[0]"), ({"a": [1]}, "$.a[1]"),
    ({}, "$.a[0]"), ([1, 2], "$.a"), ({"a": [1]}, "$.a.b"),
])
def test_assign_failures_are_reference_path_conflicts(doc, text):
    with pytest.raises(StatesError) as raised:
        assign_path(doc, compile_path(text), 1)
    assert raised.value.error == "States.ReferencePathConflict"
    assert raised.value.cause.startswith(f"Unable to apply ReferencePath {text} to input ")


def test_assign_needs_an_input_reference_path():
    for text in ["$.a[*]", "$$.a", "$v.a"]:
        with pytest.raises(ValueError):
            assign_path({}, compile_path(text), 1)


# ---------------------------------------------------------------------------------------------
# The conformance cases: every path AWS accepted compiles, and Pass-only machines run
# ---------------------------------------------------------------------------------------------

REFERENCE_FIELDS = {"ResultPath", "ItemsPath", "Variable", "SecondsPath", "TimestampPath",
                    "TimeoutSecondsPath", "HeartbeatSecondsPath", "MaxConcurrencyPath",
                    "ToleratedFailureCountPath", "ToleratedFailurePercentagePath"}


def _jsonpath_strings(node, jsonata=False):
    """(field, value) of every path-valued field in JSONPath states of a definition."""
    if isinstance(node, dict):
        if node.get("QueryLanguage") == "JSONata":
            jsonata = True
        for key, value in node.items():
            if isinstance(value, str) and value.startswith("$") and not jsonata and (
                    key.endswith(".$") or key.endswith("Path") or key == "Variable"):
                yield key, value
            else:
                yield from _jsonpath_strings(value, jsonata)
    elif isinstance(node, list):
        for item in node:
            yield from _jsonpath_strings(item, jsonata)


ACCEPTED = sorted({(k, v) for c in CASES if c["expected"]["status"] != "INVALID_DEFINITION"
                   for k, v in _jsonpath_strings(c["definition"])})


def test_conformance_corpus_has_paths():
    assert len(ACCEPTED) > 100


@pytest.mark.parametrize("field, text", ACCEPTED)
def test_every_path_aws_accepted_compiles(field, text):
    path = compile_path(text)
    if field in REFERENCE_FIELDS:
        assert compile_reference_path(text) is path


def _pass_only_cases():
    for case in CASES:
        definition, expected = case["definition"], case["expected"]
        states = definition.get("States", {})
        text = json.dumps(definition)
        if (expected["status"] in ("SUCCEEDED", "FAILED") and "QueryLanguage" not in text
                and "States." not in text and "Assign" not in text and states
                and all(s["Type"] == "Pass" for s in states.values())
                and '"$$' not in text.replace('"$$.Execution.Input', "")):
            yield pytest.param(case, id=case["name"][:80])


def _read(text, doc, context):
    path = compile_path(text)
    return path.evaluate(context if path.kind == "context" else doc)


def _template(node, doc, context):
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key.endswith(".$"):
                out[key[:-2]] = _read(value, doc, context)
            else:
                out[key] = _template(value, doc, context)
        return out
    if isinstance(node, list):
        return [_template(item, doc, context) for item in node]
    return node


def _run_pass_machine(definition, data):
    """A minimal Pass-state interpreter: just enough dataflow (spec §3.1) to exercise paths."""
    context = {"Execution": {"Input": data}}
    name = definition["StartAt"]
    while True:
        state = definition["States"][name]
        raw = data
        effective = {} if state.get("InputPath", "$") is None else _read(
            state.get("InputPath", "$"), raw, context)
        if "Result" in state:
            result = state["Result"]
        elif "Parameters" in state:
            result = _template(state["Parameters"], effective, context)
        else:
            result = effective
        if "ResultPath" in state and state["ResultPath"] is None:
            data = raw
        else:
            data = assign_path(raw, compile_reference_path(state.get("ResultPath", "$")), result)
        data = {} if state.get("OutputPath", "$") is None else _read(
            state.get("OutputPath", "$"), data, context)
        if state.get("End"):
            return data
        name = state["Next"]


@pytest.mark.parametrize("case", list(_pass_only_cases()))
def test_pass_only_conformance_cases(case):
    expected = case["expected"]
    if expected["status"] == "SUCCEEDED":
        assert _run_pass_machine(case["definition"], case["input"]) == expected["output"]
        return
    with pytest.raises(PathNotFoundError) as raised:
        _run_pass_machine(case["definition"], case["input"])
    cause = expected["cause"]
    # the engine words `.$` misses itself; InputPath/OutputPath misses carry our cause as is
    assert cause.endswith(raised.value.cause) or f"The JSONPath '{raised.value.path}'" in cause


# ---------------------------------------------------------------------------------------------
# Properties: never a Python traceback
# ---------------------------------------------------------------------------------------------

PATH_ALPHABET = "$@.[]()?*:,'\"!=<>~&|/\\-_ 0123456789abcxyzEeintrufls{}"
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.floats(allow_nan=False)
    | st.text(max_size=5),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["a", "b", "c", "x y", "0", ""]), children, max_size=4),
    max_leaves=20)


def path_like_texts():
    pieces = st.sampled_from(["$", "$$", "$v", ".", "..", "a", "b", "*", "[0]", "[-1]", "[1:]",
                              "[:2]", "[0,1]", "['a']", "['a','b']", "[*]", "[?(@.a)]",
                              "[?(@.a > 1)]", "[?(@ == 'x' || !@.b)]", "[?(@.a in [1,'a'])]",
                              "[?(@.a =~ /a.*/i)]", "[?(@.b size 2)]", ".length()", "[", "]", "'",
                              "(", ")", " ", "?", "@", "=="])
    return st.one_of(st.text(alphabet=PATH_ALPHABET, max_size=30),
                     st.lists(pieces, max_size=8).map("".join), st.text(max_size=20))


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path_like_texts())
def test_compile_returns_a_path_or_raises_a_syntax_error(text):
    try:
        path = compile_path(text)
    except ExpressionSyntaxError as error:
        assert error.text == text
        str(error)
        return
    assert isinstance(path, Path) and path.kind in ("input", "context", "variable")


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path_like_texts(), json_values)
@example("$['','']00", {})  # found by a full run: a union of names before another step
def test_evaluate_returns_or_raises_a_states_error(text, doc):
    try:
        path = compile_path(text)
    except ExpressionSyntaxError:
        return
    frozen = json.dumps(doc, sort_keys=True)
    try:
        result = path.evaluate(doc)
    except StatesError as error:  # PathNotFoundError is one
        calls_function = any(type(step).__name__ == "_Function" for step in path._steps)
        # an indefinite path fails only where an index or slice meets a present non-array, or
        # where a union of names is not the last step (Jayway 2.0.0's "Multi properties can only
        # be used as path leafs", seen on AWS: test_a_union_of_names_before_another_step_fails)
        refused = isinstance(error, PathNotFoundError) and (
            "can only be applied to arrays" in error.detail or "can only be used as path leafs" in error.detail)
        assert (path.is_definite or calls_function or refused) and error.error == "States.Runtime"
    else:
        if not path.is_definite:
            assert isinstance(result, list)
    assert json.dumps(doc, sort_keys=True) == frozen


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "x y", 0, 1, -1]), max_size=4), json_values, json_values)
def test_assign_then_read_back(steps, doc, value):
    text = "$" + "".join(f"[{s}]" if isinstance(s, int) else f"['{s}']" for s in steps)
    path = compile_reference_path(text)
    frozen = json.dumps(doc, sort_keys=True)
    try:
        out = assign_path(doc, path, value)
    except StatesError as error:
        assert error.error == "States.ReferencePathConflict"
    else:
        # reading has no negative index (Jayway 2.0.0, see test_negative_indexes_and_merged_names)
        if all(not isinstance(s, int) or s >= 0 for s in steps):
            assert path.evaluate(out) is value
    assert json.dumps(doc, sort_keys=True) == frozen


def test_reference_alphabet_round_trip():
    # every printable name can be written in brackets and read back
    names = [c for c in string.printable if c not in "'\\"] + ["a.b", "[0]", "$x"]
    doc = {name: i for i, name in enumerate(names)}
    for i, name in enumerate(names):
        assert compile_reference_path(f"$['{name}']").evaluate(doc) == i


@pytest.mark.parametrize("doc", [
    {"a": {"b": 1}}, {"a": {"b": None}}, {"a": {"c": 1}}, {"a": [1, 2]}, {"a": "bc"}, {"a": None},
    {"a": 3}, {"a": True}, {}, [], "a", None, 0, {"a": {"b": {"c": [0]}}},
])
@pytest.mark.parametrize("text", ["$.a", "$.a.b", "$['a']['b']"])
def test_member_name_paths_agree_with_the_general_walk(doc, text):
    # `evaluate` takes a subscript fast path for $.a.b; the general walk is the reference.
    from asl.errors import PathNotFoundError
    path = compile_path(text)

    def outcome(fn):
        try:
            return ("ok", fn(doc))
        except PathNotFoundError as miss:
            return ("miss", str(miss))

    assert outcome(path.evaluate) == outcome(path._eval_definite)
