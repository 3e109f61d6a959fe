"""Python stand-ins for the order workflow's Lambda functions and its SNS topic.

    asl run samples/order/order.json --input samples/order/input.json --handlers samples/order/handlers.py
"""
import zlib

from asl.engine import Handlers, TaskFailed

handlers = Handlers()

PAYMENT_LIMIT = 500  # the card's limit: larger amounts are declined


@handlers.lambda_function("ValidateOrder")
def validate_order(order, ctx):
    """Reject orders without items; otherwise report the computed total."""
    items = order.get("items") or []
    if not items:
        raise TaskFailed("OrderInvalid", f"order {order.get('orderId')} has no items")
    total = round(sum(i["quantity"] * i["price"] for i in items), 2)
    return {"valid": True, "itemCount": len(items), "computedTotal": total}


@handlers.lambda_function("ProcessPayment")
def process_payment(payment, ctx):
    """Charge the amount. The first attempt times out (the Retry takes it through); amounts
    over the card's limit are declined (the Catch takes that to RecordDecline)."""
    if ctx.attempt == 1:
        raise ConnectionError("payment gateway timed out")
    if payment["amount"] > PAYMENT_LIMIT:
        raise TaskFailed("Payment.Declined", f"card limit is {PAYMENT_LIMIT}, order {payment['orderId']} "
                                             f"asks for {payment['amount']}")
    return {"status": "PAID", "orderId": payment["orderId"], "amount": payment["amount"],
            "transactionId": f"tx-{payment['orderId']}-{ctx.attempt}"}


@handlers.resource("arn:aws:states:::sns:publish")
def publish(message, ctx):
    """SNS Publish: answer as SNS does (a MessageId); the message itself goes nowhere."""
    return {"MessageId": f"msg-{zlib.crc32(message['Message'].encode()):08x}"}


@handlers.lambda_function("ReserveStock")
def reserve_stock(request, ctx):
    """Reserve the items of a paid order; a declined one reserves nothing."""
    if request["paid"] != "PAID":
        return {"reserved": []}
    return {"reserved": [item["sku"] for item in request["items"]]}
