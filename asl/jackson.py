"""JSON text read as AWS reads it, with Jackson's words for text that is not JSON.

AWS Step Functions parses the JSON it is given (StartExecution's input, SendTaskSuccess's
output, a definition) with Jackson, an ObjectMapper reading a Java String, and quotes the
parser's message: ``Invalid State Machine Execution Input: 'Unrecognized token 'not': was
expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')'``. The
location Jackson appends to `getMessage()` (``\\n at [Source: ...; line: 1, column: 4]``) is
not part of it: AWS quotes the original message. The ``[Source: (String)"..."]`` form of the
locations in AWS's answers is jackson-core 2.9 to 2.15's (2.16 hides the content by
default), so the texts here are jackson-core 2.15.4's, with its default features.

`loads` is ``json.loads`` for such text. Valid JSON costs one C parse, as before; only text
that Python's json refuses is read again, by `describe`, which follows Jackson's
ReaderBasedJsonParser to the first problem it would report. Where the two disagree:

- NaN, Infinity and -Infinity: Python reads them; Jackson refuses them
  (JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS is off), and so does `loads`.
- Text after a complete value: ObjectMapper reads one value and stops
  (DeserializationFeature.FAIL_ON_TRAILING_TOKENS is off by default), so ``{"a": 1} x``
  reads as ``{"a": 1}``; a number at the root must be followed by white space (``1x`` is
  refused: "Expected space separating root-level values").
- Jackson's StreamReadConstraints refuse numbers longer than 1000 digits and nesting deeper
  than 1000 levels. Those are reported when Python's json refuses the text too (an integer
  beyond 4300 digits, a text deeper than the recursion limit); text Python reads is not
  checked again, to keep valid JSON fast.

Characters beyond U+FFFF are one character here but two UTF-16 units to Jackson: its
messages would show the first (a lone surrogate, which cannot be sent as UTF-8), so the
character is shown whole, with the code of its first unit.
"""
from __future__ import annotations

import re
from typing import Any

from . import deepjson

# ParserBase._validJsonValueList (ALLOW_NON_NUMERIC_NUMBERS off)
VALUES = "(JSON String, Number, Array, Object or token 'null', 'true' or 'false')"
MAX_DEPTH = 1000         # StreamReadConstraints.DEFAULT_MAX_DEPTH
MAX_NUMBER_LENGTH = 1000  # StreamReadConstraints.DEFAULT_MAX_NUM_LEN
_MAX_TOKEN = 256          # ParserMinimalBase.MAX_ERROR_TOKEN_LENGTH
_MAX_SNIPPET = 500        # ContentReference.DEFAULT_MAX_CONTENT_SNIPPET


class JSONTextError(ValueError):
    """Raised by `loads` when Jackson would refuse the text: `message` is Jackson's (its
    original message, without the location), `offset` the 0-based character offset of the
    problem in the text (the start of a bad token or string, the bad character, or the
    end of the text); `location` is the location Jackson reports with it (its parser's
    current location: just past what it had read), as `JsonLocation` prints it."""

    def __init__(self, message: str, offset: int, location: str = ""):
        super().__init__(message)
        self.message, self.offset, self.location = message, offset, location


_DECODER = deepjson.STRICT  # NaN and Infinity refused


def loads(text: str) -> Any:
    """The JSON value of `text` as Jackson reads it (see the module docstring);
    `JSONTextError` with Jackson's message when Jackson refuses it."""
    return read(text)[0]


def read(text: str) -> tuple[Any, bool]:
    """`loads`, and whether `text` is that value alone, strict JSON (False when Jackson's reader
    stopped after a first value, or read what only its own scanner takes)."""
    try:
        return _DECODER.decode(text), True
    except (ValueError, RecursionError):  # JSONDecodeError, NaN, an int beyond 4300 digits, depth
        pass
    try:
        end = _scan(text)
    except _Stop as stop:
        raise stop.error(text) from None
    if end is None:  # only white space: ObjectMapper.readValue's words
        raise JSONTextError("No content to map due to end-of-input", len(text))
    return deepjson.loads(text[:end], _DECODER), False  # Jackson stops after the first value


def describe(text: str) -> JSONTextError | None:
    """The error Jackson reports first for `text`, or None when it reads a value from it
    (or finds only white space)."""
    try:
        _scan(text)
    except _Stop as stop:
        return stop.error(text)
    return None


# =============================================================================================
# The scanner: ReaderBasedJsonParser.nextToken and the methods it calls, for error texts only
# =============================================================================================

class _Stop(Exception):
    """A problem at `offset`; `end` is where Jackson's reader stands when it reports it (None:
    just past the character at `offset`, which it has read, or at the end of the text)."""

    def __init__(self, message: str, offset: int, end: int | None = None):
        self.message, self.offset, self.end = message, offset, end

    def error(self, text: str) -> JSONTextError:
        end = self.end if self.end is not None else min(self.offset + 1, len(text))
        return JSONTextError(self.message, self.offset, _location(text, end))


_WS = re.compile(r"[ \t\r\n]*")
_PLAIN = re.compile(r'[^"\\\x00-\x1f]*')
_DIGITS = re.compile(r"[0-9]*")
_HEX = frozenset("0123456789abcdefABCDEF")
_LINE_BREAK = re.compile(r"\r\n?|\n")


def _scan(text: str) -> int | None:
    """The offset just past the root value Jackson reads from `text` (None: white space
    only); `_Stop` at the first problem. Keeps its own stack: any depth, no recursion."""
    n = len(text)
    stack: list[list] = []  # [is_object, offset of its bracket, entries so far]
    pos = 0
    while True:
        i = _skip(text, pos)
        if i >= n:
            if not stack:
                return None
            kind = "Object" if stack[-1][0] else "Array"
            # ParserBase._handleEOF
            raise _Stop(f"Unexpected end-of-input: expected close marker for {kind} "
                        f"(start marker at {_location(text, stack[-1][1])})", n)
        c = text[i]
        if c == "]" or c == "}":  # ReaderBasedJsonParser._closeScope
            closes_object = c == "}"
            if not stack or stack[-1][0] != closes_object:
                _mismatched(text, stack, c, i)
            stack.pop()
            if not stack:
                return i + 1
            pos = i + 1
            continue
        if stack:
            top = stack[-1]
            kind = "Object" if top[0] else "Array"
            if top[2]:  # ReaderBasedJsonParser._skipComma / _skipAfterComma2
                if c != ",":
                    raise _Stop(f"Unexpected character ({char_desc(c)}): was expecting comma to "
                                f"separate {kind} entries", i)
                i = _skip(text, i + 1)
                if i >= n:
                    raise _Stop(f"Unexpected end-of-input within/between {kind} entries", n)
                c = text[i]
            top[2] += 1
            if top[0]:
                i, c = _member_name(text, i, c)
        if c == "[" or c == "{":
            if len(stack) >= MAX_DEPTH:  # StreamReadConstraints.validateNestingDepth
                raise _Stop(f"Depth ({len(stack) + 1}) exceeds the maximum allowed nesting depth "
                            f"({MAX_DEPTH})", i)
            stack.append([c == "{", i, 0])
            pos = i + 1
            continue
        pos = _scalar(text, i, c, bool(stack))
        if not stack:
            return pos


def _skip(text: str, pos: int) -> int:
    """Past white space (ReaderBasedJsonParser._skipWSOrEnd): the next token's offset."""
    pos = _WS.match(text, pos).end()
    if pos < len(text):
        c = text[pos]
        if c < " ":  # ParserMinimalBase._throwInvalidSpace
            raise _Stop(f"Illegal character ({char_desc(c)}): only regular white space "
                        "(\\r, \\n, \\t) is allowed between tokens", pos)
        if c == "/":  # ReaderBasedJsonParser._skipComment, ALLOW_COMMENTS off
            raise _Stop("Unexpected character ('/' (code 47)): maybe a (non-standard) comment? (not "
                        "recognized as one since Feature 'ALLOW_COMMENTS' not enabled for parser)", pos)
    return pos


def _mismatched(text: str, stack: list, c: str, i: int) -> None:
    """ParserBase._reportMismatchedEndMarker: a close marker of the other kind (or at the root)."""
    expected = "}" if c == "]" else "]"
    if stack:
        kind, where = ("Object" if stack[-1][0] else "Array"), _location(text, stack[-1][1])
    else:  # JsonReadContext.createRootContext: line 1, column 0
        kind, where = "root", f"[Source: {_source(text)}; line: 1, column: 0]"
    raise _Stop(f"Unexpected close marker '{c}': expected '{expected}' (for {kind} starting at {where})", i)


def _member_name(text: str, i: int, c: str) -> tuple[int, str]:
    """A member's name and its colon (ReaderBasedJsonParser._parseName, _handleOddName,
    _skipColon2): the offset and character of the value that follows."""
    if c != '"':
        raise _Stop(f"Unexpected character ({char_desc(c)}): was expecting double-quote to start field "
                    "name", i)
    n = len(text)
    j = _skip(text, _string(text, i, "name"))
    if j >= n:
        raise _Stop("Unexpected end-of-input within/between Object entries", n)
    if text[j] != ":":
        raise _Stop(f"Unexpected character ({char_desc(text[j])}): was expecting a colon to separate "
                    "field name and value", j)
    j = _skip(text, j + 1)
    if j >= n:
        raise _Stop("Unexpected end-of-input within/between Object entries", n)
    return j, text[j]


def _scalar(text: str, i: int, c: str, nested: bool) -> int:
    """A value that is not an array or object (the switch in nextToken, then
    _handleOddValue): the offset just past it."""
    if c == '"':
        return _string(text, i, "string value")
    if c in _WORDS:
        return _word(text, i, _WORDS[c], 1)
    if c == "-" or "0" <= c <= "9":
        return _number(text, i, nested)
    if c == "}":  # after a name's colon, or a comma in an array
        raise _Stop("Unexpected character ('}' (code 125)): expected a value", i)
    if c == "N" or c == "I":
        token = "NaN" if c == "N" else "Infinity"
        end = _word(text, i, token, 1)
        raise _Stop(f"Non-standard token '{token}': enable `JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` "
                    "to allow", i, end)
    if c == "+":
        if i + 1 >= len(text):  # ParserMinimalBase._reportInvalidEOFInValue
            raise _Stop("Unexpected end-of-input in a Number value", len(text))
        _bad_number_start(text, i, i + 1)
    if _identifier_start(c):
        raise _unrecognized(text, i, i + 1)
    raise _Stop(f"Unexpected character ({char_desc(c)}): expected a valid value {VALUES}", i)


_WORDS = {"t": "true", "f": "false", "n": "null"}


def _word(text: str, start: int, word: str, k: int) -> int:
    """ReaderBasedJsonParser._matchToken: `word` at `start`, its first `k` characters
    already matched; the offset past it."""
    n = len(text)
    p = start + k
    while k < len(word):
        if p >= n or text[p] != word[k]:
            raise _unrecognized(text, start, p)
        p += 1
        k += 1
    if p < n:  # _checkMatchEnd: only a letter or digit may not follow
        c = text[p]
        if c >= "0" and c != "]" and c != "}" and _identifier_part(c):
            raise _unrecognized(text, start, p)
    return p


def _unrecognized(text: str, start: int, p: int) -> _Stop:
    """ReaderBasedJsonParser._reportInvalidToken: what was matched so far, then the Java
    identifier characters that follow (at most 256, then "...")."""
    token = text[start:p]
    n = len(text)
    while p < n and _identifier_part(text[p]):
        token += text[p]
        p += 1
        if len(token) >= _MAX_TOKEN:
            token += "..."
            break
    return _Stop(f"Unrecognized token '{token}': was expecting {VALUES}", start, p)


def _number(text: str, i: int, nested: bool) -> int:
    """ReaderBasedJsonParser._parseUnsignedNumber / _parseSignedNumber / _parseFloat /
    _parseNumber2 and the checks they make; the offset past the number."""
    n = len(text)
    p = i
    if text[p] == "-":
        p += 1
        if p >= n:  # getNextChar's message, glued on as Jackson glues it
            raise _Stop("Unexpected end-of-inputNo digit following minus sign", n)
        if not "0" <= text[p] <= "9":
            if text[p] == ".":  # _parseFloatThatStartsWithPeriod, then _handleOddValue('.')
                raise _Stop(f"Unexpected character ('.' (code 46)): expected a valid value {VALUES}", p)
            _bad_number_start(text, i, p)
    if text[p] == "0" and p + 1 < n and "0" <= text[p + 1] <= "9":  # _verifyNoLeadingZeroes
        raise _Stop("Invalid numeric value: Leading zeroes not allowed", i)
    q = _DIGITS.match(text, p).end()
    length, p, is_float = q - p, q, False
    if p < n and text[p] == ".":
        q = _DIGITS.match(text, p + 1).end()
        if q == p + 1:
            bad = text[q] if q < n else "."  # at the end, the character last read: the point
            raise _Stop(f"Unexpected character ({char_desc(bad)}) in numeric value: Decimal point not "
                        "followed by a digit", min(q, n - 1))
        length, p, is_float = length + q - p - 1, q, True
    if p < n and text[p] in "eE":
        p += 1
        if p < n and text[p] in "+-":
            p += 1
        if p >= n:
            raise _Stop("Unexpected end-of-inputexpected a digit for number exponent", n)
        q = _DIGITS.match(text, p).end()
        if q == p:
            raise _Stop(f"Unexpected character ({char_desc(text[p])}) in numeric value: Exponent "
                        "indicator not followed by a digit", p)
        length, p, is_float = length + q - p, q, True
    if not nested and p < n and text[p] not in " \t\r\n":  # _verifyRootSpace
        raise _Stop(f"Unexpected character ({char_desc(text[p])}): Expected space separating root-level "
                    "values", p)
    if length > MAX_NUMBER_LENGTH:  # StreamReadConstraints.validateIntegerLength / validateFPLength
        raise _Stop(f"Number length ({length}) exceeds the maximum length ({MAX_NUMBER_LENGTH})", i, p)
    return p


def _bad_number_start(text: str, sign: int, p: int) -> None:
    """ReaderBasedJsonParser._handleInvalidNumberStart: a sign at `sign` not followed by a
    digit (the character at `p`). Always raises."""
    n = len(text)
    negative = text[sign] == "-"
    c = text[p]
    if c == "I":
        p += 1
        if p >= n:
            raise _Stop("Unexpected end-of-input in a Number value", n)
        c = text[p]
        if c == "N" or c == "n":
            token = text[sign] + ("INF" if c == "N" else "Infinity")
            end = _word(text, sign, token, 3)
            raise _Stop(f"Non-standard token '{token}': enable `JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` "
                        "to allow", sign, end)
    if not negative:
        raise _Stop("Unexpected character ('+' (code 43)) in numeric value: JSON spec does not allow "
                    "numbers to have plus signs: enable `JsonReadFeature.ALLOW_LEADING_PLUS_SIGN_FOR_NUMBERS` "
                    "to allow", sign)
    raise _Stop(f"Unexpected character ({char_desc(c)}) in numeric value: expected digit (0-9) to follow "
                "minus sign, for valid numeric value", p)


def _string(text: str, i: int, what: str) -> int:
    """A string (`what` is "string value" or "name") whose quote is at `i`
    (ReaderBasedJsonParser._finishString2 / _parseName2 / _decodeEscaped); the offset past
    its closing quote."""
    n = len(text)
    p = i + 1
    while True:
        p = _PLAIN.match(text, p).end()
        if p >= n:
            if what == "name":
                raise _Stop("Unexpected end-of-input in field name", i, n)
            raise _Stop("Unexpected end-of-input: was expecting closing quote for a string value", i, n)
        c = text[p]
        if c == '"':
            return p + 1
        if c != "\\":  # ParserBase._throwUnquotedSpace
            raise _Stop(f"Illegal unquoted character ({char_desc(c)}): has to be escaped using backslash "
                        f"to be included in {what}", p)
        e = p + 1
        if e >= n:
            raise _Stop("Unexpected end-of-input in character escape sequence", p, n)
        c = text[e]
        if c == "u":
            for k in range(e + 1, e + 5):
                if k >= n:
                    raise _Stop("Unexpected end-of-input in character escape sequence", p, n)
                if text[k] not in _HEX:
                    raise _Stop(f"Unexpected character ({char_desc(text[k])}): expected a hex-digit for "
                                "character escape sequence", p, k + 1)
            p = e + 5
        elif c in 'bfnrt"/\\':
            p = e + 1
        else:  # ParserBase._handleUnrecognizedCharacterEscape
            raise _Stop(f"Unrecognized character escape {char_desc(c)}", p, e + 1)


# =============================================================================================
# Characters and locations as Jackson writes them
# =============================================================================================

def char_desc(c: str) -> str:
    """A character as Jackson's messages name it (ParserMinimalBase._getCharDesc)."""
    code = ord(c)
    if code < 32 or 127 <= code <= 159:  # Character.isISOControl
        return f"(CTRL-CHAR, code {code})"
    if code > 255:
        unit = code if code <= 0xFFFF else 0xD800 + ((code - 0x10000) >> 10)  # its first UTF-16 unit
        return f"'{c}' (code {unit} / 0x{unit:x})"
    return f"'{c}' (code {code})"


_START = frozenset(("Lu", "Ll", "Lt", "Lm", "Lo", "Nl", "Sc", "Pc"))
_PART = _START | {"Nd", "Mn", "Mc", "Cf"}


def _identifier_start(c: str) -> bool:
    """Java's Character.isJavaIdentifierStart (a character beyond U+FFFF is a surrogate to Java: no)."""
    if c < "\x80":
        return c.isalpha() or c == "$" or c == "_"
    import unicodedata

    return ord(c) <= 0xFFFF and unicodedata.category(c) in _START


def _identifier_part(c: str) -> bool:
    """Java's Character.isJavaIdentifierPart, identifier-ignorable controls included."""
    code = ord(c)
    if code <= 8 or 0xE <= code <= 0x1B or 0x7F <= code <= 0x9F:
        return True
    if c < "\x80":
        return c.isalnum() or c == "$" or c == "_"
    import unicodedata

    return code <= 0xFFFF and unicodedata.category(c) in _PART


def _units(text: str) -> int:
    """The length of `text` in UTF-16 units (Java's String.length)."""
    return len(text) + sum(1 for c in text if c > "\uffff")


def _source(text: str) -> str:
    """ContentReference.appendSourceDescription for a String: its first 500 units, quoted,
    ISO control characters other than CR and LF as \\uXXXX."""
    snippet, total = text[:_MAX_SNIPPET], _units(text)
    while _units(snippet) > _MAX_SNIPPET:
        snippet = snippet[:-1]
    body = "".join(f"\\u{ord(c):04X}" if (c < " " or "\x7f" <= c <= "\x9f") and c not in "\r\n" else c
                   for c in snippet)
    more = f"[truncated {total - _MAX_SNIPPET} chars]" if total > _MAX_SNIPPET else ""
    return f'(String)"{body}"{more}'


def _location(text: str, offset: int) -> str:
    """JsonLocation.toString of the character at `offset`."""
    line, column = line_column(text, offset)
    return f"[Source: {_source(text)}; line: {line}, column: {column}]"


def line_column(text: str, offset: int) -> tuple[int, int]:
    """The line and column Jackson gives the character at `offset`: 1-based line (CR, LF and
    CRLF each end one) and column in UTF-16 units."""
    line, start = 1, 0
    for m in _LINE_BREAK.finditer(text, 0, offset):
        line, start = line + 1, m.end()
    return line, _units(text[start:offset]) + 1


def java_hash_order(keys: list[str]) -> list[int]:
    """The positions of `keys` in the order a ``java.util.HashMap`` filled with them in this order
    iterates them: by bucket (the spread String.hashCode masked by the table size, 16 doubled
    while more than 3/4 full), keys of one bucket in insertion order."""
    size = 16
    while len(keys) > size * 3 // 4:
        size *= 2
    return sorted(range(len(keys)), key=lambda i: (_spread(keys[i]) & (size - 1), i))


def _spread(text: str) -> int:
    h = 0
    for unit in text.encode("utf-16-be").hex(" ", 2).split():  # UTF-16 code units, as Java's String
        h = (31 * h + int(unit, 16)) & 0xFFFFFFFF
    return h ^ (h >> 16)
