"""asl.jackson: Jackson's messages for text Python's json refuses.

Each expected text is jackson-core 2.15.4's (the version whose "[Source: (String)...]"
locations AWS's answers show), read from the method named beside it:
src/main/java/com/fasterxml/jackson/core/{base/ParserMinimalBase, base/ParserBase,
json/ReaderBasedJsonParser, StreamReadConstraints, io/ContentReference, JsonLocation}.java.
The first two are recorded AWS answers (conformance case test_invalid_start_execution_input).
"""
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asl.jackson import JSONTextError, describe, loads

VALUES = "(JSON String, Number, Array, Object or token 'null', 'true' or 'false')"  # ParserBase._validJsonValueList
NON_NUMERIC = "enable `JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` to allow"


NESTED = '{"a":\n  {"b": 1'


def src(text):
    # ContentReference.appendSourceDescription for a String (no truncation below 500 chars)
    return f'(String)"{text}"'


CASES = [
    # recorded by AWS (StartExecution)
    ("not some json", f"Unrecognized token 'not': was expecting {VALUES}", 0),
    ("{'not': 'json'", "Unexpected character (''' (code 39)): was expecting double-quote to start field name", 1),
    # ReaderBasedJsonParser._reportInvalidToken: the matched part, then Java identifier characters
    ("tru", f"Unrecognized token 'tru': was expecting {VALUES}", 0),
    ('{"a": truex}', f"Unrecognized token 'truex': was expecting {VALUES}", 6),  # _checkMatchEnd
    ("[nul1x, 2]", f"Unrecognized token 'nul1x': was expecting {VALUES}", 1),
    ("yes-no", f"Unrecognized token 'yes': was expecting {VALUES}", 0),  # _handleOddValue: identifier start
    ("été", f"Unrecognized token 'été': was expecting {VALUES}", 0),
    ("x" * 300, f"Unrecognized token '{'x' * 256}...': was expecting {VALUES}", 0),  # MAX_ERROR_TOKEN_LENGTH
    # ReaderBasedJsonParser._handleOddName
    ('{"a": 1,}', "Unexpected character ('}' (code 125)): was expecting double-quote to start field name", 8),
    ("{a: 1}", "Unexpected character ('a' (code 97)): was expecting double-quote to start field name", 1),
    # ReaderBasedJsonParser._skipComma
    ('{"a": 1 "b": 2}', "Unexpected character ('\"' (code 34)): was expecting comma to separate Object entries", 8),
    ("[1\n 2]", "Unexpected character ('2' (code 50)): was expecting comma to separate Array entries", 4),
    # ReaderBasedJsonParser._skipColon2
    ('{"a" 1}', "Unexpected character ('1' (code 49)): was expecting a colon to separate field name and value", 5),
    # ReaderBasedJsonParser._handleOddValue (ParserMinimalBase._reportUnexpectedChar)
    ("[1,]", f"Unexpected character (']' (code 93)): expected a valid value {VALUES}", 3),
    ("'x'", f"Unexpected character (''' (code 39)): expected a valid value {VALUES}", 0),
    (".5", f"Unexpected character ('.' (code 46)): expected a valid value {VALUES}", 0),
    ("\u4e2d", f"Unrecognized token '\u4e2d': was expecting {VALUES}", 0),
    ("\u00a7", f"Unexpected character ('\u00a7' (code 167)): expected a valid value {VALUES}", 0),
    ("\u2022", f"Unexpected character ('\u2022' (code 8226 / 0x2022)): expected a valid value {VALUES}", 0),
    # nextToken's switch: '}' where a value belongs
    ('{"a": }', "Unexpected character ('}' (code 125)): expected a value", 6),
    # ParserBase._handleEOF, with JsonReadContext.startLocation and JsonLocation.toString
    ("[1, 2", "Unexpected end-of-input: expected close marker for Array (start marker at "
              f"[Source: {src('[1, 2')}; line: 1, column: 1])", 5),
    (NESTED, "Unexpected end-of-input: expected close marker for Object (start marker at "
             f"[Source: {src(NESTED)}; line: 2, column: 3])", 15),
    # ReaderBasedJsonParser._skipAfterComma2 / _skipColon2 at the end
    ("[1,", "Unexpected end-of-input within/between Array entries", 3),
    ('{"a"', "Unexpected end-of-input within/between Object entries", 4),
    ('{"a":', "Unexpected end-of-input within/between Object entries", 5),
    # ParserBase._reportMismatchedEndMarker (the root context starts at line 1, column 0)
    ("[1}", f"Unexpected close marker '}}': expected ']' (for Array starting at [Source: {src('[1}')}; line: 1, "
            "column: 1])", 2),
    ("]", f"Unexpected close marker ']': expected '}}' (for root starting at [Source: {src(']')}; line: 1, "
          "column: 0])", 0),
    # strings: _finishString2 / _parseName2 / ParserBase._throwUnquotedSpace / _decodeEscaped
    ('"abc', "Unexpected end-of-input: was expecting closing quote for a string value", 0),
    ('{"ab', "Unexpected end-of-input in field name", 1),
    ('"a\nb"', "Illegal unquoted character ((CTRL-CHAR, code 10)): has to be escaped using backslash to be "
               "included in string value", 2),
    ('{"a\tb": 1}', "Illegal unquoted character ((CTRL-CHAR, code 9)): has to be escaped using backslash to be "
                    "included in name", 3),
    ('"\\q"', "Unrecognized character escape 'q' (code 113)", 1),  # ParserBase._handleUnrecognizedCharacterEscape
    ("\"\\'\"", "Unrecognized character escape ''' (code 39)", 1),
    ('"\\u12G4"', "Unexpected character ('G' (code 71)): expected a hex-digit for character escape sequence", 1),
    ('"\\u12', "Unexpected end-of-input in character escape sequence", 1),
    # numbers: _verifyNLZ2 -> ParserMinimalBase.reportInvalidNumber
    ("01", "Invalid numeric value: Leading zeroes not allowed", 0),
    ("[-007]", "Invalid numeric value: Leading zeroes not allowed", 1),
    # _parseFloat / _parseNumber2 -> ParserMinimalBase._reportUnexpectedNumberChar
    ("[1.]", "Unexpected character (']' (code 93)) in numeric value: Decimal point not followed by a digit", 3),
    ("1.", "Unexpected character ('.' (code 46)) in numeric value: Decimal point not followed by a digit", 1),
    ("[1ex]", "Unexpected character ('x' (code 120)) in numeric value: Exponent indicator not followed by a "
              "digit", 3),
    ("1e", "Unexpected end-of-inputexpected a digit for number exponent", 2),  # getNextChar, glued so
    ("-", "Unexpected end-of-inputNo digit following minus sign", 1),
    # _handleInvalidNumberStart
    ("[-x]", "Unexpected character ('x' (code 120)) in numeric value: expected digit (0-9) to follow minus "
             "sign, for valid numeric value", 2),
    ("+1", "Unexpected character ('+' (code 43)) in numeric value: JSON spec does not allow numbers to have "
           "plus signs: enable `JsonReadFeature.ALLOW_LEADING_PLUS_SIGN_FOR_NUMBERS` to allow", 0),
    ("+", "Unexpected end-of-input in a Number value", 1),  # ParserMinimalBase._reportInvalidEOFInValue
    # non-numeric numbers: _handleOddValue / _handleInvalidNumberStart
    ("NaN", f"Non-standard token 'NaN': {NON_NUMERIC}", 0),
    ('{"a": [1, Infinity]}', f"Non-standard token 'Infinity': {NON_NUMERIC}", 10),
    ("-Infinity", f"Non-standard token '-Infinity': {NON_NUMERIC}", 0),
    ("+INF", f"Non-standard token '+INF': {NON_NUMERIC}", 0),
    ("NaNa", f"Unrecognized token 'NaNa': was expecting {VALUES}", 0),
    # _verifyRootSpace -> ParserMinimalBase._reportMissingRootWS
    ("1x", "Unexpected character ('x' (code 120)): Expected space separating root-level values", 1),
    ("2,3", "Unexpected character (',' (code 44)): Expected space separating root-level values", 1),
    # between tokens: ParserMinimalBase._throwInvalidSpace, _skipComment (ALLOW_COMMENTS off)
    ("[1,\x0b2]", "Illegal character ((CTRL-CHAR, code 11)): only regular white space (\\r, \\n, \\t) is "
                  "allowed between tokens", 3),
    ("[1, // x\n2]", "Unexpected character ('/' (code 47)): maybe a (non-standard) comment? (not recognized as "
                     "one since Feature 'ALLOW_COMMENTS' not enabled for parser)", 4),
    # StreamReadConstraints
    ("[" * 1001 + "]" * 1001, "Depth (1001) exceeds the maximum allowed nesting depth (1000)", 1000),
    ("[" + "9" * 5000 + "]", "Number length (5000) exceeds the maximum length (1000)", 1),
]


@pytest.mark.parametrize("text, message, offset", CASES)
def test_jackson_message(text, message, offset):
    found = describe(text)
    assert (found.message, found.offset) == (message, offset)
    if text.startswith("[" * 1001):
        return  # Python reads 1001 levels: loads does not look again (see the module docstring)
    with pytest.raises(JSONTextError) as info:
        loads(text)
    assert (info.value.message, info.value.offset) == (message, offset)
    assert str(info.value) == message


def test_valid_json_reads_as_python_reads_it():
    for text in ('{"a": [1, 2.5, -0, 1e3, "\\u00e9\\n", true, false, null]}', "2", '"some text"', "null",
                 " [ ] ", "{}", "[" * 900 + "]" * 900):
        assert loads(text) == json.loads(text)
        assert describe(text) is None


def test_after_the_value_jackson_stops_reading():
    # ObjectMapper reads one value (DeserializationFeature.FAIL_ON_TRAILING_TOKENS is off)
    assert loads('{"a": 1} x') == {"a": 1}
    assert loads('[1] ]') == [1]
    assert loads('"a"b') == "a"
    assert loads("1 2") == 1
    assert loads("true$") is True  # '$' is below '0': _matchToken does not look at it


def test_blank_text():
    assert describe("") is None and describe(" \n") is None
    with pytest.raises(JSONTextError, match="No content to map due to end-of-input"):
        loads(" ")


def test_long_text_is_truncated_in_the_location():
    # ContentReference: 500 characters of content, then "[truncated N chars]"; ISO controls
    # other than CR and LF escaped as \uXXXX (ContentReference._appendEscaped)
    text = '["\x7f"' + " " * 600
    message = loads_error(text)
    assert message.startswith('Unexpected end-of-input: expected close marker for Array (start marker at '
                              '[Source: (String)"["\\u007F"   ')
    assert message.endswith(' "[truncated 104 chars]; line: 1, column: 1])')


def test_characters_beyond_the_bmp_count_as_two_units():
    # Java strings are UTF-16: the location's column counts units, the code is the first unit's
    assert loads_error("\U0001F600") == f"Unexpected character ('\U0001F600' (code 55357 / 0xd83d)): expected a " \
                                        f"valid value {VALUES}"
    assert loads_error('["\U0001F600", [1').endswith("; line: 1, column: 8])")


def loads_error(text):
    with pytest.raises(JSONTextError) as info:
        loads(text)
    return info.value.message


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20)


@given(JSON_VALUES)
def test_json_text_reads_as_python_reads_it(value):
    text = json.dumps(value)
    assert loads(text) == json.loads(text) and describe(text) is None


@given(st.text(alphabet=st.sampled_from(list('{}[]:,"\\ -+.0123456789eEtrufalsnNI\'x/\n\x01\u00e9')), max_size=30))
def test_any_text_reads_or_raises_jacksons_error(text):
    # never another exception; where Python reads the text (NaN aside), Jackson's reading agrees
    try:
        value = loads(text)
    except JSONTextError as exc:
        assert 0 <= exc.offset <= len(text) and exc.message
        return
    try:
        expected = json.loads(text)
    except ValueError:
        found = describe(text)  # Python refused: Jackson stopped after a complete first value
        assert found is None and text.strip()
        return
    assert value == expected


@pytest.mark.parametrize("text, column", [
    ("not a definition", 4),      # recorded on AWS (ValidateStateMachineDefinition): past the token read
    ("{'not': 1}", 3),            # past the character refused
    ("[1, 2", 6),                 # the end of the text
    ('"ab', 4),
    ("NaN", 4),
])
def test_the_location_jackson_reports_is_past_what_it_read(text, column):
    assert describe(text).location == f'[Source: (String)"{text}"; line: 1, column: {column}]'


def test_read_tells_whether_the_text_is_the_value_alone():
    """`read` is `loads` plus whether the whole text was the value (the service keeps a caller's
    input text only then): Jackson's reader stops after a first value and takes the rest unread."""
    from asl.jackson import read

    assert read('{"a": 1,  "b": [1, 2]}') == ({"a": 1, "b": [1, 2]}, True)
    assert read(' [1, 2] \n') == ([1, 2], True)
    assert read('{"a": 1} trailing') == ({"a": 1}, False)
    assert read('1 2') == (1, False)
