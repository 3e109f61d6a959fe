"""Calling AWS services for the Tasks no handler or mock serves (INTEGRATIONS-SPEC.md).

A Task's Resource resolves to a registered Python handler, else a mock, else (when the run
enables AWS: ``asl run --aws``, ``run(..., aws=...)``) an integration that calls the service
through boto3. The Task runner calls `Integrations.find` and the callable it returns; all the
rest lives here:

  config.py     AwsConfig (endpoints, region, profile), resolved once per run; cached clients
  shapes.py     Parameters -> boto3 request, boto3 response -> JSON
  optimized.py  Lambda ARNs and ``arn:aws:states:::SERVICE:API``; the SDK v1 error converter
  sdk.py        ``arn:aws:states:::aws-sdk:SERVICE:ACTION``; the SDK v2 error converter

Blocking boto3 calls run in worker threads: the event loop never waits for the network.
"""
from __future__ import annotations

from typing import Any, Awaitable, Callable

from ...errors import StatesError
from .config import AwsConfig, AwsConfigError

__all__ = ["AwsConfig", "AwsConfigError", "Integrations"]


class Integrations:
    """The services of one run: its `AwsConfig` and the boto3 clients built from it."""

    def __init__(self, config: AwsConfig, default_region: str = "us-east-1"):
        from .config import Clients

        self.config = config
        self.clients = Clients(config, default_region)

    @classmethod
    def of(cls, aws: Any, default_region: str = "us-east-1") -> "Integrations | None":
        """The run's integrations from the ``aws=`` option (None: services are not called)."""
        if isinstance(aws, Integrations):
            return aws
        config = AwsConfig.of(aws)
        return None if config is None else cls(config, default_region)

    def find(self, info: Any, arguments: Any, clock: Any) -> Callable[[], Awaitable[Any]] | None:
        """The call that serves a Task's Resource through boto3, or None (activities, HTTP Tasks,
        API Gateway: not through boto3)."""
        if info is None or info.kind not in ("lambda", "service", "sdk") or info.service == "apigateway":
            return None

        async def call() -> Any:
            from ..threads import run_in_thread

            # virtual time waits for the service, as for a sync handler
            return await run_in_thread(lambda: self.call(info, arguments), clock)
        return call

    def call(self, info: Any, arguments: Any) -> Any:
        """One blocking call of the service `info` names: its result, or a StatesError."""
        from . import optimized, sdk
        from .shapes import Unusable

        try:
            if info.kind == "sdk":
                return sdk.call(self.clients, info, arguments)
            return optimized.call(self.clients, info, arguments)
        except Unusable as exc:
            from ...resources import unusable_parameters

            raise unusable_parameters(arguments, [str(exc)]) from None
        except StatesError:
            raise
        except Exception as exc:  # never a traceback: a failure of the layer itself, named and told
            raise StatesError("States.Runtime", f"asl-engine could not call '{info.arn}': "
                              f"{type(exc).__name__}: {exc}") from None
