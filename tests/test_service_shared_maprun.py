"""Two `asl serve` processes on one PostgreSQL store: a Distributed Map's Map Run is coordinated
by the process that runs its parent execution, and every Map Run call works through either
server (real processes, real boto3, a real PostgreSQL server).

- UpdateMapRun sent to the other server reaches the coordinator: answered once the change is
  accepted (both servers describe it then), the window widens and the tolerance changes while
  the run goes on; AWS's refusals are the same through either server.
- UpdateMapRun sent while the coordinator's server has just been killed waits for the takeover
  and takes effect there; one accepted before the kill holds when the Map Run resumes elsewhere.
- DescribeMapRun, ListMapRuns and ListExecutions --map-run-arn through the other server show the
  run as it goes; GetExecutionHistory of a running child shows its events so far.
- StopExecution of the parent through the other server aborts the Map Run and its children; of a
  child, stops that child (not only its record).
- RedriveExecution of a parent whose Map Run failed, sent to the other server, redrives the Map Run.

The children's handler (`gate`) proves a window: each waits until `together` children have
started in its own process (so a window that stays 1 never opens it) and until the file named
`after`, if any, exists; it gives up after a minute (the run fails: nothing hangs)."""
from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from test_service import ROLE, boto3, error_of, wait_done  # noqa: F401 - boto3: skips without it
from test_service_shared_races import two_servers

HANDLERS = '''
import os
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def gate(event, context):
    started = HERE / "started"
    started.mkdir(exist_ok=True)
    (started / f"{os.getpid()}-{event['i']}").touch()
    with open(HERE / "calls", "a") as out:
        out.write(f"{event['i']}\\n")
    deadline = time.monotonic() + 60
    while len(list(started.glob(f"{os.getpid()}-*"))) < event.get("together", 1) or (
            event.get("after") and not (HERE / event["after"]).exists()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"item {event['i']} waited alone")
        time.sleep(0.02)
    broken = HERE / "broken"
    if broken.exists() and str(event["i"]) in broken.read_text().split():
        raise ValueError("bad item")
    return {"i": event["i"]}


HANDLERS = {"gate": gate}
'''

MAP_RUN_PREFIX = "arn:aws:states:us-east-1:123456789012:mapRun:"


def distributed(**extra) -> str:
    return json.dumps({"StartAt": "M", "States": {"M": {
        "Type": "Map", "End": True, "Label": "Fan", **extra,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          "StartAt": "T", "States": {"T": {
                              "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:gate",
                              "End": True}}}}}})


@pytest.fixture
def servers(tmp_path: Path, postgres_url):
    with two_servers(tmp_path, postgres_url, HANDLERS, "--poll", "0.2") as pair:
        yield pair


def start(sfn, items: list, name: str = "m", **extra) -> str:
    machine = sfn.create_state_machine(name=name, definition=distributed(**extra), roleArn=ROLE)["stateMachineArn"]
    return sfn.start_execution(stateMachineArn=machine, input=json.dumps(items))["executionArn"]


def until(check, timeout: float = 60):
    """`check()`'s first true value, asked again until it comes (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not seen within {timeout} s")


def map_run_of(sfn, arn: str) -> str:
    return until(lambda: [r["mapRunArn"] for r in sfn.list_map_runs(executionArn=arn)["mapRuns"]])[0]


def running(sfn, map_run: str) -> list[str]:
    return [c["executionArn"] for c in sfn.list_executions(mapRunArn=map_run, statusFilter="RUNNING")["executions"]]


def settings(sfn, map_run: str) -> tuple:
    described = sfn.describe_map_run(mapRunArn=map_run)
    return described["maxConcurrency"], described["toleratedFailureCount"], described["toleratedFailurePercentage"]


def test_update_map_run_through_the_other_server(servers, tmp_path: Path):
    """The window (1: the first child waits for two more) and the tolerance (0: the failing item
    would fail the run) changed through the server that does not run the execution: the children
    run together, the failure is tolerated. AWS's refusals come through either server."""
    a, b = servers
    one, two = a.client(), b.client()
    (tmp_path / "broken").write_text("2")
    arn = start(one, [{"i": i, "together": 3} for i in range(3)], MaxConcurrency=1)
    map_run = map_run_of(two, arn)  # (the other server lists it, and its running child)
    assert until(lambda: running(two, map_run)) and len(running(two, map_run)) == 1
    assert settings(two, map_run) == (1, 0, 0.0)
    code, message, _ = error_of(two.update_map_run, mapRunArn=map_run)
    assert (code, message) == ("ValidationException", "At least one of the parameters maxConcurrency, "
                               "toleratedFailurePercentage or toleratedFailureCount must be specified")
    two.update_map_run(mapRunArn=map_run, maxConcurrency=3, toleratedFailureCount=1)
    # accepted: both servers describe the change at once
    assert settings(one, map_run) == settings(two, map_run) == (3, 1, 0.0)
    done = wait_done(two, arn)
    assert done["status"] == "SUCCEEDED", (done.get("error"), done.get("cause"))
    for sfn in (one, two):
        described = sfn.describe_map_run(mapRunArn=map_run)
        assert (described["status"], described["maxConcurrency"], described["toleratedFailureCount"]) == \
            ("SUCCEEDED", 3, 1)
        counts = described["executionCounts"]
        assert (counts["succeeded"], counts["failed"], counts["running"], counts["pending"]) == (2, 1, 0, 0)
        assert sorted(c["status"] for c in sfn.list_executions(mapRunArn=map_run)["executions"]) == \
            ["FAILED", "SUCCEEDED", "SUCCEEDED"]
    code, message, _ = error_of(two.update_map_run, mapRunArn=map_run, maxConcurrency=5)
    assert (code, message) == ("ValidationException", f"Map Run '{map_run}' has completed and cannot be updated")
    code, _, _ = error_of(two.update_map_run, mapRunArn=MAP_RUN_PREFIX + "m/Fan:00000000-0000-0000-0000-000000000000",
                          maxConcurrency=1)
    assert code == "ResourceNotFound"


def test_the_other_server_shows_a_running_map_run(servers, tmp_path: Path):
    """DescribeMapRun, ListMapRuns, ListExecutions --map-run-arn and the history of a running
    child, through the server that does not run it: the run as it is (two children running,
    held by a file, one pending), then as it ended, the same on both servers."""
    a, b = servers
    one, two = a.client(), b.client()
    arn = start(one, [{"i": i, "together": 2, "after": "go"} for i in range(3)], MaxConcurrency=2)
    map_run = map_run_of(two, arn)
    until(lambda: len(running(two, map_run)) == 2)
    until(lambda: two.describe_map_run(mapRunArn=map_run)["executionCounts"]["running"] == 2)
    counts = two.describe_map_run(mapRunArn=map_run)["itemCounts"]
    assert (counts["running"], counts["pending"], counts["succeeded"], counts["total"]) == (2, 1, 0, 3)
    child = running(two, map_run)[0]
    types = [e["type"] for e in two.get_execution_history(executionArn=child)["events"]]
    assert types[:2] == ["ExecutionStarted", "TaskStateEntered"] and "ExecutionSucceeded" not in types, types
    (tmp_path / "go").touch()
    done = wait_done(two, arn)
    assert done["status"] == "SUCCEEDED", (done.get("error"), done.get("cause"), [
        (c["status"], two.describe_execution(executionArn=c["executionArn"]).get("cause"))
        for c in two.list_executions(mapRunArn=map_run)["executions"]])
    described = [sfn.describe_map_run(mapRunArn=map_run) for sfn in (one, two)]
    for answer in described:
        answer.pop("ResponseMetadata")
    assert described[0] == described[1] and described[0]["itemCounts"]["succeeded"] == 3
    assert one.list_map_runs(executionArn=arn)["mapRuns"] == two.list_map_runs(executionArn=arn)["mapRuns"]
    history = two.get_execution_history(executionArn=child)["events"]
    assert history[-1]["type"] == "ExecutionSucceeded"
    assert [e["id"] for e in history] == list(range(1, len(history) + 1))


def test_stopping_through_the_other_server(servers, tmp_path: Path):
    """StopExecution of a child through the other server stops it where it runs (ABORTED with
    the error and cause given, a failure the Map Run tolerates); of the parent, aborts the Map
    Run (MapRunAborted) and its running children."""
    a, b = servers
    one, two = a.client(), b.client()
    arn = start(one, [{"i": i, "after": "never"} for i in range(4)], MaxConcurrency=2, ToleratedFailureCount=1)
    map_run = map_run_of(two, arn)
    children = until(lambda: len(running(two, map_run)) == 2 and running(two, map_run))
    two.stop_execution(executionArn=children[0], error="Enough", cause="stopped through the other server")
    for sfn in (one, two):
        stopped = sfn.describe_execution(executionArn=children[0])
        assert (stopped["status"], stopped["error"], stopped["cause"]) == (
            "ABORTED", "Enough", "stopped through the other server")
    # the Map Run goes on: the next child starts in its place
    until(lambda: len(running(two, map_run)) == 2 and children[0] not in running(two, map_run))
    assert two.get_execution_history(executionArn=children[0], reverseOrder=True)["events"][0]["type"] == \
        "ExecutionAborted"
    two.stop_execution(executionArn=arn, error="Halt")
    for sfn in (one, two):
        done = sfn.describe_execution(executionArn=arn)
        assert (done["status"], done["error"]) == ("ABORTED", "Halt")
    described = until(lambda: (d := two.describe_map_run(mapRunArn=map_run))["status"] != "RUNNING" and d)
    assert described["status"] == "ABORTED" and "stopDate" in described
    counts = described["executionCounts"]
    assert (counts["aborted"], counts["running"], counts["pending"], counts["succeeded"]) == (3, 0, 1, 0), counts
    for sfn in (one, two):
        listed = sfn.list_executions(mapRunArn=map_run)["executions"]
        assert sorted(c["status"] for c in listed) == ["ABORTED"] * 3
    types = [e["type"] for e in two.get_execution_history(executionArn=arn)["events"]]
    assert "MapRunAborted" in types and types[-1] == "ExecutionAborted"


def test_a_failed_map_run_redriven_through_the_other_server(servers, tmp_path: Path):
    """RedriveExecution sent to the server that did not run the execution: the same Map Run goes
    on there (MapRunRedriven, redriveCount 1 on both servers), running only the failed child
    and the one not started."""
    a, b = servers
    one, two = a.client(), b.client()
    (tmp_path / "broken").write_text("3")
    arn = start(one, [{"i": i} for i in range(5)], MaxConcurrency=1)
    assert wait_done(one, arn)["error"] == "States.ExceedToleratedFailureThreshold"
    map_run = map_run_of(two, arn)
    assert two.describe_map_run(mapRunArn=map_run)["status"] == "FAILED"
    (tmp_path / "broken").write_text("")
    (tmp_path / "calls").write_text("")
    two.redrive_execution(executionArn=arn)
    done = wait_done(one, arn)
    assert done["status"] == "SUCCEEDED", (done.get("error"), done.get("cause"))
    assert (tmp_path / "calls").read_text().split() == ["3", "4"]
    for sfn in (one, two):
        described = sfn.describe_map_run(mapRunArn=map_run)
        assert (described["status"], described["redriveCount"]) == ("SUCCEEDED", 1)
        assert described["itemCounts"]["succeeded"] == 5
        assert [r["mapRunArn"] for r in sfn.list_map_runs(executionArn=arn)["mapRuns"]] == [map_run]
    types = [e["type"] for e in one.get_execution_history(executionArn=arn)["events"]]
    assert types.count("MapRunStarted") == 1 and types.count("MapRunRedriven") == 1


def test_update_map_run_while_its_server_is_dead(tmp_path: Path, postgres_url):
    """UpdateMapRun sent to the other server just after the one coordinating the Map Run was
    killed (SIGKILL, its lease still held): answered once the other has taken the execution over,
    and the resumed Map Run runs with the new window (three children together)."""
    with two_servers(tmp_path, postgres_url, HANDLERS, "--poll", "0.2", "--lease", "2") as (a, b):
        one, two = a.client(), b.client()
        arn = start(one, [{"i": i, "together": 3} for i in range(3)], MaxConcurrency=1)
        map_run = map_run_of(two, arn)
        until(lambda: running(two, map_run))
        a.stop(signal.SIGKILL)
        two.update_map_run(mapRunArn=map_run, maxConcurrency=3)
        assert settings(two, map_run)[0] == 3
        done = wait_done(two, arn)
        assert done["status"] == "SUCCEEDED", (done.get("error"), done.get("cause"))
        assert two.describe_map_run(mapRunArn=map_run)["maxConcurrency"] == 3


def test_an_update_holds_when_the_map_run_resumes_elsewhere(tmp_path: Path, postgres_url):
    """UpdateMapRun through the other server, accepted, then the coordinating server is killed:
    the server that takes the execution over resumes the Map Run with the updated window (its
    three children must run there together)."""
    with two_servers(tmp_path, postgres_url, HANDLERS, "--poll", "0.2", "--lease", "2") as (a, b):
        one, two = a.client(), b.client()
        arn = start(one, [{"i": i, "together": 3, "after": "go"} for i in range(3)], MaxConcurrency=1)
        map_run = map_run_of(two, arn)
        until(lambda: running(two, map_run))
        two.update_map_run(mapRunArn=map_run, maxConcurrency=3)
        until(lambda: len(running(two, map_run)) == 3)  # widened where it runs
        a.stop(signal.SIGKILL)
        (tmp_path / "go").touch()
        done = wait_done(two, arn)
        assert done["status"] == "SUCCEEDED", (done.get("error"), done.get("cause"))
        described = two.describe_map_run(mapRunArn=map_run)
        assert (described["status"], described["maxConcurrency"]) == ("SUCCEEDED", 3)
        assert described["executionCounts"]["succeeded"] == 3


def test_update_of_a_map_run_within_a_map_run_child_through_the_other_server(servers):
    """A Distributed Map in the processor of another: its Map Run belongs to a child execution,
    run within the parent's run; UpdateMapRun through the other server reaches the process that
    runs the parent (the inner window widened: its two children run together)."""
    a, b = servers
    one, two = a.client(), b.client()
    inner = json.loads(distributed(MaxConcurrency=1, ItemsPath="$.items"))["States"]["M"]
    outer = json.dumps({"StartAt": "Outer", "States": {"Outer": {
        "Type": "Map", "End": True, "Label": "Outer",
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          "StartAt": "M", "States": {"M": inner}}}}})
    machine = one.create_state_machine(name="nested", definition=outer, roleArn=ROLE)["stateMachineArn"]
    arn = one.start_execution(stateMachineArn=machine, input=json.dumps(
        [{"items": [{"i": i, "together": 2} for i in range(2)]}]))["executionArn"]
    (child,) = until(lambda: running(two, map_run_of(two, arn)))
    map_run = map_run_of(two, child)
    until(lambda: running(two, map_run))
    two.update_map_run(mapRunArn=map_run, maxConcurrency=2)
    assert settings(one, map_run)[0] == 2
    done = wait_done(two, arn)
    assert done["status"] == "SUCCEEDED", (done.get("error"), done.get("cause"))
    assert json.loads(done["output"]) == [[{"i": 0}, {"i": 1}]]
