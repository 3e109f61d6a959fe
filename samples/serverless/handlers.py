"""Python stand-ins for every service of the serverless pipeline, for running it offline.

    asl run samples/serverless/pipeline.json --input samples/serverless/input.json --handlers samples/serverless/handlers.py

ValidateOrder fails its first call with a transient error (retried by the state's Retry on
States.TaskFailed), rejects an order without items (Order.Invalid, caught); the "table" refuses
a second order with the same id as DynamoDB's condition would; the payment "queue" is answered by
the `background` worker that ``asl run`` starts beside the execution. `on_moto.py` runs the same
definition against moto's server instead, with only ValidateOrder and the worker in Python.
"""
from __future__ import annotations

from typing import Any

import anyio

from asl.engine import Handlers, TaskFailed

handlers = Handlers()
calls: dict[str, int] = {}
table: dict[str, dict] = {}
published: list = []
inbox_send, inbox_receive = anyio.create_memory_object_stream[dict](100)


@handlers.lambda_function("ValidateOrder")
def validate(order: dict) -> dict:
    calls[order["orderId"]] = calls.get(order["orderId"], 0) + 1
    if calls[order["orderId"]] == 1:  # a cold start that timed out: States.TaskFailed, retried
        raise TaskFailed("States.TaskFailed", "the function timed out (transient)")
    if not order.get("items"):
        raise TaskFailed("Order.Invalid", f"order {order['orderId']} has no items")
    return {**order, "valid": True}


@handlers.resource("arn:aws:states:::dynamodb:putItem")
def put_item(request: dict) -> dict:
    key = request["Item"]["orderId"]["S"]
    if key in table:  # ConditionExpression attribute_not_exists(orderId)
        raise TaskFailed("DynamoDB.ConditionalCheckFailedException", "The conditional request failed")
    table[key] = request["Item"]
    return {}


@handlers.resource("arn:aws:states:::sqs:sendMessage.waitForTaskToken")
async def send_message(request: dict) -> dict:
    await inbox_send.send(request["MessageBody"])
    return {"MessageId": f"m-{request['MessageBody']['orderId']}"}


@handlers.resource("arn:aws:states:::sns:publish")
def publish(request: dict) -> dict:
    published.append(("sns", request["Message"]))
    return {"MessageId": f"sns-{len(published)}"}


@handlers.resource("arn:aws:states:::events:putEvents")
def put_events(request: dict) -> dict:
    published.append(("events", request["Entries"][0]["Detail"]))
    return {"Entries": [{"EventId": f"ev-{len(published)}"}], "FailedEntryCount": 0}


def pay(message: dict) -> dict:
    """The payment worker's decision."""
    return {"paid": True, "paymentId": f"pay-{message['orderId']}", "amount": message["total"]}


async def background(execution: Any) -> None:
    """The payment worker: takes each message from the queue, answers its task token."""
    async for message in inbox_receive:
        execution.send_task_success(message["token"], pay(message))
