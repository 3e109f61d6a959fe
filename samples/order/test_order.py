# test_order.py: python -m pytest test_order.py (from the repository root)
from asl.engine.testing import by_attempt, raises

ORDER = {"orderId": "order-7", "customer": "ann@example.com", "total": 25.0,
         "items": [{"sku": "BOOK-42", "quantity": 2, "price": 12.5}]}
PAID = {"status": "PAID", "transactionId": "tx-7"}
HAPPY_PATH = ["ValidateOrder", "ProcessPayment", "NotifyParties", "CheckPayment", "OrderConfirmed"]


def mocks(**overrides):
    """Every Task of the order workflow answered in Python; each test changes what it is about."""
    answers = {
        "ValidateOrder": {"valid": True, "itemCount": 1, "computedTotal": 25.0},
        "ProcessPayment": PAID,                # lambda:invoke: wrapped in {"Payload": ...} as AWS does
        "EmailCustomer": {"MessageId": "m-1"},
        "ReserveStock": lambda request: {"reserved": [item["sku"] for item in request["items"]]},
    }
    return {**answers, **overrides}


def test_a_paid_order_is_confirmed(asl_workflow):
    run = asl_workflow("samples/order/order.json").run(ORDER, mocks=mocks())
    run.assert_succeeded().assert_path(HAPPY_PATH)
    assert run.output["payment"] == {"status": "PAID", "transactionId": "tx-7"}
    assert run.output["notifications"] == [{"channel": "email", "messageId": "m-1"}, {"reserved": ["BOOK-42"]}]
    pay = run.state("ProcessPayment")                       # TestState's inspection data, per state
    assert pay.stages["afterParameters"]["Payload"] == {"orderId": "order-7", "amount": 25.0}
    assert pay.stages["afterResultSelector"] == {"status": "PAID", "transactionId": "tx-7"}
    assert run.path_in("NotifyParties[1]") == ["ReserveStock"]  # Parallel branch 1
    run.assert_called("ReserveStock", times=1, with_input={"orderId": "order-7", "items": ORDER["items"],
                                                            "paid": "PAID"})


def test_a_gateway_timeout_is_retried(asl_workflow):
    flaky = by_attempt(raises("ConnectionError", "gateway timed out"), PAID)
    run = asl_workflow("samples/order/order.json").run(ORDER, mocks=mocks(ProcessPayment=flaky))
    run.assert_succeeded().assert_path(HAPPY_PATH)
    assert run.attempts("ProcessPayment") == 2
    assert run.duration == 1.0                              # the retry's one second, on the virtual clock


def test_a_declined_payment_is_caught_and_the_order_fails(asl_workflow):
    declined = raises("Payment.Declined", "card limit is 500")
    run = asl_workflow("samples/order/order.json").run(ORDER, mocks=mocks(ProcessPayment=declined))
    run.assert_failed("Order.PaymentDeclined")
    run.assert_path(["ValidateOrder", "ProcessPayment", "RecordDecline", "NotifyParties", "CheckPayment",
                     "PaymentDeclined"])
    assert run.state("ProcessPayment").catcher == 0         # Catch[0] took it
    assert run.state("RecordDecline").output["payment"] == {"status": "DECLINED", "reason": "card limit is 500"}


def test_a_large_declined_order_goes_to_review(asl_workflow):
    order = asl_workflow("samples/order/order.json")
    result = order.test_state("CheckPayment", {"total": 1500, "payment": {"status": "DECLINED"}})
    assert (result.status, result.next_state) == ("SUCCEEDED", "ManualReview")


def test_an_empty_order_is_rejected_first(asl_workflow):
    invalid = raises("OrderInvalid", "order order-7 has no items")
    run = asl_workflow("samples/order/order.json").run(dict(ORDER, items=[]), mocks=mocks(ValidateOrder=invalid))
    run.assert_failed("OrderInvalid", "order order-7 has no items").assert_path(["ValidateOrder"])
    run.assert_not_called("ProcessPayment")
