"""From what the user has (a file, text, a dict, a SAM/CloudFormation template) to validated machines.

`validate_source` is the one path every entry point takes (``asl.load``, ``asl.validate``,
``asl validate``): read the source, find the state machine(s) in it, check each, and attach
the file's line and column to every diagnostic whose location can be found in the text.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from .diagnostics import ERROR, WARNING, Diagnostic, split_pointer


@dataclass
class ValidationResult:
    """The outcome of validating one state machine.

    name         the machine's name: the file's stem, or the template's logical id
    diagnostics  every finding, errors and warnings, in AWS's order
    machine      the compiled `asl.model.StateMachine`, or None when there is an ERROR
    filename     the file it came from, when it came from a file
    """

    name: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    machine: Any = None
    filename: str | None = None

    @property
    def ok(self) -> bool:
        return not any(d.severity == ERROR for d in self.diagnostics)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == ERROR]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == WARNING]

    def to_aws(self, severity: str = "ERROR", max_results: int = 100) -> dict:
        """AWS's ValidateStateMachineDefinition response (``result``, ``diagnostics``, ``truncated``)."""
        shown = [d for d in self.diagnostics if severity == WARNING or d.severity == ERROR]
        limit = max_results or 100
        return {"result": "OK" if self.ok else "FAIL",
                "diagnostics": [d.to_aws() for d in shown[:limit]],
                "truncated": len(shown) > limit}


def _position(document: Any, location: str | None) -> tuple[int, int] | None:
    if document is None or location is None:
        return None
    parts = split_pointer(location)
    try:
        return document.locate("/" + "/".join(str(p) for p in parts) if parts else "/")
    except Exception:  # positions are a courtesy: never let them hide the diagnostic
        return None


def check_definition(definition: Any, machine_type: str = "STANDARD", name: str = "state machine",
                     document: Any = None, filename: str | None = None,
                     substitutions: Mapping[str, str] | None = None,
                     known: list[str] | None = None) -> ValidationResult:
    """Validate one parsed definition; positions come from `document` when given.

    `substitutions` fill ``${Name}`` placeholders; each one left unfilled is a WARNING
    (`known`: the names a template's DefinitionSubstitutions fill, for a did-you-mean).
    """
    from .checks import check
    from .placeholders import resolve

    checked, unfilled = resolve(definition, substitutions)
    diagnostics, machine = check(checked, machine_type)
    diagnostics = diagnostics + _out_of_range_numbers(definition) + _placeholder_warnings(unfilled, known) \
        + _size_limit(definition, document)
    if machine is not None and any(d.severity == ERROR for d in diagnostics):
        machine = None
    duplicates = _duplicate_keys(document)
    if duplicates:
        diagnostics = diagnostics + duplicates
        if any(d.severity == ERROR for d in duplicates):
            machine = None
    if document is not None:
        located = []
        for d in diagnostics:
            # one without a location (AWS's MISSING_END_STATE) is about the whole definition: at
            # its start, which in a template is the machine's Definition, not the file's first line
            pos = _position(document, d.location if d.location is not None else "/")
            located.append(d.with_position(filename, *pos) if pos else d.with_position(filename, None, None))
        diagnostics = located
    return ValidationResult(name, diagnostics, machine, filename)


def validate_source(source: Any, machine_type: str | None = None, select: str | None = None,
                    name: str | None = None, substitutions: Mapping[str, str] | None = None,
                    filename: str | None = None) -> list[ValidationResult]:
    """Validate every state machine in `source`.

    `source` is a dict (a definition), a path (``str`` or ``os.PathLike``) to a JSON/YAML
    definition or a SAM/CloudFormation template (``FILE#LogicalId`` selects one machine), or
    JSON/YAML text. Unreadable input gives one result with one diagnostic. `machine_type`
    None means STANDARD, or a template's own StateMachineType. `substitutions` fill
    ``${Name}`` placeholders (in a template, they add to and override DefinitionSubstitutions).
    `filename`, for text: where it came from (``<stdin>``), carried by its results and
    diagnostics as a file's path would be.
    """
    if substitutions:
        from .placeholders import as_text

        substitutions = {str(k): as_text(v) for k, v in substitutions.items()}
    if not isinstance(source, (str, bytes, os.PathLike)):
        # An already-parsed JSON value: a dict, or anything else (reported as not an object).
        return [check_definition(source, machine_type or "STANDARD", name or "StateMachine",
                                 substitutions=substitutions)]
    from .source import SourceError, is_template, parse_text, read_file, state_machines

    text = None
    try:
        if isinstance(source, os.PathLike) or (isinstance(source, str) and _looks_like_path(source)):
            path = os.fspath(source)
            if select is None and "#" in path and not os.path.exists(path):
                path, _, select = path.rpartition("#")
            filename = path
            default_name = os.path.splitext(os.path.basename(path))[0]
            try:
                document = read_file(path)
            except SourceError as exc:
                document = _bare_placeholders(exc, None, path, substitutions)
        else:
            text = source  # bytes are decoded strictly, as a file's are
            default_name = "StateMachine"
            try:
                document = parse_text(text)
            except SourceError as exc:
                document = _bare_placeholders(exc, text, None, substitutions)
        if is_template(document.data):
            results = []
            for found in state_machines(document, select, substitutions=substitutions, keep_going=True):
                if found.failure is not None:  # this machine only
                    results.append(_unreadable(found.failure, found.logical_id, filename))
                    continue
                if found.not_local:  # in S3: nothing to check here, and not a failure
                    line, column = document.locate_path(found.not_local_path) or (None, None)
                    results.append(ValidationResult(found.logical_id, [Diagnostic(
                        WARNING, "DEFINITION_NOT_LOCAL", found.not_local + "; it is not checked", None, line, column,
                        filename)], None, filename))
                    continue
                # the template's StateMachineType unless the caller insisted on one
                kind = machine_type or found.machine_type
                results.append(check_definition(found.definition, kind, found.logical_id, found.document,
                                                found.document.filename or filename,
                                                known=list(found.substitutions) if found.substitutions else None))
            return results
        if select is not None:
            raise SourceError(f"'{select}' was asked for, but the file is a definition, not a template",
                              code="TEMPLATE_ERROR", filename=filename)
        return [check_definition(document.data, machine_type or "STANDARD", name or default_name, document,
                                 filename, substitutions)]
    except SourceError as exc:
        return [_unreadable(exc, name or os.path.basename(filename or "") or "state machine", filename)]


def validate_text(text: str, machine_type: str = "STANDARD") -> list[ValidationResult]:
    """Validate `text` as AWS's APIs take a definition: its JSON text, never a path nor a
    template (`validate_source` would read a file that text names: a caller of `asl serve`
    must not make the server read its files)."""
    from .source import SourceError, parse_text

    try:
        document = parse_text(text, format="json")
    except SourceError as exc:
        return [_unreadable(exc, "StateMachine", None)]
    return [check_definition(document.data, machine_type, "StateMachine", document)]


def _unreadable(exc: Any, name: str, filename: str | None) -> ValidationResult:
    """The result for a source (or one machine of a template) that could not be read."""
    diagnostic = Diagnostic(ERROR, exc.code, exc.message, None, exc.line, exc.column, exc.filename or filename)
    return ValidationResult(name, [diagnostic], None, filename)


def _bare_placeholders(exc: Any, text: str | None, path: str | None,
                       substitutions: Mapping[str, str] | None) -> Any:
    """JSON that does not parse because ``${Name}`` placeholders stand as bare values: read it
    with them filled (or quoted); anything else re-raises `exc`."""
    from .source import parse_bare_placeholders

    if exc.code != "INVALID_JSON_DESCRIPTION":
        raise exc
    # when that does not parse either, its error is the one to show (it may name the value given)
    document = parse_bare_placeholders(text, path, substitutions or {})
    if document is None:
        raise exc
    return document


def _placeholder_warnings(unfilled: list, known: list[str] | None) -> list[Diagnostic]:
    from .diagnostics import pointer
    from .placeholders import CODE, message

    return [Diagnostic(WARNING, CODE, message(name, known), pointer(parts)) for name, parts in unfilled]


# AWS: CreateStateMachine's `definition` is 1 to 1,048,576 characters long.
MAX_DEFINITION_LENGTH = 1_048_576


def _size_limit(definition: Any, document: Any) -> list[Diagnostic]:
    """The definition's length as AWS would receive it: the JSON text of a JSON file as
    written, otherwise (YAML, a template, a dict) the JSON a deployment tool would send."""
    text = getattr(document, "text", None) if getattr(document, "format", None) == "json" else None
    if text is None:
        import json

        try:
            text = json.dumps(definition, separators=(",", ":"), ensure_ascii=False)
        except (TypeError, ValueError, RecursionError):
            return []
    if len(text) <= MAX_DEFINITION_LENGTH:
        return []
    return [Diagnostic(ERROR, "DEFINITION_TOO_LARGE", "1 validation error detected: Value at 'definition' failed "
                       "to satisfy constraint: Member must have length less than or equal to "
                       f"{MAX_DEFINITION_LENGTH} (it is {len(text)} characters long)", None)]


def _duplicate_keys(document: Any) -> list[Diagnostic]:
    """Keys written twice in the same object: JSON parsers keep the last, silently.

    A state name written twice is AWS's DUPLICATE_STATE_NAME; any other repeated key is a
    WARNING (whether AWS rejects it is not known).
    """
    from .diagnostics import pointer

    found = []
    for where, line, column in getattr(document, "duplicate_keys", None) or ():
        raw = where.split("/")[1:]
        parts: list = [int(p) if p.isdigit() and i and raw[i - 1] in ("Branches", "Choices", "Retry", "Catch")
                       else p for i, p in enumerate(raw)]
        location = pointer(parts)
        if len(parts) >= 2 and parts[-2] == "States":
            found.append(Diagnostic(ERROR, "DUPLICATE_STATE_NAME", f"Duplicate State name: {parts[-1]}", location,
                                    line, column))
        else:
            found.append(Diagnostic(WARNING, "DUPLICATE_KEY", f"The key '{parts[-1] if parts else ''}' is written "
                                    "twice in this object; only the last value counts", location, line, column))
    return found


def _out_of_range_numbers(definition: Any) -> list[Diagnostic]:
    """Numbers beyond a double's range (1e400): Jackson, AWS's parser, reads them as Infinity
    without complaint, and what AWS then does with them is unknown, so a WARNING. The engine
    writes them as the string "Infinity" (Jackson's default), so its output stays JSON."""
    import json

    from .diagnostics import pointer

    try:  # the C encoder finds out whether there is one at all, fast
        json.dumps(definition, allow_nan=False, default=repr)
        return []
    except ValueError as exc:
        if not str(exc).startswith("Out of range float"):
            return []
    except RecursionError:
        return []
    found = []
    stack = [((), definition)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            stack.extend(((*path, key), item) for key, item in value.items())
        elif isinstance(value, list):
            stack.extend(((*path, i), item) for i, item in enumerate(value))
        elif isinstance(value, float) and (value != value or value in (_INFINITY, -_INFINITY)):
            found.append(Diagnostic(WARNING, "NUMBER_OUT_OF_RANGE", "This number is beyond the range of a "
                                    "64-bit double and reads as Infinity; whether AWS accepts it is not known "
                                    "(output shows it as the string \"Infinity\")", pointer(list(path))))
    found.reverse()
    return found


_INFINITY = float("inf")


_FILE_SUFFIXES = (".json", ".json5", ".yaml", ".yml", ".asl", ".template")
_JSON_SCALAR = re.compile(r'(true|false|null|-?\d[\d.eE+-]*|".*")')


def _looks_like_path(text: str) -> bool:
    """Whether a one-line string names a file rather than holding a definition's text.

    A string naming an existing file is a path; so is one that looks like a file name (a
    folder separator, a definition file's suffix, no spaces) even when no such file exists, so
    that a mistyped path says "File not found". Other text (``not a definition``, ``null``) is
    parsed, and gets the diagnostics AWS's ValidateStateMachineDefinition gives such text.
    """
    stripped = text.strip()
    if not stripped or stripped[0] in "{[" or "\n" in text:
        return False
    bare = stripped.rpartition("#")[0] or stripped  # FILE#LogicalId selects a machine
    if os.path.exists(stripped) or os.path.exists(bare):
        return True
    if os.sep in bare or "/" in bare or bare.lower().endswith(_FILE_SUFFIXES):
        return True
    return not any(c.isspace() for c in stripped) and not _JSON_SCALAR.fullmatch(stripped)
