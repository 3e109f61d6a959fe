"""Python stand-ins for the shipping workflow's Lambda functions.

    asl run samples/shipping/shipping.json --input samples/shipping/input.json \
        --handlers samples/shipping/handlers.py --virtual-time
"""
from asl.engine import Handlers, TaskFailed

handlers = Handlers()


@handlers.lambda_function("Reserve")
def reserve(item, ctx):
    """Reserve one line of the order; the warehouse is busy at the first try of every line."""
    if ctx.attempt == 1:
        raise TaskFailed("Warehouse.Busy", "the warehouse is busy, try again later")
    return {"sku": item["sku"], "reserved": item["quantity"]}


@handlers.lambda_function("Ship")
def ship(order, ctx):
    """Book a courier; none is free at the first try."""
    if ctx.attempt == 1:
        raise TaskFailed("Courier.Unavailable", "no courier is free")
    return {"tracking": f"TRK-{order['orderId']}", "express": order["express"]}


@handlers.lambda_function("SendEmail")
def send_email(message):
    return {"sent": "email", "to": message["to"]}


@handlers.lambda_function("SendSms")
def send_sms(message):
    return {"sent": "sms"}
