"""`asl serve` while its PostgreSQL store is away for a while (stopped by an administrator, then
started again: a real server, a real `asl serve` process, real boto3).

While the store is away, a call that needs it is answered ServiceUnavailable (503: AWS's answer
to a call it cannot serve now, which SDKs try again), not a definitive error such as
TaskDoesNotExist; a running execution waits for the store instead of stalling, and goes on
when it is back; an answer the store could not take is not on record, so the same answer sent
again completes the task once. Nothing is lost: each history is whole, its event ids in
sequence, each event once."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from support.postgres import PostgresServer
from test_service import ROLE, Server, boto3, machine, wait_done  # noqa: F401 - boto3: skips without it
from test_service_callbacks import history, next_task, types
from botocore.exceptions import ClientError


@pytest.fixture
def own_postgres():
    """A PostgreSQL server of this test's own (it is stopped and started again)."""
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


def answered(call, **kwargs) -> tuple[str, int]:
    try:
        call(**kwargs)
    except ClientError as exc:
        return exc.response["Error"]["Code"], exc.response["ResponseMetadata"]["HTTPStatusCode"]
    return "OK", 200


def test_an_outage_of_the_store_delays_executions_and_loses_nothing(tmp_path: Path, own_postgres):
    srv = Server(tmp_path, own_postgres.create_database("outage")).start()
    try:
        sfn = srv.client(read_timeout=70)
        activity = sfn.create_activity(name="work")["activityArn"]
        worked = sfn.create_state_machine(name="worked", roleArn=ROLE, definition=machine({
            "P": {"Type": "Pass", "Next": "A"},
            "A": {"Type": "Task", "Resource": activity, "Next": "W"},
            "W": {"Type": "Wait", "Seconds": 1, "Next": "Q"},
            "Q": {"Type": "Pass", "End": True}}, "P"))["stateMachineArn"]
        waited = sfn.create_state_machine(name="waited", roleArn=ROLE, definition=machine({
            "W1": {"Type": "Wait", "Seconds": 2, "Next": "P"},
            "P": {"Type": "Pass", "Result": {"ok": True}, "Next": "W2"},
            "W2": {"Type": "Wait", "Seconds": 1, "Next": "Q"},
            "Q": {"Type": "Pass", "End": True}}, "W1"))["stateMachineArn"]
        work = sfn.start_execution(stateMachineArn=worked, input='{"n": 1}')["executionArn"]
        task = next_task(sfn, activity, "w1")
        clock = sfn.start_execution(stateMachineArn=waited)["executionArn"]

        own_postgres.stop_for_now()  # (the clock's first Wait ends while the store is away)
        try:
            assert answered(sfn.send_task_success, taskToken=task["taskToken"], output='{"done": 1}') \
                == ("ServiceUnavailable", 503)
        finally:
            own_postgres.start_again()

        deadline = time.monotonic() + 60
        while True:  # (the server reconnects: until then, the same 503)
            outcome = answered(sfn.send_task_success, taskToken=task["taskToken"], output='{"done": 1}')
            if outcome != ("ServiceUnavailable", 503) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert outcome == ("OK", 200)

        done = wait_done(sfn, work)
        assert (done["status"], json.loads(done["output"])) == ("SUCCEEDED", {"done": 1}), done
        events = history(sfn, work)
        assert types(events) == ["ExecutionStarted", "PassStateEntered", "PassStateExited", "TaskStateEntered",
                                 "ActivityScheduled", "ActivityStarted", "ActivitySucceeded", "TaskStateExited",
                                 "WaitStateEntered", "WaitStateExited", "PassStateEntered", "PassStateExited",
                                 "ExecutionSucceeded"]
        assert [e["id"] for e in events] == list(range(1, 14))
        assert [e["previousEventId"] for e in events] == [0, 0, *range(2, 13)]
        assert events[5]["activityStartedEventDetails"] == {"workerName": "w1"}

        done = wait_done(sfn, clock)
        assert (done["status"], json.loads(done["output"])) == ("SUCCEEDED", {"ok": True}), done
        events = history(sfn, clock)
        assert types(events) == ["ExecutionStarted", "WaitStateEntered", "WaitStateExited", "PassStateEntered",
                                 "PassStateExited", "WaitStateEntered", "WaitStateExited", "PassStateEntered",
                                 "PassStateExited", "ExecutionSucceeded"]
        assert [e["id"] for e in events] == list(range(1, 11))
    finally:
        srv.stop()
