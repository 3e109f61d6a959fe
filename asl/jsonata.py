"""JSONata for asl: AWS Step Functions' dialect, compiled once and evaluated many times.

Everything JSONata lives behind this module; the rest of the package sees two names::

    compile_expression(text, field) -> Expression     text is what sits between "{%" and "%}"
    Expression.evaluate(bindings) / .evaluate_in(scope) -> plain JSON value

Layers, each in its own section below:

1. Static side (pure Python, no dependency): a tokenizer and Pratt parser that follow the
   JSONata 2.0.6 grammar (the version AWS runs). They give syntax errors AWS's wording
   (INVALID_JSONATA_EXPRESSION shows the parser message without its code) and the AWS
   restrictions that the validator reports (``Expression.problems``).
2. AWS's extra functions: ``$partition $range $hash $random $uuid $parse``; ``$eval`` is removed.
3. Evaluation, delegated to the `jsonatapy` package (Rust), imported lazily. Why that library:
   docs/jsonata-choice.md (measured conformance, speed and safety of four candidates).

Failures, two trees as everywhere in asl (see asl.errors)::

    ExpressionSyntaxError    compile time: the text is not JSONata 2.0.6      (position set)
    StatesError("States.QueryEvaluationError", cause)
                             run time: undefined result, a JSONata error (code: message),
                             a function as result, one of the evaluation bounds (LIMITS)

Causes are AWS's text without the "An error occurred while executing the state ..." prefix,
which the engine adds, e.g. ``The JSONata expression '$x' specified for the field 'Output'
returned nothing (undefined).``
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
import hashlib
import json
import math
import random as _random_module
import re
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping

from . import deepjson
from .errors import ExpressionSyntaxError, StatesError
from .intrinsics import kind_of
from .javarandom import JavaRandom

__all__ = ["compile_expression", "Expression", "Limits", "LIMITS", "execution_context",
           "QUERY_EVALUATION_ERROR", "UNSUPPORTED", "INVALID"]

QUERY_EVALUATION_ERROR = "States.QueryEvaluationError"
UNSUPPORTED = "UNSUPPORTED_JSONATA_EXPRESSION"
INVALID = "INVALID_JSONATA_EXPRESSION"


@dataclass(frozen=True)
class Limits:
    """Bounds on one evaluation; exceeding one raises States.QueryEvaluationError.

    The bounds are counts, not time, so an expression evaluates (or fails) the same way on a
    busy machine as on an idle one. AWS bounds evaluation too (a nesting depth near 100, about
    7 MB of memory, a time limit); these sit at or above what AWS accepts.
    """

    max_depth: int = 3_000
    """Evaluation nesting depth (about 5 per nested call of a function: some 500 calls deep)."""
    max_calls: int = 1_000_000
    """Calls of functions the expression defines (``function($x){...}``), counted: an endless
    tail recursion such as ``($f := function($x){$f($x)}; $f(1))`` ends here."""
    max_sequence: int = 873_782
    """Items in one sequence or array built by the evaluation (``[1..n]``, ``$range``, a path
    over many items): AWS accepts ``[1..873782]`` and refuses ``[1..873783]`` (memory)."""
    max_result_bytes: int = 6_990_256
    """JSON size of the result (a string of 2**22 characters passes, 2**23 does not, as on AWS)."""
    time_limit_ms: int = 10_000
    """A backstop only: wall-clock time for one evaluation, for work none of the counts bounds
    (the library checks it between steps, so one huge built-in step can outlast it)."""


LIMITS = Limits()

# Randomness and time come from the execution context when the engine provides them.
_RNG: contextvars.ContextVar[_random_module.Random | None] = contextvars.ContextVar("asl_jsonata_rng", default=None)
_CLOCK: contextvars.ContextVar[Callable[[], float] | None] = contextvars.ContextVar("asl_jsonata_clock", default=None)


_CONTEXT_FUNCTIONS = frozenset({"now", "millis", "uuid", "random"})


@contextlib.contextmanager
def execution_context(rng: _random_module.Random | None = None,
                      clock: Callable[[], float] | None = None) -> Iterator[None]:
    """Make ``$random()``/``$uuid()`` draw from `rng` and ``$now()``/``$millis()`` read `clock`
    (seconds since the epoch, like time.time) for evaluations inside the block."""
    tokens = (_RNG.set(rng), _CLOCK.set(clock))
    try:
        yield
    finally:
        _RNG.reset(tokens[0])
        _CLOCK.reset(tokens[1])


# ============================================================================================
# Public interface
# ============================================================================================

def compile_expression(text: str, field: str = "") -> "Expression":
    """Compile the inside of ``"{% ... %}"``; `field` names the field in causes (``Output``,
    ``Arguments/FunctionName``, ``Assign/x``).

    Raises ExpressionSyntaxError (message as AWS words it, position 0-based) when `text` is
    not JSONata 2.0.6. AWS's restrictions (``$$``, top-level ``$`` or field names, ``$eval``)
    do not raise: they are listed in ``Expression.problems`` for the validator.
    """
    return Expression(text, field, _analyse(text))


class Expression:
    """A compiled JSONata expression of one field.

    ``text`` and ``field`` as given; ``problems`` lists (code, message) for the validator;
    ``variables`` holds every ``$name`` the text mentions (``states`` included) and
    ``states_fields`` the ``$states.<field>`` names it reads.
    """

    __slots__ = ("text", "field", "problems", "variables", "states_fields", "_source", "_counted", "_aliases")

    def __init__(self, text: str, field: str, analysis: "_Analysis"):
        self.text = text
        self.field = field
        self.problems: list[tuple[str, str]] = list(analysis.problems)
        self.variables: frozenset[str] = analysis.variables
        self.states_fields: frozenset[str] = analysis.states_fields
        self._source = text.strip()   # AWS quotes the expression trimmed in its causes
        self._counted = analysis.counted or text   # what runs: function bodies count their calls
        self._aliases: dict[str, str] = dict(analysis.aliases)   # {variable: its name in _counted}

    def __repr__(self) -> str:
        return f"Expression({self.text!r}, field={self.field!r})"

    # Compiled objects are immutable; copies share them, pickles recompile.
    def __copy__(self) -> "Expression":
        return self

    def __deepcopy__(self, memo: dict) -> "Expression":
        return self

    def __reduce__(self) -> tuple:
        return (compile_expression, (self.text, self.field))

    # -- evaluation ------------------------------------------------------------------------

    def evaluate_in(self, scope: Any) -> Any:
        """Evaluate with ``$states`` = ``scope.states`` and each of ``scope.variables``;
        ``$random``/``$uuid`` draw from ``scope.rng`` and ``$now``/``$millis`` read
        ``scope.now()`` when the scope has them (the engine's, per state)."""
        bindings = dict(scope.variables) if scope.variables else {}
        bindings["states"] = scope.states
        if self.variables & _CONTEXT_FUNCTIONS and getattr(scope, "rng", None) is not None:
            with execution_context(scope.rng, getattr(scope, "now", None)):
                return self.evaluate(bindings)
        return self.evaluate(bindings)

    def evaluate(self, bindings: Mapping[str, Any]) -> Any:
        """Evaluate with `bindings` (``{"states": {...}, "myVar": ...}``); return a JSON value.

        Raises StatesError("States.QueryEvaluationError") with AWS's cause when the result is
        undefined, a function, or the evaluation fails.
        """
        used = {name: bindings[name] for name in self.variables if name in bindings}
        if self._aliases:   # names the library cannot read, given under others (`_needs_alias`)
            used = {self._aliases.get(name, name): value for name, value in used.items()}
        text = _backend().run(self, used)
        if text is None:
            raise self.failure("returned nothing (undefined).")
        if text == '""' and self._is_function(used):
            raise self.failure("returned an unsupported result type.")
        return deepjson.loads(text)

    def unexpected(self, value: Any, kind: str) -> StatesError:
        """AWS's failure for a result `value` that is not of the `kind` its field takes ('array',
        'object', 'string', 'number', 'integer', 'boolean'), as recorded for Map ``Items``."""
        shown = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        return self.failure(f"returned an unexpected result type. Expected '{kind}', "
                            f"but was '{kind_of(value)}' for value: {shown}")

    def failure(self, what: str) -> StatesError:
        """States.QueryEvaluationError whose cause says this expression `what`."""
        return StatesError(QUERY_EVALUATION_ERROR, f"The JSONata expression '{self._source}' "
                                                   f"specified for the field '{self.field}' {what}", field=self.field)

    def _is_function(self, used: dict) -> bool:
        # The library prints a function result as "" (as JSON.stringify would drop it); only
        # then is it worth asking JSONata for the type.
        probe = _probe_for(self.text, tuple(self._aliases.items()))
        try:
            return _backend().run(probe, used) == '"function"'
        except StatesError:
            return False


@functools.lru_cache(maxsize=256)
def _probe_for(text: str, aliases: tuple = ()) -> Expression:
    probe = f"$type(({text}\n))"
    return Expression(probe, "", _Analysis((), frozenset(), frozenset(), _for_library(probe, dict(aliases)), aliases))


# ============================================================================================
# 1. Static side: tokenizer, parser, AWS restrictions
# ============================================================================================

# Binding powers of the JSONata 2.0.6 operators (no "?:" or "??": those came in 2.1).
_BP = {
    ".": 75, "[": 80, "]": 0, "{": 70, "}": 0, "(": 80, ")": 0, ",": 0, "@": 80, "#": 80,
    ";": 80, ":": 80, "?": 20, "+": 50, "-": 50, "*": 60, "/": 60, "%": 60, "|": 20,
    "=": 40, "<": 40, ">": 40, "^": 40, "**": 60, "..": 20, ":=": 10, "!=": 40, "<=": 40,
    ">=": 40, "~>": 40, "and": 30, "or": 25, "in": 40, "&": 50,
}
# Symbols that are never infix bind nothing (".." only works inside an array constructor);
# "!" and "~" stop names but are not operators (an expression using them fails with S0204).
_BP.update({sym: 0 for sym in (":", ";", "..", "|", "**")})
_OPERATOR_CHARS = set(".[]{}(),@#;:?+-*/%|=<>^&!~")
_DOUBLE = ("..", ":=", "!=", ">=", "<=", "**", "~>")
_NUMBER = re.compile(r"(0|[1-9][0-9]*)(\.[0-9]+)?([Ee][-+]?[0-9]+)?")
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_BINARY = {"+", "-", "*", "/", "%", "=", "!=", "<", "<=", ">", ">=", "&", "and", "or", "in", "..", "~>"}


class _Syntax(Exception):
    """A JSONata syntax error: code (S0xxx), AWS/JSONata message, 0-based position."""

    def __init__(self, code: str, message: str, position: int):
        super().__init__(message)
        self.code, self.message, self.position = code, message, position


def _show(value: Any) -> str:
    """A token as JSONata's messages show it (JSON.stringify)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return json.dumps(value, ensure_ascii=False)


@dataclass
class _Token:
    type: str            # operator, name, variable, string, number, value, regex, end
    value: Any
    start: int
    end: int


class _Lexer:
    def __init__(self, text: str):
        self.text, self.pos = text, 0

    def next(self, prefix: bool) -> _Token:
        text, n = self.text, len(self.text)
        while True:
            while self.pos < n and text[self.pos] in " \t\n\r\v":
                self.pos += 1
            if text.startswith("/*", self.pos):
                close = text.find("*/", self.pos + 2)
                if close < 0:
                    raise _Syntax("S0106", "Comment has no closing tag", self.pos)
                self.pos = close + 2
                continue
            break
        start = self.pos
        if start >= n:
            return _Token("end", None, start, start)
        ch = text[start]
        if prefix and ch == "/":
            return self._regex(start)
        if text[start:start + 2] in _DOUBLE:
            self.pos += 2
            return _Token("operator", text[start:start + 2], start, self.pos)
        if ch in _OPERATOR_CHARS:
            self.pos += 1
            return _Token("operator", ch, start, self.pos)
        if ch in "\"'":
            return self._string(start, ch)
        match = _NUMBER.match(text, start)
        if match:
            self.pos = match.end()
            number = float(match.group(0))
            if math.isinf(number):
                raise _Syntax("S0102", f"Number out of range: {_show(match.group(0))}", start)
            return _Token("number", number, start, self.pos)
        if ch == "`":
            close = text.find("`", start + 1)
            if close < 0:
                raise _Syntax("S0105", "Quoted property name must be terminated with a backquote (`)", n)
            self.pos = close + 1
            return _Token("name", text[start + 1:close], start, self.pos)
        end = start
        while end < n and text[end] not in _OPERATOR_CHARS and text[end] not in " \t\n\r\v":
            end += 1
        if end == start:      # a lone character JSONata has no token for
            end += 1
        self.pos = end
        word = text[start:end]
        if word.startswith("$"):
            return _Token("variable", word[1:], start, end)
        if word in ("and", "or", "in"):
            return _Token("operator", word, start, end)
        if word in ("true", "false", "null"):
            return _Token("value", {"true": True, "false": False, "null": None}[word], start, end)
        return _Token("name", word, start, end)

    def _string(self, start: int, quote: str) -> _Token:
        text, i, out = self.text, start + 1, []
        while i < len(text):
            ch = text[i]
            if ch == "\\":
                i += 1
                esc = text[i] if i < len(text) else ""
                if esc in _ESCAPES:
                    out.append(_ESCAPES[esc])
                elif esc == "u":
                    digits = text[i + 1:i + 5]
                    if not re.fullmatch(r"[0-9a-fA-F]{4}", digits):
                        raise _Syntax("S0104", "The escape sequence \\u must be followed by 4 hex digits", i)
                    out.append(chr(int(digits, 16)))
                    i += 4
                else:
                    raise _Syntax("S0103", f"Unsupported escape sequence: \\{_show(esc)}", i)
            elif ch == quote:
                self.pos = i + 1
                return _Token("string", "".join(out), start, self.pos)
            else:
                out.append(ch)
            i += 1
        raise _Syntax("S0101", "String literal must be terminated by a matching quote", len(text))

    def _regex(self, start: int) -> _Token:
        text, i, depth = self.text, start + 1, 0
        while i < len(text):
            ch = text[i]
            if ch == "/" and depth == 0:
                slashes = 0
                while text[i - 1 - slashes] == "\\":
                    slashes += 1
                if slashes % 2 == 0:
                    if i == start + 1:
                        raise _Syntax("S0301", "Empty regular expressions are not allowed", i)
                    i += 1
                    while i < len(text) and text[i] in "im":
                        i += 1
                    self.pos = i
                    return _Token("regex", text[start:i], start, i)
            if ch in "([{" and text[i - 1] != "\\":
                depth += 1
            if ch in ")]}" and text[i - 1] != "\\":
                depth -= 1
            i += 1
        raise _Syntax("S0302", "No terminating / in regular expression", len(text))


class _Parser:
    """Pratt parser of JSONata 2.0.6 into tuples: just enough tree for the AWS checks."""

    def __init__(self, text: str):
        self.lexer = _Lexer(text)
        self.bodies: list[tuple[int, int]] = []   # (after "{", at "}") of each function body
        self.token = _Token("end", None, 0, 0)
        self.ended = False
        self.advance(prefix=True)

    def advance(self, expect: str | None = None, prefix: bool | None = None) -> None:
        """Move past the current token (checking it is `expect`); `prefix` says whether the next
        token stands where an operand may start, which is where a '/' opens a regex."""
        if prefix is None:
            prefix = expect is not None and expect not in (")", "]", "}")
        token = self.token
        if expect is not None and not (token.type == "operator" and token.value == expect):
            if token.type == "end":
                raise _Syntax("S0203", f"Expected {_show(expect)} before end of expression", token.start)
            raise _Syntax("S0202", f"Expected {_show(expect)}, got {_show(token.value)}", token.start)
        self.token = self.lexer.next(prefix)
        if self.token.type == "operator" and self.token.value not in _BP:
            raise _Syntax("S0204", f"Unknown operator: {_show(self.token.value)}", self.token.start)

    def at(self, op: str) -> bool:
        return self.token.type == "operator" and self.token.value == op

    def parse(self) -> tuple:
        tree = self.expression(0)
        if self.token.type != "end":
            raise _Syntax("S0201", f"Syntax error: {_show(self.token.value)}", self.token.start)
        if self.ended:     # an operand was missing at the end, and nothing else went wrong first
            raise _Syntax("S0207", "Unexpected end of expression", len(self.lexer.text))
        return tree

    def expression(self, rbp: int) -> tuple:
        token = self.token
        self.advance(prefix=False)      # JSONata reads the token after an operand as an operator
        left = self.nud(token)
        while self.token.type == "operator" and rbp < _BP[self.token.value]:
            token = self.token
            self.advance(prefix=True)
            left = self.led(token, left)
        return left

    # -- prefix position -------------------------------------------------------------------

    def nud(self, t: _Token) -> tuple:
        if t.type == "end":
            # JSONata lets the end stand as an operand and complains afterwards, so that a
            # missing closing bracket is reported as such (S0203) rather than as S0207.
            self.ended = True
            return ("lit", None)
        if t.type == "name" or (t.type == "operator" and t.value in ("and", "or", "in")):
            return ("name", t.value)        # the keywords double as field names
        if t.type == "variable":
            return ("var", t.value)
        if t.type in ("string", "number", "value", "regex"):
            return ("lit", t.value)
        op = t.value
        if op == "-":
            return ("neg", self.expression(70))
        if op in ("*", "**", "%"):
            return ("lit", op)
        if op == "[":
            return ("array", self.sequence("]", self.item))
        if op == "{":
            return ("object", self.sequence("}", self.pair))
        if op == "(":
            items = []
            while not self.at(")"):
                items.append(self.expression(0))
                if not self.at(";"):
                    break
                self.advance(";", prefix=True)
            self.advance(")")
            return ("block", items)
        if op == "|":
            pattern = self.expression(0)
            self.advance("|", prefix=True)
            update = self.expression(0)
            if self.at(","):
                self.advance(",", prefix=True)
                self.expression(0)
            self.advance("|")
            return ("transform", pattern, update)
        raise _Syntax("S0211", f"The symbol {_show(op)} cannot be used as a unary operator", t.start)

    def sequence(self, close: str, item: Callable[[], Any]) -> list:
        items = []
        if not self.at(close):
            while True:
                items.append(item())
                if not self.at(","):
                    break
                self.advance(",", prefix=True)
        self.advance(close)
        return items

    def item(self) -> tuple:
        value = self.expression(0)
        if self.at(".."):
            self.advance("..")
            value = ("bin", "..", value, self.expression(0))
        return value

    def pair(self) -> tuple:
        key = self.expression(0)
        self.advance(":", prefix=True)
        return key, self.expression(0)

    # -- infix position --------------------------------------------------------------------

    def led(self, t: _Token, left: tuple) -> tuple:
        op = t.value
        if (op in _BINARY and op != "..") or op == ".":
            right = self.expression(_BP[op])
            return ("path", left, right) if op == "." else ("bin", op, left, right)
        if op == "[":
            if self.at("]"):
                self.advance("]")
                return left
            predicate = self.expression(0)
            self.advance("]")
            return ("pred", left, predicate)
        if op == "{":
            return ("group", left, self.sequence("}", self.pair))
        if op == "^":
            self.advance("(", prefix=True)
            terms = []
            while True:
                if self.at("<") or self.at(">"):
                    self.advance(prefix=True)
                terms.append(self.expression(0))
                if not self.at(","):
                    break
                self.advance(",", prefix=True)
            self.advance(")")
            return ("sort", left, terms)
        if op in ("@", "#"):
            if self.token.type != "variable":
                raise _Syntax("S0214", f"The right side of {_show(op)} must be a variable name "
                                       "(start with $)", self.token.start)
            self.advance()
            return ("focus", left)
        if op == ":=":
            if left[0] != "var":
                raise _Syntax("S0212", "The left side of := must be a variable name (start with $)", t.start)
            return ("bind", left, self.expression(_BP[op] - 1))
        if op == "?":
            then = self.expression(0)
            other = None
            if self.at(":"):
                self.advance(":", prefix=True)
                other = self.expression(0)
            return ("cond", left, then, other)
        if op == "(":
            return self.call(t, left)
        raise _Syntax("S0201", f"Syntax error: {_show(op)}", t.start)

    def call(self, t: _Token, proc: tuple) -> tuple:
        args = []
        if not self.at(")"):
            while True:
                if self.token.type == "operator" and self.token.value == "?":
                    args.append(("lit", "?"))        # partial application placeholder
                    self.advance()
                else:
                    args.append(self.expression(0))
                if not self.at(","):
                    break
                self.advance(",", prefix=True)
        self.advance(")")
        if proc[0] == "name" and proc[1] in ("function", "λ"):
            for index, param in enumerate(args, 1):
                if param[0] != "var":
                    raise _Syntax("S0208", f"Parameter {index} of function definition must be a "
                                           "variable name (start with $)", t.start)
            if self.at("<"):
                self.skip_signature()
            opened = self.token.end
            self.advance("{", prefix=True)
            body = self.expression(0)
            self.bodies.append((opened, self.token.start))
            self.advance("}")
            return ("lambda", body)
        return ("call", proc, args)

    def skip_signature(self) -> None:
        # A signature such as <n-:s> is not made of tokens; skip its characters to the
        # matching '>' (this token is its opening '<').
        lexer, depth, i = self.lexer, 1, self.token.end
        while i < len(lexer.text) and depth:
            depth += {"<": 1, ">": -1}.get(lexer.text[i], 0)
            i += 1
        if depth:
            raise _Syntax("S0203", 'Expected ">" before end of expression', len(lexer.text))
        lexer.pos = i
        self.token = lexer.next(False)


@dataclass(frozen=True)
class _Analysis:
    problems: tuple
    variables: frozenset
    states_fields: frozenset
    counted: str | None = None
    aliases: tuple = ()          # (variable, the name the library is given for it)


@functools.lru_cache(maxsize=4096)
def _analyse(text: str) -> _Analysis:
    try:
        parser = _Parser(text)
        tree = parser.parse()
    except _Syntax as exc:
        raise ExpressionSyntaxError(exc.message, text, min(max(exc.position, 0), len(text))) from None
    except RecursionError:
        raise ExpressionSyntaxError("Expression is too deeply nested", text, 0) from None
    variables, states_fields = _references(text)
    aliases = {name: f"__asl_var{i}_" for i, name in enumerate(sorted(variables)) if _needs_alias(name)}
    _backend().check_syntax(_for_library(text, aliases), text)
    counted = _counting(text, parser.bodies)
    library = _for_library(counted or text, aliases)
    if library != text:
        counted = library
    return _Analysis(tuple(_problems(tree, variables)), frozenset(variables), frozenset(states_fields),
                     counted, tuple(aliases.items()))


# JSONata names a variable by every character up to a blank or an operator character, so
# `$ก่อน` and `$क्षेत्र` (Unicode identifiers, as Assign takes them, with combining marks) are
# variables; the library's tokenizer stops at a combining mark ("Unknown operator: ่") and
# at other characters outside Python's \w. It is given such a variable under another name.
_LIBRARY_NAME = re.compile(r"\w+")


def _needs_alias(name: str) -> bool:
    return "$" not in name and _LIBRARY_NAME.fullmatch(name) is None


def _for_library(text: str, aliases: dict[str, str]) -> str:
    """`text` as the library is given it: each variable of `aliases` renamed, each regex literal
    in the library's (Rust) syntax with JavaScript's meaning (`_js_regex`), and the built-ins it
    gets wrong defined over its own (`_corrected`). Strings and names stay as written (the
    rewrite goes by tokens)."""
    if not aliases and "/" not in text and "$" not in text:
        return text
    pieces, done, mentioned = [], 0, set()
    for token in _tokens(text):
        if token.type == "variable" and token.value in aliases:
            pieces += [text[done:token.start], "$", aliases[token.value]]
            done = token.end
        elif token.type == "regex":
            pieces += [text[done:token.start], _js_regex(token.value)]
            done = token.end
        elif token.type == "variable" and token.value in _CORRECTED:
            mentioned.add(token.value)
    text = "".join(pieces) + text[done:]
    if mentioned:
        text = _corrected(text, mentioned)
    return text


def _corrected(text: str, names: set[str]) -> str:
    """`text` in a block that first defines the built-ins of `_CORRECTED` it mentions over the
    library's. Not where a call gives none of the arguments or more than the function takes:
    the definitions take no context (``x.$f()``; ``x ~> $f()`` gives one argument) and ignore
    extra arguments, so the library's own function serves there (a signature would, at 120 µs
    a call). A variable of the workflow with the function's name (``$clone`` assigned by a
    state) is JSON, never a function, and stays what it is."""
    calls = _builtin_calls(text)
    prelude = []
    for name in sorted(names):
        params, definition = _CORRECTED[name]
        if all(0 < given <= params for called, given in calls if called == name):
            prelude.append(f"$__asl_builtin_{name} := ${name}; "
                           f"${name} := $exists(${name}) and $type(${name}) != 'function' ? ${name} : {definition}; ")
    if not prelude:
        return text
    return "(" + "".join(prelude).replace("$BUILTIN", "$__asl_builtin_") + text + "\n)"


# Built-ins the library gets wrong, as JSONata functions over its own ($BUILTIN<name>: the
# library's), with the number of arguments each takes. Arguments that are not what the fix is
# about go to the built-in unchanged, so that its errors and undefined results stay.
_CORRECTED = {
    # jsonata-js truncates the milliseconds as JavaScript's Date does; the library refuses a
    # fraction ("fromMillis() requires an integer")
    "fromMillis": (3, "function($ms, $p, $tz){ $BUILTINfromMillis($type($ms) = 'number' "
                      "? ($ms < 0 ? $ceil($ms) : $floor($ms)) : $ms, $p, $tz) }"),
    # jsonata-js rounds the value and the radix half to even ($round); the library half away
    "formatBase": (2, "function($v, $r){ $BUILTINformatBase($type($v) = 'number' ? $round($v) : $v, "
                      "$type($r) = 'number' ? $round($r) : $r) }"),
    # the library has no $clone
    "clone": (1, "function($v){ $exists($v) ? $__asl_clone($v) }"),
}
_CORRECTED["pad"] = (3, "function($s, $w, $c){ ($type($s) = 'string' and $type($w) = 'number' "
                        "? $__asl_padBound($s, $w); $BUILTINpad($s, $w, $c)) }")
_CORRECTED.update({   # JavaScript's URI functions (see _fn_encode_url)
    name: (1, f"function($s){{ $type($s) = 'string' ? $__asl_{name}($s) : $BUILTIN{name}($s) }}")
    for name in ("encodeUrlComponent", "encodeUrl", "decodeUrlComponent", "decodeUrl")
})


# A JSONata regex is a JavaScript one (no "u" flag); the library compiles it with Rust's regex
# crate, whose classes are Unicode-wide. What JavaScript means, in Rust's syntax:
_JS_SPACE = "\\t\\n\\x0B\\f\\r \\xA0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000\\uFEFF"
_JS_SETS = {"d": "0-9", "w": "0-9A-Za-z_", "s": _JS_SPACE}   # \d \w \s are ASCII (\s: ECMAScript's list)
_JS_ESCAPES = {
    "b": "(?-u:\\b)", "B": "(?-u:\\B)",   # word boundaries by the ASCII \w
    "p": "p", "P": "P",                   # \p{L} is "p{L}" without the "u" flag
    "0": "\\x00",
}
_QUANTIFIER = re.compile(r"\{[0-9]+(,[0-9]*)?\}")


def _js_regex(literal: str) -> str:
    """A regex literal ``/pattern/flags`` rewritten so that Rust's regex crate matches what
    JavaScript's would (jsonata-js 2.0.6 runs `new RegExp(pattern, flags)`): ``\\d \\w \\s`` and
    their negations are ASCII / ECMAScript sets, ``\\b`` an ASCII word boundary (a backspace in
    a class), ``.`` stops at \\r, U+2028 and U+2029 too, ``[^]`` is any character and ``[]`` none,
    ``[`` ``&`` ``~`` in a class are literal; with ``m``, ``^``/``$`` also see \\r (Rust's CRLF mode).
    Look-around and back-references have no Rust form and stay as written (the library refuses them)."""
    close = literal.rindex("/")
    pattern, flags = literal[1:close], literal[close + 1:]
    out, i, n, in_class = [], 0, len(pattern), False
    after_set = False  # the class item just written is a set escape (\\d \\w \\s, negated or not)

    def set_at(j: int) -> bool:
        return pattern.startswith("\\", j) and j + 1 < n and pattern[j + 1].lower() in _JS_SETS

    while i < n:
        ch = pattern[i]
        was_set, after_set = after_set, False
        if ch == "\\" and i + 1 < n:
            esc = pattern[i + 1]
            after_set = in_class and esc.lower() in _JS_SETS
            i += 2
            if esc in _JS_SETS:
                out.append(_JS_SETS[esc] if in_class else f"[{_JS_SETS[esc]}]")
            elif esc.lower() in _JS_SETS:
                out.append(f"[^{_JS_SETS[esc.lower()]}]")      # a nested class inside a class
            elif in_class and esc in "bB":
                out.append("\\x08" if esc == "b" else esc)
            elif esc in _JS_ESCAPES and not (esc == "0" and i < n and pattern[i].isdigit()):
                out.append(_JS_ESCAPES[esc])
            else:
                out.append(ch + esc)
        elif in_class:
            if ch == "]":
                in_class = False
                out.append(ch)
            elif ch in "[&~/" or (ch == "-" and (pattern.startswith("--", i) or was_set or set_at(i + 1))):
                out.append("\\" + ch)  # (a '-' beside a set escape is no range in JavaScript)
            else:
                out.append(ch)
            i += 1
        elif pattern.startswith("[^]", i):
            out.append("(?s:.)")
            i += 3
        elif pattern.startswith("[]", i):
            out.append("[^\\x00-\\x{10FFFF}]")
            i += 2
        else:
            if ch == "[":
                in_class = True
                out.append("[^" if pattern.startswith("[^", i) else "[")
                i += 1 if pattern.startswith("[^", i) else 0
            elif ch == "{" and not _QUANTIFIER.match(pattern, i):
                out.append("\\{")      # a brace that is no quantifier is a literal one
            else:
                out.append("[^\\n\\r\\u2028\\u2029]" if ch == "." else ch)
            i += 1
    rust = "".join(out)
    if "m" in flags:
        rust = "(?R)" + rust
    return f"/{rust}/{flags}"


_STEP = "__asl_step"


def _counting(text: str, bodies: list[tuple[int, int]]) -> str | None:
    """`text` with every function body ``{ e }`` made ``{ ($__asl_step(); e) }``, so that each
    call of a function the expression defines is counted (`Limits.max_calls`)."""
    if not bodies:
        return None
    inserts = sorted([(start, f"(${_STEP}(); ") for start, _ in bodies] + [(end, ")") for _, end in bodies],
                     key=lambda item: item[0], reverse=True)
    for position, piece in inserts:
        text = text[:position] + piece + text[position:]
    return text


def _references(text: str) -> tuple[set, set]:
    """Every ``$name`` the text mentions, and the ``$states.<field>`` it reads."""
    variables, fields = set(), set()
    previous: list[_Token] = []
    for token in _tokens(text):
        if token.type == "variable" and token.value:
            variables.add(token.value)
        if (token.type == "name" and len(previous) == 2 and previous[0].type == "variable"
                and previous[0].value == "states" and previous[1].value == "."):
            fields.add(token.value)
        previous = (previous + [token])[-2:]
    return variables, fields


def _tokens(text: str) -> Iterator[_Token]:
    """The tokens of `text` up to its end or its first lexical error."""
    lexer, prefix = _Lexer(text), True
    while True:
        try:
            token = lexer.next(prefix)
        except _Syntax:
            return
        if token.type == "end":
            return
        yield token
        prefix = not (token.type in ("name", "variable", "string", "number", "value", "regex")
                      or (token.type == "operator" and token.value in (")", "]", "}")))


def _problems(tree: tuple, variables: set) -> list[tuple[str, str]]:
    """AWS's restrictions, in the order the references are written.

    The expression runs with no context item, so a path that starts from ``$`` or from a
    field name reads nothing, and AWS refuses it; only the first step of a path is read at the
    top level (predicates, later steps, sort and group terms are relative to the step before),
    while function bodies are. ``$$`` is refused anywhere it is read, ``$eval`` everywhere.
    """
    names: dict[str, None] = {}

    def walk(node: tuple | None) -> None:
        if node is None:
            return
        kind = node[0]
        if kind == "name":
            names.setdefault(node[1])
        elif kind == "var" and node[1] in ("", "$"):
            names.setdefault("$" if node[1] == "" else "$$")
        elif kind in ("path", "pred", "group", "sort", "focus"):
            walk(node[1])
        elif kind == "bin":
            walk(node[2]); walk(node[3])
        elif kind == "call":
            walk(node[1])
            for arg in node[2]:
                walk(arg)
        elif kind in ("lambda", "neg"):
            walk(node[1])
        elif kind == "cond":
            walk(node[1]); walk(node[2]); walk(node[3])
        elif kind in ("block", "array"):
            for item in node[1]:
                walk(item)
        elif kind == "object":
            for key, value in node[1]:
                walk(key); walk(value)
        elif kind == "bind":
            walk(node[2])

    walk(tree)
    problems = []
    for name in names:
        if name == "$$":
            problems.append((UNSUPPORTED, "Reference to '$$' is not supported."))
        else:
            problems.append((UNSUPPORTED, f"Reference to '{name}' at the top level is not supported."))
    if "eval" in variables:
        problems.append((UNSUPPORTED, "The JSONata function '$eval' is not supported. Use '$parse' instead."))
    return problems


# ============================================================================================
# 2. AWS's functions
# ============================================================================================

class _FunctionError(Exception):
    """Raised inside an AWS function; becomes "<code>: <message>" in the cause."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


def _signature_error(index: int, name: str) -> _FunctionError:
    # JSONata's own wording for an argument that does not match a function's signature.
    return _FunctionError("T0410", f'Argument {index} of function "{name}" does not match function signature')


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _whole(value: Any) -> int | None:
    """An integer argument of an AWS function: a number rounded down (None: not a number).

    The DG's transforming-data page: "Built-in JSONata functions that require integer values as
    parameters will automatically round down any non-integer numbers provided" (the intrinsics
    round to the nearest instead). Down is taken literally, so -2.5 becomes -3: unverified
    against AWS for negative numbers."""
    if not _number(value) or not math.isfinite(value):
        return None
    return math.floor(value)


_OMITTED = object()   # an argument the call leaves out (an undefined one arrives as None, as null)


def _fn_partition(array: Any = None, size: Any = _OMITTED) -> list:
    """$partition(array, size): consecutive chunks of `size` items; the last may be shorter.
    Without `size`, one chunk of every item: a third-party suite run against AWS has
    `$partition($states.input.arr)` of [1, 2, 3] give [[1, 2, 3]] (Feature.JSONataBuiltins 014);
    a null size fails (012)."""
    if not isinstance(array, list):
        raise _signature_error(1, "partition")
    size = max(len(array), 1) if size is _OMITTED else _whole(size)
    if size is None or size <= 0:
        raise _signature_error(2, "partition")
    return [array[i:i + size] for i in range(0, len(array), size)]


_MAX_RANGE = 10_000_000   # the size JSONata's own range operator (..) stops at


def _fn_range(start: Any = None, end: Any = None, step: Any = None) -> Any:
    """$range(start, end, step): start, start+step, ... up to and including `end`.

    The result is a JSONata sequence, so one item comes back alone (AWS: $range(1, 9, 9) is 1).
    """
    whole = [_whole(value) for value in (start, end, step)]
    for index, value in enumerate(whole, 1):
        if value is None:
            raise _signature_error(index, "range")
    start, end, step = whole
    if step == 0:
        raise _FunctionError("D3137", "The step of $range must not be 0")
    count = max(0, (end - start) // step + 1)
    if count > LIMITS.max_sequence:
        raise _memory_exceeded()
    if count > _MAX_RANGE:
        raise _FunctionError("D2014", "The size of the sequence allocated by the range operator (..) "
                                      f"must not exceed 1e7.  Attempted to allocate {count}.")
    values = list(range(start, end + (1 if step > 0 else -1), step))
    return values[0] if len(values) == 1 else values


_HASHES = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}


def _fn_hash(value: Any = None, algorithm: Any = None) -> str:
    """$hash(value, algorithm): hex digest of the UTF-8 string; MD5, SHA-1, SHA-256/384/512."""
    if not isinstance(value, str):
        raise _signature_error(1, "hash")
    if algorithm not in _HASHES:
        raise _signature_error(2, "hash")
    return hashlib.new(_HASHES[algorithm], value.encode("utf-8")).hexdigest()


def _fn_random(seed: Any = _OMITTED) -> float:
    """$random([seed]): 0 <= n < 1; the same seed always gives the same number. A null seed
    fails (a third-party suite run against AWS, Feature.JSONataBuiltins 044-random-null-seed-behavior)."""
    if seed is _OMITTED:
        rng = _RNG.get()
        return (rng or _random_module).random()
    whole = _whole(seed)
    if whole is None:
        raise _signature_error(1, "random")
    return JavaRandom(whole).next_double()  # AWS runs on the JVM (asl.javarandom)


def _fn_uuid() -> str:
    """$uuid(): a version 4 UUID."""
    rng = _RNG.get()
    if rng is None:
        return str(uuid.uuid4())
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _fn_parse(text: Any = None) -> Any:
    """$parse(json): the JSON value a string holds (AWS's replacement for $eval)."""
    if not isinstance(text, str):
        raise _signature_error(1, "parse")
    try:
        return _int64(deepjson.loads(text))
    except (ValueError, RecursionError) as exc:   # RecursionError: from _int64
        raise _FunctionError("D3137", f"Unable to parse the JSON string: {exc}") from None


def _fn_eval(*_args: Any) -> Any:
    """$eval does not exist in AWS's JSONata: calling it fails like any non-function."""
    raise _FunctionError("T1006", "Attempted to invoke a non-function")


def _clock_ms() -> float:
    clock = _CLOCK.get()
    return math.floor((clock() if clock else time.time()) * 1000)


def _iso_ms(ms: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{int(ms % 1000):03d}Z"


def _fn_now(picture: Any = None, timezone: Any = None) -> str:
    """$now([picture [, timezone]]) with the execution clock (the library's lacks pictures)."""
    ms = _clock_ms()
    if picture is None and timezone is None:
        return _iso_ms(ms)
    formatted = _backend().format_millis(ms, picture, timezone)
    if formatted is None:
        raise _signature_error(1, "now")
    return formatted


def _fn_millis() -> int:
    """$millis(): milliseconds since the epoch by the execution clock."""
    return int(_clock_ms())


# AWS's $pad adds at most this many characters (Unicode characters, whatever the padding
# text): more fails on its memory bound, though a longer string made by other means, or by
# padding a long string, is fine (radkawar/stackd, testdata/aws/stepfunctions/
# expression_limits.json: "pad-direct" fails at 262145 added, "pad-existing", "pad-concat",
# "join", "pad-unicode", "pad-pattern" succeed).
_MAX_PADDING = 262_144


def _fn_pad_bound(text: str, width: float) -> None:
    """Called before $pad(text, width, ...): the memory error where it would add too much."""
    if abs(width) - len(text) > _MAX_PADDING:
        raise _memory_exceeded()


def _fn_clone(value: Any = None) -> Any:
    """$clone(object or array): a copy (values are never shared, so the value itself). The
    library lacks it; jsonata-js 2.0.6 has it (an undefined argument gives undefined before
    this is called: _CORRECTED)."""
    if not isinstance(value, (dict, list)):
        raise _signature_error(1, "clone")
    return value


# jsonata-js runs JavaScript's encodeURIComponent / encodeURI / decodeURIComponent / decodeURI;
# the library escapes "." "-" "_" "~" "!" "'" "(" ")" "*" in components, leaves blanks, "%" and
# "[]{}|\\^`\"<>" in URLs, and decodes what decodeURI keeps or refuses. These get strings only
# (see _CORRECTED: any other argument goes to the library's function, for its errors).
_URI_MARKS = "-_.!~*'()"        # letters, digits and these stay in both encodings
_URI_RESERVED = ";/?:@&=+$,#"   # ... and these in encodeURI; decodeURI keeps their escapes
_URI_ESCAPES = re.compile(r"(?:%[0-9A-Fa-f]{2})+")


def _url_error(name: str, text: str) -> _FunctionError:
    return _FunctionError("D3140", f"Malformed URL passed to ${name}(): {json.dumps(text, ensure_ascii=False)}")


def _encoded(name: str, text: str, safe: str) -> str:
    from urllib.parse import quote   # only where a URL function is called
    try:
        return quote(text, safe=safe, encoding="utf-8", errors="strict")
    except UnicodeEncodeError:       # a lone surrogate (JavaScript: URIError)
        raise _url_error(name, text) from None


def _decoded(name: str, text: str, keep: str) -> str:
    if "%" in _URI_ESCAPES.sub("", text):
        raise _url_error(name, text)

    def run(match: re.Match) -> str:
        out, pending = [], bytearray()
        for escape in re.findall("%..", match.group(0)):
            byte = int(escape[1:], 16)
            if chr(byte) in keep:
                out.append(flush(pending) + escape)
            else:
                pending.append(byte)
        return "".join(out) + flush(pending)

    def flush(pending: bytearray) -> str:
        try:
            return pending.decode("utf-8")
        except UnicodeDecodeError:
            raise _url_error(name, text) from None
        finally:
            pending.clear()

    return _URI_ESCAPES.sub(run, text)


def _fn_encode_url_component(text: str) -> str:
    return _encoded("encodeUrlComponent", text, _URI_MARKS)


def _fn_encode_url(text: str) -> str:
    return _encoded("encodeUrl", text, _URI_MARKS + _URI_RESERVED)


def _fn_decode_url_component(text: str) -> str:
    return _decoded("decodeUrlComponent", text, "")


def _fn_decode_url(text: str) -> str:
    return _decoded("decodeUrl", text, _URI_RESERVED)


# Name table: AWS's additions (registered) and the built-ins AWS or asl replaces (overridden).
FUNCTIONS: dict[str, Callable[..., Any]] = {
    "partition": _fn_partition, "range": _fn_range, "hash": _fn_hash, "uuid": _fn_uuid,
    "parse": _fn_parse, "__asl_clone": _fn_clone, "__asl_padBound": _fn_pad_bound,
    "__asl_encodeUrlComponent": _fn_encode_url_component, "__asl_encodeUrl": _fn_encode_url,
    "__asl_decodeUrlComponent": _fn_decode_url_component, "__asl_decodeUrl": _fn_decode_url,
}
OVERRIDES: dict[str, Callable[..., Any]] = {
    "random": _fn_random, "eval": _fn_eval, "now": _fn_now, "millis": _fn_millis,
}


def _int64(value: Any) -> Any:
    """JSON numbers the library can take: integers beyond 64 bits become floats (as in JS)."""
    if isinstance(value, (list, dict)) and not _has_big_int(value):
        return value   # the common case, checked without recursion (documents may be deep)
    return _int64_copy(value)


def _has_big_int(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, int) and not isinstance(item, bool) and not -(1 << 63) <= item < (1 << 63):
            return True
    return False


def _int64_copy(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return value if -(1 << 63) <= value < (1 << 63) else float(value)
    if isinstance(value, float):
        return value
    if isinstance(value, list):
        return [_int64_copy(v) for v in value]
    if isinstance(value, dict):
        return {k: _int64_copy(v) for k, v in value.items()}
    return value


# ============================================================================================
# 3. Evaluation with jsonatapy
# ============================================================================================

# jsonatapy words a few messages its own way; JSONata 2.0.6 (and so AWS) says these.
_MESSAGES = {
    "T1006": "Attempted to invoke a non-function",
    "T1005": "Attempted to invoke a non-function. Did you mean ${{token}}?",
    "S0207": "Unexpected end of expression",
}
_TOKEN_NAMES = {
    "LeftBracket": "[", "RightBracket": "]", "LeftBrace": "{", "RightBrace": "}",
    "LeftParen": "(", "RightParen": ")", "Comma": ",", "Dot": ".", "DotDot": "..", "Colon": ":",
    "Semicolon": ";", "Question": "?", "Hash": "#", "At": "@", "Pipe": "|", "Assign": ":=",
}
_CODE = re.compile(r"^(?:[A-Za-z ]+: )?([A-Z]\d{4}): (.*)$", re.S)
_DEPTH_MESSAGE = ("Stack overflow error: Check for non-terminating recursive function.  "
                  "Consider rewriting as tail-recursive.")
_TIME_MESSAGE = "Expression evaluation timeout: Check for infinite loop"
# AWS's wording for its memory bound, which its causes give after a colon and with no code
# ("... threw an error during evaluation: Expression evaluation memory limit exceeded: ..."),
# unlike a JSONata error's ". <code>: <message>" (radkawar/stackd's captures of TestState,
# testdata/aws/stepfunctions/expression_limits.json "pad-direct" and variable_limits.json
# "test-single-assignment-262145").
_MEMORY_MESSAGE = "Expression evaluation memory limit exceeded: Check for excessive memory usage"
_MEMORY_CODE = "memory"   # a _FunctionError's code for the bound: no JSONata code goes in the cause


def _memory_exceeded() -> "_FunctionError":
    return _FunctionError(_MEMORY_CODE, _MEMORY_MESSAGE)


def _during_evaluation(code: str | None, message: str) -> str:
    """What a cause says after "threw an error during evaluation"."""
    if code == _MEMORY_CODE:
        return f": {message}"
    return f". {code}: {message}" if code else f". {message}"


# Compiled objects each thread keeps (by expression text); the oldest goes beyond this many.
_COMPILED_PER_THREAD = 4096


class _Backend:
    """The jsonatapy library behind Expression: compiled objects kept per thread, bounds on
    every call, errors as causes.

    The library's objects are bound to the thread that made them: used or dropped on another
    thread, pyo3 refuses ("JsonataExpression is unsendable, but is being dropped on another
    thread") and leaks them. So an `Expression` holds none: each thread keeps its own in a
    cache of its thread-local storage, which only that thread adds to, evicts from, and clears
    (when it ends). An Expression collected on any thread (the garbage collector runs on
    whichever thread allocates) drops nothing native."""

    def __init__(self) -> None:
        import jsonatapy   # heavy (native); imported on first use

        self.lib = jsonatapy
        self.failures = threading.local()   # the _FunctionError an AWS function raised
        self.threads = threading.local()    # .compiled: this thread's {expression text: compiled object}

    def compiled(self, text: str) -> Any:
        """This thread's compiled object for `text`, compiled on first use in this thread."""
        try:
            cache = self.threads.compiled
        except AttributeError:
            cache = self.threads.compiled = {}
        compiled = cache.get(text)
        if compiled is None:
            if len(cache) >= _COMPILED_PER_THREAD:
                del cache[next(iter(cache))]   # the oldest, dropped on its own thread
            compiled = cache[text] = self.compile(text)
        return compiled

    def compile(self, text: str) -> Any:
        compiled = self.lib.compile(text)
        for name, fn in FUNCTIONS.items():
            compiled.register(name, self._guard(fn))
        for name, fn in OVERRIDES.items():
            compiled.register_override(name, self._guard(fn))
        compiled.register(_STEP, self._step)
        return compiled

    def _step(self) -> None:
        """Called on entry to every function the expression defines (see `_counting`)."""
        state = self.failures
        state.steps += 1
        if state.steps > LIMITS.max_calls:
            state.error = _FunctionError("U1001", _TIME_MESSAGE)
            raise state.error

    def _guard(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any) -> Any:
            try:
                return _int64(fn(*args))
            except _FunctionError as exc:
                self.failures.error = exc
                raise
            except TypeError:      # called with too many arguments
                self.failures.error = _signature_error(len(args), fn.__name__[4:])
                raise
        return call

    def check_syntax(self, text: str, shown: str | None = None) -> None:
        """The library must accept what the parser accepted (else its message is used); `shown`:
        the text the error quotes (the expression as written, `text` being its renamed form)."""
        shown = text if shown is None else shown
        try:
            self.lib.compile(text)
        except ValueError as exc:
            code, message = _split(str(exc))
            raise ExpressionSyntaxError(message, shown, 0) from None
        except BaseException as exc:   # a panic inside the library (pyo3 PanicException)
            if isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit)):
                raise
            raise ExpressionSyntaxError(f"The expression could not be compiled: {exc}", shown, 0) from None

    def run(self, expr: Expression, bindings: dict) -> str | None:
        compiled = self.compiled(expr._counted)
        limits = LIMITS
        bounds = {"timeout": limits.time_limit_ms, "max_stack_depth": limits.max_depth,
                  "max_sequence_length": limits.max_sequence}
        self.failures.error = None
        self.failures.steps = 0
        try:
            try:
                text = compiled.evaluate_json_or_none(None, bindings, **bounds)
            except OverflowError:   # an integer beyond 64 bits in the input
                text = compiled.evaluate_json_or_none(None, _int64(bindings), **bounds)
        except (KeyboardInterrupt, SystemExit, GeneratorExit):
            raise
        except BaseException as exc:   # ValueError from JSONata; PanicException is a BaseException
            raise expr.failure("threw an error during evaluation" + _during_evaluation(*self.describe(exc, expr.text))) from None
        if text is not None and len(text) > limits.max_result_bytes:
            raise expr.failure("threw an error during evaluation" + _during_evaluation(_MEMORY_CODE, _MEMORY_MESSAGE))
        return text

    def describe(self, exc: BaseException, text: str) -> tuple[str | None, str]:
        """The (code, message) of an evaluation of `text` that raised `exc` (`_during_evaluation`
        words them in the cause)."""
        failed = getattr(self.failures, "error", None)
        if failed is not None:
            return failed.code, failed.message
        code, message = _split(str(exc))
        if code in ("T0410", "T0412"):
            message = _argument_message(code, message, text)
        if code in ("D1011", "U1001"):
            return "U1001", _DEPTH_MESSAGE
        if code == "D1012":
            return "U1001", _TIME_MESSAGE
        if code == "D2015":
            return _MEMORY_CODE, _MEMORY_MESSAGE
        return code, message

    def format_millis(self, ms: float, picture: Any, timezone: Any) -> str | None:
        if not isinstance(picture, (str, type(None))) or not isinstance(timezone, (str, type(None))):
            return None
        helper = _formatter(picture is not None, timezone is not None)
        try:
            text = self.run(helper, {"ms": ms, "picture": picture, "tz": timezone})
        except StatesError as exc:
            raise _FunctionError("D3137", exc.cause.split("evaluation. ", 1)[-1]) from None
        return None if text is None else json.loads(text)


# JSONata 2.0.6's built-in functions and their signatures (facts of the language, as the
# library declares them): only read to word an argument error as JSONata does, naming the function.
_SIGNATURES = {
    "sum": "a<n>", "count": "a", "max": "a<n>", "min": "a<n>", "average": "a<n>", "string": "x-b?",
    "substring": "s-nn?", "substringBefore": "s-s", "substringAfter": "s-s", "lowercase": "s-",
    "uppercase": "s-", "length": "s-", "trim": "s-", "pad": "s-ns?", "match": "s-fn?",
    "contains": "s-(sf)", "replace": "s-(sf)(sf)n?", "split": "s-(sf)n?", "join": "a<s>s?",
    "formatNumber": "n-so?", "formatBase": "n-n?", "formatInteger": "n-s", "parseInteger": "s-s",
    "number": "(nsb)-", "floor": "n-", "ceil": "n-", "round": "n-n?", "abs": "n-", "sqrt": "n-",
    "power": "n-n", "random": "", "boolean": "x-", "not": "x-", "map": "af", "zip": "a+",
    "filter": "af", "single": "af?", "reduce": "afj?", "sift": "o-f?", "keys": "x-",
    "lookup": "x-s", "append": "xx", "exists": "x", "spread": "x-", "merge": "a<o>", "reverse": "a",
    "each": "o-f", "error": "s?", "assert": "bs?", "type": "x", "sort": "af?", "shuffle": "a",
    "distinct": "x", "base64encode": "s-", "base64decode": "s-", "encodeUrlComponent": "s-",
    "encodeUrl": "s-", "decodeUrlComponent": "s-", "decodeUrl": "s-", "toMillis": "s-s?",
    "fromMillis": "n-s?s?", "clone": "(oa)-", "now": "s?s?", "millis": "",
}
_SIGNATURE_PARAM = re.compile(r"(\([a-z]+\)|[a-z])(<[a-z]>)?([-?+]*)")
# How jsonatapy names a type ("Argument 2 must be Number") -> JSONata's signature letters.
_TYPE_LETTERS = {"Number": "n", "String": "s", "Boolean": "b", "Array": "a", "Object": "o",
                 "Function": "f", "Null": "l"}
_ARRAY_OF = {"a": "arrays", "b": "booleans", "f": "functions", "n": "numbers", "o": "objects", "s": "strings"}


@functools.lru_cache(maxsize=None)
def _parameters(name: str) -> tuple[tuple[str, str, str], ...]:
    """(type letters, array item letter, flags) of each parameter of built-in `name`."""
    return tuple((m.group(1).strip("()"), (m.group(2) or "").strip("<>"), m.group(3))
                 for m in _SIGNATURE_PARAM.finditer(_SIGNATURES[name]))


def _builtin_calls(text: str) -> list[tuple[str, int]]:
    """(function, argument count) of each call of a built-in in `text`, in the order JSONata
    evaluates them (arguments before the call, left to right)."""
    try:
        tree = _Parser(text).parse()
    except (_Syntax, RecursionError):
        return []
    calls: list[tuple[str, int]] = []

    def builtin(node: Any) -> str | None:
        if (isinstance(node, tuple) and len(node) == 3 and node[0] == "call" and isinstance(node[1], tuple)
                and node[1][:1] == ("var",) and node[1][1] in _SIGNATURES):
            return node[1][1]
        return None

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, tuple):
            if node[:2] == ("bin", "~>") and builtin(node[3]):
                # `x ~> $f(a)` calls $f(x, a): the left side is one argument more
                walk(node[2])
                walk(node[3][2])
                calls.append((node[3][1][1], len(node[3][2]) + 1))
                return
            for item in node[1:] if node and isinstance(node[0], str) else node:
                walk(item)
            name = builtin(node)
            if name:
                calls.append((name, len(node[2])))

    walk(tree)
    return calls


def _argument_message(code: str, message: str, text: str) -> str:
    """jsonatapy's wording of an argument error (``Argument 2 must be Number``, ``Argument count
    mismatch: expected 1, got 2``) in JSONata's, which names the function: the first call in
    the expression the error can come from. Unchanged when no call fits."""
    mismatch = re.fullmatch(r"Argument count mismatch: expected \d+, got (\d+)", message)
    typed = re.fullmatch(r"Argument (\d+) must be (an array of )?\(?(\w+(?: or \w+)*)(?:<[^>]*>)?\)?", message)
    for name, given in _builtin_calls(text):
        params = _parameters(name)
        if mismatch and code == "T0410" and given == int(mismatch.group(1)) and name != "zip":
            required = sum(1 for _, _, flags in params if not {"?", "-"} & set(flags))
            # JSONata names the first argument its signature could not take
            index = len(params) + 1 if given > len(params) else given + 1 if given < required else 0
            if index:
                return _signature_error(index, name).message
        elif typed:
            index = int(typed.group(1))
            if index > len(params) or index > given:
                continue
            letters, item, _ = params[index - 1]
            wanted = {_TYPE_LETTERS.get(word, "?") for word in typed.group(3).split(" or ")}
            if code == "T0412" and typed.group(2) and item and item in wanted:
                return f"Argument {index} of function {_show(name)} must be an array of {_show(_ARRAY_OF[item])}"
            if code == "T0410" and not typed.group(2) and wanted & set(letters):
                return _signature_error(index, name).message
    return message


def _split(text: str) -> tuple[str | None, str]:
    """(JSONata code, message in JSONata 2.0.6's words) from a jsonatapy error text."""
    match = _CODE.match(text.strip())
    if not match:
        return None, text
    code, message = match.groups()
    message = re.sub(r"^(Invalid syntax|Invalid number): ", "", message)
    if code in _MESSAGES and "{{" not in _MESSAGES[code]:
        return code, _MESSAGES[code]
    # Token names as jsonatapy spells them -> the quoted symbols JSONata prints.
    message = re.sub(r"\b(" + "|".join(_TOKEN_NAMES) + r")\b", lambda m: _show(_TOKEN_NAMES[m.group(1)]), message)
    message = re.sub(r'(Identifier|String)\("((?:[^"\\]|\\.)*)"\)', r'"\2"', message)
    message = re.sub(r"Number\(([-0-9.e+]+)\)", lambda m: _show(float(m.group(1))), message)
    message = re.sub(r"(side of the|side of) ([-+*/%&]|and|or) operator", r'\1 "\2" operator', message)
    return code, message


@functools.lru_cache(maxsize=4)
def _formatter(picture: bool, timezone: bool) -> Expression:
    """``$fromMillis`` with the arguments $now was given (undefined ones left out)."""
    args = "$ms" + (", $picture" if picture else ", undefined" if timezone else "") + (", $tz" if timezone else "")
    return Expression(f"$fromMillis({args})", "", _Analysis((), frozenset({"ms", "picture", "tz"}), frozenset()))


_BACKEND: _Backend | None = None
_BACKEND_LOCK = threading.Lock()


def _backend() -> _Backend:
    global _BACKEND
    if _BACKEND is None:
        with _BACKEND_LOCK:
            if _BACKEND is None:
                _BACKEND = _Backend()
    return _BACKEND
