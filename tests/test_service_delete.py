"""DeleteStateMachine as AWS documents it (API DeleteStateMachine; re:Post "step functions stuck
deleting status"): versions and aliases go at once; a machine with running executions turns
DELETING, refuses new executions and changes (StateMachineDeleting), each running execution
fails with States.Runtime "State machine NAME has been deleted" (no full stop: raw AWS capture, radkawar/stackd
testdata/aws/stepfunctions/deletion_lifecycle.json) at its next step (one waiting, on a Wait
or an activity's worker, waits on, then fails recording nothing of the end of its wait: that
capture's terminal_results, below), and the machine goes when the last one has ended. While it
is DELETING its executions, ended ones too, are described; once it has gone they do not exist
any more (ExecutionDoesNotExist), as AWS answered (below). Driven through a real `asl serve`
with boto3."""
from __future__ import annotations

import json
import time
from contextlib import contextmanager

import pytest

pytest.importorskip("boto3")
pytest.importorskip("uvicorn")

from test_service import ROLE, Server, error_of, machine, wait_done  # noqa: E402
from test_service_start import sqlite_server as server  # noqa: E402,F401 (a server on a SQLite store)


@contextmanager
def serving(tmp_path):
    """A client of an `asl serve` on the SQLite store in `tmp_path` (again the same store when
    called again: a restart), stopped on leaving."""
    srv = Server(tmp_path, f"sqlite:{tmp_path / 'runs.db'}").start()
    try:
        yield srv.client()
    finally:
        srv.stop()


def assert_failed_as_aws_activity(sfn, execution: str, name: str) -> None:
    """AWS's history of an execution whose activity's worker answered after DeleteStateMachine
    (deletion_lifecycle.json, terminal_results.activity, history_observation
    "after-callback-activity-history"): ExecutionFailed (id 5) follows ActivityStarted (id 4)
    straight: no ActivitySucceeded, no TaskStateExited, the next state not entered."""
    done = wait_done(sfn, execution)
    cause = f"State machine {name} has been deleted"
    assert (done["status"], done["error"], done["cause"]) == ("FAILED", "States.Runtime", cause)
    events = sfn.get_execution_history(executionArn=execution)["events"]
    assert [e["type"] for e in events] == ["ExecutionStarted", "TaskStateEntered", "ActivityScheduled",
                                           "ActivityStarted", "ExecutionFailed"]
    assert (events[-1]["id"], events[-1]["previousEventId"]) == (5, 4)
    assert events[-1]["executionFailedEventDetails"] == {"error": "States.Runtime", "cause": cause}


def assert_execution_gone(sfn, execution: str) -> None:
    """AWS's answers for an execution of a state machine that has gone (raw AWS capture
    radkawar/stackd testdata/aws/stepfunctions/deletion_lifecycle.json poll-9-wait-execution,
    poll-9-wait-history, right after poll-9-wait-machine said StateMachineDoesNotExist;
    redrive_execution.json independent-cleanup-execution-0, a machine that had no running
    execution when it was deleted): ExecutionDoesNotExist "Execution Does Not Exist: '<arn>'"."""
    missing = ("ExecutionDoesNotExist", f"Execution Does Not Exist: '{execution}'", 400)
    assert error_of(sfn.describe_execution, executionArn=execution) == missing
    assert error_of(sfn.get_execution_history, executionArn=execution) == missing


def keeper(sfn, arn: str, **start) -> str:
    """An execution that keeps state machine `arn` DELETING (AWS keeps a machine DELETING, and
    its ended executions readable, while one of its executions runs: deletion_lifecycle.json
    poll-9-activity-machine, poll-9-activity-execution), for the test to read the others; it is
    stopped to let the machine go."""
    return sfn.start_execution(stateMachineArn=arn, name="keeper", **start)["executionArn"]


def gone(sfn, arn: str, timeout: float = 20) -> bool:
    """Whether DescribeStateMachine says StateMachineDoesNotExist (the deletion follows the end
    of the last execution, so it is polled for)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            sfn.describe_state_machine(stateMachineArn=arn)
        except sfn.exceptions.StateMachineDoesNotExist:
            return True
        time.sleep(0.05)
    return False


def test_a_machine_without_running_executions_goes_at_once_with_its_versions_and_aliases(server):
    sfn = server.client()
    definition = machine({"P": {"Type": "Pass", "End": True}}, "P")
    created = sfn.create_state_machine(name="idle", definition=definition, roleArn=ROLE, publish=True)
    arn, version = created["stateMachineArn"], created["stateMachineVersionArn"]
    alias = sfn.create_state_machine_alias(name="live", routingConfiguration=[
        {"stateMachineVersionArn": version, "weight": 100}])["stateMachineAliasArn"]
    done = wait_done(sfn, sfn.start_execution(stateMachineArn=arn)["executionArn"])
    assert done["status"] == "SUCCEEDED"
    sfn.delete_state_machine(stateMachineArn=arn)
    assert error_of(sfn.describe_state_machine, stateMachineArn=arn)[0] == "StateMachineDoesNotExist"
    assert error_of(sfn.describe_state_machine, stateMachineArn=version)[0] == "StateMachineDoesNotExist"
    assert error_of(sfn.describe_state_machine_alias, stateMachineAliasArn=alias)[0] == "ResourceNotFound"
    assert sfn.list_state_machines()["stateMachines"] == []
    # its executions went with it, ended ones too (redrive_execution.json: the capture's machine had
    # no running execution, cleanup-machine-0-running-list; once cleanup-machine-0-absence-39 said
    # StateMachineDoesNotExist, independent-cleanup-execution-0 answered ExecutionDoesNotExist)
    assert_execution_gone(sfn, done["executionArn"])
    sfn.delete_state_machine(stateMachineArn=arn)  # AWS: deleting it again is no error
    # the name is free again, and so is the execution's
    sfn.create_state_machine(name="idle", definition=definition, roleArn=ROLE)
    again = sfn.start_execution(stateMachineArn=arn, name=done["name"])["executionArn"]
    assert again == done["executionArn"] and wait_done(sfn, again)["status"] == "SUCCEEDED"


def test_a_task_of_a_deleted_activity_fails_the_execution_before_it_is_scheduled(server):
    # AWS's recording: LocalStack test_activities.py::TestActivities::test_activity_task_on_deleted
    # (the machine is created after the activity went, and its execution fails at the Task)
    sfn = server.client()
    activity = sfn.create_activity(name="gone-worker")["activityArn"]
    sfn.delete_activity(activityArn=activity)
    definition = machine({"Job": {"Type": "Task", "Resource": activity, "End": True}}, "Job")
    arn = sfn.create_state_machine(name="orphan", definition=definition, roleArn=ROLE)["stateMachineArn"]
    run = sfn.start_execution(stateMachineArn=arn, input='{"n": 1}')["executionArn"]
    assert wait_done(sfn, run)["status"] == "FAILED"
    events = sfn.get_execution_history(executionArn=run)["events"]
    assert [e["type"] for e in events] == ["ExecutionStarted", "TaskStateEntered", "ExecutionFailed"]
    assert events[-1]["executionFailedEventDetails"] == {
        "error": "States.Runtime",
        "cause": f"An error occurred while executing the state 'Job' (entered at the event id #2). "
                 f"The activity {activity} does not exist."}


def test_a_running_execution_fails_at_its_next_transition_then_the_machine_goes(server):
    sfn = server.client()
    activity = sfn.create_activity(name="work")["activityArn"]
    definition = machine({"Work": {"Type": "Task", "Resource": activity, "Next": "After"},
                          "After": {"Type": "Pass", "End": True}}, "Work")
    created = sfn.create_state_machine(name="doomed", definition=definition, roleArn=ROLE, publish=True)
    arn = created["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, name="e1", input='{"n": 1}')["executionArn"]
    task = sfn.get_activity_task(activityArn=activity, workerName="w")
    assert task["taskToken"]
    kept = keeper(sfn, arn)  # (its task is never taken)

    sfn.delete_state_machine(stateMachineArn=arn)
    described = sfn.describe_state_machine(stateMachineArn=arn)
    assert described["status"] == "DELETING" and json.loads(described["definition"]) == json.loads(definition)
    assert [m["name"] for m in sfn.list_state_machines()["stateMachines"]] == ["doomed"]
    assert error_of(sfn.describe_state_machine, stateMachineArn=created["stateMachineVersionArn"])[0] == \
        "StateMachineDoesNotExist"
    for call, kwargs in ((sfn.start_execution, {"stateMachineArn": arn}),
                         (sfn.create_state_machine, {"name": "doomed", "definition": definition, "roleArn": ROLE}),
                         (sfn.update_state_machine, {"stateMachineArn": arn, "roleArn": ROLE + "2"}),
                         (sfn.publish_state_machine_version, {"stateMachineArn": arn})):
        code, message, status = error_of(call, **kwargs)
        assert (code, status) == ("StateMachineDeleting", 400), (call, code, message)
        # AWS's text, as a real CreateStateMachine gave it (go-to-k/cdkd issue #2116)
        assert message == f"State Machine is being deleted: '{arn}'"
    # waiting for its worker, the execution runs on
    assert sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"
    sfn.send_task_success(taskToken=task["taskToken"], output='{"done": true}')
    assert_failed_as_aws_activity(sfn, execution, "doomed")
    described = sfn.describe_execution(executionArn=execution)
    # AWS described it so, its machine DELETING still (labels after-callback-activity-execution,
    # after-callback-activity-machine, poll-0-activity-execution)
    assert (described["status"], described["redriveStatus"], described.get("redriveStatusReason")) == \
        ("FAILED", "REDRIVABLE", None)
    assert sfn.describe_state_machine(stateMachineArn=arn)["status"] == "DELETING"
    sfn.stop_execution(executionArn=kept)
    assert gone(sfn, arn)
    assert sfn.list_state_machines()["stateMachines"] == []
    assert_execution_gone(sfn, execution)
    assert_execution_gone(sfn, kept)


def test_a_wait_running_when_its_machine_is_deleted_ends_then_the_execution_fails(server):
    """AWS's probe (deletion_lifecycle.json: machine "…-wait", Wait 30 s then Pass; labels
    delete-wait-while-active, immediate-after-delete-wait-execution, terminal_results.wait,
    history_observation "poll-3-wait-history"): deleted during the Wait, the execution stays
    RUNNING until the Wait's time is up, then ExecutionFailed (id 3) follows WaitStateEntered
    (id 2) straight: no WaitStateExited, the Pass never entered."""
    sfn = server.client()
    definition = machine({"Wait": {"Type": "Wait", "SecondsPath": "$.seconds", "Next": "Pass"},
                          "Pass": {"Type": "Pass", "Result": {"unexpected": "transition-completed"}, "End": True}},
                         "Wait")
    arn = sfn.create_state_machine(name="waiting", definition=definition, roleArn=ROLE)["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, input='{"probe": "wait", "seconds": 2}')["executionArn"]
    kept = keeper(sfn, arn, input='{"seconds": 3600}')
    sfn.delete_state_machine(stateMachineArn=arn)
    assert sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"
    done = wait_done(sfn, execution)
    assert (done["status"], done["error"], done["cause"]) == \
        ("FAILED", "States.Runtime", "State machine waiting has been deleted")
    events = sfn.get_execution_history(executionArn=execution)["events"]
    assert [e["type"] for e in events] == ["ExecutionStarted", "WaitStateEntered", "ExecutionFailed"]
    assert (events[-1]["id"], events[-1]["previousEventId"]) == (3, 2)
    assert done["stopDate"].timestamp() - events[1]["timestamp"].timestamp() >= 1.9  # the Wait ran out
    sfn.stop_execution(executionArn=kept)
    assert gone(sfn, arn)
    assert_execution_gone(sfn, execution)


def test_a_deleting_machine_stays_deleting_across_a_restart(tmp_path):
    """The status is stored: executions resumed after a restart end at their next transition
    (their transitions on record replay as they were), then the machine goes. The Wait is long
    enough that the restart (slow on a loaded machine) ends well inside it."""
    with serving(tmp_path) as sfn:
        definition = machine({"Before": {"Type": "Pass", "Next": "W"},
                              "W": {"Type": "Wait", "SecondsPath": "$.seconds", "Next": "After"},
                              "After": {"Type": "Pass", "End": True}}, "Before")
        arn = sfn.create_state_machine(name="slow", definition=definition, roleArn=ROLE)["stateMachineArn"]
        execution = sfn.start_execution(stateMachineArn=arn, input='{"seconds": 12}')["executionArn"]
        kept = keeper(sfn, arn, input='{"seconds": 3600}')
        sfn.delete_state_machine(stateMachineArn=arn)
        assert sfn.describe_state_machine(stateMachineArn=arn)["status"] == "DELETING"
    with serving(tmp_path) as sfn:
        assert sfn.describe_state_machine(stateMachineArn=arn)["status"] == "DELETING"
        done = wait_done(sfn, execution)
        assert (done["status"], done["error"]) == ("FAILED", "States.Runtime")
        types = [e["type"] for e in sfn.get_execution_history(executionArn=execution)["events"]]
        # as AWS's Wait ended (deletion_lifecycle.json, terminal_results.wait): no WaitStateExited
        assert types == ["ExecutionStarted", "PassStateEntered", "PassStateExited", "WaitStateEntered",
                         "ExecutionFailed"]
        sfn.stop_execution(executionArn=kept)
        assert gone(sfn, arn)
        assert_execution_gone(sfn, execution)


def test_an_activity_answered_after_a_restart_fails_as_aws_did(tmp_path):
    """The activity probe of deletion_lifecycle.json (terminal_results.activity), with a restart
    between the deletion and the worker's answer: the resumed execution fails when the answer
    comes, ExecutionFailed straight after ActivityStarted."""
    with serving(tmp_path) as sfn:
        activity = sfn.create_activity(name="work")["activityArn"]
        definition = machine({"Activity": {"Type": "Task", "Resource": activity, "Next": "Pass"},
                              "Pass": {"Type": "Pass", "End": True}}, "Activity")
        arn = sfn.create_state_machine(name="held", definition=definition, roleArn=ROLE)["stateMachineArn"]
        execution = sfn.start_execution(stateMachineArn=arn, input='{"probe": "activity"}')["executionArn"]
        token = sfn.get_activity_task(activityArn=activity, workerName="w")["taskToken"]
        kept = keeper(sfn, arn)  # (its task is never taken)
        sfn.delete_state_machine(stateMachineArn=arn)
    with serving(tmp_path) as sfn:
        assert sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"
        sfn.send_task_success(taskToken=token, output='{"callback": "after-delete"}')
        assert_failed_as_aws_activity(sfn, execution, "held")
        sfn.stop_execution(executionArn=kept)
        assert gone(sfn, arn)
        assert_execution_gone(sfn, execution)


def test_a_redriven_execution_fails_as_aws_did_when_its_worker_answers(server):
    """A redriven run is a run: deleted while its redriven activity's worker works, it fails
    when the worker answers, ExecutionFailed straight after ActivityStarted (AWS's order for a
    first run, deletion_lifecycle.json terminal_results.activity; no capture redrives one)."""
    sfn = server.client()
    activity = sfn.create_activity(name="again")["activityArn"]
    definition = machine({"Activity": {"Type": "Task", "Resource": activity, "Next": "Pass"},
                          "Pass": {"Type": "Pass", "End": True}}, "Activity")
    arn = sfn.create_state_machine(name="redriven", definition=definition, roleArn=ROLE)["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    sfn.send_task_failure(taskToken=sfn.get_activity_task(activityArn=activity)["taskToken"], error="Once")
    assert wait_done(sfn, execution)["status"] == "FAILED"
    sfn.redrive_execution(executionArn=execution)
    token = sfn.get_activity_task(activityArn=activity)["taskToken"]
    kept = keeper(sfn, arn)  # (its task is never taken)
    sfn.delete_state_machine(stateMachineArn=arn)
    sfn.send_task_success(taskToken=token, output="{}")
    done = wait_done(sfn, execution)
    assert (done["status"], done["cause"]) == ("FAILED", "State machine redriven has been deleted")
    events = sfn.get_execution_history(executionArn=execution)["events"]
    assert [e["type"] for e in events[6:]] == ["ExecutionRedriven", "ActivityScheduled", "ActivityStarted",
                                               "ExecutionFailed"]
    assert events[-1]["previousEventId"] == events[-2]["id"]
    sfn.stop_execution(executionArn=kept)
    assert gone(sfn, arn)
    assert_execution_gone(sfn, execution)


def test_an_express_machine_goes_at_once(server):
    sfn = server.client()
    arn = sfn.create_state_machine(name="quick", type="EXPRESS", roleArn=ROLE,
                                   definition=machine({"P": {"Type": "Pass", "End": True}}, "P"))["stateMachineArn"]
    sfn.delete_state_machine(stateMachineArn=arn)
    assert error_of(sfn.describe_state_machine, stateMachineArn=arn)[0] == "StateMachineDoesNotExist"
    assert error_of(sfn.start_sync_execution, stateMachineArn=arn)[0] == "StateMachineDoesNotExist"


def race_delete(pool, starter, deleter, arn: str, ahead: int, total: int) -> tuple[list[str], list[str]]:
    """`total` StartExecution calls through client `starter`, concurrent (in `pool`) with one
    DeleteStateMachine through `deleter` sent after the first `ahead` of them: (each start's
    execution ARN or error code, the ARNs), every refusal checked to be one AWS gives."""
    def start(i: int) -> str:
        try:
            return starter.start_execution(stateMachineArn=arn, name=f"e{i}")["executionArn"]
        except starter.exceptions.ClientError as exc:
            return exc.response["Error"]["Code"]
    starts = [pool.submit(start, i) for i in range(ahead)]
    deleted = pool.submit(deleter.delete_state_machine, stateMachineArn=arn)
    starts += [pool.submit(start, i) for i in range(ahead, total)]
    deleted.result()
    outcomes = [f.result() for f in starts]
    started = [o for o in outcomes if o.startswith("arn:")]
    assert set(outcomes) - set(started) <= {"StateMachineDeleting", "StateMachineDoesNotExist"}, outcomes
    return outcomes, started


def test_a_start_concurrent_with_the_delete_is_refused_or_counted(server):
    """StartExecution calls racing DeleteStateMachine (real concurrent boto3 calls): each start is
    refused as AWS refuses it (StateMachineDeleting, StateMachineDoesNotExist), or its execution
    counts: the machine stays DELETING while it runs (here: waits an hour), and goes once it ends."""
    from concurrent.futures import ThreadPoolExecutor

    sfn = server.client(max_pool_connections=16)
    definition = machine({"W": {"Type": "Wait", "Seconds": 3600, "End": True}}, "W")
    refused, counted = 0, 0
    with ThreadPoolExecutor(12) as pool:
        for round in range(10):
            arn = sfn.create_state_machine(name=f"raced{round}", definition=definition, roleArn=ROLE)["stateMachineArn"]
            outcomes, started = race_delete(pool, sfn, sfn, arn, 10, 20)
            refused += len(outcomes) - len(started)
            counted += len(started)
            if started:  # each one runs: the machine waits for them
                assert sfn.describe_state_machine(stateMachineArn=arn)["status"] == "DELETING", (round, outcomes)
                for execution in started:
                    assert sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"
                    sfn.stop_execution(executionArn=execution)
            assert gone(sfn, arn), (round, outcomes)
    assert refused and counted  # both sides of the race were seen
