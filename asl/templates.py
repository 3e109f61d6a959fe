"""Payload templates, compiled once and evaluated many times.

A payload template is the JSON value of ``Parameters``, ``ResultSelector``, ``ItemSelector``,
``Credentials``, ``Assign`` and the other fields of ASL-SPEC.md section 3.3. In JSONPath states,
a key ending in ``.$`` holds a path (``$.a``, ``$$.Execution.Id``, ``$var.x``) or an intrinsic
function call, and the key loses its ``.$`` in the result; every other value is copied as is.
In JSONata states (section 4) a string ``"{% expr %}"`` anywhere in the value is an expression.

`compile_template` turns the JSON value into a tree of small closures: a template without any
dynamic part evaluates to the very value it was given (documents are never mutated by the
engine, so sharing it is safe and saves the copy).

Evaluation reads its roots from a *scope*: any object with the attributes ``input`` (``$``),
``context`` (``$$``), ``variables`` (a mapping for ``$name``) and ``rng`` (a `random.Random`
for ``States.UUID``/``States.MathRandom``). JSONata scopes also provide ``states`` (the
``$states`` binding); see `asl.jsonata`.
"""
from __future__ import annotations

import json
from typing import Any, Callable

from .errors import ExpressionSyntaxError, PathNotFoundError, StatesError
from .generated import factory

Evaluator = Callable[[Any], Any]

JSONPATH = "JSONPath"
JSONATA = "JSONata"


class TemplateError(ExpressionSyntaxError):
    """Raised by `compile_template` for a ``.$`` value that is neither a path nor an intrinsic.

    `key` is the offending key (``"parsed.$"``), `message` AWS's wording.
    """

    def __init__(self, message: str, key: str = "", text: str = "", position: int | None = None):
        self.key = key
        super().__init__(message, text, position)


def resolve_path(path: Any, scope: Any) -> Any:
    """Evaluate a compiled `asl.paths.Path` against the root its kind names."""
    kind = path.kind
    if kind == "input":
        return path.evaluate(scope.input)
    if kind == "context":
        return path.evaluate(scope.context)
    variables = scope.variables
    name = path.variable
    if variables is None or name not in variables:
        raise PathNotFoundError(path.text, f"The variable '${name}' is not defined")
    return path.evaluate(variables[name])


def expect_kind(template: Any, value: Any, kind: str, field: str) -> Any:
    """`value`, the result of a field's `template` (or a literal), if it is of JSON `kind`
    ('integer' for a number without a fraction); else the field's failure, naming the field and,
    for a ``{% %}`` expression, the expression (States.QueryEvaluationError, AWS's wording)."""
    from .intrinsics import kind_of

    actual = kind_of(value)
    if actual == kind or (kind == "integer" and actual == "number" and (
            isinstance(value, int) or value.is_integer())):
        return value
    expression = getattr(getattr(template, "evaluate", None), "__self__", None)
    if hasattr(expression, "unexpected"):
        raise expression.unexpected(value, kind)
    error = "States.QueryEvaluationError" if isinstance(template, Template) else "States.Runtime"
    raise StatesError(error, f"The field '{field}' must be of type '{kind}', but was '{actual}' for value: "
                             f"{dumps(value)}")


def dumps(value: Any) -> str:
    """Compact JSON text, as AWS writes values into causes and history events."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# --------------------------------------------------------------------------------------------
# Dynamic values: paths and intrinsic calls (JSONPath), expressions (JSONata)
# --------------------------------------------------------------------------------------------

def compile_dynamic(text: Any, field: str) -> Evaluator:
    """Compile the value of a ``.$`` key (or a path-valued field) into an evaluator.

    `field` names the key for AWS's runtime cause (``value.$``, ``CausePath``).
    Raises TemplateError with AWS's create-time message when `text` is not a path or intrinsic.
    """
    from .intrinsics import compile_intrinsic, is_intrinsic
    from .paths import compile_path

    bad = TemplateError(
        f"The value for the field '{field}' must be a valid JSONPath or a valid intrinsic function call",
        field, text if isinstance(text, str) else "")
    if not isinstance(text, str):
        raise bad
    if is_intrinsic(text):
        try:
            intrinsic = compile_intrinsic(text)
        except ExpressionSyntaxError as exc:
            raise TemplateError(bad.message, field, text, exc.position) from exc

        call = intrinsic.bind(lambda p: _reader(p, field), _scope_rng)
        call.intrinsic = intrinsic  # type: ignore[attr-defined]
        return call
    if not text.startswith("$"):
        raise bad
    try:
        path = compile_path(text)
    except ExpressionSyntaxError as exc:
        raise TemplateError(bad.message, field, text, exc.position) from exc

    read = _reader(path, field)
    read.path = path  # type: ignore[attr-defined]
    return read


def _scope_rng(scope: Any) -> Any:
    return scope.rng


def _reader(path: Any, field: str) -> Evaluator:
    """``read(scope)``: the value of `path` in the scope, a miss worded for the field `field`."""
    def missed(scope: Any) -> Any:
        raise _miss(path, scope, field)

    return scope_reader(path, missed)


def scope_reader(path: Any, missed: Callable[[Any], Any]) -> Evaluator:
    """``read(scope)``: the value of the compiled `path` in the scope (`resolve_path`), or what
    ``missed(scope)`` returns (or raises) when the path selects nothing.

    A ``$`` path of member names reads them with plain subscripts first: the paths of most
    templates and Choice rules (``$.i``, ``$.order.total``) cost one call.
    """
    if path.kind != "input":
        def read(scope: Any) -> Any:
            try:
                return resolve_path(path, scope)
            except PathNotFoundError:
                return missed(scope)
        return read
    evaluate = path.evaluate
    names = path.member_names
    if names:
        def slow(scope: Any) -> Any:
            try:
                return evaluate(scope.input)  # words the miss (a subscript failed)
            except PathNotFoundError:
                return missed(scope)

        # only an object takes a member name: any other value raises TypeError, a missing member KeyError
        if len(names) == 1:
            key = names[0]

            def read(scope: Any) -> Any:
                try:
                    return scope.input[key]
                except (KeyError, TypeError):
                    return slow(scope)
        elif len(names) == 2:
            first, second = names

            def read(scope: Any) -> Any:
                try:
                    return scope.input[first][second]
                except (KeyError, TypeError):
                    return slow(scope)
        else:
            def read(scope: Any) -> Any:
                value = scope.input
                try:
                    for key in names:
                        value = value[key]
                except (KeyError, TypeError):
                    return slow(scope)
                return value
        return read

    def read(scope: Any) -> Any:
        try:
            return evaluate(scope.input)
        except PathNotFoundError:
            return missed(scope)
    return read


def _miss(path: Any, scope: Any, field: str) -> StatesError:
    # AWS reports a template miss with its own wording; the input is the state's input
    # (or the context object for $$ paths).
    root = scope.context if path.kind == "context" else scope.input
    return StatesError(
        "States.Runtime",
        f"The JSONPath '{path.text}' specified for the field '{field}' could not be found "
        f"in the input '{dumps(root)}'")


# --------------------------------------------------------------------------------------------
# Templates
# --------------------------------------------------------------------------------------------

class Template:
    """A compiled payload template. `evaluate(scope)` returns the new JSON value."""

    __slots__ = ("source", "evaluate", "is_static", "query_language")

    def __init__(self, source: Any, evaluate: Evaluator, is_static: bool, query_language: str):
        self.source = source
        self.evaluate = evaluate
        self.is_static = is_static
        self.query_language = query_language

    def __repr__(self) -> str:
        return f"Template({self.source!r})"


def compile_template(value: Any, query_language: str = JSONPATH, field: str = "") -> Template:
    """Compile a payload template for the given query language.

    Raises TemplateError (JSONPath) or ExpressionSyntaxError (JSONata) for a bad expression.
    """
    if query_language == JSONATA:
        fn = _compile_jsonata(value, field)
    else:
        fn = _compile_jsonpath(value)
    if fn is None:
        return Template(value, lambda scope, _v=value: _v, True, query_language)
    return Template(value, fn, False, query_language)


def _compile_jsonpath(value: Any) -> Evaluator | None:
    """Closure for a JSONPath template, or None when it is static.

    An object the template builds (one with a dynamic member) has its keys as AWS writes them:
    first the members written without ``.$``, in the order written, then the ``.$`` members in
    the order a ``java.util.HashMap`` of them iterates. Parameters ``{"execution.$", "state.$",
    "machine.$", "nested.$", ...}`` gives ``{"execution", "range", "nested", "contains", ...}``
    and an ItemSelector ``{"i.$", "v.$"}`` gives ``{"v", "i"}`` (raw AWS captures radkawar/stackd
    testdata/aws/stepfunctions/dataflow_execution.json history-context-and-intrinsics,
    test_state_mock.json west-mock-map-default); ``{"constantValue", "mapValue.$",
    "fromInput.$"}`` gives ``{"constantValue", "mapValue", "fromInput"}`` and ``{"original_input.$",
    "iteration_input_value.$", "iteration_index.$", "from_input_constant.$", "constant_value"}``
    gives ``constant_value`` first (the recorded conformance cases test_map_state_legacy_* and
    test_map_state_item_selector_*). JSONata templates keep the order written
    (dataflow_execution.json history-jsonata-nested-scope), and so do static objects."""
    def entry(key: Any, item: Any) -> tuple[Any, Evaluator | None]:
        if isinstance(key, str) and key.endswith(".$"):
            return key[:-2], compile_dynamic(item, key)
        return key, _compile_jsonpath(item)

    return _structure(value, entry, hash_ordered=True)


def _structure(value: Any, entry: Callable[[Any, Any], tuple[Any, Evaluator | None]],
               hash_ordered: bool = False) -> Evaluator | None:
    """Objects and arrays of a template: `entry(key, item)` gives each member's (key, evaluator)."""
    if isinstance(value, dict):
        parts = [(*entry(key, item), item) for key, item in value.items()]
        if all(f is None for _, f, _ in parts):
            return None
        keys = [key for key, _, _ in parts]
        if hash_ordered and len(set(keys)) == len(keys):
            from .jackson import java_hash_order

            named = [isinstance(key, str) and key.endswith(".$") for key in value]
            fixed = [part for part, dynamic in zip(parts, named) if not dynamic]
            computed = [part for part, dynamic in zip(parts, named) if dynamic]
            parts = fixed + [computed[i] for i in java_hash_order([key for key, _, _ in computed])]
        if len(parts) > _UNROLLED:
            def build_object(scope: Any) -> dict:
                return {k: (f(scope) if f is not None else v) for k, f, v in parts}

            return build_object
        return _unrolled("{%s}", [(key, f, v) for key, f, v in parts])
    if isinstance(value, list):
        items = [(entry(None, v)[1], v) for v in value]
        if all(f is None for f, _ in items):
            return None
        if len(items) > _UNROLLED:
            def build_array(scope: Any) -> list:
                return [f(scope) if f is not None else v for f, v in items]

            return build_array
        return _unrolled("[%s]", [(_NO_KEY, f, v) for f, v in items])
    return None


_UNROLLED = 64  # members of an object or array template built by one display (more: by a loop)
_NO_KEY = object()


def _unrolled(display: str, parts: list[tuple[Any, Evaluator | None, Any]]) -> Evaluator:
    """``build(scope)``: one dict (``"{%s}"``) or list (``"[%s]"``) display of the members
    ``(key, evaluator or None, static value)`` (`_NO_KEY` for array items), written out as
    Python code, so a template is built with no loop and no call but its dynamic members'.
    Members are evaluated in order; a repeated key keeps its first place and its last value,
    as in a dict comprehension. The code depends only on the template's shape (which members
    are dynamic), so it is compiled once per shape."""
    make = factory(("template", display, tuple((key is not _NO_KEY, evaluate is None) for key, evaluate, _ in parts)),
                   _template_source)
    values = []
    for key, evaluate, static in parts:
        if key is not _NO_KEY:
            values.append(key)
        values.append(static if evaluate is None else evaluate)
    return make(*values)


def _template_source(shape: tuple) -> str:
    _, display, members = shape
    items = []
    for i, (keyed, static) in enumerate(members):
        item = f"v{i}" if static else f"f{i}(scope)"
        items.append(f"k{i}: {item}" if keyed else item)
    return (f"def make({', '.join(_cells(members))}):\n"
            f"    def build(scope):\n"
            f"        return {display % ', '.join(items)}\n"
            f"    return build\n")


def _cells(shape: tuple) -> list[str]:
    """The parameters of a shape's `make`, in the order `_unrolled` passes them."""
    names = []
    for i, (keyed, static) in enumerate(shape):
        if keyed:
            names.append(f"k{i}")
        names.append(f"v{i}" if static else f"f{i}")
    return names


def is_jsonata(value: Any) -> bool:
    """True for a string written as a JSONata expression: ``{% ... %}``."""
    return isinstance(value, str) and value.startswith("{%") and value.endswith("%}") and len(value) >= 4


def _compile_jsonata(value: Any, field: str) -> Evaluator | None:
    if isinstance(value, str):
        if not is_jsonata(value):
            return None
        from .jsonata import compile_expression

        try:
            return compile_expression(value[2:-2], field).evaluate_in
        except ExpressionSyntaxError as exc:
            exc.field = field  # where in the template: "Output/v" (AWS locates the error there)
            raise

    def entry(key: Any, item: Any) -> tuple[Any, Evaluator | None]:
        where = field if key is None else (f"{field}/{key}" if field else key)
        return key, _compile_jsonata(item, where)

    return _structure(value, entry)
