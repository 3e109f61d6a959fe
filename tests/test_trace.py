"""The `asl run` trace (asl.cli.trace): what a person sees while an execution runs.

Executions run under virtual time, so durations are exact: a sync handler holds the clock
still (shown as <1ms), a retry delay or a Wait advances it by exactly its length.
"""
from __future__ import annotations

import io
import re

import anyio
import pytest

import asl
from asl.cli.style import Style
from asl.cli.trace import MAX_ITEM_FAILURES, Trace
from asl.engine import TaskFailed, prepare
from conftest import SAMPLES
from samples_support import sample_handlers, sample_input


def traced(machine, data, handlers=None, colour=False, verbose=False, live=False):
    out = io.StringIO()
    trace = Trace(out, Style(colour, out), verbose=verbose, live=live)
    execution = prepare(machine, data, handlers=handlers, observer=trace)

    async def main():
        with anyio.fail_after(30):  # real seconds: a run that waits on the real clock fails, not hangs
            return await execution.run()

    return anyio.run(main), out.getvalue()


def test_under_a_millisecond_is_always_less_than_one():
    """0 (no time passed: a virtual clock, a clock read within its resolution, a replayed state)
    and 0.4 ms read alike, as the README shows them; from 1 ms on, the milliseconds."""
    from asl.cli.style import duration

    assert [duration(s) for s in (0, 0.0004, 0.001, 0.0125, 1.5)] == ["<1ms", "<1ms", "1ms", "12ms", "1.50s"]


def top_level(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith(" ")]


@pytest.fixture(scope="module")
def order():
    return asl.load(SAMPLES / "order" / "order.json")


def test_the_order_workflow_step_by_step(order):
    result, text = traced(order, sample_input("order"), sample_handlers("order"))
    assert result.status == "SUCCEEDED"
    assert top_level(text) == [
        "▶ ValidateOrder  Task lambda ValidateOrder",
        "✓ ValidateOrder  <1ms → ProcessPayment",
        "▶ ProcessPayment  Task lambda:invoke",
        "↻ ProcessPayment  ConnectionError: payment gateway timed out · retry 1 of 3 in 1.00s",
        "✓ ProcessPayment  1.00s  (2 attempts) → NotifyParties",
        "▶ NotifyParties  Parallel · 2 branches",
        "✓ NotifyParties  <1ms  2 branches → CheckPayment",
        "▶ CheckPayment  Choice",
        '✓ CheckPayment  <1ms  Choices[0]: $.payment.status == "PAID" → OrderConfirmed',
        "▶ OrderConfirmed  Succeed",
        "✓ OrderConfirmed  <1ms → end",
    ]
    branch_lines = [line for line in text.splitlines() if line.startswith("  ")]
    assert sorted(branch_lines) == sorted([
        "  [branch 1] ▶ EmailCustomer  Task sns:publish",
        "  [branch 1] ✓ EmailCustomer  <1ms → end",
        "  [branch 2] ▶ ReserveStock  Task lambda ReserveStock",
        "  [branch 2] ✓ ReserveStock  <1ms → end",
    ])
    lines = text.splitlines()
    assert lines.index("▶ NotifyParties  Parallel · 2 branches") < lines.index(branch_lines[0]) < \
        lines.index("✓ NotifyParties  <1ms  2 branches → CheckPayment")


def test_a_caught_error_says_where_it_went_and_a_default_choice_says_so(order):
    result, text = traced(order, sample_input("order", "input-declined.json"), sample_handlers("order"))
    assert result.status == "FAILED"
    lines = top_level(text)
    assert "↪ ProcessPayment  1.00s  (2 attempts)  caught Payment.Declined: card limit is 500, order order-1002 " \
           "asks for 750.0 (Catch[0]) → RecordDecline" in lines
    assert "✓ CheckPayment  <1ms  no rule matched: Default → PaymentDeclined" in lines
    assert lines[-1] == "✗ PaymentDeclined  <1ms  Order.PaymentDeclined: The payment was declined; the customer " \
                        "has been told."


def test_a_failure_passed_up_from_a_branch_is_not_repeated():
    machine = asl.load({"StartAt": "Both", "States": {"Both": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "Work", "States": {"Work": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:W",
                                                "End": True}}},
        {"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "Team.Down", "Cause": "nobody home"}}}]}}})
    _, text = traced(machine, {}, {"W": lambda x: x})
    assert "  [branch 2] ✗ Boom  <1ms  Team.Down: nobody home" in text.splitlines()
    assert "✗ Both  <1ms  Team.Down (from Boom)" in text.splitlines()


MAP = {"StartAt": "Each", "States": {
    "Each": {"Type": "Map", "ItemsPath": "$.xs", "MaxConcurrency": 1,
             "ItemProcessor": {"StartAt": "Double", "States": {"Double": {
                 "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:Double", "End": True}}},
             "Next": "Done"},
    "Done": {"Type": "Succeed"}}}


def double(x):
    if x < 0:
        raise ValueError(f"negative: {x}")
    return 2 * x


def test_an_inline_map_is_summarised():
    result, text = traced(asl.load(MAP), {"xs": [1, 2, 3, 4]}, {"Double": double})
    assert result.output == [2, 4, 6, 8]
    assert "Double" not in text  # the states inside iterations are not listed one by one
    assert "✓ Each  <1ms  4 items: 4 succeeded → Done" in text.splitlines()


def test_a_failed_map_item_is_shown_with_its_index_and_the_counts():
    result, text = traced(asl.load(MAP), {"xs": [1, 2, -3, 4]}, {"Double": double})
    assert result.status == "FAILED"
    lines = text.splitlines()
    assert "  [item 2] ✗ Double  <1ms  ValueError: negative: -3" in lines
    assert "✗ Each  <1ms  4 items: 2 succeeded, 1 failed  ValueError (from Double)" in lines


def test_verbose_lists_every_item_state_and_each_data_flow_stage():
    _, text = traced(asl.load(MAP), {"xs": [5]}, {"Double": double}, verbose=True)
    lines = text.splitlines()
    assert "  [item 0] ▶ Double  Task lambda Double" in lines
    assert "  [item 0]   result              10" in lines
    assert "✓ Each  <1ms  1 item: 1 succeeded → Done" in lines


def test_verbose_shows_the_inspection_fields_in_order(order):
    _, text = traced(order, sample_input("order"), sample_handlers("order"), verbose=True)
    lines = text.splitlines()
    start = lines.index("▶ ProcessPayment  Task lambda:invoke")
    end = lines.index("▶ NotifyParties  Parallel · 2 branches")
    stages = [line.split()[0] for line in lines[start + 1:end] if line.startswith("  ") and "raised in" not in line]
    assert stages == ["input", "afterInputPath", "afterParameters", "afterInputPath", "afterParameters", "result",
                      "afterResultSelector", "afterResultPath", "output"]
    # --verbose says where the handler raised at each retry
    assert [line.split(" (")[0] for line in lines[start + 1:end] if "raised in" in line] == [
        "  ↳ ConnectionError raised in process_payment"]
    # (members a template computes, written "k.$", come in java.util.HashMap order, as AWS writes
    # them: asl.templates, checked on every recorded conformance case)
    assert '  afterResultSelector {"transactionId": "tx-order-1001-2", "status": "PAID"}' in lines
    assert '  afterParameters     {"FunctionName": "ProcessPayment", "Payload": {"amount": 28.0, ' \
           '"orderId": "order-1001"}}' in lines


def test_verbose_jsonata_shows_arguments_and_variables():
    machine = asl.load(SAMPLES / "order-jsonata" / "order.json")
    _, text = traced(machine, sample_input("order"), sample_handlers("order"), verbose=True)
    lines = text.splitlines()
    assert '  afterArguments      {"FunctionName": "ProcessPayment", "Payload": {"orderId": "order-1001", ' \
           '"amount": 28}}' in lines
    after_payment = lines[lines.index("✓ ProcessPayment  1.00s  (2 attempts) → NotifyParties"):]
    variables = next(line for line in after_payment if line.startswith("  variables"))
    assert '"payment": {"status": "PAID", "transactionId": "tx-order-1001-2"}' in variables


def test_a_distributed_map_counts_tolerated_failures():
    machine = asl.load(SAMPLES / "batch" / "batch.json")
    result, text = traced(machine, sample_input("batch"), sample_handlers("batch"))
    assert result.status == "SUCCEEDED"
    lines = text.splitlines()
    assert "  [item 2] ✗ CheckRecord  <1ms  Record.Invalid: record c-003 has no valid email address" in lines
    assert "  [item 5] ✗ CheckRecord  <1ms  Record.Invalid: record c-006 has no valid email address" in lines
    assert "✓ ImportRecords  1.00s  8 items: 6 succeeded, 2 failed (tolerated) → Report" in lines


def test_failed_items_beyond_the_limit_are_counted_not_listed():
    definition = {"StartAt": "All", "States": {"All": {
        "Type": "Map", "ToleratedFailurePercentage": 100, "End": True,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          "StartAt": "Check", "States": {"Check": {
                              "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:C", "End": True}}}}}}

    def check(x):
        raise TaskFailed("Bad", f"item {x}")

    _, text = traced(asl.load(definition), list(range(12)), {"C": check})
    failures = [line for line in text.splitlines() if "✗ Check" in line]
    assert len(failures) == MAX_ITEM_FAILURES
    assert "  ✗ more failed items of All are not shown (--verbose shows every state)" in text.splitlines()
    assert "✓ All  <1ms  12 items: 0 succeeded, 12 failed (tolerated) → end" in text.splitlines()


def test_waits_take_virtual_time():
    machine = asl.load({"StartAt": "Pause", "States": {"Pause": {"Type": "Wait", "Seconds": 3600, "End": True}}})
    _, text = traced(machine, {})
    assert "✓ Pause  1h00m → end" in text.splitlines()


def test_a_callback_task_says_it_waits(tmp_path):
    machine = asl.load(SAMPLES / "approval" / "approval.json")
    _, text = traced(machine, sample_input("approval"), {"state:RequestApproval": lambda m: None})
    lines = text.splitlines()
    assert lines[0] == "▶ RequestApproval  Task sqs:sendMessage.waitForTaskToken · ⏸ waits for its task token"
    assert "↪ RequestApproval  24h00m  caught States.Timeout (Catch[0]) → Expired" in lines


def test_colour_only_when_asked(order):
    _, plain = traced(order, sample_input("order"), sample_handlers("order"))
    _, coloured = traced(order, sample_input("order"), sample_handlers("order"), colour=True)
    assert "\x1b[" not in plain
    assert "\x1b[32m✓\x1b[0m \x1b[1mValidateOrder\x1b[0m" in coloured
    # the two Parallel branches' sync handlers run in threads: their lines may swap places
    assert sorted(re.sub(r"\x1b\[[0-9;]*m", "", coloured).splitlines()) == sorted(plain.splitlines())


def test_live_progress_bar_knows_a_jsonata_maps_length():
    definition = {"QueryLanguage": "JSONata", "StartAt": "Each", "States": {"Each": {
        "Type": "Map", "Items": "{% $states.input.xs %}", "MaxConcurrency": 1, "End": True,
        "ItemProcessor": {"StartAt": "Double", "States": {"Double": {
            "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:Double", "End": True}}}}}}
    _, text = traced(asl.load(definition), {"xs": list(range(30))}, {"Double": double}, live=True)
    assert re.search(r"Each ([█░]{24}) (\d+)/30 ✓\d+ ✗0", text) is not None  # the engine told the length


def test_live_progress_bar_for_a_long_map():
    _, text = traced(asl.load(MAP), {"xs": list(range(30))}, {"Double": double}, live=True)
    assert "\r\x1b[K" in text
    bar = re.search(r"Each ([█░]{24}) (\d+)/30 ✓\d+ ✗0", text)
    assert bar is not None
    assert "\r\x1b[K✓ Each  <1ms  30 items: 30 succeeded → Done\n" in text  # the bar is cleared first
