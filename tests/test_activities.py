"""Activity tasks served to workers (asl.engine.callbacks.ActivityBroker), at library level:
GetActivityTask's long poll, ActivityStarted with the workerName, answers by token, timeouts,
crash and resume; and the AWS-recorded activity cases replayed against the engine."""
from __future__ import annotations

import glob
import json
import os
from contextlib import asynccontextmanager

import anyio
import pytest

import asl
from asl.engine import prepare, prepare_redrive, prepare_resume
from asl.engine.callbacks import ActivityBroker, TaskTokens, decode_token
from asl.engine.clock import VirtualClock
from asl.engine.stores import open_store
from support.dead_store import DeadStore

ARN = "arn:aws:states:us-east-1:123456789012:activity:work"
START = 1_700_000_000.0
CASES = "/work/shared/conformance/service/activity"


def machine(**task):
    return asl.load({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": ARN, "End": True, **task}}})


def run(coro):
    return anyio.run(lambda: coro)


def test_a_worker_takes_the_task_and_answers_it():
    async def go():
        broker, tokens = ActivityBroker(), TaskTokens()
        ex = prepare(machine(), {"n": 1}, activities=broker)
        tokens.add(ex)

        async def worker():
            token, text = await broker.get_task(ARN, "w1")
            assert decode_token(token)[0] == ex.arn
            await tokens.send_task_success(token, json.dumps({"got": json.loads(text)}))
        async with anyio.create_task_group() as tg:
            tg.start_soon(worker)
            return await ex.run()
    result = run(go())
    assert result.output == {"got": {"n": 1}}
    assert [e["type"] for e in result.events] == [
        "ExecutionStarted", "TaskStateEntered", "ActivityScheduled", "ActivityStarted", "ActivitySucceeded",
        "TaskStateExited", "ExecutionSucceeded"]
    assert result.events[3]["activityStartedEventDetails"] == {"workerName": "w1"}


def test_activity_failure_is_caught_with_error_and_cause():
    async def go():
        broker, tokens = ActivityBroker(), TaskTokens()
        m = asl.load({"StartAt": "A", "States": {
            "A": {"Type": "Task", "Resource": ARN, "Catch": [{"ErrorEquals": ["Boom"], "Next": "C"}], "End": True},
            "C": {"Type": "Pass", "End": True}}})
        ex = prepare(m, {}, activities=broker)
        tokens.add(ex)

        async def worker():
            token, _ = await broker.get_task(ARN)
            await tokens.send_task_failure(token, "Boom", "it broke")
        async with anyio.create_task_group() as tg:
            tg.start_soon(worker)
            return await ex.run()
    result = run(go())
    failed = [e for e in result.events if e["type"] == "ActivityFailed"][0]
    assert failed["activityFailedEventDetails"] == {"error": "Boom", "cause": "it broke"}
    assert result.output == {"Error": "Boom", "Cause": "it broke"}


def test_get_task_returns_none_when_no_task_comes():
    async def go():
        return await ActivityBroker().get_task(ARN, "w", timeout=0.05)
    assert run(go()) is None


def test_a_task_nobody_takes_waits_past_its_timeout_and_is_withdrawn_when_the_execution_ends():
    # TimeoutSeconds and HeartbeatSeconds count from ActivityStarted: a task waiting for a worker
    # does not time out (raw AWS capture, radkawar/stackd testdata/aws/stepfunctions/
    # callback_lifecycle.json, 01-delayed-lease: TimeoutSeconds 3, HeartbeatSeconds 2, taken
    # 5.078 s after ActivityScheduled, then succeeded); this test pinned a timeout from
    # ActivityScheduled before, on no AWS evidence. The execution's own TimeoutSeconds ends it.
    async def go():
        broker = ActivityBroker()
        definition = {"TimeoutSeconds": 60, "StartAt": "A", "States": {"A": {
            "Type": "Task", "Resource": ARN, "TimeoutSeconds": 30, "HeartbeatSeconds": 10, "End": True}}}
        ex = prepare(asl.load(definition), {}, activities=broker, clock=VirtualClock(START))
        result = await ex.run()
        return result, broker.pending(ARN)
    result, pending = run(go())
    assert result.status == "TIMED_OUT" and result.error == "States.Timeout"
    assert [e["type"] for e in result.events][1:] == ["TaskStateEntered", "ActivityScheduled", "ExecutionTimedOut"]
    assert result.stop_time - result.start_time == pytest.approx(60)
    assert pending == 0


def test_each_retry_is_a_new_task_with_a_new_token():
    async def go():
        broker, tokens = ActivityBroker(), TaskTokens()
        ex = prepare(machine(Retry=[{"ErrorEquals": ["Again"], "IntervalSeconds": 1}]), {}, activities=broker,
                     clock=VirtualClock(START))
        tokens.add(ex)
        seen = []

        async def worker():
            token, _ = await broker.get_task(ARN, "w")
            seen.append(token)
            await tokens.send_task_failure(token, "Again")
            token, _ = await broker.get_task(ARN, "w")
            seen.append(token)
            await tokens.send_task_success(token, "2")
        async with anyio.create_task_group() as tg:
            tg.start_soon(worker)
            result = await ex.run()
        return result, seen
    result, seen = run(go())
    assert result.output == 2 and seen[0] != seen[1]


def test_a_registered_handler_still_serves_the_activity():
    result = asl.engine.run_sync(machine(), {"x": 1}, handlers={ARN: lambda p: {"handled": p}},
                                 activities=ActivityBroker())
    assert result.output == {"handled": {"x": 1}}
    assert [e["type"] for e in result.events][2:5] == ["ActivityScheduled", "ActivityStarted", "ActivitySucceeded"]


def test_many_executions_share_one_broker_and_workers():
    n = 300

    async def go():
        broker, tokens = ActivityBroker(), TaskTokens()
        m = machine()
        executions = [prepare(m, {"i": i}, activities=broker, name=f"x{i}", virtual_time=False) for i in range(n)]
        for ex in executions:
            tokens.add(ex)

        async def worker(name):
            while True:
                task = await broker.get_task(ARN, name, timeout=0.5)
                if task is None:
                    return
                token, text = task
                await tokens.send_task_success(token, json.dumps({"by": name, **json.loads(text)}))
        async with anyio.create_task_group() as tg:
            for ex in executions:
                tg.start_soon(ex.run)
            for w in range(4):
                tg.start_soon(worker, f"w{w}")
        return executions
    executions = run(go())
    assert all(ex.result.output["i"] == i for i, ex in enumerate(executions))
    started = [ex.result.events[3]["activityStartedEventDetails"]["workerName"] for ex in executions]
    assert set(started) <= {"w0", "w1", "w2", "w3"}


# ---- crash and resume -----------------------------------------------------------------------------

async def crash(taken: bool, given_back: int = 0):
    """Run an activity execution with a store until its task is offered (and taken, if `taken`;
    then given back and taken again, `given_back` steps of these), then the process dies.
    Returns the store, the ARN and the token (if taken)."""
    store = open_store("memory")
    broker = ActivityBroker()
    ex = prepare(machine(HeartbeatSeconds=100), {"v": 1}, activities=broker, clock=VirtualClock(START), seed=9,
                 name="act")
    await ex.attach(store)
    token = None
    async with anyio.create_task_group() as tg:
        tg.start_soon(ex.run)
        if taken:
            token, _ = await broker.get_task(ARN, "before")
            await anyio.sleep(0.01)
            for step in range(given_back):
                if step % 2 == 0:
                    assert await broker.give_back(token)
                else:
                    assert (await broker.get_task(ARN, "again"))[0] == token
        else:
            with anyio.fail_after(5):
                while not broker.pending(ARN):
                    await anyio.sleep(0.001)
        await ex.flush()
        ex.sink.store = DeadStore()
        tg.cancel_scope.cancel()
    await store.update(ex.arn, lease_until=0.0)
    return store, ex.arn, token


async def resumed(store, arn, broker=None):
    """The execution resumed from `store` with a new broker (or `broker`); the broker and its
    TaskTokens."""
    broker, tokens = broker or ActivityBroker(), TaskTokens()
    ex = await prepare_resume(store, arn, activities=broker)
    tokens.add(ex)
    return ex, broker, tokens


async def died_after(before):
    """An activity execution run with a store until ``await before(broker, ex)`` has run, then
    the process dies (nothing more reaches the store); `resumed` from the store."""
    store = open_store("memory")
    broker = ActivityBroker()
    ex = prepare(machine(), {"v": 1}, activities=broker, clock=VirtualClock(START), name="act")
    await ex.attach(store)
    async with anyio.create_task_group() as tg:
        tg.start_soon(ex.run)
        await before(broker, ex)
        ex.sink.store = DeadStore()
        tg.cancel_scope.cancel()
    await store.update(ex.arn, lease_until=0.0)
    return await resumed(store, ex.arn)


def test_a_task_offered_before_a_crash_is_offered_again_with_the_same_token():
    async def go():
        store, arn, _ = await crash(taken=False)
        # what the uninterrupted execution's token is: the same seed and name
        ex, broker, tokens = await resumed(store, arn)

        async def worker():
            token, text = await broker.get_task(ARN, "after")
            await tokens.send_task_success(token, text)
            return token
        async with anyio.create_task_group() as tg:
            tg.start_soon(worker)
            result = await ex.run()
        reference = ActivityBroker()
        fresh = prepare(machine(HeartbeatSeconds=100), {"v": 1}, activities=reference,
                        clock=VirtualClock(START), seed=9, name="act")
        async with anyio.create_task_group() as tg:
            tg.start_soon(fresh.run)
            first, _ = await reference.get_task(ARN, "ref")
            fresh.stop()
        started = [e for e in result.events if e["type"] == "ActivityStarted"]
        return result, started, first, ex
    result, started, first, ex = run(go())
    assert result.status == "SUCCEEDED" and result.output == {"v": 1}
    assert started[0]["activityStartedEventDetails"] == {"workerName": "after"}
    assert first in ex.closed_tokens  # the resumed task's token is the uninterrupted one's


@pytest.mark.parametrize("steps", [0, 2])
def test_a_task_taken_before_a_crash_waits_for_its_worker_after_resume(steps):
    """Taken (or given back and taken again, `steps`) before the crash: resumed, the task is not
    offered again; the worker that has it answers."""
    async def go():
        store, arn, token = await crash(taken=True, given_back=steps)
        ex, broker, tokens = await resumed(store, arn)
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            for _ in range(100):  # (the resumed execution reaches its task)
                await anyio.sleep(0)
            assert token in ex.waiters
            queued = broker.pending(ARN)
            await tokens.send_task_success(token, '"from the worker"')
        return ex.result, queued
    result, queued = run(go())
    assert result.status == "SUCCEEDED" and result.output == "from the worker"
    assert queued == 0  # not offered again
    started = [e for e in result.events if e["type"] == "ActivityStarted"]
    assert len(started) == 1 and started[0]["activityStartedEventDetails"] == {"workerName": "before"}


@pytest.mark.parametrize("steps", [1, 3])
def test_a_task_given_back_before_a_crash_goes_to_the_next_poll_after_resume(steps):
    """The worker never got the task (given back: its GetActivityTask answer was not written),
    then the process died: resumed, the execution hands it out at the next poll (the journal
    knows of the give-back), under the same token, its first take still the one on record."""
    async def go():
        store, arn, token = await crash(taken=True, given_back=steps)
        ex, broker, tokens = await resumed(store, arn)
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            with anyio.fail_after(5):
                again, text = await broker.get_task(ARN, "after")
            await tokens.send_task_success(again, text)
        return ex.result, token, again
    result, token, again = run(go())
    assert again == token
    assert result.status == "SUCCEEDED" and result.output == {"v": 1}
    started = [e for e in result.events if e["type"] == "ActivityStarted"]
    assert [e["activityStartedEventDetails"] for e in started] == [{"workerName": "before"}]


def test_a_task_offered_as_its_process_dies_is_answerable_in_the_resumed_execution():
    """A broker that keeps its tasks in the store (asl serve on PostgreSQL) hands a task out from
    its own record the moment it is offered, so a worker may hold the token when the process
    running the execution dies right after the offer. ActivityScheduled is in the journal before
    the offer: the execution resumed elsewhere replays up to its task, and the worker's answer
    sent meanwhile waits for it instead of getting TaskDoesNotExist (a token a worker was told
    is answerable). Before, the journal could end before the task (its periodic write had not
    come), and the resumed run went live before the task, awaiting the activity registry."""
    async def go():
        store = open_store("memory")
        offered: list[str] = []

        class Dying(ActivityBroker):  # the process dies the moment its task is offered
            async def offer(self, arn, token, input, recorded=None, noted=None):
                offered.append(token)
                ex.sink.store = DeadStore()
                await anyio.sleep_forever()

        class TakenElsewhere(ActivityBroker):  # the store's record: a worker has the task (taken)
            async def offer(self, arn, token, input, recorded=None, noted=None):
                return "w"

        async def known(arn):  # the activity registry: a store query, awaited before a task is scheduled
            await anyio.sleep(0.2)
            return True

        ex = prepare(machine(), {"v": 1}, activities=Dying(), name="act")
        await ex.attach(store)
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            with anyio.fail_after(5):
                while not offered:
                    await anyio.sleep(0.001)
            tg.cancel_scope.cancel()
        await store.update(ex.arn, lease_until=0.0)
        again, _, tokens = await resumed(store, ex.arn, TakenElsewhere(known))
        async with anyio.create_task_group() as tg:
            tg.start_soon(again.run)
            await tokens.send_task_success(offered[0], '"answered"')  # at once: the run is replaying
        return again.result
    result = run(go())
    assert (result.status, result.output) == ("SUCCEEDED", "answered")
    assert [e["activityStartedEventDetails"] for e in result.events if e["type"] == "ActivityStarted"] == [
        {"workerName": "w"}]


def test_a_task_is_recorded_as_taken_before_its_worker_gets_the_token():
    """The process dies the moment get_task returns: the store already holds the take, so the
    resumed execution records ActivityStarted naming the worker, does not offer the task again,
    and the worker's answer completes it."""
    taken = []

    async def take(broker, ex):
        taken.extend(await broker.get_task(ARN, "w"))

    async def go():
        again, broker, tokens = await died_after(take)
        async with anyio.create_task_group() as tg:
            tg.start_soon(again.run)
            await tokens.send_task_success(*taken)
        return again.result, broker.pending(ARN)
    result, pending = run(go())
    assert result.status == "SUCCEEDED" and result.output == {"v": 1} and pending == 0
    assert started_by(result) == [{"workerName": "w"}]


# ---- takes that never reach a worker ------------------------------------------------------------------

async def offered(broker: ActivityBroker, **task):
    """An execution (with a store) whose activity task is offered; its TaskTokens."""
    ex = prepare(machine(**task), {"v": 1}, activities=broker, clock=VirtualClock(START), name="act")
    await ex.attach(open_store("memory"))
    tokens = TaskTokens()
    tokens.add(ex)
    return ex, tokens


async def until_offered(broker: ActivityBroker) -> None:
    with anyio.fail_after(5):
        while not broker.pending(ARN):
            await anyio.sleep(0.001)


@asynccontextmanager
async def running(broker: ActivityBroker, **task):
    """`offered`'s execution, running until its task is offered (and to its end, on leaving)."""
    ex, tokens = await offered(broker, **task)
    async with anyio.create_task_group() as tg:
        tg.start_soon(ex.run)
        await until_offered(broker)
        yield ex, tokens


def test_a_poll_cancelled_once_it_has_taken_a_task_gives_it_back():
    """The poll is cancelled (its client went away) after it took the task, while the take is
    being recorded: the task goes back, and the next poll gets it, under the same token; one
    ActivityStarted, naming the worker that got the task (AWS's ActivityStartedEventDetails:
    "the worker that the task is assigned to")."""
    async def go():
        broker = ActivityBroker()
        async with running(broker) as (ex, tokens):
            with anyio.CancelScope() as gone:
                gone.cancel()  # (cancelled already: the take is the poll's last step before its first wait)
                await broker.get_task(ARN, "gone")
            assert broker.pending(ARN) == 1
            token, text = await broker.get_task(ARN, "next")
            await tokens.send_task_success(token, text)
        return ex.result, broker
    result, broker = run(go())
    assert result.status == "SUCCEEDED" and result.output == {"v": 1}
    started = [e for e in result.events if e["type"] == "ActivityStarted"]
    assert [e["activityStartedEventDetails"] for e in started] == [{"workerName": "next"}]
    assert broker.pending(ARN) == 0 and not broker.tasks


def test_a_task_whose_answer_was_not_written_is_given_back_until_it_ends():
    """`give_back` (the answer to GetActivityTask was not written): the next poll gets the task at
    once; once the task has ended (answered, or timed out) it is not handed out again."""
    async def go():
        broker = ActivityBroker()
        ex, tokens = await offered(broker)
        timed, _ = await offered(broker, TimeoutSeconds=30)
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await until_offered(broker)
            first, _ = await broker.get_task(ARN, "lost")
            assert await broker.give_back(first)
            again, text = await broker.get_task(ARN, "next", timeout=0)
            assert again == first
            await tokens.send_task_success(again, text)
        assert not await broker.give_back(first)  # answered: ended
        async with anyio.create_task_group() as tg:
            tg.start_soon(timed.run)
            await until_offered(broker)
            token, _ = await broker.get_task(ARN, "lost")
            assert await broker.give_back(token)
        return ex.result, timed.result, await broker.get_task(ARN, "late", timeout=0)
    answered, timed_out, late = run(go())
    assert answered.status == "SUCCEEDED"
    assert (timed_out.status, timed_out.error) == ("FAILED", "States.Timeout")
    assert late is None  # the timed-out task was withdrawn


def test_stop_polls_answers_waiting_polls_and_later_ones():
    async def go():
        broker = ActivityBroker()
        got: list = []

        async def poll():
            got.append(await broker.get_task(ARN, "w"))
        async with anyio.create_task_group() as tg:
            tg.start_soon(poll)
            await anyio.sleep(0.01)
            broker.stop_polls()
        got.append(await broker.get_task(ARN, "w"))
        return got
    assert run(go()) == [None, None]


# ---- the AWS-recorded activity cases, replayed at library level ---------------------------------------

KNOWN: dict[str, str] = {}  # case name -> why the engine differs from AWS's recording


def _definition(step, arn):
    parts = step["params"]["definition"]["$concat"]
    return "".join(p if isinstance(p, str) else arn for p in parts)


def _normal(events, arn):
    out = []
    for event in events:
        event = {k: v for k, v in event.items() if k != "timestamp"}
        text = json.dumps(event).replace(arn, "activity_arn").replace(
            "arn:aws:iam::123456789012:role/StepFunctionsLocalRole", "snf_role_arn")
        event = json.loads(text)
        for key, details in event.items():
            if key.endswith("EventDetails"):
                for field in ("input", "output"):
                    if isinstance(details.get(field), str):
                        details[field] = json.loads(details[field])
        out.append(event)
    return out


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(CASES, "*.json"))),
                         ids=lambda p: os.path.basename(p).split("-")[0])
def test_recorded_activity_case(path):
    case = json.load(open(path))
    steps = {s["id"]: s for s in case["steps"]}
    test = case["name"].split("::")[-1]
    if test in KNOWN:
        pytest.xfail(KNOWN[test])
    definition = _definition(steps["step2"], ARN)
    execution_input = steps["step3"]["params"]["input"]

    async def go():
        broker, tokens = ActivityBroker(), TaskTokens()
        ex = prepare(asl.load(json.loads(definition)), json.loads(execution_input), activities=broker,
                     clock=VirtualClock(START))
        tokens.add(ex)
        got: dict = {}

        async def worker():
            for step in case["steps"][3:]:
                call = step.get("call")
                if call == "get_activity_task":
                    got["token"], got["input"] = await broker.get_task(ARN, step["params"].get("workerName"))
                elif step.get("sleep"):
                    await ex.clock.sleep(step["sleep"])
                elif call == "send_task_heartbeat":
                    await tokens.send_task_heartbeat(got["token"])
                elif call == "send_task_success":
                    await tokens.send_task_success(got["token"], got["input"])
        async with anyio.create_task_group() as tg:
            tg.start_soon(worker)
            return await ex.run()
    result = run(go())
    expected = [s for s in case["steps"] if s.get("call") == "get_execution_history"][0]["expect"]["response"]
    assert _normal(result.events, ARN) == [{k: v for k, v in e.items() if k != "timestamp"}
                                           for e in expected["events"]]


class SlowStore:
    """The store behind a slow disk: each journal write takes `seconds`."""

    def __init__(self, store, seconds: float):
        self.store, self.seconds = store, seconds

    def __getattr__(self, name):
        return getattr(self.store, name)

    async def append(self, *args, **kwargs):
        await anyio.sleep(self.seconds)
        return await self.store.append(*args, **kwargs)


def test_a_task_that_ends_while_its_give_back_is_written_is_not_handed_out():
    """The give-back is being journalled when the task times out: the ended task leaves the
    queue; no later poll gets its token."""
    async def go():
        broker = ActivityBroker()
        ex = prepare(asl.load({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": ARN,
                                                                 "TimeoutSeconds": 1, "End": True}}}),
                     {}, activities=broker, name="act")
        await ex.attach(open_store("memory"))
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            token, _ = await broker.get_task(ARN, "lost")
            ex.sink.store = SlowStore(ex.sink.store, 1.5)
            await broker.give_back(token)  # (True or False: which of the two comes first)
        return ex.result, broker.pending(ARN), await broker.get_task(ARN, "late", timeout=0)
    result, pending, late = run(go())
    assert (result.status, result.error) == ("FAILED", "States.Timeout")
    assert pending == 0 and late is None


def test_a_task_taken_again_while_the_store_is_away_stays_in_the_queue():
    """Taking a given-back task again is journalled before the worker gets it: when that write
    fails, the poll gets no task and the task waits for the next one."""
    async def go():
        broker = ActivityBroker()
        async with running(broker) as (ex, tokens):
            token, _ = await broker.get_task(ARN, "lost")
            assert await broker.give_back(token)
            store, ex.sink.store = ex.sink.store, FailingStore()
            refused = await broker.get_task(ARN, "unlucky", timeout=0)
            ex.sink.store = store
            again, text = await broker.get_task(ARN, "next", timeout=0)
            await tokens.send_task_success(again, text)
        return refused, again == token, ex.result
    refused, same, result = run(go())
    assert refused is None and same
    assert result.status == "SUCCEEDED" and result.output == {"v": 1}


class FailingStore:
    """A store that is away: every journal write fails."""

    async def append(self, *args, **kwargs):
        from asl.engine.stores import StoreError
        raise StoreError("the database is away")


def test_a_give_back_the_journal_cannot_take_leaves_the_task_with_its_worker(caplog):
    """The give-back cannot be written (the store is away): it is refused (False), a warning is
    logged, and the task stays with the worker it was handed to, in memory as in the journal: no
    poll gets it, and after a restart the execution waits for that worker's answer (as on AWS
    when a GetActivityTask answer is lost: until TimeoutSeconds). Before, the task went back to
    the queue in memory only, and the give-back raised: after a crash the journal's take was the
    only word, and the task waited for a worker that never had it."""
    seen: dict = {}

    async def lose(broker, ex):
        seen["task"] = await broker.get_task(ARN, "lost", held=True)
        ex.sink.store = FailingStore()
        seen["refused"] = await broker.give_back(seen["task"][0])
        seen["late"] = await broker.get_task(ARN, "late", timeout=0)

    async def go():
        again, broker, tokens = await died_after(lose)
        async with anyio.create_task_group() as tg:
            tg.start_soon(again.run)
            await tokens.send_task_success(*seen["task"])  # (the worker the journal names)
        return broker.pending(ARN), again.result
    pending, result = run(go())
    assert seen["refused"] is False and seen["late"] is None and pending == 0
    assert "giving activity task back: the database is away: it stays with the worker" in caplog.text
    assert result.status == "SUCCEEDED" and started_by(result) == [{"workerName": "lost"}]


def test_a_redriven_task_has_a_new_token():
    """An activity task failed through its worker; redriven, the task is offered under another
    token (as AWS gives the new attempt its own): the failed attempt's answer is not replayed
    into it, and an answer with its token is refused."""
    from asl.engine.callbacks import TaskDoesNotExist, TaskTimedOut

    async def go():
        store = open_store("memory")
        broker, tokens = ActivityBroker(), TaskTokens()
        ex = prepare(machine(), {"v": 1}, activities=broker, seed=9, name="act")
        await ex.attach(store)
        tokens.add(ex)
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            first, _ = await broker.get_task(ARN, "w1")
            await tokens.send_task_failure(first, "Boom", "first attempt")
        broker, tokens = ActivityBroker(), TaskTokens()
        again = await prepare_redrive(store, ex.arn, activities=broker)
        tokens.add(again)
        async with anyio.create_task_group() as tg:
            tg.start_soon(again.run)
            with anyio.fail_after(5):
                second, text = await broker.get_task(ARN, "w2")
            with pytest.raises((TaskTimedOut, TaskDoesNotExist)):
                await tokens.send_task_success(first, '"late"')
            await tokens.send_task_success(second, text)
        return ex.result, again.result, first, second
    failed, redriven, first, second = run(go())
    assert (failed.status, failed.error) == ("FAILED", "Boom")
    assert second != first
    assert redriven.status == "SUCCEEDED" and redriven.output == {"v": 1}


def test_a_task_scheduled_before_its_activity_was_deleted_goes_on_after_a_resume():
    """The activity is gone from the registry (DeleteActivity) by the time the execution resumes:
    a task scheduled before goes on as it went (offered again under its token); only a new one
    fails (States.Runtime, as AWS records: test_activity_task_on_deleted)."""
    async def gone(arn):
        return False

    async def go():
        store, arn, _ = await crash(taken=False)
        ex, broker, tokens = await resumed(store, arn, ActivityBroker(known=gone))
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            with anyio.fail_after(5):
                token, text = await broker.get_task(ARN, "after")
            await tokens.send_task_success(token, text)
        fresh = prepare(machine(), {"v": 1}, activities=ActivityBroker(known=gone), name="new")
        return ex.result, await fresh.run()
    resumed_result, new = run(go())
    assert resumed_result.status == "SUCCEEDED" and resumed_result.output == {"v": 1}
    assert (new.status, new.error, new.cause) == ("FAILED", "States.Runtime", "An error occurred while executing "
                                                  f"the state 'A' (entered at the event id #2). The activity {ARN} "
                                                  "does not exist.")


# ---- takes held until delivered (asl serve writes the GetActivityTask answer after get_task) ------

def started_by(result) -> list:
    return [e["activityStartedEventDetails"] for e in result.events if e["type"] == "ActivityStarted"]


async def settled() -> None:
    for _ in range(50):
        await anyio.sleep(0)


def test_a_held_take_starts_the_task_once_delivered():
    """`get_task(held=True)`: the task starts (ActivityStarted, naming the worker) when its
    caller says it reached the worker (`delivered`), not before."""
    async def go():
        broker = ActivityBroker()
        async with running(broker) as (ex, tokens):
            token, text = await broker.get_task(ARN, "w", held=True)
            await settled()
            before = ex.history.types()[-1]
            await broker.delivered(token)
            await settled()
            after = ex.history.types()[-1]
            await tokens.send_task_success(token, text)
        return before, after, ex.result
    before, after, result = run(go())
    assert (before, after) == ("ActivityScheduled", "ActivityStarted")
    assert result.status == "SUCCEEDED" and started_by(result) == [{"workerName": "w"}]


def test_a_held_take_given_back_is_started_by_the_next_poll_s_worker():
    """A held take whose answer never reached its worker (asl serve: not written) is given back:
    the next poll gets the task under the same token, and ActivityStarted names that poll's
    worker, the one the task reached (AWS's ActivityStartedEventDetails: "The name of the worker
    that the task is assigned to"). Before, it named the worker that never got the task."""
    async def go():
        broker = ActivityBroker()
        async with running(broker) as (ex, tokens):
            first, _ = await broker.get_task(ARN, "lost", held=True)
            assert await broker.give_back(first)
            assert not await broker.give_back(first)  # (in the queue already)
            again, text = await broker.get_task(ARN, "next", timeout=0, held=True)
            await broker.delivered(again)
            await tokens.send_task_success(again, text)
        return first == again, ex.result
    same, result = run(go())
    assert same and result.status == "SUCCEEDED" and result.output == {"v": 1}
    assert started_by(result) == [{"workerName": "next"}]


def test_an_answer_starts_a_held_take_not_yet_said_delivered():
    """The worker answers before the poll's caller has said the task reached it: the answer says
    so (one ActivityStarted, naming the worker, before ActivitySucceeded)."""
    async def go():
        broker = ActivityBroker()
        async with running(broker) as (ex, tokens):
            token, text = await broker.get_task(ARN, "quick", held=True)
            await tokens.send_task_success(token, text)
        return ex.result
    result = run(go())
    assert result.status == "SUCCEEDED" and started_by(result) == [{"workerName": "quick"}]
    types = [e["type"] for e in result.events]
    assert types[types.index("ActivityScheduled"):types.index("ActivitySucceeded") + 1] == [
        "ActivityScheduled", "ActivityStarted", "ActivitySucceeded"]


@pytest.mark.parametrize("back", [False, True])
def test_a_held_take_before_a_crash(back):
    """The process dies once a held take (and, if `back`, its give-back) is in the journal,
    before the task started: resumed, a take counts as delivered (its worker may have the token:
    ActivityStarted names it, its answer completes the task); a task given back goes to the next
    poll, whose worker ActivityStarted names."""
    taken = []

    async def take(broker, ex):
        taken.extend(await broker.get_task(ARN, "first", held=True))
        if back:
            assert await broker.give_back(taken[0])

    async def go():
        again, broker, tokens = await died_after(take)
        async with anyio.create_task_group() as tg:
            tg.start_soon(again.run)
            task = taken
            if back:
                with anyio.fail_after(5):
                    task = await broker.get_task(ARN, "next")
            await tokens.send_task_success(*task)
        return again.result
    result = run(go())
    assert result.status == "SUCCEEDED" and result.output == {"v": 1}
    assert started_by(result) == [{"workerName": "next" if back else "first"}]


def test_an_answer_the_journal_cannot_take_leaves_the_task_answerable():
    """SendTaskSuccess while the store is away: the answer cannot be recorded, so the call fails
    (the worker was told nothing was accepted), and the task still takes an answer: the worker's
    retry, once the store is back, completes it. Before, the failed answer counted as given: the
    retry got TaskTimedOut and the task waited for its TimeoutSeconds."""
    async def go():
        broker = ActivityBroker()
        async with running(broker) as (ex, tokens):
            token, text = await broker.get_task(ARN, "w")
            store, ex.sink.store = ex.sink.store, FailingStore()
            with pytest.raises(Exception, match="the database is away"):
                await tokens.send_task_success(token, text)
            ex.sink.store = store
            await tokens.send_task_success(token, text)
        return ex.result
    result = run(go())
    assert result.status == "SUCCEEDED" and result.output == {"v": 1}
