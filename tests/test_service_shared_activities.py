"""Activity workers of two `asl serve` processes on one PostgreSQL store (real processes, a real
PostgreSQL server, real boto3): as on AWS, a worker polling the activity through any server gets
the next task scheduled by any execution, each task is handed out once, and its token is answered
through any server; the tasks of a server killed (SIGKILL) are handed out and answered once
another has taken its executions over. (One test runs the service object in this process, to
slow its store: an execution being started is not taken over by its own server.)"""
from __future__ import annotations

import contextlib
import json
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anyio

from support.stores import in_store
from test_service import ROLE, Server, boto3, machine, wait_done  # noqa: F401 - boto3: skips without it
from test_service_callbacks import activity_run, giving_up, history, next_task, types, wait_entered


@contextlib.contextmanager
def two_servers(tmp: Path, store: str, *options: str):
    """Two servers whose empty GetActivityTask polls end after 2 s (AWS: 60 s)."""
    pair = []
    try:
        for _ in range(2):
            srv = Server(tmp, store, "--poll", "0.2", *options)
            srv.env = {"ASL_SERVE_POLL_SECONDS": "2"}
            pair.append(srv.start())
        yield pair
    finally:
        for srv in pair:
            if srv.proc.poll() is None:
                srv.stop()


def work_done(sfn, activity: str, worker: str, run: str) -> list[dict]:
    """A worker polling through `sfn` gets the task of `run` (input ``{"n": 1}``) and answers it
    ``{"ok": true}``: the execution succeeds with it. Its history."""
    task = next_task(sfn, activity, worker)
    assert json.loads(task["input"]) == {"n": 1}
    sfn.send_task_success(taskToken=task["taskToken"], output='{"ok": true}')
    done = wait_done(sfn, run)
    assert (done["status"], json.loads(done["output"])) == ("SUCCEEDED", {"ok": True}), done
    return history(sfn, run)


def activity_machine(sfn, activity: str, name: str, **task) -> str:
    return sfn.create_state_machine(name=name, roleArn=ROLE, definition=machine(
        {"A": {"Type": "Task", "Resource": activity, "End": True, **task}}, "A"))["stateMachineArn"]


def test_workers_of_either_server_share_the_tasks_of_both(tmp_path: Path, postgres_url):
    """Executions started on both servers; workers poll both servers until every task is
    answered: each task goes to exactly one worker, with its execution's input, and each
    execution succeeds with its worker's answer (sent through the other server than the one
    polled), its ActivityStarted naming that worker."""
    with two_servers(tmp_path, postgres_url) as (a, b):
        clients = [a.client(max_pool_connections=8), b.client(max_pool_connections=8)]
        activity = clients[0].create_activity(name="work")["activityArn"]
        arn = activity_machine(clients[0], activity, "work")
        # one task, polled through the server that does not run its execution
        for n, (runner, poller) in enumerate(((0, 1), (1, 0))):
            run = clients[runner].start_execution(stateMachineArn=arn, name=f"x{n}", input=json.dumps({"x": n}))
            task = next_task(clients[poller], activity, f"x{n}")
            assert json.loads(task["input"]) == {"x": n}
            clients[poller].send_task_success(taskToken=task["taskToken"], output='{"ok": 1}')
            done = wait_done(clients[runner], run["executionArn"])
            assert (done["status"], done["output"]) == ("SUCCEEDED", '{"ok":1}'), done
        runs = {n: clients[n % 2].start_execution(stateMachineArn=arn, name=f"e{n}",
                                                  input=json.dumps({"n": n}))["executionArn"] for n in range(12)}
        got: list[tuple[str, int, str]] = []  # (worker, n, token)
        lock = threading.Lock()

        def worker(w: int) -> None:
            name = f"w{w}"
            polled, other = clients[w % 2], clients[1 - w % 2]
            for _ in range(60):
                with lock:
                    if len(got) >= len(runs):
                        return
                task = polled.get_activity_task(activityArn=activity, workerName=name)
                if "taskToken" not in task:
                    continue
                n = json.loads(task["input"])["n"]
                with lock:
                    got.append((name, n, task["taskToken"]))
                other.send_task_success(taskToken=task["taskToken"], output=json.dumps({"n": n, "by": name}))

        with ThreadPoolExecutor(6) as pool:
            for future in [pool.submit(worker, w) for w in range(6)]:
                future.result(timeout=120)
        assert sorted(n for _, n, _ in got) == list(range(12))  # each task handed out once
        assert len({token for _, _, token in got}) == 12
        by = {n: name for name, n, _ in got}
        for n, run in runs.items():
            done = wait_done(clients[n % 2], run)
            assert (done["status"], json.loads(done["output"])) == ("SUCCEEDED", {"n": n, "by": by[n]}), done
            events = history(clients[1 - n % 2], run)
            started = [e for e in events if e["type"] == "ActivityStarted"]
            assert len(started) == 1 and started[0]["activityStartedEventDetails"] == {"workerName": by[n]}
        for sfn in clients:  # nothing left to hand out
            assert "taskToken" not in sfn.get_activity_task(activityArn=activity, workerName="late")


def test_tasks_of_a_killed_server_go_on_through_the_other(tmp_path: Path, postgres_url):
    """Server A runs two executions waiting on activity tasks: one task was handed out (through
    server B) before A is killed (SIGKILL), the other not yet. B takes the executions over when
    A's lease runs out: the first worker's answer, sent to B, completes its execution; the task
    nobody had taken is handed to a worker polling B, once, under the same token, and its answer
    completes the other execution; each history has one ActivityScheduled and one ActivityStarted."""
    with two_servers(tmp_path, postgres_url, "--lease", "2") as (a, b):
        one, two = a.client(), b.client()
        activity = one.create_activity(name="work")["activityArn"]
        arn = activity_machine(one, activity, "work", HeartbeatSeconds=600)
        first = one.start_execution(stateMachineArn=arn, name="first", input='{"n": 1}')["executionArn"]
        task = next_task(two, activity, "early")
        assert json.loads(task["input"]) == {"n": 1}
        second = one.start_execution(stateMachineArn=arn, name="second", input='{"n": 2}')["executionArn"]
        wait_entered(one, second, "ActivityScheduled")
        a.stop(signal.SIGKILL)
        two.send_task_success(taskToken=task["taskToken"], output='{"early": true}')
        late = next_task(two, activity, "late")
        assert json.loads(late["input"]) == {"n": 2}
        two.send_task_success(taskToken=late["taskToken"], output='{"late": true}')
        for run, output, worker in ((first, {"early": True}, "early"), (second, {"late": True}, "late")):
            done = wait_done(two, run)
            assert (done["status"], json.loads(done["output"])) == ("SUCCEEDED", output), done
            events = history(two, run)
            kinds = types(events)
            assert kinds.count("ActivityScheduled") == 1 and kinds.count("ActivityStarted") == 1, kinds
            assert [e["activityStartedEventDetails"] for e in events if e["type"] == "ActivityStarted"] == [
                {"workerName": worker}]
        assert "taskToken" not in two.get_activity_task(activityArn=activity, workerName="after")


def test_a_task_withdrawn_on_one_server_is_not_handed_out_by_the_other(tmp_path: Path, postgres_url):
    """A task whose execution on server A stops (StopExecution through B) or times out before any
    worker takes it is withdrawn: a worker polling B then gets nothing; a task of a later
    execution is the next one handed out. (The execution's TimeoutSeconds: the task's own counts
    from ActivityStarted, raw AWS capture radkawar/stackd testdata/aws/stepfunctions/
    callback_lifecycle.json, 01-delayed-lease.)"""
    with two_servers(tmp_path, postgres_url) as (a, b):
        one, two = a.client(), b.client()
        activity = one.create_activity(name="work")["activityArn"]
        stopped = one.start_execution(stateMachineArn=activity_machine(one, activity, "stopped"),
                                      input='{"n": 1}')["executionArn"]
        timed_machine = one.create_state_machine(name="timed", roleArn=ROLE, definition=json.dumps({
            "TimeoutSeconds": 1, "StartAt": "A", "States": {"A": {"Type": "Task", "Resource": activity,
                                                                  "End": True}}}))["stateMachineArn"]
        timed = one.start_execution(stateMachineArn=timed_machine, input='{"n": 2}')["executionArn"]
        wait_entered(one, stopped, "ActivityScheduled")
        two.stop_execution(executionArn=stopped)
        assert wait_done(one, stopped)["status"] == "ABORTED"
        done = wait_done(one, timed)
        assert done["status"] == "TIMED_OUT", done
        assert types(history(one, timed))[-1] == "ExecutionTimedOut"
        assert "taskToken" not in two.get_activity_task(activityArn=activity, workerName="w")
        later = one.start_execution(stateMachineArn=activity_machine(one, activity, "later"),
                                    input='{"n": 3}')["executionArn"]
        task = next_task(two, activity, "w")
        assert json.loads(task["input"]) == {"n": 3}
        two.send_task_success(taskToken=task["taskToken"], output="{}")
        assert wait_done(two, later)["status"] == "SUCCEEDED"


def test_a_task_of_a_stopped_server_is_handed_out_after_the_takeover(tmp_path: Path, postgres_url):
    """Server A stopped cleanly (SIGTERM) while its execution's task waits for a worker: B takes
    the execution over and hands the task out once, to a worker polling B; its answer completes
    the execution, with one ActivityScheduled and one ActivityStarted."""
    with two_servers(tmp_path, postgres_url, "--lease", "2") as (a, b):
        one, two = a.client(), b.client()
        activity, run = activity_run(one, "work")
        a.stop()
        kinds = types(work_done(two, activity, "w", run))
        assert kinds.count("ActivityScheduled") == 1 and kinds.count("ActivityStarted") == 1, kinds
        assert "taskToken" not in two.get_activity_task(activityArn=activity, workerName="again")


def owner_of(url: str, arn: str) -> str | None:
    """The process that holds the execution's lease, as the store says."""
    async def owner(store):
        return (await store.get(arn)).owner
    return anyio.run(in_store, url, owner)


def test_a_task_of_a_dead_server_is_handed_out_before_the_takeover(tmp_path: Path, postgres_url):
    """Server A dies (SIGKILL) while its execution's task waits for a worker: a worker polling
    server B gets the task at once, while the execution is still A's (its lease has not run out):
    the claimed row is the record of the take. Its answer, sent to B, completes the execution once
    B has taken it over, with one ActivityStarted naming that worker."""
    with two_servers(tmp_path, postgres_url, "--lease", "10") as (a, b):
        one, two = a.client(), b.client()
        activity, run = activity_run(one, "work")
        dead = owner_of(postgres_url, run)
        a.stop(signal.SIGKILL)
        task = next_task(two, activity, "w")
        assert json.loads(task["input"]) == {"n": 1}
        assert owner_of(postgres_url, run) == dead  # not taken over yet
        two.send_task_success(taskToken=task["taskToken"], output='{"ok": true}')
        done = wait_done(two, run)
        assert (done["status"], json.loads(done["output"])) == ("SUCCEEDED", {"ok": True}), done
        assert owner_of(postgres_url, run) != dead
        events = history(two, run)
        assert [e["activityStartedEventDetails"] for e in events if e["type"] == "ActivityStarted"] == [
            {"workerName": "w"}]
        assert "taskToken" not in two.get_activity_task(activityArn=activity, workerName="after")


def test_a_claim_whose_poll_went_away_gives_the_task_back(tmp_path: Path, postgres_url):
    """The worker polling server B gives up (boto3's read timeout) while B's claim of the task
    waits for the table (the test locks it): the claim completes, nothing reaches the worker, and
    the task goes back: a worker polling server A gets it, once, and its answer completes the
    execution (one ActivityStarted, naming that worker)."""
    import psycopg

    with two_servers(tmp_path, postgres_url) as (a, b):
        one = a.client()
        activity, run = activity_run(one, "work")
        with psycopg.connect(postgres_url, autocommit=True) as db, \
                psycopg.connect(postgres_url, autocommit=True) as look:  # (its own: a transaction sees a snapshot)
            while not look.execute("SELECT 1 FROM activity_tasks").fetchall():  # offered
                time.sleep(0.05)
            with db.transaction():
                db.execute("LOCK TABLE activity_tasks IN EXCLUSIVE MODE")
                gone, failed = giving_up(b, activity, 3)
                while not look.execute("SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                     "AND query LIKE %s", ("%UPDATE activity_tasks a SET state%",)).fetchall():
                    time.sleep(0.05)  # (until B's claim waits for the lock)
                gone.join(30)
            assert failed
            while look.execute("SELECT 1 FROM activity_tasks WHERE state = 'taken'").fetchall():
                time.sleep(0.05)  # (until B has given it back)
        events = work_done(one, activity, "next", run)
        assert [e["activityStartedEventDetails"] for e in events if e["type"] == "ActivityStarted"] == [
            {"workerName": "next"}]  # (the worker the task reached)
        for sfn in (one, b.client()):
            assert "taskToken" not in sfn.get_activity_task(activityArn=activity, workerName="late")


def test_a_killed_server_is_taken_over_long_before_its_leases_run_out(tmp_path: Path, postgres_url):
    """Server A is killed (SIGKILL) with leases of ten minutes: PostgreSQL sees its connections
    close, and B takes its executions over a few seconds later (before: when the leases ran out).
    A waiting execution finishes through B; an activity task's answer sent to B right after the
    kill completes its execution, without waiting for A's leases either."""
    with two_servers(tmp_path, postgres_url, "--lease", "600") as (a, b):
        one, two = a.client(), b.client()
        waiting = one.create_state_machine(name="waiting", roleArn=ROLE, definition=machine({
            "W": {"Type": "Wait", "Seconds": 8, "Next": "P"},
            "P": {"Type": "Pass", "Result": {"done": True}, "End": True}}, "W"))["stateMachineArn"]
        run = one.start_execution(stateMachineArn=waiting, input="{}")["executionArn"]
        activity, called = activity_run(one, "work")
        dead = owner_of(postgres_url, run)
        task = next_task(two, activity, "w")
        assert one.describe_execution(executionArn=run)["status"] == "RUNNING"  # (in its Wait)
        a.stop(signal.SIGKILL)
        two.send_task_success(taskToken=task["taskToken"], output='{"ok": true}')
        for arn, output in ((run, {"done": True}), (called, {"ok": True})):
            done = wait_done(two, arn, timeout=90)  # (the leases would run out after 600 s)
            assert (done["status"], json.loads(done["output"])) == ("SUCCEEDED", output), done
            assert owner_of(postgres_url, arn) is None  # ended by B
            kinds = types(history(two, arn))
            assert kinds.count("ExecutionStarted") == 1 and kinds.count("ExecutionSucceeded") == 1, kinds
        assert kinds.count("ActivityStarted") == 1, kinds
        assert dead is not None


class LateRecords:
    """A store whose new execution records are answered `seconds` late (written at once): a
    loaded machine stretches the moment between a record's write and its StartExecution's next step."""

    def __init__(self, store, seconds: float):
        self.store, self.seconds = store, seconds

    def __getattr__(self, name):
        return getattr(self.store, name)

    async def create(self, *args, **kwargs):
        created = await self.store.create(*args, **kwargs)
        await anyio.sleep(self.seconds)
        return created


def test_an_execution_being_started_is_not_taken_over_by_its_own_server(postgres_url):
    """StartExecution writes the execution's record (its server's) before it launches the run;
    the server's takeover poll (every 0.05 s here) claims its own executions too, and must leave
    this one to the start (in one process, the service object, its records answered 0.5 s late).
    Before, it resumed a second run of it from its journal: the later launch was the one the
    task token reached, a run gone live before its task, and the worker's SendTaskSuccess got
    TaskDoesNotExist (seen under load in test_workers_of_either_server_share_the_tasks_of_both)."""
    from asl.engine.stores import open_store
    from asl.service.api import Service

    async def go():
        service = Service(LateRecords(open_store(postgres_url), 0.5), poll_seconds=0.05)
        async with service.serving():
            activity = (await service.answer("CreateActivity", {"name": "work"}))["activityArn"]
            arn = (await service.answer("CreateStateMachine", {
                "name": "work", "roleArn": ROLE, "definition": machine(
                    {"A": {"Type": "Task", "Resource": activity, "End": True}}, "A")}))["stateMachineArn"]
            run = (await service.answer("StartExecution", {"stateMachineArn": arn, "input": '{"n": 1}'}))[
                "executionArn"]
            token, text = await service.activities.get_task(activity, "w", timeout=30)
            await anyio.sleep(0.5)  # (a second run, had it been resumed, would have replaced the first by now)
            await service.answer("SendTaskSuccess", {"taskToken": token, "output": text})
            with anyio.fail_after(30):
                while (described := await service.answer("DescribeExecution", {"executionArn": run}))[
                        "status"] == "RUNNING":
                    await anyio.sleep(0.05)
            events = (await service.answer("GetExecutionHistory", {"executionArn": run}))["events"]
            return described, [e["type"] for e in events]
    described, kinds = anyio.run(go)
    assert (described["status"], json.loads(described["output"])) == ("SUCCEEDED", {"n": 1}), described
    assert kinds.count("ExecutionStarted") == 1 and kinds.count("ActivityStarted") == 1, kinds


def test_a_take_starts_its_task_once_its_process_says_it_was_delivered(postgres_url, monkeypatch):
    """The brokers of two processes on one store (here both in this one): a task the execution
    on `one` offers, taken by a worker polling `two`, starts (its offer ends, naming the worker)
    once `two` says its answer reached the worker; given back (the answer was not written), it
    starts with the next take's worker; without a word from `two` (it died between its take and
    its answer), the take counts as delivered after DELIVERY_GRACE."""
    from asl.engine.callbacks import encode_token
    from asl.engine.stores import open_store
    from asl.service import activities
    from test_stores import record

    monkeypatch.setattr(activities, "DELIVERY_GRACE", 3.0)
    act = "arn:aws:states:us-east-1:123456789012:activity:work"

    async def go():
        stores = [open_store(postgres_url), open_store(postgres_url)]
        for store in stores:
            await store.open()
        started: dict[int, tuple] = {}  # by task: (its worker, seconds from its take)
        try:
            async with anyio.create_task_group() as tg:
                one, two = (activities.SharedActivityBroker(store, tg.start_soon) for store in stores)
                tg.start_soon(one.listen)

                async def offer(n: int) -> None:
                    await stores[0].create(record(n))
                    worker = await one.offer(act, encode_token(record(n).arn, f"{n}" * 64), "{}")
                    started[n] = (worker, time.monotonic() - taken_at)

                async def take(worker: str) -> str:
                    nonlocal taken_at
                    task = await two.get_task(act, worker, timeout=10, held=True)
                    taken_at = time.monotonic()
                    return task[0]

                async def start_of(n: int) -> tuple:
                    with anyio.fail_after(10):
                        while n not in started:
                            await anyio.sleep(0.02)
                    return started[n]

                taken_at = 0.0
                tg.start_soon(offer, 0)
                token = await take("w")
                await anyio.sleep(1.0)
                assert 0 not in started  # (taken, not yet delivered)
                await two.delivered(token)
                worker, after = await start_of(0)
                assert worker == "w" and after < 3.0
                tg.start_soon(offer, 1)
                assert await two.give_back(await take("lost"))
                await two.delivered(await take("next"))
                assert (await start_of(1))[0] == "next"
                tg.start_soon(offer, 2)
                await take("silent")
                worker, after = await start_of(2)
                assert worker == "silent" and after > 2.0  # (the grace counts from when `one` saw the take)
                tg.cancel_scope.cancel()
        finally:
            for store in stores:
                await store.close()
    anyio.run(go)
