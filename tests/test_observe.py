"""Observers get typed, frozen events (asl.engine.observe), and the named hooks keep working."""
from __future__ import annotations

import dataclasses

import pytest

import asl
from asl.engine import Observer, TaskFailed, run_sync
from asl.engine.observe import (ErrorCaught, ExecutionBegan, ExecutionEnded, ExecutionView, IterationChanged,
                                MapStarted, RetryScheduled, StateEntered, StateExited, StateView)

MACHINE = {
    "StartAt": "Items",
    "States": {
        "Items": {"Type": "Map", "ItemsPath": "$.xs", "Next": "Done", "ItemProcessor": {
            "StartAt": "Work", "States": {"Work": {
                "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:work", "End": True,
                "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 2, "MaxAttempts": 1}],
                "Catch": [{"ErrorEquals": ["Bad"], "Next": "Fallback"}]},
                "Fallback": {"Type": "Pass", "Result": "fallback", "End": True}}}},
        "Done": {"Type": "Succeed"}}}


def _work():
    tried = set()

    def work(x):
        if x == 1 and x not in tried:
            tried.add(x)
            raise TaskFailed("Flaky", "once")
        if x == 2:
            raise TaskFailed("Bad", "never")
        return x
    return work


def test_event_gets_typed_frozen_events_with_one_view_per_entry():
    events = []

    class Watch(Observer):
        def event(self, event):
            events.append(event)

    result = run_sync(asl.load(MACHINE), {"xs": [0, 1, 2]}, handlers={"work": _work()}, observer=Watch())
    assert result.status == "SUCCEEDED" and result.output == [0, 1, "fallback"]
    kinds = {type(e) for e in events}
    assert {StateEntered, StateExited, MapStarted, IterationChanged, RetryScheduled, ErrorCaught} <= kinds
    for event in events:
        if isinstance(event, (ExecutionBegan, ExecutionEnded)):  # the execution's own events name no state
            assert isinstance(event.execution, ExecutionView)
            continue
        assert dataclasses.is_dataclass(event) and isinstance(event.state, StateView)
        with pytest.raises(dataclasses.FrozenInstanceError):
            event.state = None
    retry = next(e for e in events if isinstance(e, RetryScheduled))
    assert (retry.state.name, retry.error.error, retry.attempt, retry.delay) == ("Work", "Flaky", 1, 2)
    # every event of one entry names the same view; the view's path says where it ran
    entered = next(e.state for e in events if isinstance(e, StateEntered) and e.state.name == "Work"
                   and e.state.path == (("Items", 1),))
    exited = next(e for e in events if isinstance(e, StateExited) and e.state is entered)
    assert entered.retry_count == 1 and exited.output == 1 and exited.next is None
    caught = next(e for e in events if isinstance(e, ErrorCaught))
    assert caught.state.path == (("Items", 2),) and caught.catcher.next == "Fallback"


def test_the_named_hooks_still_get_each_event():
    seen = []

    class Watch(Observer):
        def enter(self, run):
            seen.append(("enter", run.name, run.input))

        def exit(self, run, output, next_name):
            seen.append(("exit", run.name, output, next_name, run.now() >= run.entered_time))

    m = asl.load({"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": 1, "Next": "B"},
                                             "B": {"Type": "Pass", "End": True}}})
    run_sync(m, {"in": True}, observer=Watch())
    assert seen == [("enter", "A", {"in": True}), ("exit", "A", 1, "B", True),
                    ("enter", "B", 1), ("exit", "B", 1, None, True)]
