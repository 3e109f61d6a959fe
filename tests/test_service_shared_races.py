"""Two `asl serve` processes on one PostgreSQL store, raced through real boto3 calls: AWS's rules
hold across the processes as within one (real processes, a real PostgreSQL server).

- StartExecution calls to one server racing DeleteStateMachine on the other: each start is
  refused (StateMachineDeleting, StateMachineDoesNotExist) or its execution is on record, keeps
  the machine DELETING while it runs and fails at its next transition (States.Runtime); once the
  machine is gone neither server starts one.
- One execution name started on both servers at once: one execution; the same input is
  idempotent while it runs, another input gets ExecutionAlreadyExists.
- SendTaskSuccess / SendTaskFailure / SendTaskHeartbeat sent to the server that does not run
  the execution reach it.

Bounded: a few rounds of a few dozen calls, each wait capped."""
from __future__ import annotations

import contextlib
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from test_service import ROLE, Server, boto3, error_of, machine, wait_done  # noqa: F401 - boto3: skips without it
from test_service_callbacks import ASK, HANDLERS, token_of, wait_entered
from test_service_delete import race_delete

# A loop of transitions that never ends by itself (its input has no "done"): only a deletion
# (or a stop) ends it.
LOOP = machine({
    "C": {"Type": "Choice", "Choices": [{"Variable": "$.done", "IsPresent": True, "Next": "E"}], "Default": "W"},
    "W": {"Type": "Wait", "Seconds": 2, "Next": "C"},
    "E": {"Type": "Succeed"}}, "C")


@pytest.fixture
def servers(tmp_path: Path, postgres_url):
    with two_servers(tmp_path, postgres_url, HANDLERS, "--poll", "0.2") as pair:
        yield pair


@contextlib.contextmanager
def two_servers(tmp: Path, store: str, handlers: str, *options: str):
    """Two `asl serve` processes on `store`, with the Lambda `handlers` (module text)."""
    (tmp / "handlers.py").write_text(handlers)
    first = Server(tmp, store, "--handlers", "handlers.py", *options).start()
    second = Server(tmp, store, "--handlers", "handlers.py", *options).start()
    try:
        yield first, second
    finally:
        for srv in (first, second):
            if srv.proc.poll() is None:
                srv.stop()


def outcome(call, **kwargs) -> str:
    """The execution ARN a start returns, or the error code it gets."""
    try:
        return call(**kwargs)["executionArn"]
    except call.__self__.exceptions.ClientError as exc:
        return exc.response["Error"]["Code"]


def described_machine(sfn, arn: str) -> str:
    """DescribeStateMachine's status, or GONE."""
    try:
        return sfn.describe_state_machine(stateMachineArn=arn)["status"]
    except sfn.exceptions.StateMachineDoesNotExist:
        return "GONE"


def ended(sfn, execution: str, machine_arn: str, name: str) -> None:
    """Execution `execution` of state machine `machine_arn` (`name`), which a DeleteStateMachine
    ends at its next transition, ends: described FAILED with States.Runtime "State machine NAME has
    been deleted" while its machine is DELETING, or, once the machine has gone with its last
    execution, ExecutionDoesNotExist (AWS: raw capture radkawar/stackd
    testdata/aws/stepfunctions/deletion_lifecycle.json, terminal_results, poll-9-wait-machine and
    poll-9-wait-execution); never gone while its machine is there."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            out = sfn.describe_execution(executionArn=execution)
        except sfn.exceptions.ExecutionDoesNotExist:
            assert described_machine(sfn, machine_arn) == "GONE", execution
            return
        if out["status"] != "RUNNING":
            assert (out["status"], out.get("error"), out.get("cause")) == (
                "FAILED", "States.Runtime", f"State machine {name} has been deleted"), out
            return
        time.sleep(0.1)
    raise AssertionError(f"{execution} still RUNNING")


def test_starts_on_one_server_racing_a_delete_on_the_other(servers):
    a, b = servers
    one, two = a.client(max_pool_connections=16), b.client()
    refused, counted = 0, 0
    with ThreadPoolExecutor(12) as pool:
        for round, ahead in enumerate((0, 1, 2, 3, 0, 1, 2, 3, 6, 12)):  # starts sent before the deletion
            arn = one.create_state_machine(name=f"raced{round}", definition=LOOP, roleArn=ROLE)["stateMachineArn"]
            outcomes, started = race_delete(pool, one, two, arn, ahead, 20)
            refused += len(outcomes) - len(started)
            counted += len(started)
            # the machine goes only once none of its executions runs: gone (on either server) means
            # that every execution acknowledged is over, and gone with it (ExecutionDoesNotExist)
            for sfn in (two, one):
                if described_machine(sfn, arn) == "GONE":
                    for execution in started:
                        assert outcome(sfn.describe_execution, executionArn=execution) == "ExecutionDoesNotExist", \
                            (round, execution)
            # every execution acknowledged is on record (either server describes it while its machine
            # is there) and ends, as the deletion ends them, at its next transition
            for execution in started:
                for sfn in (two, one):
                    ended(sfn, execution, arn, f"raced{round}")
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and {described_machine(s, arn) for s in (one, two)} != {"GONE"}:
                time.sleep(0.1)
            assert {described_machine(s, arn) for s in (one, two)} == {"GONE"}, (round, outcomes)
            for sfn in (one, two):  # no new execution on either server
                assert outcome(sfn.start_execution, stateMachineArn=arn, name="late") == "StateMachineDoesNotExist"
    assert refused and counted  # both sides of the race were seen


def test_one_name_started_on_both_servers_at_once(servers):
    """AWS (API StartExecution): a name is one execution; starting it again with the same input
    while it runs answers the same ARN (idempotent), with another input or once it has ended
    ExecutionAlreadyExists. Calls to both servers at once, some with the same input, some not."""
    a, b = servers
    one, two = a.client(max_pool_connections=16), b.client(max_pool_connections=16)
    arn = one.create_state_machine(name="named", definition=LOOP, roleArn=ROLE)["stateMachineArn"]
    with ThreadPoolExecutor(12) as pool:
        for round in range(6):
            name = f"n{round}"
            inputs = [json.dumps({"x": i % 3 if round % 2 else 0}) for i in range(12)]  # even rounds: one input
            calls = [pool.submit(outcome, (one, two)[i % 2].start_execution, stateMachineArn=arn, name=name,
                                 input=inputs[i]) for i in range(12)]
            outcomes = [f.result() for f in calls]
            execution = f"arn:aws:states:us-east-1:123456789012:execution:named:{name}"
            won = one.describe_execution(executionArn=execution)["input"]
            for given, got in zip(inputs, outcomes):
                assert got == (execution if json.loads(given) == json.loads(won) else "ExecutionAlreadyExists"), \
                    (round, inputs, outcomes)
            for sfn in (one, two):
                listed = sfn.list_executions(stateMachineArn=arn)["executions"]
                assert [e["executionArn"] for e in listed].count(execution) == 1
                assert [e["type"] for e in sfn.get_execution_history(executionArn=execution)["events"]].count(
                    "ExecutionStarted") == 1
            # stopped (through either server: the one that runs it stops it), the name is taken for good
            (one, two)[round % 2].stop_execution(executionArn=execution, error="Done")
            for sfn in (one, two):
                described = sfn.describe_execution(executionArn=execution)
                assert (described["status"], described.get("error")) == ("ABORTED", "Done")
                assert outcome(sfn.start_execution, stateMachineArn=arn, name=name, input=won) == \
                    "ExecutionAlreadyExists"
            events = one.get_execution_history(executionArn=execution, reverseOrder=True)["events"]
            assert events[0]["type"] == "ExecutionAborted"
            assert [e["type"] for e in events].count("ExecutionAborted") == 1


def test_task_tokens_answered_through_the_other_server(servers, tmp_path: Path):
    """SendTaskSuccess / SendTaskFailure / SendTaskHeartbeat sent to the server that does not run
    the execution reach the one that does, with AWS's answers: accepted once, then TaskTimedOut
    ('Provided task does not exist anymore'); a token of no task of a running execution is
    TaskDoesNotExist."""
    import base64

    a, b = servers
    one, two = a.client(), b.client()
    arn = one.create_state_machine(name="asks", definition=machine({"Ask": {**ASK, "HeartbeatSeconds": 600,
                                                                            "End": True}}, "Ask"),
                                   roleArn=ROLE)["stateMachineArn"]
    runs = {key: one.start_execution(stateMachineArn=arn, name=key, input=json.dumps({"id": key}))["executionArn"]
            for key in ("ok", "failed")}
    tokens = {key: token_of(tmp_path, key) for key in runs}
    for key in runs:
        wait_entered(one, runs[key], "TaskSubmitted")
    two.send_task_heartbeat(taskToken=tokens["ok"])
    two.send_task_success(taskToken=tokens["ok"], output='{"answer": 42}')
    two.send_task_failure(taskToken=tokens["failed"], error="Nope", cause="said no")
    done = wait_done(two, runs["ok"])
    assert (done["status"], json.loads(done["output"])) == ("SUCCEEDED", {"answer": 42})
    done = wait_done(one, runs["failed"])
    assert (done["status"], done["error"], done["cause"]) == ("FAILED", "Nope", "said no")
    for sfn in (one, two):
        code, message, _ = error_of(sfn.send_task_success, taskToken=tokens["ok"], output="{}")
        assert (code, message) == ("TaskTimedOut", "Task Timed Out: 'Provided task does not exist anymore'")
    # a running execution's task that does not exist, asked of the other server
    waiting = one.start_execution(stateMachineArn=arn, name="waiting", input=json.dumps({"id": "waiting"}))[
        "executionArn"]
    token_of(tmp_path, "waiting")
    wait_entered(one, waiting, "TaskSubmitted")
    made_up = base64.urlsafe_b64encode(f"{waiting}\n{'0' * 64}".encode()).decode().rstrip("=")
    code, message, _ = error_of(two.send_task_success, taskToken=made_up, output="{}")
    assert (code, message) == ("TaskDoesNotExist", f"Task Does Not Exist: '{made_up}'")
    assert one.describe_execution(executionArn=waiting)["status"] == "RUNNING"


def test_a_sqlite_file_has_one_server(tmp_path: Path):
    """A SQLite store is kept by one process (records written after their run began, state
    machines cached): a second `asl serve` on the file is refused, in one line; readers are not,
    and once the first server has stopped another starts."""
    import subprocess

    from test_service import ASL

    store = f"sqlite:{tmp_path / 'runs.db'}"
    first = Server(tmp_path, store).start()
    try:
        with pytest.raises(RuntimeError) as refused:
            Server(tmp_path, store).start()
        assert "runs.db is served by another process: a SQLite store is for one server; several share a " \
               "postgresql:// store" in str(refused.value)
        assert "Traceback" not in str(refused.value)
        listed = subprocess.run([*ASL, "executions", "list", "--store", store], capture_output=True, text=True,
                                timeout=60)
        assert listed.returncode == 0, listed.stderr
    finally:
        first.stop()
    Server(tmp_path, store).start().stop()


def test_a_token_answered_while_its_server_is_dead(tmp_path: Path, postgres_url):
    """SendTaskSuccess to the other server while the one running the execution has just been
    killed (SIGKILL, its lease still held): the answer waits for the takeover, then the execution
    goes on with it and succeeds, the answer recorded once."""
    import signal

    with two_servers(tmp_path, postgres_url, HANDLERS, "--poll", "0.2", "--lease", "2") as (a, b):
        one, two = a.client(), b.client()
        arn = one.create_state_machine(name="asks", definition=machine({"Ask": {**ASK, "End": True}}, "Ask"),
                                       roleArn=ROLE)["stateMachineArn"]
        run = one.start_execution(stateMachineArn=arn, name="r", input=json.dumps({"id": "r"}))["executionArn"]
        token = token_of(tmp_path, "r")
        wait_entered(one, run, "TaskSubmitted")
        a.stop(signal.SIGKILL)
        two.send_task_success(taskToken=token, output='{"late": true}')
        done = wait_done(two, run)
        assert (done["status"], json.loads(done["output"])) == ("SUCCEEDED", {"late": True})
        events = [e["type"] for e in two.get_execution_history(executionArn=run)["events"]]
        assert events.count("TaskSucceeded") == 1 and events.count("TaskSubmitted") == 1, events


def test_updates_on_one_server_racing_a_delete_on_the_other(servers):
    """UpdateStateMachine calls to one server racing DeleteStateMachine on the other: each update
    is answered before the deletion (its revision is the machine's until it goes) or refused as
    AWS refuses an update of a deleted machine (StateMachineDoesNotExist) or of one being deleted
    (StateMachineDeleting); no update revives the machine nor undoes its DELETING status. Rounds
    without executions (the machine goes at once) and with one running (it stays DELETING); half
    the updates publish a version."""
    a, b = servers
    one, two = a.client(max_pool_connections=16), b.client()
    answered, refused = set(), set()
    with ThreadPoolExecutor(12) as pool:
        for round, (ahead, running) in enumerate([(0, False), (2, False), (5, False), (0, True), (2, True),
                                                  (5, True), (1, False), (1, True)]):
            arn = one.create_state_machine(name=f"upd{round}", definition=LOOP, roleArn=ROLE)["stateMachineArn"]
            execution = one.start_execution(stateMachineArn=arn, name="run")["executionArn"] if running else None

            def update(i: int) -> str:
                try:
                    one.update_state_machine(stateMachineArn=arn, publish=i % 2 == 1,  # (some publish a version)
                                             definition=LOOP.replace('"Seconds": 2', f'"Seconds": {i + 3}'))
                    return "updated"
                except one.exceptions.ClientError as exc:
                    return exc.response["Error"]["Code"]
            updates = [pool.submit(update, i) for i in range(ahead)]
            deleted = pool.submit(two.delete_state_machine, stateMachineArn=arn)
            updates += [pool.submit(update, i) for i in range(ahead, 12)]
            deleted.result()
            outcomes = [f.result() for f in updates]
            assert set(outcomes) <= {"updated", "StateMachineDoesNotExist", "StateMachineDeleting"}, outcomes
            answered.update(o for o in outcomes if o == "updated")
            refused.update(o for o in outcomes if o != "updated")
            # after the race, each server sees the deletion: gone, or DELETING while the execution runs
            for sfn in (one, two):
                status = described_machine(sfn, arn)
                assert status == ("DELETING" if running else "GONE"), (round, outcomes, status)
                code = outcome(sfn.update_state_machine, stateMachineArn=arn, definition=LOOP)
                assert code == ("StateMachineDeleting" if running else "StateMachineDoesNotExist"), (round, code)
                assert described_machine(sfn, arn) == ("DELETING" if running else "GONE")
            if running:
                ended(one, execution, arn, f"upd{round}")
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline and {described_machine(s, arn) for s in (one, two)} != {"GONE"}:
                    time.sleep(0.1)
                assert {described_machine(s, arn) for s in (one, two)} == {"GONE"}, round
    assert answered and refused  # both sides of the race were seen
