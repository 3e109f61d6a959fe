"""Run the approval workflow from Python: the execution in one task, the manager in another.

    python samples/approval/approve.py [AMOUNT]
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import anyio

import asl
from asl.engine import prepare

from handlers import make_handlers, manager

HERE = Path(__file__).resolve().parent


async def run_approval(request: dict, decide: Any = manager, **options: Any) -> Any:
    """Start the execution, answer its approval request from another coroutine, return the result."""
    handlers, desk = make_handlers()
    execution = prepare(asl.load(HERE / "approval.json"), request, handlers=handlers, **options)
    async with anyio.create_task_group() as tg:
        tg.start_soon(desk.answer, execution, decide)
        result = await execution.run()
        tg.cancel_scope.cancel()  # the manager stops waiting for more requests
    return result


if __name__ == "__main__":
    amount = float(sys.argv[1]) if len(sys.argv) > 1 else 250.0
    result = anyio.run(run_approval, {"requestId": "req-1", "amount": amount})
    print(result.status, result.output if result.succeeded else f"{result.error}: {result.cause}")
