"""StartExecution's acknowledgement, identity and labelled ARNs, on a real `asl serve` process
driven by boto3 (and the AWS CLI)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading

import pytest
from botocore.exceptions import ClientError

# boto3: skips without it; server: the fixture (a server on a memory store)
from test_service import ROLE, Server, boto3, error_of, machine, server, wait_done  # noqa: F401

PASSES = machine({"A": {"Type": "Pass", "Result": 1, "ResultPath": "$.a", "Next": "B"},
                  "B": {"Type": "Pass", "Parameters": {"a.$": "$.a", "role.$": "$$.Execution.RoleArn"},
                        "End": True}}, "A")
WAIT = machine({"W": {"Type": "Wait", "Seconds": 3, "End": True}}, "W")
HOLD = machine({"W": {"Type": "Wait", "Seconds": 3600, "End": True}}, "W")  # runs until stopped
DISTRIBUTED = json.dumps({"StartAt": "M", "QueryLanguage": "JSONPath", "States": {"M": {
    "Type": "Map", "Label": "Fan", "End": True,
    "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                      "StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}}}})


@pytest.fixture
def sqlite_server(tmp_path):
    srv = Server(tmp_path, f"sqlite:{tmp_path / 'runs.db'}").start()
    yield srv
    if srv.proc.poll() is None:
        srv.stop()


def test_an_acknowledged_start_survives_sigkill(tmp_path):
    """What StartExecution acknowledged is on disk: killed right after the answers, the next
    server has every execution, finished with its whole history or resumed to its end."""
    store = f"sqlite:{tmp_path / 'runs.db'}"
    first = Server(tmp_path, store).start()
    sfn = first.client()
    quick = sfn.create_state_machine(name="quick", definition=PASSES, roleArn=ROLE)["stateMachineArn"]
    slow = sfn.create_state_machine(name="slow", definition=WAIT, roleArn=ROLE)["stateMachineArn"]
    arns = [sfn.start_execution(stateMachineArn=quick, name=f"q{i}", input='{"x": 1}')["executionArn"]
            for i in range(10)]
    waiting = sfn.start_execution(stateMachineArn=slow, name="w")["executionArn"]
    first.stop(signal.SIGKILL)
    second = Server(tmp_path, store).start()
    try:
        sfn = second.client()
        for arn in arns:
            done = wait_done(sfn, arn)
            assert done["status"] == "SUCCEEDED"
            assert json.loads(done["output"]) == {"a": 1, "role": ROLE}
            events = sfn.get_execution_history(executionArn=arn)["events"]
            assert [e["type"] for e in events] == ["ExecutionStarted", "PassStateEntered", "PassStateExited",
                                                  "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]
            assert [e["id"] for e in events] == [1, 2, 3, 4, 5, 6]
        done = wait_done(sfn, waiting)
        assert done["status"] == "SUCCEEDED"
        assert [e["type"] for e in sfn.get_execution_history(executionArn=waiting)["events"]] == [
            "ExecutionStarted", "WaitStateEntered", "WaitStateExited", "ExecutionSucceeded"]
    finally:
        assert second.stop() == 0


def test_concurrent_starts_with_one_name(sqlite_server):
    """AWS: the same name and input while the first runs return its ARN; another input is
    ExecutionAlreadyExists; only one execution exists."""
    sfn = sqlite_server.client(max_pool_connections=40)
    # the execution runs until the test stops it: every start arrives while it is RUNNING, however slow
    # the machine is (a 3 s Wait could end before the last of 30 starts on a loaded machine)
    arn = sfn.create_state_machine(name="idem", definition=HOLD, roleArn=ROLE)["stateMachineArn"]
    barrier = threading.Barrier(30)
    answers: dict[str, list] = {'{"k": 1}': [], '{"k": 2}': []}

    def start(value: str) -> None:
        barrier.wait()
        try:
            answers[value].append(sfn.start_execution(stateMachineArn=arn, name="same", input=value)["executionArn"])
        except ClientError as exc:
            answers[value].append(exc.response["Error"]["Code"])
    threads = [threading.Thread(target=start, args=('{"k": 1}' if i < 20 else '{"k": 2}',)) for i in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expected = "arn:aws:states:us-east-1:123456789012:execution:idem:same"
    # whichever input came first won: every call with it got the ARN, every other call was refused
    winner = '{"k": 1}' if expected in answers['{"k": 1}'] else '{"k": 2}'
    loser = '{"k": 2}' if winner == '{"k": 1}' else '{"k": 1}'
    assert set(answers[winner]) == {expected} and set(answers[loser]) == {"ExecutionAlreadyExists"}
    assert [e["name"] for e in sfn.list_executions(stateMachineArn=arn)["executions"]] == ["same"]
    sfn.stop_execution(executionArn=expected)


def test_execution_started_names_role_version_and_alias(server):
    """ExecutionStarted carries the machine's roleArn (AWS's recorded histories in
    ../shared/conformance/service show the creating role there) and, per the API model's
    ExecutionStartedEventDetails, the version and alias ARNs the execution was started through."""
    sfn = server.client()
    role = "arn:aws:iam::123456789012:role/service-role/my-machine-role"
    created = sfn.create_state_machine(name="who", definition=PASSES, roleArn=role, publish=True)
    version = created["stateMachineVersionArn"]
    alias = sfn.create_state_machine_alias(name="live", routingConfiguration=[
        {"stateMachineVersionArn": version, "weight": 100}])["stateMachineAliasArn"]
    plain = sfn.start_execution(stateMachineArn=created["stateMachineArn"])["executionArn"]
    by_version = sfn.start_execution(stateMachineArn=version)["executionArn"]
    by_alias = sfn.start_execution(stateMachineArn=alias)["executionArn"]

    def started(arn: str) -> dict:
        wait_done(sfn, arn)
        return sfn.get_execution_history(executionArn=arn)["events"][0]["executionStartedEventDetails"]
    assert started(plain) == {"input": "{}", "inputDetails": {"truncated": False}, "roleArn": role}
    assert started(by_version) == {"input": "{}", "inputDetails": {"truncated": False}, "roleArn": role,
                                   "stateMachineVersionArn": version}
    assert started(by_alias) == {"input": "{}", "inputDetails": {"truncated": False}, "roleArn": role,
                                 "stateMachineVersionArn": version, "stateMachineAliasArn": alias}
    # DescribeStateMachineForExecution names the machine itself, not the version or alias it ran
    # (AWS, recorded: LocalStack's test_sfn_api_versioning::test_describe_state_machine_for_execution_of_version)
    for arn in (plain, by_version, by_alias):
        assert sfn.describe_state_machine_for_execution(executionArn=arn)["stateMachineArn"] == \
            created["stateMachineArn"]
    # $$.Execution.RoleArn is that role too
    assert json.loads(sfn.describe_execution(executionArn=plain)["output"]) == {"a": 1, "role": role}


def test_labelled_processor_arn(server):
    """`…:stateMachine:{machine}/{label}` names a Distributed Map's item processor: DescribeStateMachine
    shows it with its label (API model: DescribeStateMachineOutput.label); StartExecution,
    UpdateStateMachine and DeleteStateMachine refuse it (ValidationException, reason
    API_DOES_NOT_SUPPORT_LABELED_ARNS in the model's enum)."""
    sfn = server.client()
    arn = sfn.create_state_machine(name="fan", definition=DISTRIBUTED, roleArn=ROLE)["stateMachineArn"]
    described = sfn.describe_state_machine(stateMachineArn=arn + "/Fan")
    assert described["label"] == "Fan" and described["stateMachineArn"] == arn + "/Fan"
    assert json.loads(described["definition"]) == {
        "QueryLanguage": "JSONPath", "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
        "StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    assert described["type"] == "STANDARD" and described["roleArn"] == ROLE
    assert error_of(sfn.describe_state_machine, stateMachineArn=arn + "/Other")[0] == "StateMachineDoesNotExist"
    with pytest.raises(ClientError) as info:
        sfn.start_execution(stateMachineArn=arn + "/Fan")
    refused = info.value.response
    assert refused["Error"]["Code"] == "ValidationException"
    assert refused["reason"] == "API_DOES_NOT_SUPPORT_LABELED_ARNS"
    # so do UpdateStateMachine and DeleteStateMachine (API model: "If you provide a qualified state
    # machine ARN that refers to a Distributed Map state, the request fails with ValidationException")
    for call, kwargs in ((sfn.update_state_machine, {"roleArn": ROLE + "2"}), (sfn.delete_state_machine, {})):
        with pytest.raises(ClientError) as info:
            call(stateMachineArn=arn + "/Fan", **kwargs)
        assert (info.value.response["Error"]["Code"], info.value.response["reason"]) == \
            ("ValidationException", "API_DOES_NOT_SUPPORT_LABELED_ARNS")
    assert sfn.describe_state_machine(stateMachineArn=arn)["roleArn"] == ROLE  # neither touched the machine
    # the Map Runs' processor ARN is the one DescribeStateMachine takes
    execution = sfn.start_execution(stateMachineArn=arn, input="[1, 2]")["executionArn"]
    assert wait_done(sfn, execution)["status"] == "SUCCEEDED"
    runs = sfn.list_map_runs(executionArn=execution)["mapRuns"]
    assert [r["stateMachineArn"] for r in runs] == [arn + "/Fan"]
    # and the AWS CLI reads it alike
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL_SFN": server.endpoint}
    shown = subprocess.run([sys.executable, "-m", "awscli", "stepfunctions", "describe-state-machine",
                            "--state-machine-arn", arn + "/Fan"], env=env, capture_output=True, text=True,
                           timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["label"] == "Fan"


def test_a_killed_process_not_yet_reaped_holds_no_lease():
    """A server killed with -9 whose parent has not reaped it yet (a zombie, as under a
    container's init that reaps late) still answers kill(pid, 0): it is dead all the same, so
    the next server takes its executions over at once instead of when their lease runs out."""
    import socket

    from asl.engine.stores import _this_host, owner_has_died
    from support.polling import poll

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    owner = f"{_this_host()}:{child.pid}:a1b2c3"
    try:
        assert not owner_has_died(owner)  # alive
        child.kill()  # not waited for: a zombie until child.wait() below
        poll(lambda: owner_has_died(owner), "the killed, unreaped process was never seen dead", timeout=30)
        assert child.poll() is not None  # (reaped only now)
        # a process of this host name but of other process ids (another container): not ours to judge
        assert not owner_has_died(f"{socket.gethostname()}/pid-ns-1:{child.pid}:a1b2c3")
    finally:
        child.kill()
        child.wait()


def test_an_execution_that_cannot_be_resumed_is_said_once_and_can_be_stopped(tmp_path):
    """The server was killed in a Wait; its definition in the store was changed meanwhile, so the
    journal no longer fits it: the next server says once that it cannot resume it (not at every
    poll), the execution stays RUNNING, and StopExecution ends it."""
    import sqlite3
    import time

    store = f"sqlite:{tmp_path / 'runs.db'}"
    first = Server(tmp_path, store).start()
    sfn = first.client()
    held = sfn.create_state_machine(name="held", definition=HOLD, roleArn=ROLE)["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=held, name="h")["executionArn"]
    first.stop(signal.SIGKILL)
    with sqlite3.connect(tmp_path / "runs.db") as db:  # (the journal names a state "W" the definition lacks)
        db.execute("UPDATE executions SET definition = ? WHERE arn = ?",
                   (machine({"X": {"Type": "Wait", "Seconds": 3600, "End": True}}, "X"), arn))
    second = Server(tmp_path, store, "--poll", "0.1").start()
    try:
        sfn = second.client()
        time.sleep(1.5)  # (15 polls)
        assert sfn.describe_execution(executionArn=arn)["status"] == "RUNNING"
        sfn.stop_execution(executionArn=arn, error="Gone", cause="its definition changed")
        assert sfn.describe_execution(executionArn=arn)["status"] == "ABORTED"
    finally:
        second.proc.send_signal(signal.SIGTERM)
        out = second.proc.communicate(timeout=15)[0]
    said = [line for line in out.splitlines() if arn in line]
    assert len(said) == 1, out
    assert said[0] == f"asl serve: execution {arn} stopped advancing: event 2 (WaitStateEntered 'W') does not " \
        "fit the definition: here the machine records WaitStateEntered 'X' (it stays RUNNING: StopExecution ends it)"
