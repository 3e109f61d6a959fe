"""Two `asl serve` processes on one PostgreSQL store, raced through real boto3 calls: AWS's rules
hold across the processes as within one (real processes, a real PostgreSQL server).

- StartExecution calls to one server racing DeleteStateMachine on the other: each start is
  refused (StateMachineDeleting, StateMachineDoesNotExist) or its execution is on record, keeps
  the machine DELETING while it runs and fails at its next transition (States.Runtime); once the
  machine is gone neither server starts one.
- One execution name started on both servers at once: one execution; the same input is
  idempotent while it runs, another input gets ExecutionAlreadyExists.
- SendTaskSuccess / SendTaskFailure / SendTaskHeartbeat sent to the server that does not run
  the execution reach it.

Bounded: a few rounds of a few dozen calls, each wait capped."""
from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from test_service import ROLE, Server, boto3, machine, wait_done  # noqa: F401 - boto3: skips without it
from test_service_delete import race_delete

# A loop of transitions that never ends by itself (its input has no "done"): only a deletion
# (or a stop) ends it.
LOOP = machine({
    "C": {"Type": "Choice", "Choices": [{"Variable": "$.done", "IsPresent": True, "Next": "E"}], "Default": "W"},
    "W": {"Type": "Wait", "Seconds": 2, "Next": "C"},
    "E": {"Type": "Succeed"}}, "C")


@pytest.fixture
def servers(tmp_path: Path, postgres_url):
    first = Server(tmp_path, postgres_url, "--poll", "0.2").start()
    second = Server(tmp_path, postgres_url, "--poll", "0.2").start()
    try:
        yield first, second
    finally:
        for srv in (first, second):
            if srv.proc.poll() is None:
                srv.stop()


def outcome(call, **kwargs) -> str:
    """The execution ARN a start returns, or the error code it gets."""
    try:
        return call(**kwargs)["executionArn"]
    except call.__self__.exceptions.ClientError as exc:
        return exc.response["Error"]["Code"]


def described_machine(sfn, arn: str) -> str:
    """DescribeStateMachine's status, or GONE."""
    try:
        return sfn.describe_state_machine(stateMachineArn=arn)["status"]
    except sfn.exceptions.StateMachineDoesNotExist:
        return "GONE"


def test_starts_on_one_server_racing_a_delete_on_the_other(servers):
    a, b = servers
    one, two = a.client(max_pool_connections=16), b.client()
    refused, counted = 0, 0
    with ThreadPoolExecutor(12) as pool:
        for round, ahead in enumerate((0, 1, 2, 3, 0, 1, 2, 3, 6, 12)):  # starts sent before the deletion
            arn = one.create_state_machine(name=f"raced{round}", definition=LOOP, roleArn=ROLE)["stateMachineArn"]
            outcomes, started = race_delete(pool, one, two, arn, ahead, 20)
            refused += len(outcomes) - len(started)
            counted += len(started)
            # the machine goes only once none of its executions runs: gone (on either server) means
            # that every execution acknowledged is over
            for sfn in (two, one):
                if described_machine(sfn, arn) == "GONE":
                    for execution in started:
                        assert sfn.describe_execution(executionArn=execution)["status"] != "RUNNING", \
                            (round, execution)
            # every execution acknowledged is on record (either server describes it) and ends, as
            # the deletion ends them, at its next transition
            for execution in started:
                assert two.describe_execution(executionArn=execution)["executionArn"] == execution
                out = wait_done(one, execution, timeout=30)
                assert (out["status"], out.get("error")) == ("FAILED", "States.Runtime"), out
                assert out["cause"] == f"State machine raced{round} has been deleted."
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and {described_machine(s, arn) for s in (one, two)} != {"GONE"}:
                time.sleep(0.1)
            assert {described_machine(s, arn) for s in (one, two)} == {"GONE"}, (round, outcomes)
            for sfn in (one, two):  # no new execution on either server
                assert outcome(sfn.start_execution, stateMachineArn=arn, name="late") == "StateMachineDoesNotExist"
    assert refused and counted  # both sides of the race were seen
