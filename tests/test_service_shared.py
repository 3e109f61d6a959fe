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
