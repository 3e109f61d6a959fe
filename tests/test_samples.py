"""Every sample, every input: the outcome each README line promises."""
from __future__ import annotations

import re
import shlex
import subprocess
import sys

import anyio
import pytest
from click.testing import CliRunner

import asl
from asl.cli.main import get_cli
from asl.engine import prepare, run_sync
from conftest import ROOT, SAMPLES
from samples_support import sample_handlers, sample_input, sample_module

README = SAMPLES / "README.md"


def run_sample(sample: str, definition: str, input_name: str, handlers_from: str | None = None):
    machine = asl.load(SAMPLES / sample / definition)
    return run_sync(machine, sample_input(handlers_from or sample, input_name),
                    handlers=sample_handlers(handlers_from or sample))


# --------------------------------------------------------------------------------------------
# order and order-jsonata: the same workflow, the same outcomes
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("sample", ["order", "order-jsonata"])
def test_order_paid(sample):
    result = run_sample(sample, "order.json", "input.json", "order")
    assert result.status == "SUCCEEDED"
    out = result.output
    assert out["payment"] == {"status": "PAID", "transactionId": "tx-order-1001-2"}
    assert out["notifications"][1] == {"reserved": ["BOOK-42", "PEN-7"]}
    assert out["notifications"][0]["channel"] == "email"
    assert [(c.state, c.attempt) for c in result.calls if c.state == "ProcessPayment"] == \
        [("ProcessPayment", 1), ("ProcessPayment", 2)]


@pytest.mark.parametrize("sample", ["order", "order-jsonata"])
def test_order_declined_is_caught_then_fails_at_the_choice(sample):
    result = run_sample(sample, "order.json", "input-declined.json", "order")
    assert (result.status, result.error) == ("FAILED", "Order.PaymentDeclined")
    entered = [e["stateEnteredEventDetails"]["name"] for e in result.events if e["type"].endswith("StateEntered")]
    assert entered[-2:] == ["CheckPayment", "PaymentDeclined"]
    reserve = next(c for c in result.calls if c.state == "ReserveStock")
    assert reserve.input["paid"] == "DECLINED"  # the customer is told, nothing is reserved


@pytest.mark.parametrize("sample", ["order", "order-jsonata"])
def test_order_without_items_fails_first(sample):
    result = run_sample(sample, "order.json", "input-empty.json", "order")
    assert (result.status, result.error, result.cause) == ("FAILED", "OrderInvalid", "order order-1003 has no items")
    assert [c.state for c in result.calls] == ["ValidateOrder"]


def test_large_declined_orders_go_to_review():
    machine = asl.load(SAMPLES / "order" / "order.json")
    order = {**sample_input("order", "input-declined.json"), "total": 1500}
    result = run_sync(machine, order, handlers=sample_handlers("order"))
    assert (result.status, result.error) == ("FAILED", "Order.NeedsReview")


def test_jsonata_order_gives_the_same_output_as_jsonpath():
    jsonpath = run_sample("order", "order.json", "input.json")
    jsonata = run_sample("order-jsonata", "order.json", "input.json", "order")
    assert jsonata.output == jsonpath.output


# --------------------------------------------------------------------------------------------
# batch, approval, upload
# --------------------------------------------------------------------------------------------

def test_batch_tolerates_two_bad_records():
    module = sample_module("batch")
    result = run_sync(asl.load(SAMPLES / "batch" / "batch.json"), sample_input("batch"), handlers=module.handlers)
    assert result.status == "SUCCEEDED" and result.output == {"batch": "2026-11-27", "records": 8}
    assert sorted(module.TABLE) == ["c-001", "c-002", "c-004", "c-005", "c-007", "c-008"]
    throttled = [c.attempt for c in result.calls if c.state == "StoreRecord" and c.input["Item"]["id"]["S"] == "c-007"]
    assert throttled == [1, 2]


def test_batch_with_too_many_bad_records_fails():
    result = run_sample("batch", "batch.json", "input-too-many.json")
    assert (result.status, result.error) == ("FAILED", "States.ExceedToleratedFailureThreshold")


def approval(name: str, **options):
    sys.path.insert(0, str(SAMPLES / "approval"))
    try:
        from approve import run_approval
    finally:
        sys.path.remove(str(SAMPLES / "approval"))
    return anyio.run(lambda: run_approval(sample_input("approval", name), **options))


def test_approval_answered_by_another_coroutine():
    result = approval("input.json")
    assert result.status == "SUCCEEDED"
    assert result.output == {"requestId": "req-1001", "status": "APPROVED", "approvedBy": "manager@example.com"}
    types = [e["type"] for e in result.events]
    assert "TaskSubmitted" in types and types.index("TaskSubmitted") < types.index("TaskSucceeded")


def test_approval_refused():
    result = approval("input-over-limit.json")
    assert (result.status, result.error, result.cause) == (
        "FAILED", "Approval.Rejected", "2400 is over the 1000 a manager may approve")


def test_approval_nobody_answers_so_it_expires():
    machine = asl.load(SAMPLES / "approval" / "approval.json")
    module = sample_module("approval")  # its desk files the request; nobody reads the inbox
    execution = prepare(machine, sample_input("approval"), handlers=module.handlers)

    async def main():
        with anyio.fail_after(30):  # real seconds: fail rather than hang if virtual time stood still
            return await execution.run()

    result = anyio.run(main)
    assert (result.status, result.error) == ("FAILED", "Approval.Expired")
    assert result.stop_time - result.start_time == pytest.approx(86400)  # a virtual day


def test_upload_is_read_summarised_stored_and_reported():
    module = sample_module("upload")
    result = run_sync(asl.load(SAMPLES / "upload" / "upload.json"), sample_input("upload"), handlers=module.handlers)
    assert result.status == "SUCCEEDED"
    assert result.output["rows"] == 3 and result.output["total"] == 63.25
    assert result.output["report"] == "s3://sales-reports/uploads/2026-11-27/sales.csv.json"
    assert module.TABLES["sales-summaries"] == [{"source": {"S": "s3://incoming-sales/uploads/2026-11-27/sales.csv"},
                                                  "rows": {"N": "3"}, "total": {"N": "63.25"}}]
    assert ("sales-reports", "uploads/2026-11-27/sales.csv.json") in module.WRITTEN


def test_upload_ignores_what_is_not_a_csv():
    result = run_sample("upload", "upload.json", "input-not-csv.json")
    assert result.output == {"ignored": "uploads/2026-11-27/photo.png"} and result.calls == []


def test_upload_of_a_missing_object_is_caught():
    result = run_sample("upload", "upload.json", "input-missing.json")
    assert (result.status, result.error) == ("FAILED", "Upload.Gone")
    assert "uploads/2026-11-26/sales.csv" in result.cause


# --------------------------------------------------------------------------------------------
# serverless: handlers only, and against moto's server
# --------------------------------------------------------------------------------------------

async def _serverless(module, order, *more):
    machine = asl.load(SAMPLES / "serverless" / "pipeline.json")
    results = []
    for value in (order, *more):
        execution = prepare(machine, value, handlers=module.handlers)
        async with anyio.create_task_group() as tg:
            tg.start_soon(module.background, execution)
            results.append(await execution.run())
            tg.cancel_scope.cancel()
    return results


def test_serverless_pipeline_with_handlers_retries_stores_once_and_is_paid_by_the_worker():
    module = sample_module("serverless")
    order = sample_input("serverless")
    first, again = anyio.run(_serverless, module, order, order)
    assert first.status == "SUCCEEDED", first.cause
    assert first.output["payment"] == {"paid": True, "paymentId": "pay-o-1001", "amount": 25}
    assert [c.attempt for c in first.calls if c.state == "ValidateOrder"] == [1, 2]  # the Retry on States.TaskFailed
    assert sorted(kind for kind, _ in module.published) == ["events", "sns"]  # the Parallel's two branches
    assert list(module.table) == ["o-1001"]
    entered = [e["stateEnteredEventDetails"]["name"] for e in again.events if e["type"].endswith("StateEntered")]
    assert again.status == "SUCCEEDED" and entered[-1] == "AlreadyReceived"
    assert again.output["duplicate"]["Error"] == "DynamoDB.ConditionalCheckFailedException"


def test_serverless_pipeline_rejects_an_order_without_items():
    (result,) = anyio.run(_serverless, sample_module("serverless"), sample_input("serverless", "input-invalid.json"))
    assert (result.status, result.error, result.cause) == ("FAILED", "Order.Rejected", "order o-1002 has no items")


def test_serverless_pipeline_on_moto(aws):
    import importlib.util

    spec = importlib.util.spec_from_file_location("serverless_on_moto", SAMPLES / "serverless" / "on_moto.py")
    on_moto = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(on_moto)
    url = aws["endpoints"]["*"]
    made = on_moto.create_resources(url)
    order = sample_input("serverless")
    first = anyio.run(on_moto.run_once, url, made["queue"], order)
    assert first.status == "SUCCEEDED", first.cause
    assert first.output["payment"]["paymentId"] == "pay-o-1001"
    item = made["client"]("dynamodb").get_item(TableName="Orders", Key={"orderId": {"S": "o-1001"}})["Item"]
    assert item == {"orderId": {"S": "o-1001"}, "customer": {"S": "ann@example.com"}, "total": {"N": "25"},
                    "status": {"S": "RECEIVED"}}
    again = anyio.run(on_moto.run_once, url, made["queue"], order)
    assert again.status == "SUCCEEDED" and again.output["duplicate"]["Error"] == \
        "DynamoDB.ConditionalCheckFailedException"
    seen = made["client"]("sqs").receive_message(QueueUrl=made["seen"], MaxNumberOfMessages=10, WaitTimeSeconds=1)
    sources = sorted("shop.orders" in m["Body"] and "source" in m["Body"] for m in seen["Messages"])
    assert len(seen["Messages"]) == 2 and sources == [False, True]  # one from SNS, one from EventBridge


def test_serverless_on_moto_runs_as_one_command():
    pytest.importorskip("moto")
    done = subprocess.run([sys.executable, str(SAMPLES / "serverless" / "on_moto.py")], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "first: SUCCEEDED via ValidateOrder > SaveOrder > AwaitPayment > Notify > Publish > Announce"
    assert lines[2] == "again: SUCCEEDED via ValidateOrder > SaveOrder > AlreadyReceived"
    assert lines[-1] == "notifications delivered: 2"


# --------------------------------------------------------------------------------------------
# The README's commands, as written
# --------------------------------------------------------------------------------------------

def readme_commands() -> list[str]:
    return re.findall(r"`(asl (?:run|validate) [^`]+)`", README.read_text(encoding="utf-8"))


def test_the_samples_are_on_the_readme():
    listed = " ".join(readme_commands())
    for sample in ("order", "order-jsonata", "batch", "approval", "upload", "broken", "serverless"):
        assert f"samples/{sample}/" in listed, f"samples/{sample} has no command in samples/README.md"


@pytest.mark.parametrize("command", readme_commands())
def test_readme_command(command, monkeypatch):
    monkeypatch.chdir(ROOT)
    args = shlex.split(command)[1:]
    if args[0] == "run" and "--virtual-time" not in args:
        args.append("--virtual-time")
    result = CliRunner().invoke(get_cli(), args)
    if args[0] == "validate":
        assert result.exit_code == 1 and "5 error(s)" in result.output
    else:
        assert result.exit_code == 0, result.output
        assert "SUCCEEDED" in result.stderr
        # a command a reader runs as written takes seconds: one whose Waits and retries take
        # minutes says --virtual-time (the summary's duration is "1.01s", "2h10m (virtual)")
        took = result.stderr.strip().splitlines()[-1].rsplit(" · ", 1)[1]
        assert "--virtual-time" in command or re.fullmatch(r"<?[\d.]+m?s \(virtual\)", took), (command, took)


def test_approve_script_runs_as_a_program():
    done = subprocess.run([sys.executable, str(SAMPLES / "approval" / "approve.py"), "5000"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "FAILED Approval.Rejected: 5000.0 is over the 1000 a manager may approve"
