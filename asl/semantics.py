"""Checks that need the whole machine: variable scopes, JSONata restrictions, lint warnings.

Run by `asl.validate.check` after the schema and graph checks passed.

Variables (ASL-SPEC.md section 5): every block (the machine, each Parallel branch, each Map
processor) is a scope. Inner scopes read the outer variables but may not assign them; a
reference to a variable that no state of the scope chain assigns is suspicious (AWS only
fails at run time, so it is a WARNING here).
"""
from __future__ import annotations

import re
from typing import Any, Iterator

from . import diagnostics as codes
from .paths import variable_name_end

_JSONATA_PARAMS = re.compile(r"function\s*\(([^)]*)\)")


def check_semantics(checker: Any, machine: Any) -> None:
    definition = machine.definition
    _check_scopes(checker, definition, (), outer=frozenset(), inner=False)
    _jsonata_problems(checker, machine)
    _intrinsic_warnings(checker, machine)
    _lint(checker, definition, ())


# --------------------------------------------------------------------------------------------
# Variables
# --------------------------------------------------------------------------------------------

def _assign_keys(assign: Any, ql: str) -> Iterator[str]:
    if isinstance(assign, dict):
        for key in assign:
            yield key[:-2] if ql == "JSONPath" and key.endswith(".$") else key


def _state_ql(state: dict, machine_ql: str) -> str:
    own = state.get("QueryLanguage")
    return machine_ql if own is None else ("JSONPath" if own == "JSONPath" else "JSONata")


def _assignments(state: dict, ql: str) -> Iterator[tuple[str, tuple]]:
    """(name, location of its Assign) for every Assign a state holds."""
    yield from ((k, ("Assign",)) for k in _assign_keys(state.get("Assign"), ql))
    for i, rule in enumerate(state.get("Choices") or []):
        if isinstance(rule, dict):
            yield from ((k, ("Choices", i, "Assign")) for k in _assign_keys(rule.get("Assign"), ql))
    for i, catcher in enumerate(state.get("Catch") or []):
        if isinstance(catcher, dict):
            yield from ((k, ("Catch", i, "Assign")) for k in _assign_keys(catcher.get("Assign"), ql))


def _references(value: Any, ql: str) -> Iterator[str]:
    """Variable names a JSON value reads: ``.$`` paths/intrinsics (JSONPath) or ``{% %}`` (JSONata)."""
    stack = [(value, False)]
    while stack:
        item, dynamic = stack.pop()
        if isinstance(item, dict):
            for key, sub in item.items():
                stack.append((sub, ql == "JSONPath" and isinstance(key, str) and key.endswith(".$")))
        elif isinstance(item, list):
            stack.extend((sub, dynamic) for sub in item)
        elif isinstance(item, str):
            if ql == "JSONata" and item.startswith("{%") and item.endswith("%}"):
                body = item[2:-2]
                named = list(_dollar_names(body))
                bound = {name for name, end in named if body[end:].lstrip().startswith(":=")}
                for params in _JSONATA_PARAMS.findall(body):
                    bound.update(p.strip().lstrip("$") for p in params.split(","))
                for name, end in named:
                    if name in bound or name == "states" or body[end:end + 1] == "(":
                        continue
                    yield name
            elif dynamic:
                # Strip quoted strings so 'literal $x' in an intrinsic is not a reference.
                text = re.sub(r"'(?:\\.|[^'\\])*'", "''", item)
                if not text.startswith("$$"):
                    yield from (name for name, _ in _dollar_names(text))


def _dollar_names(text: str) -> Iterator[tuple[str, int]]:
    """(name, where it ends) for each ``$name`` in `text` not inside a word or after ``$``. A name
    is a Unicode identifier (`asl.paths.variable_name_end`)."""
    for found in re.finditer(r"\$", text):
        start = found.start()
        if start and (text[start - 1] == "$" or ("_" + text[start - 1]).isidentifier()):
            continue
        end = variable_name_end(text, start + 1)
        if end > start + 1:
            yield text[start + 1:end], end


_READ_FIELDS = ("Parameters", "Arguments", "Output", "Assign", "ResultSelector", "ItemSelector", "Items",
                "InputPath", "OutputPath", "ItemsPath", "Credentials", "Error", "Cause", "ErrorPath", "CausePath",
                "TimeoutSeconds", "HeartbeatSeconds", "Seconds", "Timestamp", "SecondsPath", "TimestampPath",
                "MaxConcurrency", "MaxConcurrencyPath", "Choices", "Default", "Catch")


def _check_scopes(checker: Any, block: dict, where: tuple, outer: frozenset, inner: bool,
                  earlier: frozenset = frozenset()) -> None:
    """`outer`: the names the enclosing scopes assign; `earlier`: those of them assigned by a state
    that can run before the enclosing Map or Parallel is entered."""
    machine_ql = checker.machine_ql
    states = block.get("States") or {}
    assigned: set[str] = set()
    for name, state in states.items():
        ql = _state_ql(state, machine_ql)
        for var, at in _assignments(state, ql):
            assigned.add(var)
            if inner and var in earlier:
                # a third-party suite run against AWS (Feature.JsonataScopeSource 001, 002): a Map
                # iteration or a Parallel branch assigning the name a state before it assigned fails
                # ValidateStateMachineDefinition (ASL-SPEC.md section 5: no shadowing)
                checker.error(codes.SCHEMA_VALIDATION_FAILED, f"The variable '{var}' is already assigned in an "
                              "enclosing scope: a state inside a Map or Parallel cannot assign it",
                              where + ("States", name) + at)
            elif inner and var in outer:
                # a recorded AWS execution (PARALLEL_CATCH_ERROR_VARIABLE_SAMPLING) assigns a name inside
                # a branch that only the Parallel's own catcher assigns outside: accepted
                checker.warn("OUTER_VARIABLE_ASSIGNED", f"The variable '{var}' is also assigned in an enclosing "
                             "scope: inside a Map or Parallel this creates a separate variable that disappears "
                             "when the branch ends; the outer one is not changed", where + ("States", name) + at)
    visible = outer | assigned
    for name, state in states.items():
        ql = _state_ql(state, machine_ql)
        here = where + ("States", name)
        seen: set[str] = set()
        for field in _READ_FIELDS:
            if field not in state:
                continue
            value = state[field]
            if ql == "JSONPath" and field.endswith("Path") and isinstance(value, str):
                value = {"x.$": value}
            for var in _references(value, ql):
                if var not in visible and var not in seen:
                    seen.add(var)
                    checker.warn("UNDEFINED_VARIABLE", f"The variable '${var}' is read here, but no state of this "
                                 "scope or an enclosing one assigns it", here + (field,))
        if state.get("Type") not in ("Parallel", "Map"):
            continue
        child_earlier = earlier | _assigned_before(states, name, machine_ql)
        if state.get("Type") == "Parallel":
            for i, branch in enumerate(state.get("Branches") or []):
                _check_scopes(checker, branch, here + ("Branches", i), visible, True, child_earlier)
        else:
            key = "ItemProcessor" if "ItemProcessor" in state else "Iterator"
            processor = state.get(key) or {}
            config = processor.get("ProcessorConfig") or {}
            # Distributed Map children cannot read the outer variables.
            if config.get("Mode") == "DISTRIBUTED":
                _check_scopes(checker, processor, here + (key,), frozenset(), True)
            else:
                _check_scopes(checker, processor, here + (key,), visible, True, child_earlier)


def _assigned_before(states: dict, target: str, machine_ql: str) -> frozenset:
    """The names assigned by the states of `states` from which `target` can be reached (not by
    `target` itself: its catchers assign after its branches ran). One walk back from `target`
    over the block's transitions, so a block of many Maps stays linear per Map."""
    from .checks import _targets

    comes_from: dict[str, list[str]] = {}
    for name, state in states.items():
        if isinstance(state, dict):
            for nxt, _ in _targets(state, ()):
                comes_from.setdefault(nxt, []).append(name)
    seen, todo = set(), [target]
    while todo:
        for name in comes_from.get(todo.pop(), ()):
            if name not in seen:
                seen.add(name)
                todo.append(name)
    before: set[str] = set()
    for name in seen - {target}:
        state = states[name]
        before.update(var for var, _ in _assignments(state, _state_ql(state, machine_ql)))
    return frozenset(before)


# --------------------------------------------------------------------------------------------
# JSONata
# --------------------------------------------------------------------------------------------

def _jsonata_problems(checker: Any, machine: Any) -> None:
    """Report the restrictions AWS places on JSONata expressions (UNSUPPORTED_JSONATA_EXPRESSION)."""
    from .templates import Template

    for parts, _name, state in machine.iter_states():
        if not state.is_jsonata:
            continue
        for field, value in _templates_of(state):
            if isinstance(value, Template):
                in_catcher = field[0] == "Catch"
                has_result = state.type in ("Task", "Parallel", "Map") and field[0] in ("Output", "Assign")
                for sub, expr in _expressions(value):
                    for code, message in getattr(expr, "problems", ()):
                        checker.error(code, message, parts + field + sub)
                    # $states.errorOutput exists only in a catcher, $states.result only after the work
                    # (AWS: "Field '$states.errorOutput' does not exist."; the result twin by analogy).
                    for name, allowed in (("errorOutput", in_catcher), ("result", has_result)):
                        if name in getattr(expr, "states_fields", ()) and not allowed:
                            checker.error(codes.UNSUPPORTED_JSONATA_EXPRESSION,
                                          f"Field '$states.{name}' does not exist.", parts + field + sub)


def _templates_of(state: Any) -> Iterator[tuple[tuple, Any]]:
    for attr in ("arguments", "output", "assign", "items", "item_selector", "timeout_seconds",
                 "heartbeat_seconds", "seconds", "timestamp", "error", "cause", "max_concurrency",
                 "tolerated_failure_percentage", "tolerated_failure_count", "credentials"):
        value = getattr(state, attr, None)
        if value is not None:
            from pydantic.alias_generators import to_pascal

            yield (to_pascal(attr),), value
    for i, rule in enumerate(getattr(state, "choices", None) or []):
        for attr in ("condition", "output", "assign"):
            value = getattr(rule, attr, None)
            if value is not None:
                yield ("Choices", i, attr.capitalize()), value
    for i, catcher in enumerate(getattr(state, "catch", None) or []):
        for attr in ("output", "assign"):
            value = getattr(catcher, attr, None)
            if value is not None:
                yield ("Catch", i, attr.capitalize()), value


def _expressions(template: Any) -> Iterator[tuple[tuple, Any]]:
    """(sub-location, compiled JSONata expression) inside a template's source."""
    from .jsonata import compile_expression
    from .templates import is_jsonata

    stack: list[tuple[tuple, Any]] = [((), template.source)]
    while stack:
        at, value = stack.pop()
        if isinstance(value, dict):
            stack.extend((at + (k,), v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((at + (i,), v) for i, v in enumerate(value))
        elif is_jsonata(value):
            yield at, compile_expression(value[2:-2])


# --------------------------------------------------------------------------------------------
# Lint warnings (AWS's NO_DOLLAR and our own)
# --------------------------------------------------------------------------------------------

_LOOKS_DYNAMIC = re.compile(r"^(\$|States\.[A-Za-z]+\()")


def _intrinsic_warnings(checker: Any, machine: Any) -> None:
    """Doubts about intrinsic calls that AWS is not known to reject at creation (arity of
    optional arguments, literal argument types, Format placeholders)."""
    for parts, _name, state in machine.iter_states():
        if state.is_jsonata:
            continue
        for attr in ("parameters", "result_selector", "item_selector", "assign", "credentials"):
            template = getattr(state, attr, None)
            if template is None or not isinstance(template.source, dict):
                continue
            for at, text in _dollar_values(template.source, ()):
                from .intrinsics import compile_intrinsic, is_intrinsic

                if is_intrinsic(text):
                    for message in compile_intrinsic(text).warnings():
                        from pydantic.alias_generators import to_pascal

                        checker.warn("INTRINSIC_ARGUMENTS", message, parts + (to_pascal(attr),) + at)


def _dollar_values(value: Any, at: tuple, fields: tuple = (), skip: tuple = ()) -> Iterator[tuple[tuple, str]]:
    """(location, text) of every string under a ``.$`` key, and of the top-level `fields`;
    the top-level keys in `skip` are not entered."""
    if isinstance(value, dict):
        for key, sub in value.items():
            if not at and key in skip:
                continue
            if isinstance(key, str) and (key.endswith(".$") or (not at and key in fields)) and isinstance(sub, str):
                yield at + (key,), sub
            else:
                yield from _dollar_values(sub, at + (key,))
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            yield from _dollar_values(sub, at + (i,))


def _lint(checker: Any, block: dict, where: tuple) -> None:
    for name, state in (block.get("States") or {}).items():
        here = where + ("States", name)
        ql = _state_ql(state, checker.machine_ql)
        if ql == "JSONPath":
            for field in ("Parameters", "ResultSelector", "ItemSelector"):
                for at, key, text in _no_dollar(state.get(field), (field,)):
                    checker.warn(codes.NO_DOLLAR, _no_dollar_message(key, text), here + at)
            for at, words in _unquoted_filter_words(state):
                checker.warn("UNQUOTED_FILTER_LITERAL",
                             f"The filter compares with {', '.join(words)} written without quotes: read as "
                             f"{'a string' if len(words) == 1 else 'strings'}; JSONPath wants "
                             f"{', '.join(repr(w) for w in words)}", here + at)
        _lint_recovery(checker, state, here)
        if state.get("Type") == "Parallel":
            for i, branch in enumerate(state.get("Branches") or []):
                _lint(checker, branch, here + ("Branches", i))
        elif state.get("Type") == "Map":
            key = "ItemProcessor" if "ItemProcessor" in state else "Iterator"
            _lint(checker, state.get(key) or {}, here + (key,))


_PATH_FIELDS = ("InputPath", "OutputPath", "ItemsPath", "ErrorPath", "CausePath")
_NESTED = ("Branches", "ItemProcessor", "Iterator", "Result")  # blocks (linted apart), static data


def _unquoted_filter_words(state: dict) -> Iterator[tuple[tuple, list[str]]]:
    """(location, words) for each path of a JSONPath state (a path field, a ``.$`` value or an
    intrinsic's path arguments) whose filters compare with bare words (``[?(@.a == es)]``)."""
    for at, text in _dollar_values(state, (), _PATH_FIELDS, _NESTED):
        words = _bare_words(text)
        if words:
            yield at, words


def _bare_words(text: str) -> list[str]:
    if "?" not in text:
        return []
    from .errors import ExpressionSyntaxError
    from .intrinsics import compile_intrinsic, is_intrinsic
    from .paths import compile_path

    try:
        paths = compile_intrinsic(text).paths() if is_intrinsic(text) else [compile_path(text)]
    except ExpressionSyntaxError:
        return []  # reported by the schema check
    return [word for path in paths for word in path.unquoted_words]


def _no_dollar(value: Any, at: tuple) -> Iterator[tuple[tuple, str, str]]:
    """(location, key, text) of each string of `value` that looks like a path or an intrinsic
    function under a key without ``.$``: located at the object holding the key, as AWS locates
    it (raw capture, radkawar/stackd testdata/aws/stepfunctions/control_lifecycle.json,
    validate-warning-all: ``{"value": "$.value"}`` of Parameters at /States/A/Parameters)."""
    if isinstance(value, dict):
        for key, sub in value.items():
            if isinstance(key, str) and key.endswith(".$"):
                continue
            if _looks_dynamic(sub):
                yield at, key, sub
            else:
                yield from _no_dollar(sub, at + (key,))
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            yield from _no_dollar(sub, at + (i,))


def _looks_dynamic(value: Any) -> bool:
    return isinstance(value, str) and bool(_LOOKS_DYNAMIC.match(value)) and len(value) > 1 and \
        not _placeholder_only(value)


def _no_dollar_message(key: str, text: str) -> str:
    """AWS's words for a JSONPath under key `key` without ``.$`` (control_lifecycle.json,
    validate-warning-all); ours, worded alike, for an intrinsic function."""
    if text.startswith("$"):
        return (f"The value of '{key}' looks like a JSONPath. Instead of '{key}', use '{key}.$' to evaluate it as "
                "a JSONPath at runtime.")
    return (f"The value of '{key}' looks like an intrinsic function call. Instead of '{key}', use '{key}.$' to "
            "evaluate it at runtime.")


def _placeholder_only(text: str) -> bool:
    """A string holding a deployment placeholder (``${TableName}``): not known to be a path
    until filled (UNRESOLVED_PLACEHOLDER says so)."""
    if "${" not in text:
        return False
    from .placeholders import has_placeholder

    return has_placeholder(text)


def _lint_recovery(checker: Any, state: dict, here: tuple) -> None:
    """Retriers/catchers that can never match because an earlier entry already takes their errors."""
    for field in ("Retry", "Catch"):
        entries = state.get(field)
        if not isinstance(entries, list):
            continue
        taken: set[str] = set()
        for i, entry in enumerate(entries):
            errors = entry.get("ErrorEquals") if isinstance(entry, dict) else None
            if not isinstance(errors, list):
                continue
            if errors and all(e in taken for e in errors):
                checker.warn("UNREACHABLE_" + ("RETRIER" if field == "Retry" else "CATCHER"),
                             f"Every error this {'retrier' if field == 'Retry' else 'catcher'} names is already "
                             f"matched by an earlier entry of '{field}': it can never apply", here + (field, i))
            taken.update(errors)
            if "States.TaskFailed" in errors:
                taken.add("*task*")
        if field == "Retry":
            for i, entry in enumerate(entries):
                if isinstance(entry, dict) and entry.get("MaxAttempts") == 0 and not _shields(entry, entries[i + 1:]):
                    checker.warn("RETRY_NEVER", "MaxAttempts 0 means this retrier never retries", here + (field, i))


def _shields(entry: dict, later: list) -> bool:
    """Is a ``MaxAttempts: 0`` retrier deliberate? It is when a later retrier would otherwise
    match one of its errors (``States.ALL`` after it, the same name, ``States.TaskFailed``):
    the first matching retrier decides, so it keeps those errors from being retried."""
    errors = entry.get("ErrorEquals")
    if not isinstance(errors, list):
        return False
    for other in later:
        names = other.get("ErrorEquals") if isinstance(other, dict) else None
        if not isinstance(names, list):
            continue
        for error in errors:
            if error in names or "States.ALL" in names or (
                    "States.TaskFailed" in names and error not in ("States.Timeout", "States.ALL")):
                return True
    return False
