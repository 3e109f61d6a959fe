"""Sync handlers (run in worker threads): timeouts, aborts, exits, interrupts, and what they return."""
from __future__ import annotations

import json
import re
import threading
import time

import anyio
import pytest

import asl
from asl.engine import TaskFailed, prepare, run_sync

LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:"


def task(name, **extra):
    return {"Type": "Task", "Resource": LAMBDA + name, **extra}


def machine(**states):
    return asl.load({"StartAt": next(iter(states)), "States": states})


@pytest.fixture
def release():
    """An event blocking handlers wait on; set at the end so no thread outlives the test for long."""
    event = threading.Event()
    yield event
    event.set()


def stamp(event):
    from datetime import datetime
    return datetime.fromisoformat(event["timestamp"]).timestamp()


def events(result, kind=None):
    return [e for e in result.history.events if kind is None or e["type"] == kind]


# ---- TimeoutSeconds -------------------------------------------------------------------------

@pytest.mark.parametrize("virtual_time", [False, True])
def test_a_sync_handler_that_outlives_timeout_seconds_times_out_and_is_retried(release, virtual_time):
    calls, returned = [], []

    def slow(payload):
        calls.append(1)
        release.wait(120)  # set when the test ends: the run must not wait for it
        returned.append(1)
        return "late"

    m = machine(A=task("slow", TimeoutSeconds=1, End=True,
                       Retry=[{"ErrorEquals": ["States.Timeout"], "MaxAttempts": 1, "IntervalSeconds": 1}]))
    result = run_sync(m, {}, handlers={"slow": slow}, virtual_time=virtual_time)
    assert returned == []  # the run ended while both handlers still blocked: it stopped waiting for them
    # no cause: AWS records none for a timed-out task (LambdaFunctionTimedOut, ExecutionFailed)
    assert (result.status, result.error, result.cause) == ("FAILED", "States.Timeout", None)
    assert len(calls) == 2  # the Retry on States.Timeout fired
    assert len(events(result, "LambdaFunctionTimedOut")) == 2 and not events(result, "LambdaFunctionSucceeded")
    # as the history records it: each attempt timed out 1 s after it started (never earlier),
    # and the second began after the 1 s retry interval
    started, timed_out = events(result, "LambdaFunctionStarted"), events(result, "LambdaFunctionTimedOut")
    for began, ended in zip(started, timed_out):
        assert stamp(ended) - stamp(began) >= 1.0 - 0.001
    assert stamp(events(result, "LambdaFunctionScheduled")[1]) - stamp(timed_out[0]) >= 1.0 - 0.001
    if virtual_time:  # virtual time: exactly 1 s, the clock jumps to the deadline
        assert stamp(timed_out[0]) - stamp(started[0]) == pytest.approx(1.0, abs=0.01)


def test_a_quick_sync_handler_takes_no_virtual_time():
    def quick(payload):
        time.sleep(0.05)
        return payload

    m = machine(A=task("quick", TimeoutSeconds=5, Next="W"), W={"Type": "Wait", "Seconds": 10, "End": True})
    result = run_sync(m, {"a": 1}, handlers={"quick": quick}, virtual_time=True)
    assert result.status == "SUCCEEDED"
    stamps = [stamp(e) for e in result.history.events]
    assert stamps[-1] - stamps[0] == 10  # the Wait's 10 s, nothing for the handler: runs repeat exactly


def test_a_wait_beside_a_long_sync_handler_ends_in_real_time_under_virtual_time(release):
    def slow(payload):
        return "done" if release.wait(120) else "not released"

    def free(payload):
        release.set()
        return "freed"

    m = machine(P={"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "S", "States": {"S": task("slow", End=True)}},
        {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "Next": "F"}, "F": task("free", End=True)}}]})
    result = run_sync(m, {}, handlers={"slow": slow, "free": free}, virtual_time=True)
    # the Wait ended while the handler still ran (it returns "done" only once `free` released it)
    assert result.output == ["done", "freed"]


# ---- a failing sibling branch aborts a running sync handler --------------------------------

def test_a_failing_branch_aborts_a_blocking_sync_handler_at_once(release):
    started, returned = threading.Event(), []

    def slow(payload):
        started.set()
        release.wait(120)  # set when the test ends
        returned.append(1)
        return "late"

    async def bad(payload):
        while not started.is_set():
            await anyio.sleep(0.01)
        raise ValueError("boom")

    m = machine(P={"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "Slow", "States": {"Slow": task("slow", End=True)}},
        {"StartAt": "Bad", "States": {"Bad": task("bad", End=True)}}]})
    result = run_sync(m, {}, handlers={"slow": slow, "bad": bad})
    assert returned == []  # the Parallel failed while the sync handler still blocked
    assert (result.status, result.error) == ("FAILED", "ValueError")
    kinds = [e["type"] for e in result.history.events]
    assert "TaskStateAborted" in kinds and "LambdaFunctionSucceeded" not in kinds
    assert kinds[-2:] == ["ParallelStateFailed", "ExecutionFailed"]


# ---- SystemExit and KeyboardInterrupt ------------------------------------------------------

@pytest.mark.parametrize("code, reason", [
    (1, "Runtime exited with error: exit status 1"),
    (3, "Runtime exited with error: exit status 3"),
    ("bye", "Runtime exited with error: exit status 1"),  # Python prints the text and exits 1
    (None, "Runtime exited without providing a reason"),
    (0, "Runtime exited without providing a reason"),
])
@pytest.mark.parametrize("kind", ["sync", "async"])
def test_sys_exit_in_a_handler_fails_the_task_as_lambda_reports_an_exited_runtime(code, reason, kind):
    import sys

    def leave(payload):
        sys.exit(code)

    async def leave_async(payload):
        sys.exit(code)

    m = machine(A=task("f", End=True))
    result = run_sync(m, {}, handlers={"f": leave if kind == "sync" else leave_async})
    assert (result.status, result.error) == ("FAILED", "Runtime.ExitError")
    cause = json.loads(result.cause)
    assert cause["errorType"] == "Runtime.ExitError"
    assert re.fullmatch(r"RequestId: [0-9a-f-]{36} Error: " + reason, cause["errorMessage"])
    assert result.cause == json.dumps(cause)  # through a function ARN: as the runtime wrote it, like any error


def test_sys_exit_can_be_caught_like_any_lambda_error():
    import sys

    m = machine(A=task("f", Catch=[{"ErrorEquals": ["Runtime.ExitError"], "Next": "B"}], End=True),
                B={"Type": "Pass", "End": True})
    result = run_sync(m, {}, handlers={"f": lambda p: sys.exit(2)})
    assert result.status == "SUCCEEDED" and result.output["Error"] == "Runtime.ExitError"


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_keyboard_interrupt_in_a_handler_is_a_plain_interrupt(kind):
    def stop(payload):
        raise KeyboardInterrupt

    async def stop_async(payload):
        raise KeyboardInterrupt

    m = machine(P={"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "A", "States": {"A": task("f", End=True)}}]})
    with pytest.raises(KeyboardInterrupt) as info:
        run_sync(m, {}, handlers={"f": stop if kind == "sync" else stop_async})
    assert type(info.value) is KeyboardInterrupt  # not an exception group


# ---- results that are not JSON -------------------------------------------------------------

def test_a_handler_result_that_is_not_json_fails_as_lambda_reports_it():
    result = run_sync(machine(A=task("f", End=True)), {}, handlers={"f": lambda p: {"s": {1, 2}}})
    assert (result.status, result.error) == ("FAILED", "Runtime.MarshalError")
    assert json.loads(result.cause) == {
        "errorMessage": "Unable to marshal response: Object of type set is not JSON serializable",
        "errorType": "Runtime.MarshalError"}


def test_send_task_success_with_output_that_is_not_json_is_invalid_output():
    m = machine(A={"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                   "Parameters": {"token.$": "$$.Task.Token"}, "End": True})
    seen = {}

    def send(payload):
        seen.update(payload)
        return {}

    async def main():
        ex = prepare(m, {}, handlers={"arn:aws:states:::sqs:sendMessage.waitForTaskToken": send}, virtual_time=False)
        async with anyio.create_task_group() as tg:
            async def complete():
                while "token" not in seen:
                    await anyio.sleep(0.01)
                output = {"s": {1, 2}}
                with pytest.raises(TaskFailed) as info:
                    ex.send_task_success(seen["token"], output)
                assert info.value.error == "InvalidOutput"
                assert info.value.cause.startswith("The provided JSON output data is not valid")
                with pytest.raises(TaskFailed):
                    ex.send_task_success(seen["token"], {"n": float("nan")})
                good = {"ok": [1]}
                ex.send_task_success(seen["token"], good)  # the task was still waiting
                good["ok"].append(2)  # the caller's object is not the execution's
            tg.start_soon(complete)
            return await ex.run()

    result = anyio.run(main)
    assert (result.status, result.output) == ("SUCCEEDED", {"ok": [1]})
