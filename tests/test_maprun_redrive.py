"""Redriving an execution whose Distributed Map failed, through `asl serve` (real process, real
boto3, S3 on moto's server), against the raw AWS capture radkawar/stackd
``testdata/aws/stepfunctions/redrive_map.json`` (boto3 against us-west-2, 2026-09; its labels
are cited as ``standard:...`` for the observations prefixed ``attempt2:standard:`` and
``express:...`` for those prefixed ``attempt3:express:``, the capture's evidence selection).

The capture's probe, run here as it ran there: a Pass, a Wait of ``$.item.wait`` seconds,
``aws-sdk:s3:getObject`` of ``$.item.key``, a Pass recording ``$$.Execution``, over six items
(MaxConcurrency 2, ToleratedFailureCount 0, a ResultWriter); item 1's object is missing, so the
Map Run fails while item 2 waits (30 s there, scaled here); the object is then written, the
others' changed, and the parent redriven. Each store (memory, SQLite, PostgreSQL) runs it once
per module; the tests read what it left."""
from __future__ import annotations

import json
import time
from typing import Any

import pytest

from test_service import ROLE, Server, boto3, wait_done  # noqa: F401 - boto3: skips without it

pytest.importorskip("moto")

SCALE = 0.1  # --wait-time-scale: the probe's 8 s and 30 s Waits take 0.8 s and 3 s


def definition(kind: str, bucket: str) -> dict:
    """The probe's machine (the capture's source, ``definition(kind)``)."""
    return {
        "StartAt": "BeforeMap", "TimeoutSeconds": 180,
        "States": {
            "BeforeMap": {"Type": "Pass", "Parameters": {"execution.$": "$$.Execution"},
                          "ResultPath": "$.parentBefore", "Next": "ProbeMap"},
            "ProbeMap": {
                "Type": "Map", "Label": "ProbeMap", "ItemsPath": "$.items", "MaxConcurrency": 2,
                "ToleratedFailureCount": 0,
                "ItemSelector": {"index.$": "$$.Map.Item.Index", "item.$": "$$.Map.Item.Value",
                                 "parentBefore.$": "$.parentBefore"},
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": kind}, "StartAt": "BeforeTask",
                    "States": {
                        "BeforeTask": {"Type": "Pass", "Parameters": {"execution.$": "$$.Execution"},
                                       "ResultPath": "$.before", "Next": "Pause"},
                        "Pause": {"Type": "Wait", "SecondsPath": "$.item.wait", "Next": "ReadOwnedObject"},
                        "ReadOwnedObject": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                                            "Parameters": {"Bucket": bucket, "Key.$": "$.item.key"},
                                            "ResultPath": "$.object", "Next": "AfterTask"},
                        "AfterTask": {"Type": "Pass", "End": True, "Parameters": {
                            "index.$": "$.index", "key.$": "$.item.key", "parentBefore.$": "$.parentBefore",
                            "before.$": "$.before", "after.$": "$$.Execution", "object.$": "$.object"}}}},
                "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject",
                                 "Parameters": {"Bucket": bucket, "Prefix": "results/" + kind.lower()}},
                "ResultPath": "$.mapResult", "Next": "AfterMap"},
            "AfterMap": {"Type": "Pass", "End": True, "Parameters": {
                "before.$": "$.parentBefore", "after.$": "$$.Execution", "mapResult.$": "$.mapResult"}},
        },
    }


def snapshot(sfn, arn: str) -> dict:
    """What the probe's ``snapshot`` reads: the parent, its history, its Map Run, the Map Run's
    children (ListExecutions with mapRunArn), each one described, its history, its machine."""
    run = sfn.list_map_runs(executionArn=arn)["mapRuns"][0]["mapRunArn"]
    rows = sfn.list_executions(mapRunArn=run)["executions"]
    children: dict[int, dict] = {}
    for row in rows:
        child = row["executionArn"]
        described = sfn.describe_execution(executionArn=child)
        try:
            history = sfn.get_execution_history(executionArn=child, maxResults=1000)["events"]
        except sfn.exceptions.InvalidArn:
            history = None
        children[json.loads(described["input"])["index"]] = {
            "row": row, "described": described, "history": history,
            "machine": sfn.describe_state_machine_for_execution(executionArn=child)}
    return {"parent": sfn.describe_execution(executionArn=arn),
            "events": sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"],
            "run": sfn.describe_map_run(mapRunArn=run), "rows": rows, "children": children}


def exports(s3, bucket: str, kind: str) -> dict[str, Any]:
    """The result files, by key after ``results/<kind>/<map run id>/``, read as JSON."""
    found = {}
    for item in s3.list_objects_v2(Bucket=bucket, Prefix=f"results/{kind.lower()}/").get("Contents", []):
        found[item["Key"].split("/", 2)[2]] = json.loads(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
    return found


def probe(tmp_path, store: str, kind: str, moto_url: str) -> dict:
    """The capture's ``run_case(kind)`` (without its role-permission detours)."""
    bucket = f"redrive-{kind.lower()}-{store.split(':')[0]}"
    s3 = boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1", aws_access_key_id="testing",
                      aws_secret_access_key="testing")
    s3.create_bucket(Bucket=bucket)
    present, missing = f"inputs/{kind.lower()}/present", f"inputs/{kind.lower()}/missing"
    s3.put_object(Bucket=bucket, Key=present, Body=b"initial", Metadata={"phase": "initial"})
    srv = Server(tmp_path, store, "--endpoint-url", f"s3={moto_url}", "--wait-time-scale", str(SCALE))
    srv.env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    srv.start()
    try:
        sfn = srv.client()
        machine = sfn.create_state_machine(name=f"probe-{kind.lower()}", roleArn=ROLE,
                                           definition=json.dumps(definition(kind, bucket)))["stateMachineArn"]
        items = [{"key": present, "wait": 0}, {"key": missing, "wait": 8}, {"key": present, "wait": 30},
                 {"key": present, "wait": 0}, {"key": present, "wait": 0}, {"key": present, "wait": 0}]
        arn = sfn.start_execution(stateMachineArn=machine, name=f"{kind.lower()}-0",
                                  input=json.dumps({"items": items}))["executionArn"]
        assert wait_done(sfn, arn)["status"] == "FAILED"
        failed = snapshot(sfn, arn)
        failed["exports"] = exports(s3, bucket, kind)
        s3.put_object(Bucket=bucket, Key=missing, Body=b"repaired", Metadata={"phase": "repaired"})
        s3.put_object(Bucket=bucket, Key=present, Body=b"changed-after-failure",
                      Metadata={"phase": "changed-after-failure"})
        redriven = sfn.redrive_execution(executionArn=arn)["redriveDate"]
        done = wait_done(sfn, arn)
        assert done["status"] == "SUCCEEDED", (done.get("error"), done.get("cause"))
        terminal = snapshot(sfn, arn)
        terminal["exports"] = exports(s3, bucket, kind)
        return {"failed": failed, "terminal": terminal, "redriveDate": redriven, "arn": arn}
    finally:
        srv.stop()


@pytest.fixture(scope="module", params=["memory", "sqlite", "postgresql"])
def store(request, tmp_path_factory):
    name = request.param
    if name == "memory":
        return "memory"
    if name == "sqlite":
        return f"sqlite:{tmp_path_factory.mktemp('sqlite') / 'runs.db'}"
    server = request.getfixturevalue("postgres_server")
    return server.create_database(f"maprun_redrive_{int(time.time() * 1000) % 10**9}")


_RUNS: dict = {}


@pytest.fixture(scope="module")
def standard(store, tmp_path_factory, moto_server):
    key = ("STANDARD", store)
    if key not in _RUNS:
        _RUNS[key] = probe(tmp_path_factory.mktemp("standard"), store, "STANDARD", moto_server.url)
    return _RUNS[key]


def kinds(events: list) -> list[str]:
    return [e["type"] for e in events]


def test_the_redriven_map_run_goes_on_after_its_first_map_state_started(standard):
    """standard:terminal:parent-history: after ExecutionRedriven, MapRunRedriven (the same Map
    Run, its count) follows the first run's MapStateStarted (no second MapStateStarted), and
    MapStateExited follows MapRunRedriven."""
    events = standard["terminal"]["events"]
    assert kinds(events)[9:] == ["ExecutionRedriven", "MapRunRedriven", "MapRunSucceeded", "MapStateSucceeded",
                                 "MapStateExited", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]
    started = next(e for e in events if e["type"] == "MapStateStarted")
    first = next(e for e in events if e["type"] == "MapRunStarted")
    opened = events[10]
    assert (opened["id"], opened["previousEventId"]) == (11, started["id"])
    assert opened["mapRunRedrivenEventDetails"] == {
        "mapRunArn": first["mapRunStartedEventDetails"]["mapRunArn"], "redriveCount": 1}
    assert [e["previousEventId"] for e in events[11:14]] == [11, 12, 11]  # MapRunSucceeded, MapStateSucceeded, Exited


def test_a_child_its_map_run_cut_short_is_aborted_with_aws_cause(standard):
    """standard:failed:child:*: item 2, in its Wait when item 1 failed the Map Run, ends
    WaitStateEntered, ExecutionAborted (previousEventId 0) with AWS's cause and no error, and
    so DescribeExecution and its record in the failed run's FAILED_0.json (REDRIVABLE_BY_MAP_RUN)."""
    failed = standard["failed"]
    run = failed["run"]["mapRunArn"]
    cause = f"The map run execution [{run}] which was managing this resource was aborted"
    child = failed["children"][2]
    assert child["described"]["status"] == "ABORTED"
    assert (child["described"].get("error"), child["described"]["cause"]) == (None, cause)
    assert child["described"]["redriveStatus"] == "REDRIVABLE_BY_MAP_RUN"
    history = child["history"]
    assert kinds(history) == ["ExecutionStarted", "PassStateEntered", "PassStateExited", "WaitStateEntered",
                              "ExecutionAborted"]
    assert history[-1]["previousEventId"] == 0
    assert history[-1]["executionAbortedEventDetails"] == {"cause": cause}
    (written,) = [r for r in failed["exports"][f"{run.rsplit(':', 1)[1]}/FAILED_0.json"] if r["Status"] == "ABORTED"]
    assert written["Cause"] == cause and "Error" not in written
    assert written["ExecutionArn"] == child["row"]["executionArn"]
