"""The ``States.*`` intrinsic function mini-language of JSONPath states.

An intrinsic is the value of a ``"key.$"`` field (``Parameters``, ``ResultSelector``,
``ItemSelector``, ``Credentials``, ``Assign``, Fail ``ErrorPath``/``CausePath``) such as
``States.Format('Hello {}', $.name)``. It is compiled once, at load time, into typed nodes
and evaluated many times::

    call      := NAME '(' [ argument (',' argument)* ] ')'      NAME is States.<Function>
    argument  := 'string' | number | true | false | null | path | call
    string    := '...'   escapes \\' \\{ \\} \\\\ only; other characters (even newlines) raw
    number    := JSON number (-12, 0.5, 1e3)
    path      := $..., $$..., $name...   handed to asl.paths.compile_path; it ends at the
                 first ',' or ')' outside brackets, parentheses and quotes

Two kinds of failure, two exception trees (see asl.errors)::

    ExpressionSyntaxError   compile time: bad syntax, illegal escape, unknown function,
                            wrong arity, nesting deeper than 10 calls (carries a position)
    IntrinsicFailure        run time: an argument of the wrong type or value; AWS's error
                            "States.Runtime", cause "Invalid arguments in States.Xxx"
                            (what was wrong is kept in its .detail)

Errors raised by the caller's ``resolve`` (a path that selects nothing, ...) pass through
unchanged: they are the JSONPath layer's failures, not the intrinsic's.

Built-ins follow the house style: plain functions registered in the ``FUNCTIONS`` name table
by the ``@intrinsic`` decorator, whose signature is checked in one place (`Function.__call__`
at run time, `_static_warnings` at compile time).
"""
from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import math
import random
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable, Iterator, Union

from asl import deepjson
from asl.errors import ExpressionSyntaxError, IntrinsicFailure
from asl.generated import factory
from asl.javarandom import JavaRandom
from asl.jsontext import c_compact

if TYPE_CHECKING:  # asl.paths is written alongside this module; imported lazily at compile time
    from asl.paths import Path

__all__ = ["FUNCTIONS", "Function", "Intrinsic", "compile_intrinsic", "is_intrinsic"]

#: AWS: "You can nest up to 10 intrinsic functions within a field".
MAX_NESTING = 10

#: Used by States.UUID and States.MathRandom when the caller passes no ``rng``.
_DEFAULT_RNG = random.Random()

_INTRINSIC_PREFIX = re.compile(r"States\.[A-Za-z0-9_]+\s*\(")


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------

def is_intrinsic(text: str) -> bool:
    """True when ``text`` looks like an intrinsic call (``States.Xxx(`` prefix).

    Only a shape test: the caller uses it to choose between `compile_intrinsic` and the
    JSONPath compiler; `compile_intrinsic` decides whether the call is valid.
    """
    return isinstance(text, str) and _INTRINSIC_PREFIX.match(text) is not None


def compile_intrinsic(text: str) -> Intrinsic:
    """Parse ``text`` once into an `Intrinsic`.

    Raises `ExpressionSyntaxError` (with the offending position) for bad syntax, unbalanced
    parentheses, an illegal escape, an unknown function, a wrong number of arguments, a
    nesting deeper than `MAX_NESTING`, or a path argument the JSONPath compiler rejects.
    """
    if not isinstance(text, str):
        raise ExpressionSyntaxError("an intrinsic function call must be a string", "", None)
    return _compile_cached(text)


@functools.lru_cache(maxsize=4096)
def _compile_cached(text: str) -> "Intrinsic":
    # Definitions repeat the same calls across states; an Intrinsic is immutable, so one
    # compiled object serves them all (errors are not cached: they raise every time).
    return Intrinsic(text, _Parser(text).parse())


@dataclass(frozen=True, eq=False)
class Intrinsic:
    """A compiled intrinsic function call: the source `text` and the root `Call` node."""

    text: str
    root: Call

    @property
    def function(self) -> str:
        """Name of the outermost function, e.g. ``"States.Format"``."""
        return self.root.function.name

    @property
    def returns(self) -> str:
        """JSON kind the outermost function returns (``"string"``, ``"array"``, ... or ``"any"``).

        The validator uses it for Fail ``ErrorPath``/``CausePath``, which accept only
        string-returning intrinsics.
        """
        return self.root.function.returns

    def paths(self) -> list[Path]:
        """Every path argument, in source order (e.g. to find the variables referenced)."""
        return [node.path for node in _walk(self.root) if isinstance(node, PathArgument)]

    def evaluate(self, resolve: Callable[[Path], Any], rng: random.Random | None = None) -> Any:
        """Run the call. ``resolve(path)`` returns the value of a path argument; ``rng`` feeds
        States.UUID and States.MathRandom (``None`` -> a module-level generator).

        Raises `IntrinsicFailure` for bad argument values; whatever ``resolve`` raises passes
        through. The result shares nothing with the values ``resolve`` returned.
        """
        # No copy: documents are immutable values in this engine (nothing ever changes a value
        # in place), so a result may share parts with its arguments.
        return self._run(_Env(resolve, rng if rng is not None else _DEFAULT_RNG))

    @functools.cached_property
    def _run(self) -> Callable[[_Env], Any]:
        # The node tree compiled once into closures (same checks and errors as Call.evaluate).
        return self.bind(lambda path: lambda env: env.resolve(path), _env_rng)

    def bind(self, reader: Callable[[Any], Callable[[Any], Any]],
             rng_of: Callable[[Any], random.Random]) -> Callable[[Any], Any]:
        """The call compiled into a closure ``run(ctx)`` for callers that evaluate it often:
        ``reader(path)`` gives, once per path argument, a function reading that path from
        `ctx`; ``rng_of(ctx)`` gives the random source (asked only by UUID and MathRandom).
        ``run(ctx)`` behaves as `evaluate` with the matching ``resolve`` and ``rng``."""
        run = _compile_node(self.root, reader, rng_of)
        text = self.text

        def evaluate(ctx: Any) -> Any:
            try:
                return run(ctx)
            except IntrinsicFailure as failure:
                raise failure.within(text) from None

        return evaluate

    def warnings(self) -> list[str]:
        """Static doubts for the validator: problems that will (or may) fail at run time but
        that AWS is not known to reject when the state machine is created, e.g. a literal
        argument of the wrong type or a Format template whose ``{}`` count does not match."""
        found: list[str] = []
        calls = [node for node in _walk(self.root) if isinstance(node, Call)]
        if len(calls) > MAX_NESTING:
            found.append(f"{len(calls)} intrinsic function calls in one field; AWS allows nesting "
                         f"up to {MAX_NESTING} and may count every call")
        for call in calls:
            found.extend(_static_warnings(call))
        return found

    def __repr__(self) -> str:
        return f"Intrinsic({self.text!r})"


# ---------------------------------------------------------------------------
# Nodes
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class _Env:
    """What evaluation needs from the caller: the path resolver and the random source."""

    resolve: Callable[[Any], Any]
    rng: random.Random


@dataclass(frozen=True)
class Literal:
    """A literal argument: ``'string'``, a number, ``true``/``false`` or ``null``.
    `position` is the offset of its first character in the intrinsic text."""

    value: Any
    position: int

    def evaluate(self, env: _Env) -> Any:
        return self.value


@dataclass(frozen=True)
class FormatTemplate:
    """The literal first argument of States.Format, split at its unescaped ``{}``.

    Kept apart from a plain string because ``\\{}`` in the source is a literal ``{}``, not a
    placeholder, a distinction the decoded string has lost.
    """

    pieces: tuple[str, ...]
    position: int = 0
    #: An unescaped ``{`` or ``}`` outside a ``{}`` placeholder: AWS fails such a template.
    stray_brace: bool = False

    @property
    def placeholders(self) -> int:
        return len(self.pieces) - 1

    def evaluate(self, env: _Env) -> FormatTemplate:
        return self


@dataclass(frozen=True)
class PathArgument:
    """A path argument (``$.a``, ``$$.Execution.Id``, ``$var.x``): `text` as written, `path`
    as compiled by asl.paths."""

    text: str
    path: Any
    position: int

    def evaluate(self, env: _Env) -> Any:
        return env.resolve(self.path)


@dataclass(frozen=True)
class Call:
    """A call ``States.Name(args...)``: the `Function` from `FUNCTIONS` and the argument nodes."""

    function: Function
    args: tuple[Node, ...]
    position: int

    def evaluate(self, env: _Env) -> Any:
        return self.function([arg.evaluate(env) for arg in self.args], env.rng)


Node = Union[Literal, FormatTemplate, PathArgument, Call]


def _env_rng(env: _Env) -> random.Random:
    return env.rng


def _compile_node(node: Node, reader: Callable[[Any], Callable[[Any], Any]],
                  rng_of: Callable[[Any], random.Random]) -> Callable[[Any], Any]:
    """A closure ``run(ctx)`` doing what ``node.evaluate`` does (see `Intrinsic.bind`), with
    the work that does not depend on the values done here once: the arity check, the type
    checks of literal arguments, and the conversion of literal arguments."""
    if isinstance(node, PathArgument):
        return reader(node.path)
    if not isinstance(node, Call):
        value = node.evaluate(None)  # type: ignore[arg-type]  # Literal / FormatTemplate
        return lambda ctx: value
    function = node.function
    problem = function.arity_problem(len(node.args))
    impl, uses_rng, failure = function.impl, function.uses_rng, function.failure
    kinds = []    # per argument: "k" a constant, "r" read as is, "i" checked unless an int, "c" checked
    values = []   # per argument: the constant, the run, or the run and its check
    for index, arg in enumerate(node.args):
        if not isinstance(arg, (PathArgument, Call)):  # Literal / FormatTemplate: the value itself
            value = arg.evaluate(None)  # type: ignore[arg-type]
            expected = function.param(index)
            if expected is None or expected is ANY or (problem is None and _usable(expected, value)):
                kinds.append("k")
                values.append(value if expected is None or expected is ANY else expected.convert(value))
                continue
        run = _compile_node(arg, reader, rng_of)
        expected = function.param(index)
        if expected is None or expected is ANY:
            kinds.append("r")
            values.append(run)
            continue
        # The integer parameters (ROUNDED_INTEGER, TRUNCATED_INTEGER) take a plain int as it is.
        int_as_is = expected.convert in (java_round, java_truncate) and "number" in expected.kinds
        kinds.append("i" if int_as_is else "c")
        values += [run, _checker(index, expected, failure)]
    if problem is not None:
        runs = [(lambda ctx, _v=v: _v) if kind == "k" else v for kind, v in zip(kinds, _runs(kinds, values))]

        def run_unfit(ctx: Any) -> Any:  # arguments evaluated (their errors first), then the arity's
            for run in runs:
                run(ctx)
            raise IntrinsicFailure(function.name, problem)

        return run_unfit
    make = factory(("intrinsic", tuple(kinds), uses_rng), _call_source,
                   {"IntrinsicFailure": IntrinsicFailure, "DEFAULT_RNG": _DEFAULT_RNG})
    return make(impl, failure, rng_of, *values)


def _usable(expected: ArgType, value: Any) -> bool:
    """Can a literal argument be checked and converted once, at compile time?"""
    if not expected.accepts(value):
        return False
    try:
        expected.convert(value)
    except (OverflowError, ValueError, ArithmeticError):
        return False  # fails at run time, with the same words as there
    return True


def _runs(kinds: list[str], values: list) -> list:
    """The constant or run of each argument (``values`` without the checks)."""
    out, position = [], 0
    for kind in kinds:
        out.append(values[position])
        position += 2 if kind in "ic" else 1
    return out


def _checker(index: int, expected: ArgType, failure: Callable[[str], IntrinsicFailure]) -> Callable[[Any], Any]:
    """``check(value)``: argument `index` converted as the parameter wants it, or its failure."""
    types, kinds, check = expected._types, expected.kinds, expected.check
    convert = None if expected.convert is _unchanged else expected.convert

    def checked(value: Any) -> Any:
        if (type(value) not in types and kind_of(value) not in kinds) or (check is not None and not check(value)):
            raise failure(f"argument {index + 1} must be {expected.name}, but was {_describe(value)}")
        return convert(value) if convert is not None else value

    return checked


def _call_source(shape: tuple) -> str:
    """``make(impl, failure, rng_of, <per argument>)`` returning ``run(ctx)`` (with the globals
    IntrinsicFailure and DEFAULT_RNG): the arguments in
    order, then their checks in order, then the function (what `Call.evaluate` does)."""
    _, kinds, uses_rng = shape
    params, lines, checks, args = ["impl", "failure", "rng_of"], [], [], []
    for i, kind in enumerate(kinds):
        if kind == "k":
            params.append(f"k{i}")
            args.append(f"k{i}")
            continue
        params.append(f"a{i}")
        lines.append(f"        v{i} = a{i}(ctx)")
        args.append(f"v{i}")
        if kind in "ic":
            params.append(f"c{i}")
            test = f"if v{i}.__class__ is not int: " if kind == "i" else ""
            checks.append(f"            {test}v{i} = c{i}(v{i})")
    if uses_rng:
        lines.append("        rng = rng_of(ctx)")
        args.append("rng=rng if rng is not None else DEFAULT_RNG")
    return "\n".join([
        f"def make({', '.join(params)}):",
        "    def run(ctx):",
        *lines,
        "        try:",
        *checks,
        f"            return impl({', '.join(args)})",
        "        except IntrinsicFailure:",
        "            raise",
        "        except (OverflowError, ValueError, ArithmeticError) as exc:  # huge or non-finite numbers",
        "            raise failure(f'the arguments are out of range ({exc})') from None",
        "    return run",
        "",
    ])


def _walk(node: Node) -> Iterator[Node]:
    yield node
    if isinstance(node, Call):
        for arg in node.args:
            yield from _walk(arg)


# ---------------------------------------------------------------------------
# Lexer
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class _Token:
    kind: str          # NAME, STRING, NUMBER, PATH, '(', ')', ',', EOF
    value: Any
    position: int
    pieces: tuple[str, ...] = ()   # STRING only: the text split at unescaped "{}"
    stray_brace: bool = False      # STRING only: an unescaped "{" or "}" outside a "{}"


_WHITESPACE = " \t\r\n"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*")
# JSON number grammar: no leading zeros, no leading '+', no bare '.5' or '5.'.
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_ESCAPABLE = "'{}\\"


class _Lexer:
    """Turns the intrinsic text into tokens, each with its offset for error carets."""

    def __init__(self, text: str):
        self.text = text
        self.pos = 0

    def error(self, message: str, position: int) -> ExpressionSyntaxError:
        return ExpressionSyntaxError(message, self.text, position)

    def tokens(self) -> Iterator[_Token]:
        text = self.text
        while True:
            while self.pos < len(text) and text[self.pos] in _WHITESPACE:
                self.pos += 1
            if self.pos >= len(text):
                yield _Token("EOF", None, self.pos)
                return
            start, char = self.pos, text[self.pos]
            if char in "(),":
                self.pos += 1
                yield _Token(char, char, start)
            elif char == "'":
                yield self._string()
            elif char == "$":
                yield self._path()
            elif char == "-" or char.isdigit():
                match = _NUMBER.match(text, start)
                if not match or (match.end() < len(text) and
                                 (text[match.end()].isalnum() or text[match.end()] in "._")):
                    raise self.error("invalid number", start)
                self.pos = match.end()
                literal = match.group()
                value = int(literal) if re.fullmatch(r"-?[0-9]+", literal) else float(literal)
                if isinstance(value, float) and math.isinf(value):
                    raise self.error("number out of range", start)
                yield _Token("NUMBER", value, start)
            elif (match := _NAME.match(text, start)):
                self.pos = match.end()
                yield _Token("NAME", match.group(), start)
            else:
                raise self.error(f"unexpected character {char!r}", start)

    def _string(self) -> _Token:
        """A quoted string. Only \\' \\{ \\} \\\\ are escapes (AWS rejects the definition on
        any other backslash, e.g. \\"); every other character, newlines included, is literal."""
        text, start = self.text, self.pos
        pieces: list[str] = []
        current: list[str] = []
        stray = False
        i = start + 1
        while i < len(text):
            char = text[i]
            if char == "'":
                pieces.append("".join(current))
                self.pos = i + 1
                return _Token("STRING", "{}".join(pieces), start, tuple(pieces), stray)
            if char == "\\":
                if i + 1 >= len(text) or text[i + 1] not in _ESCAPABLE:
                    shown = text[i:i + 2]
                    raise self.error(f"illegal escape sequence {shown!r} in a string literal "
                                     "(only \\', \\{, \\} and \\\\ are allowed)", i)
                current.append(text[i + 1])
                i += 2
            elif char == "{" and text.startswith("{}", i):
                pieces.append("".join(current))     # an unescaped "{}": a Format placeholder
                current = []
                i += 2
            else:
                stray = stray or char in "{}"
                current.append(char)
                i += 1
        raise self.error("unterminated string literal", start)

    def _path(self) -> _Token:
        """A path runs to the first ',' or ')' that is outside brackets, parentheses and
        quotes, so ``$['a,b']``, ``$[?(@.x > 1)]`` and ``$.a.length()`` stay whole."""
        text, start = self.text, self.pos
        brackets = parens = 0
        quote: str | None = None
        i = start
        while i < len(text):
            char = text[i]
            if quote:
                if char == "\\":
                    i += 1                       # skip the escaped character
                elif char == quote:
                    quote = None
            elif char in "'\"" and brackets:
                quote = char
            elif char == "[":
                brackets += 1
            elif char == "]":
                brackets = max(brackets - 1, 0)
            elif char == "(":
                parens += 1
            elif char == ")":
                if not parens and not brackets:
                    break
                parens = max(parens - 1, 0)
            elif char == "," and not brackets and not parens:
                break
            i += 1
        self.pos = i
        return _Token("PATH", text[start:i].rstrip(_WHITESPACE), start)


# ---------------------------------------------------------------------------
# Parser
# ---------------------------------------------------------------------------

class _Parser:
    """Recursive descent over the tokens: one call, its arguments, nothing after it."""

    def __init__(self, text: str):
        self.text = text
        self.lexer = _Lexer(text)
        self._tokens = self.lexer.tokens()
        self.token = next(self._tokens)

    def error(self, message: str, position: int | None = None) -> ExpressionSyntaxError:
        return ExpressionSyntaxError(message, self.text,
                                     self.token.position if position is None else position)

    def advance(self) -> _Token:
        token, self.token = self.token, next(self._tokens, self.token)
        return token

    def expect(self, kind: str, what: str) -> _Token:
        if self.token.kind != kind:
            found = "end of text" if self.token.kind == "EOF" else repr(self.token.value)
            raise self.error(f"expected {what}, found {found}")
        return self.advance()

    def parse(self) -> Call:
        if self.token.kind != "NAME" or not self.token.value.startswith("States."):
            raise self.error("an intrinsic function call must start with 'States.<Function>('")
        call = self.call(depth=1)
        if self.token.kind != "EOF":
            raise self.error("unexpected text after the closing parenthesis")
        return call

    def call(self, depth: int) -> Call:
        name_token = self.expect("NAME", "a function name")
        name = name_token.value
        function = FUNCTIONS.get(name)
        if function is None:
            raise self.error(f"unknown intrinsic function {name!r}", name_token.position)
        if depth > MAX_NESTING:
            raise self.error(f"intrinsic functions nested deeper than {MAX_NESTING} levels",
                             name_token.position)
        self.expect("(", f"'(' after {name}")
        args: list[Node] = []
        if self.token.kind != ")":
            # Format's literal template keeps its placeholder layout (see FormatTemplate).
            args.append(self.argument(depth, template=name == "States.Format"))
            while self.token.kind == ",":
                self.advance()
                args.append(self.argument(depth))
        if self.token.kind == "EOF":
            raise self.error(f"missing ')' to close {name}(")
        self.expect(")", "',' or ')'")
        return Call(function, tuple(args), name_token.position)

    def argument(self, depth: int, template: bool = False) -> Node:
        token = self.token
        if token.kind == "STRING":
            self.advance()
            if template:
                return FormatTemplate(token.pieces, token.position, token.stray_brace)
            return Literal(token.value, token.position)
        if token.kind == "NUMBER":
            self.advance()
            return Literal(token.value, token.position)
        if token.kind == "PATH":
            self.advance()
            return PathArgument(token.value, self._compile_path(token), token.position)
        if token.kind == "NAME":
            if token.value in _WORDS:
                self.advance()
                return Literal(_WORDS[token.value], token.position)
            if token.value.startswith("States."):
                return self.call(depth + 1)
            raise self.error(f"unexpected word {token.value!r} (arguments are 'strings', "
                             "numbers, true, false, null, paths or States.* calls)")
        found = "end of text" if token.kind == "EOF" else repr(token.value)
        raise self.error(f"expected an argument, found {found}")

    def _compile_path(self, token: _Token) -> Any:
        from asl.paths import compile_path   # lazy: paths.py is a sibling written separately

        try:
            return compile_path(token.value)
        except ExpressionSyntaxError as exc:
            offset = exc.position or 0
            raise ExpressionSyntaxError(exc.message, self.text, token.position + offset) from exc


_WORDS = {"true": True, "false": False, "null": None}


# ---------------------------------------------------------------------------
# JSON values as AWS sees them
# ---------------------------------------------------------------------------

def kind_of(value: Any) -> str:
    """The JSON kind of a value. ``bool`` is tested before numbers on purpose: in Python
    ``isinstance(True, int)`` holds, in ASL a boolean is never a number."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, (str, FormatTemplate)):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def java_round(number: int | float) -> int:
    """Java ``Math.round``: nearest integer, halves toward positive infinity
    (0.5 -> 1, -0.5 -> 0, -1.5 -> -1, 2.5 -> 3), unlike Python's banker's ``round``.
    AWS rounds the operands of States.MathAdd this way (the other integer arguments are
    truncated, `java_truncate`)."""
    if isinstance(number, int):
        return number
    floor = math.floor(number)
    # number - floor is exact for doubles, so 0.49999999999999994 stays below one half
    # (floor(x + 0.5) would round it up).
    return int(floor) + 1 if number - floor >= 0.5 else int(floor)


def java_truncate(number: int | float) -> int:
    """Java's ``(int)`` cast of a double: the fraction dropped, toward zero (2.6 -> 2,
    -0.6 -> 0). AWS converts the integer arguments of every intrinsic but MathAdd this way."""
    return number if isinstance(number, int) else int(number)


def java_number_text(number: int | float) -> str:
    """A number as AWS (Java/Jackson, ``Double.toString``) writes it: integers plainly,
    doubles with at least one decimal (``1.0``) and in ``1.0E7`` notation outside
    [10^-3, 10^7). Python's ``repr`` differs only in where it switches notation."""
    if isinstance(number, int):
        return str(number)
    if math.isnan(number) or math.isinf(number):
        return "NaN" if math.isnan(number) else ("Infinity" if number > 0 else "-Infinity")
    if number == 0:
        return "-0.0" if math.copysign(1.0, number) < 0 else "0.0"
    if 1e-3 <= abs(number) < 1e7:
        return repr(number)     # repr is plain notation in this range: 1.1, 1.0, 0.001
    sign, digits, exponent = Decimal(repr(number)).as_tuple()
    text = "".join(map(str, digits)).rstrip("0") or "0"
    scale = len(digits) + int(exponent) - 1
    return f"{'-' if sign else ''}{text[0]}.{text[1:] or '0'}E{scale}"


def _fold(value: Any, leaf: Callable[[Any], Any], array: Callable[[list], Any],
          obj: Callable[[list], Any]) -> Any:
    """Build a result bottom-up without recursion (documents may be deep): `leaf(v)` for a
    scalar, `array(results)` for an array and `obj([(key, result), ...])` for an object."""
    results: list = []
    stack: list = [(value, False)]
    while stack:
        item, done = stack.pop()
        if done:   # its children's results are the last ones
            start = len(results) - len(item)
            children = results[start:]
            del results[start:]
            results.append(obj(list(zip(item, children))) if isinstance(item, dict) else array(children))
        elif isinstance(item, (dict, list)):
            stack.append((item, True))
            children = list(item.values()) if isinstance(item, dict) else item
            stack.extend((child, False) for child in reversed(children))
        else:
            results.append(leaf(item))
    return results[0]


def _scalar_json(value: Any) -> str:
    return java_number_text(value) if isinstance(value, float) else json.dumps(value, ensure_ascii=False)


def to_json_text(value: Any) -> str:
    """Compact JSON (``{"a":1,"b":[]}``) with Java's number spelling; non-ASCII kept as is,
    as Jackson does. Recursive (fast) for ordinary documents; a document too deep for the
    stack is folded iteratively."""
    kind = type(value)
    if kind is dict or kind is list:
        # The C encoder writes what _json_text does, but for floats (Java spells 1e7 "1.0E7"):
        # its text is taken when nothing in it can be a float (a digit before "." or "e")
        try:
            text = c_compact(value)
        except (TypeError, ValueError, RecursionError):
            pass
        else:
            if _FLOAT_LIKE.search(text) is None:
                return text
    try:
        return _json_text(value)
    except RecursionError:
        return _fold(value, _scalar_json, lambda items: "[" + ",".join(items) + "]",
                     lambda pairs: "{" + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{v}" for k, v in pairs)
                     + "}")


def _json_text(value: Any) -> str:
    # Dispatch on the exact type (bool is not int here); strings go straight to the C
    # escaper json.dumps itself uses, without building an encoder per call.
    kind = type(value)
    if kind is str:
        return _encode_string(value)
    if kind is dict:
        return "{" + ",".join([(_encode_string(k) if type(k) is str else json.dumps(k, ensure_ascii=False))
                               + ":" + _json_text(v) for k, v in value.items()]) + "}"
    if kind is list:
        return "[" + ",".join([_json_text(v) for v in value]) + "]"
    if kind is int:
        return int.__repr__(value)
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    if isinstance(value, float):
        return java_number_text(value)
    if isinstance(value, dict):
        return _json_text(dict(value))
    if isinstance(value, list):
        return _json_text(list(value))
    return json.dumps(value, ensure_ascii=False)


_encode_string = json.encoder.encode_basestring  # C: the quoted, escaped text, non-ASCII kept
_encode_ascii = json.encoder.encode_basestring_ascii  # C: json.dumps(s) with ensure_ascii
_FLOAT_LIKE = re.compile(r"[0-9][.eE]|Infinity|NaN")


def format_text(value: Any) -> str:
    """How States.Format renders a value: strings raw, numbers/booleans/null as JSON text,
    objects as ``{k=v, k2=v2}`` and arrays as ``[a, b]`` (Java's Map/List ``toString``), with
    nested strings raw too (recorded: ``{Id=arn:..., Name=...}``)."""
    try:
        return _format_text(value)
    except RecursionError:
        return _fold(value, lambda v: v if isinstance(v, str) else _scalar_json(v),
                     lambda items: "[" + ", ".join(items) + "]",
                     lambda pairs: "{" + ", ".join(f"{k}={v}" for k, v in pairs) + "}")


def _format_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if type(value) is int:
        return int.__repr__(value)
    if isinstance(value, dict):
        return "{" + ", ".join([f"{k}={_format_text(v)}" for k, v in value.items()]) + "}"
    if isinstance(value, list):
        return "[" + ", ".join([_format_text(v) for v in value]) + "]"
    return _json_text(value)


def _scalar_identity(value: Any) -> str:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):   # 1 == 1.0: an integral float is spelled as the integer
        return str(int(value)) if value.is_integer() else repr(value)
    return "?" + repr(value)


def _identity(value: Any) -> str:
    """A canonical text with JSON equality: ``1`` and ``1.0`` are equal, ``true`` and ``1`` are
    not, key order is irrelevant. Used for ArrayContains and ArrayUnique; flat text, so that
    comparing deep documents needs no recursion."""
    kind = type(value)
    if kind is int:  # the common items at once (the same texts as the fold's)
        return int.__repr__(value)
    if kind is str:
        return _encode_ascii(value)  # json.dumps's text of a string
    return _fold(value, _scalar_identity, lambda items: "[" + ",".join(items) + "]",
                 lambda pairs: "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in sorted(pairs)) + "}")


def _utf16_length(text: str) -> int:
    """String length as Java counts it (UTF-16 code units); AWS's 10,000-character limits
    are Java lengths, so an emoji counts twice."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


# ---------------------------------------------------------------------------
# Argument types and the function table
# ---------------------------------------------------------------------------

def _unchanged(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class ArgType:
    """What a parameter accepts: the JSON `kinds`, an optional extra `check` and a
    `convert` applied before the function sees the value. `name` reads in messages:
    "argument 2 must be <name>"."""

    name: str
    kinds: frozenset[str]
    check: Callable[[Any], bool] | None = None
    convert: Callable[[Any], Any] = _unchanged

    def accepts(self, value: Any) -> bool:
        # One set lookup on the exact type: bool is its own type, so True is never a number.
        if type(value) not in self._types and kind_of(value) not in self.kinds:
            return False
        return self.check is None or self.check(value)

    @functools.cached_property
    def _types(self) -> frozenset:
        python = {"null": (type(None),), "boolean": (bool,), "number": (int, float), "string": (str,),
                  "array": (list,), "object": (dict,)}
        return frozenset(t for kind in self.kinds for t in python[kind])


ANY = ArgType("any JSON value", frozenset({"null", "boolean", "number", "string", "array", "object"}))
STRING = ArgType("a string", frozenset({"string"}), check=lambda v: isinstance(v, str))
TEMPLATE = ArgType("a string", frozenset({"string"}))   # str or a literal FormatTemplate
ARRAY = ArgType("an array", frozenset({"array"}))
OBJECT = ArgType("a JSON object", frozenset({"object"}))
BOOLEAN = ArgType("a boolean", frozenset({"boolean"}))
#: MathAdd's operands: rounded like Java ``Math.round`` (recorded against AWS: 1.5 + 1.51 = 4,
#: -1.49 + -1.5 = -2, -2.5 + 0 = -2).
ROUNDED_INTEGER = ArgType("a number", frozenset({"number"}), convert=java_round)
#: The integer arguments of ArrayPartition, ArrayRange, ArrayGetItem and MathRandom. The AWS
#: docs say a non-integer is "rounded off to the nearest integer", but AWS truncates it toward
#: zero. Observed on AWS by an AWS-run conformance suite (tests/support/conformance/
#: intrinsicCases/States.<Function>.ts, skip reasons and cases): ArrayRange(1.6, 1.4, 1) is [1]
#: and ArrayRange(5.4, -0.6, -2.4) is [5, 3, 1]; ArrayPartition(arr, 2.6) makes chunks of 2 and
#: ArrayPartition(arr, 0.6) fails; ArrayGetItem([10, 20, 30], 1.2) is 20; MathRandom(1.4, 1.6)
#: fails and MathRandom(1.6, 5.4) returned 1.
TRUNCATED_INTEGER = ArgType("a number", frozenset({"number"}), convert=java_truncate)


@dataclass(frozen=True)
class Function:
    """One built-in: its `name`, the plain Python `impl`, the signature (`params`, then
    `optional`, then any number of `variadic`), the JSON kind it `returns`, and whether
    `impl` takes the random generator (``rng=`` keyword)."""

    name: str
    impl: Callable[..., Any]
    params: tuple[ArgType, ...] = ()
    optional: tuple[ArgType, ...] = ()
    variadic: ArgType | None = None
    returns: str = "any"
    uses_rng: bool = False

    @property
    def min_args(self) -> int:
        return len(self.params)

    @property
    def max_args(self) -> float:
        return math.inf if self.variadic else len(self.params) + len(self.optional)

    def param(self, index: int) -> ArgType | None:
        """The type of the argument at 0-based ``index`` (None beyond the signature)."""
        fixed = self._fixed
        return fixed[index] if index < len(fixed) else self.variadic

    @functools.cached_property
    def _fixed(self) -> tuple[ArgType, ...]:
        return self.params + self.optional

    def arity_problem(self, count: int) -> str | None:
        """What is wrong with calling this function with `count` arguments (None: nothing).

        AWS is not known to reject a wrong argument count when a state machine is created, so
        the validator reports it as a WARNING and the call fails at run time.
        """
        if self.min_args <= count <= self.max_args:
            return None
        if self.max_args == math.inf:
            expected = f"at least {self.min_args}"
        elif self.min_args == self.max_args:
            expected = f"exactly {self.min_args}"
        else:
            expected = f"{self.min_args} to {int(self.max_args)}"
        plural = "" if expected.endswith(" 1") else "s"
        return f"{self.name} takes {expected} argument{plural}, {count} given"

    def __call__(self, values: list[Any], rng: random.Random) -> Any:
        """Check and convert every argument, in this one place, then run `impl`.

        `values` is a fresh list built by the caller; converted values replace it in place.
        """
        problem = self.arity_problem(len(values))
        if problem is not None:
            raise IntrinsicFailure(self.name, problem)
        try:
            return self._call(values, rng)
        except IntrinsicFailure:
            raise
        except (OverflowError, ValueError, ArithmeticError) as exc:  # huge or non-finite numbers
            raise self.failure(f"the arguments are out of range ({exc})") from None

    def _call(self, values: list[Any], rng: random.Random) -> Any:
        fixed = self._fixed
        count = len(fixed)
        for index, value in enumerate(values):
            expected = fixed[index] if index < count else self.variadic
            if expected is ANY:
                continue
            if not expected.accepts(value):
                raise self.failure(f"argument {index + 1} must be {expected.name}, "
                                   f"but was {_describe(value)}")
            if expected.convert is not _unchanged:
                values[index] = expected.convert(value)
        return self.impl(*values, rng=rng) if self.uses_rng else self.impl(*values)

    def failure(self, detail: str) -> IntrinsicFailure:
        return IntrinsicFailure(self.name, detail)


def _describe(value: Any) -> str:
    kind = kind_of(value)
    if kind in ("array", "object", "null"):
        return {"array": "an array", "object": "a JSON object", "null": "null"}[kind]
    text = to_json_text(value.pieces[0] if isinstance(value, FormatTemplate) else value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"a {kind} ({text})"


#: The name table: every States.* function, by name.
FUNCTIONS: dict[str, Function] = {}


def intrinsic(name: str, *params: ArgType, optional: tuple[ArgType, ...] = (),
              variadic: ArgType | None = None, returns: str = "any",
              uses_rng: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``impl`` under ``name`` with its signature (jmespath's ``@signature``)."""
    def register(impl: Callable[..., Any]) -> Callable[..., Any]:
        FUNCTIONS[name] = Function(name, impl, tuple(params), tuple(optional), variadic,
                                   returns, uses_rng)
        return impl
    return register


def _fail(name: str, detail: str) -> IntrinsicFailure:
    return FUNCTIONS[name].failure(detail)


# ---------------------------------------------------------------------------
# The 18 functions
# ---------------------------------------------------------------------------

# -- generic ----------------------------------------------------------------

@intrinsic("States.Format", TEMPLATE, variadic=ANY, returns="string")
def states_format(template: str | FormatTemplate, *values: Any) -> str:
    """Replace each ``{}`` of the template, in order, by `format_text` of the next value.
    A template read from a path has no escapes: every ``{}`` in it is a placeholder."""
    if isinstance(template, FormatTemplate):
        pieces, stray = template.pieces, template.stray_brace
    else:
        pieces = tuple(template.split("{}"))
        stray = any("{" in piece or "}" in piece for piece in pieces)
    if stray:
        # AWS fails 'Hello {{}}' and '}' (an AWS-run conformance suite, States.Format.ts)
        raise _fail("States.Format", "the format string has a '{' or '}' that is not part of "
                                     "a {} placeholder")
    if len(pieces) - 1 != len(values):
        raise _fail("States.Format", f"the format string has {len(pieces) - 1} placeholder(s) "
                                     f"but {len(values)} value(s) were given")
    out = [pieces[0]]
    for value, piece in zip(values, pieces[1:]):
        out += [format_text(value), piece]
    return "".join(out)


# -- JSON -------------------------------------------------------------------

@intrinsic("States.StringToJson", STRING)
def string_to_json(text: str) -> Any:
    """Parse JSON text. Empty or blank text gives null (recorded: ``""`` and ``" "``)."""
    if not text.strip():
        return None
    try:
        return deepjson.strict_loads(text)
    except ValueError as exc:
        raise _fail("States.StringToJson", f"the string is not valid JSON ({exc})") from None


@intrinsic("States.JsonToString", ANY, returns="string")
def json_to_string(value: Any) -> str:
    """Compact JSON text of any value (recorded: ``{"Arg1":1,"Arg2":[]}``, ``"1.1"``)."""
    return to_json_text(value)


@intrinsic("States.JsonMerge", OBJECT, OBJECT, BOOLEAN, returns="object")
def json_merge(first: dict, second: dict, deep: bool) -> dict:
    """Shallow merge, keys of `second` win. AWS supports only ``deep = false``. The merged object
    has its keys in the order a ``java.util.HashMap`` of them iterates, as AWS writes it (recorded:
    test_json_merge gives ``{a, b, c, d}`` for ``{a, b, d}`` merged with ``{a, c, d}``, and
    test_json_merge_escaped_argument ``{constant_input_field, constant_in_literal}``); the
    members' own values keep theirs."""
    if deep:
        raise _fail("States.JsonMerge", "deep merging is not supported; the third argument "
                                        "must be false")
    from .jackson import java_hash_order

    merged = {**first, **second}
    keys = list(merged)
    return {keys[i]: merged[keys[i]] for i in java_hash_order(keys)}


# -- arrays -----------------------------------------------------------------

@intrinsic("States.Array", variadic=ANY, returns="array")
def states_array(*values: Any) -> list:
    """The arguments as an array (``States.Array()`` is ``[]``)."""
    return list(values)


@intrinsic("States.ArrayPartition", ARRAY, TRUNCATED_INTEGER, returns="array")
def array_partition(array: list, size: int) -> list:
    """Chunks of `size` items, the last one shorter; ``[]`` gives ``[]``."""
    if size <= 0:
        raise _fail("States.ArrayPartition", f"the chunk size must be a positive integer, "
                                             f"but was {size}")
    return [array[i:i + size] for i in range(0, len(array), size)]


@intrinsic("States.ArrayContains", ARRAY, ANY, returns="boolean")
def array_contains(array: list, value: Any) -> bool:
    """Membership with JSON equality (objects by content, ``true`` is not ``1``)."""
    wanted = _identity(value)
    return any(_identity(item) == wanted for item in array)


#: AWS: "The newly generated array can't contain more than 1000 items."
MAX_RANGE_ITEMS = 1000


@intrinsic("States.ArrayRange", TRUNCATED_INTEGER, TRUNCATED_INTEGER, TRUNCATED_INTEGER,
           returns="array")
def array_range(first: int, last: int, step: int) -> list:
    """``first, first+step, ...`` up to and including `last` when reached; `step` may be
    negative but not zero."""
    if step == 0:
        raise _fail("States.ArrayRange", "the step (argument 3) must not be zero")
    stop = last + (1 if step > 0 else -1)
    size = len(range(first, stop, step))
    if size > MAX_RANGE_ITEMS:
        raise _fail("States.ArrayRange", f"the range would hold {size} items; the limit is "
                                         f"{MAX_RANGE_ITEMS}")
    return list(range(first, stop, step))


@intrinsic("States.ArrayGetItem", ARRAY, TRUNCATED_INTEGER)
def array_get_item(array: list, index: int) -> Any:
    """The item at 0-based `index`; negative or too large indexes fail."""
    if not 0 <= index < len(array):
        raise _fail("States.ArrayGetItem", f"index {index} is out of bounds for an array "
                                           f"of length {len(array)}")
    return array[index]


@intrinsic("States.ArrayLength", ARRAY, returns="number")
def array_length(array: list) -> int:
    return len(array)


@intrinsic("States.ArrayUnique", ARRAY, returns="array")
def array_unique(array: list) -> list:
    """Drop later duplicates (JSON equality), keeping first occurrences in order."""
    seen: set = set()
    unique = []
    for item in array:
        key = _identity(item)
        if key not in seen:
            seen.add(key)
            unique.append(item)
    return unique


# -- encoding and hashing ----------------------------------------------------

#: AWS: Base64Encode/Base64Decode/Hash take "a data string of up to 10,000 characters".
MAX_DATA_CHARS = 10_000


def _check_data_length(name: str, text: str) -> None:
    if _utf16_length(text) > MAX_DATA_CHARS:
        raise _fail(name, f"the input string has {_utf16_length(text)} characters; "
                          f"the limit is {MAX_DATA_CHARS}")


def _utf8(text: str) -> bytes:
    # Java's String.getBytes(UTF_8) writes '?' for a lone surrogate instead of failing.
    return text.encode("utf-8", "replace")


@intrinsic("States.Base64Encode", STRING, returns="string")
def base64_encode(text: str) -> str:
    """Base64 of the UTF-8 bytes, standard alphabet with padding."""
    _check_data_length("States.Base64Encode", text)
    return base64.b64encode(_utf8(text)).decode("ascii")


@intrinsic("States.Base64Decode", STRING, returns="string")
def base64_decode(text: str) -> str:
    """Decode Base64 to UTF-8 text. Like Java's MIME decoder, line breaks and spaces are
    ignored and padding is optional; invalid UTF-8 becomes U+FFFD as in ``new String``."""
    _check_data_length("States.Base64Decode", text)
    compact = "".join(text.split())
    if not compact.endswith("="):
        compact += "=" * (-len(compact) % 4)    # padding is optional, as in Java
    try:
        raw = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise _fail("States.Base64Decode", "the input is not valid Base64") from None
    return raw.decode("utf-8", "replace")


_HASHES = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384",
           "SHA-512": "sha512"}


@intrinsic("States.Hash", STRING, STRING, returns="string")
def states_hash(text: str, algorithm: str) -> str:
    """Lower-case hex digest of the UTF-8 bytes with MD5, SHA-1, SHA-256, SHA-384 or SHA-512."""
    _check_data_length("States.Hash", text)
    if algorithm not in _HASHES:
        raise _fail("States.Hash", f"unsupported algorithm {algorithm!r}; use one of "
                                   f"{', '.join(_HASHES)}")
    return hashlib.new(_HASHES[algorithm], _utf8(text)).hexdigest()


# -- math ---------------------------------------------------------------------

#: AWS: MathAdd "You must specify integer values in the range of -2147483648 and 2147483647."
INT32 = range(-2**31, 2**31)


@intrinsic("States.MathRandom", TRUNCATED_INTEGER, TRUNCATED_INTEGER, optional=(TRUNCATED_INTEGER,),
           returns="number", uses_rng=True)
def math_random(start: int, end: int, seed: int | None = None, *,
                rng: random.Random) -> int:
    """A random integer, `start` inclusive and `end` exclusive (AWS docs). With a `seed`, the
    same seed gives the same number; otherwise `rng` decides, so seeded runs repeat."""
    if start >= end:
        raise _fail("States.MathRandom", f"the start ({start}) must be less than the end ({end})")
    if seed is not None and end - start < 2**31:
        # like java.util.Random on AWS (an AWS-run conformance suite, States.MathRandom.ts
        # MRAND-026: seed 42 over [-5, 5) gave -5, i.e. nextInt(10) == 0)
        return start + JavaRandom(seed).next_int(end - start)
    source = random.Random(seed) if seed is not None else rng
    return source.randrange(start, end)


@intrinsic("States.MathAdd", ROUNDED_INTEGER, ROUNDED_INTEGER, returns="number")
def math_add(first: int, second: int) -> int:
    """Sum of the two arguments, each first rounded like Java ``Math.round`` (recorded:
    1.5 + 1.51 = 4, -1.49 + -1.5 = -2)."""
    total = first + second
    if first in INT32 and second in INT32 and total in INT32:
        return total
    for position, value in ((1, first), (2, second)):
        if value not in INT32:
            raise _fail("States.MathAdd", f"argument {position} ({value}) is outside the "
                                          f"range {INT32.start} to {INT32.stop - 1}")
    # The sum must fit too: AWS fails MathAdd(2147483647, 1) and MathAdd(-2147483648, -1)
    # (an AWS-run conformance suite, States.MathAdd.ts MADD-011/012) rather than wrap or widen.
    raise _fail("States.MathAdd", f"the sum ({total}) is outside the range {INT32.start} to "
                                  f"{INT32.stop - 1}")


# -- strings and ids -----------------------------------------------------------

@intrinsic("States.StringSplit", STRING, STRING, returns="array")
def string_split(text: str, delimiters: str) -> list[str]:
    """Split at every character of `delimiters`, dropping empty pieces
    (recorded: ``",,,,"`` -> ``[]``, ``" , "`` -> ``[" ", " "]``)."""
    if not delimiters:
        return [text] if text else []
    pattern = "[" + "".join(re.escape(char) for char in delimiters) + "]"
    return [piece for piece in re.split(pattern, text) if piece]


@intrinsic("States.UUID", variadic=ANY, returns="string", uses_rng=True)
def states_uuid(*ignored: Any, rng: random.Random) -> str:
    """A version 4 UUID drawn from `rng`, so seeded executions are reproducible.

    The documented call takes no arguments, but AWS evaluates and ignores any it is given:
    ``States.UUID('x')``, ``States.UUID($.x)``, ``States.UUID(1, 2)``, ``States.UUID(null)``
    all return a UUID (an AWS-run conformance suite, States.UUID.ts UUID-011..016)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


# ---------------------------------------------------------------------------
# Static doubts (Intrinsic.warnings)
# ---------------------------------------------------------------------------

def _static_warnings(call: Call) -> list[str]:
    """Problems visible without running: literal arguments of the wrong type, nested calls
    whose result kind cannot fit, and calls made only of literals that would fail (found by
    evaluating them). AWS is not known to reject these at create time, so they are warnings
    here and `IntrinsicFailure`s at run time. A ``null`` literal is no doubt in itself: the
    Developer Guide's own States.Array example passes one (``States.Array('Foo', 2022,
    $.someJson, null)`` gives ``[..., null]``)."""
    function, found = call.function, []
    problem = function.arity_problem(len(call.args))
    if problem is not None:
        return [problem]  # the arguments cannot be judged against the wrong signature
    for index, arg in enumerate(call.args):
        expected = function.param(index)
        if isinstance(arg, Literal):
            if expected and not expected.accepts(arg.value):
                found.append(f"{function.name}: argument {index + 1} must be {expected.name}, "
                             f"but is {_describe(arg.value)}; this call always fails")
        elif isinstance(arg, Call) and expected and arg.function.returns != "any" \
                and arg.function.returns not in expected.kinds:
            found.append(f"{function.name}: argument {index + 1} must be {expected.name}, but "
                         f"{arg.function.name} returns a {arg.function.returns}; this call "
                         "always fails")
    # Value rules that a literal breaks even when the other arguments are paths.
    first, last = (call.args[0], call.args[-1]) if call.args else (None, None)
    if isinstance(first, FormatTemplate) and first.stray_brace:
        found.append("States.Format: the template has a '{' or '}' that is not part of a {} "
                     "placeholder; this call always fails")
    elif isinstance(first, FormatTemplate) and first.placeholders != len(call.args) - 1:
        found.append(f"States.Format: the template has {first.placeholders} placeholder(s) but "
                     f"{len(call.args) - 1} value(s) follow; this call always fails")
    elif function.name == "States.JsonMerge" and isinstance(last, Literal) and last.value is True:
        found.append("States.JsonMerge: deep merging (true) is not supported by AWS; "
                     "this call always fails")
    elif function.name == "States.UUID" and call.args:
        found.append("States.UUID takes no arguments; AWS ignores the ones given")
    elif function.name == "States.Hash" and isinstance(last, Literal) \
            and isinstance(last.value, str) and last.value not in _HASHES:
        found.append(f"States.Hash: unsupported algorithm {last.value!r}; this call always fails")
    if not found and all(isinstance(arg, (Literal, FormatTemplate)) for arg in call.args):
        try:
            call.evaluate(_Env(lambda path: None, random.Random(0)))
        except IntrinsicFailure as failure:
            found.append(f"{failure.function}: {failure.detail}; this call always fails")
    return found
