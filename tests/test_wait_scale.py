"""`Execution.wait_scale` (asl serve --wait-time-scale, Step Functions Local's WAIT_TIME_SCALE):
Waits and retry intervals last that many times as long."""
from __future__ import annotations

import asyncio

import asl
from asl.engine import Handlers, TaskFailed, prepare

MACHINE = {"StartAt": "W", "States": {
    "W": {"Type": "Wait", "Seconds": 100, "Next": "T"},
    "T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:Flaky",
          "Retry": [{"ErrorEquals": ["Busy"], "IntervalSeconds": 10, "BackoffRate": 2, "MaxAttempts": 2}],
          "TimeoutSeconds": 5, "End": True}}}


def run(scale: float):
    handlers = Handlers()
    calls = []

    @handlers.lambda_function("Flaky")
    def flaky(event):
        calls.append(1)
        if len(calls) < 3:
            raise TaskFailed("Busy", "again")
        return {"ok": True}

    execution = prepare(asl.load(MACHINE), {}, handlers=handlers)
    execution.wait_scale = scale
    result = asyncio.run(execution.run())
    at: dict = {}
    for event in result.events:
        at.setdefault(event["type"], []).append(event["timestamp"])
    return result, at


def seconds(a: str, b: str) -> float:
    from datetime import datetime

    return round((datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds(), 3)


def test_scaled_waits_and_retry_intervals():
    result, at = run(0.1)
    assert result.status == "SUCCEEDED"
    assert seconds(at["WaitStateEntered"][0], at["WaitStateExited"][0]) == 10.0      # 100 s x 0.1
    scheduled, failed = at["LambdaFunctionScheduled"], at["LambdaFunctionFailed"]
    assert seconds(failed[0], scheduled[1]) == 1.0                                  # 10 s x 0.1
    assert seconds(failed[1], scheduled[2]) == 2.0                                  # 10 s x 2 (backoff) x 0.1


def test_zero_skips_them_and_one_changes_nothing():
    result, at = run(0)
    assert result.status == "SUCCEEDED"
    assert at["WaitStateEntered"][0] == at["WaitStateExited"][0]
    assert at["LambdaFunctionFailed"][1] == at["LambdaFunctionScheduled"][2]
    result, at = run(1)
    assert seconds(at["WaitStateEntered"][0], at["WaitStateExited"][0]) == 100.0
    assert seconds(at["LambdaFunctionFailed"][1], at["LambdaFunctionScheduled"][2]) == 20.0
