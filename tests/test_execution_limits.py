"""AWS's quotas on one execution: maximum duration (Standard one year, Express five minutes)."""
from __future__ import annotations

import time

import asl
from asl.engine import execution as execution_module
from asl.engine import run_sync
from asl.engine.clock import VirtualClock

YEAR = 365 * 24 * 3600


def waiting(seconds, **top):
    return asl.load({"StartAt": "W", **top, "States": {"W": {"Type": "Wait", "Seconds": seconds, "End": True}}})


def assert_timed_out_at(result, seconds):
    assert result.status == "TIMED_OUT" and result.error == "States.Timeout" and result.cause is None
    assert result.stop_time - result.start_time == seconds
    last = result.events[-1]
    # AWS: error States.Timeout, no cause, linked to no earlier event
    assert last["type"] == "ExecutionTimedOut" and last["previousEventId"] == 0
    assert last["executionTimedOutEventDetails"] == {"error": "States.Timeout"}


def test_a_standard_execution_ends_after_one_year_in_virtual_time():
    result = run_sync(waiting(3 * YEAR), {}, clock=VirtualClock(start=0))
    assert_timed_out_at(result, YEAR)
    assert run_sync(waiting(YEAR - 1), {}, clock=VirtualClock(start=0)).status == "SUCCEEDED"


def test_timeout_seconds_beyond_the_maximum_is_capped():
    result = run_sync(waiting(3 * YEAR, TimeoutSeconds=99_999_999), {}, clock=VirtualClock(start=0))
    assert_timed_out_at(result, YEAR)
    result = run_sync(waiting(3600, TimeoutSeconds=1000), {}, type="EXPRESS", clock=VirtualClock(start=0))
    assert_timed_out_at(result, 300)


def test_a_shorter_timeout_seconds_still_wins():
    result = run_sync(waiting(3600, TimeoutSeconds=60), {}, type="EXPRESS", clock=VirtualClock(start=0))
    assert_timed_out_at(result, 60)


def test_the_maximum_duration_applies_in_real_time(monkeypatch):
    monkeypatch.setattr(execution_module, "STANDARD_MAX_SECONDS", 0.2)
    monkeypatch.setattr(execution_module, "EXPRESS_MAX_SECONDS", 0.1)
    for machine_type in ("STANDARD", "EXPRESS"):
        start = time.monotonic()
        result = run_sync(waiting(30), {}, virtual_time=False, type=machine_type)
        assert time.monotonic() - start < 10
        assert result.status == "TIMED_OUT" and result.events[-1]["type"] == "ExecutionTimedOut"


def test_a_handler_awaiting_real_io_under_virtual_time_does_not_reach_the_maximum():
    import anyio

    machine = asl.load({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:slow", "End": True}}})

    async def slow(payload):
        await anyio.sleep(0.05)   # real time, outside the virtual clock
        return "done"

    for machine_type in ("STANDARD", "EXPRESS"):
        result = run_sync(machine, {}, handlers={"slow": slow}, type=machine_type)
        assert result.status == "SUCCEEDED" and result.output == "done"
