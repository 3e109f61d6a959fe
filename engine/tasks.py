"""Task handlers and mocks: the Python code that stands in for Lambda functions and AWS services.

A `Handlers` registry maps a Task to a callable, sync or async, by (first match wins):

1. state name (``@handlers.state("ProcessPayment")``);
2. exact Resource ARN;
3. Lambda function name, for ``arn:aws:lambda:...:function:NAME`` and for
   ``arn:aws:states:::lambda:invoke`` and ``aws-sdk:lambda:invoke`` with ``FunctionName`` (a name or an ARN);
4. a glob over the Resource ARN (``arn:aws:lambda:*:*:function:validate*``).

A handler receives the effective input and a `TaskContext`; it returns a JSON value or raises.
`TaskFailed(error, cause)` fails the task with that error name; any other exception fails it
with the exception's class name and message, the way Lambda reports an unhandled error;
``sys.exit()`` fails it with ``Runtime.ExitError``, as Lambda reports a runtime that exited.

`MockConfig` reads AWS Step Functions Local's MockConfigFile unchanged::

    {"StateMachines": {"Order": {"TestCases": {"HappyPath": {"ProcessPayment": "PaymentOK"}}}},
     "MockedResponses": {"PaymentOK": {"0": {"Return": {...}}, "1-2": {"Throw": {"Error": "X", "Cause": "y"}}}}}
"""
from __future__ import annotations

import fnmatch
import functools
import inspect
import json
import os
import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Callable

from ..deepjson import strict_loads
from ..jsontext import compact
from ..errors import StatesError
from .threads import run_in_thread

AWS_DEFAULT_TIMEOUT = 99999999  # a Task's TimeoutSeconds when it gives none (matters for callbacks)

# Set (to {"answered": bool}) around a ``.sync`` job that races its Task's token: a job cancelled
# because SendTaskSuccess/Failure ended the Task is left running, as a Task that ended is no abort.
SYNC_ANSWERED: ContextVar[dict | None] = ContextVar("asl_sync_answered", default=None)


def answered_by_token() -> bool:
    """True in a ``.sync`` job cancelled because its Task was answered with ``$$.Task.Token``
    (the job, a child execution, is then not stopped)."""
    flag = SYNC_ANSWERED.get()
    return bool(flag and flag["answered"])


class Beat:
    """Heartbeats of one task attempt (`TaskContext.heartbeat`, SendTaskHeartbeat)."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0


class TaskFailed(StatesError):
    """Raise from a handler to fail the task with an explicit AWS error name and cause.

    Error names and causes are strings in AWS (other values are turned into their text).
    """

    def __init__(self, error: Any = "States.TaskFailed", cause: Any = None, *, heartbeat: bool = False):
        super().__init__(_text(error), _text(cause), heartbeat=heartbeat)


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":")) if isinstance(value, (dict, list)) else str(value)


class MarshalError(TypeError):
    """Raised by `json_copy` for a value that is not JSON (a set, bytes, NaN, ...)."""


def invoke_event(payload: Any) -> Any:
    """The event a function gets from ``lambda:invoke``'s Payload: a string that is JSON text is
    sent as the request body as it is, so the function gets the value it spells (recorded on AWS:
    LocalStack's test_credentials_base test_cross_account_service_lambda_invoke, Payload
    ``"\\"PayloadFromTrustedAccount\\""`` reaches an identity function as
    ``"PayloadFromTrustedAccount"``; raw AWS capture radkawar/stackd
    testdata/aws/stepfunctions/lambda_integrations.json history-optimized-json-null-text, Payload
    ``"null"`` reaches it as null); a null Payload is no body, which the Python runtime gives the
    function as ``{}`` (history-optimized-null); any other value is sent as its JSON, which gives
    it back."""
    if payload is None:
        return {}
    return json_or_text(payload) if isinstance(payload, str) else payload


class LambdaRequestRefused(StatesError):
    """Lambda refused an Invoke request before the function ran (`sdk_invoke_event`)."""


def sdk_invoke_event(arguments: Any, request_id: Callable[[], str]) -> Any:
    """The event a function gets from ``aws-sdk:lambda:invoke``: the Payload parameter, a string
    as the request body itself, never base64 (raw AWS capture radkawar/stackd
    testdata/aws/stepfunctions/lambda_integrations.json: history-sdk-payload-json-string, -json-null-text,
    -json-scalar-string reach the function as the object, null and the string their text spells;
    an object as its JSON, history-sdk-payload-object); absent, null or empty, no body, which the
    Python runtime gives the function as ``{}`` (history-sdk-payload-omitted, -null; Lambda's own
    Invoke of an empty body, direct-api-empty-body). Lambda reads the body with Jackson, and
    refuses text Jackson cannot read (`LambdaRequestRefused`, its request id drawn from
    `request_id`)."""
    payload = arguments.get("Payload") if isinstance(arguments, dict) else None
    if payload is None or (isinstance(payload, str) and not payload.strip()):
        return {}
    if not isinstance(payload, str):
        return payload
    from ..jackson import JSONTextError, line_column, loads

    try:
        return loads(payload)
    except JSONTextError as exc:
        # raw AWS capture radkawar/stackd testdata/aws/stepfunctions/lambda_integrations.json
        # history-sdk-payload-base64-string: Jackson's message, located at the token it could not
        # read ("line: 1, column: 1" for a token at the start), the Java SDK v2's cause after it
        line, column = line_column(payload, exc.offset)
        raise LambdaRequestRefused(
            "Lambda.InvalidRequestContentException",
            f"Could not parse request body into json: Could not parse payload into json: {exc.message}\n at "
            f"[Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: {line}, "
            f"column: {column}] (Service: Lambda, Status Code: 400, Request ID: {request_id()}) "
            "(SDK Attempt Count: 1)") from None


def json_or_text(text: str) -> Any:
    """The value `text` spells when it is JSON text, else `text` itself: how a Lambda request or
    response body is read. NaN and Infinity are not JSON (Python's `json.loads` takes them;
    Jackson, which Step Functions reads JSON with, does not), so they stay text."""
    try:
        return strict_loads(text)
    except ValueError:
        return text


def json_copy(value: Any) -> Any:
    """A copy of a JSON value, as the value would be after a trip through JSON text.

    Handlers receive their input this way and give their result back this way, as a Lambda
    function does: nothing a handler does to its objects reaches the execution afterwards.
    Tuples become lists; anything JSON cannot hold raises MarshalError, a value nested too
    deeply for the copy included.
    """
    try:
        return _json_copy(value)
    except RecursionError:
        raise MarshalError("the value is nested too deeply") from None


def _json_copy(value: Any) -> Any:
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is float:
        if value != value or value in (float("inf"), float("-inf")):
            raise MarshalError(f"Out of range float values are not JSON compliant: {value!r}")
        return value
    if kind is dict:
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                if isinstance(key, (int, float, bool)) or key is None:
                    key = json.dumps(key)
                else:
                    raise MarshalError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")
            out[key] = _json_copy(item)
        return out
    if kind is list or kind is tuple:
        return [_json_copy(item) for item in value]
    if isinstance(value, (str, int, float, dict, list, tuple)) and not isinstance(value, bool):
        base = str if isinstance(value, str) else int if isinstance(value, int) else float if isinstance(
            value, float) else dict if isinstance(value, dict) else list
        return _json_copy(base(value))
    raise MarshalError(f"Object of type {type(value).__name__} is not JSON serializable")


class MockConfigError(ValueError):
    """Raised when a MockConfigFile is malformed or names a test case that does not exist."""


def no_test_case(state_machine: str, test_case: str, known: list[str], where: str = "") -> MockConfigError:
    """The error for a test case the state machine's entry lacks, with the closest name."""
    from ..diagnostics import closest

    close = closest(test_case, known)
    hint = f"; did you mean '{close}'?" if close else ""
    return MockConfigError(f"{where}state machine '{state_machine}' has no test case '{test_case}' "
                           f"(it has: {', '.join(known) or 'none'}){hint}")


class UnknownMockMachine(MockConfigError):
    """The mock config has no entry for the state machine's name (`MockConfig.test_case`)."""


@dataclass
class TaskContext:
    """What a handler knows about the call it serves.

    execution_name, state_machine_name, state_name  names of the run and the Task state
    resource     the Task's Resource ARN
    attempt      1 for the first call, 2 for the first retry, ...
    context      the context object (``$$``)
    task_token   the token for ``.waitForTaskToken`` and ``.sync`` resources (else None)
    path         where the task runs: ``(("MapState", 3),)`` inside iteration 3 of MapState,
                 ``(("Fanout", 1),)`` inside branch 1 of Parallel Fanout (outermost first)
    redelivered  True when this attempt was already started before the process running the
                 execution died, or when it is in a Distributed Map child run again because
                 the executor's worker running it was lost: the call may have happened
                 (at-least-once; be idempotent)
    trace_headers  the attempt's W3C trace context (``traceparent``) when the run is traced
    """

    execution_name: str
    state_machine_name: str
    state_name: str
    resource: str
    attempt: int
    context: dict
    task_token: str | None = None
    path: tuple = ()
    redelivered: bool = False
    beat: Beat | None = field(default=None, repr=False)  # the attempt's heartbeats, counted

    @property
    def trace_headers(self) -> dict:
        """The trace context of this attempt as W3C headers (``{"traceparent": ...}``) when the run
        is traced (`asl.engine.tracing`), to pass on to what the handler calls; {} otherwise. Read
        it in the handler: the attempt's span is current there, so the handler's own spans nest
        under it without this."""
        return trace_headers()

    def heartbeat(self) -> None:
        """Tell the engine the task is alive (resets HeartbeatSeconds)."""
        if self.beat is not None:
            self.beat.count += 1


Handler = Callable[..., Any]


def trace_headers() -> dict:
    """The current span's W3C trace context (`asl.engine.tracing.current_headers`), {} at no cost
    when OpenTelemetry was never imported (then no span can be current)."""
    import sys

    if "opentelemetry.trace" not in sys.modules:
        return {}
    from .tracing import current_headers

    return current_headers()


def _describe(fn: Any) -> str:
    return getattr(fn, "__qualname__", repr(fn))


class Handlers:
    """Registry of task handlers. Register with a decorator or a dict entry::

        handlers = Handlers()

        @handlers.lambda_function("ValidateOrder")
        def validate(order, ctx): ...

        handlers = Handlers({"ValidateOrder": validate, "state:Notify": notify,
                             "arn:aws:states:::sns:publish": publish})

    Dict keys: ``state:NAME``, a Resource ARN, an ARN glob (with ``*``/``?``), or a bare
    name, which matches a Lambda function name or, failing that, a state name.
    """

    def __init__(self, mapping: dict[str, Handler] | None = None):
        self._by_state: dict[str, Handler] = {}
        self._by_resource: dict[str, Handler] = {}
        self._by_function: dict[str, Handler] = {}
        self._globs: list[tuple[str, Handler]] = []
        for key, fn in (mapping or {}).items():
            self.register(key, fn)

    # ---- registration ------------------------------------------------------------------

    def register(self, key: str, fn: Handler) -> Handler:
        if not callable(fn):
            raise TypeError(f"handler for {key!r} must be callable, not {type(fn).__name__}")
        if key.startswith("state:"):
            self._by_state[key[len("state:"):]] = fn
        elif key.startswith("arn:") and any(c in key for c in "*?["):
            self._globs.append((key, fn))
        elif key.startswith("arn:"):
            self._by_resource[key] = fn
        else:
            self._by_function[key] = fn
        return fn

    def state(self, name: str) -> Callable[[Handler], Handler]:
        """Decorator: handle the Task state called `name`."""
        return lambda fn: self.register(f"state:{name}", fn)

    def resource(self, arn_or_glob: str) -> Callable[[Handler], Handler]:
        """Decorator: handle a Resource ARN (or an ARN glob)."""
        return lambda fn: self.register(arn_or_glob, fn)

    def lambda_function(self, name: str) -> Callable[[Handler], Handler]:
        """Decorator: handle the Lambda function `name`, however the Task calls it."""
        return lambda fn: self.register(name, fn)

    def update(self, other: "Handlers | dict") -> None:
        other = other if isinstance(other, Handlers) else Handlers(other)
        self._by_state.update(other._by_state)
        self._by_resource.update(other._by_resource)
        self._by_function.update(other._by_function)
        self._globs.extend(other._globs)

    def __bool__(self) -> bool:
        return bool(self._by_state or self._by_resource or self._by_function or self._globs)

    # ---- lookup ------------------------------------------------------------------------

    def find(self, state_name: str, resource: str, function_name: str | None) -> Handler | None:
        fn = self._by_state.get(state_name) or self._by_resource.get(resource)
        if fn is None and function_name:
            fn = self._by_function.get(function_name)
            if fn is None:
                # FunctionName may be an ARN (with a qualifier) or name:alias
                short = function_name.split(":function:")[-1].split(":")[0]
                fn = self._by_function.get(short)
        if fn is None:
            fn = self._by_function.get(state_name)
        if fn is None:
            for pattern, candidate in self._globs:
                if fnmatch.fnmatchcase(resource, pattern):
                    return candidate
        return fn

    def names(self) -> list[str]:
        """Every registered state name, Resource ARN, glob and function name."""
        return [*self._by_state, *self._by_resource, *(p for p, _ in self._globs), *self._by_function]


class UnservedTask(StatesError):
    """A Task state was invoked that neither a mock nor a handler serves (States.Runtime).

    States.Runtime is the one error no Retry or Catch takes: a missing handler is a gap in
    the local set-up, not a failure of the workflow, and must not be retried or caught away.
    """

    def __init__(self, state_name: str, resource: str, function: str | None, handlers: "Handlers",
                 mocks: Any = None, also: str | None = None):
        from ..diagnostics import closest

        self.state_name = state_name
        how = (f"@handlers.lambda_function({function!r}) or " if function else "") + \
            f"@handlers.state({state_name!r})"
        message = f"No handler or mock for the Task state '{state_name}' (Resource {resource}). "
        known = handlers.names() + (list(mocks.mapping) if mocks is not None else [])
        for wanted in (function, state_name):
            close = closest(wanted, known) if wanted else None
            if close:
                message += f"Did you mean '{close}'? "
                break
        message += f"Register a handler with {how}, or mock the state in the MockConfigFile test case"
        if also:  # another way the run could serve it (`task._other_way`)
            message += f", or {also}"
        super().__init__("States.Runtime", message + ".")


def lambda_function_name(resource: str, arguments: Any) -> str | None:
    """The Lambda function a Task calls: from the ARN or from lambda:invoke's FunctionName."""
    if ":function:" in resource and resource.startswith("arn:"):
        return resource.split(":function:", 1)[1].split(":")[0]
    if resource.endswith(":lambda:invoke") or ":lambda:invoke." in resource:
        if isinstance(arguments, dict) and isinstance(arguments.get("FunctionName"), str):
            name = arguments["FunctionName"]
            if ":function:" in name:
                return name.split(":function:", 1)[1].split(":")[0]
            return name.split(":")[0]
    return None


async def call_handler(fn: Handler, payload: Any, ctx: TaskContext, clock: Any, body: bool = False) -> Any:
    """Call a handler, sync ones in a worker thread so they never block other branches; with
    `body`, its result is the response body the Python Lambda runtime would send (`response_body`).

    A sync handler that is cancelled (TimeoutSeconds, a failing sibling branch, Ctrl-C) is
    not waited for: its thread runs on in the background and its late result is discarded.
    """
    takes_ctx = _takes_context(fn)
    payload = json_copy(payload)  # the handler gets its own copy, as a Lambda gets JSON text
    if inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(getattr(fn, "__call__", None)):
        result = await (fn(payload, ctx) if takes_ctx else fn(payload))
    else:
        result = await run_in_thread(lambda: fn(payload, ctx) if takes_ctx else fn(payload), clock)
        if inspect.isawaitable(result):
            result = await result
    if body:
        return response_body(result)
    if isinstance(result, (bytes, bytearray)):
        return raw_result(bytes(result))
    return json_copy(result)


def response_body(result: Any) -> str:
    """A function's result as the text of the response body the Python Lambda runtime sends:
    bytes as they are, anything else as ``json.dumps`` writes it, spaced, and (the python3.12
    runtime) non-ASCII characters as they are (raw AWS capture radkawar/stackd
    testdata/aws/stepfunctions/lambda_integrations.json direct-api-object: the body
    ``{"received": {...}, "python_type": "dict", "unicode": "snowman ☃"}`` for a function that
    returned that dict); a value JSON cannot hold raises MarshalError."""
    if isinstance(result, (bytes, bytearray)):
        return bytes(result).decode("utf-8", errors="replace")
    return json.dumps(json_copy(result), ensure_ascii=False)


def raw_result(body: bytes) -> Any:
    """A handler's bytes as a function's result: the Python Lambda runtime sends bytes as the
    response body as they are, unlike other values it serialises (AWS's runtime interface client,
    ``marshal_response``); the result is the JSON they spell, or else their text. (Recorded on
    AWS: LocalStack's test_states_errors, a function returning 257 KB of bytes fails its Task
    with States.DataLimitExceeded, not Runtime.MarshalError.)"""
    return json_or_text(body.decode("utf-8", errors="replace"))


def _takes_context(fn: Handler) -> bool:
    try:
        params = [p for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)]
    except (TypeError, ValueError):
        return True
    return len(params) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in params)


def exception_to_error(exc: BaseException, as_returned: bool = False) -> tuple[str, str]:
    """A handler's exception -> (error, cause), as Lambda reports an unhandled error; with
    `as_returned` (a Lambda function ARN as the Resource) the function's error document is the
    cause as the Python runtime wrote it, else (``lambda:invoke``) as Step Functions compacts it
    (`asl.engine.integrations.optimized.function_result`, the same through boto3)."""
    if isinstance(exc, StatesError):
        return _text(exc.error), _text(exc.cause)
    if isinstance(exc, MarshalError):
        # what the Python Lambda runtime reports for a result it cannot serialise
        return _lambda_error("Runtime.MarshalError", f"Unable to marshal response: {exc}", as_returned)
    if isinstance(exc, SystemExit):
        # sys.exit() in a Lambda function ends its runtime process; Lambda reports the exit
        code = exc.code
        status = 0 if code is None else code & 0xFF if isinstance(code, int) else 1
        reason = f"Runtime exited with error: exit status {status}" if status else \
            "Runtime exited without providing a reason"
        return _lambda_error("Runtime.ExitError", f"RequestId: {uuid.uuid4()} Error: {reason}", as_returned)
    return _lambda_error(type(exc).__name__, str(exc), as_returned)


def raised_at(exc: BaseException) -> str | None:
    """Where a handler raised `exc`, for people (`StatesError.hint`; the cause stays Lambda's):
    ``KeyError raised in pay (handlers.py:12): amount = e["amount"]``, the innermost frame of
    the handler's own code, outside asl-engine, the standard library and installed packages;
    None when there is none (an error of ours about what the handler returned), and whenever
    it cannot be told: a hint never changes how a failure is reported. Cheap: one test per
    frame (by file, remembered), the source line read for the frame shown only."""
    try:
        frame = None
        for found, lineno in _walk(exc.__traceback__):
            if _handler_code(found.f_code.co_filename):
                frame = (found.f_code, lineno)
        if frame is None:
            return None
        import linecache

        code, lineno = frame
        line = linecache.getline(code.co_filename, lineno).strip()
        return (f"{type(exc).__name__} raised in {code.co_name} ({_shown_file(code.co_filename)}:{lineno})"
                + (f": {line}" if line else ""))
    except Exception:  # (a path on another drive, an unreadable file, ...)
        return None


def _walk(tb: Any) -> Any:
    while tb is not None:
        yield tb.tb_frame, tb.tb_lineno
        tb = tb.tb_next


@functools.lru_cache(maxsize=4096)
def _handler_code(filename: str) -> bool:
    """Whether `filename` is a handler's own code (not asl-engine's, nor a library's)."""
    return not filename.startswith("<") and not os.path.realpath(filename).startswith(_outside())


@functools.lru_cache(maxsize=1)
def _outside() -> tuple[str, ...]:
    """The folders of asl-engine itself, the standard library and installed packages."""
    import sysconfig

    paths = sysconfig.get_paths()
    own = (os.path.dirname(inspect.getfile(StatesError)), os.path.dirname(__file__))
    return tuple(os.path.join(os.path.realpath(p), "") for p in
                 {paths["stdlib"], paths["purelib"], paths["platlib"], *own})


def _shown_file(filename: str) -> str:
    """A file as people read it: from the current folder when it is below it."""
    return _shown_from(filename, os.getcwd())


@functools.lru_cache(maxsize=256)
def _shown_from(filename: str, cwd: str) -> str:
    path = os.path.realpath(filename)
    try:
        shown = os.path.relpath(path, cwd)
    except ValueError:  # another drive (Windows)
        return path
    return path if shown.startswith("..") else shown


def _lambda_error(name: str, message: str, as_returned: bool = False) -> tuple[str, str]:
    """(error, cause) of a failed Lambda invocation: the cause is the error document, as the
    Python runtime writes it (`json.dumps`'s defaults: spaced, non-ASCII escaped; recorded on AWS
    through a function ARN, LocalStack's test_express_sync test_retry) or compacted (recorded
    through ``lambda:invoke``, test_catch)."""
    document = {"errorMessage": message, "errorType": name}
    if as_returned:
        return name, json.dumps(document)
    return name, compact(document)


#: Exceptions a handler may raise that end the program rather than fail the task.
PASS_THROUGH = (KeyboardInterrupt, GeneratorExit)


class HandlerInterrupted(Exception):
    """A handler raised KeyboardInterrupt. It travels out of the execution's task groups as an
    ordinary exception (a KeyboardInterrupt raised inside an asyncio task escapes the event loop
    half-way); `Execution.run` raises KeyboardInterrupt in its place."""


# --------------------------------------------------------------------------------------------
# MockConfigFile
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MockResponse:
    """One mocked response: a `value` to return, or an `error`/`cause` to throw."""

    value: Any = None
    throws: bool = False
    error: str | None = None
    cause: str | None = None


class MockConfig:
    """AWS Step Functions Local's MockConfigFile: which state gets which responses, per test case."""

    def __init__(self, document: dict, source: str | None = None):
        if not isinstance(document, dict):
            raise MockConfigError("a mock config must be a JSON object with StateMachines and MockedResponses")
        self.source = source
        self.state_machines = document.get("StateMachines") or {}
        self.responses = document.get("MockedResponses") or {}
        self._parsed: dict[str, dict[int, MockResponse]] = {}
        for name, table in self.responses.items():
            self._parsed[name] = self._parse_table(name, table)

    @classmethod
    def from_file(cls, path: str) -> "MockConfig":
        from ..source import SourceError, read_json

        try:
            document = read_json(path, "MockConfigFile")
        except SourceError as exc:
            raise MockConfigError(str(exc)) from None
        try:
            return cls(document, path)
        except MockConfigError as exc:
            raise MockConfigError(f"{path}: {exc}") from None

    @classmethod
    def from_env(cls) -> "MockConfig | None":
        """The file named by ``SFN_MOCK_CONFIG``, as Step Functions Local and LocalStack read it."""
        path = os.environ.get("SFN_MOCK_CONFIG")
        if not path:
            return None
        try:
            return cls.from_file(path)
        except MockConfigError as exc:  # say where the name came from
            raise MockConfigError(f"SFN_MOCK_CONFIG={exc}") from None

    @staticmethod
    def unknown_case(config: "MockConfig | None", machine: str, case: str) -> str | None:
        """Why StartExecution of ``<machine ARN>#<case>`` is refused (ValidationException), as the
        service and a nested child started by a Task both answer it, or None when the case exists."""
        cases = ((config.state_machines.get(machine) or {}).get("TestCases") or {}) if config is not None else {}
        if case in cases:
            return None
        return f"Test case '{case}' of state machine '{machine}' is not in the mock config file"

    @staticmethod
    def _parse_table(name: str, table: Any) -> dict[int, MockResponse]:
        if not isinstance(table, dict):
            raise MockConfigError(f"MockedResponses.{name} must be an object of attempt ranges")
        out: dict[int, MockResponse] = {}
        for key, spec in table.items():
            try:
                lo, _, hi = str(key).partition("-")
                first, last = int(lo), int(hi or lo)
            except ValueError:
                raise MockConfigError(f"MockedResponses.{name}: '{key}' is not an attempt number or range "
                                      "such as \"0\" or \"1-2\"") from None
            if not isinstance(spec, dict) or ("Return" in spec) == ("Throw" in spec):
                raise MockConfigError(f"MockedResponses.{name}.{key} must hold exactly one of Return or Throw")
            if "Return" in spec:
                try:  # a value JSON cannot hold (NaN from a dict) is refused now, not when it is served
                    response = MockResponse(json_copy(spec["Return"]))
                except (MarshalError, RecursionError) as exc:
                    raise MockConfigError(f"MockedResponses.{name}.{key}.Return is not JSON: "
                                          f"{'nested too deeply' if isinstance(exc, RecursionError) else exc}") from None
            else:
                throw = spec["Throw"] or {}
                response = MockResponse(None, True, _text(throw.get("Error")), _text(throw.get("Cause")))
            for attempt in range(first, last + 1):
                out[attempt] = response
        return out

    def machine(self, state_machine: str) -> dict:
        """The entry of `state_machine` under StateMachines; UnknownMockMachine if none."""
        machine = self.state_machines.get(state_machine)
        if machine is None:
            known = ", ".join(self.state_machines) or "none"
            raise UnknownMockMachine(f"the mock config has no state machine '{state_machine}' (it has: {known})")
        return machine

    def test_case(self, state_machine: str, test_case: str) -> dict[str, str]:
        """The state -> response-name map of one test case."""
        cases = self.machine(state_machine).get("TestCases") or {}
        if test_case not in cases:
            raise no_test_case(state_machine, test_case, list(cases))
        mapping = cases[test_case]
        for state, response in mapping.items():
            if response not in self._parsed:
                raise MockConfigError(f"test case '{test_case}' maps state '{state}' to '{response}', which "
                                      "MockedResponses does not define")
        return mapping

    def response(self, name: str, call_index: int) -> MockResponse | None:
        """The response for the `call_index`-th call (0-based) of a state mocked with `name`."""
        return self._parsed[name].get(call_index)


class Mocks:
    """The mocks of one execution: test case chosen, call counts per state."""

    def __init__(self, config: MockConfig, mapping: dict[str, str]):
        self.config = config
        self.mapping = mapping
        self.calls: dict[str, int] = {}

    def has(self, state_name: str) -> bool:
        return state_name in self.mapping

    def next_response(self, state_name: str) -> MockResponse:
        index = self.calls.get(state_name, 0)
        self.calls[state_name] = index + 1
        name = self.mapping[state_name]
        response = self.config.response(name, index)
        if response is None:
            raise TaskFailed("States.Runtime", f"The mocked response '{name}' has no entry for call {index} "
                             f"of state '{state_name}'")
        return response
