"""One state on its own, as AWS's TestState API runs it.

    from asl.engine import TestStateMock, test_state_sync

    result = test_state_sync(definition, "ProcessPayment", {"orderId": "1"},
                             inspection_level="DEBUG",
                             mock=TestStateMock(result='{"StatusCode": 200, "Payload": "{\\"ok\\": true}"}'))
    result.status           # SUCCEEDED | FAILED | RETRIABLE | CAUGHT_ERROR
    result.next_state, result.output, result.error, result.cause
    result.inspection_data  # input, afterInputPath, afterParameters, result, ..., errorDetails
    result.response()       # TestState's response as AWS sends it (JSON texts)

The request follows TestState's: `definition` is a state machine (a loaded one, a dict or
JSON text) with `state_name`, or a single state (it is named ``StateName``, as on AWS, and
``$$.State.Name`` is ``StateName`` in both cases, as on AWS);
``inspection_level`` INFO (no inspection data), DEBUG or TRACE; ``variables``; ``context``
(the ``$$`` object, which then replaces the default one); ``state_configuration``
(``retrierRetryCount``, ``mapIterationFailureCount``, ``errorCausedByState``,
``mapItemReaderData``: the text a Map's ItemReader reads instead of S3); ``mock`` (a `TestStateMock` or
TestState's ``{"result": JSON text} | {"errorOutput": {"error", "cause"}}`` with
``fieldValidationMode``). As on AWS the mock stands for the service call: its result is the
API's response (for ``lambda:invoke`` the whole Invoke response, ``Payload`` inside it), and
for a Map or Parallel the state's result. The state runs once: an error a Retry would retry
gives RETRIABLE, one a Catch takes CAUGHT_ERROR. A request AWS refuses raises
`TestStateError`, with AWS's error code (``ValidationException``, ``InvalidDefinition``) and
message. Without a mock a Task needs ``role_arn`` (AWS refuses it otherwise) and is served by
a handler (``handlers=``) or a MockConfigFile, as in `run` (with neither, it fails with
States.Runtime when invoked); the other options of `run` (``handlers``, ``mock_config``,
``test_case``, ``seed``, ``clock``, ``observer``, ...) apply too.
"""
from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import ASLError, StatesError
from ..jsontext import compact, json_equal
from .observe import Observer

LEVELS = ("INFO", "DEBUG", "TRACE")
MODES = ("STRICT", "PRESENT", "NONE")
LONE_STATE = "StateName"  # what AWS calls a state given alone
_CONTEXT_FIELDS = {"Execution": ("Id", "Input", "Name", "RoleArn", "StartTime", "RedriveCount", "RedriveTime"),
                   "State": ("EnteredTime", "Name", "RetryCount"), "StateMachine": ("Id", "Name"),
                   "Task": ("Token",)}
_UNSET = object()
_LOCATED = re.compile(r"An error occurred while executing the state '[^']*' \(entered at the event id #\d+\)\. ")


class TestStateError(ASLError):
    """A TestState request that AWS refuses: `code` is AWS's error code, the message AWS's."""

    __test__ = False  # not a pytest test class, whatever its name

    def __init__(self, code: str, message: str):
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")


@dataclass
class TestStateMock:
    """TestState's ``mock``: a `result` (JSON text, as AWS takes it) or an `error` and `cause`.

    `value` gives the result as a Python value instead of JSON text.
    """

    __test__ = False

    result: str | None = None
    error: str | None = None
    cause: str | None = None
    field_validation_mode: str = "STRICT"
    value: Any = _UNSET

    @classmethod
    def from_request(cls, mock: Any) -> "TestStateMock":
        """TestState's ``mock`` member (a dict, as boto3 takes it) as a `TestStateMock`."""
        if isinstance(mock, cls):
            return mock
        if not isinstance(mock, dict):
            raise TestStateError("ValidationException", "mock must be an object with result or errorOutput")
        error_output = mock.get("errorOutput")
        if "result" not in mock and error_output is None:  # AWS's words (radkawar/stackd
            # testdata/aws/stepfunctions/test_state_mock.json paced-west-mock-task-empty)
            raise TestStateError("ValidationException",
                                 "One of the following fields is required for a test mock: [result, errorOutput].")
        if "result" in mock and error_output is not None:
            raise TestStateError("ValidationException",
                                 "A test mock should have only one of the following fields: [result, errorOutput].")
        if error_output is not None:
            if not isinstance(error_output, dict):
                raise TestStateError("ValidationException", "mock.errorOutput must be an object with error and cause")
            if error_output.get("error") is None:  # (test_state_mock.json paced-west-mock-error-empty)
                raise TestStateError("ValidationException", "An error was not specified in the mocked error output.")
            made = cls(error=error_output.get("error"), cause=error_output.get("cause"))
        else:
            made = cls(result=mock.get("result"))
        made.field_validation_mode = mock.get("fieldValidationMode") or "STRICT"
        return made

    @property
    def throws(self) -> bool:
        return self.result is None and self.value is _UNSET

    def parsed(self) -> Any:
        if self.value is not _UNSET:
            return self.value
        if not isinstance(self.result, str):
            raise TestStateError("ValidationException", "Mocked result must be valid JSON")
        try:
            return json.loads(self.result)
        except json.JSONDecodeError:
            raise TestStateError("ValidationException", "Mocked result must be valid JSON") from None


@dataclass
class TestStateResult:
    """TestState's response: `status`, `output`, `error`, `cause`, `next_state`, and
    `inspection_data` (empty at INFO). `execution` is the engine's run of the state (its
    history and task calls)."""

    __test__ = False

    status: Literal["SUCCEEDED", "FAILED", "RETRIABLE", "CAUGHT_ERROR"]
    output: Any = None
    error: str | None = None
    cause: str | None = None
    next_state: str | None = None
    inspection_data: dict = field(default_factory=dict)
    execution: Any = field(default=None, repr=False, compare=False)
    given: tuple = field(default=(), repr=False, compare=False)  # (value, its JSON text) the request gave

    def to_json(self) -> dict:
        """The response's members, values as JSON values."""
        out: dict[str, Any] = {"status": self.status}
        if self.status in ("SUCCEEDED", "CAUGHT_ERROR"):
            out["output"] = self.output
        for key, value in (("error", self.error), ("cause", self.cause), ("nextState", self.next_state)):
            if value is not None:
                out[key] = value
        if self.inspection_data:
            out["inspectionData"] = dict(self.inspection_data)
        return out

    def response(self) -> dict:
        """The response as AWS sends it: output and the data-flow stages as JSON texts.

        A value the request gave as text (its input, the mock's result) that comes back
        unchanged is that text as written; any other value is compact JSON (the DG's TestState
        examples: input ``{"payload": {"foo": "bar"}}`` gives afterInputPath ``{"foo":"bar"}``,
        https://docs.aws.amazon.com/step-functions/latest/dg/test-state-isolation.html). A Map's
        afterItemsPath is a list of items written ``[a, b]`` (recorded: ``["charizard", "pikachu",
        "bulbasaur"]`` from compact context text, as Java prints a list)."""
        out = self.to_json()
        if "output" in out:
            out["output"] = self._text(out["output"])
        if "inspectionData" in out:
            out["inspectionData"] = {key: value if key in _NOT_TEXT else self._text(value, key)
                                     for key, value in out["inspectionData"].items()}
        return out

    def _text(self, value: Any, key: str = "output") -> str:
        if key in _LISTED and isinstance(value, list):  # as Java prints a list, whatever the request wrote
            return "[" + ", ".join(compact(item) for item in value) + "]"
        for given, text in self.given:
            if json_equal(given, value):
                return text
        return compact(value)


#: The Map's stages AWS writes as a Java list, ``[a, b]`` (radkawar/stackd test_state_mock.json
#: map-no-selector-inspection: "[1, 2, 3]" though the mocked result was written "[1,2,3]").
_LISTED = {"afterItemsPath", "afterItemSelector", "afterItemBatcher"}

_NOT_TEXT = {"errorDetails", "request", "response", "toleratedFailureCount", "toleratedFailurePercentage",
             "maxConcurrency"}


# --------------------------------------------------------------------------------------------
# The request
# --------------------------------------------------------------------------------------------

def load_definition(definition: Any, state_name: str | None) -> tuple[Any, Any]:
    """(machine, state) for a TestState `definition` and `state_name`; `TestStateError` if AWS refuses."""
    import asl
    from ..errors import DefinitionError

    if hasattr(definition, "iter_states"):
        machine = definition
    else:
        document = definition
        if isinstance(document, str):
            try:
                document = json.loads(document)
            except json.JSONDecodeError as exc:
                from ..jackson import describe

                found = describe(document)  # Jackson's words, as CreateStateMachine's (asl.source)
                text = found.message if found is not None else f"{exc.msg} at line {exc.lineno}"
                raise TestStateError("InvalidDefinition", f"Invalid State Machine Definition: "
                                     f"'INVALID_JSON_DESCRIPTION: {text}'") from None
        if not isinstance(document, dict):
            raise TestStateError("InvalidDefinition", "Invalid State Machine Definition: 'the definition must be "
                                 "a JSON object'")
        if "States" not in document and "Type" in document:
            state_name = state_name or LONE_STATE
            document = _lone_state_machine(document, state_name)
        try:
            machine = asl.load(document)
        except DefinitionError as exc:
            errors = [d for d in exc.diagnostics if d.is_error] or exc.diagnostics
            raise TestStateError("InvalidDefinition",
                                 f"Invalid State Machine Definition: '{errors[0].aws_text()}'") from None
    if state_name is None:
        raise TestStateError("ValidationException", "stateName is required when the definition is a state machine")
    for _, name, state in machine.iter_states():
        if name == state_name:
            return machine, state
    raise TestStateError("ValidationException", "State not found in definition")


def _lone_state_machine(state: dict, name: str) -> dict:
    """A machine around one state. Its transitions lead nowhere on AWS (TestState only names
    them): each gets a stand-in Succeed state so the machine is valid."""
    targets = {state.get("Next"), state.get("Default")}
    targets.update(rule.get("Next") for rule in state.get("Choices") or [] if isinstance(rule, dict))
    targets.update(c.get("Next") for c in state.get("Catch") or [] if isinstance(c, dict))
    states = {target: {"Type": "Succeed"} for target in targets if isinstance(target, str) and target != name}
    return {"StartAt": name, "States": {name: state, **states}}


def _check_mock(state: Any, mock: TestStateMock | None, run_nested: bool, config: "_Configuration",
                reveal_secrets: bool = False) -> None:
    kind = state.type
    if mock is None:
        if kind in ("Map", "Parallel") and not run_nested:
            raise TestStateError("InvalidDefinition", "TestState API does not support Map or Parallel states. "
                                 "Supported state types include: [Task, Wait, Pass, Succeed, Fail, Choice]")
        return
    if kind not in ("Task", "Map", "Parallel"):
        raise TestStateError("ValidationException", f"State type '{kind}' is not supported when a mock is specified")
    if reveal_secrets:  # AWS's answer, recorded by LocalStack's test_state_mock_validation.py::
        # TestStateMockValidation::test_reveal_secrets_is_true_and_mock_result_is_set (validated against AWS)
        raise TestStateError("ValidationException", "TestState does not support RevealSecrets when a mock is specified.")
    if mock.field_validation_mode not in MODES:
        raise TestStateError("ValidationException", f"Value '{mock.field_validation_mode}' at "
                             "'mock.fieldValidationMode' failed to satisfy constraint: Member must satisfy enum "
                             f"value set: [{', '.join(MODES)}]")
    if mock.throws:
        return
    value = mock.parsed()
    if kind == "Map" and state.result_writer is not None:  # the Map's result is then ResultWriterDetails
        if not isinstance(value, dict):
            raise TestStateError("ValidationException", "Mocked result must be a JSON object.")
    elif kind in ("Map", "Parallel") and not isinstance(value, list):
        raise TestStateError("ValidationException", "Mocked result must be an array.")
    if kind == "Parallel" and len(value) != len(state.branches):
        raise TestStateError("ValidationException", "Mocked result must contain the same number of items as number "
                                                    "of Parallel branches.")
    if kind == "Map" and isinstance(value, list) and config.failures is not None and config.failures > len(value):
        raise TestStateError("ValidationException", "Map iteration failure count must be less than or equal to the "
                                                    "number of Map iterations")
    if kind == "Map" and state.item_reader is not None and config.reader_data is None:
        # (test_state_mock.json paced-west-mock-map-reader-missing-data)
        raise TestStateError("ValidationException", "ItemReader data must be specified when testing a Map state "
                                                    "with ItemReader specified.")
    if kind == "Task" and mock.field_validation_mode != "NONE":
        from .shapes import check, output_shape

        shape = output_shape(state.resource)
        if shape is not None and not isinstance(value, dict):  # (test_state_mock.json paced-west-mock-task-null)
            raise TestStateError("ValidationException", "Mocked result must be a valid JSON object.")
        problem = check(value, shape, mock.field_validation_mode) if shape is not None else None
        if problem:
            raise TestStateError("ValidationException", f"Mock result schema validation error: {problem}")


def _check_context(context: Any, state: Any) -> dict:
    if isinstance(context, str):
        try:
            context = json.loads(context)
        except json.JSONDecodeError:
            raise TestStateError("ValidationException", "Invalid Context object provided: it is not valid "
                                 "JSON") from None
    if not isinstance(context, dict):
        raise TestStateError("ValidationException", "Invalid Context object provided: it must be an object")
    for key in context:
        if key == "Map":
            raise TestStateError("ValidationException", "Invalid Context object provided: 'Map' field is not "
                                 "supported when mocking a Context object")
        if key not in _CONTEXT_FIELDS:
            raise TestStateError("ValidationException", f"Invalid Context object provided: Field '{key}' is not "
                                 "allowed")
    for part, fields in context.items():
        if not isinstance(fields, dict):
            raise TestStateError("ValidationException", f"Invalid Context object provided: {part} must be an object")
        for name in fields:
            if name not in _CONTEXT_FIELDS[part]:
                raise TestStateError("ValidationException", f"Invalid Context object provided: Field '{name}' is "
                                     "not allowed")
        for name in ("Id", "Name", "RoleArn", "StartTime", "EnteredTime", "Token"):
            if name in fields and not isinstance(fields[name], str):
                raise TestStateError("ValidationException",
                                     f"Invalid Context object provided: {part}.{name} must be a string")
    resource = getattr(state, "resource", "") or ""
    if "Task" in context and not resource.endswith((".sync", ".sync:2", ".waitForTaskToken")):
        raise TestStateError("ValidationException", "Invalid Context object provided: Context object contains "
                             "'Task' when state is not a Task state with a '.sync' or '.waitForTaskToken' service "
                             "integration pattern")
    return context


@dataclass
class _Configuration:
    """A ``stateConfiguration``: the retries already made (``retrierRetryCount``), the Map
    iterations that failed (``mapIterationFailureCount``), the inner state a mocked error of a
    Map or Parallel comes from (``errorCausedByState``), the text the Map's ItemReader reads
    (``mapItemReaderData``)."""

    retries: int = 0
    failures: int | None = None
    caused_by: str | None = None
    reader_data: str | None = None


def _configuration(configuration: dict | None, state: Any, mock: TestStateMock | None) -> _Configuration:
    configuration = dict(configuration or {})
    made = _Configuration(configuration.pop("retrierRetryCount", 0) or 0,
                          configuration.pop("mapIterationFailureCount", None),
                          configuration.pop("errorCausedByState", None), configuration.pop("mapItemReaderData", None))
    for name in configuration:
        raise TestStateError("ValidationException", f"stateConfiguration.{name} is not supported by asl-engine")
    if made.failures is not None and mock is None:
        raise TestStateError("ValidationException",
                             "TestState does not support MapIterationFailureCount when a mock is not specified.")
    if made.failures is not None and state.type != "Map":  # AWS, testing a Task inside a Map by its
        # stateName (radkawar/stackd test_state_mock.json nested-task-failure-count)
        raise TestStateError("ValidationException", "MapIterationFailureCount is only supported when testing a "
                                                    "Map state.")
    if made.caused_by is not None and made.caused_by not in _inner_names(state):
        raise TestStateError("ValidationException", f"stateConfiguration.errorCausedByState '{made.caused_by}' is not "
                             f"a state inside the {state.type} state under test")
    if made.reader_data is not None and getattr(state, "item_reader", None) is None:
        raise TestStateError("ValidationException", "stateConfiguration.mapItemReaderData is given, but the state "
                             "under test is not a Map state with an ItemReader")
    return made


def _inner_names(state: Any) -> set[str]:
    """The names of the states inside a Map (its ItemProcessor) or Parallel (its branches), at any depth."""
    names: set[str] = set()
    blocks = _blocks(state)
    while blocks:
        for name, inner in blocks.pop().states.items():
            names.add(name)
            blocks.extend(_blocks(inner))
    return names


def _blocks(state: Any) -> list:
    if state.type == "Parallel":
        return list(state.branches)
    return [state.processor] if state.type == "Map" and state.processor is not None else []


# --------------------------------------------------------------------------------------------
# Running it
# --------------------------------------------------------------------------------------------

async def test_state(definition: Any, state_name: str | None = None, input: Any = None, *,
                     inspection_level: str = "INFO", variables: dict | None = None, mock: Any = None,
                     context: Any = None, state_configuration: dict | None = None, role_arn: str | None = None,
                     reveal_secrets: bool = False, run_nested: bool = False, require_role: bool = True,
                     input_text: str | None = None, **options: Any) -> TestStateResult:
    """Run one state as TestState does (see the module doc). `run_nested`: run a Map or Parallel
    given no mock with its inner states (AWS requires a mock for them). `input_text`: the JSON
    text `input` was read from, which the response repeats where the input comes back unchanged
    (`TestStateResult.response`). `require_role`: refuse a
    Task given neither a mock nor a `role_arn`, as AWS does (the test API, whose Tasks take test
    mocks and handlers, turns it off)."""
    from .starting import prepare
    from .interpreter import Frame, error_matches, retry_delay, run_state

    if inspection_level not in LEVELS:
        raise TestStateError("ValidationException", f"Value '{inspection_level}' at 'inspectionLevel' failed to "
                             f"satisfy constraint: Member must satisfy enum value set: [{', '.join(LEVELS)}]")
    machine, state = load_definition(definition, state_name)
    mock = TestStateMock.from_request(mock) if mock is not None else None
    config = _configuration(state_configuration, state, mock)
    _check_mock(state, mock, run_nested, config, reveal_secrets)
    given_context = _check_context(context, state) if context is not None else None
    if require_role and mock is None and state.type == "Task" and \
            (getattr(state, "resource", "") or "").endswith((".sync", ".sync:2", ".waitForTaskToken")):
        # AWS runs no job and waits for no token without a mock (recorded: radkawar/stackd
        # ecs_api_errors.json, sync-missing and callback-missing, ecs:runTask.sync and .waitForTaskToken)
        raise TestStateError("InvalidDefinition", "TestState API does not support '.sync' or '.waitForTaskToken' "
                                                  "integration patterns.")
    if require_role and role_arn is None and mock is None and state.type == "Task":
        # AWS: "When you specify a mock, specifying the role becomes optional" (DG test-state-isolation)
        raise TestStateError("ValidationException", "RoleArn must be specified when testing a Task state")
    given: list = []
    if isinstance(variables, str):
        variables_text = variables
        try:
            variables = json.loads(variables)
        except json.JSONDecodeError:
            raise TestStateError("ValidationException", "variables must be a JSON object") from None
        given.append((variables, variables_text))
    if variables is not None and not isinstance(variables, dict):
        raise TestStateError("ValidationException", "variables must be a JSON object")
    state_input = {} if input is None else input

    inspector = _Inspector(options.pop("observer", None))
    options.setdefault("type", "EXPRESS")  # AWS runs TestState as an Express execution
    # of a state machine of its own, named anew for each call (recorded: two TestState calls of one
    # test show two different $$.StateMachine.Name, neither of them "StateMachine")
    options.setdefault("state_machine_name", str(uuid.uuid4()))
    execution = prepare(machine, state_input, observer=inspector, check_handlers=False, **options)
    runner = None
    if mock is not None and state.type == "Task":
        execution.mocks = _OneMock(state.name, mock, execution.mocks)
    elif mock is not None:
        runner = _mocked_container(mock, config)
    # A Task needs a handler or mock only when it is invoked (then States.Runtime, as in a run):
    # a Task state that fails before the call (its TimeoutSecondsPath, its Parameters) needs none.
    # $$: the given context replaces the whole object, its State included (see StateRun.context)
    if given_context is not None:
        execution.set_context_base(given_context, given=True)
    else:
        execution.set_context_base(_default_context(execution, role_arn))

    # One attempt, as TestState makes: whether a Retry would retry is decided below.
    single = state.model_copy(update={"retry": []}) if getattr(state, "retry", None) else state
    # AWS's TestState calls the state it tests StateName in $$, also when a stateName picks it
    # from a whole definition (recorded: stateName State0 -> $states.context.State.Name "StateName")
    execution.context_names[id(single)] = LONE_STATE
    execution.start_time = execution.clock.now()
    raised: StatesError | None = None
    exchanges = _HttpExchanges(inspection_level)
    try:
        async with execution.clock.joined():
            output, next_name = await run_state(execution, single, state_input, Frame(dict(variables or {}), 0),
                                                runner=runner)
    except StatesError as err:
        raised, output, next_name = err, None, None
    finally:
        exchanges.close()
    inspector.extra.update(exchanges.shown(reveal_secrets))
    exception = raised if raised is not None else inspector.caught_error
    if exception is not None and _LOCATED.match(exception.cause or ""):
        exception = StatesError(exception.error, _LOCATED.sub("", exception.cause, count=1))  # no events, no prefix
    error, cause = (exception.error, exception.cause) if exception is not None else (None, None)
    details: dict = {}
    status = "SUCCEEDED"
    if exception is not None:
        status = "FAILED" if raised is not None else "CAUGHT_ERROR"
        for index, retrier in enumerate(getattr(state, "retry", None) or []):
            if error_matches(retrier.error_equals, exception):
                details["retryIndex"] = index
                if config.retries < retrier.max_attempts:
                    status = "RETRIABLE"
                    details["retryBackoffIntervalSeconds"] = round(retry_delay(retrier, config.retries,
                                                                               execution.rng))
                break
        if status == "CAUGHT_ERROR":
            details = {"catchIndex": inspector.catcher}
        if status != "CAUGHT_ERROR":
            output, next_name = None, None
    inspection = inspector.inspection(state, state_input, variables, inspection_level, details)
    if input_text is not None:
        given.insert(0, (state_input, input_text))
    if mock is not None and isinstance(mock.result, str) and mock.value is _UNSET:
        given.append((mock.parsed(), mock.result))
    return TestStateResult(status, output, error, cause, next_name, inspection, execution, tuple(given))


class _HttpExchanges:
    """At TRACE, the HTTP Task's request and response (`asl.engine.integrations.http.Exchange`),
    collected while the state runs; secrets only with revealSecrets."""

    def __init__(self, level: str):
        self.seen: list = []
        self.reset = None
        if level == "TRACE":
            from .integrations.http import EXCHANGES

            self.reset = EXCHANGES.set(self.seen)

    def close(self) -> None:
        if self.reset is not None:
            from .integrations.http import EXCHANGES

            EXCHANGES.reset(self.reset)

    def shown(self, reveal: bool) -> dict:
        if not self.seen:
            return {}
        last = self.seen[-1]
        return {"request": last.request(reveal), "response": last.response()}


def test_state_sync(definition: Any, state_name: str | None = None, input: Any = None, **options: Any) -> TestStateResult:
    """`test_state` for synchronous code (starts an event loop)."""
    import functools

    import anyio

    return anyio.run(functools.partial(test_state, definition, state_name, input, **options))


test_state.__test__ = False  # type: ignore[attr-defined]  # pytest: an imported test_state is no test
test_state_sync.__test__ = False  # type: ignore[attr-defined]


def _default_context(execution: Any, role_arn: str | None) -> dict:
    """TestState's ``$$``: an Express execution's, with the request's role. Its Id ends with the
    execution's Name, with no third part after the state machine's name as an Express execution's
    ARN has (recorded: ``arn:aws:states:…:express:<machine>:<name>``, Name ``<name>``)."""
    prefix = execution.state_machine_arn.replace(":stateMachine:", ":express:", 1)
    return {"Execution": {"Id": f"{prefix}:{execution.name}", "Input": execution.input, "Name": execution.name,
                          "RoleArn": role_arn, "StartTime": execution.iso(execution.clock.now())},
            "StateMachine": {"Id": execution.state_machine_arn, "Name": execution.state_machine_name}}


class _OneMock:
    """The mocks of the tested Task: the request's mock for it, the execution's for the rest."""

    def __init__(self, name: str, mock: TestStateMock, fallback: Any):
        self.name, self.mock, self.fallback = name, mock, fallback

    def has(self, state_name: str) -> bool:
        return state_name == self.name or (self.fallback is not None and self.fallback.has(state_name))

    def next_response(self, state_name: str) -> Any:
        from .tasks import MockResponse

        if state_name != self.name:
            return self.fallback.next_response(state_name)
        if self.mock.throws:
            return MockResponse(throws=True, error=self.mock.error, cause=self.mock.cause)
        return MockResponse(value=self.mock.parsed())


def _mocked_container(mock: TestStateMock, config: _Configuration) -> Any:
    """The runner of a mocked Map or Parallel: its input processing, then the mock as its result.
    A Map with an ItemReader reads ``mapItemReaderData`` (nothing without it), not its input."""
    from .concurrency import MapRunControl
    from .distributed import itemreader
    from .distributed.batching import Batcher, selector
    from .mapfields import map_items, positive_int, tolerance
    from .tasks import TaskFailed

    async def runner(run: Any) -> Any:
        state, failures = run.state, config.failures
        if state.type == "Map":
            effective = run.raw if state.is_jsonata else run.effective_input()
            scope = run.scope(effective)
            items: list | None = None
            if state.item_reader is None:
                items = map_items(run, effective)
                if not state.is_jsonata:
                    run.note("afterItemsPath", items)
            elif config.reader_data is not None:
                reader = itemreader.configure(run, state.item_reader, effective)
                items = list(itemreader.read_data(reader, config.reader_data))
                if reader.items_pointer is not None:
                    run.note("afterItemsPointer", items)
            # AWS shows each stage the Map has: the items selected, then batched with each item
            # as JSON text (radkawar/stackd test_state_mock.json west-mock-map-default,
            # map-batch-success, map-reader-success; none without ItemSelector/ItemBatcher:
            # map-no-selector-inspection)
            select = selector(run, effective)
            if items is not None and select is not None:
                items = [select(index, item) for index, item in enumerate(items)]
                run.note("afterItemSelector", items)
            iterations = items
            if items is not None and state.item_batcher is not None:
                batcher = Batcher.configure(run, scope)
                batches = [batch for item in items for batch in batcher.add(item)] + list(batcher.flush())
                iterations = [batcher.envelope(batch) for batch in batches]
                run.note("afterItemBatcher", [{**envelope, "Items": [compact(item) for item in envelope["Items"]]}
                                              for envelope in iterations])
            extra = {"maxConcurrency": positive_int(run, state.max_concurrency, state.max_concurrency_path,
                                                     "MaxConcurrency", scope, 0)}
            count, pct = tolerance(run, scope)
            if state.tolerated_failure_count is not None or state.tolerated_failure_count_path is not None:
                extra["toleratedFailureCount"] = count
            if state.tolerated_failure_percentage is not None or state.tolerated_failure_percentage_path is not None:
                # a Double in the API (recorded: {% 1 %} -> toleratedFailurePercentage 1.0)
                extra["toleratedFailurePercentage"] = None if pct is None else float(pct)
            run.ex.observer.extra.update(extra)
            tolerant = len(extra) > 1  # the failure count matters only against a tolerance the state sets
            if items is None:  # an ItemReader given no data: as many iterations as the mocked result has
                mocked = None if mock.throws else mock.parsed()
                items = mocked if isinstance(mocked, list) else [None] * (failures or 0)
            if tolerant and failures and MapRunControl(0, count, pct).exceeded(failures, len(items)):
                raise TaskFailed("States.ExceedToleratedFailureThreshold",
                                 "The specified tolerated failure threshold was exceeded")
            # then a mocked result must have one value per iteration (a batch is one): AWS checks
            # it after the tolerance (test_state_mock.json paced-west-mock-map-batch,
            # paced-west-mock-map-failure-count)
            if iterations is not None and not mock.throws and len(mock.parsed()) != len(iterations):
                raise TestStateError("ValidationException", "Input array does not equal the mocked result "
                                                            "array's size")
        if mock.throws:
            raise TaskFailed(mock.error, mock.cause)
        return run.finish(mock.parsed())

    return runner


class _Inspector(Observer):
    """Records the tested state's data flow (its first run) and passes every event on to `inner`."""

    def __init__(self, inner: Any):
        self.inner = inner
        self.run: Any = None
        self.stages: dict = {}
        self.extra: dict = {}
        self.catcher: int | None = None
        self.caught_error: StatesError | None = None

    def event(self, event: Any) -> None:
        super().event(event)
        if self.inner is not None:
            self.inner.event(event)

    def enter(self, run: Any) -> None:
        if self.run is None:
            self.run = run

    def data(self, run: Any, stage: str, value: Any) -> None:
        if run is self.run:
            self.stages.setdefault(stage, value)

    def caught(self, run: Any, error: Any, catcher: Any) -> None:
        if run is self.run:
            self.caught_error = error
            self.catcher = next(i for i, c in enumerate(run.state.catch) if c is catcher)

    def inspection(self, state: Any, state_input: Any, variables: dict | None, level: str, details: dict) -> dict:
        """AWS's inspectionData at `level` (nothing at INFO)."""
        if level == "INFO":
            return {}
        stages = dict(self.stages)
        kind, jsonata = state.type, state.is_jsonata
        if not jsonata:
            if kind == "Fail":
                stages["afterInputPath"] = state_input  # AWS shows it, though a Fail has no InputPath
            if kind == "Pass":
                # What AWS shows of a Pass (radkawar/stackd dataflow_execution.json test-pass-*):
                # with Result, `result` and afterResultSelector, no InputPath/Parameters stages,
                # even when ResultPath then fails (result-path-scalar); without, afterParameters
                # (the effective input when there are no Parameters) and afterResultSelector once
                # Parameters succeeded, nothing of a stage that failed (missing-input-path,
                # missing-parameters-path, intrinsic-type-error).
                if not _is_unset(getattr(state, "result", _UNSET)):
                    stages.pop("afterInputPath", None)
                    stages.pop("afterParameters", None)
                    if "result" in stages:
                        stages.setdefault("afterResultSelector", stages["result"])
                else:
                    stages.pop("result", None)
                    if "afterInputPath" in stages and state.parameters is None:
                        stages.setdefault("afterParameters", stages["afterInputPath"])
                    if "afterParameters" in stages:
                        stages.setdefault("afterResultSelector", stages["afterParameters"])
            elif "result" in stages and "afterResultPath" in stages:
                stages.setdefault("afterResultSelector", stages["result"])
        if kind in ("Map", "Parallel"):
            if "result" in stages and not jsonata:
                stages.setdefault("afterResultSelector", stages["result"])
            stages.pop("result", None)
        data = {"input": state_input}
        data.update((stage, stages.pop(stage)) for stage in _STAGE_ORDER if stage in stages)
        data.update(stages)
        data.update(self.extra)
        seen = self.run.variables if self.run is not None else variables
        if seen:
            data["variables"] = dict(seen)
        if details:
            data["errorDetails"] = details
        return data


_STAGE_ORDER = ("afterInputPath", "afterItemsPath", "afterItemsPointer", "afterItemSelector", "afterItemBatcher",
                "afterParameters", "afterArguments", "result",
                "afterResultSelector", "afterResultPath")


def _is_unset(value: Any) -> bool:
    from ..model import UNSET

    return value is UNSET or value is _UNSET
