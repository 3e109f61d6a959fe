"""Tests for asl.source: reading JSON/YAML with positions, and state machines from templates."""
from __future__ import annotations

import json
import os
import pickle
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import asl.source as source
from asl.source import (
    Document, SourceError, TemplateMachine, is_template, load_any, parse_text, read_file,
    state_machines,
)

FIXTURES = Path(__file__).parent / "fixtures" / "source"


def offset_of(text: str, line: int, column: int, breaks: str = r"\r\n?|\n") -> int:
    """The 0-based offset of a 1-based (line, column), with the given line breaks."""
    starts = [0] + [m.end() for m in re.finditer(breaks, text)]
    return starts[line - 1] + column - 1


def text_at(doc: Document, pointer: str) -> str:
    """The source text from the position `locate` gives, to the end of that line."""
    line, column = doc.locate(pointer)
    return doc.source_text.splitlines()[line - 1][column - 1:]


def line_of(path: Path, needle: str) -> int:
    """The 1-based number of the first line of a fixture containing `needle`."""
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


# =============================================================================================
# Interface
# =============================================================================================

def test_public_names():
    for name in ("SourceError", "Document", "TemplateMachine", "parse_text", "read_file",
                 "load_any", "is_template", "state_machines"):
        assert name in source.__all__ and hasattr(source, name)


def test_source_error_fields_str_and_pickle():
    err = SourceError("bad thing", "TEMPLATE_ERROR", "t.yaml", 3, 7)
    assert (err.message, err.code, err.filename, err.line, err.column) == ("bad thing", "TEMPLATE_ERROR", "t.yaml", 3, 7)
    assert str(err) == "t.yaml:3:7: bad thing"
    assert str(SourceError("x")) == "x" and SourceError("x").code == "INVALID_JSON_DESCRIPTION"
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.code, copy.filename, copy.line, copy.column) == ("TEMPLATE_ERROR", "t.yaml", 3, 7)
    from asl.errors import ASLError
    assert isinstance(err, ASLError)


def test_importing_and_reading_json_does_not_import_yaml():
    code = ("import sys, asl.source as s; d = s.parse_text('{\"a\": [1]}'); d.locate('/a/0'); "
            "print('yaml' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# =============================================================================================
# JSON
# =============================================================================================

DEFINITION = """{
  "Comment": "x",
  "StartAt": "First",
  "States": {
    "First": {
      "Type": "Task",
      "Resource": "arn:aws:states:::lambda:invoke",
      "Retry": [
        {"ErrorEquals": ["States.ALL"], "MaxAttempts": 2},
        {"ErrorEquals": ["A", "B"]}
      ],
      "Next": "a/b"
    },
    "a/b": {"Type": "Succeed"},
    "a": {"b": {"Type": "Pass"}}
  }
}"""


def test_json_data_and_format():
    doc = parse_text(DEFINITION, filename="d.json")
    assert doc.format == "json" and doc.filename == "d.json" and doc.text == DEFINITION
    assert doc.data["States"]["First"]["Retry"][1]["ErrorEquals"] == ["A", "B"]
    assert doc.duplicate_keys == []


@pytest.mark.parametrize("pointer, position", [
    ("/", (1, 1)),
    ("", (1, 1)),
    ("/StartAt", (3, 3)),
    ("/States/First", (5, 5)),
    ("/States/First/Retry", (8, 7)),
    ("/States/First/Retry/0", (9, 9)),
    ("/States/First/Retry/1/ErrorEquals", (10, 10)),
    ("/States/First/Retry/1/ErrorEquals/1", (10, 31)),
    ("/States/First/Next", (12, 7)),
])
def test_json_locate(pointer, position):
    assert parse_text(DEFINITION).locate(pointer) == position


def test_locate_names_containing_a_slash():
    doc = parse_text(DEFINITION)
    # "a/b" is a state; "a" -> "b" also exists: both readings are tried, a single segment first.
    assert text_at(doc, "/States/a/b").startswith('"b"')
    assert text_at(doc, "/States/a/b/Type").startswith('"Type": "Pass"')
    doc = parse_text('{"States": {"x/y/z": {"Type": "Pass"}}}')
    assert doc.locate("/States/x/y/z/Type") == (1, 23)
    assert doc.locate("/States/x~1y~1z") == (1, 13)  # RFC 6901 escapes, as a last resort


def test_locate_unknown_pointers():
    doc = parse_text(DEFINITION)
    for pointer in ("/Nope", "/States/First/Retry/2", "/States/First/Retry/01", "/StartAt/x",
                    "/States/First/Retry/-1", "nope"):
        assert doc.locate(pointer) is None
    assert doc.locate(None) is None
    assert Document.from_data({"a": 1}).locate("/a") is None


def test_hand_built_document_finds_its_positions():
    assert Document({"a": [1]}, '{"a": [1]}', None, "json").locate("/a/0") == (1, 8)
    assert Document({"a": 1}, "a: 1\n", None, "yaml").locate("/a") == (1, 1)
    assert Document(None, "{oops", None, "json").locate("/") is None


def test_locate_path():
    doc = parse_text(DEFINITION)
    assert doc.locate_path(["States", "a/b"]) == (14, 5)
    assert doc.locate_path(["States", "First", "Retry", 1]) == (10, 9)
    assert doc.locate_path([]) == (1, 1)
    assert doc.locate_path(["States", 0]) is None


def test_json_positions_are_computed_lazily_and_once(monkeypatch):
    calls = []
    real = source._scan_json
    monkeypatch.setattr(source, "_scan_json", lambda text: calls.append(1) or real(text))
    doc = parse_text(DEFINITION)
    assert calls == []
    doc.locate("/States")
    doc.locate("/StartAt")
    assert doc.duplicate_keys == []
    assert calls == [1]


def test_positions_count_characters_and_cr_lf():
    doc = parse_text('{"é😀": 1,\r\n "b": 2,\r "c": 3}')
    assert doc.locate("/b") == (2, 2)
    assert doc.locate("/c") == (3, 2)
    doc = parse_text('{"a": "é😀", "b": 1}')
    assert doc.locate("/b") == (1, 13)


def test_duplicate_keys_json():
    text = '{\n "a": 1,\n "a": 2,\n "s": {"x": 1, "y": 2, "x": 3, "x": 4}\n}'
    doc = parse_text(text)
    assert doc.data == {"a": 2, "s": {"x": 4, "y": 2}}  # last wins, first position in order
    assert list(doc.data["s"]) == ["x", "y"]
    assert doc.duplicate_keys == [("/a", 3, 2), ("/s/x", 4, 24), ("/s/x", 4, 32)]
    assert doc.locate("/s/x") == (4, 32)  # the occurrence whose value the data holds


AWS_NOT_A_DEFINITION = ("Unrecognized token 'not': was expecting (JSON String, Number, Array, "
                        "Object or token 'null', 'true' or 'false')")


@pytest.mark.parametrize("text, message, position", [
    ("not a definition", AWS_NOT_A_DEFINITION, (1, 1)),
    ('{"a" 1}', "was expecting a colon to separate field name and value", (1, 6)),
    ('{"a": 1,}', "Unexpected character ('}' (code 125)): was expecting double-quote to start field name", (1, 9)),
    ('{"a": 1 "b": 2}', "was expecting comma to separate Object entries", (1, 9)),
    ("[1\n 2]", "was expecting comma to separate Array entries", (2, 2)),
    ('{"a": 1', "Unexpected end-of-input: expected close marker for Object", (1, 8)),
    ("[", "Unexpected end-of-input: expected close marker for Array", (1, 2)),
    ('{"a": "abc', "was expecting closing quote for a string value", (1, 7)),
    ('{"a": ,}', "Unexpected character (',' (code 44)): expected a valid value", (1, 7)),
    ('{"a": "x\ny"}', "Illegal unquoted character ((CTRL-CHAR, code 10))", (1, 9)),
    ('{"a": "\\q"}', "Unrecognized character escape 'q' (code 113)", (1, 8)),
    ('{"a": "\\u12G4"}', "Unexpected character ('G' (code 71)): expected a hex-digit for character escape sequence",
     (1, 8)),
    ('{"a": tru}', "Unrecognized token 'tru'", (1, 7)),
    ("{} {}", "Unexpected content after the end of the JSON value", (1, 4)),
    ('{"a": NaN}', "Non-standard token 'NaN'", (1, 7)),
    ('{"a": [1, Infinity]}', "Non-standard token 'Infinity'", (1, 11)),
    ('{"a":\n -Infinity}', "Non-standard token '-Infinity'", (2, 2)),
    ('{"NaN": "NaN", "a": NaN}', "Non-standard token 'NaN'", (1, 21)),
])
def test_json_errors(text, message, position):
    with pytest.raises(SourceError) as info:
        parse_text(text, filename="d.json")
    err = info.value
    assert err.code == "INVALID_JSON_DESCRIPTION"
    assert message in err.message
    assert (err.line, err.column) == position
    assert err.filename == "d.json"
    assert str(err).startswith(f"d.json:{position[0]}:{position[1]}: ")


def test_aws_recorded_error_for_unnamed_text():
    # localstack test_sfn_api_validation.snapshot.json, NOT_A_DEF: the same message, guessing or not.
    for fmt in (None, "json"):
        with pytest.raises(SourceError) as info:
            parse_text("not a definition", format=fmt)
        assert info.value.message == AWS_NOT_A_DEFINITION


def test_empty_and_blank_text():
    for empty in ("", b"", None, "\ufeff"):
        with pytest.raises(SourceError) as info:
            parse_text(empty, filename="e.json")
        assert info.value.code == "MISSING_DESCRIPTION"
    # AWS answers " " with a schema error ("Definition must be a valid JSON object"), not a
    # JSON one: blank text is a value (None) for the validator to judge.
    for blank in (" ", "\n\t\r\n", b"  "):
        doc = parse_text(blank)
        assert doc.data is None and doc.locate("/") is None
    assert parse_text("# only a comment\n", filename="x.yaml").data is None


def test_numbers():
    doc = parse_text('{"i": 12345678901234567890123, "f": 1.5e3, "z": -0, "e": 1E400}')
    assert doc.data["i"] == 12345678901234567890123 and doc.data["f"] == 1500.0
    with pytest.raises(SourceError) as info:
        parse_text('{"a":\n ' + "9" * 5000 + "}")
    # jackson-core 2.15 StreamReadConstraints.validateIntegerLength
    assert (info.value.line, info.value.column) == (2, 2)
    assert info.value.message == "Number length (5000) exceeds the maximum length (1000)"


def test_deeply_nested_json_is_an_error_not_a_crash():
    for text in ("[" * 100_000, "[" * 100_000 + "]" * 100_000, '{"a":' * 50_000 + "1" + "}" * 50_000):
        with pytest.raises(SourceError) as info:
            parse_text(text)
        assert info.value.code == "INVALID_JSON_DESCRIPTION" and info.value.line == 1


def test_moderately_deep_json_parses_and_locates():
    depth = 300
    text = '{"a":' * depth + "[true]" + "}" * depth
    doc = parse_text(text)
    assert doc.locate("/" + "a/" * depth + "0") == (1, 5 * depth + 2)


def test_one_megabyte_definition_is_fast():
    states = {f"State {i}": {"Type": "Pass", "Result": {"n": i, "s": "x" * 40}, "Next": f"State {i + 1}"}
              for i in range(6000)}
    text = json.dumps({"StartAt": "State 0", "States": states}, indent=2)
    assert len(text) > 1_000_000
    doc = parse_text(text)  # (how fast: benchmarks/validate_bench.py)
    line, column = doc.locate("/States/State 5999/Result/s")
    assert text.splitlines()[line - 1][column - 1:].startswith('"s": "xxx')


# =============================================================================================
# Bytes, files and encodings
# =============================================================================================

def test_bytes_and_encodings():
    data = {"StartAt": "é"}
    for raw in (json.dumps(data).encode("utf-8"), b"\xef\xbb\xbf" + json.dumps(data).encode("utf-8"),
                json.dumps(data).encode("utf-16"), json.dumps(data).encode("utf-16-le"),
                json.dumps(data).encode("utf-32-be")):
        assert parse_text(raw).data == data
    assert parse_text("\ufeff" + json.dumps(data)).locate("/StartAt") == (1, 2)


def test_invalid_utf8(tmp_path):
    path = tmp_path / "bad.json"
    path.write_bytes(b'{\n  "a": "ok",\n  "b": "\xff"\n}')
    with pytest.raises(SourceError) as info:
        read_file(path)
    err = info.value
    assert (err.code, err.filename, err.line, err.column) == ("INVALID_JSON_DESCRIPTION", str(path), 3, 9)
    assert err.message == "Invalid UTF-8 start byte 0xff"
    with pytest.raises(SourceError, match="middle byte"):
        parse_text(b'"\xc3("')


def test_read_file_errors(tmp_path):
    with pytest.raises(SourceError) as info:
        read_file(tmp_path / "missing.json")
    assert info.value.code == "FILE_NOT_FOUND" and info.value.filename == str(tmp_path / "missing.json")
    with pytest.raises(SourceError) as info:
        read_file(tmp_path)
    assert info.value.code == "FILE_UNREADABLE"
    with pytest.raises(SourceError) as info:
        read_file("nul\0byte.json")
    assert info.value.code == "FILE_NOT_FOUND"


def test_format_guessing(tmp_path):
    yaml_text = "StartAt: A\nStates: {A: {Type: Succeed}}\n"
    assert parse_text(yaml_text).format == "yaml"
    assert parse_text(yaml_text, filename="d.yaml").format == "yaml"
    assert parse_text('{"StartAt": "A"}', filename="d.yaml").format == "json"  # JSON first: exact and fast
    with pytest.raises(SourceError, match="Unrecognized token 'StartAt'"):
        parse_text(yaml_text, filename="d.json")  # a .json name means JSON
    with pytest.raises(SourceError, match="Unrecognized token 'StartAt'"):
        parse_text(yaml_text, format="json")
    with pytest.raises(SourceError, match="double-quote to start field name"):
        parse_text("{a: 1}")  # looks like JSON, no YAML name: the JSON error
    assert parse_text("{a: 1}", filename="x.yml").data == {"a": 1}
    assert parse_text("{a: 1}", format="yaml").data == {"a": 1}
    assert parse_text('{"n": 1.5e3}', format="yaml").data == {"n": 1500.0}  # YAML 1.2, as JSON says
    with pytest.raises(ValueError):
        parse_text("{}", format="xml")
    with pytest.raises(TypeError):
        parse_text(42)
    path = tmp_path / "machine.asl.yaml"
    path.write_text(yaml_text)
    assert read_file(path).data == {"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}


# =============================================================================================
# YAML
# =============================================================================================

YAML_DEFINITION = """\
Comment: YAML 1.2 core schema, as js-yaml and Jackson read it
StartAt: First
States:
  First:
    Type: Pass
    Result:
      day: 2024-01-01
      stamp: 2001-12-14t21:59:43.10-05:00
      flag: on
      answer: yes
      octal: 0755
      sexagesimal: 1:30
      inf: .inf
      nan: .NaN
      nothing: ~
      text: "quoted"
      big: 1_000
      float: 1.5
    Next: "Yes"
  Yes:
    Type: Succeed
  200: {Type: Succeed}
"""


def test_yaml_values():
    doc = parse_text(YAML_DEFINITION, filename="d.yaml")
    assert doc.format == "yaml"
    assert doc.data["States"]["First"]["Result"] == {
        "day": "2024-01-01", "stamp": "2001-12-14t21:59:43.10-05:00", "flag": "on", "answer": "yes",
        "octal": 755, "sexagesimal": "1:30", "inf": ".inf", "nan": ".NaN", "nothing": None,
        "text": "quoted", "big": "1_000", "float": 1.5}
    # Keys are names: their text, whatever the value would resolve to.
    assert list(doc.data["States"]) == ["First", "Yes", "200"]
    json.dumps(doc.data, allow_nan=False)  # nothing but JSON values


def test_yaml_positions():
    doc = parse_text(YAML_DEFINITION)
    assert doc.locate("/") == (1, 1)
    assert doc.locate("/StartAt") == (2, 1)
    assert doc.locate("/States/First/Result/octal") == (11, 7)
    assert doc.locate("/States/Yes") == (20, 3)
    assert doc.locate("/States/200/Type") == (22, 9)
    doc = parse_text("a:\n  - x\n  - [y, z]\n")
    assert doc.locate("/a/1/1") == (3, 9)


def test_yaml_positions_count_yaml_line_breaks():
    doc = parse_text("a: 1\r\nb: 2\rc: 3\nd: '\u2028'\ne: 5\n", format="yaml")
    assert doc.locate("/b") == (2, 1) and doc.locate("/c") == (3, 1)
    assert doc.locate("/e") == (6, 1)  # U+2028 inside the quoted string breaks the line, as for PyYAML


CFN_TAGS = """\
Ref: !Ref Bucket
GetAtt: !GetAtt Fn.Arn
GetAttNested: !GetAtt Db.Endpoint.Address
GetAttList: !GetAtt [Fn, Arn]
Sub: !Sub "arn:${AWS::Partition}:s3:::${Bucket}"
SubList: !Sub ["${A}", {A: !Ref B}]
Join: !Join [",", [a, b]]
If: !If [IsProd, 1, 2]
Select: !Select [0, !GetAZs ""]
Split: !Split [",", "a,b"]
FindInMap: !FindInMap [M, K, V]
ImportValue: !ImportValue Shared
Base64: !Base64 abc
Cidr: !Cidr [10.0.0.0/16, 2, 8]
Equals: !Equals [a, b]
And: !And [!Condition A, !Not [!Condition B]]
Or: !Or [!Condition A, !Condition B]
Transform: !Transform {Name: X}
Custom: !Whatever 3
"""


def test_yaml_cloudformation_short_tags():
    doc = parse_text(CFN_TAGS, filename="t.yaml")
    assert doc.data == {
        "Ref": {"Ref": "Bucket"},
        "GetAtt": {"Fn::GetAtt": ["Fn", "Arn"]},
        "GetAttNested": {"Fn::GetAtt": ["Db", "Endpoint.Address"]},
        "GetAttList": {"Fn::GetAtt": ["Fn", "Arn"]},
        "Sub": {"Fn::Sub": "arn:${AWS::Partition}:s3:::${Bucket}"},
        "SubList": {"Fn::Sub": ["${A}", {"A": {"Ref": "B"}}]},
        "Join": {"Fn::Join": [",", ["a", "b"]]},
        "If": {"Fn::If": ["IsProd", 1, 2]},
        "Select": {"Fn::Select": [0, {"Fn::GetAZs": ""}]},
        "Split": {"Fn::Split": [",", "a,b"]},
        "FindInMap": {"Fn::FindInMap": ["M", "K", "V"]},
        "ImportValue": {"Fn::ImportValue": "Shared"},
        "Base64": {"Fn::Base64": "abc"},
        "Cidr": {"Fn::Cidr": ["10.0.0.0/16", 2, 8]},
        "Equals": {"Fn::Equals": ["a", "b"]},
        "And": {"Fn::And": [{"Condition": "A"}, {"Fn::Not": [{"Condition": "B"}]}]},
        "Or": {"Fn::Or": [{"Condition": "A"}, {"Condition": "B"}]},
        "Transform": {"Fn::Transform": {"Name": "X"}},
        "Custom": {"Fn::Whatever": "3"},  # an explicitly tagged scalar keeps its text
    }
    assert doc.locate("/Sub/Fn::Sub") == (5, 6)
    assert doc.locate("/Select/Fn::Select/1/Fn::GetAZs") == (9, 21)


def test_yaml_anchors_aliases_and_merge_keys():
    doc = parse_text("""\
base: &base {Type: Pass, Next: B}
list: &list [1, 2]
A:
  <<: *base
  Next: C
  Extra: *list
M:
  <<: [{x: 1, y: 1}, {x: 2, z: 2}]
  y: 3
""")
    assert doc.data["A"] == {"Type": "Pass", "Next": "C", "Extra": [1, 2]}
    assert doc.data["M"] == {"x": 1, "y": 3, "z": 2}  # earlier merge sources win, explicit keys over all
    assert doc.data["A"]["Extra"] is not doc.data["list"]  # aliases are copies
    assert doc.locate("/A/Type") == (1, 14)  # where the merged value is written
    assert doc.duplicate_keys == []  # merged-then-overridden is not a repetition


def test_yaml_duplicate_keys():
    doc = parse_text("States:\n  A: 1\n  B: 2\n  A: 3\n")
    assert doc.data == {"States": {"A": 3, "B": 2}}
    assert doc.duplicate_keys == [("/States/A", 4, 3)]
    doc = parse_text("- {a: 1, a: 2}\n")
    assert doc.duplicate_keys == [("/0/a", 1, 10)]


@pytest.mark.parametrize("text, message, line", [
    ("a: b\n- c\n", "did not find expected key", 2),
    ("a: [1, 2\n", "did not find expected", 2),
    ("a: *nope\n", "undefined alias", 1),
    ("--- 1\n--- 2\n", "single document", 2),
    ("a:\n\tb: 1\n", "", 2),
    ("a: 'x\x01'\n", "unacceptable character (CTRL-CHAR, code 1)", 1),
    ("? [a]\n: 1\n", "must be a string", 1),
    ("a: !!int abc\n", "cannot read 'abc' as an int", 1),
    ("a: !!bool maybe\n", "as a bool", 1),
    ("a: " + "9" * 5000 + "\n", "as an int", 1),
    ("<<: [1]\n", "merging", 1),
])
def test_yaml_errors(text, message, line):
    with pytest.raises(SourceError) as info:
        parse_text(text, filename="d.yaml")
    assert info.value.code == "INVALID_JSON_DESCRIPTION"
    assert message in info.value.message
    assert info.value.line == line and info.value.filename == "d.yaml"


def test_pure_python_yaml_parser(monkeypatch):
    # Without libyaml PyYAML's own parser is used: same values, positions and limits.
    monkeypatch.delattr(yaml, "CSafeLoader", raising=False)
    doc = parse_text(YAML_DEFINITION)
    assert doc.data["States"]["First"]["Result"]["sexagesimal"] == "1:30"
    assert doc.locate("/States/Yes") == (20, 3)
    assert parse_text(CFN_TAGS, filename="t.yaml").data["GetAttNested"] == {"Fn::GetAtt": ["Db", "Endpoint.Address"]}
    with pytest.raises(SourceError, match="nesting"):
        parse_text("- " * 100_000 + "x\n", format="yaml")
    with pytest.raises(SourceError) as info:
        parse_text("a: b\n- c\n", format="yaml")
    assert info.value.line == 2


def test_yaml_lone_surrogate():
    with pytest.raises(SourceError) as info:
        parse_text("a: '\ud800'\n", format="yaml")
    assert info.value.column == 5


def test_yaml_alias_bombs_are_refused():
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    with pytest.raises(SourceError, match="aliases expand to too many values"):
        parse_text("\n".join(lines) + "\n")
    with pytest.raises(SourceError, match="alias"):
        parse_text("a: &a [*a]\n")


@pytest.mark.parametrize("text", [
    "[" * 100_000,
    "[" * 100_000 + "]" * 100_000,
    "{a: " * 50_000 + "1" + "}" * 50_000,
    "- " * 100_000 + "x\n",
    "".join("  " * i + "k:\n" for i in range(1500)),
])
def test_deeply_nested_yaml_is_an_error_not_a_crash(text):
    with pytest.raises(SourceError) as info:
        parse_text(text, format="yaml")
    assert "nesting" in info.value.message


# =============================================================================================
# Templates
# =============================================================================================

SAM = FIXTURES / "sam-template.yaml"
CFN_YAML = FIXTURES / "cfn-template.yaml"
CFN_JSON = FIXTURES / "cfn-template.json"
LAMBDA_ARN = "arn:aws:lambda:us-east-1:123456789012:function:CheckFunction"


def test_is_template():
    assert is_template(read_file(SAM).data)
    assert is_template({"AWSTemplateFormatVersion": "2010-09-09"})
    assert is_template({"Resources": {"M": {"Type": "AWS::StepFunctions::StateMachine"}}})
    assert not is_template({"Resources": {"F": {"Type": "AWS::Lambda::Function"}}})
    assert not is_template({"StartAt": "A", "States": {}, "Resources": {}})
    assert not is_template([1]) and not is_template(None) and not is_template("Resources")


def test_sam_template_machines():
    machines = state_machines(read_file(SAM))
    assert [m.logical_id for m in machines] == ["FromFile", "FromYamlFile", "Inline"]
    assert all(isinstance(m, TemplateMachine) and m.resource_type == "AWS::Serverless::StateMachine"
               for m in machines)
    assert [m.machine_type for m in machines] == ["EXPRESS", "STANDARD", "STANDARD"]
    assert machines[2].name == "inline-dev"


def test_definition_uri_json_with_text_substitutions():
    machine = state_machines(read_file(SAM), "FromFile")[0]
    definition_file = FIXTURES / "statemachine" / "orders.asl.json"
    assert machine.document.filename == str(definition_file.resolve())
    assert machine.definition["Comment"] == "Orders, version true"  # booleans as Java writes them
    assert machine.definition["States"]["Check"]["Resource"] == LAMBDA_ARN
    assert machine.definition["States"]["Wait"]["Seconds"] == 5  # unquoted ${Wait}: a number after substitution
    assert machine.definition["States"]["Save"]["Parameters"]["TableName"] == "OrdersTable"
    assert machine.substitutions == {"CheckFunctionArn": LAMBDA_ARN, "TableName": "OrdersTable",
                                     "Wait": "5", "Enabled": "true"}
    assert machine.placeholders == {"Fn::GetAtt CheckFunction.Arn": LAMBDA_ARN, "Ref OrdersTable": "OrdersTable"}
    # Positions are those of the file as written, before substitution.
    doc = machine.document
    assert doc.locate("/States/Wait/Seconds") == (line_of(definition_file, '"Seconds"'), 7)
    assert doc.locate("/States/Save/Parameters/TableName") == (line_of(definition_file, '"TableName"'), 9)
    assert text_at(doc, "/States/Check/Resource") == '"Resource": "${CheckFunctionArn}",'


def test_definition_uri_yaml():
    machine = state_machines(read_file(SAM), "FromYamlFile")[0]
    assert machine.document.format == "yaml"
    assert machine.definition["States"]["Wait"]["Seconds"] == 7
    assert machine.definition["States"]["Check"]["Resource"] == LAMBDA_ARN
    assert text_at(machine.document, "/States/Check/Resource") == "Resource: ${CheckFunctionArn}"


def test_inline_sam_definition():
    machine = state_machines(read_file(SAM), "Inline")[0]
    definition = machine.definition
    assert definition["StartAt"] == "StepOne" and list(definition["States"]) == ["StepOne", "Check"]
    assert definition["States"]["StepOne"]["Resource"] == LAMBDA_ARN
    payload = definition["States"]["Check"]["Parameters"]
    assert payload == {"FunctionName": "CheckFunction",
                       "Payload": {"stage": "dev-us-east-1", "day": "2024-01-01"}}
    doc = machine.document
    assert doc.filename == str(SAM) and doc.text is None and doc.source_text == SAM.read_text()
    assert doc.locate("/States/StepOne") == (line_of(SAM, "${Prefix}One:"), 11)
    assert text_at(doc, "/States/StepOne/Resource") == "Resource: !GetAtt CheckFunction.Arn"
    assert text_at(doc, "/States/Check/Parameters/Payload/day") == "day: 2024-01-01"
    assert doc.locate("/")[0] == line_of(SAM, "Comment: Inline definition")


def test_definition_string_with_sub_literal_block():
    machine = state_machines(read_file(CFN_YAML), "FromSub")[0]
    state = machine.definition["States"]["Work"]
    assert state["Resource"] == "arn:aws:lambda:us-east-1:123456789012:function:Worker"
    assert state["Comment"] == "${Literal} in us-east-1"
    assert machine.name == "from-sub" and machine.document.format == "json"
    assert text_at(machine.document, "/States/Work/Comment") == '"Comment": "${!Literal} in ${AWS::Region}",'
    assert machine.document.locate("/")[0] == line_of(CFN_YAML, "DefinitionString: !Sub |") + 1


def test_definition_string_with_join():
    machine = state_machines(read_file(CFN_YAML), "FromJoin")[0]
    assert machine.definition["States"]["A"]["Resource"].endswith(":function:Worker")
    assert text_at(machine.document, "/States/A/End") == '"End": true}}}\''
    assert machine.document.locate("/States/A/Resource")[0] == line_of(CFN_YAML, '"Resource": "\'')


def test_definition_string_in_json_template_maps_escapes():
    machine = state_machines(read_file(CFN_JSON), "Machine")[0]
    assert machine.definition["States"]["A"]["Result"] == "café hello"
    doc = machine.document
    line = line_of(CFN_JSON, '"DefinitionString"')
    source_line = CFN_JSON.read_text().splitlines()[line - 1]
    assert doc.locate("/StartAt") == (line, source_line.index('\\"StartAt') + 1)
    assert doc.locate("/States/A/Result") == (line, source_line.index('\\"Result') + 1)
    inline = state_machines(read_file(CFN_JSON), "Inline")[0]
    assert text_at(inline.document, "/States/B") == '"B": {"Type": "Succeed"}'


def test_definition_s3_location_and_skip_unusable():
    doc = read_file(CFN_YAML)
    with pytest.raises(SourceError) as info:
        state_machines(doc)
    err = info.value
    assert err.code == "TEMPLATE_ERROR" and "InS3" in err.message and "S3" in err.message
    assert err.line == line_of(CFN_YAML, "DefinitionS3Location:")
    assert [m.logical_id for m in state_machines(doc, skip_unusable=True)] == ["FromSub", "FromJoin"]
    with pytest.raises(SourceError, match="InS3"):
        state_machines(doc, "InS3")


def test_select_errors():
    doc = read_file(CFN_YAML)
    with pytest.raises(SourceError) as info:
        state_machines(doc, "Nope")
    assert info.value.code == "TEMPLATE_ERROR" and "FromSub, FromJoin, InS3" in info.value.message
    with pytest.raises(SourceError, match="AWS::Lambda::Function, not a state machine") as info:
        state_machines(doc, "Worker")
    assert info.value.line == line_of(CFN_YAML, "Worker:")
    with pytest.raises(SourceError, match="not a SAM/CloudFormation template"):
        state_machines(parse_text('{"StartAt": "A", "States": {}}'))
    with pytest.raises(SourceError, match="declares no state machine"):
        state_machines(parse_text("AWSTemplateFormatVersion: '2010-09-09'\nResources: {}\n"))


def template(properties: dict, resource_type="AWS::StepFunctions::StateMachine", **sections) -> Document:
    data = {"AWSTemplateFormatVersion": "2010-09-09", **sections,
            "Resources": {"Fn": {"Type": "AWS::Lambda::Function"},
                          "M": {"Type": resource_type, "Properties": properties}}}
    return parse_text(yaml.safe_dump(data, sort_keys=False), filename="template.yaml")


PASS = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}


@pytest.mark.parametrize("properties, resource_type, message", [
    ({}, "AWS::StepFunctions::StateMachine", "Required key [DefinitionS3Location], [DefinitionString] or [Definition] not found"),
    ({"Definition": PASS, "DefinitionString": "{}"}, "AWS::StepFunctions::StateMachine", "Please use one of"),
    ({}, "AWS::Serverless::StateMachine", "Either 'Definition' or 'DefinitionUri' property must be specified"),
    ({"Definition": PASS, "DefinitionUri": "x.json"}, "AWS::Serverless::StateMachine", "not both"),
    ({"DefinitionUri": "s3://bucket/key.json"}, "AWS::Serverless::StateMachine", "not a local file"),
    ({"DefinitionUri": {"Bucket": "b", "Key": "k"}}, "AWS::Serverless::StateMachine", "S3 location"),
    ({"Definition": "{}"}, "AWS::StepFunctions::StateMachine", "Definition must be an object"),
    ({"DefinitionString": ["x"]}, "AWS::StepFunctions::StateMachine", "DefinitionString must be a string"),
    ({"Definition": PASS, "DefinitionSubstitutions": ["x"]}, "AWS::StepFunctions::StateMachine", "must be a map"),
    ({"Definition": PASS, "DefinitionSubstitutions": {"X": 1.5}}, "AWS::StepFunctions::StateMachine",
     "Invalid definition substitution type for 'X'. Input should be either String, Integer, or Boolean"),
    ({"Definition": PASS, "DefinitionSubstitutions": {"A": "${B}", "B": "x${A}"}},
     "AWS::StepFunctions::StateMachine", "loop: A -> B -> A"),
    ({"DefinitionString": {"Fn::Join": ["", "notalist", 3]}}, "AWS::StepFunctions::StateMachine", "Fn::Join"),
])
def test_template_problems(properties, resource_type, message):
    with pytest.raises(SourceError) as info:
        state_machines(template(properties, resource_type))
    assert info.value.code == "TEMPLATE_ERROR"
    assert message in info.value.message and info.value.message.startswith("M: ")
    assert info.value.filename == "template.yaml" and info.value.line is not None


def test_definition_uri_missing_file_points_at_the_template(tmp_path):
    path = tmp_path / "template.yaml"
    path.write_text("Resources:\n  M:\n    Type: AWS::Serverless::StateMachine\n    Properties:\n"
                    "      DefinitionUri: sm/missing.asl.json\n")
    with pytest.raises(SourceError) as info:
        state_machines(read_file(path))
    err = info.value
    assert (err.code, err.filename, err.line, err.column) == ("FILE_NOT_FOUND", str(path), 5, 7)
    assert "sm/missing.asl.json" in err.message


def test_definition_text_errors_point_at_the_template():
    doc = parse_text("Resources:\n  M:\n    Type: AWS::StepFunctions::StateMachine\n    Properties:\n"
                     "      DefinitionString: |\n        {\"StartAt\": \"A\",\n         \"States\": {]\n        }\n",
                     filename="t.yaml")
    with pytest.raises(SourceError) as info:
        state_machines(doc)
    err = info.value
    assert (err.code, err.filename, err.line, err.column) == ("INVALID_JSON_DESCRIPTION", "t.yaml", 7, 21)
    # ReaderBasedJsonParser.nextToken closes a scope before it reads a name: _closeScope ->
    # ParserBase._reportMismatchedEndMarker, the object's start marker at line 2, column 12
    assert err.message.startswith("Unexpected close marker ']': expected '}' (for Object starting at "
                                  '[Source: (String)"{"StartAt": "A",')
    assert err.message.endswith("; line: 2, column: 12])")
    with pytest.raises(SourceError) as info:
        state_machines(template({"DefinitionString": ""}))
    assert info.value.code == "MISSING_DESCRIPTION"


def test_substitutions_follow_aws():
    definition = {"Comment": "${A} ${Missing} $${A} ${B}", "StartAt": "${Name}",
                  "States": {"${Name}": {"Type": "Pass", "Result": {"n": 1, "flag": True, "s": "${Count}"},
                                         "End": True}}}
    doc = template({"Definition": definition,
                    "DefinitionSubstitutions": {"A": "a-${B}", "B": "b", "Name": "First", "Count": 3,
                                                "Yes": False}})
    machine = state_machines(doc)[0]
    assert machine.definition == {
        "Comment": "a-b ${Missing} $a-b b", "StartAt": "First",
        "States": {"First": {"Type": "Pass", "Result": {"n": 1, "flag": True, "s": "3"}, "End": True}}}
    assert machine.substitutions == {"A": "a-b", "B": "b", "Name": "First", "Count": "3", "Yes": "false"}
    assert machine.document.locate("/States/First") is not None
    # Without substitutions nothing changes, ${...} included.
    plain = state_machines(template({"Definition": definition}))[0]
    assert plain.definition == definition


def test_substitution_making_names_equal_is_a_duplicate():
    definition = {"StartAt": "A", "States": {"${X}": {"Type": "Succeed"}, "A": {"Type": "Pass", "End": True}}}
    machine = state_machines(template({"Definition": definition, "DefinitionSubstitutions": {"X": "A"}}))[0]
    assert machine.definition["States"] == {"A": {"Type": "Pass", "End": True}}
    assert [d[0] for d in machine.document.duplicate_keys] == ["/States/A"]


def test_intrinsics_resolution_and_parameters():
    sections = {
        "Parameters": {"Env": {"Type": "String", "Default": "prod"}, "NoDefault": {"Type": "String"},
                       "Zones": {"Type": "CommaDelimitedList", "Default": "a,b"}},
        "Conditions": {"IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
                       "NotProd": {"Fn::Not": [{"Condition": "IsProd"}]}},
        "Mappings": {"Sizes": {"prod": {"Memory": 1024}}},
    }
    result = {
        "env": {"Ref": "Env"}, "nodefault": {"Ref": "NoDefault"}, "zone": {"Fn::Select": [1, {"Ref": "Zones"}]},
        "if": {"Fn::If": ["IsProd", "big", "small"]}, "ifnot": {"Fn::If": ["NotProd", "x", "y"]},
        "map": {"Fn::FindInMap": ["Sizes", {"Ref": "Env"}, "Memory"]},
        "join": {"Fn::Join": ["-", ["a", {"Ref": "AWS::AccountId"}, 3]]},
        "split": {"Fn::Split": [",", "p,q"]}, "b64": {"Fn::Base64": "hi"},
        "azs": {"Fn::GetAZs": ""}, "import": {"Fn::ImportValue": "SharedArn"},
        "queue": {"Fn::GetAtt": ["Q", "Arn"]}, "url": {"Ref": "Q"}, "other": {"Fn::GetAtt": "Fn.Role"},
        "json": {"Fn::ToJsonString": {"a": [1]}}, "novalue": {"Ref": "AWS::NoValue"},
        "list": ["x", {"Ref": "AWS::NoValue"}, "y"], "condition_rule": {"Condition": "{% true %}"},
    }
    definition = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": result, "End": True}}}
    data = {"AWSTemplateFormatVersion": "2010-09-09", **sections,
            "Resources": {"Fn": {"Type": "AWS::Lambda::Function"}, "Q": {"Type": "AWS::SQS::Queue"},
                          "M": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {"Definition": definition}}}}
    doc = Document.from_data(data)
    got = state_machines(doc)[0].definition["States"]["A"]["Result"]
    assert got == {
        "env": "prod", "nodefault": "arn:aws:lambda:us-east-1:123456789012:function:NoDefault", "zone": "b",
        "if": "big", "ifnot": "y", "map": 1024, "join": "a-123456789012-3", "split": ["p", "q"],
        "b64": "aGk=", "azs": ["us-east-1a", "us-east-1b", "us-east-1c"],
        "import": "arn:aws:lambda:us-east-1:123456789012:function:ImportValue-SharedArn",
        "queue": "arn:aws:sqs:us-east-1:123456789012:Q", "url": "https://sqs.us-east-1.amazonaws.com/123456789012/Q",
        "other": "Fn.Role", "json": '{"a":[1]}', "list": ["x", "y"], "condition_rule": {"Condition": "{% true %}"},
    }
    sub = state_machines(Document.from_data({"Resources": {"M": {
        "Type": "AWS::StepFunctions::StateMachine",
        "Properties": {"DefinitionString": {"Fn::Sub": '{"Comment": "${Unknown} ${AWS::Region}"}'}}}}}))
    assert sub[0].definition == {"Comment": "${Unknown} us-east-1"}  # unknown names stay as written
    machine = state_machines(doc, parameters={"Env": "dev"})[0]
    assert machine.definition["States"]["A"]["Result"]["if"] == "small"
    assert "Ref NoDefault" in machine.placeholders and "Fn::ImportValue SharedArn" in machine.placeholders


def test_lambda_version_and_alias_refs_are_qualified_arns():
    """CloudFormation's AWS::Lambda::Version: "Ref returns the ARN of the version, such as
    arn:aws:lambda:us-west-2:123456789012:function:helloworld:1" (GetAtt Version: its number);
    AWS::Lambda::Alias: Ref and AliasArn give the alias's ARN. CDK writes a function's
    ``currentVersion`` so (aws-samples/serverless-patterns cdk-stepfunction-durable-lambda-function:
    ``"FunctionName": {"Ref": "<Fn>CurrentVersion<hash>"}``); the stand-in was the logical id."""
    result = {"version": {"Ref": "V"}, "number": {"Fn::GetAtt": ["V", "Version"]},
              "alias": {"Ref": "A"}, "alias_arn": {"Fn::GetAtt": ["A", "AliasArn"]},
              "by_name": {"Ref": "ByName"}}
    definition = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": result, "End": True}}}
    data = {"Resources": {
        "Fn": {"Type": "AWS::Lambda::Function"},
        "V": {"Type": "AWS::Lambda::Version", "Properties": {"FunctionName": {"Ref": "Fn"}}},
        "A": {"Type": "AWS::Lambda::Alias", "Properties": {
            "FunctionName": {"Ref": "Fn"}, "FunctionVersion": {"Fn::GetAtt": ["V", "Version"]}, "Name": "live"}},
        "ByName": {"Type": "AWS::Lambda::Version", "Properties": {"FunctionName": "named-fn"}},
        "M": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {"Definition": definition}}}}
    got = state_machines(Document.from_data(data))[0].definition["States"]["A"]["Result"]
    fn = "arn:aws:lambda:us-east-1:123456789012:function:"
    assert got == {"version": fn + "Fn:1", "number": "1", "alias": fn + "Fn:live", "alias_arn": fn + "Fn:live",
                   "by_name": fn + "named-fn:1"}


def test_parameters_override_in_substitutions():
    doc = template({"Definition": PASS, "DefinitionSubstitutions": {"T": {"Ref": "Table"}}},
                   Parameters={"Table": {"Type": "String", "Default": "orders"}})
    assert state_machines(doc)[0].substitutions == {"T": "orders"}
    assert state_machines(doc, parameters={"Table": "other"})[0].substitutions == {"T": "other"}


# =============================================================================================
# load_any
# =============================================================================================

def test_load_any(tmp_path):
    doc = load_any(f"{SAM}#Inline")
    assert doc.data["StartAt"] == "StepOne"
    assert load_any(SAM, select="FromYamlFile").format == "yaml"
    with pytest.raises(SourceError, match="3 state machines .*FromFile, FromYamlFile, Inline"):
        load_any(SAM)
    assert load_any('{"StartAt": "A"}').data == {"StartAt": "A"}
    assert load_any("StartAt: A\nStates: {}\n").format == "yaml"
    assert load_any(b'{"a": 1}').data == {"a": 1}
    assert load_any({"StartAt": "A"}).format == "python"
    same = parse_text("{}")
    assert load_any(same) is same
    assert load_any(str(FIXTURES / "statemachine" / "orders.asl.yaml")).data["StartAt"] == "Check"
    with pytest.raises(SourceError) as info:
        load_any(tmp_path / "nope.json")
    assert info.value.code == "FILE_NOT_FOUND"
    with pytest.raises(SourceError, match="not a SAM/CloudFormation template"):
        load_any(str(FIXTURES / "statemachine" / "orders.asl.yaml") + "#X")
    single = load_any(str(CFN_JSON) + "#Inline")
    assert single.data["StartAt"] == "A"


# =============================================================================================
# Properties: whatever the input, a Document or a SourceError
# =============================================================================================

def _overflow_marked(value):
    """`value` with each infinite number replaced by a marker (NaN kept: it must not occur)."""
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return "<overflow>"
    if isinstance(value, dict):
        return {k: _overflow_marked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_overflow_marked(v) for v in value]
    return value


def _read_or_source_error(text, **kw):
    try:
        doc = parse_text(text, **kw)
    except SourceError as err:
        assert err.code in ("INVALID_JSON_DESCRIPTION", "MISSING_DESCRIPTION")
        assert err.line is None or (err.line >= 1 and err.column >= 1)
        return None
    # only JSON values, and +-Infinity for a number literal beyond a double's range (1e400: read
    # as Jackson reads it, the validator warns; asl/jsontext.py); never NaN
    json.dumps(_overflow_marked(doc.data), allow_nan=False)
    doc.locate("/")
    doc.duplicate_keys
    return doc


@settings(database=None, max_examples=300, deadline=None)
@given(st.text(), st.sampled_from([None, "json", "yaml"]), st.sampled_from([None, "x.json", "x.yaml"]))
def test_any_text_gives_a_document_or_a_source_error(text, fmt, filename):
    _read_or_source_error(text, format=fmt, filename=filename)


YAMLISH = st.text(alphabet=st.sampled_from(list("ab:-[]{}!&*<>|\"'#, \n\t?%@`=~.0123456789")), max_size=80)


@settings(database=None, max_examples=300, deadline=None)
@given(YAMLISH)
def test_yaml_like_text_gives_a_document_or_a_source_error(text):
    _read_or_source_error(text, format="yaml")


@settings(database=None, max_examples=200, deadline=None)
@given(st.binary())
def test_any_bytes_give_a_document_or_a_source_error(raw):
    _read_or_source_error(raw)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=25)


def _paths(value, path=()):
    yield path, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, path + (i,))


@settings(database=None, max_examples=200, deadline=None)
@given(JSON_VALUES, st.sampled_from([None, 0, 2]), st.booleans())
def test_json_round_trip_and_every_position(value, indent, ascii_only):
    text = json.dumps(value, indent=indent, ensure_ascii=ascii_only)
    doc = parse_text(text)
    assert doc.format == "json" and doc.data == value
    for path, item in _paths(value):
        line, column = doc.locate_path(path)
        at = text[offset_of(text, line, column):]
        if path and isinstance(path[-1], str):
            assert at.startswith(json.dumps(path[-1], ensure_ascii=ascii_only))
        else:
            assert at.startswith(json.dumps(item, ensure_ascii=ascii_only)[0])
        # "/" is the root as AWS writes it, so a member named "" at the top cannot be reached by it.
        if path != ("",) and not any(isinstance(k, str) and ("/" in k or "~" in k) for k in path):
            assert doc.locate(_pointer(path)) == (line, column)


def _pointer(path):
    return "/" + "/".join(str(p) for p in path)


class _NoAliasDumper(yaml.SafeDumper):
    def ignore_aliases(self, data):
        return True


def _marks(node, path=(), key_mark=None):
    """(path, mark) of every node PyYAML composes: the key's mark for members, else the value's."""
    yield path, key_mark or node.start_mark
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            yield from _marks(v, path + (k.value,), k.start_mark)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            yield from _marks(v, path + (i,))


_YAML_12_NUMBER = re.compile(r"(?<![\w.'\"])(0o[0-7]+|[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)[eE][-+]?[0-9]+)(?![\w.'\"])")


@settings(database=None, max_examples=150, deadline=None)
@given(JSON_VALUES, st.booleans(), st.sampled_from([None, False, True]))
def test_yaml_round_trip_and_positions_match_pyyaml(value, unicode, flow):
    text = yaml.dump(value, Dumper=_NoAliasDumper, allow_unicode=unicode, default_flow_style=flow)
    # PyYAML follows YAML 1.1 and leaves strings such as 0o17 or 1e3 unquoted; the project reads
    # YAML 1.2's core schema, where those are numbers: such texts are no oracle.
    assume(not _YAML_12_NUMBER.search(text))
    doc = parse_text(text, format="yaml")
    # PyYAML is the oracle (its dumper does not round-trip everything, e.g. a lone "\x85").
    assert doc.data == yaml.load(text, Loader=yaml.SafeLoader)
    for path, mark in _marks(yaml.compose(text, Loader=yaml.SafeLoader)):
        assert doc.locate_path(path) == (mark.line + 1, mark.column + 1)


INTRINSIC_NAMES = ["Ref", "Fn::GetAtt", "Fn::Sub", "Fn::Join", "Fn::Select", "Fn::Split", "Fn::If",
                   "Fn::FindInMap", "Fn::Base64", "Fn::GetAZs", "Fn::ImportValue", "Fn::ToJsonString",
                   "Fn::Length", "Fn::Cidr", "Condition", "Fn::Equals"]
TEMPLATE_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12) | st.sampled_from(["${A}", "${Fn.Arn}", "${!X}", "A", "Fn.Arn", "AWS::Region"]),
    lambda children: (st.lists(children, max_size=3)
                      | st.dictionaries(st.text(max_size=5), children, max_size=3)
                      | st.builds(lambda name, arg: {name: arg}, st.sampled_from(INTRINSIC_NAMES), children)),
    max_leaves=12)
PROPERTY_NAMES = st.sampled_from(["Definition", "DefinitionString", "DefinitionUri",
                                  "DefinitionS3Location", "DefinitionSubstitutions", "Type", "Name",
                                  "StateMachineType"])
_TEMPLATE_DIR = tempfile.mkdtemp(prefix="asl-source-test-")


@settings(database=None, max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(PROPERTY_NAMES, TEMPLATE_VALUES, max_size=4),
       st.sampled_from(["AWS::StepFunctions::StateMachine", "AWS::Serverless::StateMachine"]),
       st.dictionaries(st.sampled_from(["Parameters", "Conditions", "Mappings"]),
                       st.dictionaries(st.sampled_from(["A", "IsProd", "M"]), TEMPLATE_VALUES, max_size=2),
                       max_size=2),
       st.booleans())
def test_any_template_gives_machines_or_a_source_error(properties, resource_type, sections, as_text):
    data = {**sections, "Resources": {"A": {"Type": "AWS::Lambda::Function"},
                                      "M": {"Type": resource_type, "Properties": properties}}}
    filename = os.path.join(_TEMPLATE_DIR, "template.yaml")
    doc = (parse_text(yaml.safe_dump(data), filename=filename) if as_text
           else Document.from_data(data, filename=filename))
    try:
        machines = state_machines(doc, skip_unusable=True)
    except SourceError as err:
        assert err.code in ("TEMPLATE_ERROR", "INVALID_JSON_DESCRIPTION", "MISSING_DESCRIPTION",
                            "FILE_NOT_FOUND", "FILE_UNREADABLE")
        return
    for machine in machines:
        json.dumps(machine.definition, allow_nan=False)
        machine.document.locate("/States")
        machine.document.duplicate_keys


def test_validate_tells_text_from_a_path(tmp_path, monkeypatch):
    """A one-line string is a file only when it names one or looks like a file name: other text is
    parsed, as ValidateStateMachineDefinition parses its `definition` (INVALID_JSON_DESCRIPTION)."""
    import asl

    monkeypatch.chdir(tmp_path)
    codes = lambda source: [d.code for d in asl.validate(source).diagnostics]  # noqa: E731
    assert codes("not a definition") == ["INVALID_JSON_DESCRIPTION"]
    assert codes("null") == codes("12") == ["SCHEMA_VALIDATION_FAILED"]  # not an object
    for missing in ("order.json", "flows/order", "order", "my order.yaml", "order.json#Machine"):
        assert codes(missing) == ["FILE_NOT_FOUND"], missing
    (tmp_path / "a definition").write_text('{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}')
    assert asl.validate("a definition").ok  # an existing file, whatever its name
