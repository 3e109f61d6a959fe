"""RedriveExecution: a failed Standard execution restarts from what did not succeed."""
from __future__ import annotations

import json

import anyio
import pytest

import asl
from asl.engine import ExecutionNotRedrivable, Handlers, TaskFailed, redrive, resume, run
from asl.engine.clock import VirtualClock
from asl.engine.stores import open_store

FN = "arn:aws:lambda:us-east-1:123456789012:function:"

MACHINE = {
    "StartAt": "Prepare",
    "States": {
        "Prepare": {"Type": "Task", "Resource": FN + "prepare", "ResultPath": "$.prepared", "Next": "Fan"},
        "Fan": {
            "Type": "Parallel", "ResultPath": "$.fan", "Next": "Each",
            "Branches": [
                {"StartAt": "Steady", "States": {"Steady": {"Type": "Task", "Resource": FN + "steady", "End": True}}},
                {"StartAt": "Shaky", "States": {"Shaky": {"Type": "Task", "Resource": FN + "shaky", "End": True}}},
            ],
        },
        "Each": {
            "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1, "ResultPath": "$.each", "Next": "Count",
            "ItemProcessor": {"StartAt": "Item", "States": {
                "Item": {"Type": "Task", "Resource": FN + "item", "End": True}}},
        },
        "Count": {"Type": "Pass", "Parameters": {"redrives.$": "$$.Execution.RedriveCount", "each.$": "$.each",
                                                  "fan.$": "$.fan"}, "End": True},
    },
}


class World:
    """Handlers whose failures can be fixed between the attempts; every call is counted."""

    def __init__(self):
        self.broken = {"shaky", "item-2"}
        self.calls: list[str] = []
        self.process = 0   # handlers of an earlier "process" (see forget_process) count no calls

    def handlers(self) -> Handlers:
        handlers = Handlers()
        for name in ("prepare", "steady", "shaky", "item"):
            handlers.lambda_function(name)(self._make(name, self.process))
        return handlers

    def forget_process(self) -> None:
        """The process died: a handler thread it abandoned, still running, is not counted."""
        self.process += 1
        self.calls.clear()

    def _make(self, name, process):
        def handler(event, ctx):
            key = f"item-{event}" if name == "item" else name
            if process == self.process:
                self.calls.append(key)
            if key in self.broken:
                raise TaskFailed("Broken", f"{key} is broken")
            return key
        return handler


def _failed_run(world, store, **kw):
    async def go():
        return await run(asl.load(MACHINE), {"items": [1, 2, 3]}, handlers=world.handlers(), store=store,
                         clock=VirtualClock(), seed=3, **kw)
    return go


def test_redrive_reruns_only_what_failed():
    world = World()

    async def go():
        store = open_store("memory")
        first = await _failed_run(world, store)()
        assert first.status == "FAILED" and first.error == "Broken"
        assert "shaky" in world.calls and "prepare" in world.calls
        world.broken = {"item-2"}  # the branch is fixed; the second item still fails
        world.calls.clear()
        second = await redrive(store, first.execution_arn, handlers=world.handlers())
        assert second.status == "FAILED" and second.cause == "item-2 is broken"
        assert world.calls == ["shaky", "item-1", "item-2"]   # Prepare and Steady are not run again
        world.broken = set()
        world.calls.clear()
        third = await redrive(store, first.execution_arn, handlers=world.handlers())
        assert third.status == "SUCCEEDED"
        assert world.calls == ["item-2", "item-3"]   # item 1 succeeded in the second attempt
        assert third.output["redrives"] == 2
        assert third.output["fan"] == ["steady", "shaky"] and third.output["each"] == ["item-1", "item-2", "item-3"]
        events = third.history.events
        types = [e["type"] for e in events]
        assert types.count("ExecutionRedriven") == 2 and types.count("ExecutionFailed") == 2
        assert types[-1] == "ExecutionSucceeded"
        redriven = [e for e in events if e["type"] == "ExecutionRedriven"]
        assert [e["executionRedrivenEventDetails"] for e in redriven] == [{"redriveCount": 1}, {"redriveCount": 2}]
        assert [e["id"] for e in events] == list(range(1, len(events) + 1))
        # the open states are not entered again: each state has one Entered event
        assert types.count("ParallelStateEntered") == 1 and types.count("MapStateEntered") == 1
        assert types.count("TaskStateEntered") == 1 + 2 + 3
        record = await store.get(first.execution_arn)
        assert (record.status, record.redrive_count) == ("SUCCEEDED", 2)
        assert [e.type for e in await store.events(first.execution_arn)] == types
    anyio.run(go)


def test_a_redriven_execution_that_crashes_resumes():
    """The journal of a redrive lies over the first attempt's: resume replays both right."""
    world = World()

    async def go():
        store = open_store("memory")
        first = await _failed_run(world, store)()
        world.broken = set()
        from asl.engine import prepare_redrive
        ex = await prepare_redrive(store, first.execution_arn, handlers=world.handlers())

        # die after the redriven branch ran, before the Map finished
        async def crash_when_item_1_is_done():
            while not any(f.kind == "outcome" and f.value.get("value") == "item-1" for f in ex.facts):
                await anyio.sleep(0)
            await ex.flush()
            await store.update(first.execution_arn, lease_until=0.0)  # the process "died"
            tg.cancel_scope.cancel()
        async with anyio.create_task_group() as tg:
            tg.start_soon(crash_when_item_1_is_done)
            await ex.run()
        world.forget_process()
        done = await resume(store, first.execution_arn, handlers=world.handlers())
        assert done.status == "SUCCEEDED"
        # item 1 finished before the crash: not called again; item 2 may have been in flight
        # when the process died, and is called again then (at least once)
        assert set(world.calls) == {"item-2", "item-3"} and world.calls[-1] == "item-3"
        assert done.output["redrives"] == 1
    anyio.run(go)


@pytest.mark.parametrize("change, reason", [
    (lambda r: {"status": "RUNNING"}, "Execution is RUNNING and cannot be redriven"),
    (lambda r: {"status": "SUCCEEDED"}, "Execution is SUCCEEDED and cannot be redriven"),
    (lambda r: {"type": "EXPRESS"}, "EXPRESS"),
    (lambda r: {"stop_time": r.stop_time - 15 * 24 * 3600}, "Execution redrivable period exceeded"),
])
def test_redrive_refusals(change, reason):
    world = World()

    async def go():
        store = open_store("memory")
        first = await _failed_run(world, store)()
        record = await store.get(first.execution_arn)
        await store.update(first.execution_arn, **change(record))
        with pytest.raises(ExecutionNotRedrivable) as info:
            await redrive(store, first.execution_arn, handlers=world.handlers())
        assert reason in info.value.reason
    anyio.run(go)


def test_redrive_refuses_a_changed_definition_and_a_long_history():
    world = World()

    async def go():
        store = open_store("memory")
        first = await _failed_run(world, store)()
        changed = dict(MACHINE, Comment="changed")
        with pytest.raises(ExecutionNotRedrivable, match="definition changed"):
            await redrive(store, first.execution_arn, asl.load(changed), handlers=world.handlers())
        # the same definition is fine
        world.broken = set()
        assert (await redrive(store, first.execution_arn, asl.load(MACHINE), handlers=world.handlers())).succeeded

        loop = asl.load({"StartAt": "L", "States": {
            "L": {"Type": "Pass", "Next": "C"},
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.stop", "IsPresent": True, "Next": "E"}],
                  "Default": "L"},
            "E": {"Type": "Succeed"}}})
        long = await run(loop, {}, store=store, clock=VirtualClock())
        assert long.status == "FAILED" and len(long.history) >= 24_999
        # AWS's words for it (raw AWS capture, radkawar/stackd testdata/aws/stepfunctions/
        # variable_limits.json "cleanup-describe-history-cap"), not the API model's list
        with pytest.raises(ExecutionNotRedrivable, match="Execution has exceeded the maximum history event limit"):
            await redrive(store, long.execution_arn)
    anyio.run(go)


def test_redrive_of_an_unknown_execution():
    from asl.engine import NotResumable

    async def go():
        with pytest.raises(NotResumable, match="Does Not Exist"):
            await redrive(open_store("memory"), "arn:aws:states:us-east-1:123456789012:execution:M:nope")
    anyio.run(go)


def test_redrive_count_in_the_history_json():
    world = World()

    async def go():
        store = open_store("memory")
        first = await _failed_run(world, store)()
        world.broken = set()
        done = await redrive(store, first.execution_arn, handlers=world.handlers())
        text = json.dumps(done.history.to_aws())
        assert '"executionRedrivenEventDetails": {"redriveCount": 1}' in text
    anyio.run(go)


def test_a_redrive_keeps_the_output_of_the_states_that_had_left():
    """A state that left before the failure is not run again: its output and the variables it
    assigned are what it wrote then, also where it read ``$$.Execution.RedriveCount`` (raw AWS
    capture, radkawar/stackd testdata/aws/stepfunctions/redrive_map.json, standard:terminal: after
    two redrives the parent's first Pass state's ``$$.Execution`` still reads RedriveCount 0),
    while the states run after the redrive read the new count."""
    broken = {"yes"}

    def handlers() -> Handlers:
        h = Handlers()

        @h.lambda_function("check")
        def check(event, ctx):
            if broken:
                raise TaskFailed("Broken", "broken")
            return event
        return h

    machine = asl.load({"StartAt": "Before", "States": {
        "Before": {"Type": "Pass", "Parameters": {"count.$": "$$.Execution.RedriveCount"}, "ResultPath": "$.before",
                   "Assign": {"seen.$": "$$.Execution.RedriveCount"}, "Next": "Check"},
        "Check": {"Type": "Task", "Resource": FN + "check", "Parameters": {"seen.$": "$seen"}, "ResultPath": "$.check",
                  "Next": "After"},
        "After": {"Type": "Pass", "Parameters": {"count.$": "$$.Execution.RedriveCount"}, "ResultPath": "$.after",
                  "End": True}}})

    async def go():
        store = open_store("memory")
        first = await run(machine, {}, handlers=handlers(), store=store, clock=VirtualClock())
        again = await redrive(store, first.execution_arn, handlers=handlers())
        broken.clear()
        return first, again, await redrive(store, first.execution_arn, handlers=handlers())

    first, again, last = anyio.run(go)
    assert (first.status, again.status, last.status) == ("FAILED", "FAILED", "SUCCEEDED")
    assert last.output == {"before": {"count": 0}, "check": {"seen": 0}, "after": {"count": 2}}
