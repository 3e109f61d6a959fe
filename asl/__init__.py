"""asl-engine: run, test and validate AWS Step Functions state machines locally.

The front door of the language layer::

    import asl
    machine = asl.load("order.json")          # compiled StateMachine, or DefinitionError
    result = asl.validate("order.json")       # ValidationResult: .ok, .diagnostics

Everything heavy (pydantic, the validator, YAML) is imported on first use, so ``import asl``
stays cheap.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import ASLError, DefinitionError, StatesError

__version__ = "0.1.0"

if TYPE_CHECKING:  # pragma: no cover
    from .diagnostics import Diagnostic
    from .loading import ValidationResult
    from .model import StateMachine

__all__ = ["load", "validate", "ASLError", "DefinitionError", "StatesError", "Diagnostic",
           "ValidationResult", "StateMachine", "__version__"]


def validate(source: Any, *, type: str | None = None, select: str | None = None,
             substitutions: "dict[str, str] | None" = None) -> "ValidationResult":
    """Validate one state machine: a dict, JSON/YAML text, or a file (definition or template).

    For a template holding several machines use `validate_all`, or name one with `select`
    (its logical id). `substitutions` fill ``${Name}`` placeholders (each one left unfilled
    is an UNRESOLVED_PLACEHOLDER warning). Never raises for bad input: problems are in
    ``result.diagnostics``.
    """
    results = validate_all(source, type=type, select=select, substitutions=substitutions)
    if len(results) == 1:
        return results[0]
    from .diagnostics import ERROR, Diagnostic
    from .loading import ValidationResult

    names = ", ".join(r.name for r in results)
    return ValidationResult("template", [Diagnostic(
        ERROR, "TEMPLATE_ERROR", f"The template holds {len(results)} state machines ({names}); "
        "select one (FILE#LogicalId) or use validate_all")])


def validate_all(source: Any, *, type: str | None = None, select: str | None = None,
                 substitutions: "dict[str, str] | None" = None) -> "list[ValidationResult]":
    """Validate every state machine in `source` (several for a SAM/CloudFormation template)."""
    from .loading import validate_source

    return validate_source(source, type.upper() if type else None, select, substitutions=substitutions)


def load(source: Any, *, type: str | None = None, select: str | None = None,
         substitutions: "dict[str, str] | None" = None) -> "StateMachine":
    """Load and compile a state machine; raise DefinitionError (with `.diagnostics`) if it is invalid."""
    result = validate(source, type=type, select=select, substitutions=substitutions)
    if not result.ok or result.machine is None:  # no machine: its definition is not local (S3)
        raise DefinitionError(result.diagnostics, result.filename)
    machine = result.machine
    machine.set_name(result.name)
    return machine


def __getattr__(name: str) -> Any:
    if name == "Diagnostic":
        from .diagnostics import Diagnostic
        return Diagnostic
    if name == "ValidationResult":
        from .loading import ValidationResult
        return ValidationResult
    if name == "StateMachine":
        from .model import StateMachine
        return StateMachine
    raise AttributeError(f"module 'asl' has no attribute {name!r}")
