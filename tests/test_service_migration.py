"""Step Functions Local's options on `asl serve` (README "Migrating from Step Functions Local"):
WAIT_TIME_SCALE / --wait-time-scale, SFN_MOCK_CONFIG with `ARN#TestCase`, and clients set up
only through environment variables (AWS_ENDPOINT_URL_SFN, AWS_DISABLE_HOST_PREFIX_INJECTION)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from test_service import ROLE, Server, boto3, machine, wait_done  # noqa: F401 - boto3: skips without it

HANDLERS = '''
from asl.engine import Handlers, TaskFailed
handlers = Handlers()

@handlers.lambda_function("Flaky")
def flaky(event):
    raise TaskFailed("Busy", "try again")
'''

SLOW = machine({
    "W": {"Type": "Wait", "Seconds": 100, "Next": "T"},
    "T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:Flaky",
          "Retry": [{"ErrorEquals": ["Busy"], "IntervalSeconds": 200, "MaxAttempts": 1}], "End": True}}, "W")


def gaps(sfn, arn: str) -> tuple[float, float]:
    """(seconds the Wait lasted, seconds between the two task attempts) in the history."""
    events = sfn.get_execution_history(executionArn=arn)["events"]
    at = {}
    for e in events:
        at.setdefault(e["type"], []).append(e["timestamp"].timestamp())
    return (at["WaitStateExited"][0] - at["WaitStateEntered"][0],
            at["LambdaFunctionScheduled"][1] - at["LambdaFunctionFailed"][0])


def test_wait_time_scale_option(tmp_path):
    (tmp_path / "handlers.py").write_text(HANDLERS)
    srv = Server(tmp_path, "memory", "--handlers", "handlers.py", "--wait-time-scale", "0.01").start()
    try:
        sfn = srv.client()
        arn = sfn.create_state_machine(name="slow", definition=SLOW, roleArn=ROLE)["stateMachineArn"]
        run = sfn.start_execution(stateMachineArn=arn)["executionArn"]
        out = wait_done(sfn, run, timeout=60)
        assert (out["status"], out["error"]) == ("FAILED", "Busy")
        wait, retry = gaps(sfn, run)
        # The scaled durations as the history records them: never shorter than 100 s x 0.01 and
        # 200 s x 0.01 (timestamps are in milliseconds), and not the unscaled 100 s / 200 s.
        assert 1.0 - 0.001 <= wait < 100
        assert 2.0 - 0.001 <= retry < 200
    finally:
        srv.stop()


def test_step_functions_local_variables(tmp_path, monkeypatch):
    (tmp_path / "handlers.py").write_text(HANDLERS)
    (tmp_path / "mocks.json").write_text(json.dumps({
        "StateMachines": {"slow": {"TestCases": {"Happy": {"T": "Ok"}}}},
        "MockedResponses": {"Ok": {"0": {"Return": {"done": True}}}}}))
    monkeypatch.setenv("WAIT_TIME_SCALE", "0")
    monkeypatch.setenv("SFN_MOCK_CONFIG", str(tmp_path / "mocks.json"))
    srv = Server(tmp_path, "memory", "--handlers", "handlers.py").start()
    try:
        sfn = srv.client()
        arn = sfn.create_state_machine(name="slow", definition=SLOW, roleArn=ROLE)["stateMachineArn"]
        run = sfn.start_execution(stateMachineArn=arn + "#Happy", name="happy")["executionArn"]
        assert run == arn.replace(":stateMachine:", ":execution:") + ":happy"
        out = wait_done(sfn, run, timeout=60)
        assert out["status"] == "SUCCEEDED" and json.loads(out["output"]) == {"done": True}
        events = sfn.get_execution_history(executionArn=run)["events"]
        stamps = {e["type"]: e["timestamp"] for e in events}
        assert (stamps["WaitStateExited"] - stamps["WaitStateEntered"]).total_seconds() < 100  # not waited
        # without the test case the handler runs (and fails after its retry, also not waited)
        plain = wait_done(sfn, sfn.start_execution(stateMachineArn=arn)["executionArn"], timeout=60)
        assert (plain["status"], plain["error"]) == ("FAILED", "Busy")
    finally:
        srv.stop()


EXPRESS = machine({"P": {"Type": "Pass", "Result": {"ok": 1}, "End": True}}, "P")


def test_clients_configured_by_environment_only(tmp_path):
    """boto3 and the AWS CLI reach the server with AWS_ENDPOINT_URL_SFN, and StartSyncExecution and
    TestState (the `sync-` host prefix) work with AWS_DISABLE_HOST_PREFIX_INJECTION=true."""
    srv = Server(tmp_path, "memory").start()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL_SFN": srv.endpoint,
           "AWS_DISABLE_HOST_PREFIX_INJECTION": "true", "AWS_MAX_ATTEMPTS": "1"}
    script = (
        "import boto3, json\n"
        "sfn = boto3.client('stepfunctions')\n"
        f"arn = sfn.create_state_machine(name='x', type='EXPRESS', definition={EXPRESS!r},\n"
        f"                               roleArn={ROLE!r})['stateMachineArn']\n"
        "out = sfn.start_sync_execution(stateMachineArn=arn, input='{}')\n"
        f"tested = sfn.test_state(definition=json.dumps({{'Type': 'Pass', 'End': True}}), roleArn={ROLE!r},\n"
        "                        input='{\"a\": 1}')\n"
        "print(json.dumps([out['status'], json.loads(out['output']), tested['status'],\n"
        "                  json.loads(tested['output'])]))\n")
    try:
        done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == ["SUCCEEDED", {"ok": 1}, "SUCCEEDED", {"a": 1}]
        arn = "arn:aws:states:us-east-1:123456789012:stateMachine:x"
        cli = subprocess.run([sys.executable, "-m", "awscli", "stepfunctions", "start-sync-execution",
                              "--state-machine-arn", arn, "--input", "{}"], env=env, capture_output=True, text=True,
                             timeout=60)
        assert cli.returncode == 0, cli.stderr
        assert json.loads(cli.stdout)["output"] == '{"ok":1}'
        # and without the setting, the prefixed host is what boto3 calls (it does not resolve)
        env.pop("AWS_DISABLE_HOST_PREFIX_INJECTION")
        failing = subprocess.run([sys.executable, "-m", "awscli", "stepfunctions", "start-sync-execution",
                                  "--state-machine-arn", arn], env=env, capture_output=True, text=True, timeout=60)
        assert failing.returncode != 0 and "sync-127.0.0.1" in failing.stderr
    finally:
        srv.stop()


def test_region_and_account_are_checked(tmp_path):
    """A region or account id that is not one makes ARNs boto3 and the AWS CLI refuse or
    misroute: `asl serve` refuses it at the start (exit 2, one line naming where it came from)."""
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_DEFAULT_REGION", "AWS_ACCOUNT_ID")}
    cases = [(["--region", "us_east_1"], {}, "--region 'us_east_1': not an AWS region"),
             (["--account", "1234"], {}, "--account '1234': not an AWS account (12 digits)"),
             ([], {"AWS_DEFAULT_REGION": "Frankfurt"}, "$AWS_DEFAULT_REGION 'Frankfurt': not an AWS region")]
    for args, extra, message in cases:
        proc = subprocess.run([sys.executable, "-m", "asl.cli.main", "serve", "--store", "memory", "--port", "0",
                               *args], cwd=tmp_path, env={**env, **extra}, capture_output=True, text=True,
                              timeout=60)
        assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
