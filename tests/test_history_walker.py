"""The history walker (asl.history.timeline) on histories whose shape AWS recorded: every
conformance case with a recorded event list is run, its history checked to have exactly
AWS's event types, and then walked. What the walker reads back (the execution's result, each
Task's responses in call order, which states were entered and how deeply nested, the retries)
is checked against the case's recorded evidence: AWS's outcome, the responses AWS's Tasks
gave (the case's mocks) and AWS's event types."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import asl
from asl.engine import Handlers, TaskFailed, run_sync
from asl.engine.clock import VirtualClock
from asl.engine.testing.replay import replay_history
from asl.history import HistoryError, StateEntry, Timeline, parse_history, read_history
from asl.history.events import ATTEMPTS, details_key
from conformance_runner import _wild_string, mock_config, same_json
from conftest import conformance_cases

AWS_PARALLEL = Path(__file__).parent / "fixtures" / "history" / "parallel-branch-failed.json"
CASES = {c["_file"]: c for c in conformance_cases()
         if c["expected"].get("events") and c["expected"].get("events_ordered", True)}


def run_case(case: dict) -> Timeline:
    """The case run by the engine; its history has AWS's recorded event types, then is walked."""
    config = mock_config(case)
    result = run_sync(asl.load(case["definition"]), case.get("input"), mock_config=config,
                      test_case="Recorded" if config else None, state_machine_name="Case", check_handlers=False)
    assert result.history.types() == case["expected"]["events"]
    return Timeline(json.loads(json.dumps(result.history.to_aws()))["events"])


def case_named(prefix: str) -> dict:
    found = [case for name, case in CASES.items() if name.startswith(prefix)]
    assert len(found) == 1, prefix
    return found[0]


def aws_depths(types: list[str]) -> list[int]:
    """How deeply each state entry of AWS's event list is nested, counted from the types alone."""
    depth, depths = 0, []
    for kind in types:
        if kind.endswith("StateEntered"):
            depths.append(depth)
        if kind in ("MapIterationStarted", "ParallelStateStarted"):
            depth += 1
        elif kind.startswith("MapIteration") or kind in ("ParallelStateSucceeded", "ParallelStateFailed"):
            depth -= 1
    return depths


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_walker_reads_back_what_aws_recorded(name):
    case = CASES[name]
    expected, wild = case["expected"], case.get("wildcards", [])
    timeline = run_case(case)
    assert timeline.status == expected["status"] == timeline.result["status"]
    assert same_json(case.get("input"), timeline.input, [])
    if "output" in expected:
        assert same_json(expected["output"], timeline.output, wild)
    for key in ("error", "cause"):
        if key in expected:
            assert _wild_string(expected[key], getattr(timeline, key), wild)
    # Each Task's calls, in call order, are the responses AWS's Tasks gave.
    responses: dict[str, list] = {}
    for call in timeline.calls:
        responses.setdefault(call.state, []).append(call.response)
    assert responses == (case.get("mocks") or {})
    assert replay_history(timeline_events(timeline)).responses == responses
    # Every state entry, in order, with AWS's state type and nesting.
    types = expected["events"]
    assert [e.type + "StateEntered" for e in timeline.entries] == [t for t in types if t.endswith("StateEntered")]
    assert [len(e.at) for e in timeline.entries] == aws_depths(types)
    # Each attempt (AWS's Scheduled / Map- and ParallelStateStarted events) after an entry's first is a retry.
    attempts = sum(1 for t in types if t in ATTEMPTS)
    attempting = {e.entry for e in timeline.events if e.type in ATTEMPTS}
    assert sum(len(e.retries) for e in timeline.entries) == attempts - len(attempting)


def timeline_events(timeline: Timeline) -> list[dict]:
    """The AWS JSON of a timeline's events again (ids, links, details)."""
    return [{"id": e.id, "previousEventId": e.previous, "type": e.type, "timestamp": e.time,
             details_key(e.type): e.details} for e in timeline.events]


# ---- nesting -----------------------------------------------------------------------------------

def test_nested_map_iterations_are_placed_by_their_indexes():
    timeline = run_case(case_named("scenarios_test_base_scenarios_TestBaseScenarios_test_map_state_nested-"))
    inner = [e for e in timeline.entries if e.name == "MapL2Pass"]
    # Input [[1, 2, 3], [4, 5, 6]]: each outer item is a list, each inner item a number.
    assert [(e.at, e.input) for e in inner] == [((("MapL1", i), ("MapL2", j)), 3 * i + j + 1)
                                               for i in range(2) for j in range(3)]
    assert [e.address for e in inner][-1] == "MapL1[1]/MapL2[2]/MapL2Pass"
    maps = [e for e in timeline.entries if e.type == "Map"]
    assert [(e.name, e.at, e.iterations) for e in maps] == [
        ("MapL1", (), {0: "succeeded", 1: "succeeded"}),
        ("MapL2", (("MapL1", 0),), {0: "succeeded", 1: "succeeded", 2: "succeeded"}),
        ("MapL2", (("MapL1", 1),), {0: "succeeded", 1: "succeeded", 2: "succeeded"})]
    assert all(e.status == "succeeded" for e in timeline.entries)
    assert maps[1].output == [1, 2, 3] and maps[1].next is None


def test_a_failed_parallel_branch_in_an_aws_history():
    timeline = read_history(str(AWS_PARALLEL))
    by_name = {e.name: e for e in timeline.entries}
    assert by_name["Log"].at == (("Notify", 0),) and by_name["SendEmail"].at == (("Notify", 1),)
    assert (by_name["SendEmail"].status, by_name["SendEmail"].error) == ("failed", "SNS.NotFoundException")
    assert [c.state for c in timeline.calls] == ["ValidateOrder", "SendEmail"]
    assert by_name["Notify"].status == "failed" and by_name["ValidateOrder"].next == "Notify"


def test_a_map_inside_a_parallel_branch_inside_a_map():
    machine = asl.load({"StartAt": "Orders", "States": {"Orders": {
        "Type": "Map", "MaxConcurrency": 1, "End": True,
        "ItemProcessor": {"StartAt": "Split", "States": {"Split": {
            "Type": "Parallel", "End": True, "Branches": [
                {"StartAt": "Note", "States": {"Note": {"Type": "Pass", "End": True}}},
                {"StartAt": "Lines", "States": {"Lines": {
                    "Type": "Map", "MaxConcurrency": 1, "End": True,
                    "ItemProcessor": {"StartAt": "Line", "States": {"Line": {"Type": "Pass", "End": True}}}}}}]}}}}}})
    result = run_sync(machine, [["a", "b"], ["c"]])
    timeline = Timeline(result.history.events)
    lines = [(e.at, e.input) for e in timeline.entries if e.name == "Line"]
    assert lines == [((("Orders", 0), ("Split", 1), ("Lines", 0)), "a"),
                     ((("Orders", 0), ("Split", 1), ("Lines", 1)), "b"),
                     ((("Orders", 1), ("Split", 1), ("Lines", 0)), "c")]
    assert [e.at for e in timeline.entries if e.name == "Note"] == [(("Orders", 0), ("Split", 0)),
                                                                   (("Orders", 1), ("Split", 0))]
    assert timeline.output == [[["a", "b"], ["a", "b"]], [["c"], ["c"]]]


def cut_short_history() -> Timeline:
    """Parallel P: branch 0's Task fails after 1 s, while branch 1's Map M has three iterations
    in a 60 s Task and branch 2's Parallel P2 one branch in a 60 s Task."""
    clock = VirtualClock(start=0)
    work = {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:work", "End": True}
    machine = asl.load({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "F", "States": {"F": {**work, "Parameters": {"fail": True}}}},
        {"StartAt": "M", "States": {"M": {"Type": "Map", "End": True, "ItemProcessor": {
            "StartAt": "MT", "States": {"MT": work}}}}},
        {"StartAt": "P2", "States": {"P2": {"Type": "Parallel", "End": True, "Branches": [
            {"StartAt": "PT", "States": {"PT": work}}]}}}]}}})
    handlers = Handlers()

    @handlers.lambda_function("work")
    async def run(event, ctx):
        if isinstance(event, dict) and event.get("fail"):
            await clock.sleep(1)
            raise TaskFailed("Boom", "no")
        await clock.sleep(60)
        return event
    result = run_sync(machine, [1, 2, 3], handlers=handlers, clock=clock)
    return Timeline(json.loads(json.dumps(result.history.to_aws()))["events"])


def test_the_abort_events_of_containers_in_a_branch_cut_short_go_to_their_states():
    """AWS links every abort event a failure writes for the branches it cut short to that
    failure (LocalStack's AWS snapshot test_service_lambda_map_timeout): each goes to the state
    it aborts all the same, the Map's iterations to the Map, not to the failed branch's state."""
    timeline = cut_short_history()
    failure = next(e.id for e in timeline.events if e.type == "LambdaFunctionFailed")
    aborts = [(e.type, e.state, e.at) for e in timeline.events if e.type.endswith("Aborted")]
    assert all(e.previous == failure for e in timeline.events if e.type.endswith("Aborted"))
    m, p2 = (("P", 1),), (("P", 2),)
    assert aborts == [("TaskStateAborted", "F", (("P", 0),)),
                      ("MapIterationAborted", "M", m + (("M", 0),)), ("TaskStateAborted", "MT", m + (("M", 0),)),
                      ("MapIterationAborted", "M", m + (("M", 1),)), ("TaskStateAborted", "MT", m + (("M", 1),)),
                      ("MapIterationAborted", "M", m + (("M", 2),)), ("TaskStateAborted", "MT", m + (("M", 2),)),
                      ("MapStateAborted", "M", m),
                      ("TaskStateAborted", "PT", p2 + (("P2", 0),)), ("ParallelStateAborted", "P2", p2)]
    assert {e.address: (e.status, e.iterations) for e in timeline.entries} == {
        "P": ("failed", {}), "P[0]/F": ("failed", {}), "P[1]/M": ("aborted", {0: "aborted", 1: "aborted", 2: "aborted"}),
        "P[2]/P2": ("aborted", {}), "P[1]/M[0]/MT": ("aborted", {}), "P[1]/M[1]/MT": ("aborted", {}),
        "P[1]/M[2]/MT": ("aborted", {}), "P[2]/P2[0]/PT": ("aborted", {})}


def test_an_iteration_cut_short_by_an_evaluation_failure_keeps_its_abort_event():
    """Iteration 1 fails as its Task evaluates its arguments (EvaluationFailed: that Task gets
    no TaskStateAborted) while iteration 0's Task runs: iteration 0's TaskStateAborted, linked to
    the failure, is iteration 0's."""
    machine = asl.load({"QueryLanguage": "JSONata", "StartAt": "M", "States": {"M": {
        "Type": "Map", "Items": "{% [1, 2] %}", "End": True, "ItemProcessor": {"StartAt": "T", "States": {"T": {
            "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:echo", "End": True,
            "Arguments": "{% $states.input = 2 ? $nothing.x.y() : $states.input %}"}}}}}})
    handlers = Handlers()
    handlers.lambda_function("echo")(lambda event, ctx: event)
    result = run_sync(machine, None, handlers=handlers)
    timeline = Timeline(json.loads(json.dumps(result.history.to_aws()))["events"])
    (aborted,) = [e for e in timeline.events if e.type == "TaskStateAborted"]
    assert timeline.by_id[aborted.previous].type == "EvaluationFailed"
    assert (aborted.state, aborted.at) == ("T", (("M", 0),))
    assert aborted.entry == next(e.id for e in timeline.entries if e.address == "M[0]/T")


# ---- failed, caught and retried ------------------------------------------------------------------

def test_a_retried_then_caught_lambda():
    case = case_named("scenarios_test_base_scenarios_TestBaseScenarios_test_lambda_invoke_with_retry_base-")
    timeline = run_case(case)
    task = timeline.entries[0]
    thrown = [m["Throw"] for m in case["mocks"]["InvokeLambdaWithRetry"]]
    assert (task.name, task.status, task.attempts, task.next) == ("InvokeLambdaWithRetry", "caught", 4, "HandleError")
    assert [(r.error, r.cause, r.retrier) for r in task.retries] == [(t["Error"], t["Cause"], -1) for t in thrown[:3]]
    assert (task.error, task.cause) == (thrown[3]["Error"], thrown[3]["Cause"])
    assert [c.returned for c in task.calls] == [False] * 4
    assert timeline.retried == {"InvokeLambdaWithRetry"} and timeline.outcomes["InvokeLambdaWithRetry"] == "caught"


def test_a_caught_error_goes_to_its_catcher():
    case = case_named("error_handling_test_task_lambda_TestTaskLambda_test_raise_exception_catch-")
    timeline = run_case(case)
    start, handler = timeline.entries
    assert (start.status, start.error, start.next, start.retries) == ("caught", "Exception", handler.name, [])
    assert handler.name == "EndWithStateTaskFailedHandler" and handler.status == "succeeded"
    assert same_json(case["expected"]["output"], handler.output, case.get("wildcards", []))


def test_a_map_retried_after_its_iteration_failed():
    """AWS writes a Map's retry as another MapStateStarted (no MapStateFailed before it)."""
    timeline = run_case(case_named("scenarios_test_base_scenarios_TestBaseScenarios_test_map_state_retry_legacy-"))
    by_type = {e.type: e for e in timeline.entries}
    assert by_type["Map"].attempts == 3 and by_type["Map"].status == "failed"
    assert by_type["Map"].retries[0].error is None  # a history does not say what failed the iteration
    fails = [e for e in timeline.entries if e.type == "Fail"]
    assert [(e.at, e.status) for e in fails] == [((("MapState", 0),), "failed")] * 3
    assert timeline.failure.state == "HandleItemFail" and timeline.retried == {"MapState"}


def test_a_task_that_failed_the_execution():
    machine = asl.load({"StartAt": "Charge", "States": {"Charge": {
        "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:Charge", "End": True,
        "Retry": [{"ErrorEquals": ["Card.Busy"], "IntervalSeconds": 2, "MaxAttempts": 1}]}}})
    calls = []

    def charge(event):
        calls.append(event)
        raise TaskFailed("Card.Busy" if len(calls) == 1 else "Card.Declined", "no")

    result = run_sync(machine, {"n": 1}, handlers={"Charge": charge})
    timeline = Timeline(result.history.events)
    (entry,) = timeline.entries
    assert (entry.status, entry.error, entry.cause, entry.exited) == ("failed", "Card.Declined", "no", None)
    assert [(r.error, r.delay) for r in entry.retries] == [("Card.Busy", pytest.approx(2.0, abs=0.5))]
    assert [c.response for c in timeline.calls] == [{"Throw": {"Error": "Card.Busy", "Cause": "no"}},
                                                    {"Throw": {"Error": "Card.Declined", "Cause": "no"}}]
    assert timeline.result == {"status": "FAILED", "error": "Card.Declined", "cause": "no"}


def _recorded(events: list[tuple]) -> Timeline:
    """A timeline of events written as (id, previousEventId, type, details)."""
    return Timeline([{"id": i, "previousEventId": prev, "type": kind, "timestamp": float(i),
                      details_key(kind): details} for i, prev, kind, details in events])


@pytest.mark.parametrize("first", [False, True])
def test_an_evaluation_failure_that_follows_the_state_before_is_placed_in_its_state(first):
    # AWS linked an EvaluationFailed on entry to what the entry follows (histories recorded up
    # to Nov 2024; a 2026 capture links it to the entry, which places itself): ids and links of
    # LocalStack's AWS snapshots test_map_state_items_input_types[number] (a Map after a Pass)
    # and test_undefined_reference[BASE_UNDEFINED_ASSIGN] (the first state: links to 0).
    failed = {"error": "States.QueryEvaluationError", "cause": "bad", "state": "Each"}
    events = [(1, 0, "ExecutionStarted", {"input": "{}"})]
    if not first:
        events += [(2, 0, "PassStateEntered", {"name": "Start", "input": "{}"}),
                   (3, 2, "PassStateExited", {"name": "Start", "output": "1"})]
    before = len(events) if not first else 0
    entered = len(events) + 1
    events += [(entered, before, "MapStateEntered", {"name": "Each", "input": "1"}),
               (entered + 1, before, "EvaluationFailed", failed),
               (entered + 2, entered + 1, "MapStateFailed", {}),
               (entered + 3, entered + 2, "ExecutionFailed", {"error": failed["error"], "cause": "bad"})]
    timeline = _recorded(events)
    assert (timeline.failure.state, timeline.failure.type) == ("Each", "Map")
    assert [s.name for s in timeline.failure.path] == (["Each"] if first else ["Start", "Each"])
    assert timeline.outcomes == ({"Each": "failed"} if first else {"Start": "succeeded", "Each": "failed"})
    assert timeline.by_id[entered + 1].entry == entered


def stopped_while_retrying(machine: dict, failures: int = 1) -> Timeline:
    """`machine` run until its Tasks have failed `failures` times, the last (``Charge``) waiting an
    hour to retry, then stopped."""
    import anyio

    from asl.engine import prepare

    async def main():
        execution = prepare(asl.load(machine), {"xs": [1]}, handlers={"Charge": charge}, virtual_time=False)
        async with anyio.create_task_group() as tg:
            tg.start_soon(execution.run)
            while execution.history.types().count("LambdaFunctionFailed") < failures:
                await anyio.sleep(0.01)
            execution.stop("Ops.Stopped", "by the test")
        return execution.result

    def charge(event):
        raise TaskFailed("Card.Busy", "try later")
    result = anyio.run(main)
    assert result.status == "ABORTED"
    return Timeline(json.loads(json.dumps(result.history.to_aws()))["events"])


CHARGE = {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:Charge", "End": True,
          "Retry": [{"ErrorEquals": ["Card.Busy"], "IntervalSeconds": 3600, "MaxAttempts": 2}]}


def test_a_task_stopped_while_it_waits_to_retry_was_aborted():
    """Stopped during a retry's wait, the Task was cut short (AWS's console: cancelled), not failed:
    nothing failed after its failure, which a retry had taken."""
    timeline = stopped_while_retrying({"StartAt": "Charge", "States": {"Charge": CHARGE}})
    assert [e.type for e in timeline.events][-2:] == ["LambdaFunctionFailed", "ExecutionAborted"]
    (entry,) = timeline.entries
    assert (entry.status, entry.error, entry.cause) == ("aborted", "Card.Busy", "try later")
    assert timeline.outcomes == {"Charge": "aborted"}


def test_a_failure_passed_on_stays_failed_when_the_execution_is_stopped_later():
    """A branch's Task failed for good (the Parallel failed, a Catch took it); the execution
    was then stopped while another Task waited to retry: the first failed, the second was cut short."""
    machine = {"StartAt": "Both", "States": {
        "Both": {"Type": "Parallel", "Next": "Charge", "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Charge",
                                                                  "ResultPath": "$.error"}],
                 "Branches": [{"StartAt": "Broken", "States": {"Broken": {
                     "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:Charge", "End": True}}}]},
        "Charge": CHARGE}}
    timeline = stopped_while_retrying(machine, failures=2)
    assert {e.name: e.status for e in timeline.entries} == {"Both": "caught", "Broken": "failed", "Charge": "aborted"}


def test_a_task_in_a_map_iteration_stopped_while_it_waits_to_retry_was_aborted():
    machine = {"StartAt": "Each", "States": {"Each": {"Type": "Map", "ItemsPath": "$$.Execution.Input.xs", "End": True, "ItemProcessor": {
        "StartAt": "Charge", "States": {"Charge": CHARGE}}}}}
    timeline = stopped_while_retrying(machine)
    assert {e.address: e.status for e in timeline.entries} == {"Each": "aborted", "Each[0]/Charge": "aborted"}



def cut_while_retrying(parallel: dict) -> Timeline:
    """A Parallel (`parallel` adds its Retry or Catch) whose first branch's Task waits an hour to
    retry when the second branch's Task fails: the history as it stands once the failure has
    cut the first branch short, the execution still running (then stopped)."""
    import threading

    import anyio

    from asl.engine import prepare

    failed = threading.Event()

    def busy(event):
        failed.set()
        raise TaskFailed("Card.Busy", "try later")

    def declined(event):
        failed.wait(30)  # once the other branch's Task waits to retry
        raise TaskFailed("Payment.Declined", "no")

    def branch(name: str, **task) -> dict:
        return {"StartAt": name, "States": {name: {"Type": "Task", "Resource": f"arn:aws:lambda:us-east-1:1:function:{name}",
                                                   "End": True, **task}}}
    machine = {"StartAt": "Both", "States": {"Both": {
        "Type": "Parallel", "Branches": [branch("Busy", Retry=CHARGE["Retry"]), branch("Declined")], **parallel}}}
    if "Catch" in parallel:
        machine["States"]["Hold"] = {"Type": "Wait", "Seconds": 3600, "End": True}

    async def main():
        execution = prepare(asl.load(machine), {}, handlers={"Busy": busy, "Declined": declined}, virtual_time=False)
        async with anyio.create_task_group() as tg:
            tg.start_soon(execution.run)
            while execution.history.types().count("TaskStateAborted") < 2:
                await anyio.sleep(0.01)
            await anyio.sleep(0.1)  # (what else it writes now: the Catch's way to Hold)
            events = json.loads(json.dumps(execution.history.to_aws()))["events"]
            execution.stop("Ops.Stopped", "by the test")
        return events
    return Timeline(anyio.run(main))


@pytest.mark.parametrize("parallel", [
    {"Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Hold"}], "Next": "Hold"},
    {"Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 3600}], "End": True}], ids=["caught", "retried"])
def test_a_task_waiting_to_retry_in_a_branch_cut_short_was_aborted(parallel):
    """A sibling branch's failure cut the branch short while its Task waited to retry (its
    TaskStateAborted follows that failure, the failing Task's own follows its own): the Task was
    aborted (AWS's console: cancelled), the other failed; neither is open any more. So too
    while the Parallel itself waits to retry, before anything but the abort events tells that
    the branches ended."""
    timeline = cut_while_retrying(parallel)
    assert timeline.status == "RUNNING"
    entries = {e.address: e for e in timeline.entries}
    assert {a: e.status for a, e in entries.items() if "/" in a} == {"Both[0]/Busy": "aborted",
                                                                    "Both[1]/Declined": "failed"}
    assert (entries["Both[0]/Busy"].error, entries["Both[1]/Declined"].error) == ("Card.Busy", "Payment.Declined")
    still = {e.address for e in timeline.entries if e.id in timeline.open}
    assert still == ({"Hold"} if "Catch" in parallel else {"Both"})


# ---- what is not a history -------------------------------------------------------------------------

def test_a_call_that_follows_no_state_is_reported():
    events = [{"id": 1, "previousEventId": 0, "type": "ExecutionStarted", "executionStartedEventDetails": {}},
              {"id": 2, "previousEventId": 1, "type": "TaskSucceeded", "taskSucceededEventDetails": {"output": "1"}}]
    with pytest.raises(HistoryError, match="event 2 \\(TaskSucceeded\\) follows no state entry"):
        parse_history({"events": events}, "h.json")


def test_state_entries_are_the_model_the_recorder_shares():
    from asl.engine.testing import StateVisit

    assert issubclass(StateVisit, StateEntry)
