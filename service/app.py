"""The ASGI application: awsJson1.0 requests in, AWS's JSON answers (or error shapes) out."""
from __future__ import annotations

import logging
import uuid
from typing import Any

from asl.engine.apitime import java_times
from asl.engine.payload import compact_json as _dumps
from asl.jsontext import ESCAPE

from asl.engine.stores import StoreError

from .protocol import ServiceError, parse_body, parse_target

log = logging.getLogger("asl.service")


class App:
    """`App(service)` is an ASGI 3 application; the lifespan opens the store and resumes executions.

    POST / is the awsJson1.0 API (unless `api` is False: `asl console`); GET / and /console/...
    are the web console (unless `console` is False)."""

    def __init__(self, service: Any, *, api: bool = True, console: bool = True, when_started: Any = None):
        from .console import Console

        self.service = service
        self.api = api
        self.console = Console(service) if console else None
        self.startup_error: str | None = None  # why the lifespan's startup failed (the store, the executor...)
        self.when_started = when_started  # called once the startup has succeeded (asl serve's banner)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path, method = scope.get("path", "/"), scope.get("method")
        if self.console is not None and (path.startswith("/console/") or (path == "/" and method != "POST")):
            await self._console(scope, receive, send)
            return
        if not self.api:
            await _respond(send, 404, "text/plain", b"not found: this server is the console only (asl serve has the API)")
            return
        request_id = str(uuid.uuid4())
        action, status, body = await self._answer(scope, receive, request_id)
        # times as AWS writes them ("startDate":1.733450000123E9); a lone surrogate of a document
        # (valid JSON input holds "\ud800") as its escape, the same JSON, where UTF-8 has none
        payload = java_times(_dumps(body)).encode("utf-8", ESCAPE)
        sent = await _respond(send, status, "application/x-amz-json-1.0", payload,
                              [(b"x-amzn-requestid", request_id.encode())])
        if action in LONG_POLLS:
            if sent and await _written(scope):
                await self.service.delivered(action, body)
            else:
                await self.service.undelivered(action, body)

    async def _console(self, scope: dict, receive: Any, send: Any) -> None:
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        try:
            headers = _headers(scope)
            status, kind, payload = await self.console.answer(scope.get("method", "GET"), scope.get("path", "/"),
                                                              scope.get("query_string", b"").decode("latin-1"),
                                                              b"".join(chunks), headers)
        except Exception:  # a bug of ours: logged, the page shows the error
            log.exception("console error")
            status, kind, payload = 500, "application/json", b'{"error": "InternalFailure", "message": "see the log"}'
        await _respond(send, status, kind, payload, [(b"cache-control", b"no-store")])

    async def _lifespan(self, receive: Any, send: Any) -> None:
        """The service serves (`Service.serving`: its detached work in a task group this
        task holds) from lifespan.startup to lifespan.shutdown."""
        from contextlib import AsyncExitStack

        async with AsyncExitStack() as serving:
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    try:
                        await serving.enter_async_context(self.service.serving())
                    except Exception as exc:
                        self.startup_error = str(exc) or type(exc).__name__
                        await send({"type": "lifespan.startup.failed", "message": self.startup_error})
                        return
                    if self.when_started is not None:
                        self.when_started()
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    try:
                        await serving.aclose()
                    finally:
                        await send({"type": "lifespan.shutdown.complete"})
                    return

    async def _answer(self, scope: dict, receive: Any, request_id: str) -> tuple[str | None, int, dict]:
        """``(action, HTTP status, body)`` of the request (action None when it names none)."""
        action = None
        try:
            if scope.get("method") != "POST":
                raise ServiceError("UnknownOperationException", "")
            target = None
            for key, value in scope.get("headers", ()):  # (ASGI servers give header names in lower case)
                if key == b"x-amz-target":
                    target = value.decode("latin-1")
            action = parse_target(target)
            raw = await _read(receive)
            if raw is None:  # the client went away
                return action, 400, {}
            if self.service.tracer_provider is not None:
                return action, *await self._traced(action, raw, receive, scope, request_id)
            return action, *await self._handle(action, _with_trace_header(action, parse_body(raw), scope), receive)
        except ServiceError as err:
            return action, err.status, err.body()
        except StoreError as exc:  # the store is away for a moment: AWS's answer to a call it cannot serve now
            # (SDKs try a 503 again; NotOwner and ResourceGone are answered where they are raised)
            log.warning("%s: the store is away: %s", action, exc)
            return action, 503, {"__type": "ServiceUnavailable", "message": "The request has failed due to a "
                                 "temporary failure of the server."}
        except Exception:  # a bug of ours: AWS's InternalFailure, the traceback in the log only
            log.exception("internal error")
            return action, 500, {"__type": "InternalFailure", "message": "The request processing has failed "
                                 "because of an unknown error, exception or failure."}

    async def _traced(self, action: str, raw: bytes, receive: Any, scope: dict, request_id: str) -> tuple[int, dict]:
        """`_handle` inside the request's server span (tracing on: OTEL_* variables). Its parent is
        the caller's trace (``traceparent``, ``X-Amzn-Trace-Id``, StartExecution's ``traceHeader``);
        what the request starts (an execution) or answers (a callback task) continues from it."""
        from opentelemetry import trace
        from opentelemetry.trace import SpanKind, Status, StatusCode

        from asl import __version__
        from asl.engine.otelconfig import TRACER_NAME
        from asl.engine.tracing import request_context

        headers = _headers(scope)
        try:
            body, unreadable = _with_trace_header(action, parse_body(raw), scope), None
        except ServiceError as err:
            body, unreadable = {}, err
        if isinstance(body, dict) and isinstance(body.get("traceHeader"), str) and "x-amzn-trace-id" not in headers:
            headers["x-amzn-trace-id"] = body["traceHeader"]
        tracer = trace.get_tracer(TRACER_NAME, __version__, tracer_provider=self.service.tracer_provider)
        server, client = scope.get("server") or (None, None), scope.get("client") or (None, None)
        attributes = {"rpc.system": "aws-api", "rpc.service": "AWSStepFunctions", "rpc.method": action,
                      "http.request.method": "POST", "url.path": scope.get("path", "/"), "aws.request_id": request_id,
                      "server.address": server[0], "server.port": server[1], "client.address": client[0],
                      "user_agent.original": headers.get("user-agent")}
        if isinstance(body, dict):
            attributes.update((name, body[key]) for key, name in _ARN_ATTRIBUTES if isinstance(body.get(key), str))
        with tracer.start_as_current_span(f"AWSStepFunctions/{action}", context=request_context(headers),
                                          kind=SpanKind.SERVER, record_exception=False, set_status_on_exception=False,
                                          attributes={k: v for k, v in attributes.items() if v is not None}) as span:
            try:
                if unreadable is not None:
                    raise unreadable
                status, answer = await self._handle(action, body, receive)
            except ServiceError as err:
                span.set_attributes({"http.response.status_code": err.status, "error.type": err.code})
                span.set_status(Status(StatusCode.ERROR, f"{err.code}: {err.message}" if err.message else err.code))
                raise
            except Exception as exc:
                span.set_attributes({"http.response.status_code": 500, "error.type": type(exc).__qualname__})
                span.set_status(Status(StatusCode.ERROR, "InternalFailure"))
                raise
            span.set_attribute("http.response.status_code", status)
            for key, name in _ARN_ATTRIBUTES:  # what it made: StartExecution's execution, ...
                if isinstance(answer.get(key), str) and name not in attributes:
                    span.set_attribute(name, answer[key])
            return status, answer

    async def _handle(self, action: str, body: Any, receive: Any) -> tuple[int, dict]:
        """Check the request against the model and call the action."""
        answer = self.service.answer(action, body)
        return 200, await (_unless_gone(answer, receive) if action in LONG_POLLS else answer)


# request and answer fields a request span names (to find the requests of one execution)
_ARN_ATTRIBUTES = (("executionArn", "asl.execution.arn"), ("stateMachineArn", "asl.state_machine.arn"),
                   ("mapRunArn", "asl.map_run.arn"), ("activityArn", "asl.activity.arn"))


async def _read(receive: Any) -> bytes | None:
    """The request's body (at most 2 MiB: beyond, AWS's 413), None when the client went away."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > 2 * 1024 * 1024:
            raise ServiceError("ValidationException", "Request entity too large", status=413)
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def _with_trace_header(action: str, body: Any, scope: dict) -> Any:
    """StartExecution's and StartSyncExecution's traceHeader, the request's X-Amzn-Trace-Id
    header when it has one (API StartExecution: "If both sources are provided, Step Functions
    will use the header value (preferred) over the value in the request body")."""
    if action in ("StartExecution", "StartSyncExecution") and isinstance(body, dict):
        header = _headers(scope).get("x-amzn-trace-id")
        if header:
            return {**body, "traceHeader": header}
    return body


def _headers(scope: dict) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


async def _respond(send: Any, status: int, kind: str, payload: bytes, headers: list | None = None) -> bool:
    """Send the answer; False when the server said the connection had closed (ASGI 2.4's OSError
    from `send`: servers of older versions send nothing, silently, see `_written`)."""
    try:
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", kind.encode()), (b"content-length", str(len(payload)).encode()), *(headers or [])]})
        await send({"type": "http.response.body", "body": payload})
    except OSError:
        return False
    return True


async def _written(scope: dict) -> bool:
    """Whether the answer just sent was written to the client's connection, as the server tells
    through the ``asl.written`` extension (`asl serve`'s uvicorn protocol, asl.cli.serve): uvicorn
    (ASGI 2.3) sends nothing once the client has gone, without a word. A server without it is
    taken at its word (True)."""
    written = (scope.get("extensions") or {}).get("asl.written")
    return True if written is None else await written()


LONG_POLLS = {"GetActivityTask"}  # answers that may wait: given up when the client goes away


async def _unless_gone(answer: Any, receive: Any) -> dict:
    """`answer`, cancelled when the client disconnects first (a worker gone must not take a task)."""
    import anyio

    out: dict = {}
    failed: list[Exception] = []

    async def watch(scope: anyio.CancelScope) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        scope.cancel()

    async with anyio.create_task_group() as tg:
        tg.start_soon(watch, tg.cancel_scope)
        try:
            out = await answer
        except Exception as exc:  # raised below as it is, not in an exception group
            failed.append(exc)
        tg.cancel_scope.cancel()
    if failed:
        raise failed[0]
    return out


def create_app(store: str = "memory", **options: Any) -> App:
    from asl.engine.stores import open_store

    from .api import Service

    return App(Service(open_store(store), **options))
