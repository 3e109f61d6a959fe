"""`asl serve`: the Step Functions API and the web console on this machine (asl.service), served
by uvicorn; `asl console`: the web console alone, over a store."""
from __future__ import annotations

import os
import sys
from typing import Any

import click

from .run import (STORE_URLS, UsageError, aws_config, aws_options, executor_option, load_handlers, new_executor, s3_folder_map,
                  tracing_from_environment)


def service_options(command: Any) -> Any:
    """The options `asl serve` and `asl console` share: where to listen, the store, how Tasks run."""
    for option in reversed([
        click.option("--host", default="127.0.0.1", show_default=True,
                     help="Address to listen on (loopback by default)."),
        click.option("--store", default=None, metavar="URL",
                     help=f"{STORE_URLS}; memory (default: sqlite:asl-serve.db here)."),
        click.option("--handlers", "handlers_spec", default=None, metavar="FILE_OR_MODULE",
                     help="Python handlers for Lambda tasks (as asl run --handlers)."),
        click.option("--mock-config", default=None, metavar="FILE",
                     help="Step Functions Local MockConfigFile (default: $SFN_MOCK_CONFIG); select a test case "
                     "with StartExecution(stateMachineArn='ARN#TestCase')."),
        click.option("--region", default=None,
                     help="Region of the ARNs (default: $AWS_DEFAULT_REGION or us-east-1)."),
        click.option("--account", default=None,
                     help="Account id of the ARNs (default: $AWS_ACCOUNT_ID or 123456789012)."),
        click.option("--wait-time-scale", type=click.FloatRange(min=0), default=None, metavar="FACTOR",
                     help="Scale Wait states and retry intervals: 0.1 makes them 10 times shorter, 0 skips them "
                     "(default: $WAIT_TIME_SCALE or 1, as Step Functions Local)."),
        click.option("--lease", "lease_seconds", type=click.FloatRange(0.5, None), default=30.0, show_default=True,
                     metavar="SECONDS", help="With a store shared by several processes: how long an execution "
                     "stays with a process that stopped renewing its lease before another takes it over (a "
                     "process whose PostgreSQL connections closed, as when it dies, is taken over in about 5 s)."),
        aws_options,
    ]):
        command = option(command)
    return command


@click.command()
@click.option("--port", type=click.IntRange(0, 65535), default=8083, show_default=True)
@click.option("--poll", "poll_seconds", type=click.FloatRange(0.05, None), default=None, metavar="SECONDS",
              help="How often to look for executions to take over (default: every second with a "
              "postgresql:// store, never otherwise).")
@service_options
@executor_option
def serve(host: str, port: int, store: str | None, handlers_spec: str | None, mock_config: str | None,
          region: str | None, account: str | None, wait_time_scale: float | None, lease_seconds: float,
          poll_seconds: float | None, aws: bool = False, endpoint_urls: tuple[str, ...] = (),
          connections: str | None = None, s3_folders: tuple[str, ...] = (),
          executor: str | None = None) -> None:
    """Serve the AWS Step Functions API (for boto3, the AWS CLI, SDKs) and the web console at / until Ctrl-C.

    Of [tool.asl], aws, connections and endpoints apply (the other keys do not: --handlers and
    --mock-config are given here or not at all).
    """
    _serve("serve", host, port, store, handlers_spec, mock_config, region, account, wait_time_scale, lease_seconds,
           poll_seconds, aws, endpoint_urls, connections, s3_folders, executor)


@click.command()
@click.option("--port", type=click.IntRange(0, 65535), default=8084, show_default=True)
@service_options
@executor_option
def console(host: str, port: int, store: str | None, handlers_spec: str | None, mock_config: str | None,
            region: str | None, account: str | None, wait_time_scale: float | None, lease_seconds: float,
            aws: bool = False, endpoint_urls: tuple[str, ...] = (), connections: str | None = None,
            s3_folders: tuple[str, ...] = (), executor: str | None = None) -> None:
    """Serve the web console over a store (state machines, executions, their graphs and events;
    start, stop, redrive) without the API, until Ctrl-C. It resumes no execution by itself.

    The executions it starts or redrives run here, served as asl serve serves them (--handlers,
    --mock-config, --aws, ..., --executor); a states:startExecution Task starts a state machine
    of the store, so there is no --machine. Of [tool.asl], aws, connections and endpoints apply,
    as for asl serve.
    """
    _serve("console", host, port, store, handlers_spec, mock_config, region, account, wait_time_scale,
           lease_seconds, None, aws, endpoint_urls, connections, s3_folders, executor)


def _serve(command: str, host: str, port: int, store: str | None, handlers_spec: str | None,
           mock_config: str | None, region: str | None, account: str | None, wait_time_scale: float | None,
           lease_seconds: float, poll_seconds: float | None, aws: bool, endpoint_urls: tuple[str, ...],
           connections: str | None, s3_folders: tuple[str, ...], executor: str | None) -> None:
    import logging

    try:
        import uvicorn
    except ImportError:
        from ..extras import install_hint

        click.echo(f"asl {command}: needs the service extra: {install_hint('service')}", err=True)
        sys.exit(2)
    from ..engine import MockConfig, MockConfigError
    from ..engine.stores import StoreError, open_store
    from ..service.api import Service
    from ..service.app import App

    sources = {"region": "--region" if region else "$AWS_DEFAULT_REGION",
               "account": "--account" if account else "$AWS_ACCOUNT_ID"}
    region = region or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    account = account or os.environ.get("AWS_ACCOUNT_ID") or "123456789012"
    import re

    # the forms of AWS's region names (us-east-1, us-gov-west-1, cn-north-1) and account ids (12
    # digits): anything else would make ARNs that boto3 and the AWS CLI refuse or misroute
    for what, value, form in (("region", region, r"[a-z]{2}(-[a-z]+)+-\d{1,2}"), ("account", account, r"\d{12}")):
        if not re.fullmatch(form, value):
            hint = "like us-east-1" if what == "region" else "12 digits"
            click.echo(f"asl {command}: {sources[what]} {value!r}: not an AWS {what} ({hint})", err=True)
            sys.exit(2)
    if wait_time_scale is None:
        try:
            wait_time_scale = float(os.environ.get("WAIT_TIME_SCALE") or 1)
            if not wait_time_scale >= 0:
                raise ValueError
        except ValueError:
            click.echo(f"asl {command}: WAIT_TIME_SCALE: not a number >= 0: {os.environ['WAIT_TIME_SCALE']!r}",
                       err=True)
            sys.exit(2)
    handlers = None
    try:
        if handlers_spec:
            handlers = load_handlers(handlers_spec)[0]
        from .project import find_config

        services = aws_config(aws, endpoint_urls, connections, find_config())
        # OTEL_* variables (or a provider set up already): the machines with tracing enabled are traced
        tracing, tracer_provider = tracing_from_environment(command)
        folders = s3_folder_map(s3_folders)
        opened_executor = new_executor(executor)  # (the service starts it, on its event loop)
    except UsageError as exc:
        click.echo(f"asl {command}: {exc}", err=True)
        sys.exit(2)
    from_variable = "" if mock_config else "SFN_MOCK_CONFIG="  # as `asl run` names where the path came from
    mock_path = mock_config or os.environ.pop("SFN_MOCK_CONFIG", None)
    mocks = None
    if mock_path:
        try:
            mocks = MockConfig.from_file(mock_path)
        except MockConfigError as exc:  # its message starts with the path
            click.echo(f"asl {command}: {from_variable}{exc}", err=True)
            sys.exit(2)
    if command == "console":  # (it reads a store; it makes none)
        from .executions import existing_store

        existing_store(command, store or "sqlite:asl-serve.db")
    try:
        opened = open_store(store or "sqlite:asl-serve.db")
        if command == "serve" and hasattr(opened, "hold"):  # (a SQLite file: one server)
            opened.hold()
    except StoreError as exc:
        click.echo(f"asl {command}: {exc}", err=True)
        sys.exit(2)
    if opened.shared:  # a database away or refusing: one line, before the banner
        from .executions import store_call  # (opened and closed here: the service opens its own, on its loop)

        store_call(command, opened.url, _nothing)
    service = Service(opened, region=region, account=account, handlers=handlers, mock_config=mocks,
                      wait_scale=wait_time_scale, lease_seconds=lease_seconds, poll_seconds=poll_seconds,
                      aws=services, tracer_provider=tracing.tracer_provider if tracing is not None else None,
                      resume=command == "serve", s3_folders=folders, executor=opened_executor)
    scale = "" if wait_time_scale == 1 else f", wait time scale {wait_time_scale:g}"
    # Bind here, so --port 0 (any free port) prints the port it got, and a taken port is one line;
    # uvicorn listens on it once its signal handlers are in place (a SIGTERM as soon as the port
    # answers is a clean stop, not death by signal).
    try:
        listening = bound_socket(host, port)
    except OSError as exc:
        click.echo(f"asl {command}: cannot listen on {host}:{port}: {exc.strerror or exc}", err=True)
        sys.exit(2)
    port = listening.getsockname()[1]
    endpoint = f"http://{host if ':' not in host else f'[{host}]'}:{port}"

    def banner() -> None:  # once the store and the executor are open: a failure to start is the only line
        if command == "console":
            click.echo(f"asl console: the web console on {endpoint}/ (store {opened.url}, region {region}, "
                       f"account {account}{scale})", err=True)
            return
        click.echo(f"asl serve: AWS Step Functions API on {endpoint} (store {opened.url}, region {region}, "
                   f"account {account}{scale})\n"
                   f"  boto3:   boto3.client('stepfunctions', endpoint_url='{endpoint}', region_name='{region}',\n"
                   "                        config=botocore.config.Config(inject_host_prefix=False))\n"
                   f"  AWS CLI: aws stepfunctions list-state-machines --endpoint-url {endpoint} --region {region}\n"
                   f"  or:      export AWS_ENDPOINT_URL_SFN={endpoint}\n"
                   "  StartSyncExecution/TestState: disable the 'sync-' host prefix (inject_host_prefix=False, "
                   "AWS_DISABLE_HOST_PREFIX_INJECTION=true)\n"
                   "  credentials: any, but some (AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test if none are set)\n"
                   f"  console: {endpoint}/", err=True)
    logging.basicConfig(level=logging.WARNING, format=f"asl {command}: %(message)s")
    app = App(service, api=command == "serve", when_started=banner)

    class StartupWords(logging.Filter):
        """uvicorn's ERROR lines on a failed startup: the reason is printed once, as ours, instead."""

        def filter(self, record: logging.LogRecord) -> bool:
            return app.startup_error is None or record.levelno < logging.ERROR

    quiet = StartupWords()
    logging.getLogger("uvicorn.error").addFilter(quiet)
    config = uvicorn.Config(app, host=host, port=port, lifespan="on",
                            log_level="warning", access_log=False, proxy_headers=False, timeout_graceful_shutdown=5,
                            # the service is an anyio program (its detached work in a task group
                            # the lifespan holds) on the loop uvicorn starts, which has no trio loop;
                            # asyncio's own loop, not uvloop (no dependency of the project)
                            loop="asyncio", http=_one_write_protocol())
    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: object) -> None:
            super().handle_exit(sig, frame)  # type: ignore[arg-type]
            service.end_polls()  # open GetActivityTask long polls answer now: they delay no shutdown
            self._captured_signals.clear()  # a clean stop exits 0, not by the signal again

    server = Server(config)
    try:
        server.run(sockets=[listening])
    except KeyboardInterrupt:
        pass
    except SystemExit:
        if app.startup_error is None:
            raise
        click.echo(f"asl {command}: {app.startup_error}", err=True)
        sys.exit(2)
    finally:
        logging.getLogger("uvicorn.error").removeFilter(quiet)
        if tracer_provider is not None:
            tracer_provider.shutdown()  # send the spans still buffered
    if not server.started:
        sys.exit(1)


async def _nothing(store: Any) -> None:
    """(opening the store, and migrating it, is the check)"""


def bound_socket(host: str, port: int) -> Any:
    """A TCP socket bound to host:port (0: any free port), not yet listening. IPPROTO_TCP, not
    the default 0: asyncio sets TCP_NODELAY only on connections whose socket says TCP, and without
    it an answer written in two parts waits for the client's delayed ACK (~40 ms a request)."""
    import socket

    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        if os.name == "posix":  # (as socket.create_server: a port in TIME_WAIT is free)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _one_write_protocol() -> Any:
    """uvicorn's httptools protocol, its answers sent in one write: uvicorn writes an answer's
    head and its body apart, two send() calls, each waking the client (which reads the head,
    then waits for the body); the writes of one event-loop step go out together after it
    (half the server's send() calls, ~15% fewer system calls in a boto3 client). Without
    httptools: uvicorn's choice.

    It tells the app whether an answer reached the connection (the ``asl.written`` extension
    of each request's scope, `asl.service.app`): uvicorn's send does nothing once the client has
    gone (ASGI 2.3), and a write held for the end of the step is dropped when the connection
    closed meanwhile. A GetActivityTask answer not written gives its task back."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:
        return "auto"

    class OneWrite:  # a connection's transport whose write() waits for the end of the loop step
        def __init__(self, transport: Any, loop: Any) -> None:
            self._transport, self._loop, self._pending = transport, loop, []
            self._flushed: list[Any] = []  # futures told whether the pending writes went out
            self.wrote = True  # whether the last writes went out

        def write(self, data: bytes) -> None:
            if not self._pending:
                self._loop.call_soon(self._flush)
            self._pending.append(data)

        def _flush(self) -> None:
            if self._pending:
                data = b"".join(self._pending)
                self._pending.clear()
                self.wrote = not self._transport.is_closing()
                if self.wrote:
                    self._transport.write(data)
                    self.wrote = not self._transport.is_closing()  # (closed: the socket refused it)
            waiting, self._flushed = self._flushed, []
            for future in waiting:
                if not future.done():
                    future.set_result(self.wrote)

        async def written(self) -> bool:
            """Whether what was written so far went out (once the pending writes have)."""
            if not self._pending:
                return self.wrote
            future = self._loop.create_future()
            self._flushed.append(future)
            return await future

        def close(self) -> None:
            self._flush()
            self._transport.close()

        def __getattr__(self, name: str) -> Any:
            return getattr(self._transport, name)

    class Protocol(HttpToolsProtocol):
        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            self._one_write = OneWrite(transport, self.loop)
            super().connection_made(self._one_write)

        def on_headers_complete(self) -> None:
            super().on_headers_complete()
            cycle = self.cycle
            if cycle is not None and cycle.scope is self.scope:  # (not an upgrade)
                self.scope.setdefault("extensions", {})["asl.written"] = lambda: self._written(cycle)

        async def _written(self, cycle: Any) -> bool:
            # uvicorn's send marks the answer complete only when it wrote it (the client was there)
            return bool(cycle.response_complete) and await self._one_write.written()

    return Protocol
