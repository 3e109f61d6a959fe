"""Stop a running execution from outside, as StopExecution does, once it has had time to start."""
from __future__ import annotations

from typing import Any

import anyio


def run_then_stop(execution: Any, seconds: float = 0.05, error: str | None = None, cause: str | None = None) -> Any:
    """Run a prepared `execution` (on a real clock) and stop it after `seconds`; its result."""
    async def main() -> Any:
        async with anyio.create_task_group() as tg:
            tg.start_soon(execution.run)
            await anyio.sleep(seconds)
            execution.stop(error, cause)
        return execution.result

    return anyio.run(main)
