"""Child executions of ``states:startExecution`` Tasks run by the service itself: each is an
execution of the service (ListExecutions, DescribeExecution, GetExecutionHistory show it with
its own history), started, awaited and stopped through the service's own API
(the port `asl.engine.integrations.nested.Executions`); the executions' ``aws-sdk:sfn`` Tasks
call the same API (`ServiceExecutions.api`), as a state machine's calls reach Step Functions in
its own account and region on AWS."""
from __future__ import annotations

from typing import Any

import anyio

from .protocol import ServiceError


class ServiceExecutions:
    def __init__(self, service: Any):
        self.service = service

    def serves(self, machine_arn: str | None) -> bool:
        return True  # an ARN the service does not know is its StateMachineDoesNotExist, as on AWS

    async def start(self, body: dict) -> dict:
        from asl.engine.integrations.nested import local_metadata, refused

        try:
            response = await self.service.StartExecution(dict(body))
        except ServiceError as exc:
            raise refused(exc.code, exc.message, exc.status) from None
        return {**response, **local_metadata(response)}

    async def api(self, action: str, body: dict) -> tuple[int, dict]:
        """Any action of the service's API, for the executions' ``aws-sdk:sfn`` Tasks
        (`asl.engine.integrations.sdk.call_own_api`): ``(status, answer)`` as HTTP would carry them."""
        try:
            return 200, await self.service.answer(action, body)
        except ServiceError as exc:
            return exc.status, exc.body()

    async def wait(self, execution_arn: str, clock: Any) -> dict:
        while True:
            running = self.service.running.get(execution_arn)
            if running is not None:
                await running[1].wait()
            described = await self.service.DescribeExecution({"executionArn": execution_arn})
            if described["status"] != "RUNNING":
                return described
            # resumed or run by another process sharing the store: look again in a while
            with clock.awaiting_outside():
                await anyio.sleep(0.5)

    async def stop(self, execution_arn: str, cause: str | None = None) -> None:
        await self.service.StopExecution({"executionArn": execution_arn, **({"cause": cause} if cause else {})})

    async def find(self, execution_arn: str) -> dict | None:
        try:
            described = await self.service.DescribeExecution({"executionArn": execution_arn})
        except ServiceError:
            return None
        return {key: described.get(key) for key in ("executionArn", "startDate", "input")}
