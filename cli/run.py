"""`asl run`: execute a definition locally, trace it on stderr, print its output on stdout."""
from __future__ import annotations

import importlib
import importlib.util
import os
import re
import sys
from contextlib import contextmanager
from typing import Any, Iterator

import click

from .main import EXIT_FAILED, EXIT_INVALID, EXIT_OK, EXIT_USAGE, AnyCase
from .substitutions import read_substitutions, substitution_options


class UsageError(Exception):
    """A problem with what the user typed or pointed at: one line on stderr, exit 2."""


# The stores --store takes, as open_store reads them (asl run, executions, resume, redrive, worker, serve, console).
STORE_URLS = "sqlite:PATH, or a PATH ending in .db, .sqlite or .sqlite3 (SQLite as well); postgresql://USER@HOST/DB"

# AWS's rule for state machine and execution names (StartExecution, CreateStateMachine).
_NAME_REFUSED = re.compile(r'[\s<>{}\[\]?*"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f\ufffe\uffff\ud800-\udfff]')


def aws_options(command: Any, project: bool = True) -> Any:
    """``--aws``, ``--endpoint-url`` and ``--connections``: real services for the Tasks no handler
    or mock serves. `project`: the command reads ``[tool.asl]`` aws, endpoints and connections
    (`aws_config` given its table), and their help says so."""
    command = click.option("--connections", "connections", metavar="FILE", default=None,
                           help="HTTP Task connections: JSON, connection ARN -> EventBridge connection "
                                "with its secrets" + (" (default: [tool.asl] connections)." if project else "."))(command)
    command = click.option("--endpoint-url", "endpoint_urls", multiple=True, metavar="[SERVICE=]URL",
                           help="Endpoint of a service (sqs=http://..., repeatable), or of all services "
                                "(moto, LocalStack); implies --aws" +
                                ("; with [tool.asl.endpoints], winning for a service both name." if project else "."))(command)
    command = click.option("--s3-folder", "s3_folders", multiple=True, metavar="BUCKET=PATH",
                           help="Read and write BUCKET in the folder PATH (a Distributed Map's ItemReader and "
                                "ResultWriter), offline; repeatable.")(command)
    return click.option("--aws", is_flag=True, help="Call AWS services (boto3) for the Tasks that no handler "
                        "or mock serves" + (" (default: [tool.asl] aws)." if project else "."))(command)


def log_options(command: Any) -> Any:
    """``--log-level``, ``--log-file``, ``--log-group``, ``--include-execution-data``: execution
    logs as a state machine's LoggingConfiguration writes them (asl.engine.execlog)."""
    command = click.option("--include-execution-data", is_flag=True,
                           help="Execution logs: include the data (input, output, parameters).")(command)
    command = click.option("--log-group", metavar="NAME|ARN",
                           help="Execution logs: into this CloudWatch Logs group (boto3; --endpoint-url logs=URL "
                           "for moto or LocalStack).")(command)
    command = click.option("--log-file", metavar="FILE", help="Execution logs: append to FILE.")(command)
    return click.option("--log-level", type=AnyCase(["ALL", "ERROR", "FATAL", "OFF"]),
                        default=None, help="Execution logs as Step Functions writes them to CloudWatch Logs, one "
                        "JSON line per history event: to stderr, --log-file or --log-group (default ALL when "
                        "one of them is given, else OFF).")(command)


def execution_log(level: str | None, log_file: str | None, log_group: str | None, include_data: bool,
                  integrations: Any) -> Any:
    """The `ExecutionLog` the log options ask for, or None. A log group is written with the
    run's `Integrations` (its clients and endpoints), or default ones when the run has none."""
    if level is None and not (log_file or log_group or include_data):
        return None
    level = (level or "ALL").upper()
    if level == "OFF":
        return None
    if log_file and log_group:
        raise UsageError("give one destination for the execution logs: --log-file or --log-group, not both")
    from ..engine.execlog import CloudWatchDestination, ExecutionLog, FileDestination, log_group_name

    if log_file:
        unwritable = _unwritable(log_file)
        if unwritable:
            raise UsageError(f"--log-file {log_file}: cannot write there ({unwritable})")
        destination: Any = FileDestination(log_file)
    elif log_group:
        from ..engine.integrations import AwsConfigError, Integrations

        try:
            log_group_name(log_group)
            integrations = integrations or Integrations.of(True)
        except (ValueError, AwsConfigError) as exc:
            raise UsageError(f"--log-group: {exc}") from None
        destination = CloudWatchDestination(log_group, integrations.clients)
    else:
        destination = None  # stderr
    return ExecutionLog(level, include_data, destination)


def tracing_from_environment(command: str, warn: bool = True) -> tuple[Any, Any]:
    """(a Tracing observer, the TracerProvider to shut down at the end) when the OTEL_* variables
    ask for traces or a TracerProvider is set up already (``opentelemetry-instrument asl run``:
    then it is not ours to shut down), else (None, None). Variables that ask for traces without
    the OpenTelemetry SDK installed: a warning (unless not `warn`), and no traces, as the library
    runs; an exporter it does not know is a UsageError."""
    if "opentelemetry.trace" in sys.modules:  # imported before us: someone may have set a provider up
        from opentelemetry import trace as otel_trace

        existing = otel_trace.get_tracer_provider()
        if not isinstance(existing, (otel_trace.ProxyTracerProvider, otel_trace.NoOpTracerProvider)):
            from ..engine.tracing import Tracing

            return Tracing(existing), None
    from ..engine import otelconfig

    if not otelconfig.wanted():
        return None, None  # OpenTelemetry is not even imported
    try:
        provider = otelconfig.from_environment()
    except otelconfig.TracingNotInstalled as exc:
        if warn:
            click.echo(f"asl {command}: warning: {exc}: running without traces (OTEL_SDK_DISABLED=true silences "
                       "this warning)", err=True)
        return None, None
    except otelconfig.TracingConfigError as exc:
        raise UsageError(str(exc)) from None
    from ..engine.tracing import Tracing

    return Tracing(provider), provider


def close_observability(log: Any, provider: Any) -> None:
    """Send what the execution logs and the tracer still hold."""
    if log is not None:
        log.close()
    if provider is not None:
        provider.shutdown()


def s3_folder_map(specs: tuple[str, ...]) -> dict:
    """``--s3-folder BUCKET=PATH`` options -> the ``s3_folders=`` option of `prepare`."""
    from ..engine.distributed.objects import parse_folders

    try:
        return parse_folders(specs)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def executor_option(command: Any) -> Any:
    """``--executor``: where the children of Distributed Maps run."""
    def check(ctx: Any, param: Any, value: str | None) -> str | None:
        if value is None:
            return None
        from ..engine.executors import ExecutorError, check_executor

        try:
            return check_executor(value)
        except ExecutorError as exc:
            raise click.BadParameter(str(exc)) from None
    return click.option("--executor", default=None, metavar="inline|processes|dask|dask://HOST:PORT",
                        callback=check, help="Where Distributed Map child executions run: here (inline, the "
                        "default), local worker processes, a Dask LocalCluster started for the run, or the Dask "
                        "scheduler at HOST:PORT.")(command)


def new_executor(spec: str | None) -> Any:
    """The executor ``--executor`` names, not started yet (None for inline, or no option): made
    before anything is printed, so that a package it needs and lacks is the command's first word."""
    if spec is None:
        return None
    from ..engine.executors import ExecutorError, open_executor

    try:
        return open_executor(spec)
    except ExecutorError as exc:
        raise UsageError(str(exc)) from None


def machine_option(command: Any, project: bool = True) -> Any:
    """``--machine [NAME=]FILE``: a child machine that states:startExecution Tasks run here.
    `project`: the command reads ``[tool.asl.machines]`` too, and its help says so."""
    return click.option("--machine", "machine_files", multiple=True, metavar="[NAME=]FILE",
                        help="A state machine that states:startExecution (and aws-sdk:sfn) Tasks start here, "
                        "as a child execution (NAME defaults to the file's stem; repeatable" +
                        ("; default: [tool.asl] machines)." if project else ")."))(command)


def task_options(command: Any) -> Any:
    """How an execution's Tasks, ItemReaders, ResultWriters and Distributed Map children are
    served: ``--handlers``, ``--mock-config``, ``--test-case``, ``--machine``, `aws_options` and
    ``--executor``. One definition for asl run, resume, redrive and worker, so that an execution
    taken up again can be served as it was run (`task_setup` reads them)."""
    for option in reversed([
        click.option("--handlers", "handlers_spec", metavar="FILE.py|MODULE",
                     help="Python task handlers (default: [tool.asl] handlers)."),
        click.option("--mock-config", metavar="FILE",
                     help="A Step Functions Local MockConfigFile (default: [tool.asl] mock-config, or "
                     "$SFN_MOCK_CONFIG)."),
        click.option("--test-case", metavar="NAME", help="The MockConfigFile test case to use."),
        machine_option,
        aws_options,
        executor_option,
    ]):
        command = option(command)
    return command


class TaskSetup:
    """What `task_options` (and the ``[tool.asl]`` defaults) give: `options()` for `prepare`,
    `prepare_resume`, `prepare_redrive` and `Worker`; the executor, not started, apart.
    (A plain class: dataclasses would cost every command its import.)"""

    def __init__(self, test_case: str | None = None) -> None:
        self.handlers: Any = None
        self.module: Any = None            # the handlers' module (its `background`), or None
        self.mocks: Any = None             # the MockConfig, or None
        self.test_case = test_case
        self.served: dict = {}             # `served_by`: AWS services, child machines, mapped buckets
        self.executor: Any = None          # from `new_executor`, not started

    @property
    def integrations(self) -> Any:
        """The AWS services (boto3 clients) Tasks call, or None."""
        return self.served.get("aws")

    def options(self) -> dict:
        return {"handlers": self.handlers, "mock_config": self.mocks, "test_case": self.test_case, **self.served}


def served_by(config: Any, machine_files: tuple[str, ...] = (), aws: bool = False,
              endpoint_urls: tuple[str, ...] = (), connections: str | None = None,
              s3_folders: tuple[str, ...] = ()) -> dict:
    """`prepare`'s ``aws``, ``machines`` and ``s3_folders`` from the options that name them
    (`machine_option`, `aws_options`) and the ``[tool.asl]`` table `config` (None: none): how a
    Task no handler or mock serves is served; a problem is a UsageError."""
    return {"aws": run_integrations(aws_config(aws, endpoint_urls, connections, config)),
            "machines": child_machines(machine_files, config), "s3_folders": s3_folder_map(s3_folders)}


def task_setup(config: Any, handlers_spec: str | None = None, mock_config: str | None = None,
               test_case: str | None = None, machine_files: tuple[str, ...] = (), aws: bool = False,
               endpoint_urls: tuple[str, ...] = (), connections: str | None = None,
               s3_folders: tuple[str, ...] = (), executor: str | None = None) -> TaskSetup:
    """The `task_options` as given, completed from the ``[tool.asl]`` table `config` (None: none);
    a problem is a UsageError."""
    from ..engine import MockConfigError
    from ..engine.starting import mock_config_of

    search = None
    if config is not None:
        if handlers_spec is None and config.handlers is not None:
            handlers_spec, search = config.handlers, str(config.root)
        mock_config = mock_config or config.mock_config
        test_case = test_case or config.test_case
    setup = TaskSetup(test_case=test_case)
    if handlers_spec:
        try:
            setup.handlers, setup.module = load_handlers(handlers_spec, search)
        except UsageError as exc:
            if search is None:
                raise
            raise UsageError(f"[tool.asl] handlers of {config.path}: {exc}") from None
    try:
        setup.mocks = mock_config_of(mock_config, test_case)
    except MockConfigError as exc:
        raise UsageError(str(exc)) from None
    setup.served = served_by(config, machine_files, aws, endpoint_urls, connections, s3_folders)
    setup.executor = new_executor(executor)
    return setup


async def attach_executor(execution: Any, executor: Any, trace: Any = None) -> None:
    """Start `executor` (from `new_executor`; None: none) for `execution`; `execute` closes it.
    With a `trace`, a dim line on stderr says which local workers start (it can take seconds;
    a scheduler that cannot be reached is the first line, as it is without a trace)."""
    if executor is None:
        return
    from ..engine.executors import ExecutorError

    if trace is not None and getattr(executor, "address", None) is None:
        click.echo(trace.style.dim(_starting(executor) + trace.style["etc"]), err=True)
    try:
        await executor.start()
    except ExecutorError as exc:  # its scheduler cannot be reached
        raise ServiceProblem(str(exc)) from None
    execution.executor = executor


def _starting(executor: Any) -> str:
    """What starting the local `executor` does, for the trace: ``starting 2 worker processes``."""
    workers = executor.workers
    what = "worker process" + "es" * (workers != 1)
    return f"starting {workers} {what}" if executor.name == "processes" else \
        f"starting a Dask LocalCluster of {workers} {what}"


async def detach_executor(execution: Any) -> None:
    """Close the executor `attach_executor` opened for `execution`, if any: in the task that
    opened it, outside any cancel scope opened since (its task group's rule; it shields the
    backend's shutdown itself)."""
    executor = getattr(execution, "executor", None)
    if executor is not None:
        execution.executor = None
        await executor.aclose()


def aws_config(aws: bool, endpoint_urls: tuple[str, ...], connections: str | None = None,
               project: Any = None) -> Any:
    """The ``aws=`` option of `prepare` from the CLI's flags and the ``[tool.asl]`` table
    (`project`); None: no services. ``--aws``, ``--endpoint-url`` or ``aws = true`` call every
    service; ``[tool.asl] endpoints`` alone only those services; a connections file alone only
    HTTP Tasks (Step Functions Local's LAMBDA_ENDPOINT-style variables are read by the engine)."""
    from ..engine.integrations.config import parse_endpoints

    endpoints: dict = dict(getattr(project, "endpoints", None) or {})
    connections = connections or getattr(project, "connections", None)
    every = aws or bool(endpoint_urls) or bool(getattr(project, "aws", None))
    if not every and not endpoints and not connections:
        return None
    from ..engine.integrations import AwsConfig, AwsConfigError

    try:
        endpoints.update(parse_endpoints(list(endpoint_urls)))
        return AwsConfig.of({"endpoints": endpoints, "only": not every, "connections": connections})
    except AwsConfigError as exc:
        raise UsageError(str(exc)) from None


def run_integrations(services: Any) -> Any:
    """The run's `Integrations` (boto3 clients), built once for the execution and its log
    group, from `aws_config`'s answer; None when no service is called."""
    from ..engine.integrations import AwsConfigError, Integrations

    try:
        return Integrations.of(services)
    except AwsConfigError as exc:
        raise UsageError(str(exc)) from None


def child_machines(files: tuple[str, ...], project: Any) -> dict | None:
    """``--machine [NAME=]FILE`` and ``[tool.asl] machines``: name -> compiled machine."""
    specs = dict(getattr(project, "machines", None) or {})
    for item in files:
        name, sep, path = item.partition("=")
        if not sep:
            name, path = os.path.splitext(os.path.basename(item))[0], item
        specs[name] = path
    if not specs:
        return None
    import asl

    machines = {}
    for name, path in specs.items():
        check_name("--machine", name)
        try:
            machines[name] = asl.load(path)
        except asl.ASLError as exc:
            raise UsageError(f"--machine {path}: {exc}") from None
    return machines


def check_name(option: str, name: str) -> None:
    """A UsageError unless AWS would take `name` as a state machine or execution name."""
    if not 1 <= len(name) <= 80 or _NAME_REFUSED.search(name):
        raise UsageError(f"{option}: Invalid Name: '{name}' (AWS takes 1-80 characters without whitespace, "
                         "control characters, < > { } [ ] ? * or \" # % \\ ^ | ~ ` $ & , ; : /)")


def read_stdin() -> bytes | str:
    """All of stdin, as bytes when it has them (the reader decodes, and says when it cannot)."""
    stream = sys.stdin
    return stream.buffer.read() if hasattr(stream, "buffer") else stream.read()


def read_input(path: str | None, inline: str | None) -> Any:
    """The execution input: --input FILE (or - for stdin), --input-json JSON, or {}."""
    return read_input_text(path, inline)[0]


def read_input_text(path: str | None, inline: str | None) -> tuple[Any, str | None]:
    """`read_input`, and the text it was read from (None: no input given)."""
    from ..source import SourceError, json_text, parse_json, read_json_text

    if inline is not None and path is not None:
        raise UsageError("give the input once: --input or --input-json, not both")
    try:
        if inline is not None:
            text, where = inline, "--input-json"
        elif path is None:
            return {}, None
        elif path == "-":
            text, where = json_text(read_stdin(), "<stdin>"), "<stdin>"
        else:
            text, where = read_json_text(path, "input file"), path
        return parse_json(text, where), text
    except SourceError as exc:
        raise UsageError(str(exc)) from None


def substitutions(pairs: tuple[str, ...], path: str | None) -> dict[str, str]:
    """--substitute / --substitutions as a mapping; a problem is a UsageError."""
    try:
        return read_substitutions(pairs, path)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def load_definition(definition: str, machine_type: str = "STANDARD",
                    substitutions: dict[str, str] | None = None, warn: bool = True) -> Any:
    """The one state machine of DEFINITION (a file, FILE#LogicalId of a template, or - for
    stdin), valid.

    A missing file, a template of several machines or a definition in S3 is a `UsageError`;
    an invalid definition prints its diagnostics and exits 3. `substitutions` fill ``${Name}``
    placeholders; with `warn`, each one left unfilled is printed as a warning on stderr.
    """
    from ..loading import validate_source
    from .report import diagnostic_line, render

    if definition == "-":  # the definition on stdin
        results = validate_source(read_stdin(), machine_type, name="<stdin>", filename="<stdin>", substitutions=substitutions)
    else:
        path = definition.rpartition("#")[0] if "#" in definition and not os.path.exists(definition) else definition
        if not os.path.exists(path):
            raise UsageError(f"{definition}: no such file")
        if os.path.isdir(path):
            raise UsageError(f"{path}: is a directory")
        results = validate_source(definition, machine_type, substitutions=substitutions)
    if len(results) != 1:
        if definition == "-":  # FILE#LogicalId picks one from a file: there is no such form for stdin
            raise UsageError(f"<stdin>: holds {len(results)} state machines ({', '.join(r.name for r in results)});"
                             " write it to a file and pick one with FILE#LogicalId")
        raise UsageError(f"{definition}: holds {len(results)} state machines; pick one with {definition}#LogicalId")
    if not results[0].ok:
        click.echo(render(results, "text", "ERROR"), err=True, nl=False)
        sys.exit(EXIT_INVALID)
    if definition == "-":
        results[0].name = "StateMachine"  # what AWS would be given as a name, not "<stdin>"
    if results[0].machine is None:  # the definition is in S3
        raise UsageError(results[0].diagnostics[0].message)
    from ..placeholders import CODE

    unfilled = [d for d in results[0].diagnostics if d.code == CODE]
    for d in unfilled if warn else ():
        click.echo(diagnostic_line(d, results[0].name), err=True)
    return results[0]


def _unwritable(path: str) -> str | None:
    """Why a file cannot be written at `path` (a folder is there, its folder is not), or None."""
    if os.path.isdir(path):
        return "it is a folder"
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        return f"no folder {os.path.relpath(folder)}"
    return None


def load_handlers(spec: str, search: str | None = None) -> tuple[Any, Any]:
    """A Handlers registry from a Python file or module: its `handlers` (or `HANDLERS`)
    attribute, and the module itself. A module is looked for in `search` (default: the
    current directory) before the installed packages."""
    import inspect

    from ..engine import Handlers

    try:
        if spec.endswith(".py") or os.path.sep in spec or "/" in spec:
            if not os.path.exists(spec):
                raise UsageError(f"{spec}: no such handlers file")
            name = "asl_handlers_" + os.path.splitext(os.path.basename(spec))[0]
            module_spec = importlib.util.spec_from_file_location(name, spec)
            if module_spec is None or module_spec.loader is None:
                raise UsageError(f"{spec}: not a Python file")
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[name] = module
            with _on_path(os.path.dirname(os.path.abspath(spec))), handler_output_to_stderr():
                module_spec.loader.exec_module(module)
        else:
            with _on_path(os.path.abspath(search or os.getcwd())), handler_output_to_stderr():
                module = importlib.import_module(spec)
    except UsageError:
        raise
    except BaseException as exc:  # the user's module failed to import: say which and why
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise UsageError(f"{_raised_at(exc, spec)}: cannot import handlers: {type(exc).__name__}: {exc}") from None
    found = getattr(module, "handlers", None)
    if found is None:  # not `or`: an empty registry is false, and valid when mocks serve every task
        found = getattr(module, "HANDLERS", None)
    if isinstance(found, dict):
        try:
            found = Handlers(found)
        except TypeError as exc:  # e.g. a value that is not a function
            raise UsageError(f"{spec}: {exc}") from None
    if not isinstance(found, Handlers):
        raise UsageError(f"{spec}: define `handlers = asl.engine.Handlers()` (or a dict HANDLERS) in it")
    background = getattr(module, "background", None)
    if background is not None and not inspect.iscoroutinefunction(background):
        raise UsageError(f"{spec}: `background` must be an async function taking the execution")
    return found, module


def _raised_at(exc: BaseException, spec: str) -> str:
    """Where the handlers module `spec` failed to import, as FILE:LINE: the line a SyntaxError
    names, else the deepest line of the module's own file in the traceback (the ``raise``, or
    the call or import that led to it); `spec` itself when no line of it ran (not found)."""
    if isinstance(exc, SyntaxError) and exc.filename and exc.lineno:
        return f"{_shown_path(exc.filename, spec)}:{exc.lineno}"
    import traceback

    frames = [(f.f_code.co_filename, line) for f, line in traceback.walk_tb(exc.__traceback__)]
    machinery = (os.path.abspath(__file__), os.path.dirname(importlib.__file__) + os.sep)
    # the module's top-level code: the first frame that is neither load_handlers' nor importlib's
    ours = [frame for frame in frames
            if not frame[0].startswith("<") and not os.path.abspath(frame[0]).startswith(machinery)]
    if not ours:
        return spec
    module_file = ours[0][0]
    line = [line for filename, line in ours if filename == module_file][-1]
    return f"{_shown_path(module_file, spec)}:{line}"


def _shown_path(filename: str, spec: str) -> str:
    """`filename` as the user wrote it (`spec`, for the handlers file itself), or relative to the
    current directory when under it."""
    if spec.endswith(".py") and os.path.abspath(spec) == os.path.abspath(filename):
        return spec
    relative = os.path.relpath(filename)
    return filename if relative.startswith("..") else relative


@contextmanager
def handler_output_to_stderr() -> Iterator[None]:
    """While handlers run (or their module is imported), their print() goes to stderr: stdout
    carries only the command's result (`asl run ... | jq` works). Process-wide, as the CLI may
    be; the library never touches sys.stdout."""
    stdout = sys.stdout
    sys.stdout = sys.stderr
    try:
        yield
    finally:
        sys.stdout = stdout


@contextmanager
def _on_path(directory: str) -> Iterator[None]:
    sys.path.insert(0, directory)
    try:
        yield
    finally:
        sys.path.remove(directory)


@click.command()
@click.argument("definition")
@click.option("--input", "input_path", metavar="FILE|-", help="Execution input: a JSON file, or - for stdin.")
@click.option("--input-json", metavar="JSON", help="Execution input given inline.")
@click.option("--name", "sm_name", metavar="NAME", help="State machine name (default: the file's stem).")
@click.option("--type", "machine_type", type=AnyCase(["STANDARD", "EXPRESS"]),
              default="STANDARD", show_default=True)
@click.option("--sync", is_flag=True, help="EXPRESS: run as StartSyncExecution does (no $$.Execution.RedriveCount).")
@click.option("--virtual-time/--real-time", default=None,
              help="Waits and retry delays take no real time (default: real time, or [tool.asl] virtual-time).")
@click.option("--history", "history_path", metavar="FILE", help="Write AWS's GetExecutionHistory JSON here.")
@click.option("--output-format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--seed", type=int, help="Seed for retry jitter and generated ids.")
@click.option("--quiet", "-q", is_flag=True, help="No trace: only the output (a failure still prints one line).")
@click.option("--verbose", "-v", is_flag=True,
              help="Trace each state's input and output at every data-flow step, and every Map item's states.")
@click.option("--color", "colour", type=click.Choice(["auto", "always", "never"]), default="auto",
              show_default=True, help="Colour the trace (auto: only on a terminal).")
@click.option("--store", "store_url", metavar="URL",
              help=f"Record the execution so asl resume / asl redrive can continue it: {STORE_URLS}.")
@click.option("--lease", "lease_seconds", type=click.FloatRange(0.5, None), default=None, metavar="SECONDS",
              help="With --store: how long another process waits before taking over this execution if this "
              "process dies (default 30).")
@substitution_options
@task_options
@log_options
def run(definition: str, input_path: str | None, input_json: str | None, sm_name: str | None, machine_type: str,
        sync: bool, virtual_time: bool | None, history_path: str | None, output_format: str, seed: int | None,
        quiet: bool, verbose: bool, colour: str, store_url: str | None = None, lease_seconds: float | None = None,
        substitute: tuple[str, ...] = (), substitutions_file: str | None = None,
        log_level: str | None = None, log_file: str | None = None, log_group: str | None = None,
        include_execution_data: bool = False, **task_options: Any) -> None:
    """Run DEFINITION locally: a trace of the execution on stderr, its output as JSON on stdout.

    The [tool.asl] table of the nearest pyproject.toml gives defaults (the command line wins;
    README: "Project defaults: [tool.asl]"): handlers, mock-config, test-case, virtual-time,
    aws, connections, endpoints (a table, SERVICE = URL: --endpoint-url) and machines (a table,
    NAME = FILE: --machine). OpenTelemetry traces when the OTEL_*
    variables ask for them (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_TRACES_EXPORTER). Exit 0 SUCCEEDED,
    1 FAILED / TIMED_OUT / ABORTED, 2 usage error, 3 invalid definition.
    """
    from ..engine import InvalidExecutionInput, MissingHandlerError, MockConfigError, missing_handlers, prepare
    from ..engine.tasks import UnknownMockMachine
    from ..engine.observe import combine
    from ..jsontext import dumps
    from .project import find_config

    if quiet and verbose:
        _usage("--quiet and --verbose do not go together")
    if sync and machine_type.upper() != "EXPRESS":
        _usage("--sync goes with --type EXPRESS (StartSyncExecution runs only Express state machines)")
    try:
        if definition == "-" and input_path == "-":
            raise UsageError("stdin can hold the definition or the input, not both")
        if sm_name is not None:
            check_name("--name", sm_name)
        result = load_definition(definition, machine_type.upper(), substitutions(substitute, substitutions_file),
                                 warn=not quiet)
        config = find_config()
        if config is not None and virtual_time is None:
            virtual_time = config.virtual_time
        unwritable = _unwritable(history_path) if history_path else None
        if unwritable:
            raise UsageError(f"--history {history_path}: cannot write there ({unwritable})")
        execution_input, input_text = read_input_text(input_path, input_json)
        tasks = task_setup(config, **task_options)
        log = execution_log(log_level, log_file, log_group, include_execution_data, tasks.integrations)
        tracing, provider = tracing_from_environment("run", warn=not quiet)
    except UsageError as exc:
        _usage(str(exc))
    machine = result.machine
    name = sm_name or result.name
    stderr = sys.stderr
    trace = None if quiet else _trace(stderr, colour, verbose)
    try:
        execution = prepare(machine, execution_input, state_machine_name=name, type=machine_type.upper(),
                            virtual_time=bool(virtual_time), seed=seed, observer=combine(trace, tracing), sync=sync,
                            log=log, **tasks.options())
    except (MissingHandlerError, MockConfigError, InvalidExecutionInput) as exc:
        _usage(str(exc) + ("; name it with --name or rename the definition file"
                           if isinstance(exc, UnknownMockMachine) else ""))
    missing = missing_handlers(execution)
    if missing and not quiet:  # not an error: the run fails only if it invokes one of them
        how = "" if tasks.handlers is not None or execution.mocks is not None else \
            "; give handlers with --handlers FILE.py, or mocks with --mock-config FILE --test-case NAME"
        click.echo("asl run: warning: no handler or mock for the Task state" + "s" * (len(missing) > 1) + " " +
                   ", ".join(f"'{state}'" for state, _ in missing) + f" (the run fails if it invokes one){how}",
                   err=True)
    execution.keep_input_text(input_text)  # as StartExecution keeps its caller's
    if trace is not None:
        trace.root = execution
    background = getattr(tasks.module, "background", None)

    def header() -> None:  # once the executor has started: its failure is the first line
        if trace is not None:
            where = f" {trace.style['dot']} [tool.asl] of {config.path}" if config is not None else ""
            clock = "virtual time" if virtual_time else "real time"
            click.echo(trace.style.dim(f"{name}: {definition} {trace.style['dot']} {machine_type.upper()} "
                                       f"{trace.style['dot']} {clock}{where}"), err=True)

    async def start() -> tuple[Any, Any]:
        await attach_executor(execution, tasks.executor, trace)
        header()
        if store_url is None:
            return execution, None
        from ..engine.stores import open_store

        try:
            store = open_store(store_url)
            await store.open()
            await execution.attach(store, lease_seconds=lease_seconds or 30.0, with_start=True)
        except BaseException:
            await detach_executor(execution)
            raise
        return execution, store
    try:
        outcome, problem = execute(start, background)
    except KeyboardInterrupt:
        close_observability(log, provider)
        click.echo("asl run: interrupted", err=True)
        sys.exit(130)
    except ServiceProblem as exc:
        close_observability(log, provider)
        _usage(str(exc))
    close_observability(log, provider)
    if store_url is not None and trace is not None:
        click.echo(trace.style.dim(f"recorded in {store_url} as {execution.arn}"), err=True)
    report("run", outcome, name, trace, machine, virtual_time, history_path, output_format, problem)


def report(command: str, outcome: Any, name: str, trace: Any, machine: Any, virtual_time: bool | None,
           history_path: str | None, output_format: str, problem: str | None) -> None:
    """Print how an execution ended as `asl run` does, and exit with its code."""
    from ..jsontext import dumps

    if history_path:
        try:
            with open(history_path, "w", encoding="utf-8") as fh:
                fh.write(dumps(outcome.history.to_aws(), indent=2, ensure_ascii=True) + "\n")
        except OSError as exc:
            click.echo(f"asl {command}: cannot write history to {history_path}: {exc}", err=True)
            sys.exit(EXIT_USAGE)
    if output_format == "json":
        click.echo(dumps(outcome.to_json()))
    elif outcome.succeeded:
        click.echo(dumps(outcome.output, indent=2))
    if problem:
        click.echo(f"asl {command}: {problem}", err=True)
    _summary(outcome, name, trace, machine, virtual_time, history_path)
    sys.exit(EXIT_OK if outcome.succeeded else EXIT_FAILED)


class ServiceProblem(Exception):
    """What went wrong opening a store or taking an execution up: one line, exit 2."""


def _trace(stderr: Any, colour: str, verbose: bool) -> Any:
    from .style import Style, use_colour
    from .trace import Trace

    isatty = getattr(stderr, "isatty", None)
    live = bool(isatty and isatty()) and os.environ.get("TERM") != "dumb"
    return Trace(stderr, Style(use_colour(stderr, colour), stderr), verbose=verbose, live=live)


def execute(start: Any, background: Any) -> tuple[Any, str | None]:
    """Run the execution that ``await start()`` gives (with the store it uses, or None);
    beside it the handlers module's `background(execution)`, if any (it can complete
    .waitForTaskToken tasks), cancelled when the execution ends. A store, journal or lease
    problem is a `ServiceProblem`."""
    import anyio

    from ..engine import ExecutionNotRedrivable, LeaseHeld, MockConfigError, NotResumable
    from ..engine.execution import ExecutionAlreadyExists, LeaseLost
    from ..engine.journal import JournalMismatch
    from ..engine.stores import StoreError

    problems: list[str] = []
    execution: Any = None

    async def companion() -> None:
        try:
            await background(execution)
        except Exception as exc:  # the user's code: report it, stop the execution
            problems.append(f"background() failed: {type(exc).__name__}: {exc}")
            execution.stop("asl.BackgroundFailed", f"{type(exc).__name__}: {exc}")

    async def main() -> Any:
        nonlocal execution
        execution, store = await start()
        try:
            beside = [companion] if background is not None else []
            owner = getattr(execution.sink, "owner", None)
            if owner is not None and store.shared:
                # the others see this process alive, and take the execution over 5-6 s after it
                # dies; should it lose its registration, the run stops (LeaseLost)
                from ..engine.stores import watch_registration

                def heard(held: bool) -> None:
                    if not held:
                        execution.abandon()
                await store.register_process(owner)
                beside.append(lambda: watch_registration(store, owner, heard))
            if not beside:
                return await execution.run()
            failure: Exception | None = None
            async with anyio.create_task_group() as tg:
                for work in beside:
                    tg.start_soon(work)
                try:
                    outcome = await execution.run()
                except Exception as exc:  # (raised as itself, not in the task group's ExceptionGroup)
                    failure = exc
                tg.cancel_scope.cancel()
            if failure is not None:
                raise failure
            return outcome
        finally:
            try:
                await detach_executor(execution)  # the one start() opened
            finally:
                if store is not None:
                    with anyio.CancelScope(shield=True):
                        await store.close()

    # This process's start-up objects (modules, the parsed definition, the handlers) live until
    # it exits: out of the collector's way, the cyclic collections an execution's many small JSON
    # values set off do not walk them each time (about 20% of a short run). The command owns the
    # process; the engine never tunes the collector itself.
    import gc
    gc.freeze()
    try:
        with handler_output_to_stderr():
            outcome = anyio.run(main)
    except (StoreError, NotResumable, LeaseHeld, LeaseLost, ExecutionNotRedrivable, JournalMismatch,
            ExecutionAlreadyExists, MockConfigError) as exc:  # (resume, redrive: a test case not in the file)
        raise ServiceProblem(str(exc)) from None
    return outcome, problems[0] if problems else None


def _summary(outcome: Any, name: str, trace: Any, machine: Any, virtual_time: bool | None,
             history_path: str | None) -> None:
    """The closing lines on stderr: status, time, and for a failure where and why."""
    from .style import duration, error_text

    if trace is None:
        if not outcome.succeeded:
            click.echo(f"{outcome.status}: {error_text(outcome.error, outcome.cause)}", err=True)
            if outcome.hint:
                click.echo(f"  why: {outcome.hint}", err=True)
        return
    from ..histories import Timeline
    from .history import failure_lines

    s = trace.style
    began, transitions, part = outcome.start_time, outcome.transitions, ""
    if trace.taken_up is not None:  # resumed or redriven: what this run did, not what the replay showed
        began, transitions, part = trace.since, transitions - trace.replayed_entries, f"{trace.taken_up}: "
    took = duration(outcome.stop_time - began) + (" (virtual)" if virtual_time else "")
    lines = [f"{s.status(outcome.status)}  {s.name(name)} {s['dot']} {part}{transitions} state "
             f"transition{'' if transitions == 1 else 's'} {s['dot']} {took}"]
    if not outcome.succeeded:
        failure = Timeline(outcome.history.events).failure
        if failure is not None:
            lines += failure_lines(failure, s, machine)
        if outcome.hint and not any(hint == outcome.hint for _, hint in trace.hints_shown):
            # what AWS's cause leaves unsaid (not in the history: this run only), unless the
            # trace has just said it under the failing state
            lines.append(f"  {s.dim('why  ')}  {outcome.hint}")
    if history_path:
        lines.append(s.dim(f"history written to {history_path} (asl history {history_path})"))
    click.echo("\n".join(lines), err=True)


def _usage(message: str) -> None:
    click.echo(f"asl run: {message}", err=True)
    sys.exit(EXIT_USAGE)
