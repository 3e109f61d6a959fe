"""Execution logs (asl.engine.execlog) in the shape Step Functions writes to CloudWatch Logs: the
fields of AWS's log events, the event types of each level (AWS's "Log levels" table), the data
left out without includeExecutionData, a real CloudWatch Logs group (moto's server), `asl run`'s
options and `asl serve`'s loggingConfiguration."""
from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import time

import pytest

import asl
from asl.engine import prepare, run_sync
from asl.engine.execlog import (CloudWatchDestination, ExecutionLog, FileDestination, StreamDestination, logged_at,
                                log_group_name)
from conftest import SAMPLES
from samples_support import sample_handlers

ORDER = SAMPLES / "order" / "order.json"

# Log events as Step Functions wrote them to CloudWatch Logs (raw AWS capture, radkawar/stackd
# testdata/aws/stepfunctions/observability.json, its collected "logs": a Standard execution's first
# event, and the ExecutionAborted of "standard-all-data-abort"). Every top-level value is a string
# but `details`, which holds the history event's details as GetExecutionHistory gives them (data
# as JSON text), its keys in alphabetical order. (An older Express event kept in the Datadog
# forwarder's tests has the same fields in the order id, type, details, ...: the capture, newer and
# unmodified, wins.)
AWS_EXAMPLE = {
    "details": {"input": "{\"case\":\"standard-all-data-pass\",\"payload\":{\"visible\":true,\"number\":42},"
                         "\"unicode\":\"native-\\u03bb\"}",
                "inputDetails": {"truncated": False},
                "roleArn": "arn:aws:iam::000000000000:role/sd-sfn-obs-b2f1172ce2-execution"},
    "redrive_count": "0", "id": "1", "type": "ExecutionStarted", "previous_event_id": "0",
    "event_timestamp": "1790201709856",
    "execution_arn": "arn:aws:states:us-west-2:000000000000:execution:sd-sfn-obs-b2f1172ce2-standard:standard-all-data-pass"}
AWS_ABORTED = {"details": {"cause": "Owned observability abort", "error": "ProbeAbort"}, "redrive_count": "0", "id": "3",
               "type": "ExecutionAborted", "previous_event_id": "0", "event_timestamp": "1790201726146",
               "execution_arn": "arn:aws:states:us-west-2:000000000000:execution:sd-sfn-obs-b2f1172ce2-standard:"
                                "standard-all-data-abort"}

# AWS's "Log levels" table (Step Functions developer guide): the event types ERROR and FATAL log.
ERROR_TABLE = {"ExecutionAborted", "ExecutionFailed", "ExecutionTimedOut", "FailStateEntered", "LambdaFunctionFailed",
               "LambdaFunctionScheduleFailed", "LambdaFunctionStartFailed", "LambdaFunctionTimedOut",
               "MapIterationAborted", "MapIterationFailed", "MapStateAborted", "MapStateFailed",
               "ParallelStateAborted", "ParallelStateFailed", "TaskFailed", "TaskStartFailed", "TaskStateAborted",
               "TaskSubmitFailed", "TaskTimedOut", "WaitStateAborted"}
FATAL_TABLE = {"ExecutionAborted", "ExecutionFailed", "ExecutionTimedOut"}
ALL_ONLY_TABLE = {"ChoiceStateEntered", "ChoiceStateExited", "ExecutionStarted", "ExecutionSucceeded",
                  "LambdaFunctionScheduled", "LambdaFunctionStarted", "LambdaFunctionSucceeded", "MapIterationStarted",
                  "MapIterationSucceeded", "MapStateEntered", "MapStateExited", "MapStateStarted", "MapStateSucceeded",
                  "ParallelStateEntered", "ParallelStateExited", "ParallelStateStarted", "ParallelStateSucceeded",
                  "PassStateEntered", "PassStateExited", "SucceedStateEntered", "SucceedStateExited", "TaskScheduled",
                  "TaskStarted", "TaskStateEntered", "TaskStateExited", "TaskSubmitted", "TaskSucceeded",
                  "WaitStateEntered", "WaitStateExited"}


@pytest.mark.parametrize("event_type", sorted(ERROR_TABLE | ALL_ONLY_TABLE))
def test_each_level_logs_the_event_types_of_awss_table(event_type):
    assert logged_at("ALL", event_type)
    assert logged_at("ERROR", event_type) is (event_type in ERROR_TABLE)
    assert logged_at("FATAL", event_type) is (event_type in FATAL_TABLE)
    assert not logged_at("OFF", event_type)


def run_order(level, include=False, input_name="input-declined.json"):
    out = io.StringIO()
    log = ExecutionLog(level, include, StreamDestination(out))
    result = run_sync(asl.load(ORDER), json.loads((SAMPLES / "order" / input_name).read_text()),
                      handlers=sample_handlers("order"), log=log)
    return result, [json.loads(line) for line in out.getvalue().splitlines()]


def test_a_log_event_has_the_fields_of_awss_in_its_order_and_types():
    result, logged = run_order("ALL", include=True)
    first = logged[0]
    assert list(first) == list(AWS_EXAMPLE)
    assert list(first["details"]) == list(AWS_EXAMPLE["details"])
    for key, value in AWS_EXAMPLE.items():
        assert type(first[key]) is type(value), key
    assert first["execution_arn"] == result.execution_arn and first["redrive_count"] == "0"
    assert json.loads(first["details"]["input"])["orderId"] == "order-1002"
    # a state's details sorted as AWS's (same capture: {"input","inputDetails","name"},
    # {"name","output","outputDetails"}), not in GetExecutionHistory's order
    entered = next(e for e in logged if e["type"] == "TaskStateEntered")
    exited = next(e for e in logged if e["type"] == "TaskStateExited")
    assert list(entered["details"]) == ["input", "inputDetails", "name"]
    assert list(exited["details"]) == ["name", "output", "outputDetails"]


def test_a_stopped_execution_logs_its_abort_as_aws_does():
    """ExecutionAborted's log event: its details {cause, error} in that order, previous_event_id 0
    (the capture's "standard-all-data-abort", level ALL with execution data)."""
    out = io.StringIO()
    log = ExecutionLog("ALL", True, StreamDestination(out))
    execution = prepare(asl.load({"StartAt": "ShortWait", "States": {
        "ShortWait": {"Type": "Wait", "Seconds": 10, "Next": "Pass"}, "Pass": {"Type": "Pass", "End": True}}}),
        {"case": "standard-all-data-abort"}, log=log, virtual_time=False)

    async def stopped():
        import anyio

        async with anyio.create_task_group() as group:
            group.start_soon(execution.run)
            await anyio.sleep(0.2)
            execution.stop("ProbeAbort", "Owned observability abort")
    __import__("anyio").run(stopped)
    logged = [json.loads(line, object_pairs_hook=list) for line in out.getvalue().splitlines()]
    aborted = dict(logged[-1])
    assert [key for key, _ in logged[-1]] == list(AWS_ABORTED)
    assert aborted["details"] == list(AWS_ABORTED["details"].items())
    assert (aborted["id"], aborted["type"], aborted["previous_event_id"]) == ("3", "ExecutionAborted", "0")


def test_all_logs_the_history_event_for_event():
    result, logged = run_order("ALL", include=True)
    events = result.history.events
    assert [e["type"] for e in logged] == [e["type"] for e in events]
    for line, event in zip(logged, events):
        assert line["id"] == str(event["id"]) and line["previous_event_id"] == str(event["previousEventId"])
        details = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
        assert line["details"] == details
        assert line["event_timestamp"].isdigit() and len(line["event_timestamp"]) == 13  # epoch milliseconds


def test_error_and_fatal_log_the_failures_only():
    _, error = run_order("ERROR")
    # the retried ConnectionError, the declined payment (caught), the Fail state, the execution
    assert [e["type"] for e in error] == ["TaskFailed", "TaskFailed", "FailStateEntered", "ExecutionFailed"]
    assert error[-1]["details"] == {"error": "Order.PaymentDeclined",
                                    "cause": "The payment was declined; the customer has been told."}
    _, fatal = run_order("FATAL")
    assert [e["type"] for e in fatal] == ["ExecutionFailed"]
    _, off = run_order("OFF")
    assert off == []
    _, succeeded = run_order("ERROR", input_name="input.json")
    assert [e["type"] for e in succeeded] == ["TaskFailed"]  # only the retried attempt


def test_without_execution_data_the_data_is_left_out():
    _, logged = run_order("ALL", include=False)
    for event in logged:
        assert not {"input", "inputDetails", "output", "outputDetails", "parameters"} & set(event["details"])
    assert logged[0]["details"] == {"roleArn": "arn:aws:iam::123456789012:role/StepFunctionsLocalRole"}
    entered = next(e for e in logged if e["type"] == "TaskStateEntered")
    assert entered["details"] == {"name": "ValidateOrder"}


def test_log_streams_are_named_as_awss():
    """Raw AWS capture (radkawar/stackd testdata/aws/stepfunctions/observability.json, collected
    logs): a Standard machine's events go to states/MACHINE/2026-09-23-22/00000000, an Express
    machine's to states/MACHINE/2026-09-23-22-15/00000000."""
    from asl.engine.execlog import stream_name

    at = 1790201709.856  # 2026-09-23T22:15:09.856Z
    assert stream_name("sd-sfn-obs-b2f1172ce2-standard", "STANDARD", at) == \
        "states/sd-sfn-obs-b2f1172ce2-standard/2026-09-23-22/00000000"
    assert stream_name("sd-sfn-obs-b2f1172ce2-express", "EXPRESS", at) == \
        "states/sd-sfn-obs-b2f1172ce2-express/2026-09-23-22-15/00000000"


def test_a_log_file_gets_one_line_per_event(tmp_path):
    path = tmp_path / "run.log"
    log = ExecutionLog("ALL", False, FileDestination(str(path)))
    result = run_sync(asl.load({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}), {}, log=log)
    log.close()
    lines = path.read_text().splitlines()
    assert [json.loads(line)["type"] for line in lines] == result.history.types()


def test_log_group_names_and_arns():
    assert log_group_name("/aws/vendedlogs/states/m-Logs") == ("/aws/vendedlogs/states/m-Logs", None)
    assert log_group_name("arn:aws:logs:eu-west-1:123456789012:log-group:/aws/states/m:*") == \
        ("/aws/states/m", "eu-west-1")
    with pytest.raises(ValueError):
        log_group_name("arn:aws:s3:::bucket")
    with pytest.raises(ValueError):
        ExecutionLog("DEBUG")


def read_group(client, group: str, validation: bool = False) -> list[dict]:
    """The events of a log group's execution streams (`validation`: of the stream AWS's delivery
    check writes to instead), and the names of all its streams."""
    from asl.engine.execlog import VALIDATION_STREAM

    streams = client.describe_log_streams(logGroupName=group)["logStreams"]
    out = []
    for stream in streams:
        if (stream["logStreamName"] == VALIDATION_STREAM) is validation:
            out += client.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"],
                                         startFromHead=True)["events"]
    return out, [s["logStreamName"] for s in streams]


def test_a_cloudwatch_logs_group_gets_the_events(aws):
    import boto3

    from asl.engine.integrations import Integrations

    logs = boto3.client("logs", endpoint_url=aws["endpoints"]["*"], region_name="us-east-1")
    logs.create_log_group(logGroupName="/aws/vendedlogs/states/order-Logs")
    arn = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/vendedlogs/states/order-Logs:*"
    log = ExecutionLog("ALL", True, CloudWatchDestination(arn, Integrations.of(aws).clients))
    result = run_sync(asl.load(ORDER), json.loads((SAMPLES / "order" / "input.json").read_text()),
                      handlers=sample_handlers("order"), state_machine_name="order", log=log)
    log.close()
    events, streams = read_group(logs, "/aws/vendedlogs/states/order-Logs")
    assert len(streams) == 1 and streams[0].startswith("states/order/")
    assert [json.loads(e["message"])["type"] for e in events] == result.history.types()
    assert all(str(e["timestamp"]) == json.loads(e["message"])["event_timestamp"] for e in events)


def test_a_missing_log_group_is_told_not_raised(aws, capfd):
    from asl.engine.integrations import Integrations

    log = ExecutionLog("ALL", False, CloudWatchDestination("no-such-group", Integrations.of(aws).clients))
    result = run_sync(asl.load({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}), {}, log=log)
    log.close()
    assert result.status == "SUCCEEDED"
    assert "execution logs to CloudWatch Logs group 'no-such-group' failed: ResourceNotFoundException" in \
        capfd.readouterr().err


# ---- asl run -------------------------------------------------------------------------------------

def asl_run(*args, env=None):
    import os

    return subprocess.run([sys.executable, "-m", "asl.cli", "run", str(ORDER), "--handlers",
                           str(SAMPLES / "order" / "handlers.py"), "--virtual-time", "-q", *args],
                          capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=60)


def test_asl_run_logs_to_stderr_or_a_file(tmp_path):
    declined = str(SAMPLES / "order" / "input-declined.json")
    proc = asl_run("--input", declined, "--log-level", "FATAL")
    assert proc.returncode == 1
    lines = [json.loads(line) for line in proc.stderr.splitlines() if line.startswith("{")]
    assert [e["type"] for e in lines] == ["ExecutionFailed"]
    path = tmp_path / "order.log"
    proc = asl_run("--input", declined, "--log-file", str(path), "--include-execution-data")
    assert proc.returncode == 1
    logged = [json.loads(line) for line in path.read_text().splitlines()]
    assert logged[0]["type"] == "ExecutionStarted" and "input" in logged[0]["details"]
    assert logged[-1]["type"] == "ExecutionFailed" and len(logged) == 34
    assert not [line for line in proc.stderr.splitlines() if line.startswith("{")]


def test_asl_run_logs_into_a_cloudwatch_group(aws, tmp_path):
    import boto3

    logs = boto3.client("logs", endpoint_url=aws["endpoints"]["*"], region_name="us-east-1")
    logs.create_log_group(logGroupName="runs")
    proc = asl_run("--input", str(SAMPLES / "order" / "input.json"), "--log-group", "runs", "--log-level", "ERROR",
                   "--endpoint-url", f"logs={aws['endpoints']['*']}")
    assert proc.returncode == 0, proc.stderr
    events, _ = read_group(logs, "runs")
    assert [json.loads(e["message"])["type"] for e in events] == ["TaskFailed"]


def test_asl_run_builds_one_set_of_aws_clients_for_its_tasks_and_its_log_group(aws, monkeypatch):
    import boto3
    from click.testing import CliRunner

    from asl.cli.main import get_cli
    from asl.engine.integrations import Integrations

    logs = boto3.client("logs", endpoint_url=aws["endpoints"]["*"], region_name="us-east-1")
    logs.create_log_group(logGroupName="shared")
    built = []
    original = Integrations.__init__

    def counted(self, *args, **kwargs):
        built.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(Integrations, "__init__", counted)
    result = CliRunner().invoke(get_cli(), [
        "run", str(ORDER), "--input", str(SAMPLES / "order" / "input.json"), "--handlers",
        str(SAMPLES / "order" / "handlers.py"), "--virtual-time", "-q", "--log-group", "shared", "--log-level", "FATAL",
        "--endpoint-url", aws["endpoints"]["*"]])
    assert result.exit_code == 0, result.output
    assert len(built) == 1  # one Integrations (boto3 session and clients) per run, not one more for the log
    events, _ = read_group(logs, "shared")
    assert events == []  # FATAL: nothing failed


def test_asl_run_log_option_problems_are_usage_errors(tmp_path):
    proc = asl_run("--log-file", str(tmp_path / "a"), "--log-group", "g")
    assert proc.returncode == 2 and "--log-file or --log-group, not both" in proc.stderr
    proc = asl_run("--log-file", str(tmp_path / "no" / "such" / "dir.log"))
    assert proc.returncode == 2 and "cannot write there" in proc.stderr
    proc = asl_run("--log-group", "arn:aws:s3:::bucket")
    assert proc.returncode == 2 and "not a CloudWatch Logs log group ARN" in proc.stderr


# ---- asl serve -----------------------------------------------------------------------------------

def test_asl_serve_honours_the_logging_configuration(aws, tmp_path):
    import boto3
    from test_service import ROLE, Server, wait_done

    logs = boto3.client("logs", endpoint_url=aws["endpoints"]["*"], region_name="us-east-1")
    logs.create_log_group(logGroupName="/aws/vendedlogs/states/m-Logs")
    group_arn = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/vendedlogs/states/m-Logs:*"
    server = Server(tmp_path, "memory", "--endpoint-url", f"logs={aws['endpoints']['*']}").start()
    try:
        sfn = server.client()
        definition = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "Next": "F"},
                                                           "F": {"Type": "Fail", "Error": "E", "Cause": "c"}}})
        config = {"level": "ERROR", "includeExecutionData": False,
                  "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": group_arn}}]}
        machine = sfn.create_state_machine(name="m", definition=definition, roleArn=ROLE,
                                           loggingConfiguration=config)["stateMachineArn"]
        quiet = sfn.create_state_machine(name="quiet", definition=definition, roleArn=ROLE)["stateMachineArn"]
        arn = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
        sfn.start_execution(stateMachineArn=quiet, input="{}")
        assert wait_done(sfn, arn)["status"] == "FAILED"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            events, streams = read_group(logs, "/aws/vendedlogs/states/m-Logs")
            if len(events) >= 2:
                break
            time.sleep(0.1)
        logged = [json.loads(e["message"]) for e in events]
        assert [e["type"] for e in logged] == ["FailStateEntered", "ExecutionFailed"]
        assert {e["execution_arn"] for e in logged} == {arn}
        assert logged[1]["details"] == {"error": "E", "cause": "c"}
        # beside the execution stream, the one AWS makes when it checks it can deliver to the group
        # (LocalStack's logs/test_logs.py::test_log_group_with_multiple_runs, run against AWS, waits for
        # two streams after one machine's executions; its helpers skip this name)
        assert streams[0] == "log_stream_created_by_aws_to_validate_log_delivery_subscriptions"
        assert len(streams) == 2 and streams[1].startswith("states/m/")
        # where AWS's delivery check writes its message, once per CreateStateMachine and per
        # UpdateStateMachine that changes the logging configuration, not for one that keeps it
        # (raw AWS capture, radkawar/stackd testdata/aws/stepfunctions/observability.json, the
        # collected logs: six messages for two creations and four of six updates)
        def checks():
            return [e["message"] for e in read_group(logs, "/aws/vendedlogs/states/m-Logs", validation=True)[0]]
        assert checks() == ["Permissions are set correctly to allow AWS CloudWatch Logs to write into your logs "
                            "while creating a subscription."]
        sfn.update_state_machine(stateMachineArn=machine, loggingConfiguration=config)
        assert len(checks()) == 1
        sfn.update_state_machine(stateMachineArn=machine, loggingConfiguration={**config, "level": "ALL"})
        assert len(checks()) == 2
        # a Standard machine's stream is named for the hour (raw AWS capture, radkawar/stackd
        # testdata/aws/stepfunctions/observability.json: states/MACHINE/2026-09-23-22/00000000)
        assert __import__("re").fullmatch(r"states/m/\d{4}-\d\d-\d\d-\d\d/00000000", streams[1]), streams
        # a log group that does not exist (any more) is refused, as AWS refuses it (recorded in
        # LocalStack's test_sfn_api_logs.py::test_deleted_log_group); with the level OFF it is not asked
        logs.create_log_group(logGroupName="/aws/vendedlogs/states/gone")
        gone_arn = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/vendedlogs/states/gone:*"
        logs.delete_log_group(logGroupName="/aws/vendedlogs/states/gone")
        gone = {**config, "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": gone_arn}}]}
        with pytest.raises(sfn.exceptions.InvalidLoggingConfiguration) as refused:
            sfn.create_state_machine(name="gone", definition=definition, roleArn=ROLE, loggingConfiguration=gone)
        assert refused.value.response["Error"]["Message"] == \
            "Invalid Logging Configuration: Log Destination not found."
        with pytest.raises(sfn.exceptions.InvalidLoggingConfiguration):
            sfn.update_state_machine(stateMachineArn=quiet, loggingConfiguration=gone)
        assert sfn.describe_state_machine(stateMachineArn=quiet)["loggingConfiguration"]["level"] == "OFF"
        sfn.update_state_machine(stateMachineArn=quiet, loggingConfiguration={**gone, "level": "OFF"})
    finally:
        server.stop()


def test_asl_serve_logs_the_input_as_spelled_and_runs_on_when_the_group_is_gone(aws, tmp_path):
    """ExecutionStarted's logged input is StartExecution's text as the caller spelled it (an Express
    execution's, '{"Comment": "Insert your JSON here"}', in the Datadog forwarder's recorded event),
    and so is the first state's, that carries it unchanged; a machine whose log group was
    deleted after it was created still runs (AWS, recorded: LocalStack's logs/test_logs.py::
    test_deleted_log_group, the execution SUCCEEDED)."""
    import boto3
    from test_service import ROLE, Server, wait_done

    logs = boto3.client("logs", endpoint_url=aws["endpoints"]["*"], region_name="us-east-1")
    server = Server(tmp_path, "memory", "--endpoint-url", f"logs={aws['endpoints']['*']}").start()
    try:
        sfn = server.client()
        definition = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
        arns = {}
        for name in ("spelled", "gone"):
            logs.create_log_group(logGroupName=f"/aws/vendedlogs/states/{name}")
            config = {"level": "ALL", "includeExecutionData": True, "destinations": [{"cloudWatchLogsLogGroup": {
                "logGroupArn": f"arn:aws:logs:us-east-1:123456789012:log-group:/aws/vendedlogs/states/{name}:*"}}]}
            arns[name] = sfn.create_state_machine(name=name, definition=definition, roleArn=ROLE, type="EXPRESS",
                                                  loggingConfiguration=config)["stateMachineArn"]
        text = '{"Comment": "Insert your JSON here"}'  # as in the Datadog forwarder's recorded event
        sfn.start_execution(stateMachineArn=arns["spelled"], input=text)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            logged = [json.loads(e["message"]) for e in read_group(logs, "/aws/vendedlogs/states/spelled")[0]]
            if any(e["type"] == "ExecutionSucceeded" for e in logged):
                break
            time.sleep(0.1)
        by_type = {e["type"]: e["details"] for e in logged}
        assert by_type["ExecutionStarted"]["input"] == text
        # the first state's input too (raw AWS capture, radkawar/stackd testdata/aws/stepfunctions/
        # observability.json, collected logs: WaitStateEntered's input '...native-\\u03bb...' as sent)
        assert by_type["PassStateEntered"]["input"] == text
        logs.delete_log_group(logGroupName="/aws/vendedlogs/states/gone")
        done = sfn.start_sync_execution(stateMachineArn=arns["gone"], input=text)
        assert done["status"] == "SUCCEEDED" and done["input"] == text
    finally:
        server.stop()


def test_a_log_group_that_cannot_be_checked_is_taken_within_seconds(tmp_path):
    """CloudWatch Logs that never answers (a port that accepts connections and says nothing):
    CreateStateMachine does not wait for botocore's retries (3 attempts of 60 s), it takes the
    configuration after one short attempt, and says so in the server's log."""
    import socket

    from test_service import ROLE, Server

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    server = Server(tmp_path, "memory", "--endpoint-url", f"logs=http://127.0.0.1:{silent.getsockname()[1]}")
    server.env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    server.start()
    try:
        sfn = server.client(read_timeout=120)
        config = {"level": "ALL", "includeExecutionData": False, "destinations": [{"cloudWatchLogsLogGroup": {
            "logGroupArn": "arn:aws:logs:us-east-1:123456789012:log-group:/aws/vendedlogs/states/m-Logs:*"}}]}
        started = time.monotonic()
        arn = sfn.create_state_machine(name="m", definition=json.dumps({"StartAt": "P", "States": {
            "P": {"Type": "Pass", "End": True}}}), roleArn=ROLE, loggingConfiguration=config)["stateMachineArn"]
        assert time.monotonic() - started < 30
        assert sfn.describe_state_machine(stateMachineArn=arn)["loggingConfiguration"] == config
    finally:
        server.proc.send_signal(signal.SIGTERM)
        said = server.proc.communicate(timeout=30)[0]
        silent.close()
    assert "CloudWatch Logs did not tell whether the log group" in said, said


def test_a_redrive_logs_from_execution_redriven_with_its_redrive_count(tmp_path):
    import anyio

    from asl.engine import TaskFailed, redrive, run
    from asl.engine.stores import open_store

    machine = asl.load({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:t", "End": True}}})
    calls = []

    def t(_):
        calls.append(1)
        if len(calls) == 1:
            raise TaskFailed("Boom", "first time")
        return "ok"

    async def main():
        store = open_store(f"sqlite:{tmp_path / 'runs.db'}")
        await store.open()
        try:
            first = await run(machine, {}, handlers={"t": t}, store=store)
            out = io.StringIO()
            again = await redrive(store, first.execution_arn, handlers={"t": t},
                                  log=ExecutionLog("ALL", False, StreamDestination(out)))
            return first, again, [json.loads(line) for line in out.getvalue().splitlines()]
        finally:
            await store.close()

    first, again, logged = anyio.run(main)
    assert (first.status, again.status) == ("FAILED", "SUCCEEDED")
    assert logged[0]["type"] == "ExecutionRedriven" and logged[0]["details"] == {"redriveCount": 1}
    assert logged[0]["id"] == str(len(first.history) + 1)
    assert {e["redrive_count"] for e in logged} == {"1"}
    assert logged[-1]["type"] == "ExecutionSucceeded"


def test_asl_worker_logs_the_executions_it_takes_up(tmp_path):
    """An execution recorded and left (its process gone, its lease run out): `asl worker` takes
    it up and logs its events from where it was."""
    import anyio

    from asl.engine import prepare
    from asl.engine.stores import open_store

    url = f"sqlite:{tmp_path / 'runs.db'}"
    machine = asl.load({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})

    async def leave():
        store = open_store(url)
        await store.open()
        try:
            execution = prepare(machine, {"x": 1}, name="left")
            await execution.attach(store, owner="gone:1:0", lease_seconds=0.5)
            return execution.arn
        finally:
            await store.close()

    arn = anyio.run(leave)
    time.sleep(0.6)
    path = tmp_path / "worker.log"
    proc = subprocess.run([sys.executable, "-m", "asl.cli", "worker", "--store", url, "--until-idle", "--poll", "0.1",
                           "--log-file", str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    logged = [json.loads(line) for line in path.read_text().splitlines()]
    assert [e["type"] for e in logged] == ["ExecutionStarted", "PassStateEntered", "PassStateExited",
                                           "ExecutionSucceeded"]
    assert {e["execution_arn"] for e in logged} == {arn}


def test_asl_serve_without_aws_logs_to_stderr_and_follows_update_state_machine(tmp_path):
    import signal

    from test_service import ROLE, Server, wait_done

    server = Server(tmp_path, "memory").start()
    try:
        sfn = server.client()
        definition = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
        group = "arn:aws:logs:us-east-1:123456789012:log-group:g:*"
        config = {"level": "FATAL", "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": group}}]}
        machine = sfn.create_state_machine(name="m", definition=definition, roleArn=ROLE,
                                           loggingConfiguration=config)["stateMachineArn"]
        quiet = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
        wait_done(sfn, quiet)  # FATAL: a success logs nothing
        sfn.update_state_machine(stateMachineArn=machine, loggingConfiguration={**config, "level": "ALL",
                                                                                 "includeExecutionData": True})
        logged = sfn.start_execution(stateMachineArn=machine, input='{"a": 1}')["executionArn"]
        wait_done(sfn, logged)
    finally:
        server.proc.send_signal(signal.SIGTERM)
        output, _ = server.proc.communicate(timeout=15)
    events = [json.loads(line) for line in output.splitlines() if line.startswith('{"details":')]
    assert [e["type"] for e in events] == ["ExecutionStarted", "PassStateEntered", "PassStateExited",
                                           "ExecutionSucceeded"]
    assert {e["execution_arn"] for e in events} == {logged}
    # the input as StartExecution was given it (not compact), the first state's input too, as AWS
    # logs them (raw AWS capture, radkawar/stackd testdata/aws/stepfunctions/observability.json)
    assert events[0]["details"]["input"] == '{"a": 1}' and events[1]["details"]["input"] == '{"a": 1}'


def test_an_input_over_248_kb_escaped_is_truncated_as_aws_does():
    from asl.engine.execlog import TRUNCATE_AT

    out = io.StringIO()
    log = ExecutionLog("ALL", True, StreamDestination(out))
    big = {"text": 'a"' * 70_000}  # 140,000 characters; each quote escaped: about 210 KB of input, 280 KB escaped
    run_sync(asl.load({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}), big, log=log,
             payload_limit=None)
    started = json.loads(out.getvalue().splitlines()[0])
    assert started["details"]["inputDetails"] == {"truncated": True}
    text = started["details"]["input"]
    assert json.dumps(big, separators=(",", ":")).startswith(text)
    escaped = len(json.dumps(text)) - 2
    assert TRUNCATE_AT - 2 <= escaped <= TRUNCATE_AT
    small = json.loads(out.getvalue().splitlines()[1])  # PassStateEntered: the same input, also cut
    assert small["details"]["inputDetails"] == {"truncated": True}
