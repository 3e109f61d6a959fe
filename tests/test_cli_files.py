"""Every JSON file the CLI and the library read goes through one reader (asl.source.read_json):
the same one-line errors everywhere, never a traceback (issue 11)."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from asl.cli.main import get_cli
from asl.source import SourceError, parse_json, read_json

PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
BAD = {
    "binary": (bytes(range(0x80, 0x100)), "not UTF-8 text: invalid start byte 0x80"),
    "deep": (b"[" * 100_000 + b"]" * 100_000, "invalid JSON: nested too deeply (100,000 levels)"),
    "nan": (b'{"a": [1, NaN]}', ":1:11: invalid JSON: NaN is not a JSON number"),
    "huge": (b'{\n  "a": 1e400}', ":2:8: invalid JSON: the number 1e400 is out of range"),
    "syntax": (b'{"a": 1,}', ":1:9: invalid JSON: Unexpected character ('}'"),
    "empty": (b"  \n", "invalid JSON: no value (the text is empty)"),
}


def invoke(*args, input=None):
    return CliRunner().invoke(get_cli(), list(args), input=input)


# --------------------------------------------------------------------------------------------
# The reader
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", list(BAD))
def test_read_json_names_the_file_and_the_problem(tmp_path, kind):
    raw, message = BAD[kind]
    path = tmp_path / "f.json"
    path.write_bytes(raw)
    with pytest.raises(SourceError) as caught:
        read_json(path)
    assert str(caught.value).startswith(str(path)) and message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_read_json_files_that_cannot_be_read(tmp_path):
    with pytest.raises(SourceError, match=r"nowhere\.json: no such input file$"):
        read_json(tmp_path / "nowhere.json", "input file")
    with pytest.raises(SourceError, match=r": is a directory$"):
        read_json(tmp_path)


def test_parse_json_reads_json_and_only_json():
    assert parse_json(b'\xef\xbb\xbf{"a": [1.5, "\xc3\xa9"]}') == {"a": [1.5, "é"]}
    assert parse_json('{"a": 1, "a": 2}') == {"a": 2}  # last wins, as Jackson
    assert parse_json("1" + "0" * 400) == 10 ** 400    # a big integer is a JSON number
    with pytest.raises(SourceError, match=r"^x:1:2: invalid JSON: the number is too long \(more than 4,300 digits\)$"):
        parse_json("[" + "1" * 5000 + "]", "x")
    for text in ("Infinity", "-Infinity", "[-1e400]", "1e309"):
        with pytest.raises(SourceError, match="invalid JSON"):
            parse_json(text)


# --------------------------------------------------------------------------------------------
# Every command that reads a JSON file
# --------------------------------------------------------------------------------------------

def _commands(tmp_path, bad):
    definition = tmp_path / "pass.json"
    definition.write_text(json.dumps(PASS))
    d = str(definition)
    mock = tmp_path / "mock.json"
    mock.write_text(json.dumps({"StateMachines": {"pass": {"TestCases": {"T": {}}}}, "MockedResponses": {}}))
    return {
        "run --input": ["run", d, "--input", bad],
        "run --mock-config": ["run", d, "--mock-config", bad],
        "test-state --input": ["test-state", d, "P", "--input", bad],
        "test MOCKCONFIG": ["test", bad, d],
        "test --cases": ["test", str(mock), d, "--cases", bad],
        "mocks from-history": ["mocks", "from-history", bad, "--name", "pass"],
        "graph --history": ["graph", d, "--history", bad],
        "history": ["history", bad],
    }


@pytest.mark.parametrize("kind", list(BAD))
def test_every_command_reports_a_bad_json_file_in_one_line(tmp_path, kind):
    raw, message = BAD[kind]
    bad = tmp_path / "bad.json"
    bad.write_bytes(raw)
    for name, args in _commands(tmp_path, str(bad)).items():
        result = invoke(*args)
        lines = result.output.splitlines()
        assert result.exit_code == 2 and len(lines) == 1, (name, result.output)
        assert str(bad) in lines[0] and message in lines[0], (name, lines[0])


@pytest.mark.parametrize("command", ["run", "history"])
def test_stdin_is_read_by_the_same_reader(tmp_path, command):
    definition = tmp_path / "pass.json"
    definition.write_text(json.dumps(PASS))
    args = ["run", str(definition), "--input", "-"] if command == "run" else ["history", "-"]
    result = invoke(*args, input=b"\xff\xfe\x00garbage\x80")
    assert result.exit_code == 2 and "<stdin>" in result.output and "Traceback" not in result.output


def test_test_state_input_over_the_payload_limit_is_a_usage_error(tmp_path):
    definition = tmp_path / "pass.json"
    definition.write_text(json.dumps(PASS))
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"a": "x" * 300_000}))
    result = invoke("test-state", str(definition), "P", "--input", str(big))
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert "the input is 300,008 bytes; the limit is 262,144 bytes" in result.output


# --------------------------------------------------------------------------------------------
# MockConfigFiles
# --------------------------------------------------------------------------------------------

def test_a_mock_config_dict_holding_nan_is_refused_when_read():
    from asl.engine import MockConfig, MockConfigError

    with pytest.raises(MockConfigError, match=r"MockedResponses\.R\.0\.Return is not JSON"):
        MockConfig({"StateMachines": {}, "MockedResponses": {"R": {"0": {"Return": {"a": float("nan")}}}}})


def test_sfn_mock_config_errors_name_the_variable(tmp_path, monkeypatch):
    definition = tmp_path / "pass.json"
    definition.write_text(json.dumps(PASS))
    monkeypatch.setenv("SFN_MOCK_CONFIG", str(tmp_path / "nonexistent.json"))
    result = invoke("run", str(definition))
    assert result.exit_code == 2
    assert result.output == f"asl run: SFN_MOCK_CONFIG={tmp_path / 'nonexistent.json'}: no such MockConfigFile\n"
    (tmp_path / "list.json").write_text("[]")
    monkeypatch.setenv("SFN_MOCK_CONFIG", str(tmp_path / "list.json"))
    result = invoke("run", str(definition))
    assert result.exit_code == 2 and result.output.startswith(f"asl run: SFN_MOCK_CONFIG={tmp_path / 'list.json'}: ")


@pytest.mark.parametrize("command", ["serve", "console"])
def test_a_bad_mock_config_of_the_service_is_named_once_and_by_its_source(tmp_path, monkeypatch, command):
    """`asl serve` said `/x.json: /x.json: no such MockConfigFile` and never named SFN_MOCK_CONFIG."""
    missing = tmp_path / "nonexistent.json"
    result = invoke(command, "--port", "0", "--store", "memory", "--mock-config", str(missing))
    assert result.exit_code == 2
    assert result.output == f"asl {command}: {missing}: no such MockConfigFile\n"
    monkeypatch.setenv("SFN_MOCK_CONFIG", str(missing))
    result = invoke(command, "--port", "0", "--store", "memory")
    assert result.exit_code == 2
    assert result.output == f"asl {command}: SFN_MOCK_CONFIG={missing}: no such MockConfigFile\n"


# --------------------------------------------------------------------------------------------
# Never write non-JSON: 1e400 in a definition, streams that cannot encode everything
# --------------------------------------------------------------------------------------------

HUGE = '{"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"x": 1e400, "y": [-1e400]}, "End": true}}}'


def test_a_number_beyond_a_double_in_a_definition_is_a_warning(tmp_path):
    definition = tmp_path / "huge.json"
    definition.write_text(HUGE)
    result = invoke("validate", str(definition))
    assert result.exit_code == 0
    assert f"{definition}:1:66: warning NUMBER_OUT_OF_RANGE" in result.output
    assert "at /States/P/Parameters/x" in result.output and "at /States/P/Parameters/y[0]" in result.output


def test_run_writes_only_json_when_a_definition_holds_1e400(tmp_path):
    definition = tmp_path / "huge.json"
    definition.write_text(HUGE)
    history = tmp_path / "h.json"
    result = invoke("run", str(definition), "--history", str(history), "--quiet")
    assert result.exit_code == 0
    expected = {"x": "Infinity", "y": ["-Infinity"]}  # as Jackson's generator writes them by default
    assert parse_json(result.output) == expected
    events = read_json(history)["events"]
    assert parse_json(events[-1]["executionSucceededEventDetails"]["output"]) == expected
    as_json = invoke("run", str(definition), "--quiet", "--output-format", "json")
    assert parse_json(as_json.output)["output"] == expected


def test_jsontext_never_writes_bare_infinity():
    from asl.jsontext import compact, dumps

    value = {"a": float("inf"), "b": [float("-inf"), float("nan"), 1.5], "c": "é"}
    assert compact(value) == '{"a":"Infinity","b":["-Infinity","NaN",1.5],"c":"é"}'
    assert parse_json(dumps(value, indent=2)) == {"a": "Infinity", "b": ["-Infinity", "NaN", 1.5], "c": "é"}
    assert value["a"] == float("inf")  # the value itself is left alone


def test_the_escape_handler_keeps_json_valid_in_any_encoding():
    from asl.jsontext import ESCAPE, dumps

    value = {"text": "中文 😀 é \ud800"}
    for encoding in ("latin-1", "cp1252", "ascii", "utf-8"):
        raw = dumps(value).encode(encoding, ESCAPE)
        assert json.loads(raw.decode(encoding)) == value, encoding


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
def test_run_and_history_write_non_latin_output_to_a_latin_stream(tmp_path, encoding):
    import os
    import subprocess
    import sys

    definition = tmp_path / "pass.json"
    definition.write_text(json.dumps(PASS))
    history = tmp_path / "h.json"
    env = {**os.environ, "PYTHONIOENCODING": encoding}
    value = {"text": "中文 😀 é"}
    done = subprocess.run([sys.executable, "-m", "asl.cli", "run", str(definition), "--input-json",
                           json.dumps(value), "--history", str(history)], capture_output=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.decode(encoding)) == value
    shown = subprocess.run([sys.executable, "-m", "asl.cli", "history", str(history)], capture_output=True,
                           env=env, timeout=60)
    assert shown.returncode == 0 and b"Traceback" not in shown.stderr
    assert "\\u4e2d\\u6587" in shown.stdout.decode(encoding)


# --------------------------------------------------------------------------------------------
# The failure path of a long loop
# --------------------------------------------------------------------------------------------

def test_the_failure_path_folds_repeated_blocks():
    from asl.cli.history import path_text
    from asl.cli.style import Style
    from asl.histories import Step

    def path(names, depth=0):
        return [Step(name, "Pass", depth) for name in names]

    style = Style(False)
    assert path_text(path(["A", "B"] + ["C", "D"] * 12_000 + ["E"]), style) == "A → B → (C → D) ×12,000 → E"
    assert path_text(path("AAAB"), style) == "A ×3 → B"
    assert path_text(path("ABCD"), style) == "A → B → C → D"
    nested = path(["Par"]) + path(["X", "Y", "X", "Y", "Z"], depth=1)
    assert path_text(nested, style, {"X": 2}) == "Par › [branch 2] (X → Y) ×2 → Z"
    assert path_text(path("AAB"), Style(False, _Latin1())) == "A x2 -> B"


class _Latin1:
    encoding = "latin-1"


def test_a_history_limit_loop_reports_a_short_path(tmp_path):
    definition = tmp_path / "loop.json"
    definition.write_text(json.dumps({"StartAt": "Init", "States": {
        "Init": {"Type": "Pass", "Next": "C"},
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.stop", "IsPresent": True, "Next": "Done"}],
              "Default": "Work"},
        "Work": {"Type": "Pass", "Next": "C"}, "Done": {"Type": "Succeed"}}}))
    history = tmp_path / "h.json"
    invoke("run", str(definition), "--virtual-time", "--quiet", "--history", str(history))
    result = invoke("history", str(history))
    # (the history limit: ExecutionFailed is event 25,000, after Work exited; test_engine has the evidence)
    assert "  path   Init → (C → Work) ×6,249" in result.output.splitlines()


def test_graph_writes_a_lone_surrogate_state_name_to_a_file(tmp_path):
    definition = tmp_path / "s.json"
    definition.write_text('{"StartAt": "\\ud800", "States": {"\\ud800": {"Type": "Pass", "End": true}}}')
    out = tmp_path / "g.mmd"
    result = invoke("graph", str(definition), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "\\ud800" in out.read_text(encoding="utf-8")
