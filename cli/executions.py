"""Executions kept in a store: ``asl executions list|show|history``, ``asl resume``,
``asl redrive`` and ``asl worker``.

    asl run order.json --store sqlite:runs.db          # recorded as it runs
    asl executions list --store sqlite:runs.db
    asl resume ARN --store sqlite:runs.db --handlers handlers.py   # its process died: go on
    asl redrive ARN --store sqlite:runs.db --handlers handlers.py  # it failed: rerun what failed
    asl worker --store postgresql://... --handlers handlers.py     # take over what dead processes left

`resume` and `redrive` print as ``asl run`` does (output JSON on stdout, trace on stderr, the
same exit codes); a problem with the store, the lease or the journal is one line and exit 2.
"""
from __future__ import annotations

import sys
from typing import Any

import click

from .main import EXIT_OK, EXIT_USAGE
from .run import (STORE_URLS, ServiceProblem, UsageError, _trace, attach_executor, close_observability, execute, execution_log,
                  log_options, report, task_options, task_setup, tracing_from_environment)

_STORE = click.option("--store", "store_url", metavar="URL", default="sqlite:asl-serve.db", show_default=True,
                      help=f"Where the executions are kept: {STORE_URLS} (the default is asl serve's own, in the "
                           "current folder).")


def _run_options(fn: Any) -> Any:
    """asl run's output options, and the options that serve its Tasks (`task_options`)."""
    for option in reversed([
        click.option("--history", "history_path", metavar="FILE", help="Write AWS's GetExecutionHistory JSON here."),
        click.option("--output-format", type=click.Choice(["text", "json"]), default="text", show_default=True),
        click.option("--quiet", "-q", is_flag=True, help="No trace: only the output."),
        click.option("--verbose", "-v", is_flag=True, help="Trace every data-flow step."),
        click.option("--color", "colour", type=click.Choice(["auto", "always", "never"]), default="auto",
                     show_default=True),
        click.option("--lease", "lease_seconds", type=click.FloatRange(0.5, None), default=30.0, show_default=True,
                     metavar="SECONDS", help="How long another process waits before taking over if this one dies."),
    ]):
        fn = option(fn)
    return _STORE(task_options(log_options(fn)))


def _fail(command: str, message: str) -> None:
    click.echo(f"asl {command}: {message}", err=True)
    sys.exit(EXIT_USAGE)


def existing_store(command: str, url: str) -> None:
    """Fail for a store that cannot hold what a command reads (executions another process left):
    a SQLite file that is not there (a typo in the path would make an empty store), or one in
    this process's memory (memory, sqlite::memory:: always empty; a worker on it waited for ever)."""
    import os

    from ..engine.stores import StoreError, open_store

    try:
        store = open_store(url)  # (opens nothing yet)
    except StoreError as exc:
        _fail(command, str(exc))
    path = getattr(store, "path", None)
    if getattr(store, "url", None) == "memory" or path == ":memory:":
        _fail(command, f"--store {url}: a store in this process's memory holds no other process's executions: "
                       "give the one they are recorded in, sqlite:PATH or postgresql://USER@HOST/DB")
    if path is not None and not os.path.exists(path):
        _fail(command, f"sqlite:{path}: no such file (asl run --store and asl serve make one)")


def _setup(command: str, log_level: str | None, log_file: str | None, log_group: str | None, include_data: bool,
           task_options: dict, quiet: bool = False) -> tuple[Any, Any, Any, Any]:
    """(TaskSetup, execution log, tracing observer, tracer provider) from a command's options and
    the [tool.asl] defaults, as asl run makes them; a problem is one line and exit 2."""
    from .project import find_config

    try:
        tasks = task_setup(find_config(), **task_options)
        log = execution_log(log_level, log_file, log_group, include_data, tasks.integrations)
        tracing, provider = tracing_from_environment(command, warn=not quiet)
    except UsageError as exc:
        _fail(command, str(exc))
    return tasks, log, tracing, provider


def _take_up(command: str, arn: str, store_url: str, history_path: str | None, output_format: str, quiet: bool,
             verbose: bool, colour: str, lease_seconds: float, log_level: str | None = None,
             log_file: str | None = None, log_group: str | None = None, include_execution_data: bool = False,
             **task_options: Any) -> None:
    """resume / redrive: take the execution up from the store, run it, print as asl run does."""
    from .. import engine
    from ..engine.observe import combine
    from ..engine.stores import open_store

    if quiet and verbose:
        _fail(command, "--quiet and --verbose do not go together")
    existing_store(command, store_url)
    tasks, log, tracing, provider = _setup(command, log_level, log_file, log_group, include_execution_data,
                                           task_options, quiet)
    trace = None if quiet else _trace(sys.stderr, colour, verbose)
    prepare = engine.prepare_resume if command == "resume" else engine.prepare_redrive
    seen: dict = {}

    async def start() -> tuple[Any, Any]:
        store = open_store(store_url)
        await store.open()
        try:
            execution = await prepare(store, arn, observer=combine(trace, tracing), lease_seconds=lease_seconds,
                                      log=log, **tasks.options())
        except BaseException:
            await store.close()
            raise
        seen["execution"] = execution
        try:
            await attach_executor(execution, tasks.executor, trace)
        except BaseException:
            await store.close()
            raise
        if trace is not None:
            trace.root = execution
            trace.take_up("resumed" if command == "resume" else f"redrive {execution.redrive_count}",
                          execution.clock.now())
            what = "resumed from its journal" if command == "resume" else \
                f"redriven ({execution.redrive_count})"
            click.echo(trace.style.dim(f"{execution.state_machine_name}: {arn} {trace.style['dot']} {what} "
                                       f"{trace.style['dot']} {store_url}"), err=True)
        return execution, store
    try:
        outcome, problem = execute(start, getattr(tasks.module, "background", None))
    except KeyboardInterrupt:
        close_observability(log, provider)
        click.echo(f"asl {command}: interrupted", err=True)
        sys.exit(130)
    except ServiceProblem as exc:
        close_observability(log, provider)
        _fail(command, str(exc))
    close_observability(log, provider)
    execution = seen["execution"]
    report(command, outcome, execution.state_machine_name, trace, execution.machine,
           execution.clock.virtual, history_path, output_format, problem)


@click.command()
@click.argument("arn")
@_run_options
def resume(arn: str, **options: Any) -> None:
    """Continue the execution ARN, recorded in a store, whose process died.

    Finished tasks are not called again (their results are in the journal); a task that was in
    flight is called again; Waits end at their original deadlines. Exit codes as asl run.
    [tool.asl] gives defaults as for asl run, every key but virtual-time (the execution keeps its clock).
    """
    _take_up("resume", arn, **options)


@click.command()
@click.argument("arn")
@_run_options
def redrive(arn: str, **options: Any) -> None:
    """Redrive the FAILED, TIMED_OUT or ABORTED execution ARN (AWS's RedriveExecution).

    The states that did not succeed run again (inside a Parallel or Map, only the branches and
    iterations that did not); the history keeps the first attempt and gains ExecutionRedriven.
    Exit codes as asl run. [tool.asl] gives defaults as for asl run, every key but virtual-time
    (the execution keeps its clock).
    """
    _take_up("redrive", arn, **options)


@click.group()
def executions() -> None:
    """The executions kept in a store."""


def store_call(command: str, store_url: str, call: Any) -> Any:
    """What ``await call(store)`` returns, on the store of `store_url` opened for it and closed
    after; a store that is not there or cannot be opened is one line (`asl COMMAND: ...`), exit 2."""
    import anyio

    from ..engine.stores import StoreError, open_store

    existing_store(command, store_url)

    async def main() -> Any:
        store = open_store(store_url)
        await store.open()
        try:
            return await call(store)
        finally:
            await store.close()
    try:
        return anyio.run(main)
    except StoreError as exc:
        _fail(command, str(exc))


def describe(record: Any) -> dict:
    """DescribeExecution's answer for a stored execution."""
    from ..timestamps import format_timestamp

    out: dict = {"executionArn": record.arn, "stateMachineArn": record.state_machine_arn, "name": record.name,
                 "status": record.status, "startDate": format_timestamp(record.start_time)}
    if record.stop_time is not None:
        out["stopDate"] = format_timestamp(record.stop_time)
    out["input"] = record.input_text
    if record.output is not None:
        out["output"] = record.output
    for key in ("error", "cause"):
        if getattr(record, key) is not None:
            out[key] = getattr(record, key)
    out["redriveCount"] = record.redrive_count
    if record.redrive_time is not None:
        out["redriveDate"] = format_timestamp(record.redrive_time)
    return out


@executions.command("list")
@_STORE
@click.option("--status", type=click.Choice(["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"],
                                          case_sensitive=False),
              help="Only executions with this status.")
@click.option("--limit", type=click.IntRange(1, None), default=100, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def list_executions(store_url: str, status: str | None, limit: int, fmt: str) -> None:
    """Executions in the store, newest first."""
    from ..jsontext import dumps
    from ..timestamps import format_timestamp

    records = store_call("executions list", store_url, lambda s: s.list(status=status, limit=limit))
    if fmt == "json":
        click.echo(dumps({"executions": [
            {k: v for k, v in describe(r).items() if k not in ("input", "output", "error", "cause")}
            for r in records]}, indent=2))
        return
    for r in records:
        click.echo(f"{r.status:<10} {format_timestamp(r.start_time)}  {r.arn}")
    if not records:
        click.echo("no executions", err=True)


@executions.command("show")
@click.argument("arn")
@_STORE
def show_execution(arn: str, store_url: str) -> None:
    """One execution as DescribeExecution answers (JSON)."""
    from ..jsontext import dumps

    record = store_call("executions show", store_url, lambda s: s.get(arn))
    if record is None:
        _fail("executions show", f"Execution Does Not Exist: '{arn}'")
    click.echo(dumps(describe(record), indent=2))


@executions.command("history")
@click.argument("arn")
@_STORE
def execution_history(arn: str, store_url: str) -> None:
    """One execution's history as GetExecutionHistory answers (JSON; asl history reads it)."""
    from ..engine.history import History
    from ..jsontext import dumps

    async def read(store: Any) -> Any:
        if await store.get(arn) is None:
            return None
        return await store.events(arn)
    events = store_call("executions history", store_url, read)
    if events is None:
        _fail("executions history", f"Execution Does Not Exist: '{arn}'")
    history = History.restored([(e.type, e.previous_id, e.timestamp, e.details, e.site) for e in events])
    click.echo(dumps(history.to_aws(), indent=2))


@click.command()
@_STORE
@click.option("--lease", "lease_seconds", type=click.FloatRange(0.5, None), default=30.0, show_default=True,
              metavar="SECONDS", help="How long other workers wait before taking over if this one stops renewing its leases "
              "(when it dies, PostgreSQL sees its connections close: about 5 s).")
@click.option("--poll", "poll_seconds", type=click.FloatRange(0.05, None), default=1.0, show_default=True,
              metavar="SECONDS", help="How often to look for executions to take up.")
@click.option("--until-idle", is_flag=True, help="Exit once nothing is left to take up.")
@task_options
@log_options
def worker(store_url: str, lease_seconds: float, poll_seconds: float, until_idle: bool, log_level: str | None = None,
           log_file: str | None = None, log_group: str | None = None, include_execution_data: bool = False,
           **task_options: Any) -> None:
    """Advance the RUNNING executions of a store that no live process holds.

    Point several workers (or asl serve) at one PostgreSQL store: each execution advances in
    one of them, and when one dies the others take its executions over once their leases
    run out. One line per execution ended on stderr; Ctrl-C stops (executions stay resumable).
    Every execution taken up is served by the same handlers, mocks, services and executor.
    [tool.asl] gives defaults as for asl run, every key but virtual-time (each execution keeps its clock).
    """
    import anyio

    from ..engine.executors import ExecutorError
    from ..engine.stores import StoreError, open_store
    from ..engine.worker import Worker

    existing_store("worker", store_url)
    tasks, log, tracing, provider = _setup("worker", log_level, log_file, log_group, include_execution_data,
                                           task_options)
    opened = tasks.executor  # one for every execution taken up, as in asl serve

    def ended(result: Any) -> None:
        click.echo(f"{result.status:<10} {result.execution_arn}", err=True)

    async def main() -> Worker:
        store = open_store(store_url)
        await store.open()
        try:
            if opened is not None:
                await opened.start()
            work = Worker(store, lease_seconds=lease_seconds, poll_seconds=poll_seconds, on_result=ended, log=log,
                          observer=tracing, executor=opened, **tasks.options())
            click.echo(f"asl worker: {work.owner} taking up executions of {store_url}", err=True)
            await work.run(until_idle=until_idle)
            return work
        finally:
            try:
                if opened is not None:  # (in this task, outside any cancel scope: its task group's rule)
                    await opened.aclose()
            finally:
                with anyio.CancelScope(shield=True):
                    await store.close()
    try:
        done = anyio.run(main)
    except KeyboardInterrupt:
        click.echo("asl worker: interrupted", err=True)
        sys.exit(130)
    except (StoreError, ExecutorError) as exc:
        _fail("worker", str(exc))
    finally:
        close_observability(log, provider)
    for arn, exc in done.failures:
        click.echo(f"asl worker: {arn}: {exc}", err=True)
    sys.exit(EXIT_USAGE if done.failures else EXIT_OK)
