"""The `asl` command, in process (click's runner) and as a real subprocess."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from asl.cli.main import get_cli
from conftest import SAMPLES

ORDER = str(SAMPLES / "order" / "order.json")
BROKEN = str(SAMPLES / "broken" / "broken-order.json")


def invoke(*args, input=None):
    return CliRunner().invoke(get_cli(), list(args), input=input)


def test_validate_ok_and_errors_exit_codes():
    assert invoke("validate", ORDER).exit_code == 0
    result = invoke("validate", BROKEN)
    assert result.exit_code == 1
    first = result.output.splitlines()[0]
    assert first.startswith(f"{BROKEN}:18:26: error SCHEMA_VALIDATION_FAILED: States.ALL must appear alone")


def test_validate_missing_file_is_a_usage_error_without_traceback():
    result = invoke("validate", "no/such/file.json")
    assert result.exit_code == 2 and "no such file" in result.output and "Traceback" not in result.output


def test_validate_json_is_aws_shape():
    doc = json.loads(invoke("validate", BROKEN, "--format", "json").output)
    assert doc["result"] == "FAIL" and doc["truncated"] is False
    assert {"severity", "code", "message", "location"} <= set(doc["diagnostics"][0])
    limited = json.loads(invoke("validate", BROKEN, "--format", "json", "--max-results", "1").output)
    assert len(limited["diagnostics"]) == 1 and limited["truncated"] is True


def test_validate_sarif():
    doc = json.loads(invoke("validate", BROKEN, "--format", "sarif").output)
    assert doc["version"] == "2.1.0"
    results = doc["runs"][0]["results"]
    assert results[0]["level"] == "error" and results[0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 18


def test_validate_express_type(tmp_path):
    path = tmp_path / "sync.json"
    path.write_text(json.dumps({"StartAt": "S", "States": {"S": {
        "Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync",
        "Parameters": {"StateMachineArn": "arn:aws:states:us-east-1:1:stateMachine:x"}, "End": True}}}))
    assert invoke("validate", str(path)).exit_code == 0
    result = invoke("validate", str(path), "--type", "EXPRESS")
    assert result.exit_code == 1 and "Express state machine does not support '.sync'" in result.output


def test_validate_invalid_json_reports_line_and_column(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{\n  "StartAt": "A",\n  "States": {,}\n}')
    result = invoke("validate", str(path))
    assert result.exit_code == 1 and f"{path}:3:" in result.output and "INVALID_JSON_DESCRIPTION" in result.output


def test_run_json_output_and_exit_codes(tmp_path):
    handlers = str(SAMPLES / "order" / "handlers.py")
    result = invoke("run", ORDER, "--input", str(SAMPLES / "order" / "input.json"), "--handlers", handlers,
                    "--virtual-time", "--output-format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["status"] == "SUCCEEDED" and doc["output"]["payment"]["status"] == "PAID"
    assert doc["executionArn"].startswith("arn:aws:states:us-east-1:")


def test_run_failure_exit_1_and_history_file(tmp_path):
    path = tmp_path / "fail.json"
    path.write_text(json.dumps({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E", "Cause": "c"}}}))
    history = tmp_path / "h.json"
    result = invoke("run", str(path), "--output-format", "json", "--history", str(history))
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {"status": "FAILED", "error": "E", "cause": "c",
                                         "executionArn": json.loads(result.stdout)["executionArn"]}
    types = [e["type"] for e in json.loads(history.read_text())["events"]]
    assert types == ["ExecutionStarted", "FailStateEntered", "ExecutionFailed"]


def test_run_invalid_definition_exit_3():
    result = invoke("run", BROKEN)
    assert result.exit_code == 3 and "MISSING_TRANSITION_TARGET" in result.output


@pytest.mark.parametrize("args, message", [
    (["--input", "missing.json"], "no such input file"),
    (["--input-json", "{oops"], "invalid JSON"),
    (["--handlers", "nowhere.py"], "no such handlers file"),
])
def test_run_usage_errors(args, message):
    result = invoke("run", ORDER, *args)
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_run_handlers_file_that_fails_to_import(tmp_path):
    bad = tmp_path / "bad_handlers.py"
    bad.write_text("import does_not_exist\n")
    result = invoke("run", ORDER, "--handlers", str(bad))
    assert result.exit_code == 2 and "bad_handlers.py" in result.output and "does_not_exist" in result.output


def test_a_handlers_file_that_raises_on_import_says_where_in_one_line(tmp_path):
    """FILE:LINE of the handlers file (the raise, or the line that led to it; a SyntaxError's line),
    for a file and for a module, and no traceback."""
    (tmp_path / "raising.py").write_text('import os\n\ndef setup():\n    raise RuntimeError("boom")\n\nsetup()\n')
    (tmp_path / "importing.py").write_text("x = 1\nimport helper\n")
    (tmp_path / "helper.py").write_text('raise ValueError("bad helper")\n')
    (tmp_path / "broken.py").write_text("HANDLERS = {\n  'a': 1,,\n}\n")
    expected = {"raising.py": "raising.py:4: cannot import handlers: RuntimeError: boom",
                "importing.py": "importing.py:2: cannot import handlers: ValueError: bad helper",
                "raising": "raising.py:4: cannot import handlers: RuntimeError: boom",
                "broken.py": "broken.py:2: cannot import handlers: SyntaxError: invalid syntax"}
    for spec, message in expected.items():
        done = subprocess.run([sys.executable, "-m", "asl.cli", "run", ORDER, "--handlers", spec], cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 2
        assert done.stderr.startswith(f"asl run: {message}") and done.stderr.count("\n") == 1, done.stderr


def test_choices_are_listed_in_awss_upper_case_and_typed_in_any_case():
    for args, choices in ((["run", ORDER, "--type", "batch"], "'STANDARD', 'EXPRESS'"),
                          (["run", ORDER, "--log-level", "debug"], "'ALL', 'ERROR', 'FATAL', 'OFF'"),
                          (["validate", ORDER, "--severity", "info"], "'ERROR', 'WARNING'")):
        result = invoke(*args)
        assert result.exit_code == 2 and f"is not one of {choices}." in result.output, result.output
    assert "--type [STANDARD|EXPRESS]" in invoke("run", "--help").output
    assert "--log-level [ALL|ERROR|FATAL|OFF]" in invoke("run", "--help").output
    assert invoke("validate", ORDER, "--type", "express", "--severity", "error").exit_code == 0


def test_run_without_handlers_warns_naming_the_tasks_then_fails_at_the_first_invoked():
    result = invoke("run", ORDER)
    assert result.exit_code == 1 and "warning: no handler or mock for the Task states 'ValidateOrder', " \
        "'ProcessPayment'" in result.output
    # given neither, it says how to give them
    assert "(the run fails if it invokes one); give handlers with --handlers FILE.py, or mocks with " \
        "--mock-config FILE --test-case NAME\n" in result.output
    some = invoke("run", ORDER, "--handlers", str(SAMPLES / "approval" / "handlers.py"))
    assert "(the run fails if it invokes one)\n" in some.output
    assert "States.Runtime" in result.output and "Task state 'ValidateOrder'" in result.output


def test_a_test_case_needs_a_mock_config(tmp_path):
    """--test-case without --mock-config or SFN_MOCK_CONFIG is a usage error (it was ignored, and
    the run failed at its first Task); with SFN_MOCK_CONFIG it picks that file's test case."""
    import os

    env = {k: v for k, v in os.environ.items() if k != "SFN_MOCK_CONFIG"}
    asl_run = [sys.executable, "-m", "asl.cli", "run", ORDER, "--input", str(SAMPLES / "order" / "input.json"),
               "--test-case", "HappyPath", "-q"]
    alone = subprocess.run(asl_run, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert alone.returncode == 2
    assert alone.stderr == "asl run: test case 'HappyPath' needs a mock config: give --mock-config FILE " \
        "(or set SFN_MOCK_CONFIG), or mock_config= in Python\n"
    mocks = tmp_path / "MockConfigFile.json"
    mocks.write_text(json.dumps({
        "StateMachines": {"order": {"TestCases": {"HappyPath": {
            "ValidateOrder": "Valid", "ProcessPayment": "Paid", "EmailCustomer": "Sent",
            "ReserveStock": "Reserved"}}}},
        "MockedResponses": {"Valid": {"0": {"Return": {"valid": True}}},
                            "Paid": {"0": {"Return": {"Payload": {"status": "PAID", "transactionId": "t"}}}},
                            "Sent": {"0": {"Return": {"MessageId": "m"}}},
                            "Reserved": {"0": {"Return": {"reserved": True}}}}}))
    mocked = subprocess.run(asl_run, capture_output=True, text=True, env={**env, "SFN_MOCK_CONFIG": str(mocks)},
                            cwd=tmp_path, timeout=60)
    assert mocked.returncode == 0, mocked.stderr
    assert json.loads(mocked.stdout)["payment"] == {"status": "PAID", "transactionId": "t"}
    # the file's machine is named otherwise: asl run says how to name it (the engine's error
    # names no command's options: asl resume has no --name)
    renamed = subprocess.run([*asl_run, "--name", "checkout"], capture_output=True, text=True,
                             env={**env, "SFN_MOCK_CONFIG": str(mocks)}, cwd=tmp_path, timeout=60)
    assert renamed.returncode == 2
    assert renamed.stderr == "asl run: the mock config has no state machine 'checkout' (it has: order); " \
        "name it with --name or rename the definition file\n"
    from asl.engine import MockConfig
    from asl.engine.tasks import UnknownMockMachine
    with pytest.raises(UnknownMockMachine, match=r"^the mock config has no state machine 'checkout' \(it has: order\)$"):
        MockConfig.from_file(str(mocks)).test_case("checkout", "HappyPath")


def test_subprocess_stdout_is_one_json_document():
    proc = subprocess.run([sys.executable, "-m", "asl.cli.main", "run", ORDER, "--input",
                           str(SAMPLES / "order" / "input.json"), "--handlers", str(SAMPLES / "order" / "handlers.py"),
                           "--virtual-time", "--output-format", "json"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["status"] == "SUCCEEDED"


def test_validate_templates_and_pick_one_machine():
    from conftest import ROOT
    template = ROOT / "tests" / "fixtures" / "source" / "sam-template.yaml"
    result = invoke("validate", str(template))
    assert result.exit_code in (0, 1) and "Traceback" not in result.output
    from asl.source import read_file, state_machines
    ids = [m.logical_id for m in state_machines(read_file(str(template)), skip_unusable=True)]
    one = invoke("validate", f"{template}#{ids[0]}", "--format", "json")
    assert one.exit_code in (0, 1) and json.loads(one.output)["result"] in ("OK", "FAIL")
    missing = invoke("validate", f"{template}#NoSuchMachine")
    assert missing.exit_code == 1 and "NoSuchMachine" in missing.output


def test_a_diagnostic_without_a_location_points_at_its_machine_in_a_template(tmp_path):
    """MISSING_END_STATE (AWS gives it no location) was put at the template's line 1, column 1,
    nowhere near the machine it is about; it is at the start of that machine's Definition."""
    template = tmp_path / "template.yaml"
    template.write_text("Resources:\n"
                        "  Good:\n"
                        "    Type: AWS::StepFunctions::StateMachine\n"
                        "    Properties:\n"
                        "      Definition: {StartAt: P, States: {P: {Type: Pass, End: true}}}\n"
                        "  Endless:\n"
                        "    Type: AWS::StepFunctions::StateMachine\n"
                        "    Properties:\n"
                        "      Definition:\n"
                        "        StartAt: X\n"
                        "        States: {X: {Type: Pass, Next: X}}\n")
    result = invoke("validate", str(template))
    assert result.exit_code == 1
    # the template holds two machines: each line names its own
    assert f"{template}:10:9: error MISSING_END_STATE: Workflow has no terminal state (in Endless)\n" in result.output
    assert "(in Good)" not in result.output
    shown = json.loads(invoke("validate", f"{template}#Endless", "--format", "json").output)["diagnostics"]
    assert [(d["code"], d.get("location"), d["line"], d["column"]) for d in shown] == \
        [("MISSING_END_STATE", None, 10, 9)]
    plain = tmp_path / "endless.json"
    plain.write_text('\n  {"StartAt": "X", "States": {"X": {"Type": "Pass", "Next": "X"}}}')
    assert f"{plain}:2:3: error MISSING_END_STATE" in invoke("validate", str(plain)).output


def _sam_template(folder, uris: dict) -> None:
    """``folder/template.yaml``: one AWS::Serverless::StateMachine per logical id in `uris`, its
    DefinitionUri the value."""
    (folder / "template.yaml").write_text("Resources:\n" + "".join(
        f"  {name}:\n    Type: AWS::Serverless::StateMachine\n    Properties:\n      DefinitionUri: {uri}\n"
        for name, uri in uris.items()))


def test_every_line_of_a_template_of_several_machines_names_its_machine(tmp_path, monkeypatch):
    """As the README says of a template of several machines: each diagnostic line ends with
    "(in LogicalId)", also the lines in a DefinitionUri file and a DefinitionUri that is not
    there (they were left unnamed when no other machine's lines pointed at the same file)."""
    (tmp_path / "sm").mkdir()
    (tmp_path / "sm" / "endless.json").write_text('{"StartAt": "X", "States": {"X": {"Type": "Pass", "Next": "X"}}}')
    _sam_template(tmp_path, {"Endless": "sm/endless.json", "Gone": "sm/gone.json"})
    monkeypatch.chdir(tmp_path)
    result = invoke("validate", "template.yaml")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "sm/endless.json:1:1: error MISSING_END_STATE: Workflow has no terminal state (in Endless)",
        "template.yaml:9:7: error FILE_NOT_FOUND: DefinitionUri 'sm/gone.json': File not found: sm/gone.json "
        "(in Gone)",
        "2 state machines: 2 error(s), 0 warning(s)"]
    one = invoke("validate", "template.yaml#Endless")  # one machine picked: nothing to tell apart
    assert one.output.splitlines()[0] == "sm/endless.json:1:1: error MISSING_END_STATE: Workflow has no terminal state"


def test_a_definition_uri_file_is_named_as_the_template_was(tmp_path, monkeypatch):
    """A template named relatively had its DefinitionUri file reported by its absolute path
    (`/home/.../order.asl.json: OK` beside `template.yaml:...`); and a relative template in the
    current folder must still get the did-you-mean of a missing file."""
    (tmp_path / "sm").mkdir()
    (tmp_path / "sm" / "order.asl.json").write_text('{"StartAt": "P", "States": {"P": {"Type": "Pass"}}}')
    _sam_template(tmp_path, {"Order": "sm/order.asl.json"})
    monkeypatch.chdir(tmp_path)
    result = invoke("validate", "template.yaml")
    assert result.exit_code == 1
    assert result.output.startswith("sm/order.asl.json:1:29: error SCHEMA_VALIDATION_FAILED: ")
    assert json.loads(invoke("validate", "template.yaml", "--format", "json").output)["file"] == "sm/order.asl.json"
    (tmp_path / "sm" / "order.asl.json").rename(tmp_path / "order.asl.json")
    (tmp_path / "template.yaml").write_text((tmp_path / "template.yaml").read_text().replace("sm/order", "ordr"))
    assert ("template.yaml:5:7: error FILE_NOT_FOUND: DefinitionUri 'ordr.asl.json': File not found: "
            "ordr.asl.json; did you mean 'order.asl.json'?") in invoke("validate", "template.yaml").output


def test_run_refuses_what_is_not_json_and_bad_places(tmp_path):
    passes = tmp_path / "p.json"
    passes.write_text(json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 5000 + "]" * 5000)
    for args, message in ([["--input-json", "NaN"], "--input-json:1:1: invalid JSON: NaN is not a JSON number"],
                          [["--input", str(deep)], "nested too deeply"],
                          [["--history", str(tmp_path / "nowhere" / "h.json")], "cannot write there (no folder "],
                          [["--history", str(tmp_path)], "cannot write there (it is a folder)"]):
        result = invoke("run", str(passes), *args)
        assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output, args
    result = invoke("run", str(tmp_path))
    assert result.exit_code == 2 and "is a directory" in result.output


def test_run_handlers_dict_with_a_value_that_is_not_a_function(tmp_path):
    handlers = tmp_path / "h.py"
    handlers.write_text('HANDLERS = {"Fn": 5}\n')
    result = invoke("run", ORDER, "--handlers", str(handlers))
    assert result.exit_code == 2 and "must be callable" in result.output and "Traceback" not in result.output


def test_history_with_wrongly_typed_events_is_a_usage_error(tmp_path):
    bad = tmp_path / "h.json"
    bad.write_text(json.dumps({"events": [
        {"id": 1, "type": "ExecutionStarted", "timestamp": 0},
        {"id": 2, "type": "TaskStateEntered", "timestamp": 1, "stateEnteredEventDetails": {"name": 5}}]}))
    result = invoke("history", str(bad))
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_run_input_given_twice_is_a_usage_error():
    result = invoke("run", ORDER, "--input", str(SAMPLES / "order" / "input.json"), "--input-json", "{}")
    assert result.exit_code == 2 and "not both" in result.output


def test_validate_reads_stdin():
    result = invoke("validate", "-", input='{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}}}')
    assert result.exit_code == 1 and result.output.startswith("<stdin>:1:")
    assert invoke("validate", "-", input='{"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}').exit_code == 0


def test_mocks_from_history_checks_before_writing_and_never_overwrites_silently(tmp_path):
    history = tmp_path / "run.json"
    assert invoke("run", ORDER, "--input", str(SAMPLES / "order" / "input.json"), "--handlers",
                  str(SAMPLES / "order" / "handlers.py"), "--virtual-time", "-q", "--history",
                  str(history)).exit_code == 0
    config, cases, bad = tmp_path / "mocks.json", tmp_path / "cases.json", tmp_path / "bad.json"
    bad.write_text("[1]")
    first = invoke("mocks", "from-history", str(history), "--name", "order", "--mock-config", str(config),
                   "--cases", str(bad))
    assert first.exit_code == 2 and not config.exists()  # nothing written when one file is wrong
    args = ["mocks", "from-history", str(history), "--name", "order", "--mock-config", str(config),
            "--cases", str(cases)]
    assert invoke(*args).exit_code == 0
    again = invoke(*args)
    assert again.exit_code == 2 and "already has a test case 'run'" in again.output
    assert invoke(*args, "--force").exit_code == 0


# ---- install hints: one helper, the source asl-engine was installed from -----------------------------

@pytest.mark.parametrize("direct_url, hint", [
    # PEP 610 (packaging.python.org, "Direct URL Data Structure"): what pip records in direct_url.json
    ({"url": "file://{clone}", "dir_info": {"editable": True}}, 'pip install -e "{clone}[aws]"'),
    ({"url": "file://{clone}", "dir_info": {}}, 'pip install "{clone}[aws]"'),
    ({"url": "https://github.com/me/asl-engine.git",
      "vcs_info": {"vcs": "git", "commit_id": "7921be1537eac1e97bc40179a57f0349c2aee67d"}},
     'pip install "asl-engine[aws] @ git+https://github.com/me/asl-engine.git@7921be1537eac1e97bc40179a57f0349c2aee67d"'),
    ({"url": "file:///tmp/asl_engine-0.1.0-py3-none-any.whl", "archive_info": {}}, 'pip install "asl-engine[aws]"'),
    ({"url": "file://{clone}/gone", "dir_info": {"editable": True}}, 'pip install "asl-engine[aws]"'),
    (None, 'pip install "asl-engine[aws]"'),
])
def test_an_install_hint_names_where_asl_engine_came_from(tmp_path, direct_url, hint):
    """The new-user trial: hints said `pip install "asl-engine[service]"` (or 'asl-engine[aws]')
    for a package that is on no index, installed from a clone with `pip install -e .`."""
    from asl.extras import _install_command, source_of

    clone = str(tmp_path / "my clone")  # (a space: the path is quoted)
    (tmp_path / "my clone").mkdir()
    if direct_url is not None:
        direct_url = json.loads(json.dumps(direct_url).replace("{clone}", clone.replace(" ", "%20")))
    assert _install_command("aws", source_of(direct_url)) == hint.replace("{clone}", clone)


def test_every_install_hint_comes_from_the_one_helper():
    """No message writes a `pip install` of an extra itself (docstrings may show one)."""
    import re

    from conftest import ROOT

    written = []
    for package in ("asl", "engine", "cli", "service"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if path.name == "extras.py":
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if re.search(r"""["'][^"'`]*pip install""", line) and "``pip install" not in line:
                    written.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert written == []


@pytest.mark.parametrize("hidden, args, message", [
    ("boto3", ["run", "{definition}", "--aws"], "asl run: calling AWS services needs boto3: {aws}"),
    ("httpx", ["run", "{definition}", "--aws"], "asl run: calling AWS services needs httpx: {aws}"),
    ("uvicorn", ["serve", "--port", "0", "--store", "memory"], "asl serve: needs the service extra: {service}"),
    ("psycopg", ["executions", "list", "--store", "postgresql://nobody@127.0.0.1:9/none"],
     "asl executions list: the PostgreSQL store needs psycopg: {postgres}"),
])
def test_a_missing_extra_is_one_line_with_its_install_hint(tmp_path, hidden, args, message):
    import os

    from asl.extras import install_hint

    (tmp_path / "sitecustomize.py").write_text(f"import sys\nsys.modules[{hidden!r}] = None  # not installed\n")
    (tmp_path / "pass.json").write_text('{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}')
    args = [arg.replace("{definition}", str(tmp_path / "pass.json")) for arg in args]
    done = subprocess.run([sys.executable, "-m", "asl.cli", *args], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert done.returncode == 2
    assert done.stderr == message.format(**{extra: install_hint(extra) for extra in ("aws", "service", "postgres")}) \
        + "\n"
