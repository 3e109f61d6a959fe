"""Diagnostics: what the validator says about a definition.

A `Diagnostic` mirrors one entry of AWS's ValidateStateMachineDefinition response
(`severity`, `code`, `message`, `location`) and adds where the problem sits in the source
text (`line`, `column`, `filename`) when the definition was read from JSON or YAML text.

Locations are written as AWS writes them: ``/`` for the root, ``/States/Pay/Next`` for a
field, and ``[n]`` after the name of an array field (``/States/C/Choices[0]/Next``,
``/States/T/Retry[0]/ErrorEquals``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Iterable

ERROR = "ERROR"
WARNING = "WARNING"

# AWS's diagnostic codes (ASL-SPEC.md section 14).
SCHEMA_VALIDATION_FAILED = "SCHEMA_VALIDATION_FAILED"
INVALID_JSON_DESCRIPTION = "INVALID_JSON_DESCRIPTION"
MISSING_DESCRIPTION = "MISSING_DESCRIPTION"
INVALID_RESOURCE = "INVALID_RESOURCE"
MISSING_END_STATE = "MISSING_END_STATE"
MISSING_TRANSITION_TARGET = "MISSING_TRANSITION_TARGET"
DUPLICATE_STATE_NAME = "DUPLICATE_STATE_NAME"
INVALID_STATE_NAME = "INVALID_STATE_NAME"
DUPLICATE_LABEL_NAME = "DUPLICATE_LABEL_NAME"
INVALID_LABEL_NAME = "INVALID_LABEL_NAME"
TOO_DEEPLY_NESTED = "TOO_DEEPLY_NESTED"
INVALID_JSONATA_EXPRESSION = "INVALID_JSONATA_EXPRESSION"
UNSUPPORTED_JSONATA_EXPRESSION = "UNSUPPORTED_JSONATA_EXPRESSION"
# AWS's warnings.
NO_DOLLAR = "NO_DOLLAR"
NO_PATH = "NO_PATH"
PASS_RESULT_IS_STATIC = "PASS_RESULT_IS_STATIC"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One finding about a definition.

    severity  ``ERROR`` (AWS rejects the definition) or ``WARNING`` (it runs, but look again).
    code      AWS's code where AWS has one (``SCHEMA_VALIDATION_FAILED``...), else our own.
    message   the explanation, in AWS's wording where it is known.
    location  AWS-style pointer (``/States/X/Next``), or None for machine-wide findings.
    line, column, filename  position in the source text (1-based), when known.
    hint      what was probably meant (``did you mean 'First'?``), ours; never in AWS's shapes.
    """

    severity: str
    code: str
    message: str
    location: str | None = None
    line: int | None = None
    column: int | None = None
    filename: str | None = None
    hint: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def with_position(self, filename: str | None, line: int | None, column: int | None) -> "Diagnostic":
        return replace(self, filename=filename, line=line, column=column)

    def aws_text(self) -> str:
        """The diagnostic as AWS writes it inside an InvalidDefinition message."""
        return f"{self.code}: {self.message}" + (f" at {self.location}" if self.location else "")

    def to_aws(self) -> dict:
        """The ValidateStateMachineDefinitionDiagnostic shape."""
        out = {"severity": self.severity, "code": self.code, "message": self.message}
        if self.location is not None:
            out["location"] = self.location
        return out

    def __str__(self) -> str:
        where = ""
        if self.filename or self.line:
            where = f"{self.filename or '<definition>'}:{self.line or 1}:{self.column or 1}: "
        return f"{where}{self.severity.lower()} {self.aws_text()}" + (f" ({self.hint})" if self.hint else "")


def pointer(parts: Iterable[str | int]) -> str:
    """Render a path of keys and indexes as an AWS location (``/States/C/Choices[0]/Next``)."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += "/" + part
    return out or "/"


_INDEXES = re.compile(r"((?:\[\d+\])*)$")


def split_pointer(location: str) -> list[str | int]:
    """Inverse of `pointer`: ``/States/C/Choices[0]/Next`` -> ``["States", "C", "Choices", 0, "Next"]``.

    State names containing ``/`` or ending in ``[n]`` cannot be told apart from structure;
    callers that need exactness walk the document with the parts they already have.
    """
    parts: list[str | int] = []
    for seg in location.split("/")[1:]:
        tail = _INDEXES.search(seg).group(1)
        name = seg[: len(seg) - len(tail)]
        if name:
            parts.append(name)
        parts.extend(int(i) for i in re.findall(r"\d+", tail))
    return parts


def closest(name: Any, candidates: Iterable[str]) -> str | None:
    """The candidate `name` was most likely meant to be, for "did you mean" hints: one
    differing only in letter case first, else the closest spelling, else the one whose start
    is the closest spelling of `name` (``Emial`` for ``EmailCustomer``: names are often
    shortened)."""
    import difflib

    name = str(name)
    candidates = [c for c in candidates if c != name]
    folded = [c for c in candidates if c.casefold() == name.casefold()]
    if folded:
        return folded[0]
    by_fold = {c.casefold(): c for c in candidates}
    wanted = name.casefold()
    close = difflib.get_close_matches(wanted, list(by_fold), n=1)
    if close:
        return by_fold[close[0]]
    if len(wanted) < 3:
        return None
    starts = {c[:len(wanted)]: c for c in reversed(list(by_fold)) if len(c) > len(wanted)}
    close = difflib.get_close_matches(wanted, list(starts), n=1, cutoff=0.75)
    return by_fold[starts[close[0]]] if close else None
