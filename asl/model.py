"""The typed model of a state machine (pydantic v2).

One class per construct of the Amazon States Language; each field is named after its ASL
field (``input_path`` is ``InputPath``) and documents the spec rule it implements. Expressions
are compiled while the model is built, so the runtime only ever evaluates:

* JSONPath fields hold `asl.paths.Path` objects (``None`` where the definition wrote ``null``);
* payload templates (``Parameters``, ``ResultSelector``, ``ItemSelector``, ``Assign``,
  ``Arguments``, ``Output`` ...) hold `asl.templates.Template` objects;
* JSONata-capable scalar fields (``TimeoutSeconds``, ``Seconds``, ``MaxConcurrency`` ...) hold
  either their literal value or a `Template` that evaluates the expression.

The query language of each state (its own ``QueryLanguage`` or the machine's) decides how
``Assign``, ``ItemSelector`` and the JSONata-capable fields are compiled; it is passed down
through the validation context and kept in `State.query_language`.

Build a model with `asl.load` (which validates first and reports every problem with a
location); `StateMachine.model_validate` alone raises pydantic's ValidationError.
"""
from __future__ import annotations

import json
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import (BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, PrivateAttr, Tag,
                      ValidationInfo, model_validator)
from pydantic.alias_generators import to_pascal
from pydantic_core import PydanticCustomError

from .errors import ExpressionSyntaxError
from .paths import Path, compile_number_path, compile_path, compile_reference_path, compile_result_path
from .templates import JSONATA, JSONPATH, Template, TemplateError, compile_template, is_jsonata

STATE_TYPES = ("Task", "Wait", "Pass", "Succeed", "Fail", "Choice", "Parallel", "Map")


# --------------------------------------------------------------------------------------------
# Field types
# --------------------------------------------------------------------------------------------

def _ql(info: ValidationInfo) -> str:
    ctx = info.context
    return ctx.get("ql", JSONPATH) if ctx else JSONPATH


def _field_name(info: ValidationInfo) -> str:
    return to_pascal(info.field_name or "")


def _custom_error(kind: str, message: str, context: dict | None = None) -> PydanticCustomError:
    """A PydanticCustomError that pydantic-core can always render: a lone surrogate (a dict
    definition can hold one, and JSON text can write one as ``"\\udfff"``) in the message or
    its context would make ``ValidationError.errors()`` itself raise, so it is shown escaped."""
    def printable(text: Any) -> Any:
        return text.encode("utf-8", "backslashreplace").decode("utf-8") if isinstance(text, str) else text

    return PydanticCustomError(kind, printable(message),
                               {k: printable(v) for k, v in context.items()} if context else None)


def _as_path(value: Any, info: ValidationInfo) -> Path | None:
    """A Path (``InputPath``, ``OutputPath``, ``ItemsPath`` ...); ``null`` stays None."""
    if value is None or isinstance(value, Path):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError("asl_type", "Expected value of type [STRING]")
    try:
        return compile_path(value)
    except ExpressionSyntaxError as exc:
        raise _custom_error("asl_path", "Value must be a valid JSONPath.",
                                  {"field": _field_name(info), "detail": str(exc)}) from None


def _as_reference_path(value: Any, info: ValidationInfo, compile_: Any = compile_reference_path) -> Path | None:
    """A Reference Path (``ResultPath``, ``Variable``, ``SecondsPath`` ...)."""
    if value is None or isinstance(value, Path):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError("asl_type", "Expected value of type [STRING]")
    try:
        return compile_(value)
    except ExpressionSyntaxError as exc:
        raise _custom_error("asl_path", "Value is not a Reference Path: {reason}",
                                  {"reason": exc.message, "detail": str(exc)}) from None


def _as_number_path(value: Any, info: ValidationInfo) -> Path | None:
    return _as_reference_path(value, info, compile_number_path)


def _as_result_path(value: Any, info: ValidationInfo) -> Path | None:
    return _as_reference_path(value, info, compile_result_path)


def _template_error(exc: ExpressionSyntaxError) -> PydanticCustomError:
    if isinstance(exc, TemplateError):
        return _custom_error("asl_template", exc.message, {"detail": str(exc)})
    return _custom_error("asl_jsonata", "{message}", {"message": exc.message, "detail": str(exc),
                                                           "jsonata": True, "field": exc.field})


def _as_template(ql: str | None, field: str | None = None):
    """A payload template compiled for `ql` (None: the state's query language). `field` names it
    in runtime causes; by default the field being validated (a model validator must say)."""

    def convert(value: Any, info: ValidationInfo) -> Template:
        if isinstance(value, Template):
            return value
        try:
            return compile_template(value, ql or _ql(info), field or _field_name(info))
        except ExpressionSyntaxError as exc:
            raise _template_error(exc) from None

    return convert


def _as_object_template(ql: str | None):
    convert = _as_template(ql)

    def check(value: Any, info: ValidationInfo) -> Template:
        if not isinstance(value, (dict, Template)) and not (ql == JSONATA or _ql(info) == JSONATA):
            raise PydanticCustomError("asl_type", "Expected value of type [OBJECT]")
        return convert(value, info)

    return check


def _as_int(value: Any) -> int:
    """An integer: JSON numbers without a fraction (``3`` or ``3.0``); never a boolean."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PydanticCustomError("asl_type", "Expected value of type [INTEGER]")
    if isinstance(value, float):
        if not value.is_integer():
            raise PydanticCustomError("asl_type", "Expected value of type [INTEGER]")
        return int(value)
    return value


def _as_number(value: Any) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PydanticCustomError("asl_type", "Expected value of type [NUMBER]")
    return value


def _int_or_jsonata(value: Any, info: ValidationInfo) -> int | Template:
    """``TimeoutSeconds``-like fields: a literal integer, or ``{% %}`` in a JSONata state."""
    if isinstance(value, str) and _ql(info) == JSONATA and is_jsonata(value):
        return _as_template(JSONATA)(value, info)
    return _as_int(value)


def _number_or_jsonata(value: Any, info: ValidationInfo) -> float | int | Template:
    if isinstance(value, str) and _ql(info) == JSONATA and is_jsonata(value):
        return _as_template(JSONATA)(value, info)
    return _as_number(value)


def _str_or_jsonata(value: Any, info: ValidationInfo) -> str | Template:
    """A string that may be ``{% %}`` in a JSONata state (Fail ``Error``, Wait ``Timestamp``)."""
    if not isinstance(value, str):
        raise PydanticCustomError("asl_type", "Expected value of type [STRING]")
    if _ql(info) == JSONATA and is_jsonata(value):
        return _as_template(JSONATA)(value, info)
    return value


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise PydanticCustomError("asl_type", "Expected value of type [STRING]")
    return value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise PydanticCustomError("asl_type", "Expected value of type [BOOLEAN]")
    return value


def _str_list(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PydanticCustomError("asl_type", "Expected value of type [ARRAY]")
    return value


def _json_object(value: Any) -> dict:
    if not isinstance(value, dict):
        raise PydanticCustomError("asl_type", "Expected value of type [OBJECT]")
    return value


OptPath = Annotated[Any, BeforeValidator(_as_path)]
RefPath = Annotated[Any, BeforeValidator(_as_reference_path)]
NumberPath = Annotated[Any, BeforeValidator(_as_number_path)]
ResultPath = Annotated[Any, BeforeValidator(_as_result_path)]
JsonPathTemplate = Annotated[Template, BeforeValidator(_as_object_template(JSONPATH))]
JsonataTemplate = Annotated[Template, BeforeValidator(_as_template(JSONATA))]
# A state's Parameters and ResultSelector may be any JSON value, arrays and scalars too: AWS
# accepts and runs such definitions (its console linter and language service allow any type).
PayloadTemplate = Annotated[Template, BeforeValidator(_as_template(JSONPATH))]
StateTemplate = Annotated[Template, BeforeValidator(_as_object_template(None))]
Int = Annotated[int, BeforeValidator(_as_int)]
Number = Annotated[float, BeforeValidator(_as_number)]
IntExpr = Annotated[Any, BeforeValidator(_int_or_jsonata)]
NumberExpr = Annotated[Any, BeforeValidator(_number_or_jsonata)]
StrExpr = Annotated[Any, BeforeValidator(_str_or_jsonata)]
Str = Annotated[str, BeforeValidator(_str)]
Bool = Annotated[bool, BeforeValidator(_bool)]
StrList = Annotated[list[str], BeforeValidator(_str_list)]
JsonObject = Annotated[dict, BeforeValidator(_json_object)]


class UnsetType:
    """Marks a field the definition did not write (as opposed to one written as ``null``)."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Any = UnsetType()

_DOLLAR: Path | None = None


def dollar() -> Path:
    """The default ``"$"`` path of InputPath, ResultPath, OutputPath and ItemsPath."""
    global _DOLLAR
    if _DOLLAR is None:
        _DOLLAR = compile_path("$")
    return _DOLLAR


class Node(BaseModel):
    """Base of every model: ASL's PascalCase names, closed schema, compiled values allowed."""

    model_config = ConfigDict(alias_generator=to_pascal, populate_by_name=True, extra="forbid",
                              arbitrary_types_allowed=True, defer_build=True)


# --------------------------------------------------------------------------------------------
# Retry and Catch (ASL-SPEC.md section 9)
# --------------------------------------------------------------------------------------------

class Retrier(Node):
    """One entry of ``Retry``. Defaults are AWS's: 1 s interval, 3 attempts, backoff 2.0."""

    error_equals: StrList
    interval_seconds: Int = 1
    max_attempts: Int = 3
    backoff_rate: Number = 2.0
    max_delay_seconds: Int | None = None
    jitter_strategy: Literal["FULL", "NONE"] = "NONE"
    comment: Str | None = None


class Catcher(Node):
    """One entry of ``Catch``: on a matching error, go to ``Next`` with the error output.

    JSONPath: ``ResultPath`` places ``{"Error", "Cause"}`` into the raw state input (default
    ``$``: the error output replaces it). JSONata: ``Output`` (default: the error output).
    """

    error_equals: StrList
    next: Str
    comment: Str | None = None
    result_path: ResultPath = Field(default_factory=dollar)
    assign: StateTemplate | None = None
    output: JsonataTemplate = UNSET  # null is a value: the output is null


# --------------------------------------------------------------------------------------------
# Choice rules (ASL-SPEC.md section 6)
# --------------------------------------------------------------------------------------------

COMPARISON_OPERATORS = tuple(
    f"{kind}{op}{suffix}"
    for kind in ("String", "Numeric", "Timestamp")
    for op in ("Equals", "LessThan", "GreaterThan", "LessThanEquals", "GreaterThanEquals")
    for suffix in ("", "Path")
) + ("StringMatches", "BooleanEquals", "BooleanEqualsPath",
     "IsNull", "IsPresent", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp")


class ChoiceRule(Node):
    """A Choice rule: a comparison (``Variable`` + one operator), ``And``/``Or``/``Not``, or a
    JSONata ``Condition``. ``Next``, ``Assign``, ``Output`` and ``Comment`` only at top level.

    `operator` and `operand` are filled from whichever operator field was written; an operand
    of a ``...Path`` operator is a compiled Path.
    """

    model_config = ConfigDict(extra="allow")

    variable: RefPath = None
    and_: list[ChoiceRule] | None = Field(default=None, alias="And")
    or_: list[ChoiceRule] | None = Field(default=None, alias="Or")
    not_: ChoiceRule | None = Field(default=None, alias="Not")
    condition: Any = UNSET
    next: Str | None = None
    comment: Str | None = None
    assign: StateTemplate | None = None
    output: JsonataTemplate = UNSET  # null is a value: the output is null

    _operator: str | None = PrivateAttr(default=None)
    _operand: Any = PrivateAttr(default=None)

    @property
    def operator(self) -> str | None:
        return self._operator

    @property
    def operand(self) -> Any:
        return self._operand

    @model_validator(mode="after")
    def _operator_fields(self, info: ValidationInfo) -> "ChoiceRule":
        extras = dict(self.__pydantic_extra__ or {})
        self.__pydantic_extra__ = {}
        for name, value in extras.items():
            if name not in COMPARISON_OPERATORS:
                raise _custom_error("asl_unknown", "Field '{name}' is not supported", {"name": name})
            self._operator = name
            if name.endswith("Path"):
                self._operand = _as_reference_path(value, info)
            elif name.startswith(("Is", "Boolean")):
                self._operand = _bool(value)
            elif name.startswith("Numeric"):
                self._operand = _as_number(value)
            else:
                self._operand = _str(value)
        if self.condition is not UNSET and not isinstance(self.condition, Template):
            if isinstance(self.condition, str) and is_jsonata(self.condition):
                self.condition = _as_template(JSONATA, "Condition")(self.condition, info)
            elif not isinstance(self.condition, bool):
                raise PydanticCustomError("asl_type", "Expected value of type [BOOLEAN]")
        return self


# --------------------------------------------------------------------------------------------
# States (ASL-SPEC.md section 2)
# --------------------------------------------------------------------------------------------

class State(Node):
    """Fields common to every state type.

    ``name`` (its key in ``States``), ``effective_query_language`` (its own QueryLanguage, else
    the state machine's) and ``is_jsonata`` are set once when the machine is built, as plain
    instance attributes: the interpreter reads them on every state entry.
    """

    type: str
    comment: Str | None = None
    query_language: Literal["JSONPath", "JSONata"] | None = None

    name: ClassVar[str] = ""
    effective_query_language: ClassVar[str] = JSONPATH
    is_jsonata: ClassVar[bool] = False

    def _set(self, attribute: str, value: Any) -> None:
        object.__setattr__(self, attribute, value)  # not a field: bypass pydantic on purpose

    @model_validator(mode="wrap")
    @classmethod
    def _query_language_scope(cls, data: Any, handler: Any, info: ValidationInfo) -> Any:
        """Compile the state's expressions for its own query language, then restore the outer one."""
        # AWS: a state without QueryLanguage takes the machine's, not its enclosing Map's or
        # Parallel's; any value other than exactly "JSONPath" counts as JSONata.
        ctx = info.context if info.context is not None else {}
        outer = ctx.get("ql", JSONPATH)
        own = data.get("QueryLanguage") if isinstance(data, dict) else None
        if own is None:
            ctx["ql"] = ctx.get("machine_ql", JSONPATH)
        else:
            ctx["ql"] = JSONPATH if own == JSONPATH else JSONATA
        try:
            state = handler(data)
            state._set("effective_query_language", ctx["ql"])
            state._set("is_jsonata", ctx["ql"] == JSONATA)
            return state
        finally:
            ctx["ql"] = outer


class _Flow(State):
    next: Str | None = None
    end: Bool | None = None


class _IO(State):
    input_path: OptPath = Field(default_factory=dollar)
    output_path: OptPath = Field(default_factory=dollar)
    output: JsonataTemplate = UNSET  # null is a value: the output is null


class _Assigns(State):
    assign: StateTemplate | None = None


class _Results(State):
    result_path: ResultPath = Field(default_factory=dollar)
    result_selector: PayloadTemplate | None = None
    retry: list[Retrier] = Field(default_factory=list)
    catch: list[Catcher] = Field(default_factory=list)


class Credentials(Node):
    """Task ``Credentials``: the role assumed for the call."""

    model_config = ConfigDict(extra="allow")


class TaskState(_Results, _IO, _Assigns, _Flow):
    """``Type: Task``: call ``Resource`` with the effective input (ASL-SPEC.md section 10)."""

    type: Literal["Task"]
    resource: Str
    parameters: PayloadTemplate | None = None
    arguments: JsonataTemplate | None = None
    timeout_seconds: IntExpr | None = None
    timeout_seconds_path: RefPath = None
    heartbeat_seconds: IntExpr | None = None
    heartbeat_seconds_path: RefPath = None
    credentials: StateTemplate | None = None


class PassState(_IO, _Assigns, _Flow):
    """``Type: Pass``: output ``Result`` (static), else ``Parameters``, else the input."""

    type: Literal["Pass"]
    result: Any = UNSET
    parameters: PayloadTemplate | None = None
    result_path: ResultPath = Field(default_factory=dollar)

    @model_validator(mode="after")
    def _null_result_is_none(self) -> "PassState":
        # AWS ignores "Result": null: TestState of {"Type": "Pass", "Result": null} on {"keep": 1}
        # outputs {"keep": 1}, its inspectionData the input at every stage, no `result`
        # (raw capture radkawar/stackd dataflow_execution.json test-pass-null-result)
        if self.result is None:
            self.result = UNSET
        return self


class ChoiceState(_IO, _Assigns):
    """``Type: Choice``: the first matching rule's ``Next``, else ``Default``."""

    type: Literal["Choice"]
    choices: list[ChoiceRule]
    default: Str | None = None


class WaitState(_IO, _Assigns, _Flow):
    """``Type: Wait``: exactly one of Seconds, Timestamp, SecondsPath, TimestampPath."""

    type: Literal["Wait"]
    seconds: IntExpr | None = None
    timestamp: StrExpr | None = None
    seconds_path: RefPath = None
    timestamp_path: RefPath = None


class SucceedState(_IO):
    """``Type: Succeed``: ends the execution (or branch/iteration) successfully."""

    type: Literal["Succeed"]


class FailState(State):
    """``Type: Fail``: ends with ``Error``/``Cause`` (or their ``...Path`` forms)."""

    type: Literal["Fail"]
    error: StrExpr | None = None
    cause: StrExpr | None = None
    error_path: Any = None
    cause_path: Any = None

    @model_validator(mode="after")
    def _compile_paths(self, info: ValidationInfo) -> "FailState":
        # ErrorPath/CausePath accept a reference path or a string-returning intrinsic.
        from .templates import compile_dynamic

        for name in ("error_path", "cause_path"):
            value = getattr(self, name)
            if value is not None and not callable(value):
                field = to_pascal(name)
                try:
                    setattr(self, name, compile_dynamic(value, field))
                except ExpressionSyntaxError:
                    raise PydanticCustomError(
                        "asl_path", "The value for the field '{field}' must be a valid JSONPath or a valid "
                        "intrinsic function call", {"field": field}) from None
        return self


class Workflow(Node):
    """A self-contained block of states: the machine itself, a Parallel branch, a Map processor."""

    start_at: Str
    states: dict[str, "AnyState"]
    comment: Str | None = None

    @model_validator(mode="after")
    def _name_states(self) -> "Workflow":
        for name, state in self.states.items():
            state._set("name", name)
        return self


class ParallelState(_Results, _IO, _Assigns, _Flow):
    """``Type: Parallel``: run every branch on the same input; output the array of results."""

    type: Literal["Parallel"]
    branches: list[Workflow]
    parameters: PayloadTemplate | None = None
    arguments: JsonataTemplate | None = None


class ProcessorConfig(Node):
    mode: Literal["INLINE", "DISTRIBUTED"] = "INLINE"
    execution_type: Literal["STANDARD", "EXPRESS"] | None = None


class ItemProcessor(Workflow):
    processor_config: ProcessorConfig = Field(default_factory=ProcessorConfig)


class ItemReader(Node):
    model_config = ConfigDict(extra="allow")

    resource: Str
    parameters: JsonPathTemplate | None = None
    arguments: JsonataTemplate | None = None
    reader_config: JsonObject | None = None


class ItemBatcher(Node):
    max_items_per_batch: IntExpr | None = None
    max_items_per_batch_path: NumberPath = None
    max_input_bytes_per_batch: IntExpr | None = None
    max_input_bytes_per_batch_path: NumberPath = None
    batch_input: StateTemplate | None = None


class ResultWriter(Node):
    model_config = ConfigDict(extra="allow")

    resource: Str | None = None
    parameters: JsonPathTemplate | None = None
    arguments: JsonataTemplate | None = None
    writer_config: JsonObject | None = None


class MapState(_Results, _IO, _Assigns, _Flow):
    """``Type: Map``: run ``ItemProcessor`` (or legacy ``Iterator``) once per item (section 11)."""

    type: Literal["Map"]
    item_processor: ItemProcessor | None = None
    iterator: ItemProcessor | None = None
    items_path: RefPath = Field(default_factory=dollar)
    items: Any = UNSET
    item_selector: StateTemplate | None = None
    parameters: PayloadTemplate | None = None
    max_concurrency: IntExpr | None = None
    max_concurrency_path: NumberPath = None
    tolerated_failure_percentage: NumberExpr | None = None
    tolerated_failure_percentage_path: NumberPath = None
    tolerated_failure_count: IntExpr | None = None
    tolerated_failure_count_path: NumberPath = None
    label: Str | None = None
    item_reader: ItemReader | None = None
    item_batcher: ItemBatcher | None = None
    result_writer: ResultWriter | None = None

    @property
    def processor(self) -> ItemProcessor:
        """``ItemProcessor``, or the legacy ``Iterator``."""
        return self.item_processor or self.iterator  # type: ignore[return-value]

    @property
    def is_distributed(self) -> bool:
        return self.processor.processor_config.mode == "DISTRIBUTED"

    @model_validator(mode="after")
    def _compile_items(self, info: ValidationInfo) -> "MapState":
        if self.items is not UNSET and not isinstance(self.items, Template):
            if not isinstance(self.items, list) and not is_jsonata(self.items):
                raise PydanticCustomError("asl_type", "Expected value of type [ARRAY]")
            self.items = _as_template(JSONATA, "Items")(self.items, info)
        return self


def _state_tag(value: Any) -> str | None:
    if isinstance(value, dict):
        tag = value.get("Type")
        return tag if tag in STATE_TYPES else None
    return None


AnyState = Annotated[
    Union[
        Annotated[TaskState, Tag("Task")],
        Annotated[PassState, Tag("Pass")],
        Annotated[ChoiceState, Tag("Choice")],
        Annotated[WaitState, Tag("Wait")],
        Annotated[SucceedState, Tag("Succeed")],
        Annotated[FailState, Tag("Fail")],
        Annotated[ParallelState, Tag("Parallel")],
        Annotated[MapState, Tag("Map")],
    ],
    Discriminator(_state_tag, custom_error_type="asl_state_type",
                  custom_error_message="The field 'Type' should have one of these values: "
                                       "[Task, Wait, Pass, Succeed, Fail, Choice, Parallel, Map]"),
]


class StateMachine(Workflow):
    """A whole definition (ASL-SPEC.md section 1)."""

    version: Str | None = None
    timeout_seconds: Int | None = None
    query_language: Literal["JSONPath", "JSONata"] | None = None

    _definition: Any = PrivateAttr(default=None)
    _definition_text: Any = PrivateAttr(default=None)
    _text_kept: bool = PrivateAttr(default=False)
    _name: str = PrivateAttr(default="state machine")

    @property
    def name(self) -> str:
        """The machine's name: the definition file's stem, a template's logical id, or as set."""
        return self._name

    def set_name(self, name: str) -> None:
        """Name the machine (`asl.load` names it after its file or template resource)."""
        self._name = name

    @property
    def definition(self) -> dict:
        """The definition as JSON, exactly as given."""
        return self._definition

    @property
    def definition_text(self) -> str:
        """The definition as JSON text (a store records it with every execution of the machine):
        the text its author wrote, when kept (`keep_definition_text`), else compact JSON, made once."""
        if self._definition_text is None:
            self._definition_text = json.dumps(self._definition, separators=(",", ":"), ensure_ascii=False)
        return self._definition_text

    def keep_definition_text(self, text: str) -> None:
        """Keep `text`, the JSON text this machine was loaded from, as its `definition_text`."""
        self._definition_text = text
        self._text_kept = True

    @property
    def definition_text_kept(self) -> bool:
        """Whether `definition_text` is the text the machine was loaded from (`keep_definition_text`)."""
        return self._text_kept

    @property
    def effective_query_language(self) -> str:
        return self.query_language or JSONPATH

    @model_validator(mode="wrap")
    @classmethod
    def _machine_query_language(cls, data: Any, handler: Any, info: ValidationInfo) -> Any:
        ctx = info.context if info.context is not None else {}
        own = data.get("QueryLanguage") if isinstance(data, dict) else None
        ctx["ql"] = ctx["machine_ql"] = JSONPATH if own in (None, JSONPATH) else JSONATA
        return handler(data)

    def iter_states(self):
        """Every state of the machine, nested ones included: (pointer parts, name, state)."""
        stack: list[tuple[tuple, Workflow]] = [((), self)]
        while stack:
            prefix, block = stack.pop()
            for name, state in block.states.items():
                here = prefix + ("States", name)
                yield here, name, state
                if isinstance(state, ParallelState):
                    for i, branch in enumerate(state.branches):
                        stack.append((here + ("Branches", i), branch))
                elif isinstance(state, MapState) and state.processor is not None:
                    key = "ItemProcessor" if state.item_processor is not None else "Iterator"
                    stack.append((here + (key,), state.processor))




def build(definition: dict) -> StateMachine:
    """Validate and compile `definition` into a StateMachine (pydantic's ValidationError on failure)."""
    machine = StateMachine.model_validate(definition, context={"ql": JSONPATH})
    machine._definition = definition
    return machine
