"""The fields of a Map state evaluated for one entry (ASL-SPEC.md section 11; DISTRIBUTED-MAP-SPEC.md
sections 1 and 5): its items, MaxConcurrency and the tolerance of a Distributed Map. Shared by the
inline Map (`asl.engine.concurrency`), the Map Run (`asl.engine.distributed`) and TestState."""
from __future__ import annotations

from typing import Any

from ..errors import PathNotFoundError, StatesError
from ..templates import Template, dumps, expect_kind
from .staterun import StateRun


def _quoted(value: Any) -> str:
    # AWS quotes the offending value as text: "{}", "abc", "1.5"
    return f'"{value if isinstance(value, str) else dumps(value)}"'


LONG = (-2 ** 63, 2 ** 63 - 1)  # Java's long


def path_number(run: StateRun, path: Any, scope: Any, name: str, kind: str) -> Any:
    """A number read through a ``...Path`` field. AWS parses the value's JSON text (floci #3732,
    measured on AWS for MaxItemsPath): numeric strings count ("2" is 2), and an integer is a
    64-bit integer's text, so 2.0 (a JSON number with a fraction part) is none, nor 2**63."""
    value = run.read_path(path, scope.input)
    if isinstance(value, str):
        try:
            value = int(value) if kind == "integer" else float(value)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            kind == "integer" and (isinstance(value, float) or not LONG[0] <= value <= LONG[1])):
        raise StatesError("States.Runtime", f"The {name}Path field refers to value {_quoted(value)} which is not "
                          f"a valid {kind}: {path.text}")
    return value


def positive_int(run: StateRun, literal: Any, path: Any, name: str, scope: Any, default: int) -> int:
    if literal is not None:
        value = literal.evaluate(scope) if isinstance(literal, Template) else literal
        value = int(expect_kind(literal, value, "integer", name))
    elif path is not None:
        value = path_number(run, path, scope, name, "integer")
    else:
        return default
    if value < 0:
        raise StatesError("States.QueryEvaluationError" if isinstance(literal, Template) else "States.Runtime",
                          f"{name} must be a non-negative integer, but was: {dumps(value)}")
    return value


# ``$$.Map.Item.Source`` (DG "input-output-contextobject", "Context object data for Map states"): the
# item's origin in a Distributed Map, in JSONPath's ``$$`` and JSONata's ``$states.context`` alike.
# An inline Map's context has none, whatever the DG's example shows: AWS fails an ItemSelector
# that reads it ("The JSONPath '$$.Map.Item.Source' specified for the field 'source.$' could not
# be found in the input '{...,"Map":{"Item":{"Index":0,"Value":...}}}'"; raw AWS capture,
# radkawar/stackd testdata/aws/stepfunctions/dataflow_execution.json "history-sequential-map").
STATE_DATA = "STATE_DATA"  # an item of the state input (ItemsPath / Items)


def item_context(index: int, value: Any, source: str | None = STATE_DATA) -> dict:
    """``$$.Map`` while the ItemSelector of item `index` is evaluated (``Key``, of object
    iteration, is not supported: items are always an array's); `source` None: an inline Map's,
    without ``Source``."""
    item = {"Index": index, "Value": value}
    if source is not None:
        item["Source"] = source
    return {"Item": item}


def map_items(run: StateRun, effective: Any) -> list:
    state = run.state
    if state.is_jsonata:
        if state.items is not None and state.items is not _unset():
            return expect_kind(state.items, state.items.evaluate(run.scope(run.raw)), "array", "Items")
        value = run.raw
        if not isinstance(value, list):
            raise StatesError("States.QueryEvaluationError",
                              f"Map state input must be an array but was: {dumps(value)}")
        return value
    path = state.items_path
    try:
        value = run.read_path(path, effective) if path is not None else effective
    except PathNotFoundError:
        raise _not_an_array(path) from None
    if not isinstance(value, list):
        raise _not_an_array(path)
    return value


def _not_an_array(path: Any) -> StatesError:
    """AWS names the ItemsPath as a path into the document it reads: a context path (``$$.X``)
    as ``$.X`` (recorded on AWS: ``"$$"`` -> ``Reference path "$" must point to array.``)."""
    text = path.text[1:] if path.kind == "context" else path.text
    return StatesError("States.Runtime", f"Reference path \"{text}\" must point to array.")


def _unset() -> Any:
    from ..model import UNSET
    return UNSET


def tolerance(run: StateRun, scope: Any) -> tuple[int | None, float | None]:
    """(ToleratedFailureCount, ToleratedFailurePercentage); None for one the state does not set."""
    state = run.state
    count: Any = None
    pct: Any = None
    if state.tolerated_failure_count is not None:
        count = state.tolerated_failure_count
        if isinstance(count, Template):
            count = int(expect_kind(count, count.evaluate(scope), "integer", "ToleratedFailureCount"))
    elif state.tolerated_failure_count_path is not None:
        count = path_number(run, state.tolerated_failure_count_path, scope, "ToleratedFailureCount", "integer")
    if count is not None and count < 0:
        raise StatesError("States.Runtime", "ToleratedFailureCount cannot be negative.")
    if state.tolerated_failure_percentage is not None:
        pct = state.tolerated_failure_percentage
        if isinstance(pct, Template):
            pct = expect_kind(pct, pct.evaluate(scope), "number", "ToleratedFailurePercentage")
    elif state.tolerated_failure_percentage_path is not None:
        pct = path_number(run, state.tolerated_failure_percentage_path, scope, "ToleratedFailurePercentage",
                           "float")
    if pct is not None and not 0 <= pct <= 100:
        raise StatesError("States.Runtime", "ToleratedFailurePercentage must be between 0 and 100.")
    return count, pct
