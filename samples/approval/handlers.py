"""The approval workflow's callback task, and the manager who answers it.

    asl run samples/approval/approval.json --input samples/approval/input.json --handlers samples/approval/handlers.py

RequestApproval is a ``.waitForTaskToken`` task that sends the request (with its task token)
to an SQS queue: its handler only files the message in an inbox and returns; the Task then
waits. Someone else answers later
with ``execution.send_task_success(token, answer)``: here the `background` coroutine, which
``asl run`` starts beside the execution, plays the manager. `approve.py` does the same from
Python with `asl.engine.prepare`.
"""
from __future__ import annotations

from typing import Any, Callable

import anyio

from asl.engine import Handlers

APPROVAL_LIMIT = 1000  # the manager approves amounts up to this


def manager(request: dict) -> dict:
    """The manager's rule: approve amounts up to the limit, explain a refusal."""
    if request["amount"] <= APPROVAL_LIMIT:
        return {"approved": True, "by": "manager@example.com"}
    return {"approved": False, "by": "manager@example.com",
            "comment": f"{request['amount']} is over the {APPROVAL_LIMIT} a manager may approve"}


class ApprovalDesk:
    """The manager's inbox: requests wait here, with their task tokens, until answered."""

    def __init__(self) -> None:
        self._send, self._receive = anyio.create_memory_object_stream[tuple[str, dict]](100)

    async def request(self, message: dict, ctx: Any) -> dict:
        """SQS SendMessage: file the message; the Task then waits for its token."""
        body = message["MessageBody"]
        await self._send.send((body["token"], body["request"]))
        return {"MessageId": f"m-{body['request']['requestId']}"}

    async def answer(self, execution: Any, decide: Callable[[dict], dict] = manager) -> None:
        """Answer every request as it arrives."""
        async for token, request in self._receive:
            execution.send_task_success(token, decide(request))


def make_handlers() -> tuple[Handlers, ApprovalDesk]:
    """A fresh registry and inbox (one per execution)."""
    desk = ApprovalDesk()
    registry = Handlers()
    registry.resource("arn:aws:states:::sqs:sendMessage.waitForTaskToken")(desk.request)
    return registry, desk


handlers, desk = make_handlers()


async def background(execution: Any) -> None:
    """`asl run` starts this beside the execution: the manager answering requests."""
    await desk.answer(execution)
