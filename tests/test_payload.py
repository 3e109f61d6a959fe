"""The 256 KiB limit: the incremental meter agrees with json.dumps, and the limit fails states."""
from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

import asl
from asl.engine import run_sync
from asl.engine.payload import PayloadMeter

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda c: st.lists(c) | st.dictionaries(st.text(), c), max_leaves=40)


@settings(max_examples=500, deadline=None)
@given(JSON)
def test_meter_equals_utf8_json_length(value):
    expected = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    meter = PayloadMeter()
    assert meter.size(value) == expected
    assert meter.size(value) == expected  # memoised answer too


def test_state_output_over_the_limit_fails_with_data_limit_exceeded():
    m = asl.load({"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"a.$": "$.s", "b.$": "$.s"},
                                                   "End": True}}})
    result = run_sync(m, {"s": "x" * 140_000})  # the input fits; the output (two copies) does not
    assert (result.status, result.error) == ("FAILED", "States.DataLimitExceeded")
    ok = run_sync(m, {"s": "x" * 130_000})
    assert ok.status == "SUCCEEDED"


def test_variable_quotas():
    m = asl.load({"StartAt": "A", "States": {"A": {"Type": "Pass", "Assign": {"big.$": "States.Array($.s, $.s)"},
                                                   "End": True}}})
    assert run_sync(m, {"s": "x" * 1000}).status == "SUCCEEDED"
    result = run_sync(m, {"s": "x" * 140_000})  # the output (the input) fits; the variable does not
    assert (result.status, result.error) == ("FAILED", "States.DataLimitExceeded")
    assert "'big'" in result.cause


def test_execution_input_over_the_limit_is_refused_before_starting():
    import pytest

    from asl.engine import InvalidExecutionInput, prepare
    m = asl.load({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    with pytest.raises(InvalidExecutionInput, match="262,144"):
        prepare(m, {"s": "x" * 262_144})
    assert prepare(m, {"s": "x" * 262_144}, payload_limit=None) is not None


def test_meter_measures_a_document_passed_on_unchanged_once(monkeypatch):
    # A Choice passes its input on as is: the same document is not measured again.
    meter = PayloadMeter()
    doc = {"a": [1, 2, {"b": "c"}]}
    from asl.engine import payload

    calls = []
    original = payload._dumps_fast
    monkeypatch.setattr(payload, "_dumps_fast", lambda v: calls.append(v) or original(v))
    assert meter.exceeds(doc, 10) and meter.exceeds(doc, 10) and not meter.exceeds(doc, 100)
    assert calls == [doc]
    assert not meter.exceeds({"a": 1}, 10) and calls[-1] == {"a": 1}


@settings(max_examples=200, deadline=None)
@given(JSON)
def test_meter_limit_agrees_with_json_dumps(value):
    size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    meter = PayloadMeter()
    assert meter.exceeds(value, size - 1) and not meter.exceeds(value, size)


def test_a_jsonpath_template_object_has_its_keys_in_java_hashmap_order():
    """AWS writes the object a JSONPath payload template builds in java.util.HashMap order: the
    Parameters of radkawar/stackd testdata/aws/stepfunctions/dataflow_execution.json's
    ContextIntrinsics state gave its execution output (history-context-and-intrinsics) keys in
    the order below; its JSONata Outputs kept the order written (history-jsonata-nested-scope)."""
    import asl
    from asl.engine import run_sync

    names = ["execution", "state", "machine", "nested", "array", "partition", "contains", "range", "unique", "json",
             "encoded", "decoded", "hash", "split", "merge", "serialized"]
    machine = asl.load({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True,
                                                        "Parameters": {f"{n}.$": "$.v" for n in names}}}})
    assert list(run_sync(machine, {"v": 1}).output) == [
        "execution", "range", "nested", "contains", "partition", "split", "array", "machine", "unique", "merge",
        "json", "decoded", "state", "hash", "encoded", "serialized"]
    jsonata = asl.load({"QueryLanguage": "JSONata", "StartAt": "P", "States": {"P": {
        "Type": "Pass", "End": True, "Output": {"branches": 1, "outer": "{% 5 %}", "x": 2, "oldX": 1, "before": 0}}}})
    assert list(run_sync(jsonata, {}).output) == ["branches", "outer", "x", "oldX", "before"]
