"""asl.engine.testing: Workflow runs, Python mocks, inspection, assertion messages, snapshots,
coverage, TestState, replay of histories and MockConfigFile suites."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import anyio
import pytest

import asl
from asl.engine import MissingHandlerError
from asl.engine.testing import (MockError, UnknownStateError, Workflow, WorkflowTestError, by_attempt, per_branch, per_iteration,
                                raises, returns, sequence, when)
from asl.engine.testing import coverage
from asl.engine.testing.replay import add_test_case, replay_history
from asl.engine.testing.snapshot import assert_history_matches
from asl.engine.testing.suite import run_cases
from conftest import SAMPLES

SHIPPING = SAMPLES / "shipping" / "shipping.json"
LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:"
ORDER = {"orderId": "o-1", "customer": "ann@example.com", "express": False,
         "items": [{"sku": "A", "quantity": 1}, {"sku": "B", "quantity": 2}, {"sku": "C", "quantity": 3}]}


def happy_mocks(**overrides):
    mocks = {"Reserve": lambda item: {"sku": item["sku"], "reserved": item["quantity"]},
             "Ship": {"tracking": "TRK-1"}, "Email": {"sent": "email"}, "Sms": {"sent": "sms"}}
    mocks.update(overrides)
    return mocks


@pytest.fixture(scope="module")
def shipping():
    return Workflow(SHIPPING)


def machine(**states):
    return asl.load({"StartAt": next(iter(states)), "States": states})


# ---- runs, paths, inspection ---------------------------------------------------------------------

def test_a_run_records_the_path_the_states_and_the_calls(shipping):
    run = shipping.run(ORDER, mocks=happy_mocks())
    run.assert_succeeded()
    run.assert_path(["ReserveItems", "ChooseSpeed", "WaitForPickup", "Ship", "Notify", "Shipped"])
    assert run.path_in("ReserveItems[1]") == ["Reserve"]
    assert run.path_in(("Notify", 1)) == ["Sms"]
    assert str(run.path) == "ReserveItems → ChooseSpeed → WaitForPickup → Ship → Notify → Shipped"
    assert run.output["reservations"] == [{"sku": "A", "reserved": 1}, {"sku": "B", "reserved": 2},
                                          {"sku": "C", "reserved": 3}]
    ship = run.state("Ship")
    assert ship.stages["afterParameters"] == {"orderId": "o-1", "express": False}
    assert ship.inspection["result"] == {"tracking": "TRK-1"}
    assert ship.inspection["afterResultPath"]["shipment"] == {"tracking": "TRK-1"}
    assert ship.next == "Notify" and ship.attempts == 1
    assert run.state("Reserve", at="ReserveItems[2]").input == {"orderId": "o-1", "sku": "C", "quantity": 3}
    assert run.state("ReserveItems").iterations == {0: "succeeded", 1: "succeeded", 2: "succeeded"}
    assert [(c.state, c.at) for c in run.calls_to("Reserve")] == [("Reserve", (("ReserveItems", i),))
                                                                  for i in range(3)]
    run.assert_called("Ship", times=1, with_input={"orderId": "o-1", "express": False})
    assert all(c.mocked for c in run.calls)


def test_unknown_names_and_addresses_are_errors_with_a_did_you_mean(shipping):
    run = shipping.run(ORDER, mocks=happy_mocks())
    for ask, message in [
        (lambda: run.assert_not_called("Emial"), r"has no Task state 'Emial' \(did you mean 'Email'\?\)"),
        (lambda: run.calls_to("Shipp"), r"has no Task state 'Shipp' \(did you mean 'Ship'\?\)"),
        (lambda: run.assert_not_called("ChooseSpeed"), r"'ChooseSpeed' is a Choice state of .*; only Task states"),
        (lambda: run.state("Shiped"), r"has no state 'Shiped' \(did you mean 'Shipped'\?\)"),
        (lambda: run.path_in("Nope[3]"), r"has no Map or Parallel state 'Nope'; its Map or Parallel states: "
                                         r"Notify, ReserveItems$"),
        (lambda: run.path_in("ReserveItem[0]"), r"has no Map or Parallel state 'ReserveItem' \(did you mean "),
        (lambda: run.path_in("ReserveItems[7]"), r"Map 'ReserveItems' ran 3 iteration\(s\) \(0..2\), not "
                                                 r"iteration 7"),
        (lambda: run.assert_path([], at="Notify[2]"), r"Parallel 'Notify' has 2 branch\(es\)"),
        (lambda: run.state("Reserve", at="Ship[0]"), r"'Ship' is a Task state; addresses name Map and Parallel"),
    ]:
        with pytest.raises(UnknownStateError, match=message):
            ask()
    assert isinstance(UnknownStateError("x"), WorkflowTestError)

    assert run.path_in("ReserveItems[2]") == ["Reserve"] and run.calls_to("Reserve")


def test_variables_before_and_after_each_state():
    m = machine(Set={"Type": "Pass", "Assign": {"count": 1}, "Next": "Bump"},
                Bump={"Type": "Pass", "Assign": {"count.$": "States.MathAdd($count, 1)"}, "End": True})
    run = Workflow(m).run({})
    bump = run.state("Bump")
    assert bump.variables_before == {"count": 1} and bump.variables == {"count": 2}
    assert bump.inspection["variables"] == {"count": 2}


def test_one_day_wait_and_hour_long_retries_take_no_real_time(shipping):
    mocks = happy_mocks(Reserve=by_attempt(raises("Warehouse.Busy"), raises("Warehouse.Busy"), {"ok": True}),
                        Ship=by_attempt(raises("Courier.Unavailable"), {"tracking": "T"}))
    run = shipping.run(ORDER, mocks=mocks)
    run.assert_succeeded()
    # Reserve: 600 s + 1200 s of retries; the pickup Wait: 3600 s; Ship's retry: 3600 s, all in
    # virtual time (how fast that is, benchmarks/testing_bench.py measures; a real wait would hang here)
    assert run.duration == pytest.approx(600 + 1200 + 3600 + 3600)
    reserve = run.state("Reserve", at="ReserveItems[0]")
    assert reserve.attempts == 3 and [r.delay for r in reserve.retries] == [600, 1200]
    assert run.attempts("Ship") == 2


def test_a_hundred_executions_with_hour_long_waits_and_retries_run_in_virtual_time(shipping):
    mocks = happy_mocks(Reserve=by_attempt(raises("Warehouse.Busy"), {"ok": True}),
                        Ship=by_attempt(raises("Courier.Unavailable"), {"tracking": "T"}))
    runs = [shipping.run(dict(ORDER, orderId=f"o-{i}"), mocks=mocks) for i in range(100)]
    assert all(run.succeeded for run in runs)
    # 216 hours of virtual time (about 0.2 s of real time: benchmarks/testing_bench.py measures it)
    assert sum(run.duration for run in runs) == 100 * (600 + 3600 + 3600)


def test_timeouts_fire_at_the_right_virtual_moment(shipping):
    run = shipping.run(ORDER, mocks=happy_mocks(Ship=returns({"tracking": "T"}, after=900)))
    run.assert_failed("States.Timeout")
    assert run.cause is None  # AWS records no cause for a timed-out task
    events = {e["type"]: e for e in run.events}
    scheduled, timed_out = (_epoch(events[kind]["timestamp"])
                            for kind in ("LambdaFunctionScheduled", "LambdaFunctionTimedOut"))
    assert timed_out - scheduled == pytest.approx(300, abs=0.01)


def test_heartbeat_timeout_fires_when_a_mock_never_beats():
    m = machine(Slow={"Type": "Task", "Resource": LAMBDA + "slow", "HeartbeatSeconds": 20, "End": True})
    run = Workflow(m).run({}, mocks={"Slow": returns(1, after=50)})
    run.assert_failed("States.Timeout")
    assert run.cause is None  # nor for a heartbeat that ran out
    assert run.duration == pytest.approx(20, abs=0.01)


CALLBACK = {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/q",
                           "MessageBody": {"token.$": "$$.Task.Token"}},
            "HeartbeatSeconds": 60, "TimeoutSeconds": 3600, "End": True}


def test_a_mock_of_a_callback_task_is_the_callbacks_answer():
    """A mock stands for the whole Task, as a MockConfigFile response does for a `.waitForTaskToken`
    Task in Step Functions Local (AWS's guide, "Using mocked service integrations": a mocked Task
    never calls the service, and Step Functions Local makes the task token itself): its value is
    what SendTaskSuccess would send, `raises` a SendTaskFailure, `after=` the wait for the answer.
    Before, the value was taken for SQS's reply and the Task waited for a token nothing could send
    until HeartbeatSeconds ran out."""
    workflow = Workflow(machine(Ask=CALLBACK))
    run = workflow.run({}, mocks={"Ask": {"approved": True}})
    run.assert_succeeded().assert_output({"approved": True})
    assert run.duration == 0
    assert run.calls_to("Ask")[0].input["MessageBody"]["token"]  # the token was made and passed on
    assert "TaskSubmitted" not in [e["type"] for e in run.events]  # as with a MockConfigFile response
    assert workflow.run({}, mocks={"Ask": returns({"ok": 1}, after=50)}).assert_succeeded().duration == 50
    workflow.run({}, mocks={"Ask": raises("Rejected", "no")}).assert_failed("Rejected", "no")
    late = workflow.run({}, mocks={"Ask": returns(1, after=61)})  # HeartbeatSeconds 60 runs out first
    late.assert_failed("States.Timeout")
    assert late.duration == 60

    async def beating(payload, ctx):  # a callable mock sees the token and can send heartbeats
        for _ in range(3):
            await anyio.sleep(0)
            ctx.heartbeat()
        return {"token": ctx.task_token == payload["MessageBody"]["token"]}
    workflow.run({}, mocks={"Ask": beating}).assert_output({"token": True})
    # the callback's answer is never wrapped in a Lambda Invoke response
    invoke = dict(CALLBACK, Resource="arn:aws:states:::lambda:invoke.waitForTaskToken",
                  Parameters={"FunctionName": "ask", "Payload": {"token.$": "$$.Task.Token"}})
    Workflow(machine(Ask=invoke)).run({}, mocks={"Ask": {"ok": 2}}).assert_output({"ok": 2})
    # TestState of the one state, with a test mock, agrees with TestState's own mock
    result = workflow.test_state("Ask", {}, mock={"approved": True})
    assert (result.status, result.output) == ("SUCCEEDED", {"approved": True})


def test_a_handler_of_a_callback_task_still_only_sends_the_request():
    """A handler is the service call (SQS's SendMessage): the Task then waits for the token, as on
    AWS, and with no answer HeartbeatSeconds runs out (samples/approval answers it)."""
    run = Workflow(machine(Ask=CALLBACK)).run({}, handlers={"state:Ask": lambda message: {"MessageId": "m"}})
    run.assert_failed("States.Timeout")
    assert run.duration == 60
    assert "TaskSubmitted" in [e["type"] for e in run.events]


def test_start_time_fixes_where_each_runs_virtual_time_starts():
    """A Wait until a timestamp waits from the execution's start to it (AWS's Wait state: a
    timestamp in the past ends the wait at once): with `start_time` a test of one no longer depends
    on today's date, and each run starts there (a `clock=` default goes on from the last run's end)."""
    m = machine(Until={"Type": "Wait", "TimestampPath": "$.due", "Next": "When"},
                When={"Type": "Pass", "Parameters": {"started.$": "$$.Execution.StartTime"}, "End": True})
    workflow = Workflow(m, start_time="2031-01-01T08:00:00Z")
    for _ in range(2):
        run = workflow.run({"due": "2031-01-01T09:00:00Z"})
        assert run.duration == 3600
        assert run.output == {"started": "2031-01-01T08:00:00Z"}
        assert run.events[0]["timestamp"] == "2031-01-01T08:00:00.000Z"
    from datetime import datetime, timedelta, timezone
    later = datetime(2031, 1, 1, 8, 30, tzinfo=timezone(timedelta(hours=-1)))  # 09:30 UTC: past the due time
    assert workflow.run({"due": "2031-01-01T09:00:00Z"}, start_time=later).duration == 0
    assert workflow.run({"due": "2031-01-01T09:00:00Z"}, start_time=datetime(2031, 1, 1)).duration == 9 * 3600
    assert workflow.run({"due": "2031-01-01T09:00:00Z"}, start_time=1924992000).duration == 9 * 3600
    with pytest.raises(ValueError, match="start_time must be a datetime, epoch seconds or a timestamp"):
        workflow.run({}, start_time="tomorrow")
    with pytest.raises(ValueError, match="goes with neither clock= nor virtual_time=False"):
        workflow.run({}, virtual_time=False, start_time=0)
    with pytest.raises(ValueError, match="goes with neither clock= nor virtual_time=False"):
        Workflow(m, start_time=0, virtual_time=False)
    # a run's own clock (or real time) wins over the Workflow's start_time, as its other options do
    from asl.engine.clock import VirtualClock
    assert workflow.run({"due": "2031-01-01T09:00:00Z"}, clock=VirtualClock(1924992000)).duration == 9 * 3600


def _epoch(text):
    from datetime import datetime
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# ---- mocks -----------------------------------------------------------------------------------------

def test_an_error_mock_goes_through_catch(shipping):
    run = shipping.run(ORDER, mocks=happy_mocks(Reserve=per_iteration({1: raises("Stock.Missing", "no B")},
                                                                      default={"ok": True})))
    run.assert_failed("Order.OutOfStock")
    assert run.path == ["ReserveItems", "OutOfStock"]
    reserve_items = run.state("ReserveItems")
    assert reserve_items.status == "caught" and reserve_items.catcher == 0
    assert reserve_items.output["error"] == {"Error": "Stock.Missing", "Cause": "no B"}
    assert run.outcome() == "FAILED in OutOfStock: Order.OutOfStock: An item of the order is out of stock."


def test_per_iteration_answers_by_index_whatever_order_iterations_finish_in(shipping):
    # Iteration 0 answers last, iteration 2 first: the responses still follow the index.
    slow_first = per_iteration([returns({"n": 0}, after=30), returns({"n": 1}, after=20), returns({"n": 2}, after=10)])
    run = shipping.run(ORDER, mocks=happy_mocks(Reserve=slow_first))
    assert run.output["reservations"] == [{"n": 0}, {"n": 1}, {"n": 2}]
    finished = [e["mapIterationSucceededEventDetails"]["index"] for e in run.events
                if e["type"] == "MapIterationSucceeded"]
    assert finished == [2, 1, 0]


def test_per_branch_and_when_and_callables(shipping):
    notify = per_branch({0: {"channel": "email"}, 1: raises("Sms.Down")})
    run = shipping.run(ORDER, mocks=happy_mocks(Email=notify, Sms=notify))
    run.assert_failed("Sms.Down")
    assert run.failed_visit().address == "Notify[1]/Sms"

    ship = when({"express": True}, {"tracking": "AIR"}).when(lambda p: p["orderId"] == "vip", {"tracking": "VIP"}) \
        .otherwise(lambda payload, ctx: {"tracking": f"ROAD-{ctx.attempt}"})
    assert shipping.run({**ORDER, "express": True}, mocks=happy_mocks(Ship=ship)).output["shipment"] == \
        {"tracking": "AIR"}
    assert shipping.run({**ORDER, "orderId": "vip"}, mocks=happy_mocks(Ship=ship)).output["shipment"] == \
        {"tracking": "VIP"}
    assert shipping.run(ORDER, mocks=happy_mocks(Ship=ship)).output["shipment"] == {"tracking": "ROAD-1"}


def test_sequence_answers_calls_in_order_across_entries():
    m = machine(Poll={"Type": "Task", "Resource": LAMBDA + "poll", "ResultPath": "$.status", "Next": "Done?"},
                **{"Done?": {"Type": "Choice", "Choices": [{"Variable": "$.status", "StringEquals": "DONE",
                                                            "Next": "Finished"}], "Default": "Poll"},
                   "Finished": {"Type": "Succeed"}})
    run = Workflow(m).run({}, mocks={"Poll": sequence("PENDING", "PENDING", "DONE")})
    assert run.path == ["Poll", "Done?", "Poll", "Done?", "Poll", "Done?", "Finished"]
    assert [v.choice for v in run.visits_of("Done?")] == [None, None, 0]
    assert len(run.visits_of("Poll")) == 3
    with pytest.raises(AssertionError, match=r"state 'Poll' was entered 3 times \(the top level, the top level, "
                                             r"the top level\); pick one with at=\.\.\. or visit=N"):
        run.state("Poll")
    assert run.state("Poll", visit=-1).output == {"status": "DONE"}


def test_mistakes_in_mocks_raise_mock_error_even_when_a_catch_would_swallow_them():
    m = machine(Poll={"Type": "Task", "Resource": LAMBDA + "poll", "Next": "Again",
                      "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]},
                Again={"Type": "Task", "Resource": LAMBDA + "poll2", "End": True},
                Caught={"Type": "Succeed"})
    workflow = Workflow(m)
    with pytest.raises(MockError) as info:
        workflow.run({}, mocks={"Poll": when({"id": 1}, 1), "Again": 2})
    assert str(info.value) == ("no when() rule of the mock for state 'Poll' matches its input {}; add one or an "
                               ".otherwise(...)")
    with pytest.raises(MockError, match=r"^the mock for state 'Again' has 1 response\(s\) but call 2 was made"):
        Workflow(machine(Again={"Type": "Task", "Resource": LAMBDA + "x", "Retry": [
            {"ErrorEquals": ["States.ALL"]}], "End": True})).run({}, mocks={"Again": sequence(raises("E"))})
    with pytest.raises(MockError) as info:
        workflow.run({}, mocks={"Pol": 1, "Again": 2})
    assert str(info.value) == ("mocks: StateMachine has no Task state 'Pol' (did you mean 'Poll'?); its Task "
                               "states: Again, Poll")
    with pytest.raises(MockError, match="'Caught' is a Succeed state of StateMachine; only Task states"):
        workflow.run({}, mocks={"Caught": 1})
    with pytest.raises(MockError, match=r"answers per Map iteration, but the task does not run inside any Map "
                                        r"state \(it runs at the top level\)"):
        workflow.run({}, mocks={"Poll": per_iteration([1]), "Again": 2})


def test_a_mock_value_that_is_not_json_is_refused_where_the_test_builds_it():
    """A Lambda function returning a set or a Decimal fails with Runtime.MarshalError (as a handler
    does here, tests/test_sync_handlers.py); a mock's *value* that is not JSON is the test's own
    mistake, which a States.ALL Catch would otherwise take away (the run went to the Catch's
    state and passed or failed for an unrelated reason)."""
    from decimal import Decimal

    with pytest.raises(MockError, match=r"^a mock's value must be JSON \(dict, list, str, number, bool or None\), "
                                        r"not \{'x': \{1, 2\}\}: Object of type set is not JSON serializable$"):
        returns({"x": {1, 2}})
    with pytest.raises(MockError, match=r"not \{'amount': Decimal\('1\.5'\)\}: Object of type Decimal"):
        Workflow(machine(T={"Type": "Task", "Resource": LAMBDA + "t", "End": True})).run(
            {}, mocks={"T": {"amount": Decimal("1.5")}})
    with pytest.raises(MockError, match="Out of range float values are not JSON compliant"):
        sequence("ok", float("nan"))
    # bytes stay a response body, as a handler's are (the JSON they spell)
    run = Workflow(machine(T={"Type": "Task", "Resource": LAMBDA + "t", "End": True})).run({}, mocks={"T": b'{"a": 1}'})
    assert run.output == {"a": 1}


def test_mock_config_file_and_python_mocks_mix(shipping):
    config = {"StateMachines": {"shipping": {"TestCases": {"Busy": {"Reserve": "Busy", "Ship": "Shipped",
                                                                    "Email": "Sent", "Sms": "Sent"}}}},
              "MockedResponses": {"Busy": {"0-2": {"Throw": {"Error": "Warehouse.Busy"}},
                                           "3-5": {"Return": {"ok": True}}},
                                  "Shipped": {"0": {"Return": {"tracking": "MOCKED"}}},
                                  "Sent": {"0-1": {"Return": {"sent": True}}}}}
    run = shipping.run({**ORDER, "express": True}, mock_config=config, test_case="Busy",
                       mocks={"Ship": {"tracking": "PYTHON"}})
    run.assert_succeeded()
    assert run.output["shipment"] == {"tracking": "PYTHON"}  # the Python mock wins for its state
    assert sum(v.attempts for v in run.visits_of("Reserve")) == 6
    assert [c.mocked for c in run.calls_to("Reserve")] == [True] * 6


def test_an_unknown_test_case_names_the_closest_one(shipping):
    """As `asl test --test-case` does (tests/test_testing_cli.py), `test_case=` in Python."""
    from asl.engine import MockConfigError

    config = {"StateMachines": {"shipping": {"TestCases": {"A": {}, "Happy": {}}}}, "MockedResponses": {}}
    with pytest.raises(MockConfigError) as info:
        shipping.run(ORDER, mock_config=config, test_case="Hapy")
    assert str(info.value) == "state machine 'shipping' has no test case 'Hapy' (it has: A, Happy); did you mean " \
                              "'Happy'?"


def test_a_calls_input_is_what_answered_it_received():
    """A Python mock or handler of `lambda:invoke` stands for the function, which gets the Payload
    as its event; a MockConfigFile response mocks the service call (Step Functions Local answers it
    with Lambda's whole Invoke response), whose request is the Task's parameters (README, The API)."""
    invoke = machine(Charge={"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True,
                             "Parameters": {"FunctionName": "charge", "Payload": {"amount.$": "$.total"}}})
    workflow = Workflow(invoke)
    by_mock = workflow.run({"total": 5}, mocks={"Charge": {"ok": True}})
    assert by_mock.calls_to("Charge")[0].input == {"amount": 5}
    config = {"StateMachines": {"StateMachine": {"TestCases": {"T": {"Charge": "Ok"}}}},
              "MockedResponses": {"Ok": {"0": {"Return": {"StatusCode": 200, "Payload": {"ok": True}}}}}}
    by_file = workflow.run({"total": 5}, mock_config=config, test_case="T")
    assert by_file.calls_to("Charge")[0].input == {"FunctionName": "charge", "Payload": {"amount": 5}}
    assert by_mock.output["Payload"] == by_file.output["Payload"] == {"ok": True}


def test_sfn_mock_config_applies_only_to_a_run_that_names_a_test_case(shipping, monkeypatch, tmp_path):
    """Step Functions Local reads SFN_MOCK_CONFIG for the executions started with ARN#TestCase only
    (AWS's guide, "Using mocked service integrations": a test case is chosen per execution); the
    variable, set for an SFN Local container, made every Workflow.run without test_case fail with
    "choose a test case of state machine ..." (or "it has: none" for a machine the file lacks)."""
    path = tmp_path / "MockConfigFile.json"
    path.write_text(json.dumps({
        "StateMachines": {"shipping": {"TestCases": {"A": {"Ship": "Air"}, "B": {"Ship": "Air"}}}},
        "MockedResponses": {"Air": {"0": {"Return": {"tracking": "AIR"}}}}}))
    monkeypatch.setenv("SFN_MOCK_CONFIG", str(path))
    run = shipping.run(ORDER, mocks=happy_mocks())
    assert run.output["shipment"] == {"tracking": "TRK-1"}
    assert shipping.test_state("Ship", ORDER, mock={"tracking": "T"}).status == "SUCCEEDED"
    named = shipping.run(ORDER, test_case="A", mocks=happy_mocks(Ship={"tracking": "PY"}))
    assert named.output["shipment"] == {"tracking": "PY"}  # Python mocks still win over the file's
    from_file = shipping.run(ORDER, test_case="A", mocks={k: v for k, v in happy_mocks().items() if k != "Ship"})
    assert from_file.output["shipment"] == {"tracking": "AIR"}


def test_a_mock_config_without_the_machine_says_so_even_with_no_test_case_named(shipping):
    """With one test case the run takes it; a file without the machine's entry said "choose a test
    case of state machine 'shipping' (... it has: none)", as if the entry were there and empty."""
    from asl.engine import prepare
    from asl.engine.tasks import UnknownMockMachine

    config = {"StateMachines": {"order": {"TestCases": {"A": {}}}}, "MockedResponses": {}}
    with pytest.raises(UnknownMockMachine) as info:
        shipping.run(ORDER, mock_config=config)
    assert str(info.value) == "the mock config has no state machine 'shipping' (it has: order); name it with " \
                              "state_machine_name="
    with pytest.raises(UnknownMockMachine, match=r"^the mock config has no state machine 'shipping' \(it has: "
                                                 r"order\)$"):
        prepare(shipping.machine, {}, mock_config=config, state_machine_name="shipping")
    assert shipping.run(ORDER, mock_config=config, state_machine_name="order", mocks=happy_mocks()).succeeded


def test_a_test_case_without_a_mock_config_is_refused(shipping, monkeypatch):
    """A test case names an entry of a MockConfigFile: without one it would be ignored, and the run
    would fail at the first Task the test case was to mock."""
    from asl.engine import MockConfigError

    monkeypatch.delenv("SFN_MOCK_CONFIG", raising=False)
    with pytest.raises(MockConfigError, match="test case 'Busy' needs a mock config"):
        shipping.run(ORDER, test_case="Busy")


def test_a_task_reached_without_mock_fails_the_run_naming_it(shipping):
    run = shipping.run(ORDER, mocks={"Reserve": 1, "Ship": {"tracking": "T"}, "Sms": 3})
    run.assert_failed("States.Runtime", re.compile(r"No handler or mock for the Task state 'Email' "))
    assert run.result.unserved == ["Email"]
    with pytest.raises(MissingHandlerError, match="state 'Email'") as info:  # opt-in: refuse to start
        shipping.run(ORDER, mocks={"Reserve": 1, "Ship": 2}, check_handlers=True)
    last = str(info.value).splitlines()[-1]  # (the states in the order the message lists them)
    assert last in ("Here, in a test: mocks={'Email': ..., 'Sms': ...}", "Here, in a test: mocks={'Sms': ..., 'Email': ...}")


# ---- assertion messages -----------------------------------------------------------------------

def test_a_wrong_path_shows_both_paths_and_where_they_diverge(shipping):
    run = shipping.run({**ORDER, "express": True}, mocks=happy_mocks())
    with pytest.raises(AssertionError) as info:
        run.assert_path(["ReserveItems", "ChooseSpeed", "WaitForPickup", "Ship", "Notify", "Shipped"])
    assert str(info.value) == """\
the path differs at step 3: expected 'WaitForPickup', got 'Ship'
   step  expected       actual
      1  ReserveItems   ReserveItems
      2  ChooseSpeed    ChooseSpeed
 >    3  WaitForPickup  Ship
      4  Ship           Notify
      5  Notify         Shipped
      6  Shipped        -
expected: ReserveItems → ChooseSpeed → WaitForPickup → Ship → Notify → Shipped
actual:   ReserveItems → ChooseSpeed → Ship → Notify → Shipped
the run ended SUCCEEDED"""
    run.assert_path(["Reserve"], at="ReserveItems[0]")
    with pytest.raises(AssertionError, match=r"^the path in ReserveItems\[0\] was expected to be empty, but it "
                                             r"starts with 'Reserve'"):
        run.assert_path([], at="ReserveItems[0]")
    run.assert_path(["Sms"], at=(("Notify", 1),))
    with pytest.raises(AssertionError, match=r"^the path in Notify\[0\] differs at step 1: expected 'Sms', got "
                                             r"'Email'"):
        run.assert_path(["Sms"], at="Notify[0]")
    with pytest.raises(AssertionError, match=r"^the path goes on after the expected last step 2 \('ChooseSpeed'\): "
                                             r"next came 'Ship'"):
        run.assert_path(["ReserveItems", "ChooseSpeed"])


def test_a_path_that_stops_early_says_where(shipping):
    run = shipping.run(ORDER, mocks=happy_mocks(Ship=raises("Courier.Gone")))
    with pytest.raises(AssertionError) as info:
        run.assert_path(["ReserveItems", "ChooseSpeed", "WaitForPickup", "Ship", "Notify"])
    first, *_, last = str(info.value).splitlines()
    assert first == "the path stops after step 4 ('Ship'); expected next: 'Notify'"
    assert last == "the run ended FAILED in Ship: Courier.Gone"


def test_a_wrong_output_shows_a_diff(shipping):
    run = shipping.run(ORDER, mocks=happy_mocks(Ship={"tracking": "TRK-2"}))
    expected = dict(run.output, shipment={"tracking": "TRK-1"})
    with pytest.raises(AssertionError) as info:
        run.assert_output(expected)
    assert str(info.value) == """\
output differs (- expected, + actual):
--- expected
+++ actual
@@ -32,5 +32,5 @@
   ],
   "shipment": {
-    "tracking": "TRK-1"
+    "tracking": "TRK-2"
   }
 }"""


def test_status_error_and_call_assertions_explain_themselves(shipping):
    ok = shipping.run(ORDER, mocks=happy_mocks())
    with pytest.raises(AssertionError, match=r'^expected the run to fail, but it SUCCEEDED with output \{"customer"'):
        ok.assert_failed()
    with pytest.raises(AssertionError, match=r"^expected 2 call\(s\) of 'Ship', got 1:\n  1\. attempt 1 at the top "
                                             r'level: \{"express": false, "orderId": "o-1"\}$'):
        ok.assert_called("Ship", times=2)
    with pytest.raises(AssertionError, match="^expected no call of 'Email', got 1"):
        ok.assert_not_called("Email")
    with pytest.raises(AssertionError, match="^expected no call of 'Email', got 1"):
        ok.assert_called("Email", times=0)  # times=0 asks the same (it said "expected a call")
    failed = shipping.run(ORDER, mocks=happy_mocks(Ship=raises("Courier.Gone", "moved away")))
    with pytest.raises(AssertionError) as info:
        failed.assert_succeeded()
    assert str(info.value) == ("expected the run to end SUCCEEDED, but it ended FAILED in Ship: Courier.Gone: moved "
                               "away\npath taken: ReserveItems → ChooseSpeed → WaitForPickup → Ship")
    with pytest.raises(AssertionError, match="^expected the run to fail with error 'Courier.Late', but it failed "
                                             "with 'Courier.Gone'"):
        failed.assert_failed("Courier.Late")
    failed.assert_failed("Courier.Gone", re.compile("moved"))
    with pytest.raises(AssertionError, match=r"^expected an output, but the run ended FAILED in Ship"):
        failed.assert_output({})
    failed.assert_called("Email", times=0).assert_not_called("Email")
    with pytest.raises(AssertionError, match="^state 'Notify' was never entered; path taken: "):
        failed.state("Notify")


def test_a_failed_assertion_says_which_handler_line_raised_and_which_tasks_nothing_serves(shipping):
    """The cause stays Lambda's error document (as AWS reports a Python function's exception), so
    the line that raised is only in the run's hint, as `asl run` prints it under the failing state;
    the assertion messages show it too, and name the Tasks no mock or handler serves."""
    def ship(order):
        return {"tracking": order["carrier"]}  # no such key

    run = shipping.run(ORDER, mocks={"Reserve": {"ok": True}}, handlers={"Ship": ship})
    assert run.error == "KeyError" and run.cause == '{"errorMessage": "\'carrier\'", "errorType": "KeyError"}'
    assert re.fullmatch(r"KeyError raised in ship \(.*test_testing\.py:\d+\): "
                        r"return \{\"tracking\": order\[\"carrier\"\]\}  # no such key", run.hint)
    with pytest.raises(AssertionError) as info:
        run.assert_succeeded()
    assert str(info.value).splitlines()[1:] == [f"why: {run.hint}",
                                               "path taken: ReserveItems → ChooseSpeed → WaitForPickup → Ship"]
    with pytest.raises(AssertionError, match=r"\nwhy: KeyError raised in "):
        run.assert_output({})
    with pytest.raises(AssertionError, match=r"\nwhy: KeyError raised in "):
        run.assert_failed("Courier.Gone")

    unserved = shipping.run(ORDER, mocks={"Reserve": {"ok": True}})
    assert unserved.unserved == ["Ship"] and unserved.hint is None
    with pytest.raises(AssertionError) as info:
        unserved.assert_succeeded()
    assert str(info.value).splitlines()[1:] == [
        "no mock or handler serves Ship: give it in mocks={'Ship': ...} (or handlers=)",
        "path taken: ReserveItems → ChooseSpeed → WaitForPickup → Ship"]


def test_assert_path_equality_in_pytest_explains_itself(shipping):
    # pytest_assertrepr_compare comes from the plugin; here we call it as pytest would.
    from asl.engine.testing.plugin import pytest_assertrepr_compare

    run = shipping.run(ORDER, mocks=happy_mocks())
    lines = pytest_assertrepr_compare(None, "==", run.path, ["ReserveItems", "Ship"])
    assert lines[:2] == ["the path taken differs from the expected one",
                         "the path differs at step 2: expected 'Ship', got 'ChooseSpeed'"]
    assert pytest_assertrepr_compare(None, "==", [1], [2]) is None


# ---- snapshots ----------------------------------------------------------------------------------

def test_history_snapshots_ignore_ids_and_timestamps_but_not_data(shipping, tmp_path):
    from asl.engine.clock import VirtualClock

    golden = tmp_path / "ship.history.json"
    first = shipping.run(ORDER, mocks=happy_mocks())
    with pytest.raises(AssertionError, match="no history snapshot at .*; write it with pytest --asl-snapshot-update"):
        assert_history_matches(first, golden)
    assert_history_matches(first, golden, update=True)
    text = golden.read_text()
    assert '"timestamp"' not in text and '"previousEventId"' not in text
    again = shipping.run(ORDER, mocks=happy_mocks(), clock=VirtualClock(0), name="another-name")
    assert_history_matches(again, golden)
    changed = shipping.run(ORDER, mocks=happy_mocks(Ship={"tracking": "TRK-9"}))
    with pytest.raises(AssertionError) as info:
        assert_history_matches(changed, golden)
    message = str(info.value)
    assert message.startswith(f"the history differs from the snapshot {golden} (- snapshot, + this run):")
    assert "\n--- snapshot\n+++ this run\n" in message
    assert '-          "tracking": "TRK-1"\n+          "tracking": "TRK-9"' in message
    assert message.endswith("if the change is intended, run pytest --asl-snapshot-update (or pass update=True)")


# ---- coverage -------------------------------------------------------------------------------------

def test_coverage_counts_states_rules_default_retries_catches_and_branches():
    with coverage.collect() as cov:
        workflow = Workflow(SHIPPING)
        workflow.run({**ORDER, "express": True}, mocks=happy_mocks(
            Reserve=by_attempt(raises("Warehouse.Busy"), {"ok": True})))
    [entry] = cov.machines.values()
    hits = {e.id: e.hits for e in entry.elements.values()}
    assert hits["ChooseSpeed.Choices[0]"] == 1 and hits["ChooseSpeed.Default"] == 0
    assert hits["Reserve.Retry[0]"] == 3 and hits["ReserveItems.ItemProcessor"] == 3
    assert hits["Notify.Branches[0]"] == hits["Notify.Branches[1]"] == 1
    assert {e.id for e in entry.missed()} == {"WaitForPickup", "OutOfStock", "ChooseSpeed.Default",
                                              "ReserveItems.Catch[0]", "Ship.Retry[0]"}
    assert entry.counts("state") == (8, 10) and entry.counts() == (13, 18)
    report = cov.report()
    assert report.splitlines()[1].split() == [str(SHIPPING), "1", "8/10", "1/2", "1/2", "0/1", "3/3", "13/18", "72%"]
    assert "    choice  ChooseSpeed.Default → WaitForPickup" in report
    assert "    catch   ReserveItems.Catch[0] [Stock.Missing] → OutOfStock" in report
    data = cov.to_json()
    assert data["format"] == "asl-coverage/1" and data["machines"][0]["kinds"]["retry"] == {"covered": 1, "total": 2}
    assert coverage.current() is None


def test_coverage_of_a_machine_loaded_but_never_run():
    with coverage.collect() as cov:
        Workflow(SHIPPING, name="shipping")
    assert cov.percent() == 0.0 and cov.to_json()["machines"][0]["runs"] == 0


# ---- TestState ------------------------------------------------------------------------------------

def test_test_state_returns_inspection_data_and_next_state(shipping):
    result = shipping.test_state("Ship", {"orderId": "o-1", "express": True}, mock={"tracking": "T"})
    assert result.status == "SUCCEEDED" and result.next_state == "Notify"
    assert result.inspection == {
        "input": {"orderId": "o-1", "express": True},
        "afterInputPath": {"orderId": "o-1", "express": True},
        "afterParameters": {"orderId": "o-1", "express": True},
        "result": {"tracking": "T"},
        "afterResultSelector": {"tracking": "T"},  # AWS shows it without a ResultSelector too
        "afterResultPath": {"orderId": "o-1", "express": True, "shipment": {"tracking": "T"}}}
    assert shipping.test_state("ChooseSpeed", {"express": False}).next_state == "WaitForPickup"


def test_test_state_retriable_caught_and_failed(shipping):
    busy = raises("Courier.Unavailable", "none free")
    retriable = shipping.test_state("Ship", {"orderId": "o", "express": False}, mock=busy)
    assert (retriable.status, retriable.error, retriable.error_details) == (
        "RETRIABLE", "Courier.Unavailable", {"retryIndex": 0, "retryBackoffIntervalSeconds": 3600})
    assert retriable.calls[0].attempt == 1 and len(retriable.calls) == 1
    exhausted = shipping.test_state("Ship", {"orderId": "o", "express": False}, mock=busy, retry_count=2)
    assert (exhausted.status, exhausted.cause, exhausted.next_state) == ("FAILED", "none free", None)
    caught = shipping.test_state("ReserveItems", ORDER, mocks={"Reserve": per_iteration({2: raises("Stock.Missing")},
                                                                                      default={"ok": 1})})
    assert (caught.status, caught.next_state, caught.error_details) == ("CAUGHT_ERROR", "OutOfStock",
                                                                        {"catchIndex": 0})
    assert caught.output["error"] == {"Error": "Stock.Missing", "Cause": None}
    assert caught.to_json()["nextState"] == "OutOfStock"


def test_test_state_with_variables_and_nested_states():
    m = machine(Loop={"Type": "Map", "ItemsPath": "$.xs", "ItemProcessor": {"StartAt": "Add", "States": {
        "Add": {"Type": "Pass", "Parameters": {"sum.$": "States.MathAdd($.x, $offset)"}, "End": True}}},
        "End": True})
    workflow = Workflow(m)
    result = workflow.test_state("Add", {"x": 2}, variables={"offset": 40})
    assert result.output == {"sum": 42} and result.next_state is None
    assert result.inspection["variables"] == {"offset": 40}
    with pytest.raises(WorkflowTestError, match=r"^StateMachine has no state 'Ad' \(did you mean 'Add'\?\); its "
                                                r"states: Loop, Add$"):
        workflow.test_state("Ad", {})


def test_test_state_mocks_a_map_or_parallel_whole_as_teststate_does(shipping):
    """AWS's TestState takes a mock for a Map or Parallel state: the state's whole result, or an
    error (`asl test-state --mock-result`, tests/test_teststate.py). A test mock there meant
    "only Task states can be mocked"; a value or `raises` is now that mock, the same as a
    `TestStateMock`."""
    from asl.engine import TestStateError, TestStateMock

    # one result per item: AWS refuses a mocked Map result of another length (radkawar/stackd
    # testdata/aws/stepfunctions/test_state_mock.json paced-west-mock-map-batch)
    reserved = [{"sku": sku, "reserved": 1} for sku in "ABC"]
    with pytest.raises(TestStateError, match="Input array does not equal the mocked result array's size"):
        shipping.test_state("ReserveItems", ORDER, mock=reserved[:1])
    by_value = shipping.test_state("ReserveItems", ORDER, mock=reserved)
    by_aws_mock = shipping.test_state("ReserveItems", ORDER, mock=TestStateMock(value=reserved))
    assert (by_value.status, by_value.output, by_value.next_state) == \
        (by_aws_mock.status, by_aws_mock.output, by_aws_mock.next_state) == \
        ("SUCCEEDED", {**ORDER, "reservations": reserved}, "ChooseSpeed")
    caught = shipping.test_state("ReserveItems", ORDER, mock=raises("Stock.Missing", "none"))
    assert (caught.status, caught.next_state) == ("CAUGHT_ERROR", "OutOfStock")
    branches = shipping.test_state("Notify", ORDER, mock=[{"sent": "email"}, {"sent": "sms"}])
    assert branches.status == "SUCCEEDED"
    with pytest.raises(MockError, match=r"^mock of the Parallel state 'Notify': its result \(a value\) or "
                                        r"raises\(\.\.\.\), as TestState mocks a Parallel state whole, not "
                                        r"per_branch\(\[0\]\)$"):
        shipping.test_state("Notify", ORDER, mock=per_branch([1]))


def test_test_state_fails_a_task_without_mock_only_when_it_invokes_it(shipping):
    result = shipping.test_state("Ship", ORDER)
    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert result.cause.startswith("No handler or mock for the Task state 'Ship' ")
    # a Task state that fails before the call needs no handler: it fails as on AWS
    result = shipping.test_state("Ship", {})
    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert "The JSONPath '$.orderId' specified for the field 'orderId.$' could not be found" in result.cause


# ---- replay and MockConfigFile suites ------------------------------------------------------------

def test_a_history_replays_as_a_mock_config_test_case(shipping):
    original = shipping.run(ORDER, mocks=happy_mocks(
        Reserve=by_attempt(raises("Warehouse.Busy", "busy"), {"ok": True}), Ship={"tracking": "REAL"}))
    replay = replay_history(json.loads(json.dumps(original.history.to_aws()))["events"])
    assert replay.input == ORDER and replay.result == {"status": "SUCCEEDED", "output": original.output}
    assert replay.responses["Reserve"][0] == {"Throw": {"Error": "Warehouse.Busy", "Cause": "busy"}}
    assert replay.concurrent == {"Reserve"}
    document = add_test_case({}, "shipping", "Incident", replay)
    assert document["StateMachines"]["shipping"]["TestCases"]["Incident"]["Ship"] == "Incident.Ship"
    assert document["MockedResponses"]["Incident.Ship"] == {"0": {"Return": {"tracking": "REAL"}}}
    replayed = shipping.run(replay.input, mock_config=document, test_case="Incident")
    replayed.assert_output(original.output)
    assert replayed.path == original.path


def test_run_cases_checks_expectations(shipping):
    from asl.engine import MockConfig

    config = MockConfig({"StateMachines": {"shipping": {"TestCases": {
        "Happy": {"Reserve": "Ok", "Ship": "Ok", "Email": "Ok", "Sms": "Ok"},
        "NoStock": {"Reserve": "Missing"}, "Unmocked": {"Reserve": "Ok"}}}},
        "MockedResponses": {"Ok": {"0-9": {"Return": {"tracking": "T"}}},
                            "Missing": {"0-9": {"Throw": {"Error": "Stock.Missing"}}}}})
    cases = {"Happy": {"input": ORDER, "expect": {"status": "SUCCEEDED", "path": [
        "ReserveItems", "ChooseSpeed", "WaitForPickup", "Ship", "Notify", "Shipped"]}},
             "NoStock": {"input": ORDER, "expect": {"status": "SUCCEEDED", "error": "Order.OutOfStock"}}}
    happy, no_stock, unmocked = run_cases(shipping, config, "shipping", cases, ORDER)
    assert happy.passed and happy.checked
    assert not unmocked.passed and not unmocked.checked  # reaching an unmocked Task fails the case
    assert unmocked.problems == ["the run reached the Task state 'Ship', which the test case does not mock and "
                                 "no handler serves"]
    unmocked.run.assert_failed("States.Runtime", re.compile("No handler or mock for the Task state 'Ship'"))
    assert no_stock.problems == [
        "expected the run to end SUCCEEDED, but it ended FAILED in OutOfStock: Order.OutOfStock: An item of the "
        "order is out of stock.\npath taken: ReserveItems → OutOfStock"]


# ---- the front door and the layers -----------------------------------------------------------------

def test_front_door_names():
    import asl.engine.testing as testing

    assert testing.__all__ == sorted([
        "Call", "Coverage", "Mock", "MockError", "Retried", "StatePath", "StateTestResult", "StateVisit", "UnknownStateError",
        "Workflow", "WorkflowRun", "WorkflowTestError", "assert_history_matches", "by_attempt", "per_branch", "per_iteration",
        "raises", "returns", "sequence", "when"])
    assert all(getattr(testing, name) is not None for name in testing.__all__)


def test_the_language_layer_does_not_import_the_engine_and_the_plugin_loads_light():
    code = ("import sys, asl, asl.engine.testing.plugin; "
            "print(sorted(m for m in sys.modules if m.startswith(('asl.engine', 'asl.cli', 'anyio', 'pydantic'))))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "asl.cli" not in loaded and "asl.engine.testing.workflow" not in loaded and "pydantic" not in loaded


def test_did_you_mean_finds_a_shortened_name_and_a_different_case():
    from asl.diagnostics import closest

    names = ["EmailCustomer", "ChargeCard", "Ship"]
    assert closest("Emial", names) == "EmailCustomer"      # the start of a longer name, misspelt
    assert closest("chargecard", names) == "ChargeCard"
    assert closest("Charge", names) == "ChargeCard"
    assert closest("Refund", names) is None
    assert closest("Em", names) is None                    # too short to say
