"""Distributed Map children of type EXPRESS (``ProcessorConfig.ExecutionType: EXPRESS``), as AWS
runs them: Express ARNs (``…:express:{machine}/{label}:{name}:{uuid}``), at most five minutes
(then TIMED_OUT, States.Timeout, a failed item), no history, DescribeExecution and ListExecutions
by Map Run in `asl serve`, and a redriven Map Run starting the children that did not succeed
again as new executions. In the library (virtual time), on the processes and Dask executors,
and through `asl serve` as a process with boto3."""
from __future__ import annotations

import json
import re

import anyio
import pytest

import asl
from asl.engine import Handlers, TaskFailed, redrive, run, run_sync
from asl.engine.clock import VirtualClock
from asl.engine.stores import open_store

UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
EXPRESS_ARN = re.compile(rf"arn:aws:states:us-east-1:123456789012:express:sm/Fan:({UUID}):({UUID})")
FN = "arn:aws:lambda:us-east-1:123456789012:function:"


def dmap(states: dict, start: str, execution_type: str = "EXPRESS", **fields) -> dict:
    return {"StartAt": "M", "States": {"M": {
        "Type": "Map", "Label": "Fan", "End": True, **fields,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": execution_type},
                          "StartAt": start, "States": states}}}}


# a child that waits $.wait seconds, then outputs its $$.Execution
WAITING = {"W": {"Type": "Wait", "SecondsPath": "$.wait", "Next": "P"},
           "P": {"Type": "Pass", "Parameters": {"execution.$": "$$.Execution"}, "End": True}}


def waiting(execution_type: str = "EXPRESS", **fields) -> object:
    return asl.load(dmap(WAITING, "W", execution_type, **fields))


def seconds(iso: str) -> float:
    import datetime as dt

    return dt.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.timezone.utc).timestamp()


# ---- the library --------------------------------------------------------------------------------

def test_express_children_have_express_arns_and_context_and_run_at_most_five_minutes():
    result = run_sync(waiting(ToleratedFailureCount=1), [{"wait": 10}, {"wait": 400}, {"wait": 299}],
                      clock=VirtualClock(start=0), state_machine_name="sm")
    assert result.status == "SUCCEEDED", result.cause
    first, timed_out, last = result.output
    for child, value in ((first, {"wait": 10}), (last, {"wait": 299})):
        execution = child["execution"]
        # AWS's Express execution ARN, under the Map Run's machine (…/Label); $$.Execution.Id is it
        name, _uid = EXPRESS_ARN.fullmatch(execution["Id"]).groups()
        assert execution["Name"] == name and execution["Input"] == value
        assert execution["RedriveCount"] == 0  # started asynchronously (StartExecution): redrivable
        assert "RedriveTime" not in execution
    assert first["execution"]["Id"] != last["execution"]["Id"]
    # past five minutes: TIMED_OUT with States.Timeout and no cause, a failed (tolerated) item
    assert timed_out["Status"] == "TIMED_OUT" and timed_out["Error"] == "States.Timeout"
    assert "Cause" not in timed_out and "Output" not in timed_out
    name, _uid = EXPRESS_ARN.fullmatch(timed_out["ExecutionArn"]).groups()
    assert timed_out["Name"] == name and timed_out["RedriveStatus"] == "REDRIVABLE_BY_MAP_RUN"
    assert timed_out["StateMachineArn"] == "arn:aws:states:us-east-1:123456789012:stateMachine:sm/Fan"
    assert seconds(timed_out["StopDate"]) - seconds(timed_out["StartDate"]) == 300
    assert result.stop_time - result.start_time == 300


def test_a_timed_out_express_child_counts_against_the_tolerance():
    result = run_sync(waiting(), [{"wait": 1}, {"wait": 301}], clock=VirtualClock(start=0))
    assert (result.status, result.error) == ("FAILED", "States.ExceedToleratedFailureThreshold")
    failed = [e for e in result.events if e["type"] == "MapRunFailed"]
    assert failed[0]["mapRunFailedEventDetails"]["error"] == "States.ExceedToleratedFailureThreshold"
    # the same children of type STANDARD have a year
    standard = run_sync(waiting("STANDARD"), [{"wait": 1}, {"wait": 301}], clock=VirtualClock(start=0),
                        state_machine_name="sm")
    assert standard.status == "SUCCEEDED"
    arn = standard.output[1]["execution"]["Id"]
    assert re.fullmatch(rf"arn:aws:states:us-east-1:123456789012:execution:sm/Fan:{UUID}", arn)


def test_redrive_starts_the_express_children_that_did_not_succeed_as_new_executions():
    broken = {1, 3}
    calls: list = []

    def handlers():
        h = Handlers()

        @h.lambda_function("work")
        def work(event, ctx):
            execution = ctx.context["Execution"]
            calls.append((event["i"], execution["Id"], execution["RedriveCount"]))
            if event["i"] in broken:
                raise TaskFailed("Bad", "broken")
            return execution["Id"]
        return h

    machine = asl.load(dmap({"T": {"Type": "Task", "Resource": FN + "work", "End": True}}, "T",
                            MaxConcurrency=1, ToleratedFailureCount=1))

    async def main():
        store = open_store("memory")
        first = await run(machine, [{"i": i} for i in range(5)], handlers=handlers(), store=store,
                          clock=VirtualClock(), seed=1, state_machine_name="sm")
        before = list(calls)
        broken.clear()
        calls.clear()
        second = await redrive(store, first.execution_arn, handlers=handlers())
        return first, before, second

    first, before, second = anyio.run(main)
    assert first.error == "States.ExceedToleratedFailureThreshold"
    assert [i for i, _, _ in before] == [0, 1, 2, 3]  # 3 failed too: the run failed; 4 never started
    assert second.status == "SUCCEEDED", second.cause
    # only 1, 3 (failed) and 4 (not started) run: each a new Express execution, never redriven itself
    assert [i for i, _, _ in calls] == [1, 3, 4] and all(count == 0 for _, _, count in calls)
    old = {i: arn for i, arn, _ in before}
    new = {i: arn for i, arn, _ in calls}
    for i in (1, 3):
        assert new[i] != old[i]
        old_name, old_uid = EXPRESS_ARN.fullmatch(old[i]).groups()
        new_name, new_uid = EXPRESS_ARN.fullmatch(new[i]).groups()
        assert new_uid != old_uid
    # the output: the children's own ARNs, those that succeeded first kept
    assert second.output == [old[0], new[1], old[2], new[3], new[4]]
    redriven = [e for e in second.events if e["type"] == "MapRunRedriven"]
    assert redriven[0]["mapRunRedrivenEventDetails"]["redriveCount"] == 1


@pytest.mark.parametrize("kind", ["processes", "dask"])
def test_express_children_on_an_executor_time_out_as_inline(kind):
    pytest.importorskip("cloudpickle")
    if kind == "dask":
        pytest.importorskip("distributed")
    from asl.engine.executors import open_executor

    items = [{"wait": 5}, {"wait": 420}, {"wait": 60}]

    async def main():
        inline = await run(waiting(ToleratedFailureCount=1), items, clock=VirtualClock(0), seed=3,
                           state_machine_name="sm")
        executor = open_executor(kind)
        if kind == "dask":
            from asl.engine.executors.daskcluster import DaskExecutor

            executor = DaskExecutor(workers=1)
        async with executor:
            away = await run(waiting(ToleratedFailureCount=1), items, clock=VirtualClock(0), seed=3,
                             state_machine_name="sm", executor=executor)
        return inline, away

    inline, away = anyio.run(main)
    assert inline.status == away.status == "SUCCEEDED"
    # the same children, ARNs and context (a worker's virtual time is its own: the parent's clock,
    # which dates the records, does not move with it)
    undated = [{k: v for k, v in o.items() if k != "StopDate"} for o in away.output]
    assert undated == [{k: v for k, v in o.items() if k != "StopDate"} for o in inline.output]
    assert away.output[1]["Status"] == "TIMED_OUT" and away.output[1]["Error"] == "States.Timeout"
    assert EXPRESS_ARN.fullmatch(away.output[0]["execution"]["Id"])
