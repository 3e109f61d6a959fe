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


def answer(response: dict) -> dict:
    response.pop("ResponseMetadata", None)
    return response


def snapshot(sfn, arn: str) -> dict:
    """What the probe's ``snapshot`` reads: the parent, its history, its Map Run, the Map Run's
    children (ListExecutions with mapRunArn), each one described, its history, its machine."""
    run = sfn.list_map_runs(executionArn=arn)["mapRuns"][0]["mapRunArn"]
    rows = sfn.list_executions(mapRunArn=run)["executions"]
    children: dict[int, dict] = {}
    for row in rows:
        child = row["executionArn"]
        described = answer(sfn.describe_execution(executionArn=child))
        try:
            history = sfn.get_execution_history(executionArn=child, maxResults=1000)["events"]
        except sfn.exceptions.InvalidArn:
            history = None
        children[json.loads(described["input"])["index"]] = {
            "row": row, "described": described, "history": history,
            "machine": answer(sfn.describe_state_machine_for_execution(executionArn=child))}
    return {"parent": answer(sfn.describe_execution(executionArn=arn)),
            "events": sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"],
            "run": answer(sfn.describe_map_run(mapRunArn=run)), "rows": rows, "children": children}


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
        return {"failed": failed, "terminal": terminal, "redriveDate": redriven, "arn": arn, "bucket": bucket}
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


def probed(kind: str, store: str, tmp_path_factory, moto_server) -> dict:
    """The probe's run of `kind` on `store`, once per module."""
    if (kind, store) not in _RUNS:
        _RUNS[kind, store] = probe(tmp_path_factory.mktemp(kind.lower()), store, kind, moto_server.url)
    return _RUNS[kind, store]


@pytest.fixture(scope="module")
def standard(store, tmp_path_factory, moto_server):
    return probed("STANDARD", store, tmp_path_factory, moto_server)


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


def index_of(snapshot: dict, arn: str) -> int:
    return next(i for i, child in snapshot["children"].items() if child["row"]["executionArn"] == arn)


def test_the_children_that_did_not_succeed_are_redriven_under_their_arns(standard):
    """standard:terminal:children (ListExecutions with mapRunArn) and their describes: the failed
    and the aborted child keep their ARNs and start dates, with redriveCount 1 and a redriveDate
    of their own (at or after the parent's); the succeeded one is as it was (its output read the
    first object); the items that had not started run as new children (redriveCount 0). The
    children are listed the most recently started first."""
    failed, terminal = standard["failed"]["children"], standard["terminal"]["children"]
    assert sorted(terminal) == [0, 1, 2, 3, 4, 5]
    for i in (0, 1, 2):
        before, after = failed[i]["row"], terminal[i]["row"]
        assert (after["executionArn"], after["startDate"]) == (before["executionArn"], before["startDate"])
        assert after["status"] == "SUCCEEDED"
    for i in (1, 2):
        row, described = terminal[i]["row"], terminal[i]["described"]
        assert (row["redriveCount"], described["redriveCount"]) == (1, 1)
        assert row["redriveDate"] == described["redriveDate"] >= standard["redriveDate"]
        assert described["redriveStatus"] == "NOT_REDRIVABLE"
    for i in (0, 3, 4, 5):
        assert terminal[i]["row"]["redriveCount"] == 0 and "redriveDate" not in terminal[i]["row"]
    assert terminal[0]["described"]["output"] == failed[0]["described"]["output"]
    assert terminal[0]["history"] == failed[0]["history"]
    assert json.loads(terminal[0]["described"]["output"])["object"]["Body"] == "initial"
    for i in (1, 2, 3, 4, 5):  # (read after the redrive: the repaired and the changed objects)
        assert json.loads(terminal[i]["described"]["output"])["object"]["Body"] in ("repaired", "changed-after-failure")
    starts = [row["startDate"] for row in standard["terminal"]["rows"]]
    assert starts == sorted(starts, reverse=True)


def test_a_redriven_child_goes_on_from_the_state_it_did_not_finish(standard):
    """standard:terminal:child histories (finding standard-resumes-state-not-processor): the
    failed child's history goes on after ExecutionRedriven with TaskScheduled following its first
    run's TaskStateEntered (no second TaskStateEntered, BeforeTask not run again: its context
    still RedriveCount 0), AfterTask's context has the child's first StartTime, RedriveCount 1
    and RedriveTime, its redrive's time; the aborted child's Wait ends with WaitStateExited
    following its first WaitStateEntered, the whole wait waited again after ExecutionRedriven."""
    from asl.timestamps import format_context_timestamp

    failed = standard["failed"]["children"][1]
    child = standard["terminal"]["children"][1]
    history = child["history"]
    assert history[:10] == failed["history"]
    assert kinds(history)[10:] == ["ExecutionRedriven", "TaskScheduled", "TaskStarted", "TaskSucceeded",
                                   "TaskStateExited", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]
    opened, scheduled = history[10], history[11]
    assert (opened["id"], opened["previousEventId"]) == (11, 10)
    assert opened["executionRedrivenEventDetails"] == {"redriveCount": 1}
    assert opened["timestamp"] == child["described"]["redriveDate"]
    assert (history[5]["type"], scheduled["previousEventId"]) == ("TaskStateEntered", 6)
    output = json.loads(child["described"]["output"])
    assert output["before"]["execution"]["RedriveCount"] == 0 and "RedriveTime" not in output["before"]["execution"]
    after = output["after"]
    assert after["StartTime"] == format_context_timestamp(failed["described"]["startDate"].timestamp())
    assert (after["RedriveCount"], after["RedriveTime"]) == (1, format_context_timestamp(opened["timestamp"].timestamp()))

    waited = standard["terminal"]["children"][2]["history"]
    assert kinds(waited) == ["ExecutionStarted", "PassStateEntered", "PassStateExited", "WaitStateEntered",
                             "ExecutionAborted", "ExecutionRedriven", "WaitStateExited", "TaskStateEntered",
                             "TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskStateExited", "PassStateEntered",
                             "PassStateExited", "ExecutionSucceeded"]
    assert [(e["id"], e["previousEventId"]) for e in waited[5:7]] == [(6, 5), (7, 4)]
    assert (waited[6]["timestamp"] - waited[5]["timestamp"]).total_seconds() >= 30 * SCALE


def test_a_redriven_execution_keeps_what_its_finished_states_output(standard):
    """standard:terminal:parent: the parent's BeforeMap Pass, done before the Map Run failed,
    keeps the output it had (its ``$$.Execution`` RedriveCount 0); AfterMap, run after the
    redrive, reads RedriveCount 1 and the RedriveTime."""
    output = json.loads(standard["terminal"]["parent"]["output"])
    assert output["before"]["execution"]["RedriveCount"] == 0 and "RedriveTime" not in output["before"]["execution"]
    assert output["after"]["RedriveCount"] == 1 and "RedriveTime" in output["after"]


def test_the_redriven_map_run_counts_every_child_once(standard):
    """standard:terminal:map (DescribeMapRun): the same Map Run and startDate, redriveCount 1
    with a redriveDate, every item and child succeeded, every result written."""
    before, after = standard["failed"]["run"], standard["terminal"]["run"]
    assert (after["mapRunArn"], after["startDate"]) == (before["mapRunArn"], before["startDate"])
    assert before["redriveCount"] == 0 and "redriveDate" not in before
    assert after["redriveCount"] == 1 and after["redriveDate"] >= standard["redriveDate"]
    done = {"pending": 0, "running": 0, "succeeded": 6, "failed": 0, "timedOut": 0, "aborted": 0, "total": 6,
            "resultsWritten": 6, "failuresNotRedrivable": 0, "pendingRedrive": 0}
    assert after["itemCounts"] == after["executionCounts"] == done


def test_the_redriven_map_run_writes_its_results_under_redrive_1(standard):
    """standard:terminal-exports (and express:terminal-exports): the first run's files stay as
    they were; the redrive writes Redrive-1/SUCCEEDED_0.json with the records of the children it
    ran (in item order: the redriven ones with RedriveCount 1 and their RedriveDate, the new
    ones), and Redrive-1/manifest.json listing the first run's SUCCEEDED files then its own, no
    FAILED or PENDING; the Map state's output names that manifest."""
    run = standard["terminal"]["run"]["mapRunArn"]
    folder = run.rsplit(":", 1)[1] + "/"
    before, after = standard["failed"]["exports"], standard["terminal"]["exports"]
    assert sorted(before) == [folder + name for name in ("FAILED_0.json", "PENDING_0.json", "SUCCEEDED_0.json",
                                                        "manifest.json")]
    assert sorted(after) == sorted([*before, folder + "Redrive-1/SUCCEEDED_0.json", folder + "Redrive-1/manifest.json"])
    assert all(after[key] == before[key] for key in before)
    children = standard["terminal"]["children"]
    written = after[folder + "Redrive-1/SUCCEEDED_0.json"]
    assert [r["ExecutionArn"] for r in written] == [children[i]["row"]["executionArn"] for i in (1, 2, 3, 4, 5)]
    for i, r in zip((1, 2, 3, 4, 5), written):
        described = children[i]["described"]
        assert (r["Status"], r["RedriveCount"], r["RedriveStatus"]) == ("SUCCEEDED", described["redriveCount"],
                                                                         "NOT_REDRIVABLE")
        assert ("RedriveDate" in r) == (i in (1, 2))
        assert json.loads(r["Output"]) == json.loads(described["output"])
    manifest = after[folder + "Redrive-1/manifest.json"]
    first = before[folder + "manifest.json"]["ResultFiles"]["SUCCEEDED"]
    assert manifest == {"DestinationBucket": standard["bucket"], "MapRunArn": run,
                        "ResultFiles": {"FAILED": [], "PENDING": [], "SUCCEEDED": first + [
                            {"Key": f"results/standard/{folder}Redrive-1/SUCCEEDED_0.json",
                             "Size": manifest["ResultFiles"]["SUCCEEDED"][-1]["Size"]}]}}
    assert list(manifest) == ["DestinationBucket", "MapRunArn", "ResultFiles"]
    output = json.loads(standard["terminal"]["parent"]["output"])
    assert output["mapResult"] == {"MapRunArn": run, "ResultWriterDetails": {
        "Bucket": standard["bucket"], "Key": f"results/standard/{folder}Redrive-1/manifest.json"}}


@pytest.fixture(scope="module")
def express(store, tmp_path_factory, moto_server):
    return probed("EXPRESS", store, tmp_path_factory, moto_server)


def test_an_express_child_running_when_its_map_run_fails_runs_to_its_end(express):
    """express:failed (finding express-map-restarts-failed-processor-only): item 2, in its Wait
    when item 1 failed the Map Run, is not aborted: it succeeds, and the Map Run fails once it
    has (its stopDate after the child's), counting it succeeded and none aborted; the items not
    started stay pending. Express children have no history (GetExecutionHistory: InvalidArn)
    but DescribeStateMachineForExecution describes their processor."""
    failed = express["failed"]
    children, run = failed["children"], failed["run"]
    assert children[2]["described"]["status"] == "SUCCEEDED"
    assert json.loads(children[2]["described"]["output"])["object"]["Body"] == "initial"
    assert run["status"] == "FAILED" and run["stopDate"] >= children[2]["described"]["stopDate"]
    counts = run["executionCounts"]
    assert (counts["succeeded"], counts["failed"], counts["aborted"], counts["total"]) == (2, 1, 0, 6)
    assert counts["pending"] == 3 and run["itemCounts"] == counts
    for child in children.values():
        assert child["history"] is None
        assert child["row"]["redriveCount"] == child["described"]["redriveCount"] == 0
        assert (child["machine"]["label"], child["machine"]["mapRunArn"]) == ("ProbeMap", run["mapRunArn"])
    assert kinds(failed["events"])[-3:] == ["MapRunFailed", "MapStateFailed", "ExecutionFailed"]


def test_a_failed_express_child_runs_its_processor_again_under_its_arn(express):
    """express:terminal:children and :child describes, Redrive-1/SUCCEEDED_0.json: the failed
    Express child keeps its ARN but starts anew (a new startDate, ``$$.Execution.StartTime``
    too) and runs its processor from its start (BeforeTask again: RedriveCount 1 in its context
    as in AfterTask's), with redriveCount 1 and no redriveDate or RedriveTime; the succeeded ones
    are as they were; the new ones have redriveCount 0; the most recently started first."""
    from asl.timestamps import format_context_timestamp

    failed, terminal = express["failed"]["children"], express["terminal"]["children"]
    assert sorted(terminal) == [0, 1, 2, 3, 4, 5]
    child, before = terminal[1], failed[1]
    assert child["row"]["executionArn"] == before["row"]["executionArn"]
    assert child["row"]["startDate"] > before["described"]["stopDate"]
    assert (child["row"]["redriveCount"], child["described"]["redriveCount"]) == (1, 1)
    assert "redriveDate" not in child["row"] and "redriveDate" not in child["described"]
    output = json.loads(child["described"]["output"])
    start = output["after"]["StartTime"]  # (AWS's differs from its DescribeExecution startDate by some ms)
    assert start > format_context_timestamp(before["described"]["stopDate"].timestamp())
    for context in (output["before"]["execution"], output["after"]):
        assert (context["StartTime"], context["RedriveCount"]) == (start, 1) and "RedriveTime" not in context
    assert output["object"]["Body"] == "repaired"
    for i in (0, 2):
        assert terminal[i]["row"] == failed[i]["row"] and terminal[i]["described"] == failed[i]["described"]
    for i in (3, 4, 5):
        assert terminal[i]["row"]["redriveCount"] == 0
    starts = [row["startDate"] for row in express["terminal"]["rows"]]
    assert starts == sorted(starts, reverse=True)
    run = express["terminal"]["run"]
    assert (run["status"], run["redriveCount"], run["executionCounts"]["succeeded"]) == ("SUCCEEDED", 1, 6)
    events = express["terminal"]["events"]
    assert kinds(events)[9:12] == ["ExecutionRedriven", "MapRunRedriven", "MapRunSucceeded"]
    assert events[10]["previousEventId"] == 5

    folder = run["mapRunArn"].rsplit(":", 1)[1] + "/"
    written = express["terminal"]["exports"][folder + "Redrive-1/SUCCEEDED_0.json"]
    assert [r["ExecutionArn"] for r in written] == [terminal[i]["row"]["executionArn"] for i in (1, 3, 4, 5)]
    assert [r["RedriveCount"] for r in written] == [1, 0, 0, 0]
    assert written[0]["StartDate"] == start
    for r in [*written, *express["failed"]["exports"][folder + "FAILED_0.json"]]:
        assert "RedriveStatus" not in r and "RedriveDate" not in r
