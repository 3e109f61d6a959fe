"""Crash anywhere, resume from the journal, and get what an uninterrupted run gets.

Each check runs a machine once without interruption, then again with a crash injected after
event k (the process "dies": nothing more is recorded), resumes it from the store, and
compares: the same status, output and error, the same events in every frame (types, details,
timestamps as the virtual clock gives them), and no task that had finished before the crash
called again.
"""
from __future__ import annotations

import json

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import asl
from asl.engine import Handlers, prepare, prepare_resume, resume
from asl.engine.clock import VirtualClock
from asl.engine.history import History
from asl.engine.journal import JournalMismatch, event_details
from asl.engine.stores import open_store
from samples_support import sample_handlers, sample_input

START = 1_700_000_000.0


class Crash(BaseException):
    """The process dies here."""


class _DyingList(list):
    """The history's event list: the process dies instead of recording event k + 1."""

    def __init__(self, crash_after: int, dead: list):
        super().__init__()
        self.crash_after = crash_after
        self.dead = dead

    def append(self, item):
        if self.dead or len(self) >= self.crash_after:
            self.dead.append(True)
            raise Crash()
        super().append(item)


class CrashingHistory(History):
    def __init__(self, limit: int, crash_after: int, dead: list):
        super().__init__(limit)
        self._events = _DyingList(crash_after, dead)


def _frames(result) -> dict:
    """Events per frame (site key), in order, without ids: what a resumed run must reproduce."""
    frames: dict = {}
    for etype, _prev, ts, details, site in result.history.entries():
        key = site[0] if site else None
        frames.setdefault(key, []).append((etype, ts, json.dumps(event_details(details), sort_keys=True)))
    return frames


def _calls(result) -> list:
    return sorted((c.state, json.dumps(c.path), c.attempt) for c in result.calls)


async def answering(ex):
    """Run `ex` while a worker answers each callback token it waits on (SendTaskSuccess)."""
    async def worker():
        while True:
            for token in list(ex.waiters):
                ex.send_task_success(token, {"answer": token[:6]})
            await anyio.sleep(0.001)

    async with anyio.create_task_group() as tg:
        tg.start_soon(worker)
        try:
            return await ex.run()
        finally:
            tg.cancel_scope.cancel()


async def _run(machine, input, handlers_factory, *, crash_after=None, **options):
    store = open_store("memory")
    # one name for both runs: task tokens name the execution
    options.setdefault("name", "crash-test")
    ex = prepare(machine, input, handlers=handlers_factory(), clock=VirtualClock(START), seed=7, **options)
    await ex.attach(store)
    if crash_after is None:
        return await answering(ex), None, store
    if not await run_until_crash(ex, store, crash_after, answering):
        return ex.result, None, store  # finished before event k
    return None, ex, store


async def run_until_crash(ex, store, crash_after: int, running=None) -> bool:
    """Run `ex` (attached to `store`) until the process "dies" instead of recording event
    `crash_after` + 1; then the store holds what was recorded and the lease has run out.
    False: the run ended first."""
    dead: list = []
    ex.history = CrashingHistory(ex.history.limit, crash_after, dead)
    record = ex.record_fact

    def guarded_record(*args):
        if dead:
            raise Crash()
        record(*args)
    ex.record_fact = guarded_record
    try:
        await (running(ex) if running is not None else ex.run())
    except BaseException as exc:  # Crash, possibly inside exception groups
        if not dead:
            raise
        assert _only_crashes(exc), exc
    else:
        return False
    ex.sink.events_done = min(ex.sink.events_done, len(ex.history))
    dead.clear()
    await ex.sink.flush(ex)   # what was recorded before the crash is in the store
    await store.update(ex.arn, lease_until=0.0)  # the dead process's lease has run out
    return True


def _only_crashes(exc: BaseException) -> bool:
    if isinstance(exc, BaseExceptionGroup):  # noqa: F821
        return all(_only_crashes(e) for e in exc.exceptions)
    return isinstance(exc, (Crash, anyio.get_cancelled_exc_class()))


def check_crash_and_resume(machine, input, handlers_factory, k, **options):
    async def go():
        whole, _, _ = await _run(machine, input, handlers_factory, **options)
        crashed_result, crashed, store = await _run(machine, input, handlers_factory, crash_after=k, **options)
        if crashed is None:
            return whole, crashed_result
        resumed = await answering(await prepare_resume(store, crashed.arn, handlers=handlers_factory()))
        assert (resumed.status, resumed.output, resumed.error, resumed.cause) == (
            whole.status, whole.output, whole.error, whole.cause)
        assert _frames(resumed) == _frames(whole)
        # every task finished before the crash is not called again; together the two
        # processes called each task at least as often as the whole run did
        finished = {f.site for f in crashed.facts if f.kind == "outcome"}
        assert len(crashed.calls) + len(resumed.calls) >= len(whole.calls)
        assert len(resumed.calls) <= len(whole.calls)
        assert len(finished) >= len(crashed.calls) - _in_flight(crashed)
        record = await store.get(crashed.arn)
        assert record.status == whole.status
        assert [e.type for e in await store.events(crashed.arn)] == [e["type"] for e in resumed.history.events]
        return whole, resumed
    return anyio.run(go)


def _in_flight(ex) -> int:
    """Attempts that had started (TaskStarted recorded) but had no outcome at the crash."""
    starts = sum(1 for e in ex.history.entries() if e[0].endswith("Started") and e[0].startswith(("Task", "Lambda")))
    outcomes = sum(1 for f in ex.facts if f.kind == "outcome")
    return max(0, starts - outcomes)


# ---- machines ------------------------------------------------------------------------------

MAP_PARALLEL = {
    "StartAt": "Items",
    "States": {
        "Items": {
            "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2,
            "ItemProcessor": {
                "StartAt": "Both",
                "States": {
                    "Both": {
                        "Type": "Parallel", "End": True,
                        "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 3, "MaxAttempts": 2,
                                   "JitterStrategy": "FULL"}],
                        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.caught", "Next": "Recover"}],
                        "Branches": [
                            {"StartAt": "Work", "States": {
                                "Work": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:work",
                                         "End": True}}},
                            {"StartAt": "Pause", "States": {
                                "Pause": {"Type": "Wait", "Seconds": 5, "Next": "Check"},
                                "Check": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:check",
                                          "End": True}}},
                        ],
                    },
                    "Recover": {"Type": "Pass", "Result": "recovered", "End": True},
                },
            },
            "Next": "Done",
        },
        "Done": {"Type": "Succeed"},
    },
}


def map_parallel_handlers():
    handlers = Handlers()
    attempts: dict = {}

    @handlers.lambda_function("work")
    def work(event, ctx):
        n = event["n"]
        attempts[n] = attempts.get(n, 0) + 1
        if n % 3 == 1 and ctx.attempt == 1:
            raise RuntimeError("first try fails")  # -> caught by the Parallel's Catch
        return {"worked": n}

    @handlers.lambda_function("check")
    def check(event, ctx):
        if event["n"] == 2 and ctx.attempt == 1:
            from asl.engine import TaskFailed
            raise TaskFailed("Flaky", "try again")
        return {"checked": event["n"]}
    return handlers


JSONATA = {
    "QueryLanguage": "JSONata",
    "StartAt": "Stamp",
    "States": {
        "Stamp": {"Type": "Pass", "Assign": {"id": "{% $uuid() %}", "at": "{% $now() %}"}, "Next": "Sleep"},
        "Sleep": {"Type": "Wait", "Seconds": 60, "Next": "Call"},
        "Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                 "Arguments": {"FunctionName": "stamp", "Payload": {"id": "{% $id %}", "r": "{% $random() %}"}},
                 "Output": "{% {'id': $id, 'at': $at, 'later': $now(), 'got': $states.result.Payload} %}",
                 "End": True},
    },
}


def jsonata_handlers():
    handlers = Handlers()

    @handlers.lambda_function("stamp")
    def stamp(event, ctx):
        return {"seen": event}
    return handlers


CALLBACK = {
    "StartAt": "Ask",
    "States": {
        "Ask": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"QueueUrl": "q", "MessageBody": {"token.$": "$$.Task.Token"}},
                "TimeoutSeconds": 3600, "ResultPath": "$.answer", "Next": "Again"},
        "Again": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                  "Parameters": {"QueueUrl": "q", "MessageBody": {"token.$": "$$.Task.Token"}},
                  "ResultPath": "$.again", "End": True},
    },
}


def callback_handlers():
    handlers = Handlers()
    handlers.resource("arn:aws:states:::sqs:sendMessage.waitForTaskToken")(lambda message: {"MessageId": "m-1"})
    return handlers


# A Parallel whose last branch fails (retried once, then caught) while the others wait: in a
# Wait, in a Map whose iterations wait, in a Task whose call has not answered yet. The failure
# cuts them short (WaitStateAborted, MapIterationAborted, TaskStateAborted, ...): a Wait cut
# short had not fired, and resumed it must not go on; the abort events are replayed where they
# were recorded, however far the cut branches get again before the replayed failure stops them.
CUT_SIBLINGS = {
    "StartAt": "Fan",
    "States": {
        "Fan": {
            "Type": "Parallel", "Next": "Done",
            "Retry": [{"ErrorEquals": ["Boom"], "IntervalSeconds": 2, "MaxAttempts": 1}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.caught", "Next": "Done"}],
            "Branches": [
                {"StartAt": "Slow", "States": {"Slow": {"Type": "Wait", "Seconds": 30, "End": True}}},
                {"StartAt": "Each", "States": {"Each": {
                    "Type": "Map", "ItemsPath": "$.items", "End": True,
                    "ItemProcessor": {"StartAt": "Pause", "States": {
                        "Pause": {"Type": "Wait", "Seconds": 10, "Next": "Echo"},
                        "Echo": {"Type": "Pass", "End": True}}}}}},
                {"StartAt": "Busy", "States": {"Busy": {
                    "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:echo", "End": True}}},
                {"StartAt": "Soon", "States": {
                    "Soon": {"Type": "Pass", "Next": "Broken"},
                    "Broken": {"Type": "Fail", "Error": "Boom", "Cause": "always"}}},
            ],
        },
        "Done": {"Type": "Pass", "End": True},
    },
}


def echo_handlers():
    handlers = Handlers()
    handlers.lambda_function("echo")(lambda event, ctx: event)
    return handlers


CASES = {
    "cut-siblings": (CUT_SIBLINGS, {"items": [1, 2]}, echo_handlers),
    "callback": (CALLBACK, {}, callback_handlers),
    "map-parallel": (MAP_PARALLEL, {"items": [{"n": n} for n in range(4)]}, map_parallel_handlers),
    "jsonata": (JSONATA, {}, jsonata_handlers),
    "order": ("order", None, lambda: sample_handlers("order")),
}


def _machine(spec):
    if isinstance(spec, str):
        from conftest import SAMPLES
        return asl.load(SAMPLES / spec / f"{spec}.json")
    return asl.load(spec)


def _input(name, value):
    return sample_input(name) if value is None else value


@pytest.mark.parametrize("name", sorted(CASES))
def test_crash_after_every_event(name):
    spec, value, handlers = CASES[name]
    machine = _machine(spec)
    whole, _ = check_crash_and_resume(machine, _input(spec if isinstance(spec, str) else name, value), handlers,
                                      10**9)
    assert whole.status == "SUCCEEDED"
    for k in range(1, len(whole.history) + 1):
        check_crash_and_resume(machine, _input(spec if isinstance(spec, str) else name, value), handlers, k)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(CASES)), k=st.integers(min_value=1, max_value=200),
       items=st.integers(min_value=0, max_value=6))
def test_crash_anywhere_property(name, k, items):
    spec, value, handlers = CASES[name]
    if name == "map-parallel":
        value = {"items": [{"n": n} for n in range(items)]}
    check_crash_and_resume(_machine(spec), _input(spec if isinstance(spec, str) else name, value), handlers, k)


def test_a_history_that_does_not_fit_is_refused():
    other = asl.load({"StartAt": "Other", "States": {"Other": {"Type": "Wait", "Seconds": 5, "End": True}}})
    mine = asl.load({"StartAt": "Mine", "States": {"Mine": {"Type": "Wait", "Seconds": 5, "End": True}}})

    async def go():
        _, crashed, store = await _run(other, {}, Handlers, crash_after=2)
        record = await store.get(crashed.arn)
        await store.update(crashed.arn, definition=json.dumps(mine.definition))
        with pytest.raises(JournalMismatch) as info:
            await resume(store, record.arn)
        assert info.value.event_id == 2
        assert "WaitStateEntered 'Other'" in str(info.value) and "'Mine'" in str(info.value)
    anyio.run(go)


def test_a_wait_ends_at_its_original_deadline():
    machine = asl.load({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "Next": "P"},
                                                     "P": {"Type": "Pass", "End": True}}})

    async def go():
        _, crashed, store = await _run(machine, {}, Handlers, crash_after=2)  # inside the Wait
        resumed = await resume(store, crashed.arn)
        exited = [e for e in resumed.history.events if e["type"] == "WaitStateExited"][0]
        started = resumed.history.events[0]
        from asl.timestamps import to_epoch
        assert to_epoch(exited["timestamp"]) - to_epoch(started["timestamp"]) == pytest.approx(3600)
    anyio.run(go)


def test_an_in_flight_task_is_called_again_and_told_so():
    machine = asl.load({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f",
                                                         "End": True}}})
    seen = []

    def factory():
        handlers = Handlers()

        @handlers.lambda_function("f")
        def f(event, ctx):
            seen.append(ctx.redelivered)
            return "ok"
        return handlers

    async def go():
        # crash right after TaskStarted (event 4): the handler ran, its outcome was not recorded
        store = open_store("memory")
        ex = prepare(machine, {}, handlers=factory(), clock=VirtualClock(START), seed=1)
        await ex.attach(store)
        result = await ex.run()
        assert result.succeeded
        # rebuild a store holding the journal up to TaskStarted, without the outcome
        crashed = open_store("memory")
        rec = await store.get(ex.arn)
        rec.status = "RUNNING"
        await crashed.create(rec)
        upto = [e for e in await store.events(ex.arn) if e.id <= 4]
        assert upto[-1].type == "LambdaFunctionStarted"
        await crashed.append(ex.arn, upto, [])
        resumed = await resume(crashed, ex.arn, handlers=factory())
        assert resumed.output == result.output
    anyio.run(go)
    assert seen == [False, True]


@pytest.mark.parametrize("with_start", [False, True])  # True: the record goes in with ExecutionStarted
def test_sqlite_store_survives_and_resumes(tmp_path, with_start):
    machine = _machine("order")

    async def go():
        store = open_store(f"sqlite:{tmp_path / 'runs.db'}")
        await store.open()
        whole, _, _ = await _run(machine, sample_input("order"), lambda: sample_handlers("order"))
        ex = prepare(machine, sample_input("order"), handlers=sample_handlers("order"), clock=VirtualClock(START),
                     seed=7)
        await ex.attach(store, with_start=with_start)
        dead: list = []
        ex.history = CrashingHistory(ex.history.limit, 9, dead)
        with pytest.raises(BaseException):
            await ex.run()
        dead.clear()
        ex.sink.events_done = min(ex.sink.events_done, len(ex.history))
        await ex.sink.flush(ex)
        await store.update(ex.arn, lease_until=0.0)
        await store.close()
        again = open_store(f"sqlite:{tmp_path / 'runs.db'}")
        await again.open()
        resumed = await resume(again, ex.arn, handlers=sample_handlers("order"))
        assert resumed.output == whole.output
        assert (await again.get(ex.arn)).status == "SUCCEEDED"
        await again.close()
    anyio.run(go)


def test_a_run_on_a_store_refuses_a_taken_name(tmp_path):
    """`asl.engine.run` writes the record with ExecutionStarted: a second execution of the same
    name is refused (ExecutionAlreadyExists) and the first one's record and journal stay."""
    from asl.engine import run as run_on
    from asl.engine.execution import ExecutionAlreadyExists

    machine = asl.load({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}})

    async def go():
        store = open_store(f"sqlite:{tmp_path / 'runs.db'}")
        await store.open()
        try:
            first = await run_on(machine, {"n": 1}, store=store, name="same")
            with pytest.raises(ExecutionAlreadyExists):
                await run_on(machine, {"n": 2}, store=store, name="same")
            [record] = await store.list()
            assert (record.arn, record.status, json.loads(record.input)) == (first.execution_arn, "SUCCEEDED", {"n": 1})
            assert [e.type for e in await store.events(first.execution_arn)] == [e["type"] for e in first.events]
        finally:
            await store.close()
    anyio.run(go)


def test_a_replayed_state_lasts_as_long_as_it_did():
    """Observers (the `asl resume` trace, the test recorder) see a state replayed from the
    journal end when it ended then, not when the resuming process got to it."""
    from asl.engine import Observer

    machine = asl.load({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f", "Next": "W",
              "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 10}]},
        "W": {"Type": "Wait", "Seconds": 3600, "End": True}}})

    def factory():
        handlers = Handlers()
        calls = []

        @handlers.lambda_function("f")
        def f(event):
            calls.append(1)
            if len(calls) == 1:
                raise asl.engine.TaskFailed("Flaky", "first call")
            return "ok"
        return handlers

    class Durations(Observer):
        def __init__(self):
            self.took = {}
            self.replayed = []  # (hook, state, replayed?) in order

        def enter(self, run):
            self.replayed.append(("enter", run.name, run.replayed))

        def retry(self, run, error, attempt, delay, retrier):
            self.replayed.append(("retry", run.name, run.replayed))

        def exit(self, run, output, next_name):
            self.took[run.name] = run.now() - run.entered_time
            self.replayed.append(("exit", run.name, run.replayed))

    async def go():
        _, crashed, store = await _run(machine, {}, factory, crash_after=10)  # inside the Wait
        assert [e[0] for e in crashed.history.entries()][-1] == "WaitStateEntered"
        # a real-time execution whose process died long ago: its journal's times are START's
        await store.update(crashed.arn, clock="real")
        seen = Durations()
        resumed = await resume(store, crashed.arn, handlers=factory(), observer=seen)
        assert resumed.status == "SUCCEEDED"
        assert seen.took["T"] == pytest.approx(10)   # its retry interval, as recorded
        assert seen.took["W"] > 3600                 # live: from its recorded entry to now
        # StateView.replayed: the steps recorded before the crash, not the Wait's end after it
        assert seen.replayed == [("enter", "T", True), ("retry", "T", True), ("exit", "T", True),
                                 ("enter", "W", True), ("exit", "W", False)]
    anyio.run(go)


@pytest.mark.parametrize("when", ["before", "during"])
def test_an_abandoned_run_records_and_reports_nothing_more(when):
    """`Execution.abandon` (another process took the lease): the run stops with LeaseLost, before
    it starts or in a Wait, ends nothing (no ExecutionSucceeded in its history or the store) and
    writes nothing more to the journal; resumed from it, it finishes as a whole run does."""
    from asl.engine.execution import LeaseLost

    machine = asl.load({"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 60, "Next": "P"},
        "P": {"Type": "Pass", "Result": "done", "End": True}}})

    async def go():
        store = open_store("memory")
        ex = prepare(machine, {}, clock=VirtualClock(START), seed=3, name="abandoned")
        await ex.attach(store, owner="me", lease_seconds=600)
        if when == "before":
            ex.abandon()
        lost: list = []

        async def leave() -> None:
            while ex.history.last_id < 2:  # (WaitStateEntered)
                await anyio.sleep(0)
            ex.abandon()
        async with anyio.create_task_group() as tg:
            if when == "during":
                tg.start_soon(leave)
            try:
                await ex.run()
            except LeaseLost as exc:
                lost.append(exc)
        assert lost
        types = [e["type"] for e in ex.history.events]
        assert "ExecutionSucceeded" not in types and ex.result is None
        stored = [e.type for e in await store.events(ex.arn)]
        assert stored == types[:len(stored)] and "ExecutionSucceeded" not in stored
        assert (await store.get(ex.arn)).status == "RUNNING"
        await store.release("me", ex.arn)
        resumed = await resume(store, ex.arn)
        assert (resumed.status, resumed.output) == ("SUCCEEDED", "done")
        assert [e.type for e in await store.events(ex.arn)] == [
            "ExecutionStarted", "WaitStateEntered", "WaitStateExited", "PassStateEntered", "PassStateExited",
            "ExecutionSucceeded"]
    anyio.run(go)


def test_a_worker_gives_up_the_lease_of_an_execution_it_cannot_resume():
    """`Worker` over a store with one execution that cannot be resumed (its stored definition
    is damaged) and one that can: the second finishes, the first is reported with its error and its lease is
    given up (owner NULL), so another process may take it, not held by each of the worker's polls."""
    from asl.engine.worker import Worker

    machine = asl.load({"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 60, "Next": "P"},
        "P": {"Type": "Pass", "Result": "done", "End": True}}})

    async def go():
        store = open_store("memory")
        arns = []
        for name in ("good", "bad"):
            ex = prepare(machine, {}, clock=VirtualClock(START), seed=3, name=name)
            await ex.attach(store, owner="crashed", lease_seconds=600)  # (its process "died" here)
            arns.append(ex.arn)
            await store.release("crashed", ex.arn)
        await store.update(arns[1], definition="{not a definition")  # (a store damaged by hand)
        worker = Worker(store, poll_seconds=0.01)
        with anyio.fail_after(30):
            await worker.run(until_idle=True)
        assert (await store.get(arns[0])).status == "SUCCEEDED"
        assert [arn for arn, _ in worker.failures] == [arns[1]]
        left = await store.get(arns[1])
        assert (left.status, left.owner) == ("RUNNING", None)
    anyio.run(go)
