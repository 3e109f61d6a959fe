"""The ASGI application: awsJson1.0 requests in, AWS's JSON answers (or error shapes) out."""
from __future__ import annotations

import logging
import uuid
from typing import Any

from asl.engine.payload import compact_json as _dumps

from .api import TRACEPARENT
from .protocol import ServiceError, parse_body, parse_target, validate

log = logging.getLogger("asl.service")


class App:
    """`App(service)` is an ASGI 3 application; the lifespan opens the store and resumes executions.

    POST / is the awsJson1.0 API (unless `api` is False: `asl console`); GET / and /console/...
    are the web console (unless `console` is False)."""

    def __init__(self, service: Any, *, api: bool = True, console: bool = True):
        from .console import Console

        self.service = service
        self.api = api
        self.console = Console(service) if console else None

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
        status, body = await self._answer(scope, receive)
        payload = _dumps(body).encode()
        await _respond(send, status, "application/x-amz-json-1.0", payload,
                       [(b"x-amzn-requestid", str(uuid.uuid4()).encode())])

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
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.service.start()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                try:
                    await self.service.close()
                finally:
                    await send({"type": "lifespan.shutdown.complete"})
                return

    async def _answer(self, scope: dict, receive: Any) -> tuple[int, dict]:
        try:
            if scope.get("method") != "POST":
                raise ServiceError("UnknownOperationException", "")
            target = traceparent = None
            for key, value in scope.get("headers", ()):  # (ASGI servers give header names in lower case)
                if key == b"x-amz-target":
                    target = value.decode("latin-1")
                elif key == b"traceparent":
                    traceparent = value.decode("latin-1")
            action = parse_target(target)
            # the caller's trace (a traced Task's boto3 call): the executions it starts continue it,
            # the callback tasks it answers link to it
            TRACEPARENT.set(traceparent)
            if traceparent and self.service.tracer_provider is not None:
                from opentelemetry import context as otel_context

                from asl.engine.tracing import context_from_headers

                token = otel_context.attach(context_from_headers({"traceparent": traceparent}))
                try:
                    return await self._handle(action, receive)
                finally:
                    otel_context.detach(token)
            return await self._handle(action, receive)
        except ServiceError as err:
            return err.status, err.body()
        except Exception:  # a bug of ours: AWS's InternalFailure, the traceback in the log only
            log.exception("internal error")
            return 500, {"__type": "InternalFailure", "message": "The request processing has failed because of "
                         "an unknown error, exception or failure."}

    async def _handle(self, action: str, receive: Any) -> tuple[int, dict]:
        """Read the request's body, check it against the model and call the action."""
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return 400, {}
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > 2 * 1024 * 1024:
                raise ServiceError("ValidationException", "Request entity too large", status=413)
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        body = parse_body(b"".join(chunks))
        validate(action, body)
        handler = getattr(self.service, action, None)
        if handler is None:
            return 200, await self.service.not_implemented(action)
        if action in LONG_POLLS:
            return 200, await _unless_gone(handler(body), receive)
        return 200, await handler(body)


def _headers(scope: dict) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


async def _respond(send: Any, status: int, kind: str, payload: bytes, headers: list | None = None) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", kind.encode()), (b"content-length", str(len(payload)).encode()), *(headers or [])]})
    await send({"type": "http.response.body", "body": payload})


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
