"""What a new user met going through the commands (issue 11): stdin for every DEFINITION,
validate with a missing file among others, one --format json shape, AWS's name rules,
[tool.asl] beyond `asl run`, a history of another machine, folders that do not exist yet."""
from __future__ import annotations

import json
import textwrap

import pytest
from click.testing import CliRunner

from asl.cli.main import get_cli
from conftest import SAMPLES

PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"ok": True}, "End": True}}}
BROKEN = {"StartAt": "P", "States": {"P": {"Type": "Pass"}}}


def invoke(*args, input=None):
    return CliRunner().invoke(get_cli(), list(args), input=input)


@pytest.fixture
def files(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps(PASS))
    (tmp_path / "b.json").write_text(json.dumps(BROKEN))
    return tmp_path


# --------------------------------------------------------------------------------------------
# - reads the definition from stdin
# --------------------------------------------------------------------------------------------

def test_run_and_graph_read_the_definition_from_stdin():
    result = invoke("run", "-", "--quiet", input=json.dumps(PASS))
    assert result.exit_code == 0 and json.loads(result.stdout) == {"ok": True}
    result = invoke("graph", "-", input=json.dumps(PASS))
    assert result.exit_code == 0 and result.stdout.startswith("flowchart")
    invalid = invoke("run", "-", input=json.dumps(BROKEN))
    assert invalid.exit_code == 3 and invalid.stderr.startswith("<stdin>:")
    both = invoke("run", "-", "--input", "-", input=json.dumps(PASS))
    assert both.exit_code == 2 and "stdin can hold the definition or the input, not both" in both.stderr


TEMPLATE = textwrap.dedent("""\
    Resources:
      Good:
        Type: AWS::StepFunctions::StateMachine
        Properties:
          Definition: {StartAt: P, States: {P: {Type: Pass, End: true}}}
      Endless:
        Type: AWS::Serverless::StateMachine
        Properties:
          Definition:
            StartAt: X
            States: {X: {Type: Pass, Next: X}}
    """)


def test_a_template_on_stdin_is_named_as_a_file_named_stdin(tmp_path):
    # Its lines once began with the logical id where a file's name stands ("Endless:10:9: ...
    # (in Endless)"): stdin reads as a file named <stdin> would, in every format.
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE)
    from_file = invoke("validate", str(path))
    from_stdin = invoke("validate", "-", input=TEMPLATE)
    assert from_file.exit_code == from_stdin.exit_code == 1
    assert "<stdin>:10:9: error MISSING_END_STATE: Workflow has no terminal state (in Endless)" in from_stdin.stdout
    assert from_stdin.stdout == from_file.stdout.replace(str(path), "<stdin>")
    shown = json.loads(invoke("validate", "-", "--format", "json", input=TEMPLATE).stdout)
    assert [(m["name"], m["file"]) for m in shown] == [("Good", "<stdin>"), ("Endless", "<stdin>")]
    sarif = json.loads(invoke("validate", "-", "--format", "sarif", input=TEMPLATE).stdout)
    assert {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in sarif["runs"][0]["results"]} == {"<stdin>"}
    # one machine to run: its diagnostics name <stdin> too
    good, endless = TEMPLATE.split("  Endless:")
    invalid = invoke("run", "-", input="Resources:\n  Endless:" + endless)
    assert invalid.exit_code == 3  # (StartAt, on line 6 there, as on line 10 of the whole template)
    assert invalid.stderr.startswith("<stdin>:6:9: error MISSING_END_STATE: Workflow has no terminal state\n")
    assert invoke("run", "-", "--quiet", input=good).exit_code == 0
    # several machines: FILE#LogicalId picks one from a file; "-#Endless" would be an option to click
    several = invoke("run", "-", input=TEMPLATE)
    assert several.exit_code == 2 and "<stdin>: holds 2 state machines (Good, Endless)" in several.stderr
    assert "-#LogicalId" not in several.stderr


def test_a_definition_on_stdin_that_is_not_utf8_is_one_line():
    result = invoke("validate", "-", input=b'{"StartAt": "\xff"}')
    assert result.exit_code == 1 and "Invalid UTF-8 start byte 0xff" in result.output
    assert "Traceback" not in result.output


# --------------------------------------------------------------------------------------------
# asl validate with several files
# --------------------------------------------------------------------------------------------

def test_validate_reports_a_missing_file_and_validates_the_others(files):
    result = invoke("validate", str(files / "a.json"), str(files / "missing.json"), str(files / "b.json"))
    assert result.exit_code == 2
    assert f"asl validate: {files / 'missing.json'}: no such file" in result.stderr
    assert f"{files / 'b.json'}:1:" in result.stdout and "2 state machines: 2 error(s)" in result.stdout


def test_validate_json_shape_follows_the_arguments(files):
    one = json.loads(invoke("validate", str(files / "a.json"), "--format", "json").stdout)
    assert one == {"name": "a", "file": str(files / "a.json"), "result": "OK", "diagnostics": [],
                   "truncated": False}
    several = invoke("validate", str(files / "a.json"), str(files / "missing.json"), "--format", "json")
    docs = json.loads(several.stdout)
    assert several.exit_code == 2 and isinstance(docs, list) and [d["name"] for d in docs] == ["a"]
    both = json.loads(invoke("validate", str(files / "a.json"), str(files / "b.json"), "--format", "json").stdout)
    assert [(d["name"], d["result"]) for d in both] == [("a", "OK"), ("b", "FAIL")]


# --------------------------------------------------------------------------------------------
# --name follows AWS's rules for names
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["", "x" * 81, "my flow", "a/b", "a:b", "a*", "a[1]", "tab\there", "a\x7fb",
                                  "a`b", "a\\b", "50%"])
def test_names_aws_refuses_are_usage_errors(files, name):
    result = invoke("run", str(files / "a.json"), "--name", name)
    assert result.exit_code == 2 and "--name: Invalid Name:" in result.stderr
    history = files / "h.json"
    invoke("run", str(files / "a.json"), "--history", str(history), "-q")
    result = invoke("mocks", "from-history", str(history), "--name", name)
    assert result.exit_code == 2 and "--name: Invalid Name:" in result.output


@pytest.mark.parametrize("name", ["x" * 80, "order-flow_2", "Bestellung-Über", "a.b"])
def test_names_aws_takes_run(files, name):
    result = invoke("run", str(files / "a.json"), "--name", name, "--output-format", "json", "-q")
    assert result.exit_code == 0 and f":execution:{name}:" in json.loads(result.stdout)["executionArn"]


# --------------------------------------------------------------------------------------------
# [tool.asl] handlers reach asl test-state and asl test
# --------------------------------------------------------------------------------------------

@pytest.fixture
def project(tmp_path, monkeypatch):
    for name in ("order.json", "handlers.py", "input.json"):
        (tmp_path / name).write_text((SAMPLES / "order" / name).read_text())
    (tmp_path / "pyproject.toml").write_text(textwrap.dedent("""
        [tool.asl]
        handlers = "handlers.py"
    """))
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    return tmp_path


def test_tool_asl_handlers_reach_test_state(project):
    result = invoke("test-state", str(project / "order.json"), "ValidateOrder", "--input",
                    str(project / "input.json"), "--output-format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["status"] == "SUCCEEDED"


def test_tool_asl_handlers_reach_asl_test(project):
    (project / "mock.json").write_text(json.dumps({"StateMachines": {"order": {"TestCases": {"Real": {}}}},
                                                   "MockedResponses": {}}))
    result = invoke("test", str(project / "mock.json"), str(project / "order.json"), "--input",
                    str(project / "input.json"))
    assert result.exit_code == 0, result.output
    assert "RAN   Real  SUCCEEDED" in result.output


def _help(command: str) -> str:
    return " ".join(invoke(command, "--help").output.split())  # (click wraps the lines)


def test_every_tool_asl_key_is_named_where_it_applies(project):
    """asl run --help once named 4 of the keys project.py reads; each command's help now says
    which apply to it, and test/test-state no longer offer [tool.asl] machines, aws, endpoints
    or connections as defaults they do not read."""
    from asl.cli.project import KEYS

    text = _help("run")
    assert [key for key in KEYS if key not in text] == []
    assert "Project defaults: [tool.asl]" in text  # the README section
    for command in ("resume", "redrive", "worker"):
        assert "[tool.asl] gives defaults as for asl run, every key but virtual-time" in _help(command)
    for command in ("serve", "console"):
        assert "Of [tool.asl], aws, connections and endpoints apply" in _help(command)
    for command in ("test", "test-state"):
        text = _help(command)
        assert "Of [tool.asl], only handlers applies here." in text
        assert "[tool.asl] handlers" in text
        assert not any(f"[tool.asl] {key}" in text or f"[tool.asl.{key}]" in text
                       for key in ("machines", "aws", "endpoints", "connections"))
    # as they say: asl run reads [tool.asl.machines], asl test-state does not
    (project / "pyproject.toml").write_text('[tool.asl]\nhandlers = "handlers.py"\n'
                                            '[tool.asl.machines]\nKid = "nowhere.json"\n')
    (project / "pass.json").write_text(json.dumps(PASS))
    ran = invoke("run", str(project / "pass.json"), "-q")
    assert ran.exit_code == 2 and "nowhere.json" in ran.stderr
    tested = invoke("test-state", str(project / "pass.json"), "P")
    assert tested.exit_code == 0, tested.output


# --------------------------------------------------------------------------------------------
# asl graph --history of another machine; asl mocks from-history into new folders
# --------------------------------------------------------------------------------------------

def test_graph_warns_when_the_history_is_of_another_machine(files):
    history = files / "h.json"
    invoke("run", str(files / "a.json"), "--history", str(history), "-q")
    other = files / "other.json"
    other.write_text(json.dumps({"StartAt": "Q", "States": {"Q": {"Type": "Succeed"}}}))
    result = invoke("graph", str(other), "--history", str(history))
    assert result.exit_code == 0 and result.stdout.startswith("flowchart")
    assert result.stderr == (f"asl graph: warning: {history} does not match {other}: 1 of its states are not in "
                             "the definition ('P')\n")
    same = invoke("graph", str(files / "a.json"), "--history", str(history))
    assert same.exit_code == 0 and same.stderr == ""


def test_from_history_creates_the_folders_it_writes_to(files):
    history = files / "h.json"
    invoke("run", str(files / "a.json"), "--history", str(history), "-q")
    mock = files / "tests" / "MockConfigFile.json"
    cases = files / "tests" / "cases" / "cases.json"
    result = invoke("mocks", "from-history", str(history), "--name", "a", "--mock-config", str(mock),
                    "--cases", str(cases))
    assert result.exit_code == 0, result.output
    assert "a" in json.loads(mock.read_text())["StateMachines"]
    assert json.loads(cases.read_text())["h"]["expect"]["status"] == "SUCCEEDED"


def test_test_state_and_test_read_the_definition_from_stdin(files):
    result = invoke("test-state", "-", "P", "--input-json", "{}", "--output-format", "json", input=json.dumps(PASS))
    assert result.exit_code == 0 and json.loads(result.output)["output"] == {"ok": True}
    both = invoke("test-state", "-", "P", "--input", "-", input=json.dumps(PASS))
    assert both.exit_code == 2 and "stdin can hold the definition or the input, not both" in both.output
    (files / "mock.json").write_text(json.dumps({"StateMachines": {"StateMachine": {"TestCases": {"T": {}}}},
                                                 "MockedResponses": {}}))
    result = invoke("test", str(files / "mock.json"), "-", input=json.dumps(PASS))
    assert result.exit_code == 0 and "RAN   T  SUCCEEDED" in result.output
