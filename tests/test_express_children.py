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
    # an Express child's record has no RedriveStatus (raw AWS capture, radkawar/stackd
    # testdata/aws/stepfunctions/redrive_map.json, express:failed-exports FAILED_0.json)
    assert timed_out["Name"] == name and "RedriveStatus" not in timed_out
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


def test_redrive_runs_the_express_children_that_did_not_succeed_again_under_their_arns():
    """A redriven parent's Map Run runs each Express child that failed again, from its start,
    under the same ARN with ``$$.Execution.RedriveCount`` 1 and no RedriveTime; one that had not
    started starts with RedriveCount 0 (raw AWS capture, radkawar/stackd
    testdata/aws/stepfunctions/redrive_map.json, express:terminal: the failed child's ARN kept,
    its BeforeTask and AfterTask context RedriveCount 1, no RedriveTime)."""
    broken = {1, 3}
    calls: list = []

    def handlers():
        h = Handlers()

        @h.lambda_function("work")
        def work(event, ctx):
            execution = ctx.context["Execution"]
            calls.append((event["i"], execution["Id"], execution["RedriveCount"], "RedriveTime" in execution))
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
    assert [i for i, *_ in before] == [0, 1, 2, 3]  # 3 failed too: the run failed; 4 never started
    assert second.status == "SUCCEEDED", second.cause
    # only 1, 3 (failed) and 4 (not started) run
    assert [(i, count, timed) for i, _, count, timed in calls] == [(1, 1, False), (3, 1, False), (4, 0, False)]
    old = {i: arn for i, arn, *_ in before}
    new = {i: arn for i, arn, *_ in calls}
    assert new[1] == old[1] and new[3] == old[3] and EXPRESS_ARN.fullmatch(new[4])
    assert second.output == [old[0], old[1], old[2], old[3], new[4]]
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
    # the same children, ARNs, context and dates (the parent's clock moves with the virtual time
    # its children took on the workers: the 420 s child's StopDate is its start + 300 s)
    assert away.output == inline.output
    assert away.output[1]["StopDate"] == "1970-01-01T00:05:00.000Z"  # (before: the parent's start)
    assert away.output[1]["Status"] == "TIMED_OUT" and away.output[1]["Error"] == "States.Timeout"
    assert EXPRESS_ARN.fullmatch(away.output[0]["execution"]["Id"])


# ---- asl serve ------------------------------------------------------------------------------------

SERVE_HANDLERS = '''
from pathlib import Path

from asl.engine import TaskFailed

HERE = Path(__file__).parent

def work(event, context):
    execution = context.context["Execution"]
    with open(HERE / "calls", "a") as fh:
        fh.write(f"{event['i']} {execution['Id']} {execution['RedriveCount']}\\n")
    if str(event["i"]) in (HERE / "broken").read_text().split():
        raise TaskFailed("Bad", "broken")
    return {"i": event["i"]}

HANDLERS = {"work": work}
'''

SERVE_STATES = {"Route": {"Type": "Choice", "Choices": [{"Variable": "$.wait", "IsPresent": True, "Next": "W"}],
                          "Default": "T"},
                "W": {"Type": "Wait", "SecondsPath": "$.wait", "End": True},
                "T": {"Type": "Task", "Resource": FN + "work", "End": True}}


@pytest.fixture
def served(tmp_path):
    from test_service import Server

    (tmp_path / "handlers.py").write_text(SERVE_HANDLERS)
    (tmp_path / "broken").write_text("")
    (tmp_path / "calls").write_text("")
    srv = Server(tmp_path, f"sqlite:{tmp_path / 'runs.db'}", "--handlers", str(tmp_path / "handlers.py"))
    srv.env = {"ASL_EXPRESS_MAX_SECONDS": "2"}  # the five minutes, shortened for the test
    srv.start()
    yield srv
    if srv.proc.poll() is None:
        srv.stop()


def error(call, **kwargs) -> dict:
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as info:
        call(**kwargs)
    return info.value.response["Error"]


def serve_arn(name: str) -> re.Pattern:
    return re.compile(rf"arn:aws:states:us-east-1:123456789012:express:{name}/Fan:({UUID}):({UUID})")


def test_asl_serve_express_children_describe_list_counts_and_no_history(served):
    from test_service import ROLE, wait_done

    sfn = served.client()
    machine = sfn.create_state_machine(name="sm", roleArn=ROLE, definition=json.dumps(
        dmap(SERVE_STATES, "Route", ToleratedFailureCount=1)))["stateMachineArn"]
    items = [{"i": 0}, {"i": 1, "wait": 30}, {"i": 2}]
    arn = sfn.start_execution(stateMachineArn=machine, input=json.dumps(items))["executionArn"]
    out = wait_done(sfn, arn)
    assert out["status"] == "SUCCEEDED", (out.get("error"), out.get("cause"))
    first, timed_out, last = json.loads(out["output"])
    assert (first, last) == ({"i": 0}, {"i": 2})
    assert (timed_out["Status"], timed_out["Error"]) == ("TIMED_OUT", "States.Timeout")

    map_run = sfn.list_map_runs(executionArn=arn)["mapRuns"][0]["mapRunArn"]
    children = sfn.list_executions(mapRunArn=map_run)["executions"]
    assert len(children) == 3
    for child in children:
        name, _uid = serve_arn("sm").fullmatch(child["executionArn"]).groups()
        assert child["name"] == name and child["mapRunArn"] == map_run and child["itemCount"] == 1
        assert child["stateMachineArn"] == machine + "/Fan"
    assert sorted(c["status"] for c in children) == ["SUCCEEDED", "SUCCEEDED", "TIMED_OUT"]
    (late,) = sfn.list_executions(mapRunArn=map_run, statusFilter="TIMED_OUT")["executions"]
    assert late["executionArn"] == timed_out["ExecutionArn"]

    # DescribeExecution works for the Express children a Map Run dispatched (API DescribeExecution)
    described = sfn.describe_execution(executionArn=late["executionArn"])
    assert (described["status"], described["error"], described["mapRunArn"]) == ("TIMED_OUT", "States.Timeout",
                                                                                  map_run)
    assert json.loads(described["input"]) == items[1] and "cause" not in described and "output" not in described
    assert described["redriveStatus"] == "REDRIVABLE_BY_MAP_RUN"
    done = next(c for c in children if c["status"] == "SUCCEEDED")
    described = sfn.describe_execution(executionArn=done["executionArn"])
    assert json.loads(described["output"]) == json.loads(described["input"])
    assert (described["redriveStatus"], described["redriveStatusReason"]) == (
        "NOT_REDRIVABLE", "Execution is SUCCEEDED and cannot be redriven")

    # no history, as for any Express execution: refused as GetExecutionHistory refuses one
    express = sfn.create_state_machine(name="plain", roleArn=ROLE, type="EXPRESS", definition=json.dumps(
        {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))["stateMachineArn"]
    plain = sfn.start_execution(stateMachineArn=express, input="{}")["executionArn"]
    refused = error(sfn.get_execution_history, executionArn=plain)
    assert refused == {"Code": "InvalidArn", "Message": "Invalid Arn: 'Resource type not valid in this context: "
                                                         "express'"}
    for child in children:
        assert error(sfn.get_execution_history, executionArn=child["executionArn"]) == refused
    # StopExecution refuses them too; DescribeExecution still refuses a plain Express one
    assert error(sfn.stop_execution, executionArn=done["executionArn"]) == refused
    assert error(sfn.describe_execution, executionArn=plain) == refused
    assert error(sfn.describe_state_machine_for_execution, executionArn=plain) == refused
    # DescribeStateMachineForExecution describes the processor a dispatched one ran, as a
    # Standard child's (raw AWS capture, radkawar/stackd testdata/aws/stepfunctions/redrive_map.json,
    # express:failed:child:N:definition: the parent machine's name, the Map Run and its label, the
    # processor without its ProcessorConfig)
    processor = sfn.describe_state_machine_for_execution(executionArn=done["executionArn"])
    assert (processor["stateMachineArn"], processor["name"], processor["mapRunArn"], processor["label"]) == (
        machine + "/Fan", "sm", map_run, "Fan")
    assert "ProcessorConfig" not in json.loads(processor["definition"])
    assert processor["encryptionConfiguration"] == {"type": "AWS_OWNED_KEY"}
    unknown = "arn:aws:states:us-east-1:123456789012:express:sm/Fan:" + "0" * 8 + "-0000-0000-0000-" + "0" * 12 + \
        ":" + "1" * 8 + "-1111-1111-1111-" + "1" * 12
    assert error(sfn.describe_execution, executionArn=unknown)["Code"] == "ExecutionDoesNotExist"

    counts = sfn.describe_map_run(mapRunArn=map_run)
    expected = {"pending": 0, "running": 0, "succeeded": 2, "failed": 0, "timedOut": 1, "aborted": 0, "total": 3,
                "resultsWritten": 2, "failuresNotRedrivable": 0, "pendingRedrive": 0}
    assert counts["itemCounts"] == counts["executionCounts"] == expected
    assert counts["status"] == "SUCCEEDED"


def test_asl_serve_redrive_runs_failed_express_children_again_under_their_arns(served):
    """Through the service: the failed Express children run again under their ARNs, with
    DescribeExecution's redriveCount 1, no redriveDate and the new run's startDate; ListExecutions
    lists each child once, the most recently started first (raw AWS capture, radkawar/stackd
    testdata/aws/stepfunctions/redrive_map.json, express:terminal:children and :child describes)."""
    from test_service import ROLE, wait_done

    (served.tmp / "broken").write_text("1 3")
    sfn = served.client()
    machine = sfn.create_state_machine(name="sm", roleArn=ROLE, definition=json.dumps(
        dmap(SERVE_STATES, "Route", MaxConcurrency=1, ToleratedFailureCount=1)))["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=machine, input=json.dumps([{"i": i} for i in range(5)]))[
        "executionArn"]
    assert wait_done(sfn, arn)["error"] == "States.ExceedToleratedFailureThreshold"
    map_run = sfn.list_map_runs(executionArn=arn)["mapRuns"][0]["mapRunArn"]
    before = {int(i): child for i, child, _ in (line.split() for line in (served.tmp / "calls").read_text().split("\n")
                                                 if line)}
    assert sorted(before) == [0, 1, 2, 3]
    failed = sfn.list_executions(mapRunArn=map_run, statusFilter="FAILED")["executions"]
    assert sorted(c["executionArn"] for c in failed) == sorted([before[1], before[3]])
    first_start = {i: sfn.describe_execution(executionArn=before[i])["startDate"] for i in (1, 3)}
    assert all(sfn.describe_execution(executionArn=before[i])["redriveCount"] == 0 for i in range(4))

    (served.tmp / "broken").write_text("")
    (served.tmp / "calls").write_text("")
    sfn.redrive_execution(executionArn=arn)
    out = wait_done(sfn, arn)
    assert out["status"] == "SUCCEEDED", (out.get("error"), out.get("cause"))
    assert json.loads(out["output"]) == [{"i": i} for i in range(5)]
    # 1 and 3 (failed) run again under their ARNs (RedriveCount 1), 4 (never started) starts
    calls = [line.split() for line in (served.tmp / "calls").read_text().split("\n") if line]
    assert [(int(i), count) for i, _, count in calls] == [(1, "1"), (3, "1"), (4, "0")]
    after = {int(i): child for i, child, _ in calls}
    for i in (1, 3):
        assert after[i] == before[i]
        described = sfn.describe_execution(executionArn=before[i])
        assert (described["status"], described["redriveCount"]) == ("SUCCEEDED", 1)
        assert "redriveDate" not in described and described["startDate"] > first_start[i]
    listed = sfn.list_executions(mapRunArn=map_run)["executions"]
    assert {c["executionArn"]: c["status"] for c in listed} == {**{before[i]: "SUCCEEDED" for i in range(4)},
                                                                 after[4]: "SUCCEEDED"}
    assert [c["startDate"] for c in listed] == sorted((c["startDate"] for c in listed), reverse=True)
    assert {c["executionArn"]: c["redriveCount"] for c in listed} == {
        before[0]: 0, before[1]: 1, before[2]: 0, before[3]: 1, after[4]: 0}
    assert all("redriveDate" not in c for c in listed)
    described = sfn.describe_map_run(mapRunArn=map_run)
    assert (described["status"], described["redriveCount"]) == ("SUCCEEDED", 1)
    assert described["itemCounts"]["succeeded"] == described["itemCounts"]["total"] == 5


def test_the_console_shows_an_express_child_without_history(served):
    import urllib.parse
    import urllib.request

    from test_service import ROLE, wait_done

    sfn = served.client()
    machine = sfn.create_state_machine(name="sm", roleArn=ROLE, definition=json.dumps(
        dmap(SERVE_STATES, "Route")))["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=machine, input=json.dumps([{"i": 0}]))["executionArn"]
    assert wait_done(sfn, arn)["status"] == "SUCCEEDED"
    map_run = sfn.list_map_runs(executionArn=arn)["mapRuns"][0]["mapRunArn"]
    (child,) = sfn.list_executions(mapRunArn=map_run)["executions"]
    query = urllib.parse.urlencode({"arn": child["executionArn"]})
    with urllib.request.urlopen(f"{served.endpoint}/console/api/execution?{query}") as answer:
        page = json.loads(answer.read())
    assert page["execution"]["executionArn"] == child["executionArn"]
    assert page["execution"]["status"] == "SUCCEEDED" and page["eventCount"] == 0 and page["events"] == []
    with urllib.request.urlopen(f"{served.endpoint}/console/api/graph?"
                                f"{urllib.parse.urlencode({'execution': child['executionArn']})}") as answer:
        graph = json.loads(answer.read())
    assert {node["name"] for node in graph["nodes"]} >= {"Route", "W", "T"}  # the item processor
