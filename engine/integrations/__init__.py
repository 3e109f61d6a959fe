"""Calling AWS services for the Tasks no handler or mock serves (INTEGRATIONS-SPEC.md).

A Task's Resource resolves to a registered Python handler, else a mock, else (when the run
enables AWS: ``asl run --aws``, ``run(..., aws=...)``) an integration that calls the service
through boto3. The Task runner calls `Integrations.find` and the callable it returns; all the
rest lives here:

  config.py     AwsConfig (endpoints, region, profile), resolved once per run; cached clients
  shapes.py     Parameters -> boto3 request, boto3 response -> JSON
  optimized.py  Lambda ARNs and ``arn:aws:states:::SERVICE:API``; the SDK v1 error converter
  sdk.py        ``arn:aws:states:::aws-sdk:SERVICE:ACTION``; the SDK v2 error converter
  jobs.py       the ``.sync`` jobs: ECS runTask, Batch submitJob, Glue startJobRun, Athena
  nested.py     ``states:startExecution``: child executions here, in the service, or through boto3
  http.py       the HTTP Task (``http:invoke``) and API Gateway invoke, through httpx

Blocking boto3 calls run in worker threads: the event loop never waits for the network.
"""
from __future__ import annotations

from typing import Any, Awaitable, Callable

from ...errors import StatesError
from .config import AwsConfig, AwsConfigError, RoleClients

__all__ = ["AwsConfig", "AwsConfigError", "Integrations", "serve"]


def serve(ex: Any, info: Any, arguments: Any, role: str | None = None, site: str | None = None
          ) -> Callable[..., Awaitable[Any]] | None:
    """What runs a Task that no handler or mock serves: a child execution where the run keeps
    them (``ex.executions``: this engine, the service), an ``aws-sdk:sfn`` call that their
    Step Functions API answers, else the services the run calls (``ex.integrations``); None
    when neither does. `arguments` None: asked before the run.
    `site` names the Task attempt, the same when a resumed execution makes it again (a child
    started without ``Name`` is named after it: `nested.child_name`)."""
    if info is not None and info.kind == "service" and (info.service, info.api) == ("states", "startExecution"):
        port = getattr(ex, "executions", None)
        arn = arguments.get("StateMachineArn") if isinstance(arguments, dict) else None
        if port is not None and port.serves(arn):
            async def nested(submitted: Any = None) -> Any:
                from .nested import start_execution
                from .shapes import Unusable

                try:
                    return await start_execution(port, info, arguments, ex.clock, submitted, site,
                                                 getattr(ex, "arn", None))
                except Unusable as exc:
                    from ...resources import unusable_parameters

                    raise unusable_parameters(arguments, [str(exc)]) from None
            return nested
    integrations = getattr(ex, "integrations", None)

    def elsewhere() -> Callable[..., Awaitable[Any]] | None:  # the services the run calls
        return None if integrations is None else integrations.find(info, arguments, ex.clock, role, site,
                                                                   getattr(ex, "arn", None))
    if info is not None and info.kind == "sdk" and info.service == "sfn":
        port = getattr(ex, "executions", None)
        api = getattr(port, "api", None)
        if api is not None:
            # the Step Functions API is this process's (asl serve), or the run's for its own
            # machines, executions and tokens (`nested.LocalExecutions.answers`)
            answers = getattr(port, "answers", None)
            other = None if answers is None else elsewhere()
            if answers is not None and not answers(info.api, arguments, alone=other is None):
                return other

            async def own(submitted: Any = None) -> Any:
                from .sdk import call_own_api
                from .shapes import Unusable

                try:
                    return await call_own_api(api, info, arguments)
                except Unusable as exc:
                    from ...resources import unusable_parameters

                    raise unusable_parameters(arguments, [str(exc)]) from None
            return own
    return elsewhere()


class Integrations:
    """The services of one run: its `AwsConfig` and the boto3 clients built from it."""

    def __init__(self, config: AwsConfig, default_region: str = "us-east-1"):
        from .config import Clients

        from .http import Connections

        self.config = config
        self.clients = Clients(config, default_region)
        self.connections = Connections(config.connections, self)  # the file (read when needed), then EventBridge

    @classmethod
    def of(cls, aws: Any, default_region: str = "us-east-1") -> "Integrations | None":
        """The run's integrations from the ``aws=`` option (None: services are not called)."""
        if isinstance(aws, Integrations):
            return aws
        config = AwsConfig.of(aws)
        return None if config is None else cls(config, default_region)

    def find(self, info: Any, arguments: Any, clock: Any, role: str | None = None, site: str | None = None,
             owner: str | None = None) -> Callable[..., Awaitable[Any]] | None:
        """The call that serves a Task's Resource through boto3 or httpx, or None (activities; a
        service this run does not call). The call takes the Task's ``submitted(response)``, told
        when a ``.sync`` job has started."""
        if info is None or info.kind not in ("lambda", "service", "sdk", "http"):
            return None
        if info.kind == "http" or info.service == "apigateway":
            async def call_http(submitted: Any = None) -> Any:
                from . import http
                from .shapes import Unusable

                try:
                    return await http.call(self, info, arguments, self.config.region or self.clients.default_region,
                                           clock)
                except Unusable as exc:
                    from ...resources import unusable_parameters

                    raise unusable_parameters(arguments, [str(exc)]) from None
            return call_http
        if self.config.only:  # only the services given an endpoint
            from .optimized import SERVICES

            if info.kind == "sdk":
                from .sdk import NAMES

                boto3_name = NAMES.boto3_name(info.service) or info.service
            else:
                boto3_name = SERVICES.get(info.service, (info.service,))[0]
            if not self.config.calls(boto3_name):
                return None
        clients = self.clients if role is None else RoleClients(self.clients, role)
        if info.kind == "service" and (info.pattern == "sync" or (info.service, info.api) == ("states", "startExecution")):
            # a nested execution, whatever its pattern, as in this engine and the service
            # (`nested.start_execution`: AWS's result shape, the derived name of a nameless child)
            return self._sync(info, arguments, clock, clients, site, owner)

        async def call(submitted: Any = None) -> Any:
            from ..threads import run_in_thread

            # virtual time waits for the service, as for a sync handler
            return await run_in_thread(lambda: self.call(info, arguments, clients), clock)
        return call

    def _sync(self, info: Any, arguments: Any, clock: Any, clients: Any, site: str | None = None,
              owner: str | None = None) -> Callable[..., Awaitable[Any]]:
        """A ``.sync`` job (ECS, Batch, Glue, Athena), or a nested execution on a Step Functions
        endpoint (any pattern)."""
        async def call(submitted: Any = None) -> Any:
            from .shapes import Unusable

            try:
                if info.service == "states":
                    from .nested import Boto3Executions, start_execution

                    return await start_execution(Boto3Executions(self, clients, clock), info, arguments, clock,
                                                 submitted, site, owner)
                from .jobs import JOBS, run_job

                if (info.service, info.api) not in JOBS:
                    raise StatesError("States.Runtime", f"asl-engine does not run '{info.arn}' on AWS yet: "
                                      "register a handler or mock the state")
                return await run_job(clients, info, arguments, clock, submitted, self.config.poll_seconds, owner)
            except Unusable as exc:
                from ...resources import unusable_parameters

                raise unusable_parameters(arguments, [str(exc)]) from None
        return call

    def call(self, info: Any, arguments: Any, clients: Any = None) -> Any:
        """One blocking call of the service `info` names: its result, or a StatesError."""
        from . import optimized, sdk
        from .shapes import Unusable

        clients = clients or self.clients
        try:
            if info.kind == "sdk":
                return sdk.call(clients, info, arguments)
            return optimized.call(clients, info, arguments)
        except Unusable as exc:
            from ...resources import unusable_parameters

            raise unusable_parameters(arguments, [str(exc)]) from None
        except StatesError:
            raise
        except Exception as exc:  # never a traceback: a failure of the layer itself, named and told
            raise StatesError("States.Runtime", f"asl-engine could not call '{info.arn}': "
                              f"{type(exc).__name__}: {exc}") from None
