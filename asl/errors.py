"""Exceptions of the `asl` layer.

Two audiences, two trees::

    ASLError                      root of everything this package raises on purpose
    ├── DefinitionError           a state machine definition was rejected; carries .diagnostics
    └── StatesError               an ASL runtime failure: .error (e.g. "States.Runtime") and .cause,
        │                         the values that Retry/Catch match on and that an execution fails with
        ├── PathNotFoundError     a JSONPath selected nothing where a value was required
        └── IntrinsicFailure      an intrinsic function call failed at run time (States.Runtime)

Static errors of the sub-languages (JSONPath, intrinsic functions, JSONata) carry a
position inside the expression text and are turned into diagnostics by the validator.
"""
from __future__ import annotations

from typing import Any


class ASLError(Exception):
    """Root of the exceptions raised by `asl` and `asl.engine`."""


class DefinitionError(ASLError):
    """Raised by `asl.load` when a definition has at least one ERROR diagnostic.

    `diagnostics` lists every problem found (errors and warnings), each with its location.
    """

    SHOWN = 10  # errors the message lists

    def __init__(self, diagnostics: list[Any], source: str | None = None):
        self.diagnostics = diagnostics
        self.source = source
        errors = [d for d in diagnostics if getattr(d, "severity", "ERROR") == "ERROR"]
        first = errors[0] if errors else (diagnostics[0] if diagnostics else None)
        # every error on a line of its own (the first ten): a test or a script that prints the
        # exception sees what to correct without reading .diagnostics
        shown = "".join(f"\nand: {error}" for error in errors[1:self.SHOWN])
        if len(errors) > self.SHOWN:
            shown += f"\n(and {len(errors) - self.SHOWN} more in .diagnostics)"
        super().__init__(f"invalid state machine definition: {first}{shown}" if first else
                         "invalid state machine definition")


class StatesError(ASLError):
    """An ASL runtime failure, identified by AWS's error name and cause text.

    Raised wherever AWS Step Functions fails a state: the engine matches `error` against
    Retry/Catch `ErrorEquals` and reports `error` and `cause` when the execution fails.

    terminal   no Retry or Catch may take it (an oversized output of a state that is not a
               Task: AWS ends the execution)
    heartbeat  a ``States.Timeout`` from HeartbeatSeconds running out (``ErrorEquals``
               ``States.HeartbeatTimeout`` matches it too)
    field      the field whose expression failed (``Output``, ``Arguments/x``): the location
               of AWS's ``EvaluationFailed`` event
    hint       what was wrong, in our words, where AWS's cause does not say it (an intrinsic
               function's bad argument); never part of the history, shown by ``asl run``
    """

    terminal = False
    heartbeat = False
    field: str | None = None
    hint: str | None = None

    def __init__(self, error: str | None, cause: str | None = None, *, terminal: bool = False,
                 heartbeat: bool = False, field: str | None = None):
        self.error = error
        self.cause = cause
        if terminal:
            self.terminal = True
        if heartbeat:
            self.heartbeat = True
        if field is not None:
            self.field = field
        super().__init__(f"{error}: {cause}" if cause else str(error))


class PathNotFoundError(StatesError):
    """Raised when a JSONPath selects nothing where a value is required.

    `detail` is AWS's text for the miss, e.g. ``No results for path: $['x']`` or
    ``Missing property in path $['a']``; the engine puts it into the cause that fits the field
    being evaluated (InputPath, a ``.$`` template key, ...).
    """

    def __init__(self, path: str, detail: str):
        self.path = path
        self.detail = detail
        super().__init__("States.Runtime", f"Invalid path '{path}' : {detail}")


class IntrinsicFailure(StatesError):
    """Raised when an intrinsic function call fails at run time (bad argument type or value,
    wrong number of arguments).

    AWS reports every such failure as ``States.Runtime`` (so no Retry or Catch acts on it),
    with the cause ``Invalid arguments in <function>`` (after ``There was an error while evaluating
    the intrinsic function: <call>.`` once the call is known), not the spec's ``States.IntrinsicFailure``:
    aws-test-harness/aws-test-harness's integration test against AWS
    (``languages/python/tests/.../boto_state_machine_test.py``, States.MathAdd given a string)
    and AWS-run conformance cases for States.ArrayPartition/ArrayRange/ArrayGetItem/MathRandom.
    `function` is the ``States.Xxx`` name; `detail` says what was wrong, in our words (for
    warnings and debugging, never in the cause).
    """

    def __init__(self, function: str, detail: str, expression: str | None = None):
        self.function = function
        self.detail = detail
        self.hint = f"{function}: {detail}"
        cause = f"Invalid arguments in {function}"
        if expression is not None:
            # AWS names the field's whole call first: TestState of Parameters
            # {"v.$": "States.ArrayLength($.value)"} on {"value": 4} (raw capture radkawar/stackd
            # testdata/aws/stepfunctions/dataflow_execution.json test-pass-intrinsic-type-error)
            cause = f"There was an error while evaluating the intrinsic function: {expression}. {cause}"
        super().__init__("States.Runtime", cause)

    def within(self, expression: str) -> "IntrinsicFailure":
        """This failure as the evaluation of the field's call `expression` reports it."""
        return IntrinsicFailure(self.function, self.detail, expression)

    def __str__(self) -> str:
        return f"{self.error}: {self.cause} ({self.function}: {self.detail})"


class ExpressionSyntaxError(ASLError, ValueError):
    """A JSONPath, intrinsic function or JSONata text that does not parse.

    `position` is the 0-based offset of the problem in `text` (or None when unknown).
    `str()` renders the text with a caret under the position. `field` names where in a
    template the text is (``Output/v``), when the template's compiler knows it.
    """

    def __init__(self, message: str, text: str = "", position: int | None = None, field: str = ""):
        self.message = message
        self.text = text
        self.position = position
        self.field = field
        super().__init__(message)

    def __str__(self) -> str:
        if self.position is None or not self.text:
            return self.message
        return f"{self.message}\n  {self.text}\n  {' ' * self.position}^"
