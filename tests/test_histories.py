"""Reading execution histories: the engine's own and AWS's (asl.histories)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import asl
from asl.engine import TaskFailed, run_sync
from asl.histories import HistoryError, Timeline, parse_history, read_history
from conftest import SAMPLES
from samples_support import sample_handlers

FIXTURES = Path(__file__).parent / "fixtures" / "history"
AWS_PARALLEL = FIXTURES / "parallel-branch-failed.json"


def order_run(input_name: str):
    machine = asl.load(SAMPLES / "order" / "order.json")
    data = json.loads((SAMPLES / "order" / input_name).read_text())
    return run_sync(machine, data, handlers=sample_handlers("order"))


def test_a_succeeded_run_every_state_and_edge_taken():
    timeline = Timeline(order_run("input.json").history.events)
    assert timeline.status == "SUCCEEDED" and timeline.failure is None
    assert timeline.output["payment"]["status"] == "PAID"
    assert set(timeline.outcomes.values()) == {"succeeded"}
    assert "RecordDecline" not in timeline.outcomes and "PaymentDeclined" not in timeline.outcomes
    assert timeline.retried == {"ProcessPayment"}
    assert {(None, "ValidateOrder"), ("ProcessPayment", "NotifyParties"), ("NotifyParties", "EmailCustomer"),
            ("CheckPayment", "OrderConfirmed"), ("OrderConfirmed", None)} <= timeline.transitions
    branch_events = [e for e in timeline.events if e.state in ("EmailCustomer", "ReserveStock")]
    assert branch_events and all(e.depth == 1 for e in branch_events)


def test_a_caught_error_and_the_path_to_a_fail_state():
    timeline = Timeline(order_run("input-declined.json").history.events)
    assert timeline.status == "FAILED" and timeline.error == "Order.PaymentDeclined"
    assert timeline.outcomes["ProcessPayment"] == "caught"
    assert timeline.outcomes["PaymentDeclined"] == "failed"
    failure = timeline.failure
    assert (failure.state, failure.type) == ("PaymentDeclined", "Fail")
    assert [s.name for s in failure.path] == ["ValidateOrder", "ProcessPayment", "RecordDecline", "NotifyParties",
                                              "CheckPayment", "PaymentDeclined"]


def test_aws_history_failure_inside_a_parallel_branch():
    timeline = read_history(str(AWS_PARALLEL))
    assert timeline.status == "FAILED"
    assert timeline.stop - timeline.start == pytest.approx(1.52, abs=1e-3)  # ISO text with a +01:00 offset
    failure = timeline.failure
    assert failure.state == "SendEmail" and failure.type == "Task" and failure.error == "SNS.NotFoundException"
    assert [(s.name, s.depth) for s in failure.path] == [("ValidateOrder", 0), ("Notify", 0), ("SendEmail", 1)]
    assert timeline.outcomes == {"ValidateOrder": "succeeded", "Notify": "failed", "Log": "succeeded",
                                 "SendEmail": "failed"}


def test_reverse_order_and_epoch_timestamps_read_the_same():
    document = json.loads(AWS_PARALLEL.read_text())
    events = list(reversed(document["events"]))  # get-execution-history --reverse-order
    for event in events:
        from datetime import datetime
        event["timestamp"] = datetime.fromisoformat(event["timestamp"]).timestamp()  # the CLI's raw format
    timeline = parse_history({"events": events, "nextToken": "abc"})
    assert [e.id for e in timeline.events] == list(range(1, 17))
    assert timeline.failure.state == "SendEmail"
    assert timeline.stop - timeline.start == pytest.approx(1.52, abs=1e-3)


def test_a_failed_map_iteration_is_named_by_its_index():
    machine = asl.load({"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "MaxConcurrency": 1,
        "ItemProcessor": {"StartAt": "Check", "States": {"Check": {
            "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:Check", "End": True}}},
        "End": True}}})

    def check(x):
        if x == "bad":
            raise TaskFailed("Item.Bad", f"item {x}")
        return x

    result = run_sync(machine, ["a", "b", "bad", "c"], handlers={"Check": check})
    failure = Timeline(result.history.events).failure
    assert failure.state == "Check" and failure.error == "Item.Bad"
    assert [(s.name, s.item) for s in failure.path] == [("Each", None), ("Check", 2)]


def test_unfinished_siblings_are_aborted_not_failed():
    machine = asl.load({"StartAt": "Both", "States": {"Both": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "Slow", "States": {"Slow": {"Type": "Wait", "Seconds": 60, "End": True}}},
        {"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "E", "Cause": "c"}}}]}}})
    timeline = Timeline(run_sync(machine, {}).history.events)
    assert timeline.outcomes["Boom"] == "failed" and timeline.outcomes["Slow"] == "aborted"
    assert timeline.failure.state == "Boom"


@pytest.mark.parametrize("document, message", [
    ({"nothing": []}, "not an execution history"),
    ({"events": []}, "not an execution history"),
    ({"events": [{"type": "ExecutionStarted"}]}, "no integer \"id\""),
    ({"events": [{"id": 1, "type": "ExecutionStarted", "timestamp": "yesterday"}]}, "neither ISO-8601"),
])
def test_documents_that_are_not_histories(document, message):
    with pytest.raises(HistoryError, match=message):
        parse_history(document, "h.json")


def test_read_history_reports_bad_json_with_line_and_column(tmp_path):
    path = tmp_path / "h.json"
    path.write_text('{"events": [\n  {"id": 1,, }\n]}')
    with pytest.raises(HistoryError, match=r"h\.json:2:12: invalid JSON"):
        read_history(str(path))
    with pytest.raises(HistoryError, match="no such file"):
        read_history(str(tmp_path / "missing.json"))


def test_histories_and_graphs_belong_to_the_language_layer():
    import subprocess
    import sys

    code = ("import sys, asl.histories, asl.graph; "
            "bad = [m for m in sys.modules if m.startswith(('asl.engine', 'asl.cli'))]; assert not bad, bad")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
