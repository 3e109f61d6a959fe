"""Task tokens a service can route (asl.engine.callbacks.TaskTokens): SendTaskSuccess /
SendTaskFailure / SendTaskHeartbeat from the token alone, AWS's errors, durable answers."""
from __future__ import annotations

import json
import threading

import anyio
import pytest

import asl
from asl.engine import prepare, prepare_resume
from asl.engine.callbacks import (InvalidOutput, InvalidToken, OutputTooLarge, TaskDoesNotExist, TaskTimedOut,
                                  TaskTokens, decode_token, encode_token)
from asl.engine.clock import VirtualClock
from asl.engine.stores import open_store
from support.dead_store import AwayStore, DeadStore

START = 1_700_000_000.0


def machine(**task):
    states = {"Ask": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                      "Parameters": {"QueueUrl": "q", "MessageBody": {"Token.$": "$$.Task.Token"}}, **task}}
    if "Next" in task:
        states.update({"Done": {"Type": "Pass", "End": True}, "Caught": {"Type": "Pass", "End": True}})
    return asl.load({"StartAt": "Ask", "States": states})


def sent(tokens_seen):
    """An SQS handler (async: no worker thread) that records the token it was sent."""
    async def send(payload, ctx):
        tokens_seen.append(payload["MessageBody"]["Token"])
        return {"MessageId": "m"}
    return {"arn:aws:states:::sqs:sendMessage.waitForTaskToken": send}


CATCHING = dict(Next="Done", Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Caught"}])


async def until(predicate, limit=5.0):
    with anyio.fail_after(limit):
        while not predicate():
            await anyio.sleep(0.001)


async def drive(ex, answer):
    """Run `ex` while `answer(token)` (async) is called with its first callback token."""
    seen: list = []
    ex.handlers = asl.engine.Handlers(sent(seen))
    if ex.clock.virtual:  # (the answer comes: virtual time must not jump to the task's timeout while a
        ex.clock.grace = 5.0  # loaded machine keeps the worker's polling waiting longer than the 0.1 s default)
    out: dict = {}

    async def worker():
        await until(lambda: seen and seen[0] in ex.waiters)
        out["answer"] = await answer(seen[0])

    async with anyio.create_task_group() as tg:
        tg.start_soon(worker)
        result = await ex.run()
    return result, seen[0], out


def run(coro):
    return anyio.run(lambda: coro)


# ---- the token ------------------------------------------------------------------------------

def test_token_names_the_execution_is_url_safe_and_within_awss_length():
    arn = "arn:aws:states:us-east-1:123456789012:execution:" + "m" * 80 + ":" + "n" * 80
    token = encode_token(arn, "ab" * 32)
    assert 1 <= len(token) <= 2048
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert decode_token(token) == (arn, "ab" * 32)


@pytest.mark.parametrize("token", ["", "not a token", "x" * 2049, "YWJj", encode_token("nope", "ab" * 32),
                                   encode_token("arn:aws:states:x", "short")])
def test_malformed_tokens_are_invalid(token):
    with pytest.raises(InvalidToken, match=r"^Invalid Token: 'Invalid token'$") as info:
        decode_token(token)
    assert info.value.code == "InvalidToken"


def test_the_same_task_gets_the_same_token_in_the_same_execution():
    async def once():
        ex = prepare(machine(End=True), {}, name="same", seed=3, clock=VirtualClock(START),
                     handlers=sent([]))
        tokens = TaskTokens()
        tokens.add(ex)
        _, token, _ = await drive(ex, lambda t: tokens.send_task_success(t, "{}"))
        return token
    first, second = run(once()), run(once())
    assert first == second
    assert decode_token(first)[0] == "arn:aws:states:us-east-1:123456789012:execution:StateMachine:same"


# ---- round trips ----------------------------------------------------------------------------

def test_send_task_success_routes_by_token_and_the_output_is_the_result():
    async def go():
        tokens = TaskTokens()
        ex = prepare(machine(End=True), {}, handlers=sent([]))
        tokens.add(ex)
        return await drive(ex, lambda t: tokens.send_task_success(t, '{"approved": true}'))
    result, _, _ = run(go())
    assert result.status == "SUCCEEDED" and result.output == {"approved": True}
    types = [e["type"] for e in result.events]
    assert types[-4:] == ["TaskSubmitted", "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded"]


def test_send_task_failure_fails_the_task_with_error_and_cause():
    async def go():
        tokens = TaskTokens()
        ex = prepare(machine(**CATCHING), {}, handlers=sent([]))
        tokens.add(ex)
        return await drive(ex, lambda t: tokens.send_task_failure(t, "Rejected", "no budget"))
    result, _, _ = run(go())
    failed = [e for e in result.events if e["type"] == "TaskFailed"][0]["taskFailedEventDetails"]
    assert (failed["error"], failed["cause"]) == ("Rejected", "no budget")
    assert result.output == {"Error": "Rejected", "Cause": "no budget"}


def test_send_task_failure_without_error_and_cause_gives_nulls_to_catch():
    async def go():
        tokens = TaskTokens()
        ex = prepare(machine(**CATCHING), {}, handlers=sent([]))
        tokens.add(ex)
        return await drive(ex, lambda t: tokens.send_task_failure(t))
    result, _, _ = run(go())
    assert result.output == {"Error": None, "Cause": None}


# ---- AWS's errors ---------------------------------------------------------------------------

def test_unknown_execution_is_task_does_not_exist():
    async def go():
        token = encode_token("arn:aws:states:us-east-1:123456789012:execution:M:gone", "0" * 64)
        with pytest.raises(TaskDoesNotExist) as info:
            await TaskTokens().send_task_success(token, "{}")
        assert info.value.code == "TaskDoesNotExist"
        assert str(info.value) == f"Task Does Not Exist: '{token}'"
    run(go())


def test_unknown_task_of_a_running_execution_is_task_does_not_exist():
    async def go():
        tokens = TaskTokens()
        ex = prepare(machine(End=True), {}, handlers=sent([]))
        tokens.add(ex)

        async def answer(token):
            with pytest.raises(TaskDoesNotExist):
                await tokens.send_task_heartbeat(encode_token(ex.arn, "f" * 64))
            await tokens.send_task_success(token, "1")
        await drive(ex, answer)
    run(go())


def test_answering_twice_or_after_the_end_is_task_timed_out():
    async def go():
        tokens = TaskTokens()
        ex = prepare(machine(End=True), {}, handlers=sent([]))
        tokens.add(ex)

        async def answer(token):
            await tokens.send_task_success(token, "1")
            for again in (tokens.send_task_success(token, "2"), tokens.send_task_failure(token, "E"),
                          tokens.send_task_heartbeat(token)):
                with pytest.raises(TaskTimedOut, match="^Task Timed Out: 'Provided task does not exist anymore'$"):
                    await again
            return token
        result, token, _ = await drive(ex, answer)
        assert result.output == 1
        with pytest.raises(TaskTimedOut):  # the execution has ended
            await tokens.send_task_success(token, "3")
        tokens.discard(ex.arn)
        with pytest.raises(TaskDoesNotExist):  # forgotten: nothing routes to it
            await tokens.send_task_success(token, "3")
    run(go())


def test_a_resolver_says_an_execution_has_ended():
    async def go():
        async def resolve(arn):
            return "SUCCEEDED"
        token = encode_token("arn:aws:states:us-east-1:123456789012:execution:M:old", "0" * 64)
        with pytest.raises(TaskTimedOut):
            await TaskTokens(resolve).send_task_success(token, "{}")
    run(go())


def test_answering_a_task_that_timed_out_is_task_timed_out():
    async def go():
        tokens = TaskTokens()
        seen: list = []
        ex = prepare(machine(TimeoutSeconds=5, **CATCHING), {}, handlers=sent(seen))
        tokens.add(ex)
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await until(lambda: ex.result is not None or (seen and seen[0] in ex.closed_tokens))
        with pytest.raises(TaskTimedOut):
            await tokens.send_task_success(seen[0], "{}")
        assert ex.result.output["Error"] == "States.Timeout"
    run(go())


@pytest.mark.parametrize("output", ["{not json", "", "[1,", "NaNx"])
def test_output_that_is_not_json_is_invalid_output(output):
    async def go():
        tokens = TaskTokens()
        ex = prepare(machine(End=True), {}, handlers=sent([]))
        tokens.add(ex)

        async def answer(token):
            with pytest.raises(InvalidOutput) as info:
                await tokens.send_task_success(token, output)
            assert info.value.code == "InvalidOutput"
            await tokens.send_task_success(token, '"then this"')  # the task is still open
        result, _, _ = await drive(ex, answer)
        assert result.output == "then this"
    run(go())


def test_output_over_256_kib_is_refused_as_the_api_model_refuses_it():
    async def go():
        tokens = TaskTokens()
        ex = prepare(machine(End=True), {}, handlers=sent([]))
        tokens.add(ex)

        async def answer(token):
            with pytest.raises(OutputTooLarge) as info:
                await tokens.send_task_success(token, json.dumps("é" * 140_000))  # 280,002 UTF-8 bytes
            assert info.value.code == "ValidationException"
            # AWS's text for a payload over the model's limit (measured for StartExecution's input;
            # the output member has the same shape)
            assert str(info.value) == ("1 validation error detected: Value at 'output' failed to satisfy "
                                       "constraint: Member must have size less than or equal to 262144 bytes "
                                       "in UTF-8 encoding")
            await tokens.send_task_success(token, json.dumps("x" * 262_000))
        result, _, _ = await drive(ex, answer)
        assert result.output == "x" * 262_000
    run(go())


# ---- heartbeats, in virtual time --------------------------------------------------------------

def test_heartbeats_keep_the_task_alive_and_their_absence_times_it_out():
    async def go(beats):
        tokens = TaskTokens()
        seen: list = []
        ex = prepare(machine(TimeoutSeconds=600, HeartbeatSeconds=5, End=True), {}, handlers=sent(seen),
                     clock=VirtualClock(START))
        tokens.add(ex)

        async def worker():
            await until(lambda: seen and seen[0] in ex.waiters)
            for _ in range(beats):
                await ex.clock.sleep(3)
                await tokens.send_task_heartbeat(seen[0])
            if beats:
                await tokens.send_task_success(seen[0], '"alive"')
        async with anyio.create_task_group() as tg:
            tg.start_soon(worker)
            result = await ex.run()
        return result
    alive = run(go(4))
    assert alive.status == "SUCCEEDED" and alive.output == "alive"
    assert alive.stop_time - alive.start_time >= 12  # four beats 3 s apart, past HeartbeatSeconds
    dead = run(go(0))
    assert dead.status == "FAILED" and dead.error == "States.Timeout"
    timed_out = [e for e in dead.events if e["type"] == "TaskTimedOut"]
    assert timed_out and timed_out[0]["taskTimedOutEventDetails"]["error"] == "States.Timeout"
    assert dead.stop_time - dead.start_time == pytest.approx(5)


# ---- many at once -----------------------------------------------------------------------------

def test_thousands_of_waiting_executions_hold_no_thread():
    n = int(__import__("os").environ.get("N_EXEC", "2000"))

    async def go():
        tokens = TaskTokens()
        seen: list = []
        m = machine(End=True)
        handlers = sent(seen)
        executions = [prepare(m, {"i": i}, handlers=handlers, name=f"e{i}", virtual_time=False) for i in range(n)]
        for ex in executions:
            tokens.add(ex)
        threads = threading.active_count()
        async with anyio.create_task_group() as tg:
            for ex in executions:
                tg.start_soon(ex.run)
            await until(lambda: len(seen) == n and sum(len(ex.waiters) for ex in executions) == n, limit=60)
            assert threading.active_count() <= threads
            for token in seen:
                arn, _ = decode_token(token)
                await tokens.send_task_success(token, json.dumps(arn))
        return executions
    executions = run(go())
    assert all(ex.result.status == "SUCCEEDED" and ex.result.output == ex.arn for ex in executions)


# ---- durable answers, crash and resume ---------------------------------------------------------

async def crash_while_waiting(answer_first: bool):
    """Run a callback execution with a store until its task waits; answer it (durably) or not;
    then the process dies. Returns the store, the execution's ARN and the token."""
    store = open_store("memory")
    seen: list = []
    ex = prepare(machine(End=True), {"x": 1}, handlers=sent(seen), clock=VirtualClock(START), seed=5, name="c")
    await ex.attach(store)
    tokens = TaskTokens()
    tokens.add(ex)
    async with anyio.create_task_group() as tg:
        tg.start_soon(ex.run)
        await until(lambda: seen and seen[0] in ex.waiters)
        await ex.flush()
        if answer_first:
            await tokens.send_task_success(seen[0], '{"answered": "before the crash"}')
        ex.sink.store = DeadStore()  # the process dies: its execution never records the outcome
        tg.cancel_scope.cancel()
    await store.update(ex.arn, lease_until=0.0)
    assert (await store.get(ex.arn)).status == "RUNNING"
    return store, ex.arn, seen[0]


def test_an_answer_the_store_cannot_take_is_not_on_record_and_the_next_one_counts():
    """SendTaskSuccess while the store is away fails (its caller is told), and the answer is not
    on record: the same task takes the next answer, and the journal has it once, its facts and
    events numbered without a gap; the run meanwhile waits for the store to write its end."""
    from asl.engine.stores import StoreError

    async def go():
        store = AwayStore(open_store("memory"))
        seen: list = []
        ex = prepare(machine(End=True), {"x": 1}, handlers=sent(seen), virtual_time=False, name="c")
        await ex.attach(store)
        tokens = TaskTokens()
        tokens.add(ex)
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await until(lambda: seen and seen[0] in ex.waiters)
            await ex.flush()
            store.away = True
            with pytest.raises(StoreError):
                await tokens.send_task_success(seen[0], '"first"')
            await anyio.sleep(0.2)  # (periodic writes fail meanwhile)
            store.away = False
            await tokens.send_task_success(seen[0], '"second"')
        return ex.result, await store.facts(ex.arn), await store.events(ex.arn), await store.get(ex.arn)
    result, facts, events, record = run(go())
    assert result.status == "SUCCEEDED" and result.output == "second"
    assert record.status == "SUCCEEDED"
    assert [f.seq for f in facts] == list(range(1, len(facts) + 1))
    assert [f.value.get("value") for f in facts if f.kind == "answer"] == ["second"]
    assert [e.id for e in events] == list(range(1, len(events) + 1))
    assert [e.type for e in events][-3:] == ["TaskSucceeded", "TaskStateExited", "ExecutionSucceeded"]


def test_an_answer_acknowledged_before_a_crash_is_not_lost():
    async def go():
        store, arn, token = await crash_while_waiting(answer_first=True)
        seen: list = []
        resumed = await prepare_resume(store, arn, handlers=sent(seen))
        result = await resumed.run()
        assert seen == []  # the message carrying the token is not sent again
        return result
    result = run(go())
    assert result.status == "SUCCEEDED" and result.output == {"answered": "before the crash"}


def test_a_token_issued_before_a_crash_answers_the_resumed_execution():
    async def go():
        store, arn, token = await crash_while_waiting(answer_first=False)
        resumed = {}

        async def resolve(execution_arn):  # the service resumes the execution the token names
            ex = await prepare_resume(store, execution_arn, handlers=sent([]))
            resumed["ex"] = ex
            tg.start_soon(ex.run)
            return ex
        tokens = TaskTokens(resolve)
        async with anyio.create_task_group() as tg:
            # answered at once: the resumed execution is still replaying its journal
            await tokens.send_task_success(token, '"after the crash"')
        ex = resumed["ex"]
        assert ex.arn == arn and token in ex.closed_tokens
        return ex.result, await store.get(arn)
    result, record = run(go())
    assert result.status == "SUCCEEDED" and result.output == "after the crash"
    assert record.status == "SUCCEEDED"


def test_tokens_of_distributed_map_items_route_to_the_parent_execution():
    async def go():
        tokens = TaskTokens()
        seen: list = []
        inner = {"StartAt": "Ask", "States": {"Ask": {
            "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {"QueueUrl": "q", "MessageBody": {"Token.$": "$$.Task.Token", "I.$": "$"}}, "End": True}}}
        m = asl.load({"StartAt": "M", "States": {"M": {
            "Type": "Map", "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                                             **inner}, "End": True}}})
        ex = prepare(m, [1, 2, 3], handlers=sent(seen), virtual_time=False)
        tokens.add(ex)
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await until(lambda: len(seen) == 3 and len(ex.waiters) == 3)
            for token in seen:
                assert decode_token(token)[0] == ex.arn
                await tokens.send_task_success(token, json.dumps("ok"))
        return ex.result
    result = run(go())
    assert result.status == "SUCCEEDED" and result.output == ["ok", "ok", "ok"]
