"""`asl serve` as a real process, driven by real boto3 and the real AWS CLI (no mocked transport)."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

boto3 = pytest.importorskip("boto3")
pytest.importorskip("uvicorn")
import botocore.config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

from conftest import SHARED  # noqa: E402
from support.polling import poll  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ASL = [sys.executable, "-m", "asl.cli"]
ROLE = "arn:aws:iam::123456789012:role/r"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, tmp: Path, store: str, *extra: str, command: str = "serve"):
        self.tmp, self.store, self.extra, self.command = tmp, store, extra, command
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.env: dict[str, str] = {}  # extra environment of the server process

    def start(self) -> "Server":
        self.proc = subprocess.Popen([*ASL, self.command, "--port", str(self.port), "--store", self.store, *self.extra],
                                     cwd=self.tmp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     env={**os.environ, **self.env} if self.env else None)
        deadline = time.monotonic() + 60  # generous: the machine may be loaded
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(self.proc.stdout.read())
                time.sleep(0.05)
        raise RuntimeError(f"asl {self.command} did not start")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        code = self.proc.wait(15)
        self.proc.stdout.close()
        return code

    def client(self, **config):
        return boto3.client("stepfunctions", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="test", aws_secret_access_key="test",
                            config=botocore.config.Config(inject_host_prefix=False, retries={"max_attempts": 1},
                                                          **config))


@pytest.fixture
def server(tmp_path):
    srv = Server(tmp_path, "memory").start()
    yield srv
    if srv.proc.poll() is None:
        srv.stop()


def machine(states: dict, start: str) -> str:
    return json.dumps({"StartAt": start, "States": states})


PASS = machine({"P": {"Type": "Pass", "Result": {"ok": True}, "End": True}}, "P")
WAIT = machine({"W": {"Type": "Wait", "Seconds": 2, "Next": "P"},
                "P": {"Type": "Pass", "Parameters": {"got.$": "$.x"}, "End": True}}, "W")


def wait_done(client, arn: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = client.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.1)
    raise AssertionError(f"{arn} still RUNNING")


def error_of(call, **kwargs) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    err = info.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]


def test_state_machine_life_cycle_and_execution(server):
    sfn = server.client()
    created = sfn.create_state_machine(name="m", definition=WAIT, roleArn=ROLE)
    arn = created["stateMachineArn"]
    assert arn == "arn:aws:states:us-east-1:123456789012:stateMachine:m"
    assert sfn.describe_state_machine(stateMachineArn=arn)["status"] == "ACTIVE"
    assert [m["name"] for m in sfn.list_state_machines()["stateMachines"]] == ["m"]
    started = sfn.start_execution(stateMachineArn=arn, name="e1", input='{"x": 5}')
    # idempotent while RUNNING with the same input; another input is refused
    assert sfn.start_execution(stateMachineArn=arn, name="e1", input='{"x": 5}')["executionArn"] == \
        started["executionArn"]
    assert error_of(sfn.start_execution, stateMachineArn=arn, name="e1", input='{"x": 6}')[0] == \
        "ExecutionAlreadyExists"
    done = wait_done(sfn, started["executionArn"])
    assert done["status"] == "SUCCEEDED" and json.loads(done["output"]) == {"got": 5}
    history = sfn.get_execution_history(executionArn=started["executionArn"])["events"]
    assert [e["type"] for e in history] == ["ExecutionStarted", "WaitStateEntered", "WaitStateExited",
                                           "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]
    reverse = sfn.get_execution_history(executionArn=started["executionArn"], reverseOrder=True, maxResults=2)
    assert [e["id"] for e in reverse["events"]] == [6, 5] and "nextToken" in reverse
    rest = sfn.get_execution_history(executionArn=started["executionArn"], reverseOrder=True,
                                     nextToken=reverse["nextToken"])
    assert [e["id"] for e in rest["events"]] == [4, 3, 2, 1]
    bare = sfn.get_execution_history(executionArn=started["executionArn"], includeExecutionData=False)["events"]
    # by analogy with a LoggingConfiguration's includeExecutionData false (recorded on AWS, LocalStack
    # test_logs test_base[pass_result.json5_ALL_False]): input, inputDetails, output and outputDetails
    # go, everything else stays; ExecutionSucceeded's details are then {}
    assert [(e["type"], e.get(next((k for k in e if k.endswith("EventDetails")), ""))) for e in bare] == [
        ("ExecutionStarted", {"roleArn": ROLE}), ("WaitStateEntered", {"name": "W"}),
        ("WaitStateExited", {"name": "W"}), ("PassStateEntered", {"name": "P"}), ("PassStateExited", {"name": "P"}),
        ("ExecutionSucceeded", {})]
    listed = sfn.list_executions(stateMachineArn=arn, statusFilter="SUCCEEDED")["executions"]
    assert [e["name"] for e in listed] == ["e1"]
    pinned = sfn.describe_state_machine_for_execution(executionArn=started["executionArn"])
    assert json.loads(pinned["definition"]) == json.loads(WAIT)
    sfn.update_state_machine(stateMachineArn=arn, definition=PASS)
    assert json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"]) == json.loads(PASS)
    sfn.delete_state_machine(stateMachineArn=arn)
    assert error_of(sfn.describe_state_machine, stateMachineArn=arn)[0] == "StateMachineDoesNotExist"


def test_history_without_execution_data_keeps_error_and_cause(server):
    """As a LoggingConfiguration's includeExecutionData false logs it (recorded on AWS, LocalStack test_logs
    test_base[raise_failure.json5_ALL_False]: FailStateEntered {"name"}, ExecutionFailed {"cause", "error"})."""
    sfn = server.client()
    failing = machine({"F": {"Type": "Fail", "Error": "SomeFailure", "Cause": "It fails."}}, "F")
    arn = sfn.create_state_machine(name="f", definition=failing, roleArn=ROLE)["stateMachineArn"]
    started = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
    assert wait_done(sfn, started)["status"] == "FAILED"
    bare = sfn.get_execution_history(executionArn=started, includeExecutionData=False)["events"]
    assert bare[1]["stateEnteredEventDetails"] == {"name": "F"}
    assert bare[2]["executionFailedEventDetails"] == {"error": "SomeFailure", "cause": "It fails."}


def test_execution_input_keeps_the_callers_spelling(server):
    """AWS keeps StartExecution's input text as sent for the ExecutionStarted event, while the first
    state's entered input is compact JSON for an array input (recorded: LocalStack
    test_base_scenarios test_map_state_label, '["Hello", "World"]' then '["Hello","World"]'); an
    object input stays as sent (test_states_carry_an_object_input_as_its_caller_spelled_it)."""
    sfn = server.client()
    arn = sfn.create_state_machine(name="spelled", definition=machine({"P": {"Type": "Pass", "End": True}}, "P"),
                                   roleArn=ROLE)["stateMachineArn"]
    started = sfn.start_execution(stateMachineArn=arn, input='["Hello", "World"]')["executionArn"]
    done = wait_done(sfn, started)
    events = sfn.get_execution_history(executionArn=started)["events"]
    assert events[0]["executionStartedEventDetails"]["input"] == '["Hello", "World"]'
    assert events[1]["stateEnteredEventDetails"]["input"] == '["Hello","World"]'
    assert done["input"] == '["Hello", "World"]' and done["output"] == '["Hello","World"]'
    plain = sfn.start_execution(stateMachineArn=arn, input='{"a":1}')["executionArn"]
    assert wait_done(sfn, plain)["input"] == '{"a":1}'
    # an Express execution: StartSyncExecution's answer, and the console's page (which the
    # server keeps it for) describe it as DescribeExecution describes a Standard one
    import urllib.parse
    import urllib.request

    quick = sfn.create_state_machine(name="quick", definition=machine({"P": {"Type": "Pass", "End": True}}, "P"),
                                     roleArn=ROLE, type="EXPRESS")["stateMachineArn"]
    synced = sfn.start_sync_execution(stateMachineArn=quick, input='{"name": "é"}')
    # an object input the Pass leaves as it is: its output is the caller's text too (raw AWS
    # capture, radkawar/stackd testdata/aws/stepfunctions/encryption_execution.json,
    # "express-allow-sync-start": output '{"probe": "express-allow-sync", "synthetic": true}')
    assert synced["input"] == '{"name": "é"}' and synced["output"] == '{"name": "é"}'
    query = urllib.parse.urlencode({"arn": synced["executionArn"]})
    with urllib.request.urlopen(f"{server.endpoint}/console/api/execution?{query}") as answer:
        page = json.loads(answer.read())
    assert page["execution"]["input"] == '{"name": "é"}' and page["execution"]["output"] == '{"name": "é"}'
    compact_input = sfn.start_sync_execution(stateMachineArn=quick, input='{"name":"é"}')
    assert compact_input["input"] == '{"name":"é"}'  # not '{"name":"\u00e9"}'


def test_states_carry_an_object_input_as_its_caller_spelled_it(server):
    """While no state changes an object input, the events that carry it show it as the caller
    sent it, and so does the execution's output: raw AWS captures, radkawar/stackd
    testdata/aws/stepfunctions/tracing_workflows.json "fail-final-history-0" (Choice, Pass
    without fields, Fail: '{"case": "fail"}' with its spaces) and "sequence-final-history-0" (a
    Pass with Result and ResultPath makes compact JSON), observability.json
    "standard-all-data-pass-history-data" (a Wait's input and output keep '\\u03bb'), and
    encryption_execution.json "express-allow-sync-start" (a Pass then a Wait: StartSyncExecution's
    output '{"probe": "express-allow-sync", "synthetic": true}')."""
    sfn = server.client()
    choose = sfn.create_state_machine(name="choose", roleArn=ROLE, definition=machine({
        "Select": {"Type": "Choice", "Choices": [{"Variable": "$.case", "StringEquals": "sequence",
                                                  "Next": "PassState"}], "Default": "BeforeFail"},
        "PassState": {"Type": "Pass", "Result": {"marker": "kept"}, "ResultPath": "$.pass", "Next": "WaitState"},
        "WaitState": {"Type": "Wait", "Seconds": 0, "End": True},
        "BeforeFail": {"Type": "Pass", "Next": "ExplicitFail"},
        "ExplicitFail": {"Type": "Fail", "Error": "OwnedExplicitFailure", "Cause": "bounded native tracing failure"}},
        "Select"))["stateMachineArn"]
    failed = sfn.start_execution(stateMachineArn=choose, input='{"case": "fail"}')["executionArn"]
    assert wait_done(sfn, failed)["status"] == "FAILED"
    events = sfn.get_execution_history(executionArn=failed)["events"]
    shown = [e.get("stateEnteredEventDetails", e.get("stateExitedEventDetails")) for e in events[1:-1]]
    assert [(e["type"], d.get("input", d.get("output"))) for e, d in zip(events[1:-1], shown)] == [
        ("ChoiceStateEntered", '{"case": "fail"}'), ("ChoiceStateExited", '{"case": "fail"}'),
        ("PassStateEntered", '{"case": "fail"}'), ("PassStateExited", '{"case": "fail"}'),
        ("FailStateEntered", '{"case": "fail"}')]
    passed = sfn.start_execution(stateMachineArn=choose, input='{"case": "sequence"}')["executionArn"]
    assert wait_done(sfn, passed)["output"] == '{"case":"sequence","pass":{"marker":"kept"}}'
    escaped = '{"case":"x","unicode":"native-\\u03bb"}'
    waits = sfn.create_state_machine(name="waits", roleArn=ROLE, definition=machine({
        "Pass": {"Type": "Pass", "Next": "Wait"}, "Wait": {"Type": "Wait", "Seconds": 0, "End": True}},
        "Pass"))["stateMachineArn"]
    run = sfn.start_execution(stateMachineArn=waits, input=escaped)["executionArn"]
    assert wait_done(sfn, run)["output"] == escaped
    assert sfn.get_execution_history(executionArn=run)["events"][3]["stateEnteredEventDetails"]["input"] == escaped
    quick = sfn.create_state_machine(name="quick-waits", roleArn=ROLE, type="EXPRESS", definition=machine({
        "Pass": {"Type": "Pass", "Next": "Wait"}, "Wait": {"Type": "Wait", "Seconds": 0, "End": True}},
        "Pass"))["stateMachineArn"]
    spelled = '{"probe": "express-allow-sync", "synthetic": true}'
    assert sfn.start_sync_execution(stateMachineArn=quick, input=spelled)["output"] == spelled


SPELLED = '{"items": ["Hello", "World"], "n": 1}'  # not compact JSON: the caller's spelling


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_the_callers_input_spelling_survives_a_restart_a_redrive_and_the_cli(tmp_path, store, request):
    """The input as StartExecution's caller spelled it is the ExecutionStarted event's, the first
    state's (an object input) and DescribeExecution's (AWS, recorded: LocalStack
    test_map_state_label; raw AWS capture, radkawar/stackd tracing_control.json), also once another
    process took the execution over from the store, after a redrive, for a child a
    states:startExecution Task started with its Input as text, and in `asl executions show` and
    `asl executions history`, which read the store as DescribeExecution and GetExecutionHistory."""
    url = f"sqlite:{tmp_path / 'serve.db'}" if store == "sqlite" else request.getfixturevalue("postgres_url")
    first = Server(tmp_path, url).start()
    sfn = first.client()
    waits = sfn.create_state_machine(name="waits", roleArn=ROLE, definition=machine({
        "W": {"Type": "Wait", "Seconds": 3, "Next": "F"}, "F": {"Type": "Fail", "Error": "E"}}, "W"))["stateMachineArn"]
    child = sfn.create_state_machine(name="child", roleArn=ROLE, definition=machine(
        {"P": {"Type": "Pass", "End": True}}, "P"))["stateMachineArn"]
    parent = sfn.create_state_machine(name="parent", roleArn=ROLE, definition=machine({"Start": {
        "Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2", "End": True,
        "Parameters": {"StateMachineArn": child, "Name": "kid", "Input": SPELLED}}}, "Start"))["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=waits, name="spelled", input=SPELLED)["executionArn"]
    done_parent = wait_done(sfn, sfn.start_execution(stateMachineArn=parent, input="{}")["executionArn"])
    assert done_parent["status"] == "SUCCEEDED", done_parent
    kid = arn.replace(":waits:spelled", ":child:kid")
    first.stop(signal.SIGKILL)  # inside its Wait: the next server takes it over
    second = Server(tmp_path, url).start()
    try:
        sfn = second.client()
        assert wait_done(sfn, arn)["status"] == "FAILED"
        sfn.redrive_execution(executionArn=arn)
        assert poll(lambda: sfn.describe_execution(executionArn=arn)["redriveCount"] == 1 and
                    sfn.describe_execution(executionArn=arn)["status"] == "FAILED", "the redrive never ended")
        for execution in (arn, kid):
            events = sfn.get_execution_history(executionArn=execution)["events"]
            assert events[0]["executionStartedEventDetails"]["input"] == SPELLED
            # an object input: the first state's too (raw AWS captures, radkawar/stackd
            # testdata/aws/stepfunctions/tracing_control.json "...-final-history": PassStateEntered's
            # input '{"case": "no-permission-standard"}' as sent)
            assert events[1]["stateEnteredEventDetails"]["input"] == SPELLED
            assert sfn.describe_execution(executionArn=execution)["input"] == SPELLED
        reverse = sfn.get_execution_history(executionArn=arn, reverseOrder=True)["events"]
        assert reverse[-1]["executionStartedEventDetails"]["input"] == SPELLED
    finally:
        assert second.stop() == 0
    for execution in (arn, kid):
        shown = subprocess.run([*ASL, "executions", "show", execution, "--store", url], cwd=tmp_path,
                               capture_output=True, text=True, timeout=60, check=True)
        assert json.loads(shown.stdout)["input"] == SPELLED
        history = subprocess.run([*ASL, "executions", "history", execution, "--store", url], cwd=tmp_path,
                                 capture_output=True, text=True, timeout=60, check=True)
        assert json.loads(history.stdout)["events"][0]["executionStartedEventDetails"]["input"] == SPELLED


def test_versions_aliases_tags(server):
    sfn = server.client()
    arn = sfn.create_state_machine(name="v", definition=PASS, roleArn=ROLE, publish=True)["stateMachineArn"]
    v1 = f"{arn}:1"
    assert sfn.publish_state_machine_version(stateMachineArn=arn)["stateMachineVersionArn"] == v1  # idempotent
    sfn.update_state_machine(stateMachineArn=arn, definition=WAIT, publish=True)
    assert [v["stateMachineVersionArn"] for v in sfn.list_state_machine_versions(stateMachineArn=arn)[
        "stateMachineVersions"]] == [f"{arn}:2", v1]
    alias = sfn.create_state_machine_alias(name="live", routingConfiguration=[
        {"stateMachineVersionArn": v1, "weight": 100}])["stateMachineAliasArn"]
    code, message, status = error_of(sfn.create_state_machine_alias, name="bad", routingConfiguration=[
        {"stateMachineVersionArn": v1, "weight": 70}, {"stateMachineVersionArn": f"{arn}:2", "weight": 29}])
    assert (code, message) == ("ValidationException", "Sum of routing configuration weights must equal 100. "
                               "Received: [70, 29]")
    execution = sfn.start_execution(stateMachineArn=alias)
    done = wait_done(sfn, execution["executionArn"])
    assert done["stateMachineAliasArn"] == alias and done["stateMachineVersionArn"] == v1
    assert error_of(sfn.delete_state_machine_version, stateMachineVersionArn=v1)[0] == "ConflictException"
    sfn.tag_resource(resourceArn=arn, tags=[{"key": "team", "value": "a"}])
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "team", "value": "a"}]
    sfn.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == []


def test_express_sync_validate_and_test_state(server):
    sfn = server.client()
    arn = sfn.create_state_machine(name="x", definition=PASS, roleArn=ROLE, type="EXPRESS")["stateMachineArn"]
    result = sfn.start_sync_execution(stateMachineArn=arn, input="{}")
    assert result["status"] == "SUCCEEDED" and json.loads(result["output"]) == {"ok": True}
    assert result["executionArn"].startswith("arn:aws:states:us-east-1:123456789012:express:x:")
    assert result["billingDetails"]["billedDurationInMilliseconds"] >= 100
    standard = sfn.create_state_machine(name="s", definition=PASS, roleArn=ROLE)["stateMachineArn"]
    assert error_of(sfn.start_sync_execution, stateMachineArn=standard)[0] == "StateMachineTypeNotSupported"
    # input that is not JSON: AWS quotes Jackson's message (tests/test_jackson.py checks the texts);
    # after a whole value Jackson stops reading, so what follows is ignored
    assert error_of(sfn.start_sync_execution, stateMachineArn=arn, input='{"a": 1,}') == (
        "InvalidExecutionInput", "Invalid State Machine Execution Input: 'Unexpected character ('}' (code 125)): "
        "was expecting double-quote to start field name'", 400)
    assert error_of(sfn.start_execution, stateMachineArn=arn, input="[1, 2") == (
        "InvalidExecutionInput", "Invalid State Machine Execution Input: 'Unexpected end-of-input: expected close "
        "marker for Array (start marker at [Source: (String)\"[1, 2\"; line: 1, column: 1])'", 400)
    assert error_of(sfn.start_execution, stateMachineArn=arn, input="NaN")[1] == (
        "Invalid State Machine Execution Input: 'Non-standard token 'NaN': enable "
        "`JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` to allow'")
    assert json.loads(sfn.start_sync_execution(stateMachineArn=arn, input='{"a": 1} x')["input"]) == {"a": 1}
    assert sfn.validate_state_machine_definition(definition=PASS)["result"] == "OK"
    assert sfn.validate_state_machine_definition(definition="{}")["result"] == "FAIL"
    tested = sfn.test_state(definition=json.dumps({"Type": "Pass", "Result": 1, "End": True}), input="{}")
    assert tested["status"] == "SUCCEEDED" and tested["output"] == "1"
    assert error_of(sfn.test_state, definition=json.dumps({"Type": "Pass", "End": True}), input="01") == (
        "InvalidExecutionInput", "Invalid State Machine Execution Input: 'Invalid numeric value: Leading zeroes "
        "not allowed'", 400)
    code, message, _ = error_of(sfn.create_state_machine, name="bad", definition="{}", roleArn=ROLE)
    assert code == "InvalidDefinition" and message.startswith("Invalid State Machine Definition: 'SCHEMA_")


def test_start_sync_execution_answer_and_context(server):
    """AWS facts recorded by LocalStack's test_express_sync: a FAILED synchronous execution's
    answer still has outputDetails {"included": true} (test_base[BASE_RAISE_FAILURE]); the
    ``$$.Execution`` of a synchronous Express execution has no RedriveCount
    (test_query_runtime_memory), while an asynchronous one's has RedriveCount 0."""
    sfn = server.client()
    fail = machine({"F": {"Type": "Fail", "Error": "E", "Cause": "C"}}, "F")
    arn = sfn.create_state_machine(name="f", definition=fail, roleArn=ROLE, type="EXPRESS")["stateMachineArn"]
    result = sfn.start_sync_execution(stateMachineArn=arn, input="{}")
    assert (result["status"], result["error"], result["cause"]) == ("FAILED", "E", "C")
    assert result["outputDetails"] == {"included": True} and "output" not in result
    context = machine({"P": {"Type": "Pass", "Parameters": {"e.$": "$$.Execution"}, "End": True}}, "P")
    arn = sfn.create_state_machine(name="c", definition=context, roleArn=ROLE, type="EXPRESS")["stateMachineArn"]
    execution = json.loads(sfn.start_sync_execution(stateMachineArn=arn, input="{}")["output"])["e"]
    assert sorted(execution) == ["Id", "Input", "Name", "RoleArn", "StartTime"]
    # the server prepares synchronous executions apart: a Standard one started after it still has
    # RedriveCount 0 (recorded: LocalStack's test_express_async and Standard context-object snapshots)
    arn = sfn.create_state_machine(name="s", definition=context, roleArn=ROLE)["stateMachineArn"]
    started = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
    assert json.loads(wait_done(sfn, started)["output"])["e"]["RedriveCount"] == 0


def test_a_definition_is_json_text_never_a_file_of_the_server(server, tmp_path):
    """A definition naming a file, or a template pointing at one, is read as the text it is: a
    caller must not make the server read its files (AWS takes a definition's JSON text only)."""
    sfn = server.client()
    path = tmp_path / "valid.asl.json"
    path.write_text(PASS)
    comment = ("INVALID_JSON_DESCRIPTION: Unexpected character ('/' (code 47)): maybe a (non-standard) comment? "
               "(not recognized as one since Feature 'ALLOW_COMMENTS' not enabled for parser)")
    assert error_of(sfn.create_state_machine, name="file", definition=str(path), roleArn=ROLE) == (
        "InvalidDefinition", f"Invalid State Machine Definition: '{comment}'", 400)
    answer = sfn.validate_state_machine_definition(definition=str(path))
    assert (answer["result"], answer["diagnostics"][0]["code"]) == ("FAIL", "INVALID_JSON_DESCRIPTION")
    template = ("Resources:\n  M:\n    Type: AWS::Serverless::StateMachine\n    Properties:\n"
                f"      DefinitionUri: {path}\n")
    assert error_of(sfn.create_state_machine, name="tpl", definition=template, roleArn=ROLE)[1].startswith(
        "Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION: Unrecognized token 'Resources': ")
    assert sfn.list_state_machines()["stateMachines"] == []


def test_test_state_rules_through_boto3(server):
    """TestState's own rules, as boto3 meets them (the request goes through the model's validation first)."""
    sfn = server.client()
    task = json.dumps({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                       "Parameters": {"FunctionName": "f", "Payload.$": "$"}, "End": True})
    assert error_of(sfn.test_state, definition=task, input="{}") == (
        "ValidationException", "RoleArn must be specified when testing a Task state", 400)
    mocked = sfn.test_state(definition=task, input="{}", mock={"result": '{"Payload": "1"}'})  # a mock: no role needed
    assert (mocked["status"], mocked["output"]) == ("SUCCEEDED", '{"Payload": "1"}')
    assert error_of(sfn.test_state, definition=task, input="{}", mock={"result": '{"Payload": "1"}'},
                    revealSecrets=True) == ("ValidationException",
                                            "TestState does not support RevealSecrets when a mock is specified.", 400)
    assert sfn.test_state(definition=task, input="{}", mock={"result": '{"Payload": "1"}'},
                          revealSecrets=False)["status"] == "SUCCEEDED"
    picked = sfn.test_state(definition=json.dumps({"StartAt": "First", "States": {"First": {
        "Type": "Pass", "Parameters": {"name.$": "$$.State.Name"}, "End": True}}}), stateName="First")
    assert picked["output"] == '{"name":"StateName"}'  # AWS's $$ names the tested state StateName
    reader = json.dumps({"Type": "Map", "ToleratedFailureCount": 1, "End": True, "ItemReader": {
        "Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSONL"},
        "Parameters": {"Bucket": "b", "Key": "k"}}, "ItemProcessor": {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "Inner",
        "States": {"Inner": {"Type": "Pass", "End": True}}}})
    failed = sfn.test_state(definition=reader, mock={"errorOutput": {"error": "Boom", "cause": "c"}},
                            stateConfiguration={"mapItemReaderData": '{"a": 1}\n{"a": 2}\n{"a": 3}\n',
                                                "mapIterationFailureCount": 2, "errorCausedByState": "Inner"})
    assert (failed["status"], failed["error"]) == ("FAILED", "States.ExceedToleratedFailureThreshold")
    assert error_of(sfn.test_state, definition=reader, mock={"result": "[]"}, stateConfiguration={
        "mapIterationFailureCount": 1}) == ("ValidationException", "Map iteration failure count must be less than or "
                                                                  "equal to the number of Map iterations", 400)


def test_protocol_errors_are_aws_400s(server):
    import urllib.request

    def post(target: str | None, body: bytes) -> tuple[int, dict]:
        request = urllib.request.Request(server.endpoint, data=body, method="POST")
        request.add_header("Content-Type", "application/x-amz-json-1.0")
        if target:
            request.add_header("X-Amz-Target", target)
        try:
            with urllib.request.urlopen(request) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    assert post("AWSStepFunctions.Nope", b"{}")[0] == 400
    assert post("AWSStepFunctions.Nope", b"{}")[1]["__type"] == "UnknownOperationException"
    assert post("AWSStepFunctions.ListStateMachines", b"{not json") == \
        (400, {"__type": "SerializationException", "message": "Malformed JSON in the request body"})
    status, body = post("AWSStepFunctions.ListStateMachines", b'{"maxResults": "x"}')
    assert status == 400 and body["__type"] == "SerializationException"
    status, body = post("AWSStepFunctions.ListStateMachines", b"[]")
    assert status == 400
    status, body = post("AWSStepFunctions.CreateStateMachine", b"{}")
    assert status == 400 and body["message"].startswith("3 validation errors detected: Value null at 'name'")
    status, body = post("AWSStepFunctions.StartExecution", b'{"stateMachineArn": "' + b"a" * 3 * 1024 * 1024 + b'"}')
    assert status == 413 and body["__type"] == "ValidationException"
    sfn = server.client()
    code, message, status = error_of(sfn.list_executions, stateMachineArn="arn:aws:states:us-east-1:1:x:y",
                                     maxResults=1001)
    assert (code, status) == ("ValidationException", 400)
    assert message == ("1 validation error detected: Value '1001' at 'maxResults' failed to satisfy constraint: "
                       "Member must have value less than or equal to 1000")
    # a payload over 256 KiB of UTF-8 (here 280,002 bytes in 140,002 characters) is refused by the
    # model's constraint, before the state machine is looked up, in the words measured on AWS for
    # StartExecution; a sensitive member's value is never shown
    too_big = json.dumps("é" * 140_000)
    sized = ("1 validation error detected: Value at '{}' failed to satisfy constraint: Member must have size less "
             "than or equal to 262144 bytes in UTF-8 encoding")
    missing = "arn:aws:states:us-east-1:123456789012:stateMachine:none"
    for call, kwargs, member in ((sfn.start_execution, {"stateMachineArn": missing, "input": too_big}, "input"),
                                 (sfn.start_sync_execution, {"stateMachineArn": missing, "input": too_big}, "input"),
                                 (sfn.send_task_success, {"taskToken": "t", "output": too_big}, "output")):
        assert error_of(call, **kwargs) == ("ValidationException", sized.format(member), 400)
    # (recorded against AWS by a public client's tests)
    assert post("AWSStepFunctions.SendTaskSuccess", b'{"taskToken": "t"}') == (400, {
        "__type": "ValidationException",
        "message": "1 validation error detected: Value at 'output' failed to satisfy constraint: Member must not be null"})


def test_aws_cli(server):
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL_SFN": server.endpoint}
    aws = [sys.executable, "-m", "awscli"]
    created = subprocess.run([*aws, "stepfunctions", "create-state-machine", "--name", "cli", "--definition", PASS,
                              "--role-arn", ROLE], env=env, capture_output=True, text=True, timeout=60)
    assert created.returncode == 0, created.stderr
    arn = json.loads(created.stdout)["stateMachineArn"]
    listed = subprocess.run([*aws, "stepfunctions", "list-state-machines", "--endpoint-url", server.endpoint],
                            env=env, capture_output=True, text=True, timeout=60)
    assert [m["stateMachineArn"] for m in json.loads(listed.stdout)["stateMachines"]] == [arn]
    missing = subprocess.run([*aws, "stepfunctions", "describe-state-machine", "--state-machine-arn", arn + "x"],
                             env=env, capture_output=True, text=True, timeout=60)
    assert missing.returncode != 0 and "StateMachineDoesNotExist" in missing.stderr


SECONDS = 15  # long enough to kill the server inside the Wait and start another: on a loaded machine that took 8 s
LONG_WAIT = machine({"W": {"Type": "Wait", "Seconds": SECONDS, "Next": "P"},
                     "P": {"Type": "Pass", "Parameters": {"got.$": "$.x"}, "End": True}}, "W")
SHORT_WAIT = machine({"W": {"Type": "Wait", "Seconds": 1, "End": True}}, "W")


def stamps(client, arn: str) -> dict[str, float]:
    """Each event type's (first) timestamp in the history, as epoch seconds."""
    found: dict[str, float] = {}
    for e in client.get_execution_history(executionArn=arn)["events"]:
        found.setdefault(e["type"], e["timestamp"].timestamp())
    return found


def test_sigkill_and_restart_continues_a_waiting_execution(tmp_path):
    store = f"sqlite:{tmp_path / 'serve.db'}"
    first = Server(tmp_path, store).start()
    sfn = first.client()
    arn = sfn.create_state_machine(name="w", definition=LONG_WAIT, roleArn=ROLE)["stateMachineArn"]
    started = sfn.start_execution(stateMachineArn=arn, name="durable", input='{"x": 7}')["executionArn"]
    poll(lambda: "WaitStateEntered" in stamps(sfn, started), "the execution never got to its Wait")
    # A reference execution that ends before the kill: its end is a time, in the store, that is
    # at least 1 s after the Wait began and before the second server could take anything over.
    short = sfn.create_state_machine(name="short", definition=SHORT_WAIT, roleArn=ROLE)["stateMachineArn"]
    reference = sfn.start_execution(stateMachineArn=short)["executionArn"]
    assert wait_done(sfn, reference)["status"] == "SUCCEEDED"
    before_kill = stamps(sfn, reference)["ExecutionSucceeded"]
    assert "WaitStateExited" not in stamps(sfn, started)  # still inside the Wait
    first.stop(signal.SIGKILL)
    # the killed server's lease has not run out, but its process is gone: the next one takes over
    second = Server(tmp_path, store).start()
    try:
        sfn = second.client()
        done = wait_done(sfn, started)
        assert done["status"] == "SUCCEEDED" and json.loads(done["output"]) == {"got": 7}
        events = sfn.get_execution_history(executionArn=started)["events"]
        assert [e["type"] for e in events] == ["ExecutionStarted", "WaitStateEntered", "WaitStateExited",
                                              "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]
        assert [e["id"] for e in events] == [1, 2, 3, 4, 5, 6]
        # the machine survived the restart too (migration 2: resources)
        assert sfn.describe_state_machine(stateMachineArn=arn)["name"] == "w"
        # The Wait kept its recorded deadline: it ended SECONDS after it began (never earlier,
        # history timestamps are in milliseconds), not SECONDS after the restart (which came
        # after the reference execution ended).
        at = stamps(sfn, started)
        assert at["WaitStateExited"] >= at["WaitStateEntered"] + SECONDS - 0.001
        assert at["WaitStateExited"] < before_kill + SECONDS
    finally:
        assert second.stop() == 0


def test_port_zero_takes_a_free_port_and_says_which_and_a_taken_port_is_one_line(tmp_path):
    import re

    proc = subprocess.Popen([*ASL, "serve", "--port", "0", "--store", "memory"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stderr.readline()
        port = int(re.search(r"on http://127\.0\.0\.1:(\d+) ", first).group(1))
        assert port != 0
        client = boto3.client("stepfunctions", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                              aws_access_key_id="test", aws_secret_access_key="test")
        assert poll(lambda: _answers(client), "asl serve --port 0 never answered")
        taken = subprocess.run([*ASL, "serve", "--port", str(port), "--store", "memory"], cwd=tmp_path,
                               capture_output=True, text=True, timeout=60)
        assert taken.returncode == 2 and "Traceback" not in taken.stderr
        assert taken.stderr.strip().splitlines()[-1].startswith(f"asl serve: cannot listen on 127.0.0.1:{port}: ")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    assert proc.returncode == 0


def test_a_postgresql_store_that_cannot_be_opened_is_refused_before_serving(tmp_path):
    """A database that refuses the connection: what psycopg says, after the URL (its password
    hidden), exit 2, before any banner (nothing is served)."""
    from support.postgres import free_port

    port = free_port()
    for command in ("serve", "console"):
        refused = subprocess.run([*ASL, command, "--port", "0", "--store",
                                  f"postgresql://me:secret@127.0.0.1:{port}/x?connect_timeout=5"],
                                 cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stderr
        assert refused.stderr.startswith(f"asl {command}: cannot open postgresql://me:***@127.0.0.1:{port}/x"), \
            refused.stderr
        assert "Connection refused" in refused.stderr and "secret" not in refused.stderr
        assert "http://" not in refused.stderr and "ERROR" not in refused.stderr


def _answers(client) -> bool:
    try:
        return client.list_state_machines()["stateMachines"] == []
    except Exception:  # not listening yet
        return False


def test_sigterm_stops_cleanly(tmp_path):
    srv = Server(tmp_path, "memory").start()
    assert srv.stop(signal.SIGTERM) == 0


def test_sigterm_at_the_first_connection_stops_cleanly(tmp_path):
    """The port takes connections only once the server handles SIGTERM: a supervisor that
    stops it as soon as it answers the door gets a clean stop (exit 0), not death by signal."""
    port = free_port()
    proc = subprocess.Popen([*ASL, "serve", "--port", str(port), "--store", "memory"], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.001)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err


def test_test_state_takes_a_given_context_as_the_whole_context_object(server):
    """AWS's recordings: LocalStack test_state_context_object.py::TestStateContextObject::
    test_state_context_object_edge_cases[EMPTY] ($$ of an empty context is {}, no State added) and
    ::test_state_wait_task_context_object (a given Task.Token is the token the state sends)."""
    sfn = server.client()
    echo = json.dumps({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                       "Parameters": {"FunctionName": "f", "Payload.$": "$"},
                       "ResultSelector": {"ctx.$": "$$"}, "End": True})
    empty = sfn.test_state(definition=echo, input="{}", context="{}", mock={"result": '{"Payload": "0"}'})
    assert json.loads(empty["output"]) == {"ctx": {}}
    waiting = json.dumps({"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                          "Parameters": {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/q",
                                         "MessageBody": {"TaskToken.$": "$$.Task.Token"}}, "End": True})
    context = {"Execution": {"Id": "arn:aws:states:::execution:M:e", "Name": "e"}, "Task": {"Token": "tok-1"}}
    sent = sfn.test_state(definition=waiting, input="{}", context=json.dumps(context), inspectionLevel="DEBUG",
                          mock={"result": '{"done": true}'})
    assert json.loads(sent["inspectionData"]["afterParameters"])["MessageBody"] == {"TaskToken": "tok-1"}
    # without a context, the state still gets a token of its own and $$.State
    own = sfn.test_state(definition=waiting, input="{}", inspectionLevel="DEBUG", mock={"result": "{}"})
    assert json.loads(own["inspectionData"]["afterParameters"])["MessageBody"]["TaskToken"] not in ("", "tok-1")


def test_test_state_context_names_a_new_machine_and_ends_its_id_with_the_name(server):
    """AWS's recordings: LocalStack test_test_state_scenarios.py::TestStateCaseScenarios::
    test_state_task_catch_error[INFO] (snapshot test_test_state_scenarios.snapshot.json, two calls):
    $$.Execution.Id is ``arn:…:express:<machine>:<name>`` with Name ``<name>``, $$.StateMachine.Id
    ``arn:…:stateMachine:<machine>``, and the second call's <machine> differs from the first's (the
    snapshot's resource-name transformer numbered them <resource:3> and <resource:5>; a machine
    called "StateMachine" would have renamed the "StateMachine" key too, which it did not).
    ::test_base_map_state_inspect[TOLERATED_FAILURE_PERCENTAGE-DEBUG]: ToleratedFailurePercentage
    {% 1 %} is inspectionData.toleratedFailurePercentage 1.0, a Double."""
    sfn = server.client()
    echo = json.dumps({"Type": "Pass", "Parameters": {"ctx.$": "$$"}, "End": True})
    contexts = [json.loads(sfn.test_state(definition=echo, input="{}", roleArn=ROLE)["output"])["ctx"]
                for _ in range(2)]
    for ctx in contexts:
        machine_name = ctx["StateMachine"]["Name"]
        assert machine_name != "StateMachine"
        assert ctx["StateMachine"]["Id"] == f"arn:aws:states:us-east-1:123456789012:stateMachine:{machine_name}"
        assert ctx["Execution"]["Id"] == \
            f"arn:aws:states:us-east-1:123456789012:express:{machine_name}:{ctx['Execution']['Name']}"
    assert contexts[0]["StateMachine"]["Name"] != contexts[1]["StateMachine"]["Name"]
    mapped = json.dumps({"Type": "Map", "QueryLanguage": "JSONata", "ToleratedFailurePercentage": "{% 1 %}",
                         "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
                         "End": True})
    inspected = sfn.test_state(definition=mapped, input="[1, 2]", roleArn=ROLE, inspectionLevel="DEBUG",
                               mock={"result": "[1, 2]"})
    percentage = inspected["inspectionData"]["toleratedFailurePercentage"]
    assert percentage == 1.0 and isinstance(percentage, float)


# Recorded AWS cases (../shared/conformance/service), replayed by its reference runner.
# Each expected failure: case name prefix -> one-line reason (none today: every case passes).
EXPECTED_FAILURES: dict[str, str] = {}


@pytest.mark.skipif(not (SHARED / "conformance" / "service" / "run_cases.py").exists(),
                    reason="../shared/conformance/service not found")
def test_service_conformance(server, tmp_path):
    from support.service_cases import replay, unexpected

    stdout, failed = replay(SHARED, server.endpoint, "test-state,api", tmp_path)
    assert not unexpected(failed, EXPECTED_FAILURES), unexpected(failed, EXPECTED_FAILURES)
    print(stdout.strip().splitlines()[-1])


LAMBDA = machine({"Call": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:Double",
                           "End": True}}, "Call")


def test_tasks_run_in_the_region_of_the_server(tmp_path):
    """A Task's TaskScheduled names the region of its state machine (raw AWS capture,
    radkawar/stackd testdata/aws/stepfunctions/tracing_workflows.json, sequence-final-history-0:
    "region": "us-west-2" for a machine in us-west-2), after a redrive too."""
    (tmp_path / "handlers.py").write_text(
        "import pathlib\n"
        "from asl.engine import Handlers, TaskFailed\n"
        "handlers = Handlers()\n"
        "@handlers.lambda_function('Double')\n"
        "def double(event):\n"
        "    if not pathlib.Path('fixed').exists():\n"
        "        raise TaskFailed('Bad', 'not yet')\n"
        "    return event\n")
    srv = Server(tmp_path, "memory", "--handlers", "handlers.py", "--region", "us-west-2").start()
    try:
        sfn = srv.client()
        definition = machine({"Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                                       "Parameters": {"FunctionName": "Double", "Payload.$": "$"}, "End": True}}, "Call")
        arn = sfn.create_state_machine(name="lam", definition=definition, roleArn=ROLE)["stateMachineArn"]
        run = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
        assert wait_done(sfn, run)["status"] == "FAILED"
        (tmp_path / "fixed").touch()
        sfn.redrive_execution(executionArn=run)
        assert wait_done(sfn, run)["status"] == "SUCCEEDED"
        events = sfn.get_execution_history(executionArn=run)["events"]
        assert [e["taskScheduledEventDetails"]["region"] for e in events if e["type"] == "TaskScheduled"] == \
            ["us-west-2", "us-west-2"]
    finally:
        srv.stop()


def test_handlers_mock_config_stop_and_redrive(tmp_path):
    (tmp_path / "handlers.py").write_text(
        "from asl.engine import Handlers, TaskFailed\n"
        "handlers = Handlers()\n"
        "@handlers.lambda_function('Double')\n"
        "def double(event):\n"
        "    if event.get('fail'):\n"
        "        raise TaskFailed('Bad', 'asked to fail')\n"
        "    return {'n': event['n'] * 2}\n")
    (tmp_path / "mocks.json").write_text(json.dumps({
        "StateMachines": {"lam": {"TestCases": {"Mocked": {"Call": "Ten"}}}},
        "MockedResponses": {"Ten": {"0": {"Return": {"n": 10}}}}}))
    srv = Server(tmp_path, "memory", "--handlers", "handlers.py", "--mock-config", "mocks.json").start()
    try:
        sfn = srv.client()
        arn = sfn.create_state_machine(name="lam", definition=LAMBDA, roleArn=ROLE)["stateMachineArn"]
        run = sfn.start_execution(stateMachineArn=arn, input='{"n": 4}')
        assert json.loads(wait_done(sfn, run["executionArn"])["output"]) == {"n": 8}
        mocked = sfn.start_execution(stateMachineArn=arn + "#Mocked", name="m", input='{"n": 4}')
        assert mocked["executionArn"].endswith(":execution:lam:m")  # no '#case' in the ARN
        assert json.loads(wait_done(sfn, mocked["executionArn"])["output"]) == {"n": 10}
        failed = sfn.start_execution(stateMachineArn=arn, name="f", input='{"n": 1, "fail": true}')
        described = wait_done(sfn, failed["executionArn"])
        assert (described["status"], described["error"], described["cause"]) == ("FAILED", "Bad", "asked to fail")
        assert described["redriveStatus"] == "REDRIVABLE"
        sfn.redrive_execution(executionArn=failed["executionArn"])
        assert wait_done(sfn, failed["executionArn"])["status"] == "FAILED"  # the handler fails again
        assert sfn.describe_execution(executionArn=failed["executionArn"])["redriveCount"] == 1
        # ListExecutions' redriveFilter goes with a Map Run only: with a state machine ARN AWS refuses
        # it (raw AWS capture, radkawar/stackd testdata/aws/stepfunctions/redrive_execution.json,
        # 01-sequence-redriven-list; the API model says so too)
        assert error_of(sfn.list_executions, stateMachineArn=arn, redriveFilter="REDRIVEN") == (
            "ValidationException", "RedriveFilter cannot be applied to ListExecutions call with StateMachine ARN", 400)
        waiting = sfn.create_state_machine(name="w", definition=machine(
            {"W": {"Type": "Wait", "Seconds": 60, "End": True}}, "W"), roleArn=ROLE)["stateMachineArn"]
        started = sfn.start_execution(stateMachineArn=waiting, name="s")
        sfn.stop_execution(executionArn=started["executionArn"], error="Why", cause="because")
        stopped = sfn.describe_execution(executionArn=started["executionArn"])
        assert (stopped["status"], stopped["error"], stopped["cause"]) == ("ABORTED", "Why", "because")
        last = sfn.get_execution_history(executionArn=started["executionArn"], reverseOrder=True)["events"][0]
        assert last["type"] == "ExecutionAborted"
        assert last["executionAbortedEventDetails"] == {"error": "Why", "cause": "because"}
    finally:
        srv.stop()


def test_aws_sdk_lambda_invoke_served_by_a_handler_answers_lambdas_invoke_response(tmp_path):
    """asl serve with a local handler for ``aws-sdk:lambda:invoke``: DescribeExecution's output is
    Lambda's Invoke response as AWS wrote it, the Payload the function's body as text, and a
    function that raised leaves the execution SUCCEEDED with FunctionError Unhandled (raw AWS
    capture radkawar/stackd testdata/aws/stepfunctions/lambda_integrations.json
    describe-sdk-payload-object-0, describe-sdk-function-error-object-0)."""
    (tmp_path / "handlers.py").write_text(
        "from asl.engine import Handlers\n"
        "handlers = Handlers()\n"
        "class ExplicitProbeError(Exception):\n"
        "    pass\n"
        "@handlers.lambda_function('probe')\n"
        "def probe(event, context):\n"
        "    if isinstance(event, dict) and event.get('raise_error'):\n"
        "        raise ExplicitProbeError('explicit native probe failure')\n"
        "    return {'received': event, 'python_type': type(event).__name__, 'unicode': 'snowman \\u2603'}\n")
    definition = machine({"Sdk": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:lambda:invoke",
                                  "Parameters": {"FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:probe",
                                                 "Payload.$": "$.payload"}, "End": True}}, "Sdk")
    srv = Server(tmp_path, "memory", "--handlers", "handlers.py").start()
    try:
        sfn = srv.client()
        arn = sfn.create_state_machine(name="sdk", definition=definition, roleArn=ROLE)["stateMachineArn"]
        run = sfn.start_execution(stateMachineArn=arn, input=json.dumps(
            {"payload": {"marker": "sdk-object", "value": [1, True, None, "snowman \u2603"]}}))
        described = wait_done(sfn, run["executionArn"])
        assert described["output"] == (
            '{"ExecutedVersion":"$LATEST","Payload":"{\\"received\\": {\\"marker\\": \\"sdk-object\\", '
            '\\"value\\": [1, true, null, \\"snowman \u2603\\"]}, \\"python_type\\": \\"dict\\", '
            '\\"unicode\\": \\"snowman \u2603\\"}","StatusCode":200}')
        failing = sfn.start_execution(stateMachineArn=arn, input='{"payload": {"raise_error": true}}')
        described = wait_done(sfn, failing["executionArn"])
        assert described["status"] == "SUCCEEDED"
        out = json.loads(described["output"])
        assert (list(out), out["FunctionError"]) == (["ExecutedVersion", "FunctionError", "Payload", "StatusCode"],
                                                     "Unhandled")
        assert json.loads(out["Payload"])["errorType"] == "ExplicitProbeError"
    finally:
        srv.stop()


def test_a_stored_definition_that_fails_this_versions_checks_is_refused_as_invalid(tmp_path):
    """A definition stored by an earlier version that took it (here: a ResultPath naming a
    variable, refused since) cannot run: StartExecution and StartSyncExecution answer AWS's
    InvalidDefinition with the diagnostic and the way out, not an internal failure, and
    UpdateStateMachine mends it."""
    import sqlite3

    srv = Server(tmp_path, f"sqlite:{tmp_path / 's.db'}").start()
    try:
        sfn = srv.client()
        arn = sfn.create_state_machine(name="m", definition=machine(
            {"P": {"Type": "Pass", "ResultPath": "$.r", "End": True}}, "P"), roleArn=ROLE,
            type="EXPRESS")["stateMachineArn"]
    finally:
        srv.stop()
    with sqlite3.connect(tmp_path / "s.db") as db:  # as an earlier version would have stored it
        (doc,) = db.execute("SELECT doc FROM resources WHERE arn = ?", (arn,)).fetchone()
        doc = json.loads(doc)
        doc["definition"] = doc["definition"].replace('"$.r"', '"$r"')
        db.execute("UPDATE resources SET doc = ? WHERE arn = ?", (json.dumps(doc), arn))
    srv = Server(tmp_path, f"sqlite:{tmp_path / 's.db'}").start()
    try:
        sfn = srv.client()
        for call in (sfn.start_execution, sfn.start_sync_execution):
            code, message, status = error_of(call, stateMachineArn=arn, input="{}")
            assert (code, status) == ("InvalidDefinition", 400)
            assert message.startswith("Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: ")
            assert "/States/P/ResultPath" in message and "UpdateStateMachine" in message
        sfn.update_state_machine(stateMachineArn=arn, definition=machine(
            {"P": {"Type": "Pass", "ResultPath": "$.r", "End": True}}, "P"))
        assert sfn.start_sync_execution(stateMachineArn=arn, input="{}")["output"] == '{"r":{}}'
    finally:
        srv.stop()


def test_start_date_and_execution_started_are_one_instant(server):
    """StartExecution's startDate, DescribeExecution's and the ExecutionStarted event's timestamp
    name the same millisecond (the record and the event were stamped apart: 1 ms later now and
    then, in about one start in five)."""
    sfn = server.client()
    arn = sfn.create_state_machine(name="m", definition=PASS, roleArn=ROLE)["stateMachineArn"]
    for _ in range(30):
        started = sfn.start_execution(stateMachineArn=arn)
        described = sfn.describe_execution(executionArn=started["executionArn"])
        first = sfn.get_execution_history(executionArn=started["executionArn"], maxResults=1)["events"][0]
        assert first["type"] == "ExecutionStarted"
        assert started["startDate"] == described["startDate"] == first["timestamp"]


def test_an_express_start_date_and_its_execution_started_are_one_instant(server):
    """So too for an Express execution, which the API keeps no record of: StartExecution's
    startDate and its ExecutionStarted event's timestamp (the console's page, which the server
    keeps it for) name the same millisecond."""
    import math
    import urllib.parse
    import urllib.request

    sfn = server.client()
    arn = sfn.create_state_machine(name="quick", definition=PASS, roleArn=ROLE, type="EXPRESS")["stateMachineArn"]

    def millis(seconds: float) -> int:
        return math.floor(round(seconds * 1000, 3))
    for _ in range(30):
        started = sfn.start_execution(stateMachineArn=arn)
        query = urllib.parse.urlencode({"arn": started["executionArn"]})
        with urllib.request.urlopen(f"{server.endpoint}/console/api/execution?{query}") as answer:
            page = json.loads(answer.read())
        assert page["events"][0]["type"] == "ExecutionStarted"
        assert millis(started["startDate"].timestamp()) == millis(page["events"][0]["timestamp"]) \
            == millis(page["execution"]["startDate"])


def test_a_timed_out_execution_is_described_without_error_or_cause(server):
    """AWS's DescribeExecution of an execution that reached the machine's TimeoutSeconds answers
    status TIMED_OUT with no error and no cause (recorded on AWS: LocalStack
    timeouts/test_timeouts.snapshot.json, test_global_timeout: a 60-second Wait under
    "TimeoutSeconds": 5)."""
    sfn = server.client()
    definition = json.dumps({"TimeoutSeconds": 1, "StartAt": "W",
                             "States": {"W": {"Type": "Wait", "Seconds": 60, "End": True}}})
    arn = sfn.create_state_machine(name="t", definition=definition, roleArn=ROLE)["stateMachineArn"]
    started = sfn.start_execution(stateMachineArn=arn, name="e")["executionArn"]
    described = wait_done(sfn, started)
    assert described["status"] == "TIMED_OUT"
    assert "error" not in described and "cause" not in described
    assert described["redriveCount"] == 0 and described["redriveStatus"] == "REDRIVABLE"
