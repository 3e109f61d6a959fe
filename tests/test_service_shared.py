"""Two `asl serve` processes on one PostgreSQL store: executions started through one of them,
which is then killed (SIGKILL), are taken over by the other when their leases run out, and
each finishes exactly once (real processes, real boto3, a real PostgreSQL server)."""
from __future__ import annotations

import json
import signal
from pathlib import Path

from test_service import ROLE, boto3, machine, wait_done  # noqa: F401 - boto3: skips without it
from test_service_shared_races import two_servers

HANDLERS = '''
import os
from asl.engine import Handlers
handlers = Handlers()

@handlers.lambda_function("Record")
def record(event):
    with open(os.path.join(os.path.dirname(__file__), "calls.txt"), "a") as out:
        out.write(f"{event['n']} {os.getpid()}\\n")
    return {"n": event["n"]}
'''

SLOW = machine({
    "W": {"Type": "Wait", "Seconds": 3, "Next": "T"},
    "T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:Record", "End": True}}, "W")


def test_the_other_server_takes_executions_over(tmp_path: Path, postgres_url):
    with two_servers(tmp_path, postgres_url, HANDLERS, "--lease", "2", "--poll", "0.2") as (first, second):
        one, two = first.client(), second.client()
        arn = one.create_state_machine(name="slow", definition=SLOW, roleArn=ROLE)["stateMachineArn"]
        runs = [one.start_execution(stateMachineArn=arn, name=f"e{n}", input=json.dumps({"n": n}))["executionArn"]
                for n in range(5)]
        first.stop(signal.SIGKILL)  # during the Waits: nothing has called the handler yet
        assert not (tmp_path / "calls.txt").exists()
        for n, run in enumerate(runs):
            out = wait_done(two, run, timeout=60)
            assert out["status"] == "SUCCEEDED", out
            assert json.loads(out["output"]) == {"n": n}
            types = [e["type"] for e in two.get_execution_history(executionArn=run)["events"]]
            assert types.count("ExecutionStarted") == 1 and types.count("ExecutionSucceeded") == 1
            assert types.count("WaitStateExited") == 1 and types.count("LambdaFunctionScheduled") == 1
        calls = (tmp_path / "calls.txt").read_text().split("\n")[:-1]
        assert sorted(int(c.split()[0]) for c in calls) == list(range(5))       # each exactly once
        assert {int(c.split()[1]) for c in calls} == {second.proc.pid}           # by the survivor


def test_a_server_that_lost_its_registration_for_a_moment_goes_on(tmp_path: Path, postgres_url):
    """The connection holding server A's registration lock breaks while A lives (the test ends
    its PostgreSQL backend): A notices within a second, stops advancing its executions, takes its
    lock again and resumes them from their journals; B, which saw the lock gone for less than the
    grace, takes nothing. Each execution ends once, its handler called once, by A."""
    import psycopg

    with two_servers(tmp_path, postgres_url, HANDLERS, "--lease", "600", "--poll", "0.2") as (first, second):
        one, two = first.client(), second.client()
        arn = one.create_state_machine(name="slow", definition=SLOW, roleArn=ROLE)["stateMachineArn"]
        runs = [one.start_execution(stateMachineArn=arn, name=f"e{n}", input=json.dumps({"n": n}))["executionArn"]
                for n in range(3)]
        with psycopg.connect(postgres_url, autocommit=True) as db:
            owner = db.execute("SELECT owner FROM executions WHERE arn = %s", (runs[0],)).fetchone()[0]
            ended = db.execute(
                "SELECT pg_terminate_backend(l.pid) FROM pg_locks l JOIN processes p ON l.locktype = 'advisory' "
                "AND l.objsubid = 2 AND l.classid = p.key_a::oid AND l.objid = p.key_b::oid WHERE p.owner = %s",
                (owner,)).fetchall()
            assert ended == [(True,)]
        for n, run in enumerate(runs):
            out = wait_done(two, run, timeout=60)
            assert (out["status"], json.loads(out["output"])) == ("SUCCEEDED", {"n": n}), out
            types = [e["type"] for e in two.get_execution_history(executionArn=run)["events"]]
            assert types.count("ExecutionStarted") == 1 and types.count("ExecutionSucceeded") == 1, types
            assert types.count("WaitStateExited") == 1 and types.count("LambdaFunctionScheduled") == 1, types
        calls = (tmp_path / "calls.txt").read_text().split("\n")[:-1]
        assert sorted(int(c.split()[0]) for c in calls) == list(range(3))
        assert {int(c.split()[1]) for c in calls} == {first.proc.pid}
        first.proc.send_signal(signal.SIGTERM)
        first.proc.wait(15)
        assert "not registered in the store for a moment" in first.proc.stdout.read()
