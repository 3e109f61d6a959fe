"""Python stand-ins for the order workflow's Lambda functions.

    asl run samples/order/order.json --input samples/order/input.json --handlers samples/order/handlers.py
"""
from asl.engine import Handlers, TaskFailed

handlers = Handlers()


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
    """Charge the amount; the first attempt fails to show the Retry at work."""
    if ctx.attempt == 1:
        raise ConnectionError("payment gateway timed out")
    return {"status": "PAID", "orderId": payment["orderId"], "amount": payment["amount"],
            "transactionId": f"tx-{payment['orderId']}-{ctx.attempt}"}
